"""BM25 per field with bm25s: ranking, stemming, field weights, empty fields and damaged files."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from healthsearch.errors import IndexProblem
from healthsearch.lexical import LexicalIndex, build

ROWS = [
    (11, "Plantar fasciitis", "Symptoms", "Sharp heel pain with the first steps in the morning."),
    (12, "Plantar fasciitis", "Treatment", "Rest, ice and stretching the calf help most people."),
    (40, "Gout", "Causes", "Uric acid crystals collect in a joint, often the big toe."),
    (77, "Running injuries", "", "Runners often feel pain in the knee, shin or heel after long runs."),
]


def index(tmp_path: Path, rows: list[tuple[int, str, str, str]] = ROWS) -> LexicalIndex:
    build(rows, tmp_path / "lexical")
    return LexicalIndex.load(tmp_path / "lexical")


def test_ranks_passage_ids_by_bm25_with_stemming(tmp_path: Path) -> None:
    lexical = index(tmp_path)
    found = lexical.search("heel pain after running", 10)
    assert found[0][0] == 77  # "running" matches "runs"/"Runners" through the Porter stemmer
    assert {i for i, _ in found} == {11, 77}
    assert all(a[1] >= b[1] > 0 for a, b in pairwise(found))
    assert lexical.search("uric crystals", 10)[0][0] == 40


def test_field_weights_lift_title_matches(tmp_path: Path) -> None:
    rows = [(1, "Gout", "", "A note about diet."), (2, "Diet", "", "Gout can flare after a heavy meal.")]
    lexical = index(tmp_path, rows)
    assert lexical.search("gout", 2, weights=(2.0, 1.5, 1.0))[0][0] == 1
    assert [i for i, _ in lexical.search("gout", 2, weights=(0.0, 0.0, 1.0))] == [2]


def test_limit_unknown_words_and_stopwords(tmp_path: Path) -> None:
    lexical = index(tmp_path)
    assert len(lexical.search("heel pain gout toe calf", 2)) == 2
    assert lexical.search("xylophone", 10) == []
    assert lexical.search("the of and what is", 10) == []
    assert lexical.search("", 10) == []


def test_fields_empty_everywhere_and_empty_libraries(tmp_path: Path) -> None:
    no_sections = [(1, "Gout", "", "Uric acid."), (2, "Asthma", "", "Wheezing and cough.")]
    assert index(tmp_path / "a", no_sections).search("wheezing", 5)[0][0] == 2
    assert index(tmp_path / "b", []).search("wheezing", 5) == []


def test_damaged_files_give_a_clear_error(tmp_path: Path) -> None:
    index(tmp_path)
    (tmp_path / "lexical" / "text" / "vocab.index.json").write_text("{broken")
    with pytest.raises(IndexProblem, match="damaged"):
        LexicalIndex.load(tmp_path / "lexical")
    with pytest.raises(IndexProblem, match="missing"):
        LexicalIndex.load(tmp_path / "nowhere")
