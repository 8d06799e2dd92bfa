"""Where an index's passages and vectors live, as a Searcher sees it.

A Searcher asks an engine for rankings (dense and lexical) and for passage rows; fusion, filtering by tag and
source, grouping and highlighting stay in the Searcher, so every engine answers with the same ``Result``.

Engines:
    local    SQLite (passages, metadata, embedding cache) + FAISS (vectors) + bm25s (BM25), files in the index folder
    milvus   a Milvus collection (Milvus Lite file or server): passages, metadata, dense vectors, BM25 sparse field
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .store import StoredPassage

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
