"""Calibrate the relevance cue: passage similarity of labelled answers against off-topic queries.

    python benchmarks/relevance.py [--index DIR]

For the dev and held-out sample-library queries it prints the similarity of the best passage of each query's
grade-2 answer in the top 10 (which must read as a match), and for the off-topic queries the best similarity
of any result (which must fall below the close-match cut-off). Then it counts how the current cut-offs in
healthsearch/relevance.py sort both groups.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from healthsearch.answer import answer  # noqa: E402
from healthsearch.build import build_index  # noqa: E402
from healthsearch.config import BuildSettings  # noqa: E402
from healthsearch.evaluate import load_qrels, load_queries  # noqa: E402
from healthsearch.relevance import CLOSE_MATCH, match_level  # noqa: E402
from healthsearch.search import Searcher  # noqa: E402

EVAL = REPO / "eval"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", type=Path, default=REPO / "benchmarks/.cache/relevance/index")
    args = parser.parse_args()
    build_index(BuildSettings(corpus=REPO / "corpus", index=args.index, progress=False))
    searcher = Searcher.open(args.index)
    answers = []
    for name in ("dev", "heldout"):
        queries = load_queries(EVAL / f"{name}-queries.jsonl")
        qrels = load_qrels(EVAL / f"{name}-qrels.tsv")
        for qid, text in queries.items():
            found = answer(searcher, text)
            wanted = {doc for doc, grade in qrels.get(qid, {}).items() if grade >= 2}
            best = max((r.similarity or 0.0 for r in found.results if r.article_id in wanted), default=None)
            answers.append((f"{name}/{qid}", best, found.close_match))
    offtopic = []
    for qid, text in load_queries(EVAL / "offtopic-queries.jsonl").items():
        found = answer(searcher, text)
        offtopic.append(
            (qid, max((r.similarity or 0.0 for r in found.results), default=0.0), found.close_match, text)
        )
    shown = [s for _, s, _ in answers if s is not None]
    print(f"labelled queries: {len(answers)}; answer in the top 10: {len(shown)}")
    print(
        f"  answer similarity: min {min(shown):.3f}  p5 {_quantile(shown, 0.05):.3f}  median {statistics.median(shown):.3f}"
    )
    print(
        f"  answer shown as a match (similarity >= {CLOSE_MATCH}): {sum(s >= CLOSE_MATCH for s in shown)} of {len(shown)}"
    )
    print(f"  queries with close_match: {sum(c for *_, c in answers)} of {len(answers)}")
    for qid, s, _ in sorted(answers, key=lambda a: a[1] if a[1] is not None else -1)[:5]:
        print(
            f"    lowest: {qid} answer similarity {s} -> {match_level(s)[1] if s is not None else 'not in top 10'}"
        )
    best = [s for _, s, _, _ in offtopic]
    print(
        f"off-topic queries: {len(offtopic)}; best similarity max {max(best):.3f} median {statistics.median(best):.3f}"
    )
    print(f"  got the 'No close match' note: {sum(not c for _, _, c, _ in offtopic)} of {len(offtopic)}")
    for qid, s, close, text in sorted(offtopic, key=lambda o: -o[1])[:5]:
        print(f"    highest: {qid} {s:.3f} close_match={close} {text!r}")
    return 0


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


if __name__ == "__main__":
    raise SystemExit(main())
