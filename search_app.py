"""healthsearch search page: widgets and layout only; all logic lives in the healthsearch package.

Run: streamlit run search_app.py   (index from $HEALTHSEARCH_INDEX, corpus from $HEALTHSEARCH_CORPUS)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import streamlit as st

from healthsearch.answer import Answer, answer, emergency_only
from healthsearch.embedding import Encoder
from healthsearch.errors import HealthsearchError
from healthsearch.ingest import list_corpus_files
from healthsearch.manifest import Manifest, manifest_path, read_manifest
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
from healthsearch.rebuild import BuildProcess
from healthsearch.relevance import NO_CLOSE_MATCH
from healthsearch.rerank import Reranker
from healthsearch.safety import EmergencyAlert, prepare_semantic, support_message
from healthsearch.search import Searcher, close_when_idle, encoder_for_spec
from healthsearch.spec import ModelSpec

INDEX_DIR = Path(os.environ.get("HEALTHSEARCH_INDEX", "index"))
CORPUS_ENV = os.environ.get("HEALTHSEARCH_CORPUS")
CORPUS_DIR = Path(CORPUS_ENV or "corpus")


@st.cache_resource(show_spinner="Loading the language model…")
def load_encoder(model: ModelSpec) -> Encoder:
    """The embedding model an index's spec names, loaded once per process and shared by every session."""
    encoder = encoder_for_spec(model, INDEX_DIR)
    encoder.encode_query("warm up")
    prepare_semantic(encoder)  # the emergency exemplars, embedded once here rather than on someone's query
    return encoder


@st.cache_resource(show_spinner="Opening the index…", max_entries=1, on_release=close_when_idle)
def load_searcher(index_dir: str, stamp: int) -> Searcher:
    """One Searcher per index generation (``stamp`` changes when a build commits); the one it replaces is
    closed once the searches still running on it have had time to finish."""
    manifest = read_manifest(Path(index_dir))
    searcher = Searcher.open(index_dir, encoder=encoder_of(manifest), reranker=load_reranker())
    searcher.speller()  # the library's word counts, read once here rather than on someone's first query
    return searcher


def encoder_of(manifest: Manifest) -> Encoder:
    return load_encoder(manifest.spec.model)


@st.cache_resource(show_spinner="Loading the reranker…")
def load_reranker() -> Reranker | None:
    """The optional cross-encoder named by $HEALTHSEARCH_RERANKER, loaded once per process."""
    name = os.environ.get("HEALTHSEARCH_RERANKER", "").strip()
    return Reranker(name) if name else None


@st.cache_resource(show_spinner=False)
def default_encoder() -> Encoder:
    """The packaged default model, for the emergency check when there is no index to search yet."""
    encoder = Encoder()
    prepare_semantic(encoder)
    return encoder


def index_stamp() -> int:
    path = manifest_path(INDEX_DIR)
    return path.stat().st_mtime_ns if path.exists() else 0


def run_build(first: bool = False) -> None:
    """Build or update the index in a separate, lower-priority process, so searches elsewhere keep their speed.

    A rebuild keeps how the index was built; the corpus folder is passed only when set for the page or for a
    first build.
    """
    corpus = CORPUS_DIR if (first or CORPUS_ENV) else None
    bar = st.progress(0.0, text="Reading articles…")
    build = BuildProcess.start(INDEX_DIR, corpus)
    for done, total in build.progress():
        bar.progress(done / total, text=f"Embedding passages: {done} of {total}")
    summary = build.finish()
    bar.progress(1.0, text=summary.splitlines()[0] if summary else "Index ready")
    for line in summary.splitlines()[1:]:
        if line.strip().startswith(("note:", "skipped", "warning")) or ": " in line.strip()[:2]:
            st.caption(line)


def ensure_index() -> Searcher | None:
    """Open the index, building it on first start; None (with an explanation) when there is nothing to open."""
    if not manifest_path(INDEX_DIR).exists():
        if not CORPUS_DIR.is_dir() or not list_corpus_files(CORPUS_DIR):
            st.info(
                f"The library is empty. Add articles (.md, .txt, .html, .jsonl or MedQuAD .xml) to "
                f"`{CORPUS_DIR}/` and reload this page, or run `python build_index.py`."
            )
            return None
        st.info("Building the search index for the first time. This takes a minute or two.")
        run_build(first=True)
    return load_searcher(str(INDEX_DIR), index_stamp())


def sidebar(searcher: Searcher | None) -> dict[str, object]:
    """Result count, mode, filters, index facts and the rebuild button."""
    with st.sidebar:
        st.header("Search options")
        k = st.slider("Number of passages", 5, 50, 10, step=5)
        mode = st.radio(
            "Search mode", list(MODES), horizontal=True, help="Hybrid mixes meaning and keywords."
        )
        if searcher is None:
            return {"k": k, "mode": MODES[str(mode)], "tags": [], "sources": []}
        facets = searcher.facets()
        tags = st.multiselect("Topic tags", facets["tags"])
        sources = st.multiselect("Sources", facets["sources"])
        st.header("Library")
        spec = searcher.manifest.spec
        compact = ", compact vectors" if spec.vectors.compact else ""
        engine = f"milvus, collection `{spec.engine.collection}`" if spec.engine.name == "milvus" else "local"
        st.markdown(
            f"- **{searcher.counts['articles']}** articles, **{searcher.counts['passages']}** passages\n"
            f"- Model: `{spec.model.name}` ({spec.model.backend}{compact})\n"
            f"- Engine: {engine}\n"
            f"- Built: {searcher.manifest.built_at}"
        )
        if st.button("Rebuild index", help="Re-read changed articles and update the index, as it was built"):
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


def show_emergency(alert: EmergencyAlert | None, support: str | None = None) -> None:
    """The emergency banner, or for a self-harm question that is no emergency the quieter support line."""
    if alert:
        st.error(f"**Possible emergency.** {alert.message}")
    elif support:
        st.info(support)


def show_results(searcher: Searcher, found: Answer, elapsed_ms: float) -> None:
    """Notes, emergency banner, then results grouped by article."""
    if found.note:
        st.caption(found.note)
    if found.showing_for:
        st.text(found.showing_for)  # plain text: the query is shown as typed, never as markup
    show_emergency(found.emergency, found.support)
    if found.error:
        st.error(found.error)
        return
    if not found.results:
        st.warning("No matching passages. Try other words, fewer words, or remove filters.")
        return
    groups = group_by_article(found.results)
    if not found.close_match:
        st.warning(f"**{NO_CLOSE_MATCH}.** The passages below are only loosely related to your question.")
    st.caption(f"{len(found.results)} passages from {len(groups)} articles in {elapsed_ms:.0f} ms")
    for group in groups:
        st.html(card_html(group, found.corrected or found.query))
        more = more_from_article(group, searcher.article_passages(group.article_id))
        if more:
            with st.expander(f"More from this article ({len(more)} passages, best matches first)"):
                for section, text in more:
                    st.html(passage_html(section, text, found.corrected or found.query))


def main() -> None:
    st.set_page_config(page_title="Health library search", layout="wide")
    st.html(CSS)
    st.title("Health library search")
    st.caption(DISCLAIMER)
    searcher: Searcher | None = None
    try:
        searcher = ensure_index()
    except HealthsearchError as exc:
        st.error(str(exc))
    options = sidebar(searcher)
    query = search_box()
    if not query.strip():
        st.info("Type a question or a symptom in your own words, or pick an example above.")
        return
    if searcher is None:
        alert = emergency_only(query, default_encoder())
        show_emergency(alert, None if alert else support_message(query))
        return
    started = time.perf_counter()
    found = answer(searcher, query, **options)  # type: ignore[arg-type]
    show_results(searcher, found, (time.perf_counter() - started) * 1000)


main()
