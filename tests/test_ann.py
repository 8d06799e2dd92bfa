"""FAISS index kinds by size, memory-mapped loading, and the compact index's exact re-ranking."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from benchmarks.bench import MixtureEncoder
from healthsearch import ann
from healthsearch.embedding import Encoder
from healthsearch.errors import IndexProblem
from healthsearch.search import Searcher

from .conftest import build

DIM = 384


def clustered(count: int, queries: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around 60 centres, like embeddings of a library's topics, and queries drawn the same way."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(60, DIM))
    total = count + queries
    vectors = centres[rng.integers(0, 60, total)] + rng.normal(scale=0.6, size=(total, DIM))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return vectors[:count], vectors[count:]


def batches(vectors: np.ndarray, size: int = 1000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    ids = np.arange(len(vectors), dtype=np.int64) * 2 + 5  # passage ids need not be contiguous
    for start in range(0, len(vectors), size):
        yield ids[start : start + size], vectors[start : start + size]


def recall_at_10(found: list[list[int]], vectors: np.ndarray, queries: np.ndarray) -> float:
    _, truth = ann.build(batches(vectors), "flat", DIM).search(queries, 10)
    return sum(len(set(t) & set(f)) for t, f in zip(truth, found, strict=True)) / truth.size


def test_kind_follows_size_and_request() -> None:
    assert ann.choose_kind(1000) == "flat"
    assert ann.choose_kind(ann.EXACT_LIMIT + 1) == "ivf"
    assert ann.choose_kind(10, compact=True) == "ivfpq"
    assert ann.choose_kind(10, "ivf") == "ivf"
    with pytest.raises(IndexProblem, match="unknown index type"):
        ann.choose_kind(10, "hnsw2")


def test_ivf_is_memory_mapped_and_close_to_exact(tmp_path: Path) -> None:
    vectors, queries = clustered(6000)
    ann.save(ann.build(batches(vectors, len(vectors)), "ivf", DIM), tmp_path / "v.faiss")
    index = ann.load(tmp_path / "v.faiss", len(vectors), DIM)
    found = [[i for i, _ in ann.search(index, q, 10)] for q in queries]
    assert recall_at_10(found, vectors, queries) >= 0.95
    assert ann.vector_bytes(index) == len(vectors) * (DIM * 4 + 8)
    with pytest.raises(IndexProblem, match="manifest says"):
        ann.load(tmp_path / "v.faiss", len(vectors) + 1, DIM)


def test_compact_index_is_small_and_exact_re_ranking_restores_recall(tmp_path: Path) -> None:
    vectors, queries = clustered(12000)
    ann.save(ann.build(batches(vectors, len(vectors)), "ivfpq", DIM), tmp_path / "v.faiss")
    ann.save_exact(batches(vectors), len(vectors), DIM, tmp_path / "exact")
    index, exact = ann.load(tmp_path / "v.faiss", len(vectors), DIM), ann.load_exact(tmp_path / "exact")
    assert ann.vector_bytes(index) / len(vectors) <= 200
    approximate = [[i for i, _ in ann.search(index, q, 10)] for q in queries]
    refined = [
        [i for i, _ in ann.refine(exact, q, ann.search(index, q, ann.candidates_to_refine(10)), 10)]
        for q in queries
    ]
    assert recall_at_10(refined, vectors, queries) >= 0.95 > recall_at_10(approximate, vectors, queries)
    scores = [s for _, s in ann.refine(exact, queries[0], ann.search(index, queries[0], 40), 10)]
    assert scores == sorted(scores, reverse=True) and scores[0] == pytest.approx(
        float(np.max(vectors @ queries[0])), abs=1e-5
    )
    (tmp_path / "exact" / "vectors.npy").write_bytes(b"not numpy")
    with pytest.raises(IndexProblem, match="damaged"):
        ann.load_exact(tmp_path / "exact")


@pytest.mark.slow
def test_compact_build_searches_through_exact_vectors(tmp_path: Path, encoder: Encoder) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    words = ["heel", "knee", "gout", "asthma", "rash", "fever", "cough", "sleep", "stomach", "back"]
    lines = [
        json.dumps(
            {"id": f"p{n}", "title": f"Note {n}", "text": f"{words[n % 10]} note {n} about {words[n % 7]}"}
        )
        for n in range(1500)
    ]
    (corpus / "notes.jsonl").write_text("\n".join(lines) + "\n")
    base = encoder.encode_passages([f"{w} pain and care" for w in words])
    build(corpus, index, MixtureEncoder(base, encoder), compact=True)
    manifest = json.loads((index / "manifest.json").read_text())
    assert manifest["index_type"] == "ivfpq" and "exact" in manifest["files"]
    searcher = Searcher.open(index, encoder=encoder)
    query = searcher.encoder.encode_query("gout")
    flat = ann.build(searcher.engine.store.vectors(searcher.encoder.key, DIM), "flat", DIM)
    exact = [i for i, _ in ann.search(flat, query, 10)]
    assert len(set(exact) & {i for i, _ in searcher.engine.vectors.nearest(query, 10, use_heads=False)}) >= 9
    assert searcher.search("gout", k=5, mode="dense")
    del manifest["files"]["exact"]  # as compact indexes were written before re-ranking existed
    (index / "manifest.json").write_text(json.dumps(manifest))
    again = build(corpus, index, MixtureEncoder(base, encoder), compact=True)
    assert not again.up_to_date and again.embedded == 0
    assert "exact" in json.loads((index / "manifest.json").read_text())["files"]
