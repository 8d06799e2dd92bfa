"""LiveQA-Med dev benchmark: real consumer questions over MedQuAD + LiveQA extra answers (17,908 answers).

Builds the healthsearch index of that corpus once (incremental: reused when nothing changed), computes the plain
dense baseline itself (one vector per whole answer, FAISS flat), and scores every configuration at article level
for the people's own wording (`query`) and NIST's rewording (`paraphrase`) in one run.

    python benchmarks/liveqa.py                 # full corpus (first run embeds ~45k texts: ~25 min on 2 cores)
    python benchmarks/liveqa.py --smoke 300     # a few hundred answers, for CI
    python benchmarks/liveqa.py --model MODEL_DIR --no-baselines   # a tuned model (see `healthsearch tune`)
    python benchmarks/liveqa.py --engine milvus --no-baselines --configs "..."   # the same through Milvus Lite

A model made by `healthsearch tune` lists its training queries; the script checks that none of them equals (after
normalisation) a LiveQA question or paraphrase, says so, and refuses to score the model otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from healthsearch.build import build_index
from healthsearch.config import DEFAULT_MODEL, DEFAULT_PASSAGE_TOKENS, BuildSettings
from healthsearch.documents import Article
from healthsearch.embedding import Encoder, resolve_backend, resolve_model
from healthsearch.evaluate import load_qrels, load_queries, ndcg, reciprocal_rank, unique_in_order
from healthsearch.ingest import list_corpus_files, read_file
from healthsearch.lexical import tokenize
from healthsearch.rerank import Reranker
from healthsearch.search import SearchConfig, Searcher
from healthsearch.tune import evaluation_queries, training_queries

REPO = Path(__file__).resolve().parent.parent
FIELDS = ("query", "paraphrase")
Ranker = Callable[[str], list[str]]


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    shared, work = args.shared.resolve(), args.work.resolve()
    if not (shared / "medquad").is_dir():
        print(f"error: {shared}/medquad not found; pass --shared", file=sys.stderr)
        return 2
    queries = {field: load_queries(shared / "liveqa-dev" / "queries.jsonl", field) for field in FIELDS}
    qrels = load_qrels(shared / "liveqa-dev" / "qrels.tsv")
    leakage = _training_overlap(args.model, shared / "liveqa-dev" / "queries.jsonl")
    print(leakage["message"])
    if leakage["overlap"]:
        return 2
    corpus = _corpus(shared, work, qrels, args.smoke)
    backend = resolve_backend(args.backend)
    name = f"index-smoke-{backend}" if args.smoke else f"index-{backend}"
    default = args.passage_tokens == DEFAULT_PASSAGE_TOKENS
    folder = work / (name if default else f"{name}-{args.passage_tokens}tok")
    if args.model != DEFAULT_MODEL:
        folder = folder.with_name(f"{folder.name}-model-{resolve_model(args.model).fingerprint[:10]}")
    if args.engine == "milvus":
        folder = _milvus_copy(folder)
    searcher, build_facts = _index(corpus, folder, backend, args.passage_tokens, args.model, args.engine)
    articles = [a for f in list_corpus_files(corpus) for a in read_file(f).articles]
    rankers = _rankers(searcher, articles, work, args)
    rows = [_score(name, ranker, queries, qrels) for name, ranker in rankers.items()]
    _print(rows, build_facts, len(articles))
    if args.json:
        facts = {"build": build_facts, "answers": len(articles), "training_queries": leakage, "rows": rows}
        print(json.dumps(facts))
    return 0


def _training_overlap(model: str, liveqa_queries: Path) -> dict[str, Any]:
    """Check that no training query of a tuned model equals a LiveQA question or paraphrase (normalised)."""
    folder = Path(model).expanduser()
    trained = training_queries(folder) if folder.is_dir() else set()
    questions = evaluation_queries([liveqa_queries])
    overlap = sorted(trained & questions)
    if not trained:
        message = f"model {model}: no training-query list (not made by `healthsearch tune`); nothing to check"
    elif overlap:
        message = (
            f"error: {len(overlap)} training queries of {model} equal LiveQA questions, e.g. {overlap[0]!r}"
        )
    else:
        message = (
            f"checked: none of the {len(trained):,} training queries of {model} equals any of the "
            f"{len(questions)} LiveQA questions and paraphrases (after normalisation)"
        )
    return {"checked": len(trained), "overlap": len(overlap), "message": message}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / ".cache" / "liveqa")
    parser.add_argument("--smoke", type=int, default=0, help="use only about this many answers (0 = all)")
    parser.add_argument(
        "--configs", default="all", help="semicolon-separated config names to run (default all)"
    )
    parser.add_argument("--json", action="store_true", help="also print one JSON line with every number")
    parser.add_argument("--backend", default="auto", help="embedding backend of the index (default: auto)")
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"embedding model, e.g. a tuned folder (default {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--engine",
        choices=("local", "milvus"),
        default="local",
        help="milvus: score a Milvus Lite copy of the local index (its vectors reused; needs the scale extra)",
    )
    parser.add_argument(
        "--no-baselines",
        action="store_true",
        help="skip the plain dense and BM25 baselines (the dense one embeds every answer again in fp32)",
    )
    parser.add_argument(
        "--reranker",
        default=None,
        help="also score the default search with this cross-encoder (folder or hub name)",
    )
    parser.add_argument(
        "--passage-tokens",
        type=int,
        default=DEFAULT_PASSAGE_TOKENS,
        help=f"embed each passage's first N tokens (default {DEFAULT_PASSAGE_TOKENS})",
    )
    return parser.parse_args(argv)


def _corpus(shared: Path, work: Path, qrels: dict[str, dict[str, int]], smoke: int) -> Path:
    """A corpus folder holding MedQuAD XML and the extra answers (a judged-first subset with --smoke)."""
    target = work / (f"corpus-smoke-{smoke}" if smoke else "corpus")
    if target.is_dir():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    files = sorted((shared / "medquad").glob("*/*.xml"))
    if smoke:
        files = _smoke_files(files, qrels, smoke)
    for path in files:
        (partial / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, partial / path.parent.name / path.name)
    _copy_extra_answers(
        shared / "liveqa-dev" / "extra-answers.jsonl", partial / "extra-answers.jsonl", qrels, smoke
    )
    partial.rename(target)
    return target


def _smoke_files(files: list[Path], qrels: dict[str, dict[str, int]], limit: int) -> list[Path]:
    """XML files holding judged answers first, then others, until about ``limit`` answers."""
    judged = {doc.rsplit("_Sec", 1)[0] for docs in qrels.values() for doc in docs}
    chosen, answers = [], 0
    for path in sorted(files, key=lambda p: _doc_key(p) not in judged):
        chosen.append(path)
        answers += path.read_text(encoding="utf-8", errors="replace").count("<Answer>") or 1
        if answers >= limit // 2:
            break
    return chosen


def _doc_key(path: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")[:400]
    source = text.split('source="', 1)[-1].split('"', 1)[0]
    return f"{source}_{path.stem.split('_')[0]}"


def _copy_extra_answers(source: Path, target: Path, qrels: dict[str, dict[str, int]], smoke: int) -> None:
    lines = source.read_text(encoding="utf-8").splitlines()
    if smoke:
        judged = {doc for docs in qrels.values() for doc in docs}
        lines = [line for line in lines if json.loads(line)["id"] in judged][: smoke // 2]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _milvus_copy(local: Path) -> Path:
    """A copy of the local index folder to rebuild with ``--engine milvus``: its cached vectors are reused, so
    only the Milvus write runs (build the local one first)."""
    target = local.with_name(f"{local.name}-milvus")
    if not (target / "manifest.json").exists():
        if not (local / "manifest.json").exists():
            raise SystemExit(
                f"error: build {local} first (run without --engine); the Milvus copy reuses its vectors"
            )
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(local, target)
    return target


def _index(
    corpus: Path,
    index: Path,
    backend: str,
    passage_tokens: int | None,
    model: str = DEFAULT_MODEL,
    engine: str = "local",
) -> tuple[Searcher, dict[str, Any]]:
    started = time.perf_counter()
    settings = BuildSettings(
        corpus=corpus,
        index=index,
        model=model,
        backend=backend,
        passage_tokens=passage_tokens,
        progress=sys.stderr.isatty(),
        engine=engine,
    )
    report = build_index(settings)
    facts = {
        "model": model,
        "backend": backend,
        "passage_tokens": passage_tokens,
        "articles": report.articles,
        "passages": report.passages,
        "embedded": report.embedded,
        "engine": engine,
        "seconds": round(time.perf_counter() - started, 1),
        "skipped": len(report.skipped),
        "warnings": len(report.warnings),
    }
    return Searcher.open(index), facts


def _rankers(
    searcher: Searcher, articles: list[Article], work: Path, args: argparse.Namespace
) -> dict[str, Ranker]:
    """Every configuration to score, by name."""

    def ours(mode: str, config: SearchConfig, reranker: Reranker | None = None) -> Ranker:
        def rank(text: str) -> list[str]:
            searcher.config, searcher.reranker = config, reranker
            return unique_in_order(
                r.article_id for r in searcher.search(text, k=100, mode=mode, highlight=False)
            )

        return rank

    base = SearchConfig(
        expand_lay_terms=False,
        expand_dense=False,
        clean_question=False,
        lexical_weight=1.0,
        correct_spelling=False,
    )
    configs: dict[str, Ranker] = {}
    if not args.no_baselines:
        configs["plain dense baseline (whole answer, flat)"] = _plain_dense(
            articles, Encoder(backend="torch"), work
        )
        configs["plain BM25 baseline (bm25s, whole answer)"] = _plain_bm25(articles)
    configs |= {
        "lexical (default: bm25s per field 2/1/1)": ours("lexical", SearchConfig()),
        "dense passages": ours("dense", replace(base, use_heads=False)),
        "dense passages + whole-article vectors": ours("dense", base),
        "hybrid rrf k=60 (passages + articles, lexical 1.0)": ours("hybrid", base),
        "hybrid rrf k=60 lexical 0.5": ours("hybrid", replace(base, lexical_weight=0.5)),
        "hybrid rrf k=20 lexical 0.5": ours("hybrid", replace(base, lexical_weight=0.5, rrf_k=20)),
        "hybrid rrf lexical 0.5 + question cleaning": ours(
            "hybrid", replace(base, lexical_weight=0.5, clean_question=True)
        ),
        "hybrid rrf lexical 0.5 + lay expansion": ours(
            "hybrid", replace(base, lexical_weight=0.5, expand_lay_terms=True, expand_dense=True)
        ),
        "default with lexical weight 0.3": ours("hybrid", replace(SearchConfig(), lexical_weight=0.3)),
        "default with lexical weight 0.7": ours("hybrid", replace(SearchConfig(), lexical_weight=0.7)),
        "default with lexical weight 1.0": ours("hybrid", replace(SearchConfig(), lexical_weight=1.0)),
        "default (hybrid, default SearchConfig)": ours("hybrid", SearchConfig()),
    }
    configs["default without spelling correction"] = ours(
        "hybrid", replace(SearchConfig(), correct_spelling=False)
    )
    if args.reranker:
        configs[f"default + reranker {args.reranker}"] = ours(
            "hybrid", SearchConfig(), Reranker(args.reranker)
        )
    wanted = args.configs.split(";") if args.configs != "all" else list(configs)
    return {name: ranker for name, ranker in configs.items() if name in wanted or name.startswith("plain")}


def _plain_dense(articles: list[Article], encoder: Encoder, work: Path) -> Ranker:
    """The issue's baseline: title + text of each answer, one vector (model truncates at 256 tokens), exact search."""
    texts = [f"{a.title}\n{a.full_text()}" for a in articles]
    ids = [a.id for a in articles]
    key = hashlib.sha256(("\n".join(ids) + encoder.ref.fingerprint).encode()).hexdigest()[
        :16
    ]  # always fp32 torch
    cache = work / f"plain-dense-{key}.npy"
    if cache.exists():
        vectors = np.load(cache, allow_pickle=False)
    else:
        vectors = encoder.encode_passages(texts, batch_size=32, progress=sys.stderr.isatty())
        np.save(cache, vectors, allow_pickle=False)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)

    def rank(text: str) -> list[str]:
        _, found = index.search(encoder.encode_query(text).reshape(1, -1), 100)
        return [ids[i] for i in found[0] if i >= 0]

    return rank


def _plain_bm25(articles: list[Article]) -> Ranker:
    """The issue's BM25 reference: bm25s over title + text of each answer, Porter stemmer, English stopwords."""
    ids = [a.id for a in articles]
    model = bm25s.BM25()
    model.index(tokenize([f"{a.title}\n{a.full_text()}" for a in articles]), show_progress=False)

    def rank(text: str) -> list[str]:
        terms = [t for t in tokenize([text])[0] if t in model.vocab_dict]
        if not terms:
            return []
        scores = model.get_scores(terms)
        top = np.argsort(-scores)[:100]
        return [ids[i] for i in top if scores[i] > 0]

    return rank


def _score(
    name: str, ranker: Ranker, queries: dict[str, dict[str, str]], qrels: dict[str, dict[str, int]]
) -> dict[str, Any]:
    row: dict[str, Any] = {"config": name}
    for field in FIELDS:
        judged = [q for q in queries[field] if any(g > 0 for g in qrels.get(q, {}).values())]
        runs = {q: ranker(queries[field][q]) if queries[field][q].strip() else [] for q in judged}
        row[field] = {
            "ndcg@10": _mean(ndcg(runs[q], qrels[q], 10) for q in judged),
            "ndcg@10_condensed": _mean(ndcg(runs[q], qrels[q], 10, condensed=True) for q in judged),
            "mrr@10_grade2": _mean(reciprocal_rank(runs[q], qrels[q], 10, min_grade=2) for q in judged),
            "queries": len(judged),
        }
    return row


def _mean(values: Any) -> float:
    items = list(values)
    return round(sum(items) / len(items), 4) if items else 0.0


def _print(rows: list[dict[str, Any]], build: dict[str, Any], answers: int) -> None:
    print(f"corpus: {answers} answers; index: {build}")
    base = _first(rows, "plain dense")
    lexical = _first(rows, "lexical")
    bm25 = _first(rows, "plain BM25")
    print(
        f"{'config':44} {'query nDCG@10':>13} {'condensed':>9} {'MRR@10':>7} {'×dense':>7} {'×lex':>6} {'×BM25':>6}"
        f" | {'paraphrase nDCG@10':>18} {'MRR@10':>7}"
    )
    for row in rows:
        q, p = row["query"], row["paraphrase"]
        print(
            f"{row['config']:44} {q['ndcg@10']:13.4f} {q['ndcg@10_condensed']:9.4f} {q['mrr@10_grade2']:7.4f}"
            f" {q['ndcg@10'] / base:7.3f} {q['ndcg@10'] / lexical:6.3f} {q['ndcg@10'] / bm25:6.3f}"
            f" | {p['ndcg@10']:18.4f} {p['mrr@10_grade2']:7.4f}"
        )


def _first(rows: list[dict[str, Any]], prefix: str) -> float:
    """query nDCG@10 of the first row whose name starts with ``prefix`` (1.0 when absent, to divide by)."""
    return next((r["query"]["ndcg@10"] for r in rows if r["config"].startswith(prefix)), 0.0) or 1.0


if __name__ == "__main__":
    raise SystemExit(main())
