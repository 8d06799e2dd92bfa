"""Searcher: dense and lexical rankings from an engine, fused, filtered, one result per passage.

The encoder comes from the index's spec (model files, backend, passage token limit), so an index built off the
defaults is searched as it was built.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import fusion
from .config import MAX_K, MODES
from .embedding import Encoder, ModelRef, resolve_model
from .engine import Engine, Filters, LocalEngine, Ranking
from .errors import HealthsearchError, IndexProblem
from .highlight import best_sentence
from .manifest import Manifest, manifest_path, read_manifest
from .query import clean_consumer_question, clean_query
from .rerank import Reranker
from .spec import ModelSpec, model_of
from .spelling import Correction, Speller
from .store import Store, StoredPassage, open_db
from .vocabulary import clinical_terms

SEARCH_GRACE_SECONDS = 60.0  # a replaced Searcher stays open this long for the searches still on it


@dataclass(frozen=True)
class SearchConfig:
    """How rankings are made and fused; the defaults are the measured best (benchmarks/RESULTS.md)."""

    rrf_k: int = 60
    lexical_weight: float = 0.5
    depth: int = 100
    use_heads: bool = True
    clean_question: bool = True
    expand_lay_terms: bool = True
    expand_dense: bool = True
    correct_spelling: bool = True


@dataclass(frozen=True)
class Result:
    """One passage that answers a query; ``similarity`` is the cosine of the query with the passage's own
    vector (None when no query vector was computed, as in bulk lexical runs)."""

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
    similarity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


class Searcher:
    """Answers queries over one index directory; the model loads on the first dense query."""

    def __init__(
        self,
        index_dir: Path,
        manifest: Manifest,
        engine: Engine,
        encoder: Encoder,
        config: SearchConfig | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.manifest = manifest
        self.engine = engine
        self.encoder = encoder
        self.config = config or SearchConfig()
        self.reranker = reranker
        self.counts = engine.counts
        self._stamp = _manifest_stamp(index_dir)
        self._speller: Speller | None = None
        self._speller_lock = threading.Lock()

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
        """Open an index. The encoder follows the index's spec; ``model`` or ``encoder`` may name the same files
        (another copy, a shared loaded model) and are refused when they differ.

        With a ``reranker`` (an optional cross-encoder) the best fused passages are re-scored before the cut to k.
        """
        index_dir = Path(index_dir)
        manifest = read_manifest(index_dir)
        encoder = encoder_for_index(index_dir, manifest, model, device, encoder)
        return cls(index_dir, manifest, open_engine(index_dir, manifest), encoder, config, reranker)

    def prepare(self, query: str) -> str:
        """The text searched for a query: cleaned, and with greetings and codes of written questions dropped."""
        return self.question_text(clean_query(query).text)

    def question_text(self, cleaned: str) -> str:
        """The text searched for an already cleaned query (:func:`clean_query`)."""
        return clean_consumer_question(cleaned) if self.config.clean_question else cleaned

    def spell(self, text: str) -> Correction:
        """Prepared text with misspelled words corrected toward the library's own words ("metforman" →
        "metformin"); unchanged when the config turns it off or the index keeps no word counts."""
        if not self.config.correct_spelling:
            return Correction(text, False)
        return self.speller().correct(text)

    def speller(self) -> Speller:
        """The library's speller, read from the live generation's database on first use."""
        with self._speller_lock:
            if self._speller is None:
                database = self.index_dir / self.manifest.files["database"]
                store = Store(open_db(database, readonly=True))
                try:
                    self._speller = Speller(store.vocabulary())
                finally:
                    store.conn.close()
            return self._speller

    def dense_text(self, text: str) -> str:
        """What the encoder embeds for prepared text: everyday words may add clinical ones."""
        extra = clinical_terms(text) if self.config.expand_lay_terms and self.config.expand_dense else ""
        return f"{text} ({extra})" if extra else text

    def query_vector(self, text: str) -> np.ndarray:
        """The vector dense search uses for prepared text."""
        return self.encoder.encode_query(self.dense_text(text))

    def search(
        self,
        query: str,
        k: int = 10,
        mode: str = "hybrid",
        tags: Sequence[str] = (),
        sources: Sequence[str] = (),
        highlight: bool = True,
        query_vector: np.ndarray | None = None,
    ) -> list[Result]:
        """The ``k`` best passages for ``query``, best first; tags/sources filters keep the page full.

        ``highlight=False`` skips each passage's best sentence and similarity (bulk evaluation). ``query_vector``
        (from :meth:`query_vector`) saves encoding the query again.
        """
        text = self.spell(self.prepare(query)).text
        filters = Filters.of(tags, sources)
        return self.search_prepared(text, k, mode, filters, highlight, query_vector)

    def search_prepared(
        self, text: str, k: int, mode: str, filters: Filters, highlight: bool, query_vector: np.ndarray | None
    ) -> list[Result]:
        """:meth:`search` for text that :meth:`prepare` already made (the one query path cleans once)."""
        if not text:
            raise HealthsearchError("the query is empty; type a few words such as: heel pain after running")
        if mode not in MODES:
            raise HealthsearchError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        if k < 1:
            raise HealthsearchError(f"k must be at least 1 (got {k})")
        if query_vector is None and mode != "lexical":
            query_vector = self.query_vector(text)
        hits = self._hits(text, query_vector, min(k, MAX_K, self.counts["passages"]), mode, filters)
        similarity: dict[int, float] = {}
        if highlight and query_vector is not None:
            similarity = self.engine.similarities(query_vector, [row.id for row, _ in hits])
        return [
            _result(rank, row, score, text if highlight else "", similarity.get(row.id))
            for rank, (row, score) in enumerate(hits, start=1)
        ]

    def _hits(
        self, text: str, vector: np.ndarray | None, k: int, mode: str, filters: Filters
    ) -> list[tuple[StoredPassage, float]]:
        """The best ``k`` passage rows that pass the filters, digging deeper until the page is full or the
        engine has no more (an engine that filters before ranking, as Milvus does, answers short)."""
        depth = max(self.config.depth, 5 * k)
        wanted = max(k, self.reranker.depth if self.reranker else 0)
        while True:
            ranked, exhausted = self._ranked(text, vector, mode, depth, filters)
            candidates = ranked if filters else ranked[:wanted]  # without filters the top ones are the hits
            rows = self.engine.fetch_passages([i for i, _ in candidates])
            hits = [(rows[i], s) for i, s in candidates if i in rows and filters.keep(rows[i])]
            if len(hits) >= k or exhausted or depth >= self.counts["passages"]:
                if self.reranker is not None:
                    hits = self.reranker.rerank(text, hits)
                return hits[:k]
            depth *= 4

    def _ranked(
        self, text: str, vector: np.ndarray | None, mode: str, depth: int, filters: Filters
    ) -> tuple[Ranking, bool]:
        """Passage ids with scores, best first, for one mode; and whether the ranking that covers every passage
        (dense, or lexical alone) came back shorter than ``depth``, so that digging deeper finds nothing new."""
        extra = clinical_terms(text) if self.config.expand_lay_terms else ""
        lexical = (
            self.engine.lexical(f"{text} {extra}" if extra else text, depth, filters)
            if mode != "dense"
            else []
        )
        if mode == "lexical":
            return lexical, len(lexical) < depth
        assert vector is not None
        dense = self.engine.dense(vector, depth, filters, self.config.use_heads)
        if mode == "dense":
            return dense, len(dense) < depth
        fused = fusion.rrf([dense, lexical], k=self.config.rrf_k, weights=[1.0, self.config.lexical_weight])
        return fused, len(dense) < depth

    def article_passages(self, article_id: str) -> list[StoredPassage]:
        """All passages of one article, for "more from this article"."""
        return self.engine.article_passages(article_id)

    def facets(self) -> dict[str, list[str]]:
        """Tags and sources available for filtering."""
        return self.engine.facets()

    def close(self) -> None:
        """Release the engine (the SQLite connection, or the Milvus client); the Searcher answers no more."""
        self.engine.close()

    def changed_on_disk(self) -> bool:
        """True when a build has committed a newer generation since this Searcher opened."""
        return _manifest_stamp(self.index_dir) != self._stamp


def close_when_idle(searcher: Searcher, grace_seconds: float = SEARCH_GRACE_SECONDS) -> None:
    """Close a Searcher that was replaced (a newer generation is open) once searches that began on it have had
    ``grace_seconds`` to finish; a long-running page then holds one open index, not one per rebuild."""
    timer = threading.Timer(grace_seconds, searcher.close)
    timer.daemon = True
    timer.start()


def open_engine(index_dir: Path, manifest: Manifest) -> Engine:
    """The engine the spec names, opened on the live generation (Milvus: the collection its alias names now,
    with the token from ``MILVUS_TOKEN``)."""
    spec = manifest.spec
    if spec.engine.name == "milvus":
        from .milvus_engine import MilvusEngine

        return MilvusEngine.open(
            spec.engine.uri,
            spec.engine.collection,
            token=os.environ.get("MILVUS_TOKEN"),
            model=spec.model,
            index_dir=index_dir,
        )
    return LocalEngine.open(index_dir, manifest)


def encoder_for_index(
    index_dir: Path,
    manifest: Manifest,
    model: str | None = None,
    device: str | None = None,
    encoder: Encoder | None = None,
) -> Encoder:
    """The query encoder of an index: its spec's model files, backend and token limit.

    A given ``encoder`` is used as it is when it matches all three; ``model`` may point at another copy of the
    same files. Other model files are refused with the command that rebuilds the index for them.
    """
    built = manifest.spec.model
    if encoder is not None:
        _check_same_files(encoder.ref, built, index_dir)
        if (encoder.backend, encoder.passage_tokens) == (built.backend, built.passage_tokens):
            return encoder
        return Encoder(replace(encoder.ref, name=built.name), device, built.backend, built.passage_tokens)
    return encoder_for_spec(built, index_dir, model, device)


def encoder_for_spec(
    built: ModelSpec, index_dir: Path, model: str | None = None, device: str | None = None
) -> Encoder:
    """A new encoder for the model a spec names (or ``model``, when it holds the same files)."""
    ref = resolve_model(model) if model else model_of(built)
    _check_same_files(ref, built, index_dir)
    return Encoder(replace(ref, name=built.name), device, built.backend, built.passage_tokens)


def _check_same_files(ref: ModelRef, built: ModelSpec, index_dir: Path) -> None:
    if ref.fingerprint != built.fingerprint:
        raise IndexProblem(
            f"the index in {index_dir} was built with model {built.name} but queries would use {ref.name} "
            f"(different files); rebuild with: python build_index.py --index {index_dir} --model {ref.name}"
        )


def _manifest_stamp(index_dir: Path) -> int:
    try:
        return manifest_path(index_dir).stat().st_mtime_ns
    except OSError:
        return 0


def _result(rank: int, row: StoredPassage, score: float, query: str, similarity: float | None) -> Result:
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
        similarity=None if similarity is None else round(similarity, 4),
    )
