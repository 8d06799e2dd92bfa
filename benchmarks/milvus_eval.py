"""Sample-library evaluation through the local engine and Milvus Lite, same vectors, one process.

    PYTHONPATH=. python benchmarks/milvus_eval.py --work benchmarks/.cache/milvus-eval

Builds WORK/local from corpus/ (once), copies it to WORK/milvus and rebuilds that with ``--engine milvus`` (cached
vectors reused), then scores dev and heldout queries in every mode as ``python -m healthsearch eval`` does.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from healthsearch.build import build_index
from healthsearch.config import BuildSettings
from healthsearch.embedding import Encoder
from healthsearch.evaluate import evaluate_run, load_qrels, load_queries, unique_in_order
from healthsearch.search import Searcher

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / ".cache" / "milvus-eval")
    args = parser.parse_args()
    encoder = Encoder()
    local, milvus = args.work / "local", args.work / "milvus"
    if not (local / "manifest.json").exists():
        build_index(BuildSettings(corpus=REPO / "corpus", index=local, progress=False), encoder=encoder)
    shutil.rmtree(milvus, ignore_errors=True)
    shutil.copytree(local, milvus)
    started = time.perf_counter()
    report = build_index(BuildSettings(index=milvus, engine="milvus", progress=False), encoder=encoder)
    print(
        json.dumps(
            {"engine_switch_seconds": round(time.perf_counter() - started, 1), "embedded": report.embedded}
        )
    )
    for engine, index in (("local", local), ("milvus", milvus)):
        searcher = Searcher.open(index, encoder=encoder)
        for half in ("dev", "heldout"):
            queries = load_queries(REPO / "eval" / f"{half}-queries.jsonl")
            qrels = load_qrels(REPO / "eval" / f"{half}-qrels.tsv")
            for mode in ("hybrid", "dense", "lexical"):
                run = {
                    qid: unique_in_order(
                        r.article_id for r in searcher.search(text, k=100, mode=mode, highlight=False)
                    )
                    for qid, text in queries.items()
                    if text.strip()
                }
                print(json.dumps({"engine": engine, "half": half, "mode": mode, **evaluate_run(run, qrels)}))
        searcher.engine.close()


if __name__ == "__main__":
    main()
