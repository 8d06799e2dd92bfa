"""Search modes, result contracts and filters on the sample library index."""

from __future__ import annotations

import itertools
import sqlite3
import time
from pathlib import Path

import pytest

from healthsearch.embedding import Encoder
from healthsearch.errors import HealthsearchError
from healthsearch.search import Result, Searcher, close_when_idle

HEEL = {"plantar-fasciitis", "achilles-tendinitis", "heel-spurs", "achilles-tendon-rupture"}


@pytest.fixture(scope="module")
def searcher(sample_index: Path) -> Searcher:
    return Searcher.open(sample_index)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_heel_pain_finds_a_heel_article_first(searcher: Searcher, mode: str) -> None:
    results = searcher.search("heel pain after running", k=10, mode=mode)
    assert results[0].article_id in HEEL
    assert [r.rank for r in results] == list(range(1, 11))
    assert len({r.passage_id for r in results}) == len(results)
    assert all(a.score >= b.score for a, b in itertools.pairwise(results))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("burning when I pee", "urinary-tract-infection"),
        ("face drooping and slurred speech", "stroke"),
        ("can't fall asleep and wake up at 3am", "insomnia"),
        ("outside of my elbow hurts when I grip things", "tennis-elbow"),
    ],
)
def test_consumer_wording_reaches_the_right_article(searcher: Searcher, query: str, expected: str) -> None:
    top3 = [r.article_id for r in searcher.search(query, k=3)]
    assert expected in top3


def test_result_carries_the_contract_fields(searcher: Searcher) -> None:
    result = searcher.search("gout big toe", k=1)[0]
    assert isinstance(result, Result)
    record = result.to_dict()
    for key in ("rank", "score", "article_id", "title", "section", "passage_id", "text", "url"):
        assert key in record
    assert result.best_sentence in result.text


def test_tag_filter_still_fills_the_page(searcher: Searcher) -> None:
    results = searcher.search("heel pain after running", k=10, tags=["mental-health"])
    assert len(results) == 10
    assert all("mental-health" in r.tags for r in results)


@pytest.mark.parametrize(
    "text", ['"AND OR NEAR(', "'; DROP TABLE passages; --", "***", "🦶🔥", "NOT", "a" * 10_000]
)
def test_lexical_never_raises_on_user_text(searcher: Searcher, text: str) -> None:
    assert isinstance(searcher.search(text, k=3, mode="lexical"), list)


def test_bad_arguments_are_clear_errors(searcher: Searcher) -> None:
    with pytest.raises(HealthsearchError, match="empty"):
        searcher.search("   ")
    with pytest.raises(HealthsearchError, match="at least 1"):
        searcher.search("gout", k=0)
    with pytest.raises(HealthsearchError, match="unknown mode"):
        searcher.search("gout", mode="fuzzy")


def test_huge_k_is_capped(searcher: Searcher) -> None:
    results = searcher.search("knee pain", k=10**9, mode="lexical")
    assert 0 < len(results) <= searcher.counts["passages"]


def test_a_replaced_searcher_closes_after_its_grace_period(sample_index: Path, encoder: Encoder) -> None:
    replaced = Searcher.open(sample_index, encoder=encoder)
    close_when_idle(replaced, grace_seconds=5.0)
    assert replaced.search("heel pain", k=1)  # still answers during the grace period
    time.sleep(6.0)
    with pytest.raises(sqlite3.ProgrammingError):
        replaced.search("heel pain", k=1, mode="lexical")
