"""Query normalisation, query terms, consumer-question cleaning and fusion."""

from __future__ import annotations

import pytest

from healthsearch.fusion import best_of, rrf
from healthsearch.query import clean_consumer_question, clean_query, query_terms


def test_clean_query_cuts_at_a_word_boundary() -> None:
    cleaned = clean_query("knee pain " * 200)
    assert cleaned.truncated and len(cleaned.text) <= 500 and cleaned.text.endswith(("knee", "pain"))
    assert clean_query("  heel\n\tpain ") == clean_query("heel pain")


def test_query_terms_drop_stopwords_and_punctuation() -> None:
    assert query_terms('What is "AND" OR NEAR( heel-pain? heel') == ["near", "heel", "pain"]
    assert query_terms("the of and") == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("general health. How do you catch hepatitis?", "How do you catch hepatitis?"),
        (
            "Hi I have heard calcium needs magnesium. Thank you very much",
            "I have heard calcium needs magnesium",
        ),
        ("Swan NDC 0869-0871-43. How do I dispose of peroxide?", "Swan . How do I dispose of peroxide?"),
        ("Re: shingles at work", "shingles at work"),
        ("thanks", "thanks"),
    ],
)
def test_clean_consumer_question(raw: str, expected: str) -> None:
    assert clean_consumer_question(raw) == expected


def test_fusions_order_and_weights() -> None:
    dense, lexical = [(1, 0.9), (2, 0.8), (3, 0.1)], [(2, 12.0), (3, 11.0)]
    assert [i for i, _ in rrf([dense, lexical])][:1] == [2]
    assert best_of([[(1, 0.2), (2, 0.5)], [(1, 0.7)]]) == [(1, 0.7), (2, 0.5)]
    with pytest.raises(ValueError, match="one weight per ranking"):
        rrf([dense], weights=[1.0, 2.0])
