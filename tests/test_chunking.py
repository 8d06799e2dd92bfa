"""Heading-aware, sentence-bounded passages."""

from __future__ import annotations

from healthsearch.chunking import chunk_article
from healthsearch.config import ChunkerSettings
from healthsearch.documents import Article, Section


def article(*sections: Section) -> Article:
    return Article(id="a", title="Test Article", sections=list(sections))


def sentence(i: int) -> str:
    return f"Sentence number {i} talks about tendons and the heel in plain words for readers."


def test_each_passage_keeps_title_and_section() -> None:
    passages = chunk_article(
        article(Section("Causes", "Overuse. Injury."), Section("Treatment", "Rest helps."))
    )
    assert [(p.section, p.title) for p in passages] == [
        ("Causes", "Test Article"),
        ("Treatment", "Test Article"),
    ]
    assert passages[0].embedding_text() == "Test Article. Causes\nOveruse. Injury."


def test_long_section_splits_into_bounded_overlapping_windows() -> None:
    text = " ".join(sentence(i) for i in range(80))
    passages = chunk_article(article(Section("Long", text)))
    settings = ChunkerSettings()
    assert len(passages) > 5
    assert all(len(p.text.split()) <= settings.max_words for p in passages)
    assert all(len(p.text.split()) >= settings.min_words for p in passages[:-1])
    last_of_first = passages[0].text.split(". ")[-1]
    assert passages[1].text.startswith(last_of_first.rstrip("."))  # one sentence of overlap
    assert all(p.text in text for p in passages)


def test_sentence_without_punctuation_is_split_by_words() -> None:
    text = "word " * 1000
    passages = chunk_article(article(Section("", text)))
    assert all(len(p.text.split()) <= ChunkerSettings().max_words for p in passages)
    assert sum(len(p.text.split()) for p in passages) >= 1000


def test_bullets_stay_with_their_lead_in() -> None:
    text = "Common causes include:\n\n- running\n- jumping\n- tight calves\n\nRest usually helps."
    passages = chunk_article(article(Section("Causes", text)))
    assert passages[0].text.startswith("Common causes include:\n\n- running\n- jumping\n- tight calves")


def test_empty_article_gives_no_passages() -> None:
    assert chunk_article(article()) == []
    assert chunk_article(article(Section("Empty", "   "))) == []


def test_passages_are_numbered_in_reading_order() -> None:
    passages = chunk_article(article(Section("A", "One."), Section("B", "Two."), Section("C", "Three.")))
    assert [p.ordinal for p in passages] == [0, 1, 2]
