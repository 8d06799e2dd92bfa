"""Spot search queries that describe a possible medical emergency.

A query such as "crushing chest pain spreading to my jaw" or "my toddler swallowed some pills" must show a
prominent banner telling the person to call their emergency number. Two layers decide:

* **Patterns** (`safety_patterns`, table in ``safety_data/patterns.txt``) always run. A query alerts when it
  *describes* symptoms or says someone is having the event now; a bare condition name or a question about
  one does not, unless it carries an urgent word. Self-harm language alerts even in questions, except a
  question about supporting someone, research or the past with no sign of risk now: that gets the quieter
  support line with the crisis number (`support_message`). Queries about an animal do not alert.
* **Semantic** (`safety_semantic`, bank in ``safety_data/exemplars.jsonl``) runs when an encoder is given:
  the query's vector is compared with exemplar descriptions per category, for wordings no pattern foresaw.
  Pass the vector search already computed, so the check costs no second model pass; without one the query
  is embedded here (for the page and CLI when there is no index). The same informational/animal guard
  applies. A model without a calibration entry gets patterns only.

The data files are read and validated once, at import; a bad entry raises SafetyDataError naming file:line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np

from .embedding import Encoder
from .safety_patterns import (
    MAX_CHECKED_CHARS,
    PATTERNS_FILE,
    keeps_semantic_quiet,
    load_table,
    match_kind,
    mentions_self_harm,
    names_benign_use,
    normalise,
    self_harm_question,
    sounds_mild,
)
from .safety_probe import PROBES_FILE, load_probes
from .safety_semantic import (
    CALIBRATION_FILE,
    EXEMPLARS_FILE,
    SemanticLayer,
    load_calibrations,
    load_exemplars,
)
from .safety_spelling import correct_spelling

__all__ = [
    "CRISIS_MESSAGE",
    "EMERGENCY_MESSAGE",
    "MAX_CHECKED_CHARS",
    "SUPPORT_MESSAGE",
    "EmergencyAlert",
    "Layer",
    "detect_emergency",
    "pattern_kind",
    "prepare_semantic",
    "semantic_kind",
    "support_message",
]

EMERGENCY_MESSAGE = (
    "This may be a medical emergency. Call your local emergency number (such as 911 or 112) now."
)
CRISIS_MESSAGE = (
    "If you are thinking about harming yourself, call or text 988 (US) or your local crisis line now,"
    " or call your local emergency number."
)
SUPPORT_MESSAGE = (
    "If you or someone you know is thinking about suicide or self-harm, support is there at any time:"
    " call or text 988 (US) or your local crisis line."
)
Layer = Literal["pattern", "semantic"]

PATTERNS = load_table(PATTERNS_FILE)
SEMANTIC = SemanticLayer(
    load_exemplars(EXEMPLARS_FILE, PATTERNS.kinds),
    load_calibrations(CALIBRATION_FILE),
    load_probes(PROBES_FILE, PATTERNS.kinds),
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmergencyAlert:
    """A banner to show above search results.

    Attributes:
        kind: Category that fired, e.g. "heart_attack", "stroke" or "self_harm".
        message: Plain-language instruction to show the person (self-harm adds the crisis line).
        layer: Which layer fired: "pattern" or "semantic".
    """

    kind: str
    message: str
    layer: Layer


def detect_emergency(
    query: str, query_vector: np.ndarray | None = None, encoder: Encoder | None = None
) -> EmergencyAlert | None:
    """Detect a search query that describes a possible medical emergency. Never raises.

    Args:
        query: Raw text typed into the search box; only the first 2,000 characters are read.
        query_vector: The normalized vector search computed for this query with `encoder`; used only
            together with `encoder`.
        encoder: The encoder behind `query_vector`. Given alone, the query is embedded here. Neither given:
            patterns only.

    Returns:
        An `EmergencyAlert` naming the category, the message and the layer that fired, or None.
    """
    kind = pattern_kind(query)
    if kind is not None:
        return _alert(kind, "pattern")
    if encoder is None:
        return None
    kind = semantic_kind(query, query_vector, encoder)
    return _alert(kind, "semantic") if kind is not None else None


def pattern_kind(query: str) -> str | None:
    """The category the pattern layer alone finds in `query`, or None. Never raises."""
    if not isinstance(query, str):
        return None
    text = checked_text(query)
    return match_kind(PATTERNS, text) if text else None


def semantic_kind(query: str, query_vector: np.ndarray | None, encoder: Encoder) -> str | None:
    """The category the semantic layer alone finds, or None; failures are logged, never raised."""
    if not isinstance(query, str):
        return None
    text = checked_text(query)
    if not text:
        return None
    try:
        if not SEMANTIC.is_on(encoder):
            return None
        if query_vector is None:
            query_vector = encoder.encode_query(" ".join(query[:MAX_CHECKED_CHARS].split()))
        kind, sure = SEMANTIC.judge(encoder, query_vector, text)
    except Exception as exc:  # the banner check must never take the page down
        log.warning(
            "semantic emergency check skipped: %s", str(exc).splitlines()[0][:200] if str(exc) else exc
        )
        return None
    if kind is None or names_benign_use(PATTERNS, text):
        return None
    if kind == "self_harm":
        return None if self_harm_question(PATTERNS, text) else kind
    if keeps_semantic_quiet(PATTERNS, text):
        return None
    return None if sounds_mild(PATTERNS, text) and not sure else kind


def support_message(query: str) -> str | None:
    """The quiet support line for a query that speaks of self-harm or suicide without being an emergency
    (show it only when `detect_emergency` returned None); None otherwise. Never raises."""
    if not isinstance(query, str):
        return None
    text = checked_text(query)
    return SUPPORT_MESSAGE if text and mentions_self_harm(PATTERNS, text) else None


@lru_cache(maxsize=256)  # one query is read by the patterns, the semantic guards and the support line
def checked_text(query: str) -> str:
    """The query as the patterns read it: normalised, misspellings corrected ("breth" → "breath")."""
    text = normalise(query)
    return correct_spelling(text) if text else text


def prepare_semantic(encoder: Encoder) -> bool:
    """Embed the exemplar bank for `encoder` and build the probe's n-gram hashers now (e.g. at start-up), so no
    query pays for them; False if this model is uncalibrated."""
    if not SEMANTIC.is_on(encoder):
        return False
    SEMANTIC.bank(encoder)
    probe = SEMANTIC.probe(encoder)
    if probe is not None and probe.text_features is not None:
        probe.text_features.matrix([""])  # imports and builds the n-gram hashers before the first query
    return True


def _alert(kind: str, layer: Layer) -> EmergencyAlert:
    message = f"{EMERGENCY_MESSAGE} {CRISIS_MESSAGE}" if kind == "self_harm" else EMERGENCY_MESSAGE
    return EmergencyAlert(kind=kind, message=message, layer=layer)
