"""Emergency-detector battery: recall and false alarms per half and per layer, and the semantic layer's cost.

    python benchmarks/safety.py                      # both halves, default model
    python benchmarks/safety.py --half tuning        # tuning half only (what tuning may look at)
    python benchmarks/safety.py --calibrate          # grid-search threshold/margin/top_k on the TUNING half only
    python benchmarks/safety.py --model NAME --calibrate   # a calibration line for another model
    python benchmarks/safety.py --probe-rounds       # the classifier trained on earlier rounds, scored on the next
    python benchmarks/safety.py --train-probe        # fit the classifier on the TUNING half + exemplars, write it

Layers: "patterns" (table only), "semantic" (exemplar bank only, same informational/animal guard) and
"combined" (what `detect_emergency(query, vector, encoder)` returns). Latency is the semantic check given a
precomputed query vector, i.e. what it adds to a search.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from healthsearch.embedding import Encoder
from healthsearch.safety import (
    PATTERNS,
    SEMANTIC,
    checked_text,
    detect_emergency,
    pattern_kind,
    semantic_kind,
)
from healthsearch.safety_patterns import guarded, keeps_semantic_quiet, normalise, sounds_mild
from healthsearch.safety_probe import BENIGN, PROBES_FILE, TextFeatures

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
HALVES = {"tuning": DATA / "safety-tuning.jsonl", "heldout": DATA / "safety-heldout.jsonl"}
MAX_TUNING_FALSE_ALARMS = 0.03
# The tuning half in the order it grew: lines [start, end) of each blind round (4-26), for --probe-rounds.
ROUNDS = {
    "round 4": (834, 1095),
    "round 5": (1095, 1370),
    "round 6": (1370, 1622),
    "round 7": (1622, 1864),
    "round 8": (1864, 2079),
    "round 9": (2079, 2306),
    "round 10": (2306, 2530),
    "round 11": (2530, 2726),
    "round 12": (2726, 2943),
    "round 13": (2943, 3163),
    "round 14": (3163, 3382),
    "round 15": (3382, 3654),
    "round 16": (3654, 3929),
    "round 17": (3929, 4203),
    "round 18": (4203, 4461),
    "round 19": (4461, 4722),
    "round 20": (4722, 4993),
    "round 21": (4993, 5260),
    "round 22": (5260, 5534),
    "round 23": (5534, 5787),
    "round 24": (5787, 6041),
    "round 25": (6041, 6272),
    "round 26": (6272, 6506),
}
# Chosen by forward-chaining over rounds 4-9 (2026-12-03, RESULTS.md): the query vector plus hashed n-grams
# (4,096 character and 4,096 word columns, vector weight 2) beat the vector alone at every threshold.
PROBE_C = 64.0
PROBE_THRESHOLD = 0.6
# Forward-chained over rounds 10-21 (2026-12-04, RESULTS.md): of the lines a mild or past word quieted, the probe
# trained on earlier rounds gave >= 0.95 to 9 of 11 emergencies and 4 of 253 near misses.
PROBE_MILD_OVERRIDE = 0.95
# Forward-chained over rounds 15-26 (2026-12-05, RESULTS.md): where the probe said benign, the exemplar margins
# caught 8 emergencies, every one at probe probability >= 0.117, and raised 88 false alarms, 60 of them below 0.08.
PROBE_MARGIN_FLOOR = 0.08
# The default tol 1e-4 stopped lbfgs after ~30 iterations, under-fitting (14 in-sample false alarms).
PROBE_TOL = 1e-6
TEXT_FEATURES = TextFeatures(n_features=4096, char_ngrams=(3, 5), word_ngrams=(1, 2), vector_weight=2.0)


@dataclass(frozen=True)
class Case:
    query: str
    emergency: bool
    category: str


def load_half(path: Path) -> list[Case]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Case(r["query"], bool(r["emergency"]), r["category"]) for r in rows]


Detector = Callable[[Case, np.ndarray], str | None]


def layers(encoder: Encoder) -> dict[str, Detector]:
    def combined(case: Case, vector: np.ndarray) -> str | None:
        alert = detect_emergency(case.query, vector, encoder)
        return alert.kind if alert else None

    return {
        "patterns": lambda case, _vector: pattern_kind(case.query),
        "semantic": lambda case, vector: semantic_kind(case.query, vector, encoder),
        "combined": combined,
    }


def score(cases: list[Case], vectors: np.ndarray, detector: Detector) -> tuple[float, float, list[str]]:
    """Recall, false-alarm rate and one line per miss / false alarm."""
    misses, alarms, notes = 0, 0, []
    for case, vector in zip(cases, vectors, strict=True):
        kind = detector(case, vector)
        if case.emergency and kind is None:
            misses += 1
            notes.append(f"  MISS   [{case.category}] {case.query}")
        elif not case.emergency and kind is not None:
            alarms += 1
            notes.append(f"  ALARM  [{case.category} -> {kind}] {case.query}")
    positives = sum(c.emergency for c in cases)
    negatives = len(cases) - positives
    return 1 - misses / positives, alarms / negatives, notes


def report(name: str, cases: list[Case], vectors: np.ndarray, encoder: Encoder) -> None:
    positives = sum(c.emergency for c in cases)
    print(f"\n== {name}: {positives} emergencies, {len(cases) - positives} near misses ==")
    for layer, detector in layers(encoder).items():
        recall, false_alarms, notes = score(cases, vectors, detector)
        missed = sum(n.startswith("  MISS") for n in notes)
        alarmed = len(notes) - missed
        print(
            f"{layer:9s} recall {recall:6.1%} ({missed} missed)  false alarms {false_alarms:5.1%} ({alarmed})"
        )
        for note in notes:
            print(note)


def latency(cases: list[Case], vectors: np.ndarray, encoder: Encoder) -> None:
    SEMANTIC.bank(encoder)
    timings = []
    for _ in range(5):
        for case, vector in zip(cases, vectors, strict=True):
            start = time.perf_counter()
            semantic_kind(case.query, vector, encoder)
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    p95 = timings[int(len(timings) * 0.95)]
    print(
        f"\nsemantic layer, given the query vector: median {statistics.median(timings):.3f} ms, p95 {p95:.3f} ms"
    )
    start = time.perf_counter()
    SEMANTIC._embed(encoder)
    print(
        f"exemplar bank ({len(SEMANTIC.exemplars)} texts) embedded once per encoder: {time.perf_counter() - start:.2f} s"
    )


def calibrate(cases: list[Case], vectors: np.ndarray, encoder: Encoder) -> None:
    """(threshold, margin, top_k) on the tuning half: most semantic-only recall with semantic-only false
    alarms and combined false alarms both <= 3 %.

    The semantic layer is calibrated on its own recall, not the combined one, so that it keeps catching
    wordings the patterns miss even where the patterns already cover the tuning half; its own false alarms
    are bounded too, since in-sample patterns hide them. Five-fold cross-validation of the same search
    within the tuning half is printed beside it, as the estimate of what generalises.
    """
    emergency = np.array([c.emergency for c in cases])
    first = [SEMANTIC.score(encoder, v) for v in vectors]
    blocked = np.array(  # the layer's informational/animal guard, which self-harm passes
        [
            guarded(PATTERNS, normalise(c.query)) and (m is None or m.category != "self_harm")
            for c, m in zip(cases, first, strict=True)
        ]
    )
    pattern_alarm = np.array([pattern_kind(c.query) is not None for c in cases]) & ~emergency
    folds = np.random.default_rng(0).permutation(len(cases)) % 5
    grid = [(t, m) for t in np.arange(0.35, 0.80, 0.01) for m in np.arange(-0.10, 0.20, 0.01)]
    features = {}
    for top_k in (1, 2, 3, 5):
        matches = [SEMANTIC.score(encoder, v, top_k) for v in vectors]
        best_e = np.array([m.emergency if m else -1.0 for m in matches])
        gap = np.array([m.emergency_mean - m.benign_mean if m else -1.0 for m in matches])
        features[top_k] = (best_e, gap)

    def fires(top_k: int, threshold: float, margin: float) -> np.ndarray:
        best_e, gap = features[top_k]
        return (best_e >= threshold) & (gap >= margin) & ~blocked

    def search(mask: np.ndarray) -> tuple[float, float, int, float, float] | None:
        found = None
        for top_k in features:
            for threshold, margin in grid:
                fired = fires(top_k, threshold, margin)
                recall = fired[mask & emergency].mean()
                alarms = fired[mask & ~emergency].mean()
                combined = (fired | pattern_alarm)[mask & ~emergency].mean()
                key = (recall, -alarms, top_k, threshold, margin)
                if max(alarms, combined) <= MAX_TUNING_FALSE_ALARMS and (found is None or key > found):
                    found = key
        return found

    best = search(np.ones(len(cases), dtype=bool))
    if best is None:
        print("no calibration keeps tuning false alarms at or under 3 %")
        return
    held_out = np.zeros(len(cases), dtype=bool)
    for fold in range(5):
        train = folds != fold
        found = search(train)
        if found is not None:
            held_out[~train] = fires(found[2], found[3], found[4])[~train]
    recall, alarms, top_k, threshold, margin = best
    print(f"\ncalibration on the tuning half: semantic recall {recall:.1%}, false alarms {-alarms:.1%}")
    print(
        f"5-fold cross-validation within the tuning half: semantic recall {held_out[emergency].mean():.1%},"
        f" false alarms {held_out[~emergency].mean():.1%}"
    )
    line = {
        "model": encoder.ref.name,
        "threshold": round(threshold, 2),
        "margin": round(margin, 2),
        "top_k": top_k,
    }
    print(json.dumps(line))


def probe_data(cases: list[Case], vectors: np.ndarray, encoder: Encoder) -> tuple[Any, np.ndarray]:
    """Tuning and exemplar features (vectors and n-grams of their checked text), with labels: the category of an
    emergency, else benign."""
    bank = list(SEMANTIC.exemplars)
    bank_vectors = encoder.encode_passages([e.text for e in bank])
    labels = [c.category if c.emergency else BENIGN for c in cases] + [e.category for e in bank]
    texts = [checked_text(c.query) for c in cases] + [checked_text(e.text) for e in bank]
    return TEXT_FEATURES.join(np.vstack([vectors, bank_vectors]), texts), np.array(labels)


def case_features(cases: list[Case], vectors: np.ndarray) -> Any:
    """The probe's features for labelled cases (no exemplars)."""
    return TEXT_FEATURES.join(vectors, [checked_text(c.query) for c in cases])


def fit_probe(features: Any, labels: np.ndarray, c: float = PROBE_C) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000, tol=PROBE_TOL, class_weight="balanced").fit(
        features, labels
    )


def quiet(cases: list[Case]) -> np.ndarray:
    """The semantic layer's guard per case (informational, animal, over-and-done, general, mild; the probe's mild
    override is not modelled)."""
    texts = [checked_text(c.query) for c in cases]
    return np.array([keeps_semantic_quiet(PATTERNS, t) or sounds_mild(PATTERNS, t) for t in texts])


def probe_rounds(cases: list[Case], vectors: np.ndarray, encoder: Encoder) -> None:
    """For each blind round: the classifier trained on every line before it (and the exemplars), scored on it."""
    guard = quiet(cases)
    emergency = np.array([c.emergency for c in cases])
    for c in (16.0, 64.0):
        emergency_probability = {}
        for name, (start, end) in ROUNDS.items():
            model = fit_probe(*probe_data(cases[:start], vectors[:start], encoder), c)
            benign = list(model.classes_).index(BENIGN)
            scored = case_features(cases[start:end], vectors[start:end])
            emergency_probability[name] = 1 - model.predict_proba(scored)[:, benign]
        for threshold in (0.5, 0.6, 0.7, 0.8):
            cells = []
            for name, (start, end) in ROUNDS.items():
                fired = (emergency_probability[name] >= threshold) & ~guard[start:end]
                truth = emergency[start:end]
                cells.append(f"{name} {fired[truth].mean():.1%} / {fired[~truth].mean():.1%}")
            print(f"C {c:g}, threshold {threshold}: " + " | ".join(cells), flush=True)


def _compact(value: float) -> float | int:
    """A weight rounded to 4 decimals; exact zeros (n-gram columns no training text hashes to) written as 0."""
    rounded = round(float(value), 4)
    return 0 if rounded == 0 else rounded


def train_probe(cases: list[Case], vectors: np.ndarray, encoder: Encoder) -> None:
    """Fit on the whole tuning half and the exemplars; replace this model's line in probes.jsonl."""
    model = fit_probe(*probe_data(cases, vectors, encoder))
    line = {
        "model": encoder.ref.name,
        "fingerprint": encoder.ref.fingerprint,
        "classes": [str(c) for c in model.classes_],
        "weights": [[_compact(v) for v in row] for row in model.coef_],
        "bias": [round(float(v), 5) for v in model.intercept_],
        "threshold": PROBE_THRESHOLD,
        "mild_override": PROBE_MILD_OVERRIDE,
        "margin_floor": PROBE_MARGIN_FLOOR,
        "text_features": TEXT_FEATURES.as_json(),
        "note": f"benchmarks/safety.py --train-probe: multinomial logistic regression over the query vector and "
        f"hashed n-grams, C {PROBE_C:g}, balanced classes, {len(cases)} tuning lines + "
        f"{len(SEMANTIC.exemplars)} exemplars",
    }
    kept = []
    if PROBES_FILE.is_file():
        kept = [row for row in PROBES_FILE.read_text(encoding="utf-8").splitlines() if row.strip()]
        kept = [row for row in kept if json.loads(row).get("model", "").lower() != encoder.ref.name.lower()]
    PROBES_FILE.write_text("\n".join([*kept, json.dumps(line)]) + "\n", encoding="utf-8")
    print(f"wrote the probe for {encoder.ref.name} to {PROBES_FILE}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=[*HALVES, "both"], default="both")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument(
        "--calibrate", action="store_true", help="grid-search the tuning half and print a line"
    )
    parser.add_argument("--probe-rounds", action="store_true", help="score the classifier round by round")
    parser.add_argument(
        "--train-probe", action="store_true", help="fit the classifier and write probes.jsonl"
    )
    args = parser.parse_args()
    encoder = Encoder(args.model)
    print(f"model {encoder.key}")
    tuning_only = args.calibrate or args.probe_rounds or args.train_probe
    halves = ["tuning"] if tuning_only else list(HALVES) if args.half == "both" else [args.half]
    for name in halves:
        cases = load_half(HALVES[name])
        vectors = np.vstack([encoder.encode_query(c.query) for c in cases])
        if tuning_only:
            task = calibrate if args.calibrate else probe_rounds if args.probe_rounds else train_probe
            task(cases, vectors, encoder)
            return 0
        report(name, cases, vectors, encoder)
        if name == halves[-1]:
            latency(cases, vectors, encoder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
