"""Metrics against hand-computed values, and the dev-set quality gate on the sample library."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from healthsearch.cli import main
from healthsearch.evaluate import hit, ndcg, recall, reciprocal_rank

from .conftest import REPO

JUDGED = {"a": 2, "b": 1, "c": 0}


def test_ndcg_matches_hand_computation() -> None:
    ideal = 2 + 1 / math.log2(3)
    assert ndcg(["b", "x", "a"], JUDGED) == pytest.approx((1 + 2 / 2) / ideal)
    assert ndcg(["b", "x", "a"], JUDGED, condensed=True) == pytest.approx((1 + 2 / math.log2(3)) / ideal)
    assert ndcg(["a", "b"], JUDGED) == pytest.approx(1.0)


def test_rank_metrics() -> None:
    assert reciprocal_rank(["x", "b", "a"], JUDGED) == pytest.approx(0.5)
    assert reciprocal_rank(["x", "b", "a"], JUDGED, min_grade=2) == pytest.approx(1 / 3)
    assert recall(["a", "x"], JUDGED, k=2) == pytest.approx(0.5)
    assert hit(["x", "y", "z", "a"], JUDGED, k=3) == 0.0


def test_eval_command_on_sample_library_meets_the_hit_at_3_goal(
    sample_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "eval",
            "--index",
            str(sample_index),
            "--queries",
            str(REPO / "eval" / "dev-queries.jsonl"),
            "--qrels",
            str(REPO / "eval" / "dev-qrels.tsv"),
            "--json",
        ]
    )
    metrics = json.loads(capsys.readouterr().out)
    assert code == 0 and metrics["queries"] >= 40
    assert metrics["hit@3"] >= 0.95
    assert {"ndcg@10", "recall@10", "mrr@10"} <= set(metrics)
