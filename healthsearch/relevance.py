"""How well a result matches, from the cosine of the query with the passage's own vector.

Fused ranks say which passage is better, not whether any is good: the page's cue and the "No close match in this
library" note read the passage similarity instead. The cut-offs are calibrated for the default model on the
labelled sample-library queries and off-topic queries (benchmarks/relevance.py, benchmarks/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .search import Result

NO_CLOSE_MATCH = "No close match in this library"
# (lowest similarity, filled dots of 5, word), best first; below the last: 1 dot, "loosely related".
CLOSE_MATCH = (
    0.30  # every labelled answer is at or above it (lowest 0.302); off-topic queries top out at 0.301
)
LEVELS = (
    (0.60, 5, "strong match"),
    (0.45, 4, "good match"),
    (CLOSE_MATCH, 3, "match"),
    (0.22, 2, "weak match"),
)


def match_level(similarity: float | None) -> tuple[int, str]:
    """(filled dots of 5, word) for a passage's similarity; unknown similarity gets no claim."""
    if similarity is None:
        return 0, "unscored"
    for lowest, dots, word in LEVELS:
        if similarity >= lowest:
            return dots, word
    return 1, "loosely related"


def is_close_match(results: Sequence[Result]) -> bool:
    """True when some result matches closely enough to be an answer rather than loosely related text."""
    return any(r.similarity is not None and r.similarity >= CLOSE_MATCH for r in results)
