"""The semantic emergency layer: a query vector compared with a bank of exemplar descriptions.

The bank (``safety_data/exemplars.jsonl``) holds short descriptions of emergencies, one category each, and
"benign" look-alikes (a past event, a mild symptom, a question about a condition). A query alerts when its
best emergency exemplar is close enough (``threshold``) and closer than any benign one by ``margin``.

Cosine scales differ between embedding models, so thresholds come from a per-model calibration table
(``safety_data/calibration.jsonl``, keyed by model name). A model without an entry is not guessed at:
the semantic layer stays off for it (patterns only) and says so once in the log.

Exemplar vectors are computed once per encoder (keyed by ``encoder.key``) and kept in memory; after that a
check is one small matrix-vector product.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .embedding import Encoder
from .errors import SafetyDataError
from .safety_patterns import DATA_DIR

EXEMPLARS_FILE = DATA_DIR / "exemplars.jsonl"
CALIBRATION_FILE = DATA_DIR / "calibration.jsonl"
BENIGN = "benign"
MAX_EXEMPLAR_CHARS = 300

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Exemplar:
    """One description in the bank: an emergency category, or BENIGN."""

    category: str
    text: str


@dataclass(frozen=True)
class Calibration:
    """When a model's similarities count as an emergency."""

    threshold: float
    margin: float


@dataclass(frozen=True)
class Bank:
    """Exemplar vectors for one encoder."""

    emergency: np.ndarray
    categories: tuple[str, ...]
    benign: np.ndarray


@dataclass(frozen=True)
class Match:
    """How a query scored: its closest emergency exemplar and the closest benign one."""

    category: str
    emergency: float
    benign: float


def _jsonl(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(``file:line``, object) for each non-blank line of a JSON-lines file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SafetyDataError(f"cannot read safety data file {path}: {exc}") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SafetyDataError(f"{where}: not valid JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise SafetyDataError(f"{where}: each line must be a JSON object")
        rows.append((where, row))
    return rows


def load_exemplars(path: Path, kinds: tuple[str, ...]) -> tuple[Exemplar, ...]:
    """Read and validate the bank: {"category": <a pattern-table kind or "benign">, "text": "..."} per line."""
    exemplars: list[Exemplar] = []
    seen: set[str] = set()
    for where, row in _jsonl(path):
        category, text = row.get("category"), row.get("text")
        if set(row) != {"category", "text"} or not isinstance(category, str) or not isinstance(text, str):
            raise SafetyDataError(f'{where}: expected {{"category": "...", "text": "..."}} and nothing else')
        if category != BENIGN and category not in kinds:
            raise SafetyDataError(
                f"{where}: unknown category {category!r} (not in the pattern table, not {BENIGN!r})"
            )
        text = " ".join(text.split())
        if not text or len(text) > MAX_EXEMPLAR_CHARS:
            raise SafetyDataError(f"{where}: text must be 1 to {MAX_EXEMPLAR_CHARS} characters")
        if text.lower() in seen:
            raise SafetyDataError(f"{where}: duplicate exemplar {text[:40]!r}")
        seen.add(text.lower())
        exemplars.append(Exemplar(category, text))
    if not any(e.category == BENIGN for e in exemplars) or all(e.category == BENIGN for e in exemplars):
        raise SafetyDataError(f"{path}: the bank needs both emergency and {BENIGN!r} exemplars")
    return tuple(exemplars)


def load_calibrations(path: Path) -> dict[str, Calibration]:
    """Read {"model": name, "threshold": t, "margin": m, ...} per line; extra keys (notes) are allowed."""
    table: dict[str, Calibration] = {}
    for where, row in _jsonl(path):
        model, threshold, margin = row.get("model"), row.get("threshold"), row.get("margin")
        if not isinstance(model, str) or not model:
            raise SafetyDataError(f"{where}: 'model' must be a model name")
        if not _number_in(threshold, -1.0, 1.0) or not _number_in(margin, -1.0, 1.0):
            raise SafetyDataError(f"{where}: 'threshold' and 'margin' must be numbers between -1 and 1")
        if model.lower() in table:
            raise SafetyDataError(f"{where}: model {model!r} is calibrated twice")
        table[model.lower()] = Calibration(float(threshold), float(margin))  # type: ignore[arg-type]
    return table


def _number_in(value: object, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


class SemanticLayer:
    """The exemplar bank, its calibrations, and exemplar vectors cached per encoder (thread-safe)."""

    def __init__(self, exemplars: tuple[Exemplar, ...], calibrations: dict[str, Calibration]) -> None:
        self.exemplars = exemplars
        self.calibrations = calibrations
        self._banks: dict[str, Bank] = {}
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    def calibration(self, encoder: Encoder) -> Calibration | None:
        """This model's thresholds, or None (semantic layer off) for a model nobody calibrated."""
        found = self.calibrations.get(encoder.ref.name.lower())
        if found is None and encoder.key not in self._warned:
            self._warned.add(encoder.key)
            log.warning(
                "no safety calibration for model %s: emergency check uses patterns only", encoder.ref.name
            )
        return found

    def bank(self, encoder: Encoder) -> Bank:
        """The exemplar vectors for this encoder, computed on first use and then reused."""
        cached = self._banks.get(encoder.key)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._banks.get(encoder.key)
            if cached is None:
                cached = self._embed(encoder)
                self._banks[encoder.key] = cached
            return cached

    def cached_keys(self) -> tuple[str, ...]:
        """Encoder keys whose bank is in memory."""
        return tuple(self._banks)

    def _embed(self, encoder: Encoder) -> Bank:
        vectors = encoder.encode_passages([e.text for e in self.exemplars])
        is_benign = np.array([e.category == BENIGN for e in self.exemplars])
        return Bank(
            emergency=np.ascontiguousarray(vectors[~is_benign]),
            categories=tuple(e.category for e in self.exemplars if e.category != BENIGN),
            benign=np.ascontiguousarray(vectors[is_benign]),
        )

    def score(self, encoder: Encoder, query_vector: np.ndarray) -> Match | None:
        """The query's closest emergency and benign exemplars, or None for a vector that does not fit."""
        bank = self.bank(encoder)
        vector = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(vector))
        if vector.shape[0] != bank.emergency.shape[1] or not np.isfinite(norm) or norm == 0.0:
            return None
        vector = vector / norm
        similarities = bank.emergency @ vector
        best = int(np.argmax(similarities))
        return Match(bank.categories[best], float(similarities[best]), float(np.max(bank.benign @ vector)))

    def detect(self, encoder: Encoder, query_vector: np.ndarray) -> str | None:
        """The emergency category this vector describes under the model's calibration, or None."""
        calibration = self.calibration(encoder)
        if calibration is None:
            return None
        match = self.score(encoder, query_vector)
        if match is None:
            return None
        fires = (
            match.emergency >= calibration.threshold and match.emergency - match.benign >= calibration.margin
        )
        return match.category if fires else None
