"""Command line: build, search, info, eval. Each subcommand imports its heavy code only when run."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import (
    BACKENDS,
    DEFAULT_COLLECTION,
    DEFAULT_INDEX,
    DEFAULT_MODEL,
    DEFAULT_PASSAGE_TOKENS,
    ENGINES,
    INDEX_KINDS,
    MODES,
    RERANK_DEPTH,
)
from .errors import HealthsearchError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m healthsearch``; returns the exit code, never raises on bad input."""
    parser = _parser()
    args = parser.parse_args(argv)
    args.command_line = ["python", "-m", "healthsearch", *(sys.argv[1:] if argv is None else argv)]
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    return run_safely(args.handler, args)


def build_main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``build_index.py``: the ``build`` subcommand."""
    return main(["build", *(sys.argv[1:] if argv is None else argv)])


def run_safely(handler: Any, args: argparse.Namespace) -> int:
    """Run a subcommand, turning every failure into one line on stderr and an exit code."""
    try:
        return int(handler(args))
    except HealthsearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the previous index (if any) is unchanged", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if os.environ.get("HEALTHSEARCH_DEBUG"):
            raise
        print(
            f"unexpected error: {exc.__class__.__name__}: {str(exc)[:300]} "
            "(set HEALTHSEARCH_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="healthsearch", description="Semantic search over consumer health content."
    )
    commands = parser.add_subparsers(title="commands")
    _define_build(commands.add_parser("build", help="build or update the index from a corpus folder"))
    _define_search(commands.add_parser("search", help="search the index"))
    _define_info(commands.add_parser("info", help="show what an index holds"))
    _define_eval(commands.add_parser("eval", help="score retrieval on labelled queries"))
    _define_bench(commands.add_parser("bench", help="measure build speed, query latency, recall and memory"))
    _define_tune(
        commands.add_parser("tune", help="fine-tune the embedding model on the library's own questions")
    )
    return parser


def _index_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})"
    )


def _define_build(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Build or update an index. A later build without flags keeps how the index was built (model, backend, "
        "token limit, vector index, engine, corpus folder); a flag changes that one field."
    )
    parser.add_argument(
        "--corpus", type=Path, default=None, help="corpus folder (default: the index's, else corpus)"
    )
    _index_arg(parser)
    parser.add_argument(
        "--model",
        default=None,
        help=f"sentence-transformers model name or local path (new index: {DEFAULT_MODEL})",
    )
    parser.add_argument("--full", action="store_true", help="re-read and re-embed everything")
    parser.add_argument("--batch-size", type=_positive_int, default=32)
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: automatic)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--index-type",
        choices=INDEX_KINDS,
        default=None,
        help="vector index (new index: auto, exact up to 50k passages, IVF beyond)",
    )
    compact = parser.add_mutually_exclusive_group()
    compact.add_argument(
        "--compact",
        action="store_true",
        default=None,
        help="product-quantized vectors, 56 bytes a passage in memory (exact vectors stay on disk for re-ranking)",
    )
    compact.add_argument("--no-compact", dest="compact", action="store_false", help="full vectors in memory")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="how the model runs (new index: auto); onnx backends export the model once to a cache",
    )
    parser.add_argument(
        "--passage-tokens",
        type=_positive_int,
        default=None,
        help=f"embed each passage's first N tokens (new index: {DEFAULT_PASSAGE_TOKENS}; the model's limit caps it)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="where passages and vectors live: local files, or Milvus (new index: local; needs the [scale] extra)",
    )
    parser.add_argument(
        "--milvus-uri",
        default=None,
        metavar="URI",
        help="a Milvus Lite file (DIR/milvus.db, the default) or a server (http://host:19530; token from "
        "$MILVUS_TOKEN)",
    )
    parser.add_argument(
        "--collection",
        default=None,
        metavar="NAME",
        help=f"the Milvus alias of the live generation (new index: {DEFAULT_COLLECTION})",
    )
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="chunk and embed on Ray Data: a cluster's address, or none for a local Ray on this machine's cores",
    )
    parser.set_defaults(handler=_run_build)


def _define_search(parser: argparse.ArgumentParser) -> None:
    _index_arg(parser)
    parser.add_argument("query", nargs="*", help="the question or symptoms, in your own words")
    parser.add_argument(
        "--queries", type=Path, help='JSONL file of {"id": ..., "query": ...}; one output line each'
    )
    parser.add_argument("--k", type=int, default=10, help="number of passages (default 10)")
    parser.add_argument("--mode", choices=MODES, default="hybrid")
    parser.add_argument("--tag", action="append", default=[], help="only articles with this tag (repeatable)")
    parser.add_argument(
        "--source", action="append", default=[], help="only articles from this source (repeatable)"
    )
    parser.add_argument("--model", default=None, help="query model (default: the one that built the index)")
    _reranker_arg(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=_run_search)


def _define_info(parser: argparse.ArgumentParser) -> None:
    _index_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")
    parser.set_defaults(handler=_run_info)


def _define_eval(parser: argparse.ArgumentParser) -> None:
    _index_arg(parser)
    parser.add_argument("--queries", type=Path, required=True, help='JSONL of {"id": ..., "query": ...}')
    parser.add_argument("--qrels", type=Path, required=True, help="TREC qrels: qid 0 article_id grade")
    parser.add_argument("--field", default="query", help="which JSON field holds the query text")
    parser.add_argument("--mode", choices=MODES, default="hybrid")
    parser.add_argument("--min-grade", type=int, default=1, help="grade that counts as relevant (default 1)")
    _reranker_arg(parser)
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.set_defaults(handler=_run_eval)


def _define_bench(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--passages", type=_positive_int, required=True, help="synthetic library size")
    parser.add_argument("--shared", type=Path, default=Path("../shared"), help="folder holding medquad/")
    parser.add_argument(
        "--work", type=Path, default=Path("benchmarks/.cache/bench"), help="where data is kept"
    )
    parser.add_argument(
        "--throughput-passages",
        type=_positive_int,
        default=10_000,
        help="real passages both processes embed (default 10000; small samples mostly time start-up)",
    )
    parser.add_argument("--queries", type=_positive_int, default=200)
    parser.add_argument("--compact", action="store_true", help="measure the compact (IVF-PQ) index")
    parser.add_argument("--json", action="store_true", help="end with one JSON object on the last line")
    parser.set_defaults(handler=_run_bench)


def _define_tune(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", type=Path, default=Path("corpus"), help="corpus folder (default: corpus)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the tuned model into")
    parser.add_argument(
        "--base", default=DEFAULT_MODEL, help=f"model to start from (default {DEFAULT_MODEL})"
    )
    parser.add_argument("--epochs", type=_positive_int, default=1, help="passes over the pairs (default 1)")
    parser.add_argument(
        "--max-minutes", type=float, default=None, help="stop cleanly after this many minutes"
    )
    parser.add_argument("--max-steps", type=_positive_int, default=None, help="stop after this many steps")
    parser.add_argument(
        "--batch-size",
        type=_positive_int,
        default=256,
        help="pairs per step, each other's negatives (default 256)",
    )
    parser.add_argument(
        "--mini-batch-size",
        type=_positive_int,
        default=64,
        help="texts per forward pass; sets memory, not results (default 64)",
    )
    parser.add_argument(
        "--max-tokens",
        type=_positive_int,
        default=DEFAULT_PASSAGE_TOKENS,
        help=f"tokens of each text trained on (default {DEFAULT_PASSAGE_TOKENS}, what a new index embeds)",
    )
    parser.add_argument(
        "--exclude-queries",
        type=Path,
        action="append",
        default=[],
        help="JSONL of evaluation queries no training pair may equal (repeatable)",
    )
    parser.add_argument(
        "--hard-negatives",
        type=Path,
        default=None,
        metavar="INDEX_DIR",
        help="also train on one hard negative per pair, mined from this index of the library",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_run_tune)


def _reranker_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reranker",
        default=os.environ.get("HEALTHSEARCH_RERANKER") or None,
        help=f"optional cross-encoder (folder or hub name) that re-scores the best {RERANK_DEPTH} passages "
        "(default: $HEALTHSEARCH_RERANKER, else none)",
    )


def _reranker(args: argparse.Namespace) -> Any:
    """The optional cross-encoder, or None."""
    if not args.reranker:
        return None
    from .rerank import Reranker

    return Reranker(args.reranker)


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _run_build(args: argparse.Namespace) -> int:
    from .build import build_index
    from .config import BuildSettings
    from .report import print_build_report

    settings = BuildSettings(
        corpus=args.corpus,
        index=args.index,
        model=args.model,
        full=args.full,
        batch_size=args.batch_size,
        device=args.device,
        progress=not args.quiet,
        index_type=args.index_type,
        compact=args.compact,
        backend=args.backend,
        passage_tokens=args.passage_tokens,
        engine=args.engine,
        milvus_uri=args.milvus_uri,
        collection=args.collection,
        ray=args.ray is not None,
        ray_address=args.ray or None,
    )
    print_build_report(build_index(settings), settings)
    return 0


def _run_search(args: argparse.Namespace) -> int:
    from .report import print_results, search_record
    from .search import Searcher

    if bool(args.query) == bool(args.queries):
        raise HealthsearchError("give either a query or --queries FILE.jsonl (not both, not neither)")
    searcher = Searcher.open(args.index, model=args.model, reranker=_reranker(args))
    options = {"k": args.k, "mode": args.mode, "tags": args.tag, "sources": args.source}
    if args.queries:
        for record in _batch_queries(args.queries):
            print(json.dumps(search_record(searcher, record, options), ensure_ascii=False), flush=True)
        return 0
    query = " ".join(args.query)
    record = search_record(searcher, {"query": query}, options)
    if "error" in record:
        raise HealthsearchError(record["error"])
    print(json.dumps(record, ensure_ascii=False, indent=2) if args.json else print_results(record))
    return 0


def _batch_queries(path: Path) -> list[dict[str, Any]]:
    from .evaluate import load_queries

    return [{"id": qid, "query": text} for qid, text in load_queries(path).items()]


def _run_info(args: argparse.Namespace) -> int:
    from .manifest import read_manifest
    from .report import manifest_summary

    manifest = read_manifest(args.index)
    print(json.dumps(manifest.to_dict(), indent=2) if args.json else manifest_summary(manifest, args.index))
    return 0


def _run_bench(args: argparse.Namespace) -> int:
    try:
        from benchmarks.bench import BenchSettings, run_bench
    except ImportError:
        raise HealthsearchError(
            "bench runs from a source checkout: cd to the repository (the folder holding benchmarks/) first"
        ) from None

    settings = BenchSettings(
        passages=args.passages,
        shared=args.shared,
        work=args.work,
        throughput_passages=args.throughput_passages,
        queries=args.queries,
        compact=args.compact,
    )
    numbers = run_bench(settings, log=lambda line: print(line, flush=True))
    for key, value in numbers.items():
        print(f"{key}: {value}")
    if args.json:
        print(json.dumps(numbers))
    return 0


def _run_tune(args: argparse.Namespace) -> int:
    import shlex

    from .tune import TuneSettings, tune

    settings = TuneSettings(
        corpus=args.corpus,
        out=args.out,
        base=args.base,
        epochs=args.epochs,
        max_minutes=args.max_minutes,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        mini_batch_size=args.mini_batch_size,
        max_tokens=args.max_tokens,
        exclude_queries=tuple(args.exclude_queries),
        overwrite=args.overwrite,
        hard_negatives=args.hard_negatives,
        progress=not args.quiet,
        command=shlex.join(args.command_line),
    )
    report = tune(settings)
    pairs = report.pairs
    print(
        f"tuned model written to {report.out}: {len(pairs.train):,} training pairs "
        f"(+{len(pairs.validation):,} validation), {report.steps:,} steps ({report.stopped}), "
        f"validation loss {report.validation_loss_before} -> {report.validation_loss_after}, "
        f"{report.minutes} min; build with: python build_index.py --model {report.out} --full"
    )
    return 0


def _run_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_run, load_qrels, load_queries, unique_in_order
    from .search import Searcher

    queries, qrels = load_queries(args.queries, args.field), load_qrels(args.qrels)
    searcher = Searcher.open(args.index, reranker=_reranker(args))
    run = {
        qid: unique_in_order(
            r.article_id for r in searcher.search(text, k=100, mode=args.mode, highlight=False)
        )
        for qid, text in queries.items()
        if text.strip()
    }
    metrics = {"mode": args.mode, **evaluate_run(run, qrels, args.min_grade)}
    print(json.dumps(metrics) if args.json else "  ".join(f"{k}={v}" for k, v in metrics.items()))
    return 0
