"""FAISS vector index: built from cached embeddings, type chosen by size, saved as ``*.faiss``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import faiss
import numpy as np

from .errors import IndexProblem

EXACT_LIMIT = 200_000
KINDS = ("flat", "hnsw")


def choose_kind(passages: int, requested: str = "auto") -> str:
    """Exact search up to EXACT_LIMIT passages, HNSW beyond; an explicit kind wins."""
    if requested == "auto":
        return "flat" if passages <= EXACT_LIMIT else "hnsw"
    if requested not in KINDS:
        raise IndexProblem(f"unknown index type {requested!r}; choose one of: auto, {', '.join(KINDS)}")
    return requested


def new_index(kind: str, dimension: int) -> faiss.Index:
    """An empty inner-product index of the given kind, addressed by passage id."""
    inner: faiss.Index
    if kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = 80
        inner.hnsw.efSearch = 96
    else:
        inner = faiss.IndexFlatIP(dimension)
    return faiss.IndexIDMap2(inner)


def build(batches: Iterable[tuple[np.ndarray, np.ndarray]], kind: str, dimension: int) -> faiss.Index:
    """Fill a new index from (ids, vectors) batches."""
    index = new_index(kind, dimension)
    for ids, vectors in batches:
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
    return index


def save(index: faiss.Index, path: Path) -> None:
    """Write the index to ``path`` through a temporary file, flushed to disk before it is renamed."""
    temporary = path.with_name(path.name + ".partial")
    faiss.write_index(index, str(temporary))
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load(path: Path, expected_size: int, dimension: int) -> faiss.Index:
    """Read an index (memory-mapped where FAISS allows) and check it matches the manifest."""
    try:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    except RuntimeError:
        try:
            index = faiss.read_index(str(path))
        except RuntimeError:
            raise IndexProblem(
                f"vector file {path} is damaged (FAISS cannot read it); {_rebuild(path)}"
            ) from None
    if index.ntotal != expected_size or index.d != dimension:
        raise IndexProblem(
            f"vector file {path} holds {index.ntotal} vectors of size {index.d}, the manifest says "
            f"{expected_size} of size {dimension}; {_rebuild(path)}"
        )
    return index


def search(index: faiss.Index, query: np.ndarray, limit: int) -> list[tuple[int, float]]:
    """Top ``limit`` (passage id, cosine) pairs for one normalized query vector."""
    if limit <= 0 or index.ntotal == 0:
        return []
    scores, ids = index.search(query.reshape(1, -1).astype(np.float32), min(limit, index.ntotal))
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


def _rebuild(path: Path) -> str:
    return f"run: python build_index.py --index {path.parent} --full"
