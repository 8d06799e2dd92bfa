"""Milvus Lite against the local engine on one built index: generation write time and warm query latency.

    python benchmarks/milvus_bench.py --index index                   # the index as built
    python benchmarks/milvus_bench.py --index index --replicate 22    # ~10k passages: copies of every article with
                                                                     # perturbed cached vectors (nothing embedded)

Latency is the engine's share of a hybrid query (dense with heads + BM25 + RRF, then fetching the top 10 rows),
query vectors computed beforehand; the local side is the Searcher's FAISS + bm25s path on the same store.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from healthsearch import fusion
from healthsearch import milvus_engine as me
from healthsearch.build import build_index
from healthsearch.config import BuildSettings
from healthsearch.embedding import Encoder
from healthsearch.engine import Filters
from healthsearch.evaluate import load_queries
from healthsearch.manifest import read_manifest
from healthsearch.search import Searcher
from healthsearch.store import Store, open_db

REPO = Path(__file__).resolve().parent.parent


def replicate(database: Path, target: Path, copies: int, model_key: str, dimension: int) -> None:
    """Copy the store with ``copies`` - 1 extra copies of every article, vectors perturbed and renormalized."""
    shutil.copy(database, target)
    conn = sqlite3.connect(target)
    rng = np.random.default_rng(0)
    cached = conn.execute(
        "SELECT content_hash, vector FROM embeddings WHERE model = ?", (model_key,)
    ).fetchall()
    for c in range(1, copies):
        tag = f"~{c}"
        conn.execute(
            "INSERT INTO articles SELECT id || ?, title, url, source, tags, summary, aliases, source_path || ?,"
            " head_text, head_hash || ? FROM articles WHERE id NOT LIKE '%~%'",
            (tag, tag, tag),
        )
        conn.execute(
            "INSERT INTO passages (article_id, ordinal, section, text, content_hash) SELECT article_id || ?,"
            " ordinal, section, text, content_hash || ? FROM passages WHERE article_id NOT LIKE '%~%' ORDER BY id",
            (tag, tag),
        )
        rows = []
        for content_hash, blob in cached:
            vector = np.frombuffer(blob, dtype=np.float32) + rng.normal(0, 0.02, dimension).astype(np.float32)
            rows.append(
                (
                    content_hash + tag,
                    model_key,
                    (vector / np.linalg.norm(vector)).astype(np.float32).tobytes(),
                )
            )
        conn.executemany("INSERT INTO embeddings VALUES (?, ?, ?)", rows)
    conn.commit()
    conn.close()


def percentiles(values: list[float]) -> dict[str, float]:
    ms = np.asarray(values) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", type=Path, default=REPO / "index")
    parser.add_argument("--replicate", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--filtered-queries",
        type=int,
        default=None,
        help="time the tag-filtered query for only the first N queries (Lite scans tags row by row)",
    )
    parser.add_argument("--queries", type=int, default=None, help="time only the first N dev queries")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    encoder = Encoder()
    if not (args.index / "manifest.json").exists():
        build_index(BuildSettings(corpus=REPO / "corpus", index=args.index, progress=False), encoder=encoder)
    manifest = read_manifest(args.index)
    model = manifest.spec.model
    searcher = Searcher.open(args.index, encoder=encoder)
    key = encoder.key
    with tempfile.TemporaryDirectory() as scratch:
        database = args.index / manifest.files["database"]
        if args.replicate > 1:
            database = Path(scratch) / "replicated.sqlite"
            replicate(args.index / manifest.files["database"], database, args.replicate, key, model.dimension)
        store = Store(open_db(database, readonly=True))
        uri = str(Path(scratch) / "milvus.db")
        client = me.connect(uri)
        written = me.write_generation(client, "bench", 1, store, model, key, batch_size=args.batch)
        me.commit(client, "bench", written.collection)
        engine = me.MilvusEngine(client, "bench", uri, model)
        queries = list(load_queries(REPO / "eval" / "dev-queries.jsonl").values())[: args.queries]
        vectors = [encoder.encode_query(q) for q in queries]
        timings: dict[str, list[float]] = {"milvus": [], "local": [], "milvus_filtered": []}
        for _ in range(2):  # the first pass warms up, the second is measured
            for name in timings:
                timings[name].clear()
            for number, (query, vector) in enumerate(zip(queries, vectors, strict=True)):
                started = time.perf_counter()
                fused = fusion.rrf(
                    [engine.dense(vector, 100, Filters(), True), engine.lexical(query, 100, Filters())],
                    weights=[1, 0.5],
                )
                engine.fetch_passages([i for i, _ in fused[:10]])
                timings["milvus"].append(time.perf_counter() - started)
                if args.filtered_queries is None or number < args.filtered_queries:
                    started = time.perf_counter()
                    only = Filters.of(tags=["chronic"])
                    fused = fusion.rrf(
                        [engine.dense(vector, 100, only, True), engine.lexical(query, 100, only)]
                    )
                    timings["milvus_filtered"].append(time.perf_counter() - started)
                if args.replicate == 1:
                    started = time.perf_counter()
                    dense = searcher.engine.dense(vector, 100, Filters(), True)
                    local = fusion.rrf(
                        [dense, searcher.engine.lexical(query, 100, Filters())], weights=[1, 0.5]
                    )
                    searcher.engine.fetch_passages([i for i, _ in local[:10]])
                    timings["local"].append(time.perf_counter() - started)
        report = {
            "passages": written.counts["passages"],
            "heads": written.counts["heads"],
            "write_seconds": round(written.seconds, 2),
            "write_passages_per_second": round(written.counts["passages"] / written.seconds, 1),
            **{name: percentiles(values) for name, values in timings.items() if values},
        }
        engine.close()
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
