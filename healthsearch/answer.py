"""The one query path: what the page and the CLI both show for what a person typed.

``answer`` cleans and shortens the text once, computes the query vector once (search, the emergency check and the
relevance cue share it), and returns everything a front end shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .embedding import Encoder
from .engine import Filters
from .errors import HealthsearchError
from .query import MAX_QUERY_CHARS, clean_query
from .relevance import is_close_match
from .safety import EmergencyAlert, detect_emergency, support_message
from .search import Result, Searcher

TRUNCATION_NOTE = f"Your question was long, so only its first {MAX_QUERY_CHARS} characters were used."
EMPTY_QUERY = "the query is empty; type a few words such as: heel pain after running"


@dataclass(frozen=True)
class Answer:
    """What one query gets: the text searched, notes, the emergency banner, and the results."""

    query: str
    truncated: bool
    emergency: EmergencyAlert | None
    close_match: bool
    results: list[Result] = field(default_factory=list)
    error: str | None = None
    corrected: str | None = None  # the text searched, when misspelled words were corrected
    support: str | None = None  # the quiet crisis-line note for a self-harm question that is no emergency

    @property
    def showing_for(self) -> str | None:
        """The "Showing results for …" line, when the query's spelling was corrected."""
        return f"Showing results for: {self.corrected}" if self.corrected else None

    @property
    def note(self) -> str | None:
        """The truncation note, when the query was cut."""
        return TRUNCATION_NOTE if self.truncated else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: query, truncated, emergency (message or null), emergency_category, close_match,
        corrected_query (the text searched after spelling correction, or null), support (the crisis-line note
        for a self-harm question that is not an emergency, or null), results (and error when the search could
        not run)."""
        out: dict[str, Any] = {
            "query": self.query,
            "truncated": self.truncated,
            "emergency": self.emergency.message if self.emergency else None,
            "emergency_category": self.emergency.kind if self.emergency else None,
            "close_match": self.close_match,
            "corrected_query": self.corrected,
            "support": self.support,
            "results": [r.to_dict() for r in self.results],
        }
        if self.error:
            out["error"] = self.error
        return out


def answer(
    searcher: Searcher,
    raw_query: str,
    k: int = 10,
    mode: str = "hybrid",
    tags: Sequence[str] = (),
    sources: Sequence[str] = (),
) -> Answer:
    """Search ``raw_query`` and check it for an emergency; a bad query or option becomes ``error``, never raises."""
    cleaned = clean_query(raw_query)
    text = searcher.question_text(cleaned.text)
    if not text:
        alert = emergency_only(raw_query, searcher.encoder)
        support = None if alert else support_message(raw_query)
        return Answer(cleaned.text, cleaned.truncated, alert, False, error=EMPTY_QUERY, support=support)
    spelled = searcher.spell(text)
    text = spelled.text
    vector = searcher.query_vector(text)
    # The whole message is checked (safety.MAX_CHECKED_CHARS), with the search's vector: no second model pass.
    emergency = detect_emergency(raw_query, vector, searcher.encoder)
    support = None if emergency else support_message(raw_query)
    try:
        results = searcher.search_prepared(text, k, mode, Filters.of(tags, sources), True, vector)
    except HealthsearchError as exc:
        return Answer(cleaned.text, cleaned.truncated, emergency, False, error=str(exc), support=support)
    corrected = text if spelled.changed else None
    close = is_close_match(results)
    return Answer(
        cleaned.text, cleaned.truncated, emergency, close, results, corrected=corrected, support=support
    )


def emergency_only(raw_query: str, encoder: Encoder | None = None) -> EmergencyAlert | None:
    """The emergency check where no search can run (no index yet): patterns, and with an encoder the
    semantic layer too; the banner still shows."""
    return detect_emergency(raw_query, encoder=encoder)
