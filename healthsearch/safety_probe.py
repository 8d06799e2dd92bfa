"""A linear classifier over query vectors: the semantic layer's second reader, trained on the labelled battery.

``safety_data/probes.jsonl`` holds, per model, a multinomial logistic regression (one weight row per category
and one for "benign") trained by ``benchmarks/safety.py --train-probe`` on the tuning half and the exemplar bank.
A query alerts when its probability of *not* being benign reaches ``threshold``; the category is the most
likely emergency one. A probe only reads vectors of the exact weights it was trained on (model name and
fingerprint must match); any other model falls back to the exemplar margins. Plain JSON numbers, no pickle.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .embedding import Encoder
from .errors import SafetyDataError
from .safety_patterns import DATA_DIR

PROBES_FILE = DATA_DIR / "probes.jsonl"
BENIGN = "benign"
_FIELDS = {"model", "fingerprint", "classes", "weights", "bias", "threshold"}


@dataclass(frozen=True)
class Probe:
    """One model's classifier: ``weights`` (classes × dimension), ``bias`` (classes)."""

    model: str
    fingerprint: str
    classes: tuple[str, ...]
    weights: np.ndarray
    bias: np.ndarray
    threshold: float

    def reads(self, encoder: Encoder) -> bool:
        """True when ``encoder`` is the exact model this probe was trained on."""
        ref = encoder.ref
        return ref.name.lower() == self.model.lower() and ref.fingerprint == self.fingerprint

    def classify(self, vector: np.ndarray) -> tuple[str, float] | None:
        """(most likely emergency category, probability of an emergency), or None for a vector that does not fit."""
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.weights.shape[1] or not np.all(np.isfinite(vector)):
            return None
        logits = self.weights @ vector + self.bias
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        benign = self.classes.index(BENIGN)
        emergency = 1.0 - float(probabilities[benign])
        probabilities[benign] = -1.0
        return self.classes[int(np.argmax(probabilities))], emergency

    def detect(self, vector: np.ndarray) -> str | None:
        """The emergency category when the probability reaches the threshold, else None."""
        found = self.classify(vector)
        return found[0] if found is not None and found[1] >= self.threshold else None


def load_probes(path: Path, kinds: Collection[str]) -> dict[str, Probe]:
    """Read and validate every probe line; a bad one raises SafetyDataError naming file:line. A missing file
    means no probes (exemplar margins only)."""
    if not path.is_file():
        return {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SafetyDataError(f"cannot read safety probe file {path}: {exc}") from None
    probes: dict[str, Probe] = {}
    for number, line in enumerate(lines, start=1):
        if line.strip():
            probe = _probe(f"{path}:{number}", line, kinds)
            probes[probe.model.lower()] = probe
    return probes


def _probe(where: str, line: str, kinds: Collection[str]) -> Probe:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        raise SafetyDataError(f"{where}: not valid JSON") from None
    if not isinstance(row, dict) or not set(row) >= _FIELDS:
        raise SafetyDataError(f"{where}: a probe needs {', '.join(sorted(_FIELDS))}")
    classes = row["classes"]
    if not isinstance(classes, list) or BENIGN not in classes or len(set(classes)) != len(classes):
        raise SafetyDataError(f"{where}: 'classes' must list distinct categories and {BENIGN!r}")
    unknown = [c for c in classes if c != BENIGN and c not in kinds]
    if unknown:
        raise SafetyDataError(f"{where}: unknown category {unknown[0]!r} (not in the pattern table)")
    weights, bias = _matrix(where, row["weights"]), _matrix(where, [row["bias"]])
    if weights.shape[0] != len(classes) or bias.shape != (1, len(classes)):
        raise SafetyDataError(f"{where}: 'weights' needs one row and 'bias' one number per class")
    threshold = row["threshold"]
    if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not 0 < threshold < 1:
        raise SafetyDataError(f"{where}: 'threshold' must be a probability between 0 and 1")
    if not isinstance(row["model"], str) or not isinstance(row["fingerprint"], str):
        raise SafetyDataError(f"{where}: 'model' and 'fingerprint' must be text")
    return Probe(row["model"], row["fingerprint"], tuple(classes), weights, bias[0], float(threshold))


def _matrix(where: str, rows: object) -> np.ndarray:
    ok = (
        isinstance(rows, list)
        and rows
        and all(isinstance(r, list) and r and len(r) == len(rows[0]) for r in rows)
        and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for r in rows
            for v in r
        )
    )
    if not ok:
        raise SafetyDataError(f"{where}: 'weights' and 'bias' must be finite numbers in equal-length rows")
    return np.asarray(rows, dtype=np.float32)
