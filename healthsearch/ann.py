"""FAISS vector index: built from cached embeddings, type chosen by size, saved as ``*.faiss``.

Kinds:
    flat     exact inner product (up to EXACT_LIMIT passages): 4·dim bytes per passage + id
    ivf      inverted lists over exact vectors (larger libraries): same memory, a fraction of the work per query
    ivfpq    compact: product-quantized codes, 56 bytes per passage in memory (`--compact`); candidates are
             re-ranked with the exact vectors, kept beside it in a memory-mapped .npy file on disk
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from . import fusion
from .errors import IndexProblem
from .generations import Generation
from .spec import VectorSpec
from .store import Store

EXACT_LIMIT = 50_000  # exact search past this costs more than IVF at 1M (p95 33 ms at 100k)
KINDS = ("flat", "ivf", "ivfpq")
NPROBE = {"ivf": 32, "ivfpq": 48}
PQ_BYTES = 48
# Compact indexes fetch at least this many candidates (4× the wanted number if more) to re-rank exactly.
REFINE_CANDIDATES = 400


@dataclass(frozen=True)
class ExactVectors:
    """Full float32 vectors by passage id, memory-mapped: only the rows a query re-ranks are read from disk."""

    ids: np.ndarray
    vectors: np.ndarray


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
    index = faiss.index_factory(dimension, spec, faiss.METRIC_INNER_PRODUCT)
    if kind == "ivfpq":
        # polysemous (Hamming) training costs minutes and only serves Hamming search, unused here
        ivfpq: Any = faiss.downcast_index(faiss.extract_index_ivf(index))
        ivfpq.do_polysemous_training = False
    return index


def save(index: faiss.Index, path: Path) -> None:
    """Write the index to ``path`` and flush it to disk."""
    faiss.write_index(index, str(path))
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


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


def save_exact(
    batches: Iterable[tuple[np.ndarray, np.ndarray]], count: int, dimension: int, folder: Path
) -> None:
    """Write (ids, vectors) batches, in ascending id order, as ``ids.npy`` and ``vectors.npy`` in ``folder``."""
    folder.mkdir(parents=True)
    ids = np.lib.format.open_memmap(folder / "ids.npy", mode="w+", dtype=np.int64, shape=(count,))
    vectors = np.lib.format.open_memmap(
        folder / "vectors.npy", mode="w+", dtype=np.float32, shape=(count, dimension)
    )
    row = 0
    for batch_ids, matrix in batches:
        ids[row : row + len(batch_ids)] = batch_ids
        vectors[row : row + len(batch_ids)] = matrix
        row += len(batch_ids)
    ids.flush()
    vectors.flush()


def load_exact(folder: Path) -> ExactVectors:
    """Memory-map the vectors written by :func:`save_exact`."""
    try:
        ids = np.load(folder / "ids.npy", mmap_mode="r", allow_pickle=False)
        vectors = np.load(folder / "vectors.npy", mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise IndexProblem(
            f"exact vectors in {folder} are missing or damaged ({exc}); {_rebuild(folder)}"
        ) from None
    return ExactVectors(ids, vectors)


def candidates_to_refine(limit: int) -> int:
    """How many approximate candidates a compact index fetches to return ``limit`` exact results."""
    return max(REFINE_CANDIDATES, 4 * limit)


def refine(
    exact: ExactVectors, query: np.ndarray, candidates: list[tuple[int, float]], limit: int
) -> list[tuple[int, float]]:
    """Re-score approximate candidates with their exact vectors; the best ``limit``, best first."""
    if not candidates:
        return []
    ids = np.fromiter((i for i, _ in candidates), dtype=np.int64, count=len(candidates))
    scores = exact.vectors[np.searchsorted(exact.ids, ids)] @ query
    order = np.argsort(-scores, kind="stable")[:limit]
    return [(int(ids[i]), float(scores[i])) for i in order]


def vector_bytes(index: faiss.Index) -> int:
    """Bytes of vector memory the index holds (codes plus ids; excludes Python and FAISS overheads)."""
    try:
        ivf = faiss.extract_index_ivf(index)
        return int(ivf.ntotal * (ivf.code_size + 8))
    except RuntimeError:
        return int(index.ntotal * (index.d * 4 + 8))


Ranking = list[tuple[int, float]]


class VectorIndex:
    """The dense side of one generation: passage vectors, whole-article (head) vectors and, for a compact index,
    the exact vectors its candidates are re-ranked with. Owns the kind choice, nprobe and re-ranking."""

    def __init__(
        self, kind: str, passages: faiss.Index, heads: faiss.Index | None, exact: ExactVectors | None
    ):
        self.kind = kind
        self.passages = passages
        self.heads = heads
        self.exact = exact

    @staticmethod
    def kind_for(passages: int, spec: VectorSpec) -> str:
        """The concrete kind a library of this size gets under ``spec``."""
        return choose_kind(passages, spec.kind, spec.compact)

    @staticmethod
    def parts(kind: str) -> list[str]:
        """The manifest keys of the files an index of this kind writes."""
        return ["vectors", "heads", *(["exact"] if kind == "ivfpq" else [])]

    @staticmethod
    def write(store: Store, key: str, dimension: int, spec: VectorSpec, generation: Generation) -> list[str]:
        """Build the indexes from the cached vectors named ``key`` and write them as the generation's partial
        files; returns the manifest keys written."""
        counts = store.counts()
        kind = VectorIndex.kind_for(counts["passages"], spec)
        sources = {
            "vectors": (counts["passages"], store.vectors),
            "heads": (counts["heads"], store.head_vectors),
        }
        for name, (count, batches) in sources.items():
            save(
                build(batches(key, dimension), choose_kind(count, spec.kind, spec.compact), dimension),
                generation.partial(name),
            )
        written = list(sources)
        if kind == "ivfpq":
            save_exact(
                store.vectors(key, dimension), counts["passages"], dimension, generation.partial("exact")
            )
            written.append("exact")
        return written

    @classmethod
    def load(
        cls, folder: Path, files: dict[str, str], counts: dict[str, int], dimension: int, kind: str
    ) -> VectorIndex:
        """Open the files a manifest names and check them against its counts."""
        vectors = folder / files["vectors"]
        if not vectors.is_file():
            raise IndexProblem(f"{vectors} is missing; {_rebuild(vectors)}")
        heads = load(folder / files["heads"], counts["heads"], dimension) if "heads" in files else None
        exact = load_exact(folder / files["exact"]) if "exact" in files else None
        return cls(kind, load(vectors, counts["passages"], dimension), heads, exact)

    def nearest(self, query: np.ndarray, limit: int, use_heads: bool = True) -> Ranking:
        """Nearest passages (cosine), best first; an article's head vector counts for its first passage."""
        if self.exact is None:
            ranking = search(self.passages, query, limit)
        else:
            ranking = refine(
                self.exact, query, search(self.passages, query, candidates_to_refine(limit)), limit
            )
        if self.heads is None or not use_heads:
            return ranking
        return fusion.best_of([ranking, search(self.heads, query, limit)])

    def memory_bytes(self) -> int:
        """Bytes of vector memory the passage index holds."""
        return vector_bytes(self.passages)


def _rebuild(path: Path) -> str:
    return f"run: python build_index.py --index {path.parent} --full"
