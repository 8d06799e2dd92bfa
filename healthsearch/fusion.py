"""Pure functions that merge ranked (id, score) lists."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

Ranking = Sequence[tuple[int, float]]


def rrf(
    rankings: Sequence[Ranking], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: score(d) = Σ w_i / (k + rank_i(d)), best first, ties by id."""
    weights = weights or [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    fused: dict[int, float] = defaultdict(float)
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, (item, _score) in enumerate(ranking, start=1):
            fused[item] += weight / (k + rank)
    return sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))


def best_of(rankings: Sequence[Ranking]) -> list[tuple[int, float]]:
    """Merge rankings of comparable scores keeping each item's best score."""
    best: dict[int, float] = {}
    for ranking in rankings:
        for item, score in ranking:
            best[item] = max(score, best.get(item, score))
    return sorted(best.items(), key=lambda pair: (-pair[1], pair[0]))
