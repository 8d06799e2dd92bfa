"""Query spelling correction toward the library's own words."""

from __future__ import annotations

from healthsearch.spelling import Speller
from healthsearch.tune import read_library

from .conftest import REPO


def _library_speller() -> Speller:
    articles = read_library(REPO / "corpus")
    return Speller.from_texts(
        a.title + "\n" + "\n".join(f"{s.heading}\n{s.text}" for s in a.sections) for a in articles
    )


def test_misspellings_are_corrected_toward_library_words() -> None:
    speller = Speller.from_texts(["Metformin treats diabetes. Alzheimers disease affects memory."] * 5)
    result = speller.correct("Metforman for diabetis and alzhiemers")
    assert result.text == "Metformin for diabetes and alzheimers" and result.changed
    assert result.changes == [
        ("Metforman", "metformin"),
        ("diabetis", "diabetes"),
        ("alzhiemers", "alzheimers"),
    ]


def test_english_words_names_and_short_words_are_left_alone() -> None:
    speller = Speller.from_texts(["cancer treatment helps patients with rare tumours"] * 5)
    for query in ("dancer with sore knees", "HypoKit dose", "tumor", "cncr"):
        assert speller.correct(query).text == query and not speller.correct(query).changed


def test_sample_library_fixes_consumer_typos() -> None:
    speller = _library_speller()
    assert speller.correct("sholder pain when lifting").text == "shoulder pain when lifting"
    assert speller.correct("bad diarhea after travel").text == "bad diarrhea after travel"
    assert not speller.correct("heel pain after running").changed
