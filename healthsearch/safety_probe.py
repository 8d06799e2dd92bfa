"""A linear classifier over query vectors: the semantic layer's second reader, trained on the labelled battery.

``safety_data/probes.jsonl`` holds, per model, a multinomial logistic regression (one weight row per category
and one for "benign") trained by ``benchmarks/safety.py --train-probe`` on the tuning half and the exemplar bank.
A query alerts when its probability of *not* being benign reaches ``threshold``; the category is the most
likely emergency one. An optional ``mild_override`` (a higher probability) lets the probe alert even where a mild
or past word ("last week", "probably nothing", "seems ok now") would otherwise keep the semantic layer quiet. An
optional ``margin_floor`` (a lower probability) is the least the probe must give before the exemplar margins may
alert in its place: below it the probe's "benign" stands.
A probe only reads vectors of the exact weights it was trained on (model name and fingerprint must match); any other model falls back to the exemplar margins. Plain JSON numbers, no pickle.

A probe line may add ``text_features``: hashed character and word n-grams of the checked query text, appended
to the (weighted) query vector. They read what a sentence embedding blurs: misspellings, and the one word that
makes a line harmless ("lyrics", "dnd", "booked"). The hashing is stateless, so the line stores only its settings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .embedding import Encoder
from .errors import SafetyDataError
from .safety_patterns import DATA_DIR

PROBES_FILE = DATA_DIR / "probes.jsonl"
BENIGN = "benign"
_FIELDS = {"model", "fingerprint", "classes", "weights", "bias", "threshold"}
_TEXT_FIELDS = {"n_features", "char_ngrams", "word_ngrams", "vector_weight"}


@dataclass(frozen=True)
class TextFeatures:
    """Hashed n-grams of the checked text: ``n_features`` columns of character n-grams (within words) and as
    many of word n-grams, each block L2-normalised and scaled by 1/sqrt(2); the query vector is multiplied by
    ``vector_weight`` before both are joined."""

    n_features: int = 4096
    char_ngrams: tuple[int, int] = (3, 5)
    word_ngrams: tuple[int, int] = (1, 2)
    vector_weight: float = 2.0

    @property
    def width(self) -> int:
        """How many columns the n-grams add."""
        return 2 * self.n_features

    def as_json(self) -> dict[str, object]:
        """The settings as a probe line stores them (the inverse of the loader's ``text_features``)."""
        return {
            "n_features": self.n_features,
            "char_ngrams": list(self.char_ngrams),
            "word_ngrams": list(self.word_ngrams),
            "vector_weight": self.vector_weight,
        }

    def matrix(self, texts: Sequence[str]) -> Any:
        """The n-gram block (a sparse ``len(texts)`` × ``width`` matrix)."""
        from scipy import sparse

        chars, words = _vectorizers(self)
        return (sparse.hstack([chars.transform(texts), words.transform(texts)]) / math.sqrt(2)).tocsr()

    def join(self, vectors: np.ndarray, texts: Sequence[str]) -> Any:
        """Training features: the weighted vectors beside the n-gram block (sparse)."""
        from scipy import sparse

        weighted = sparse.csr_matrix(np.asarray(vectors, dtype=np.float32) * self.vector_weight)
        return sparse.hstack([weighted, self.matrix(texts)]).tocsr()


@lru_cache(maxsize=4)
def _vectorizers(features: TextFeatures) -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import HashingVectorizer

    def hashing(analyzer: str, ngrams: tuple[int, int]) -> Any:
        return HashingVectorizer(
            analyzer=analyzer, ngram_range=ngrams, n_features=features.n_features, alternate_sign=False
        )

    return hashing("char_wb", features.char_ngrams), hashing("word", features.word_ngrams)


class Verdict(NamedTuple):
    """What a probe says about one query."""

    category: str | None
    sure: bool
    margins_may_alert: bool


@dataclass(frozen=True)
class Probe:
    """One model's classifier: ``weights`` (classes × dimension), ``bias`` (classes)."""

    model: str
    fingerprint: str
    classes: tuple[str, ...]
    weights: np.ndarray
    bias: np.ndarray
    threshold: float
    text_features: TextFeatures | None = None
    mild_override: float | None = None
    margin_floor: float = 0.0

    def reads(self, encoder: Encoder) -> bool:
        """True when ``encoder`` is the exact model this probe was trained on."""
        ref = encoder.ref
        return ref.name.lower() == self.model.lower() and ref.fingerprint == self.fingerprint

    def classify(self, vector: np.ndarray, text: str = "") -> tuple[str, float] | None:
        """(most likely emergency category, probability of an emergency), or None for a vector that does not fit.
        ``text`` is the checked query text, read only by a probe with ``text_features``."""
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        extra = self.text_features.width if self.text_features else 0
        if vector.shape[0] + extra != self.weights.shape[1] or not np.all(np.isfinite(vector)):
            return None
        logits = self._logits(vector, text)
        probabilities = np.exp(logits - logits.max())
        probabilities /= probabilities.sum()
        benign = self.classes.index(BENIGN)
        emergency = 1.0 - float(probabilities[benign])
        probabilities[benign] = -1.0
        return self.classes[int(np.argmax(probabilities))], emergency

    def _logits(self, vector: np.ndarray, text: str) -> np.ndarray:
        if self.text_features is None:
            return np.asarray(self.weights @ vector + self.bias)
        dimension = vector.shape[0]
        grams = self.text_features.matrix([text])
        lexical = np.asarray(grams @ self.weights[:, dimension:].T).reshape(-1)
        dense = self.weights[:, :dimension] @ (vector * self.text_features.vector_weight)
        return np.asarray(dense + lexical + self.bias)

    def judge(self, vector: np.ndarray, text: str = "") -> Verdict:
        """The probe's verdict on one query, from one classification: the category at ``threshold``, whether it
        reaches ``mild_override``, and whether the exemplar margins may still speak (``margin_floor``)."""
        found = self.classify(vector, text)
        if found is None:
            return Verdict(None, sure=False, margins_may_alert=True)
        kind, probability = found
        if probability < self.threshold:
            return Verdict(None, sure=False, margins_may_alert=probability >= self.margin_floor)
        sure = self.mild_override is not None and probability >= self.mild_override
        return Verdict(kind, sure=sure, margins_may_alert=False)

    def detect(self, vector: np.ndarray, text: str = "") -> str | None:
        """The emergency category when the probability reaches the threshold, else None."""
        return self.judge(vector, text).category

    def overrides_mild(self, vector: np.ndarray, text: str = "") -> bool:
        """True when this probe is so sure of an emergency that a mild or past word must not quiet it."""
        return self.judge(vector, text).sure


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
    text_features = _text_features(where, row.get("text_features"))
    override = row.get("mild_override")
    if override is not None and (
        not isinstance(override, int | float) or isinstance(override, bool) or not threshold <= override < 1
    ):
        raise SafetyDataError(f"{where}: 'mild_override' must be a probability from 'threshold' up to 1")
    floor = row.get("margin_floor", 0.0)
    if not isinstance(floor, int | float) or isinstance(floor, bool) or not 0 <= floor < threshold:
        raise SafetyDataError(f"{where}: 'margin_floor' must be a probability from 0 up to 'threshold'")
    return Probe(
        row["model"],
        row["fingerprint"],
        tuple(classes),
        weights,
        bias[0],
        float(threshold),
        text_features,
        None if override is None else float(override),
        float(floor),
    )


def _text_features(where: str, value: object) -> TextFeatures | None:
    """The optional n-gram settings of a probe line, validated."""
    if value is None:
        return None
    problem = f"{where}: 'text_features' needs {', '.join(sorted(_TEXT_FIELDS))}"
    if not isinstance(value, dict) or set(value) != _TEXT_FIELDS:
        raise SafetyDataError(problem)
    n_features, weight = value["n_features"], value["vector_weight"]
    ranges = [value["char_ngrams"], value["word_ngrams"]]
    ok = (
        isinstance(n_features, int)
        and not isinstance(n_features, bool)
        and 1 <= n_features <= 2**20
        and isinstance(weight, int | float)
        and not isinstance(weight, bool)
        and math.isfinite(weight)
        and weight > 0
        and all(_is_range(r) for r in ranges)
    )
    if not ok:
        raise SafetyDataError(
            problem + " (a count up to 2**20, two [low, high] n-gram ranges, a weight above 0)"
        )
    return TextFeatures(n_features, tuple(ranges[0]), tuple(ranges[1]), float(weight))


def _is_range(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and 1 <= value[0] <= value[1] <= 8
    )


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
