"""FAISS vector index: built from cached embeddings, type chosen by size, saved as ``*.faiss``.

Kinds:
    flat     exact inner product (up to EXACT_LIMIT passages): 4·dim bytes per passage + id
    ivf      inverted lists over exact vectors (larger libraries): same memory, a fraction of the work per query
    ivfpq    compact: product-quantized codes, about 64 bytes per passage (lower recall; `--compact`)
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import faiss
import numpy as np

from .errors import IndexProblem

EXACT_LIMIT = 200_000
KINDS = ("flat", "ivf", "ivfpq")
NPROBE = {"ivf": 32, "ivfpq": 48}
PQ_BYTES = 48


def choose_kind(passages: int, requested: str = "auto", compact: bool = False) -> str:
    """Exact search up to EXACT_LIMIT passages, IVF beyond; ``compact`` asks for IVF-PQ; an explicit kind wins."""
    if requested == "auto":
        if passages <= EXACT_LIMIT and not compact:
            return "flat"
        return "ivfpq" if compact else "ivf"
    if requested not in KINDS:
        raise IndexProblem(f"unknown index type {requested!r}; choose one of: auto, {', '.join(KINDS)}")
    return requested


def build(batches: Iterable[tuple[np.ndarray, np.ndarray]], kind: str, dimension: int) -> faiss.Index:
    """Fill a new index from (ids, vectors) batches; IVF kinds train on the first batch."""
    stream = iter(batches)
    first = next(stream, None)
    index = _new_index(kind, dimension, 0 if first is None else len(first[0]))
    for ids, vectors in _chain(first, stream):
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if not index.is_trained:
            index.train(matrix)
        index.add_with_ids(matrix, ids)
    return index


def _chain(
    first: tuple[np.ndarray, np.ndarray] | None, rest: Iterator[tuple[np.ndarray, np.ndarray]]
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    if first is not None:
        yield first
        yield from rest


def _new_index(kind: str, dimension: int, training_size: int) -> faiss.Index:
    """An empty inner-product index addressed by passage id."""
    if kind == "flat" or training_size < 1000:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    lists = max(16, min(4 * int(math.sqrt(max(training_size, 1) * 20)), training_size // 40))
    spec = f"IVF{lists},Flat" if kind == "ivf" else f"IVF{lists},PQ{PQ_BYTES}"
    return faiss.index_factory(dimension, spec, faiss.METRIC_INNER_PRODUCT)


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
    _tune(index)
    return index


def _tune(index: faiss.Index) -> None:
    """Set how many inverted lists a query visits (recall against speed), for IVF kinds."""
    try:
        ivf = faiss.extract_index_ivf(index)
    except RuntimeError:
        return
    is_pq = isinstance(ivf, faiss.IndexIVFPQ)
    ivf.nprobe = min(ivf.nlist, NPROBE["ivfpq" if is_pq else "ivf"])


def search(index: faiss.Index, query: np.ndarray, limit: int) -> list[tuple[int, float]]:
    """Top ``limit`` (passage id, cosine) pairs for one normalized query vector."""
    if limit <= 0 or index.ntotal == 0:
        return []
    scores, ids = index.search(query.reshape(1, -1).astype(np.float32), min(limit, index.ntotal))
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


def vector_bytes(index: faiss.Index) -> int:
    """Bytes of vector memory the index holds (codes plus ids; excludes Python and FAISS overheads)."""
    try:
        ivf = faiss.extract_index_ivf(index)
        return int(ivf.ntotal * (ivf.code_size + 8))
    except RuntimeError:
        return int(index.ntotal * (index.d * 4 + 8))


def _rebuild(path: Path) -> str:
    return f"run: python build_index.py --index {path.parent} --full"
