"""Searcher: dense (FAISS) and lexical (bm25s BM25) retrieval, fused, filtered, one result per passage."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import ann, fusion
from .embedding import Encoder, ModelRef, resolve_model
from .errors import HealthsearchError, IndexProblem
from .highlight import best_sentence
from .lexical import LexicalIndex
from .manifest import manifest_path, read_manifest
from .query import clean_consumer_question, clean_query, split_subject
from .rerank import Reranker
from .store import Store, StoredPassage, open_db
from .vocabulary import clinical_terms

MODES = ("hybrid", "dense", "lexical")
FUSIONS = ("rrf", "zscore")
MAX_K = 1000


@dataclass(frozen=True)
class SearchConfig:
    """How rankings are made and fused; the defaults are the measured best (benchmarks/RESULTS.md)."""

    fusion: str = "rrf"
    rrf_k: int = 60
    lexical_weight: float = 0.5
    depth: int = 100
    use_heads: bool = True
    clean_question: bool = True
    subject_weight: float = 0.0
    expand_lay_terms: bool = True
    expand_dense: bool = True
    bm25_weights: tuple[float, float, float] = (2.0, 1.0, 1.0)


@dataclass(frozen=True)
class Result:
    """One passage that answers a query."""

    rank: int
    score: float
    article_id: str
    title: str
    section: str
    passage_id: str
    text: str
    url: str
    source: str
    tags: list[str]
    best_sentence: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


class Searcher:
    """Answers queries over one index directory; the model loads on the first dense query."""

    def __init__(
        self,
        index_dir: Path,
        manifest: dict[str, Any],
        encoder: Encoder,
        config: SearchConfig | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.manifest = manifest
        self.encoder = encoder
        self.config = config or SearchConfig()
        self.reranker = reranker
        if self.config.fusion not in FUSIONS:
            raise HealthsearchError(
                f"unknown fusion {self.config.fusion!r}; choose one of: {', '.join(FUSIONS)}"
            )
        self._stamp = _manifest_stamp(index_dir)
        files = manifest["files"]
        try:
            self.store = Store(open_db(index_dir / files["database"], readonly=True))
            self.counts = self.store.counts()
        except sqlite3.Error as exc:
            raise IndexProblem(
                f"database in {index_dir} is damaged ({exc}); run: python build_index.py --index {index_dir} --full"
            ) from None
        vectors = index_dir / files["vectors"]
        if not vectors.is_file():
            raise IndexProblem(f"{vectors} is missing; run: python build_index.py --index {index_dir} --full")
        dimension = manifest["model"]["dimension"]
        self.vectors = ann.load(vectors, self.counts["passages"], dimension)
        self.exact = ann.load_exact(index_dir / files["exact"]) if "exact" in files else None
        heads = index_dir / files["heads"] if "heads" in files else None
        self.heads = ann.load(heads, self.counts["heads"], dimension) if heads else None
        if "lexical" not in files:
            raise IndexProblem(
                f"{index_dir} has no lexical index yet; run: python build_index.py --index {index_dir}"
            )
        self.lexical_index = LexicalIndex.load(index_dir / files["lexical"])

    @classmethod
    def open(
        cls,
        index_dir: str | Path = "index",
        model: str | None = None,
        device: str | None = None,
        encoder: Encoder | None = None,
        config: SearchConfig | None = None,
        reranker: Reranker | None = None,
    ) -> Searcher:
        """Open an index; ``model`` (default: the one that built it) or ``encoder`` must match the index.

        With a ``reranker`` (an optional cross-encoder) the best fused passages are re-scored before the cut to k.
        """
        index_dir = Path(index_dir)
        manifest = read_manifest(index_dir)
        ref = _matching_model(index_dir, manifest, encoder.ref if encoder else model)
        backend, tokens = manifest["model"].get("backend", "torch"), manifest["model"].get("passage_tokens")
        if encoder is None or (encoder.backend, encoder.passage_tokens) != (backend, tokens):
            encoder = Encoder(ref, device, backend, tokens)
        return cls(index_dir, manifest, encoder, config, reranker)

    def search(
        self,
        query: str,
        k: int = 10,
        mode: str = "hybrid",
        tags: Sequence[str] = (),
        sources: Sequence[str] = (),
        highlight: bool = True,
    ) -> list[Result]:
        """The ``k`` best passages for ``query``, best first; tags/sources filters keep the page full.

        ``highlight=False`` skips finding each passage's best sentence (for bulk evaluation).
        """
        text = clean_query(query).text
        if self.config.clean_question:
            text = clean_consumer_question(text)
        if not text:
            raise HealthsearchError("the query is empty; type a few words such as: heel pain after running")
        if mode not in MODES:
            raise HealthsearchError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        if k < 1:
            raise HealthsearchError(f"k must be at least 1 (got {k})")
        k = min(k, MAX_K, self.counts["passages"])
        keep = _filter(set(tags), set(sources))
        depth = max(self.config.depth, 5 * k)
        while True:
            ranked = self._ranked(text, mode, depth)
            rows = self.store.fetch_passages([i for i, _ in ranked])
            hits = [(rows[i], s) for i, s in ranked if i in rows and keep(rows[i])]
            if len(hits) >= k or depth >= self.counts["passages"]:
                if self.reranker is not None:
                    hits = self.reranker.rerank(text, hits)
                return [
                    _result(rank, row, score, text if highlight else "")
                    for rank, (row, score) in enumerate(hits[:k], start=1)
                ]
            depth *= 4

    def _ranked(self, text: str, mode: str, depth: int) -> list[tuple[int, float]]:
        """Passage ids with scores, best first, for one mode; everyday words may add clinical ones."""
        extra = clinical_terms(text) if self.config.expand_lay_terms else ""
        lexical_text = f"{text} {extra}" if extra else text
        if mode == "lexical":
            return self.lexical(lexical_text, depth)
        dense = self.dense(f"{text} ({extra})" if extra and self.config.expand_dense else text, depth)
        if mode == "dense":
            return dense
        return self._fuse([dense, self.lexical(lexical_text, depth)], [1.0, self.config.lexical_weight])

    def _fuse(self, rankings: list[list[tuple[int, float]]], weights: list[float]) -> list[tuple[int, float]]:
        if self.config.fusion == "zscore":
            return fusion.zscore(rankings, weights)
        return fusion.rrf(rankings, k=self.config.rrf_k, weights=weights)

    def dense(self, text: str, depth: int) -> list[tuple[int, float]]:
        """Cosine ranking: passage vectors merged with whole-article vectors (as the article's first passage)."""
        query = self._query_vector(text)
        content = self.nearest(query, depth)
        if self.heads is not None and self.config.use_heads:
            content = fusion.best_of([content, ann.search(self.heads, query, depth)])
        return content

    def nearest(self, query: np.ndarray, limit: int) -> list[tuple[int, float]]:
        """Nearest passage vectors; a compact index's candidates are re-ranked with the exact vectors."""
        if self.exact is None:
            return ann.search(self.vectors, query, limit)
        return ann.refine(
            self.exact, query, ann.search(self.vectors, query, ann.candidates_to_refine(limit)), limit
        )

    def _query_vector(self, text: str) -> np.ndarray:
        """The query's vector; with ``subject_weight``, a short subject line is weighted in again."""
        vector = self.encoder.encode_query(text)
        subject, _ = split_subject(text)
        if self.config.subject_weight <= 0 or not subject:
            return vector
        mixed = vector + self.config.subject_weight * self.encoder.encode_query(subject)
        return np.asarray(mixed / np.linalg.norm(mixed), dtype=np.float32)

    def lexical(self, text: str, depth: int) -> list[tuple[int, float]]:
        """BM25 ranking; any text is safe (it is only tokenized), no known terms means no results."""
        return self.lexical_index.search(text, depth, self.config.bm25_weights)

    def article_passages(self, article_id: str) -> list[StoredPassage]:
        """All passages of one article, for "more from this article"."""
        return self.store.article_passages(article_id)

    def facets(self) -> dict[str, list[str]]:
        """Tags and sources available for filtering."""
        return self.store.facets()

    def changed_on_disk(self) -> bool:
        """True when a build has committed a newer generation since this Searcher opened."""
        return _manifest_stamp(self.index_dir) != self._stamp


def _manifest_stamp(index_dir: Path) -> int:
    try:
        return manifest_path(index_dir).stat().st_mtime_ns
    except OSError:
        return 0


def _matching_model(index_dir: Path, manifest: dict[str, Any], requested: str | ModelRef | None) -> ModelRef:
    """Resolve the model for queries and refuse one that did not build this index."""
    built = manifest["model"]
    if isinstance(requested, ModelRef):
        ref = requested
    elif requested:
        ref = resolve_model(requested)
    else:
        ref = resolve_model(built["location"] if Path(built["location"]).is_dir() else built["name"])
    if ref.fingerprint != built.get("fingerprint"):
        raise IndexProblem(
            f"the index in {index_dir} was built with model {built['name']} but queries would use {ref.name} "
            f"(different files); rebuild with: python build_index.py --index {index_dir} --model {ref.name} --full"
        )
    return replace(ref, name=built["name"])  # the same files under the name the index knows them by


def _filter(tags: set[str], sources: set[str]) -> Callable[[StoredPassage], bool]:
    def keep(row: StoredPassage) -> bool:
        return (not tags or bool(tags & set(row.tags))) and (not sources or row.source in sources)

    return keep


def _result(rank: int, row: StoredPassage, score: float, query: str) -> Result:
    return Result(
        rank=rank,
        score=round(score, 6),
        article_id=row.article_id,
        title=row.title,
        section=row.section,
        passage_id=row.passage_id,
        text=row.text,
        url=row.url,
        source=row.source,
        tags=row.tags,
        best_sentence=best_sentence(row.text, query) if query else "",
    )
