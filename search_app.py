"""healthsearch search page: widgets and layout only; all logic lives in the healthsearch package.

Run: streamlit run search_app.py   (index from $HEALTHSEARCH_INDEX, corpus from $HEALTHSEARCH_CORPUS)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import streamlit as st

from healthsearch.build import build_index
from healthsearch.config import BuildSettings
from healthsearch.embedding import Encoder
from healthsearch.errors import HealthsearchError
from healthsearch.ingest import list_corpus_files
from healthsearch.manifest import manifest_path
from healthsearch.presentation import (
    CSS,
    DISCLAIMER,
    EXAMPLE_QUERIES,
    MODES,
    card_html,
    group_by_article,
    more_from_article,
    passage_html,
)
from healthsearch.query import MAX_QUERY_CHARS, clean_query
from healthsearch.rerank import Reranker
from healthsearch.safety import detect_emergency
from healthsearch.search import Searcher

INDEX_DIR = Path(os.environ.get("HEALTHSEARCH_INDEX", "index"))
CORPUS_DIR = Path(os.environ.get("HEALTHSEARCH_CORPUS", "corpus"))


@st.cache_resource(show_spinner="Loading the language model…")
def load_encoder() -> Encoder:
    """The embedding model, loaded once per process."""
    encoder = Encoder()
    _ = encoder.model
    return encoder


@st.cache_resource(show_spinner="Opening the index…", max_entries=1)
def load_searcher(index_dir: str, stamp: int) -> Searcher:
    """One Searcher per index generation (``stamp`` changes when a build commits)."""
    return Searcher.open(index_dir, encoder=load_encoder(), reranker=load_reranker())


@st.cache_resource(show_spinner="Loading the reranker…")
def load_reranker() -> Reranker | None:
    """The optional cross-encoder named by $HEALTHSEARCH_RERANKER, loaded once per process."""
    name = os.environ.get("HEALTHSEARCH_RERANKER", "").strip()
    return Reranker(name) if name else None


def index_stamp() -> int:
    path = manifest_path(INDEX_DIR)
    return path.stat().st_mtime_ns if path.exists() else 0


def run_build(full: bool = False) -> None:
    """Build or update the index with a progress bar."""
    bar = st.progress(0.0, text="Reading articles…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Embedding passages: {done} of {total}")

    settings = BuildSettings(corpus=CORPUS_DIR, index=INDEX_DIR, full=full, progress=False)
    report = build_index(settings, encoder=load_encoder(), on_progress=progress)
    bar.progress(
        1.0,
        text=f"Index ready: {report.articles} articles, {report.passages} passages "
        f"({report.embedded} embedded in {report.seconds:.1f} s)",
    )
    for path, reason in report.skipped:
        st.warning(f"Skipped {path}: {reason}")


def ensure_index() -> Searcher | None:
    """Open the index, building it on first start; explain what to do when that is impossible."""
    if not manifest_path(INDEX_DIR).exists():
        if not CORPUS_DIR.is_dir() or not list_corpus_files(CORPUS_DIR):
            st.info(
                f"The library is empty. Add articles (.md, .txt, .html, .jsonl or MedQuAD .xml) to "
                f"`{CORPUS_DIR}/` and reload this page, or run `python build_index.py`."
            )
            return None
        st.info("Building the search index for the first time. This takes a minute or two.")
        run_build()
    return load_searcher(str(INDEX_DIR), index_stamp())


def sidebar(searcher: Searcher) -> dict[str, object]:
    """Result count, mode, filters, index facts and the rebuild button."""
    with st.sidebar:
        st.header("Search options")
        k = st.slider("Number of passages", 5, 50, 10, step=5)
        mode = st.radio(
            "Search mode", list(MODES), horizontal=True, help="Hybrid mixes meaning and keywords."
        )
        facets = searcher.facets()
        tags = st.multiselect("Topic tags", facets["tags"])
        sources = st.multiselect("Sources", facets["sources"])
        st.header("Library")
        model = searcher.manifest["model"]
        st.markdown(
            f"- **{searcher.counts['articles']}** articles, **{searcher.counts['passages']}** passages\n"
            f"- Model: `{model['name']}`\n- Built: {searcher.manifest.get('built_at', '?')}"
        )
        if st.button("Rebuild index", help="Re-read changed articles and update the index"):
            run_build()
            st.rerun()
    return {"k": k, "mode": MODES[str(mode)], "tags": tags, "sources": sources}


def set_query(text: str) -> None:
    st.session_state["q"] = text


def search_box() -> str:
    """The query box (Enter searches), example buttons, and the URL's ?q= kept in step."""
    if "q" not in st.session_state:
        st.session_state["q"] = st.query_params.get("q", "")
    query = st.text_input(
        "Describe a symptom or ask a health question",
        key="q",
        placeholder="e.g. heel pain after running",
        max_chars=10_000,
    )
    st.caption("Try an example:")
    columns = st.columns(3)
    for number, example in enumerate(EXAMPLE_QUERIES):
        columns[number % 3].button(example, on_click=set_query, args=(example,), use_container_width=True)
    if query.strip():
        st.query_params["q"] = query
    elif "q" in st.query_params:
        del st.query_params["q"]
    return query


def show_results(searcher: Searcher, raw_query: str, options: dict[str, object]) -> None:
    """Emergency banner, then results grouped by article with timing."""
    cleaned = clean_query(raw_query)
    if cleaned.truncated:
        st.caption(f"Your question was long, so only its first {MAX_QUERY_CHARS} characters were used.")
    alert = detect_emergency(cleaned.text)
    if alert:
        st.error(f"**Possible emergency.** {alert.message}")
    started = time.perf_counter()
    results = searcher.search(cleaned.text, **options)  # type: ignore[arg-type]
    elapsed_ms = (time.perf_counter() - started) * 1000
    groups = group_by_article(results)
    if not results:
        st.warning("No matching passages. Try other words, fewer words, or remove filters.")
        return
    st.caption(f"{len(results)} passages from {len(groups)} articles in {elapsed_ms:.0f} ms")
    for position, group in enumerate(groups, start=1):
        st.html(card_html(group, cleaned.text, position))
        more = more_from_article(group, searcher.article_passages(group.article_id))
        if more:
            with st.expander(f"More from this article ({len(more)} passages, best matches first)"):
                for section, text in more:
                    st.html(passage_html(section, text, cleaned.text))


def main() -> None:
    st.set_page_config(page_title="Health library search", layout="wide")
    st.html(CSS)
    st.title("Health library search")
    st.caption(DISCLAIMER)
    try:
        searcher = ensure_index()
        if searcher is None:
            return
        options = sidebar(searcher)
        query = search_box()
        if not query.strip():
            st.info("Type a question or a symptom in your own words, or pick an example above.")
            return
        show_results(searcher, query, options)
    except HealthsearchError as exc:
        st.error(str(exc))


main()
