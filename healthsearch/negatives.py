"""Hard negatives for tuning, mined from the library's current index.

For each training query the index's own model and vectors rank the library; the negative is the best-ranked
passage of an article on *another subject* (another article whose title differs from the query's own article's)
that is still clearly below the query's own article (at most ``margin`` × its score), so that near-duplicates of
the answer (MedQuAD asks the same question of several sources) and the same condition's other answers ("What
causes gout?" against gout's treatment) are not taught as wrong: a first run without the title rule made LiveQA
much worse (benchmarks/RESULTS.md). A query whose candidates all fail gets another training pair's passage: every
row keeps a negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from .errors import HealthsearchError

if TYPE_CHECKING:
    from .search import Searcher
    from .store import StoredPassage
    from .tune import Pair

DEPTH = 30
MARGIN = 0.95
QUERY_BATCH = 256


@dataclass
class MinedNegatives:
    """One negative passage per training pair, in the pairs' order, and how each was found."""

    texts: list[str]
    mined: int = 0
    fallback: int = 0
    index: str = ""


def mine_negatives(
    pairs: Sequence[Pair], index_dir: Path, margin: float = MARGIN, progress: bool = True
) -> MinedNegatives:
    """A hard negative for every pair, from the index at ``index_dir`` (its own model encodes the queries)."""
    from .search import Searcher

    if not (index_dir / "manifest.json").is_file():
        raise HealthsearchError(
            f"--hard-negatives: {index_dir} is not an index folder (no manifest.json); build one first with "
            f"python build_index.py --index {index_dir}"
        )
    searcher = Searcher.open(index_dir)
    try:
        result = MinedNegatives([], index=str(index_dir))
        queries = [pair.query for pair in pairs]
        with tqdm(total=len(pairs), unit="query", desc="Mining negatives", disable=not progress) as bar:
            for start in range(0, len(pairs), QUERY_BATCH):
                chunk = pairs[start : start + QUERY_BATCH]
                vectors = searcher.encoder.encode_queries(queries[start : start + QUERY_BATCH])
                for pair, vector in zip(chunk, vectors, strict=True):
                    result.texts.append(_hard_negative(searcher, pair, vector, margin) or "")
                bar.update(len(chunk))
    finally:
        searcher.close()
    _fill_fallbacks(pairs, result)
    return result


def _hard_negative(searcher: Searcher, pair: Pair, vector: np.ndarray, margin: float) -> str | None:
    """The best-ranked passage of another article scoring at most ``margin`` × the pair's own article."""
    from .engine import Filters

    engine = searcher.engine
    ranking = engine.dense(vector, DEPTH, Filters(), False)
    rows = engine.fetch_passages([i for i, _ in ranking])
    own = _own_score(searcher, pair, vector, [(rows[i], s) for i, s in ranking if i in rows])
    subjects = {_words(pair.query), _words(pair.title)} - {""}
    for passage_id, score in ranking:
        row = rows.get(passage_id)
        if row is None or row.article_id == pair.article_id or _words(row.title) in subjects:
            continue
        if own is not None and score > margin * own:
            continue
        if row.text in pair.passage:
            continue
        return f"{row.title}\n{row.text}"
    return None


def _own_score(
    searcher: Searcher, pair: Pair, vector: np.ndarray, hits: list[tuple[StoredPassage, float]]
) -> float | None:
    """The query's best similarity to its own article: from the ranking, else from the article's vectors."""
    scores = [score for row, score in hits if row.article_id == pair.article_id]
    if scores:
        return max(scores)
    ids = [row.id for row in searcher.engine.article_passages(pair.article_id)] if pair.article_id else []
    similarities = searcher.engine.similarities(vector, ids) if ids else {}
    if similarities:
        return max(similarities.values())
    return max((score for _, score in hits), default=None)


def _fill_fallbacks(pairs: Sequence[Pair], result: MinedNegatives) -> None:
    """Pairs without a mined negative take the passage of a pair half the list away, from another article."""
    count = len(pairs)
    for i, text in enumerate(result.texts):
        if text:
            result.mined += 1
            continue
        for step in range(count // 2 or 1, count + count // 2):
            other = pairs[(i + step) % count]
            if other.article_id != pairs[i].article_id and other.passage != pairs[i].passage:
                result.texts[i] = other.passage
                break
        result.fallback += 1  # left empty only in a library of one article


def _words(text: str) -> str:
    from .tune import normalise_query

    return normalise_query(text)
