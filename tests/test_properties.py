"""Property tests (hypothesis): readers, chunking and query handling never fail on arbitrary input."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthsearch.chunking import chunk_article
from healthsearch.config import ChunkerSettings
from healthsearch.documents import Article, Section
from healthsearch.highlight import to_html
from healthsearch.ingest import READERS
from healthsearch.ingest.base import ReadError
from healthsearch.lexical import LexicalIndex, build
from healthsearch.query import clean_query
from healthsearch.safety import detect_emergency

WORDS = st.sampled_from(
    [
        "heel",
        "pain",
        "Rest",
        "helps.",
        "Dr.",
        "e.g.",
        "-",
        "•",
        "1.",
        "?",
        "\n",
        "\n\n",
        "  ",
        "Causes:",
        "**bold**",
        "<b>",
        "&amp;",
        "é",
        "日本",
        "😀",
        "...",
        "x" * 300,
    ]
)
PROSE = st.lists(WORDS, max_size=400).map(" ".join) | st.text(max_size=2000)


@settings(max_examples=200, deadline=None)
@given(sections=st.lists(st.tuples(st.text(max_size=40), PROSE), max_size=5))
def test_chunking_passages_are_nonempty_bounded_and_verbatim(sections: list[tuple[str, str]]) -> None:
    article = Article(id="a", title="T", sections=[Section(h, t) for h, t in sections])
    passages = chunk_article(article)
    limit = ChunkerSettings().max_words
    for passage in passages:
        assert passage.text.strip()
        assert passage.text in article.full_text()
        assert len(passage.text.split()) <= limit
    assert [p.ordinal for p in passages] == list(range(len(passages)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suffix=st.sampled_from(sorted(READERS)), content=st.binary(max_size=3000) | PROSE.map(str.encode))
def test_readers_return_articles_or_a_read_error(suffix: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"doc{suffix}"
        path.write_bytes(content)
        try:
            result = READERS[suffix](path)
        except ReadError as exc:
            assert str(exc)
            return
        for article in result.articles:
            assert article.id and article.sections
            assert all(section.text.strip() for section in article.sections)
            for passage in chunk_article(article):
                assert passage.text.strip() and passage.text in article.full_text()


_LEXICAL_DIR = Path(tempfile.mkdtemp()) / "lexical"
build(
    [(3, "Heel pain", "", "Heel pain after running."), (9, "Gout", "Causes", "Uric acid crystals.")],
    _LEXICAL_DIR,
)
_LEXICAL = LexicalIndex.load(_LEXICAL_DIR)


@settings(max_examples=300, deadline=None)
@given(query=st.text(max_size=3000))
def test_query_handling_never_raises(query: str) -> None:
    cleaned = clean_query(query)
    assert len(cleaned.text) <= 500
    for passage_id, score in _LEXICAL.search(cleaned.text, 5):
        assert passage_id in (3, 9) and score > 0
    detect_emergency(query)
    html = to_html("Some <script>alert(1)</script> passage text.", query)
    assert "<script>" not in html
