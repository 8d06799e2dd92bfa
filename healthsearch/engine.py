"""Where an index's passages and vectors live, as a Searcher sees it.

A Searcher asks an engine for rankings (dense and lexical) and for passage rows; fusion, filtering by tag and
source, grouping and highlighting stay in the Searcher, so every engine answers with the same ``Result``.

Engines:
    local    SQLite (passages, metadata, embedding cache) + FAISS (vectors) + bm25s (BM25), files in the index folder
    milvus   a Milvus collection (Milvus Lite file or server): passages, metadata, dense vectors, BM25 sparse field
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .ann import VectorIndex
from .errors import IndexProblem
from .lexical import LexicalIndex
from .manifest import Manifest
from .store import Store, StoredPassage, open_db

Ranking = list[tuple[int, float]]  # (passage id, score), best first


@dataclass(frozen=True)
class Filters:
    """Keep passages of articles with any of ``tags`` (none: all) and from any of ``sources`` (none: all)."""

    tags: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()

    @classmethod
    def of(cls, tags: Sequence[str] = (), sources: Sequence[str] = ()) -> Filters:
        """Filters from the lists a front end collects."""
        return cls(frozenset(tags), frozenset(sources))

    def __bool__(self) -> bool:
        return bool(self.tags or self.sources)

    def keep(self, row: StoredPassage) -> bool:
        """True when a passage row passes both filters."""
        return (not self.tags or bool(self.tags & set(row.tags))) and (
            not self.sources or row.source in self.sources
        )


class Engine(Protocol):
    """The storage and retrieval side of one index generation."""

    counts: dict[str, int]  # "articles", "passages", "heads", "sources"

    def dense(self, query: np.ndarray, limit: int, filters: Filters, use_heads: bool) -> Ranking:
        """Passages nearest to a normalized query vector (cosine), best first; with ``use_heads`` an article's
        whole-article vector also counts for its first passage. Engines may apply ``filters`` early; the Searcher
        filters again."""
        ...

    def lexical(self, text: str, limit: int, filters: Filters) -> Ranking:
        """BM25 ranking of passages for query text (already expanded); no known terms means []."""
        ...

    def similarities(self, query: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        """Cosine of the query with each passage's own vector (for the relevance cue)."""
        ...

    def fetch_passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        """Passage rows with their article fields, by passage id."""
        ...

    def article_passages(self, article_id: str) -> list[StoredPassage]:
        """Every passage of one article, in reading order."""
        ...

    def facets(self) -> dict[str, list[str]]:
        """{"tags": [...], "sources": [...]} present in the index, sorted."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...


class LocalEngine:
    """Files in the index folder: SQLite rows, FAISS vectors (ann.VectorIndex) and bm25s BM25 (LexicalIndex)."""

    def __init__(
        self, store: Store, vectors: VectorIndex, lexical: LexicalIndex, vector_key: str, dimension: int
    ):
        self.store = store
        self.vectors = vectors
        self.lexical_index = lexical
        self.vector_key = vector_key
        self.dimension = dimension
        self.counts = store.counts()

    @classmethod
    def open(cls, index_dir: Path, manifest: Manifest) -> LocalEngine:
        """Open the live generation's files, with a remedy for each missing or damaged one."""
        files, hint = manifest.files, f"run: python build_index.py --index {index_dir} --full"
        try:
            store = Store(open_db(index_dir / files["database"], readonly=True))
            store.counts()
        except sqlite3.Error as exc:
            raise IndexProblem(f"database in {index_dir} is damaged ({exc}); {hint}") from None
        dimension = manifest.spec.model.dimension
        vectors = VectorIndex.load(index_dir, files, manifest.counts, dimension, manifest.index_type)
        lexical = LexicalIndex.load(index_dir / files["lexical"])
        return cls(store, vectors, lexical, manifest.vector_key, dimension)

    def dense(self, query: np.ndarray, limit: int, filters: Filters, use_heads: bool) -> Ranking:
        """FAISS nearest passages (filters are applied by the Searcher)."""
        return self.vectors.nearest(query, limit, use_heads)

    def lexical(self, text: str, limit: int, filters: Filters) -> Ranking:
        """bm25s ranking (filters are applied by the Searcher)."""
        return self.lexical_index.search(text, limit)

    def similarities(self, query: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        """Cosine with each passage's cached vector, or with its whole article's vector where that is higher."""
        found = self.store.vectors_of(self.vector_key, self.dimension, list(ids))
        heads = self.store.article_vectors_of(self.vector_key, self.dimension, list(ids))
        return {
            pid: max(float(vector @ query), float(heads[pid] @ query) if pid in heads else -1.0)
            for pid, vector in found.items()
        }

    def fetch_passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        """Rows from SQLite."""
        return self.store.fetch_passages(list(ids))

    def article_passages(self, article_id: str) -> list[StoredPassage]:
        """Rows of one article in reading order."""
        return self.store.article_passages(article_id)

    def facets(self) -> dict[str, list[str]]:
        """Tags and sources in SQLite."""
        return self.store.facets()

    def close(self) -> None:
        """Close the database (FAISS and bm25s files are memory-mapped and go with the objects)."""
        self.store.conn.close()
