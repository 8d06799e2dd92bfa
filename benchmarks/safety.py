"""Emergency-detector battery: recall and false alarms per half and per layer, and the semantic layer's cost.

    python benchmarks/safety.py                      # both halves, default model
    python benchmarks/safety.py --half tuning        # tuning half only (what tuning may look at)
    python benchmarks/safety.py --calibrate          # grid-search threshold/margin on the TUNING half only
    python benchmarks/safety.py --model NAME --calibrate   # a calibration line for another model

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

import numpy as np

from healthsearch.embedding import Encoder
from healthsearch.safety import SEMANTIC, detect_emergency, pattern_kind, semantic_kind
from healthsearch.safety_semantic import Calibration

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
HALVES = {"tuning": DATA / "safety-tuning.jsonl", "heldout": DATA / "safety-heldout.jsonl"}
MAX_TUNING_FALSE_ALARMS = 0.03


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
        print(f"{layer:9s} recall {recall:6.1%}  false alarms {false_alarms:5.1%}")
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
    """(threshold, margin) on the tuning half: most semantic-only recall with combined false alarms <= 3 %.

    The semantic layer is calibrated on its own recall, not the combined one, so that it keeps catching
    wordings the patterns miss even where the patterns already cover the tuning half.
    """
    original = dict(SEMANTIC.calibrations)
    model = encoder.ref.name.lower()
    best: tuple[float, float, float, float] | None = None
    detectors = layers(encoder)
    try:
        for threshold in np.arange(0.30, 0.80, 0.01):
            for margin in np.arange(-0.10, 0.15, 0.01):
                SEMANTIC.calibrations[model] = Calibration(float(threshold), float(margin))
                recall, _, _ = score(cases, vectors, detectors["semantic"])
                _, alarms, _ = score(cases, vectors, detectors["combined"])
                key = (recall, -alarms, float(threshold), float(margin))
                if alarms <= MAX_TUNING_FALSE_ALARMS and (best is None or key > best):
                    best = key
    finally:
        SEMANTIC.calibrations.clear()
        SEMANTIC.calibrations.update(original)
    if best is None:
        print("no calibration keeps combined tuning false alarms at or under 3 %")
        return
    recall, alarms, threshold, margin = best
    print(
        f"\ncalibration on the tuning half: semantic recall {recall:.1%}, combined false alarms {-alarms:.1%}"
    )
    line = {"model": encoder.ref.name, "threshold": round(threshold, 2), "margin": round(margin, 2)}
    print(json.dumps(line))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=[*HALVES, "both"], default="both")
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument(
        "--calibrate", action="store_true", help="grid-search the tuning half and print a line"
    )
    args = parser.parse_args()
    encoder = Encoder(args.model)
    print(f"model {encoder.key}")
    halves = ["tuning"] if args.calibrate else list(HALVES) if args.half == "both" else [args.half]
    for name in halves:
        cases = load_half(HALVES[name])
        vectors = np.vstack([encoder.encode_query(c.query) for c in cases])
        if args.calibrate:
            calibrate(cases, vectors, encoder)
            return 0
        report(name, cases, vectors, encoder)
        if name == halves[-1]:
            latency(cases, vectors, encoder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
