"""The semantic emergency layer: a query vector compared with a bank of exemplar descriptions.

The bank (``safety_data/exemplars.jsonl``) holds short descriptions of emergencies, one category each, and
"benign" look-alikes (a past event, a mild symptom, a question about a condition). A query alerts when its
best emergency exemplar is close enough (``threshold``) and its ``top_k`` nearest emergency exemplars are,
on average, closer than its ``top_k`` nearest benign ones by ``margin``: one stray look-alike on either side
does not decide (cross-validated on the tuning half, top_k 2 generalised better than 1).

Cosine scales differ between embedding models, so thresholds come from a per-model calibration table
(``safety_data/calibration.jsonl``, keyed by model name). A model without an entry is not guessed at:
the semantic layer stays off for it (patterns only) and says so once in the log.

Where ``safety_data/probes.jsonl`` holds a classifier trained for this exact model (:mod:`safety_probe`), it
reads the vector too and either reader may fire: on batches written blind it recalled far more than the margins
(benchmarks/RESULTS.md).

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
from .safety_probe import BENIGN, Probe

EXEMPLARS_FILE = DATA_DIR / "exemplars.jsonl"
CALIBRATION_FILE = DATA_DIR / "calibration.jsonl"
MAX_EXEMPLAR_CHARS = 300
MAX_TOP_K = 10

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
    top_k: int = 1


@dataclass(frozen=True)
class Bank:
    """Exemplar vectors for one encoder."""

    emergency: np.ndarray
    categories: tuple[str, ...]
    benign: np.ndarray


@dataclass(frozen=True)
class Match:
    """How a query scored: its closest emergency exemplar, and the mean of its top-k on each side."""

    category: str
    emergency: float
    emergency_mean: float
    benign_mean: float


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
    """Read {"model": name, "threshold": t, "margin": m, "top_k": k (optional, 1)} per line; notes allowed."""
    table: dict[str, Calibration] = {}
    for where, row in _jsonl(path):
        model, threshold, margin = row.get("model"), row.get("threshold"), row.get("margin")
        if not isinstance(model, str) or not model:
            raise SafetyDataError(f"{where}: 'model' must be a model name")
        if not _number_in(threshold, -1.0, 1.0) or not _number_in(margin, -1.0, 1.0):
            raise SafetyDataError(f"{where}: 'threshold' and 'margin' must be numbers between -1 and 1")
        top_k = row.get("top_k", 1)
        if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
            raise SafetyDataError(f"{where}: 'top_k' must be a whole number from 1 to {MAX_TOP_K}")
        if model.lower() in table:
            raise SafetyDataError(f"{where}: model {model!r} is calibrated twice")
        table[model.lower()] = Calibration(float(threshold), float(margin), top_k)  # type: ignore[arg-type]
    return table


def _number_in(value: object, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


class SemanticLayer:
    """The exemplar bank, its calibrations, and exemplar vectors cached per encoder (thread-safe)."""

    def __init__(
        self,
        exemplars: tuple[Exemplar, ...],
        calibrations: dict[str, Calibration],
        probes: dict[str, Probe] | None = None,
    ) -> None:
        self.exemplars = exemplars
        self.calibrations = calibrations
        self.probes = probes or {}
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

    def score(self, encoder: Encoder, query_vector: np.ndarray, top_k: int = 1) -> Match | None:
        """The query's closest emergency exemplar and top-k means, or None for a vector that does not fit."""
        bank = self.bank(encoder)
        vector = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(vector))
        if vector.shape[0] != bank.emergency.shape[1] or not np.isfinite(norm) or norm == 0.0:
            return None
        vector = vector / norm
        similarities = bank.emergency @ vector
        best = int(np.argmax(similarities))
        return Match(
            bank.categories[best],
            float(similarities[best]),
            _top_mean(similarities, top_k),
            _top_mean(bank.benign @ vector, top_k),
        )

    def probe(self, encoder: Encoder) -> Probe | None:
        """The classifier trained for exactly this model, or None."""
        found = self.probes.get(encoder.ref.name.lower())
        return found if found is not None and found.reads(encoder) else None

    def is_on(self, encoder: Encoder) -> bool:
        """True when this model has a calibration or a probe (otherwise: patterns only)."""
        return self.probe(encoder) is not None or self.calibration(encoder) is not None

    def judge(self, encoder: Encoder, query_vector: np.ndarray, text: str = "") -> tuple[str | None, bool]:
        """(the emergency category this vector describes, the probe first, then the exemplar margins where the
        probe allows them, or None; whether the probe is sure enough to outweigh a mild or past word). ``text``
        is the checked query text, for a probe that also reads n-grams."""
        probe = self.probe(encoder)
        if probe is None:
            return self.detect_by_margin(encoder, query_vector), False
        verdict = probe.judge(query_vector, text)
        if verdict.category is None and verdict.margins_may_alert:
            return self.detect_by_margin(encoder, query_vector), False
        return verdict.category, verdict.sure

    def detect(self, encoder: Encoder, query_vector: np.ndarray, text: str = "") -> str | None:
        """The emergency category this vector describes (the probe first, then the exemplar margins), or None."""
        return self.judge(encoder, query_vector, text)[0]

    def detect_by_margin(self, encoder: Encoder, query_vector: np.ndarray) -> str | None:
        """The emergency category under the model's exemplar calibration, or None."""
        calibration = self.calibration(encoder)
        if calibration is None:
            return None
        match = self.score(encoder, query_vector, calibration.top_k)
        if match is None:
            return None
        fires = (
            match.emergency >= calibration.threshold
            and match.emergency_mean - match.benign_mean >= calibration.margin
        )
        return match.category if fires else None


def _top_mean(similarities: np.ndarray, k: int) -> float:
    """Mean of the k largest similarities (all of them when there are fewer)."""
    k = min(k, similarities.shape[0])
    return float(np.mean(np.partition(similarities, -k)[-k:]))
