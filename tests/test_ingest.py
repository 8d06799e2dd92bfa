"""Every reader on small fixtures, plus the ways a file can be unreadable."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from healthsearch.errors import CorpusError
from healthsearch.ingest import CorpusFile, list_corpus_files, read_file
from healthsearch.ingest.medquad import read_medquad

from .conftest import DATA, SHARED, needs_shared, write


def read(path: Path):
    stat = path.stat()
    return read_file(CorpusFile(path, path.name, stat.st_size, stat.st_mtime_ns))


def test_markdown_front_matter_and_headings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "heel-pain.md",
        """
        ---
        title: Heel Pain
        summary: Why heels hurt.
        tags: [foot, pain]
        url: https://example.org/heel
        source: Test Clinic
        ---
        # Heel Pain

        Intro paragraph about **heel pain** and a [link](https://example.org).

        ## Causes

        Running on hard ground.

        ## Treatment

        Rest and ice.
        """,
    )
    article = read(path).articles[0]
    assert (article.id, article.title, article.url, article.source) == (
        "heel-pain",
        "Heel Pain",
        "https://example.org/heel",
        "Test Clinic",
    )
    assert article.tags == ["foot", "pain"]
    assert [s.heading for s in article.sections] == ["", "Causes", "Treatment"]
    assert article.sections[0].text == "Intro paragraph about heel pain and a link."


def test_markdown_without_front_matter_takes_h1_title(tmp_path: Path) -> None:
    article = read(write(tmp_path, "x.md", "# Gout Basics\n\nGout is a form of arthritis.\n")).articles[0]
    assert article.title == "Gout Basics"
    assert article.sections[0].text == "Gout is a form of arthritis."


def test_plain_text_headings_and_boilerplate() -> None:
    article = read(DATA / "scraped-page.txt").articles[0]
    assert article.title == "Everything You Need to Know About Tennis Elbow"
    assert [s.heading for s in article.sections] == [
        "",
        "What Causes Tennis Elbow?",
        "How Is Tennis Elbow Treated?",
    ]
    text = article.full_text()
    for junk in ("Leave a Reply", "Recommended Articles", "email address", "Video Tennis"):
        assert junk not in text
    assert "• Racket sports" in article.sections[1].text


def test_html_keeps_article_body_only() -> None:
    article = read(DATA / "messy-page.html").articles[0]
    assert article.title == "Shin Splints: Why Your Lower Legs Hurt When You Run"
    assert article.url == "https://health.example.org/shin-splints"
    assert [s.heading for s in article.sections] == [
        "",
        "What causes shin splints?",
        "How to feel better",
        "When to see a doctor",
    ]
    text = article.full_text()
    for junk in (
        "cookies",
        "SECRET_TRACKING",
        "Conditions",
        "superfoods",
        "Share this",
        "Related",
        "Leave a Reply",
        "All rights reserved",
        "injected",
        "Privacy",
    ):
        assert junk not in text
    assert "- Running more miles or more often than before\n- Hard or sloping" in article.sections[1].text


def test_jsonl_good_lines_count_and_bad_lines_warn() -> None:
    result = read(DATA / "library.jsonl")
    assert [a.id for a in result.articles] == ["jl-hiccups", "jl-sunburn"]
    assert result.articles[1].tags == ["skin", "sun"]
    assert len(result.warnings) == 3
    assert all("library.jsonl:" in w for w in result.warnings)


def test_medquad_pairs_become_articles() -> None:
    articles = read_medquad(DATA / "medquad-sample.xml").articles
    assert [a.id for a in articles] == ["TestSource_0000042_Sec1", "TestSource_0000042_Sec2"]
    first = articles[0]
    assert first.title == "Hiccups"
    assert first.sections[0].heading == "What is (are) Hiccups ?"
    assert first.aliases == ["Singultus", "Hiccough"]
    assert "\n- eating too fast\n- fizzy drinks" in first.sections[0].text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "empty file"),
        ("blank.txt", b"   \n\n  ", "only whitespace"),
        ("binary.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary file"),
        ("latin1.md", "Caf\xe9 fever".encode("latin-1"), "not UTF-8"),
        ("bad-front.md", b"---\ntitle: [unclosed\n---\nBody text here.\n", "malformed front matter"),
        ("bad.xml", b"<Document id='1' source='X'><Focus>oops</Document>", "malformed XML"),
        ("notmedquad.xml", b"<rss><channel/></rss>", "not a MedQuAD"),
        ("lines.jsonl", b"{not json}\n", "no valid article lines"),
    ],
)
def test_unreadable_files_are_skipped_with_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    outcome = read(path)
    assert outcome.articles == []
    assert reason in outcome.skipped


def test_corpus_walk_skips_links_out_of_the_corpus_and_loops(tmp_path: Path) -> None:
    corpus, outside = tmp_path / "corpus", tmp_path / "secret"
    write(corpus, "a.md", "# A\n\nText.")
    write(outside, "private.md", "# Private\n\nDo not index.")
    os.symlink(outside, corpus / "link-out")
    os.symlink(outside / "private.md", corpus / "private.md")
    os.symlink(corpus, corpus / "loop")
    names = [f.relative for f in list_corpus_files(corpus)]
    assert names == ["a.md"]


def test_missing_corpus_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        list_corpus_files(tmp_path / "nope")


@needs_shared
def test_seed_page_becomes_clean_titled_sections(tmp_path: Path) -> None:
    path = tmp_path / "leg-tendon-calcification.txt"
    shutil.copy(SHARED / "seed" / "leg-tendon-calcification.txt", path)
    article = read(path).articles[0]
    headings = [s.heading for s in article.sections]
    assert "What Causes Leg Tendon Calcification?" in headings
    assert "How Is Leg Tendon Calcification Treated?" in headings
    text = article.full_text()
    for junk in (
        "Leave a Reply",
        "Recommended Articles",
        "email address",
        "Video Calcific",
        "Required fields",
    ):
        assert junk not in text
