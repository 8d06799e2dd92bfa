"""The Streamlit page's states, driven by streamlit.testing.v1.AppTest over real indexes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from .conftest import REPO, write

pytestmark = pytest.mark.slow  # real pages, processes or model exports: outside the quick tier

APP = str(REPO / "search_app.py")


@pytest.fixture
def app_index(sample_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    monkeypatch.setenv("HEALTHSEARCH_INDEX", str(index))
    monkeypatch.setenv("HEALTHSEARCH_CORPUS", str(REPO / "corpus"))
    return index


def run_page(query: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    if query is not None:
        at.query_params["q"] = query
    return at.run()


def cards(at: AppTest) -> list[str]:
    return [h.value for h in at.get("html") if 'class="hs-card"' in h.value]


def texts(elements: object) -> str:
    return " ".join(str(e.value) for e in elements)  # type: ignore[attr-defined]


def test_no_query_shows_prompt_and_disclaimer(app_index: Path) -> None:
    at = run_page()
    assert not at.exception
    assert "not medical advice" in texts(at.caption)
    assert "Type a question" in texts(at.info)
    assert cards(at) == []


def test_url_query_runs_and_groups_results_by_article(app_index: Path) -> None:
    at = run_page("heel pain after running")
    assert not at.exception and at.text_input[0].value == "heel pain after running"
    found = cards(at)
    assert found and ("Achilles" in found[0] or "Plantar" in found[0] or "Heel" in found[0])
    assert "<mark>" in found[0]
    assert len([e for e in at.expander if e.label.startswith("More from this article")]) == len(found)
    assert any("passages from" in c and " ms" in c for c in (str(e.value) for e in at.caption))
    assert not at.error


def test_typing_a_query_updates_the_url(app_index: Path) -> None:
    at = run_page()
    at.text_input[0].input("itchy red patches on my skin").run()
    assert (
        at.query_params["q"] == ["itchy red patches on my skin"]
        or at.query_params["q"] == "itchy red patches on my skin"
    )
    assert cards(at)


def test_example_button_searches(app_index: Path) -> None:
    at = run_page()
    next(b for b in at.button if b.label == "burning when I pee").click().run()
    assert "Urinary" in cards(at)[0]


def test_no_results_in_keyword_mode(app_index: Path) -> None:
    at = run_page("qwxzv blorptangle")
    at.radio[0].set_value("Keyword").run()
    assert "No matching passages" in texts(at.warning)


def test_emergency_banner_above_results(app_index: Path) -> None:
    at = run_page("crushing chest pain spreading to my jaw and sweating")
    assert "emergency" in texts(at.error).lower()
    assert cards(at)


def test_self_harm_banner_gives_a_crisis_line(app_index: Path) -> None:
    at = run_page("i want to end my life")
    assert "988" in texts(at.error)


def test_a_self_harm_question_shows_the_quiet_support_line(app_index: Path) -> None:
    at = run_page("how can i support a friend who self harms")
    assert "988" in texts(at.info) and "emergency" not in texts(at.error).lower()


def test_tag_filter_keeps_only_tagged_articles(app_index: Path) -> None:
    at = run_page("pain when running")
    at.multiselect[0].set_value(["knee"]).run()
    found = cards(at)
    assert found and all('<span class="hs-tag">knee</span>' in card for card in found)


def test_whitespace_and_huge_queries(app_index: Path) -> None:
    at = run_page("   ")
    assert "Type a question" in texts(at.info)
    at = run_page("knee pain " * 1000)
    assert not at.exception and "first 500 characters" in texts(at.caption)


def test_no_index_and_empty_corpus_explains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "corpus").mkdir()
    monkeypatch.setenv("HEALTHSEARCH_INDEX", str(tmp_path / "index"))
    monkeypatch.setenv("HEALTHSEARCH_CORPUS", str(tmp_path / "corpus"))
    at = run_page()
    assert not at.exception and "library is empty" in texts(at.info)


def test_first_start_builds_the_index_and_markup_stays_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    write(
        corpus,
        "xss.md",
        """
        ---
        title: <img src=x onerror=alert(1)> Blister care
        url: javascript:alert(2)
        ---
        ## Care
        Keep a blister clean. <script>alert("pwned")</script> Cover a blister with a soft bandage.
        """,
    )
    monkeypatch.setenv("HEALTHSEARCH_INDEX", str(tmp_path / "index"))
    monkeypatch.setenv("HEALTHSEARCH_CORPUS", str(corpus))
    at = run_page("blister bandage")
    assert not at.exception and (tmp_path / "index" / "manifest.json").exists()
    card = cards(at)[0]
    assert "&lt;script&gt;" in card and "<script" not in card
    assert "&lt;img src=x onerror=alert(1)&gt;" in card and "<img" not in card
    assert "javascript:" not in card


def test_rebuild_button_picks_up_a_new_article(
    app_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    write(
        corpus,
        "frostbite.md",
        "# Frostbite\n\n## Overview\n\nFrostbite is skin and tissue frozen by cold, often fingers and toes.\n",
    )
    monkeypatch.setenv("HEALTHSEARCH_CORPUS", str(corpus))
    at = run_page("frozen fingers and toes in the cold")
    assert not any("Frostbite" in card for card in cards(at))
    next(b for b in at.button if b.label == "Rebuild index").click().run()
    assert not at.exception
    assert "Frostbite" in cards(at)[0]


@pytest.fixture
def small_app_index(
    small_model_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path]:
    """A copy of the 128-dimension, compact, fp32 index whose recorded corpus is a copy we can add to."""
    index, corpus = tmp_path / "index", tmp_path / "corpus"
    shutil.copytree(small_model_index, index)
    shutil.copytree(REPO / "corpus", corpus)
    manifest = json.loads((index / "manifest.json").read_text())
    manifest["corpus"] = str(corpus.resolve())  # as if it had been built from there
    (index / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("HEALTHSEARCH_INDEX", str(index))
    monkeypatch.delenv("HEALTHSEARCH_CORPUS", raising=False)
    return index, corpus


def test_page_serves_an_index_built_with_another_model(small_app_index: tuple[Path, Path]) -> None:
    at = run_page("heel pain after running")
    assert not at.exception and not at.error
    found = cards(at)
    assert found and any(name in found[0] for name in ("Achilles", "Plantar", "Heel"))
    assert "minilm-128" in texts(at.sidebar.markdown) and "compact" in texts(at.sidebar.markdown)


def test_page_rebuild_keeps_the_spec(small_app_index: tuple[Path, Path]) -> None:
    index, corpus = small_app_index
    before = json.loads((index / "manifest.json").read_text())
    write(
        corpus,
        "frostbite.md",
        "# Frostbite\n\n## Overview\n\nFrostbite is skin frozen by cold, often toes.\n",
    )
    at = run_page("frozen fingers and toes in the cold")
    next(b for b in at.button if b.label == "Rebuild index").click().run()
    assert not at.exception and not at.error
    after = json.loads((index / "manifest.json").read_text())
    assert after["generation"] == before["generation"] + 1 and after["spec"] == before["spec"]
    assert "Frostbite" in cards(at)[0]


def test_off_topic_query_shows_the_no_close_match_note(app_index: Path) -> None:
    at = run_page("xsscanary payload")
    assert "No close match in this library" in texts(at.warning)
    assert cards(at) and all("strong match" not in card for card in cards(at))


def test_emergency_banner_without_an_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "corpus").mkdir()
    monkeypatch.setenv("HEALTHSEARCH_INDEX", str(tmp_path / "index"))
    monkeypatch.setenv("HEALTHSEARCH_CORPUS", str(tmp_path / "corpus"))
    at = run_page("my dad collapsed and is not breathing")
    assert not at.exception and "emergency" in texts(at.error).lower()


def test_a_corrected_query_says_what_was_searched(app_index: Path) -> None:
    at = run_page("sholder pain when lifting")
    assert "Showing results for: shoulder pain when lifting" in texts(at.text)
    assert "Shoulder" in cards(at)[0] and "<mark>shoulder</mark>" in cards(at)[0].lower()
