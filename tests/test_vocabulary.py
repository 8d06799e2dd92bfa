"""Everyday → clinical expansion."""

from __future__ import annotations

from healthsearch.vocabulary import clinical_terms


def test_everyday_words_gain_clinical_terms() -> None:
    assert "urinate" in clinical_terms("it stings when I pee")
    assert "burning" in clinical_terms("it stings when I pee")
    assert "diarrhea" in clinical_terms("one week blocked up, the next it's the runs")
    assert "constipation" in clinical_terms("one week blocked up, the next it's the runs")
    assert clinical_terms("Plantar fasciitis treatment") == ""


def test_longest_phrase_wins_and_terms_are_not_repeated() -> None:
    terms = clinical_terms("high blood pressure and high blood pressure again")
    assert terms == "hypertension"
    assert clinical_terms("PEE pee Pee").split().count("urine") == 1
