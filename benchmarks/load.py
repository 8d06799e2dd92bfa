"""Query latency idle and under load, the way the page serves it (answer(): search, emergency check, cue).

    python benchmarks/load.py [--shared ../shared] [--seconds 40] [--threads 4] [--json]

1. Sample library (corpus/, real model): hybrid p50/p95 idle; then with ``--threads`` query threads in this
   process while a full rebuild of another library (real MedQuAD answers, real model) runs in a separate
   process, started as the page starts it (healthsearch.rebuild: nice 10) and, for comparison, at normal priority.
2. LiveQA library (MedQuAD + the extra answers, about 30k passages): idle p50/p95 over the LiveQA dev questions.
   Its passage vectors are mixtures of real embeddings (benchmarks/bench.py MixtureEncoder), so it builds in
   minutes; queries are encoded by the real model, and search cost does not depend on the vector values.

Each measurement runs once per query encoding mode in one process — onnxruntime on one thread (the default),
torch on one thread, torch on two (the behaviour before) — so the ratios are measured at the same time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from benchmarks.bench import MixtureEncoder  # noqa: E402
from benchmarks.liveqa import _corpus  # noqa: E402
from healthsearch import embedding  # noqa: E402
from healthsearch.answer import answer  # noqa: E402
from healthsearch.build import build_index  # noqa: E402
from healthsearch.config import BuildSettings  # noqa: E402
from healthsearch.embedding import Encoder  # noqa: E402
from healthsearch.evaluate import load_qrels, load_queries  # noqa: E402
from healthsearch.ingest import list_corpus_files, read_file  # noqa: E402
from healthsearch.rebuild import BUILD_NICENESS  # noqa: E402
from healthsearch.search import Searcher  # noqa: E402

# How single queries are encoded: (name, through onnxruntime, threads). The first is the default.
MODES = (("onnx_1_thread", True, 1), ("torch_1_thread", False, 1), ("torch_2_threads_before", False, 2))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks/.cache/load")
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each loaded run")
    parser.add_argument("--threads", type=int, default=4, help="concurrent query threads")
    parser.add_argument(
        "--rebuild-passages", type=int, default=3000, help="size of the library rebuilt meanwhile"
    )
    parser.add_argument("--skip-liveqa", action="store_true")
    parser.add_argument("--skip-sample", action="store_true", help="only the LiveQA idle measurement")
    parser.add_argument(
        "--liveqa-index",
        type=Path,
        default=None,
        help="a built LiveQA index to search with its own encoder (e.g. benchmarks/liveqa.py's) instead of "
        "the mixture-vector one",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    numbers: dict[str, Any] = {}
    if not args.skip_sample:
        _sample_runs(args, numbers)
    if not args.skip_liveqa:
        liveqa, questions = _liveqa_searcher(args.work, args.shared, args.liveqa_index)
        print(f"liveqa index: {liveqa.index_dir} ({liveqa.encoder.key})", flush=True)
        for tag, onnx, threads in MODES:
            embedding.QUERY_ONNX, embedding.QUERY_THREADS = onnx, threads
            _record(numbers, f"liveqa_idle_{tag}", _idle(liveqa, questions))
    embedding.QUERY_ONNX, embedding.QUERY_THREADS = True, 1
    if args.json:
        print(json.dumps(numbers))
    return 0


def _sample_runs(args: argparse.Namespace, numbers: dict[str, Any]) -> None:
    sample = _sample_searcher(args.work)
    queries = _sample_queries()
    other = _other_library(args.work, args.shared, args.rebuild_passages)
    for tag, onnx, threads in MODES:
        embedding.QUERY_ONNX, embedding.QUERY_THREADS = onnx, threads
        _record(numbers, f"sample_idle_{tag}", _idle(sample, queries))
        for nice in (BUILD_NICENESS, 0):
            _record(numbers, f"sample_loaded_nice{nice}_{tag}", _loaded(sample, queries, other, args, nice))


def _record(numbers: dict[str, Any], key: str, value: dict[str, Any]) -> None:
    numbers[key] = value
    print(f"{key}: {value}", flush=True)


def _sample_searcher(work: Path) -> Searcher:
    index = work / "sample-index"
    build_index(BuildSettings(corpus=REPO / "corpus", index=index, progress=False))
    return Searcher.open(index)


def _sample_queries() -> list[str]:
    queries: list[str] = []
    for name in ("dev", "heldout"):
        queries += load_queries(REPO / "eval" / f"{name}-queries.jsonl").values()
    return queries


def _other_library(work: Path, shared: Path, passages: int) -> Path:
    """A corpus of real MedQuAD answers (one JSONL file) for the rebuild that runs beside the queries."""
    corpus = work / f"rebuild-corpus-{passages}"
    if not corpus.is_dir():
        lines = []
        for file in list_corpus_files(shared / "medquad"):
            for article in read_file(file).articles:
                text = " ".join(article.full_text().split()[:150])
                lines.append(json.dumps({"id": f"r{len(lines)}", "title": article.title, "text": text}))
                if len(lines) >= passages:
                    break
            if len(lines) >= passages:
                break
        corpus.mkdir(parents=True)
        (corpus / "answers.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return corpus


def _idle(searcher: Searcher, queries: list[str], rounds: int = 2) -> dict[str, float]:
    for query in queries[:10]:
        answer(searcher, query)
    timings = [_timed(searcher, query) for _ in range(rounds) for query in queries]
    return _summary(timings)


def _loaded(
    searcher: Searcher, queries: list[str], corpus: Path, args: argparse.Namespace, nice: int
) -> dict[str, float]:
    """Latency of ``args.threads`` query threads while a full rebuild of ``corpus`` runs in another process."""
    index = args.work / "rebuild-index"
    command = [sys.executable, "-m", "healthsearch", "build", "--corpus", str(corpus), "--index", str(index)]
    build = subprocess.Popen(
        ["nice", "-n", str(nice), *command, "--full", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(8)  # let the build load its model and start embedding
    timings: list[float] = []
    lock, stop = threading.Lock(), time.perf_counter() + args.seconds

    def worker(offset: int) -> None:
        position = offset
        while time.perf_counter() < stop and build.poll() is None:
            elapsed = _timed(searcher, queries[position % len(queries)])
            with lock:
                timings.append(elapsed)
            position += args.threads

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(args.threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    still_running = build.poll() is None
    build.kill()
    build.wait()
    return {**_summary(timings), "build_ran_throughout": still_running}


def _timed(searcher: Searcher, query: str) -> float:
    started = time.perf_counter()
    answer(searcher, query)
    return (time.perf_counter() - started) * 1000


def _summary(timings: list[float]) -> dict[str, Any]:
    ordered = sorted(timings)
    return {
        "queries": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 1),
    }


def _liveqa_searcher(work: Path, shared: Path, built: Path | None) -> tuple[Searcher, list[str]]:
    questions = list(load_queries(shared / "liveqa-dev" / "queries.jsonl").values())
    if built is not None:
        return Searcher.open(built), questions
    qrels = load_qrels(shared / "liveqa-dev" / "qrels.tsv")
    corpus = _corpus(shared, work, qrels, 0)
    index = work / "liveqa-index"
    real = Encoder(backend="torch")
    if not (index / "manifest.json").exists():
        answers = [a.full_text()[:800] for f in list_corpus_files(corpus)[:8] for a in read_file(f).articles][
            :64
        ]
        base = real.encode_passages(answers)
        build_index(
            BuildSettings(corpus=corpus, index=index, progress=False),
            encoder=MixtureEncoder(np.asarray(base), real),
        )
    return Searcher.open(index, encoder=real), questions


if __name__ == "__main__":
    raise SystemExit(main())
