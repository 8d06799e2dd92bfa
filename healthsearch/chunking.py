"""Article → Passages: heading-aware, sentence-bounded windows with a small overlap.

Every passage is a contiguous slice of one section's text, so it always occurs verbatim in its article.
Bullet lists stay with the sentence that leads into them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from .config import ChunkerSettings
from .documents import Article, Passage
from .ingest.base import is_bullet

# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space and a capital, digit or quote.
_SENTENCE_END = re.compile(
    r"(?<!\b[A-Z])(?<!\be\.g)(?<!\bi\.e)(?<!\bDr)(?<!\bvs)(?<!\bSt)[.!?]+[\"')\]]*\s+(?=[\"'(\[A-Z0-9])"
)
_BLOCK_BREAK = re.compile(r"\n\s*\n")
_WORD = re.compile(r"\S+")
DEFAULT_CHUNKER = ChunkerSettings()


@dataclass(frozen=True)
class Unit:
    """A sentence or a whole list (with its lead-in): [start, end) offsets in the section text."""

    start: int
    end: int
    words: int


def chunk_article(article: Article, settings: ChunkerSettings = DEFAULT_CHUNKER) -> list[Passage]:
    """Cut every section of an article into passages, numbered in reading order."""
    passages: list[Passage] = []
    for section in article.sections:
        for start, end in _windows(list(_units(section.text, settings.max_words)), settings):
            text = section.text[start:end].strip()
            if text:
                passages.append(Passage(article.id, len(passages), section.heading, text, article.title))
    return passages


def _units(text: str, max_words: int) -> Iterator[Unit]:
    """Sentences of prose blocks, whole lists with their lead-in, over-long pieces split by words."""
    for start, end in _blocks_with_lists(text):
        block = text[start:end]
        pieces = [(start, end)] if is_list_block(block) else list(_sentences(block, start))
        for piece_start, piece_end in pieces:
            yield from _split_long(text, piece_start, piece_end, max_words)


def _blocks_with_lists(text: str) -> Iterator[tuple[int, int]]:
    """Blank-line blocks, where a block ending in ':' is merged with the lists that follow it."""
    spans = _block_spans(text)
    i = 0
    while i < len(spans):
        start, end = spans[i]
        if text[start:end].rstrip().endswith(":") or is_list_block(text[start:end]):
            while i + 1 < len(spans) and is_list_block(text[spans[i + 1][0] : spans[i + 1][1]]):
                i += 1
                end = spans[i][1]
        yield start, end
        i += 1


def _block_spans(text: str) -> list[tuple[int, int]]:
    spans, position = [], 0
    for match in _BLOCK_BREAK.finditer(text):
        spans.append((position, match.start()))
        position = match.end()
    spans.append((position, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def is_list_block(block: str) -> bool:
    """True when most lines of a block are list items (a lead-in line may precede them)."""
    lines = [line for line in block.split("\n") if line.strip()]
    bullets = sum(1 for line in lines if is_bullet(line))
    return bullets >= 1 and bullets >= len(lines) - 1


def split_sentences(text: str) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences of a piece of prose."""
    return list(_sentences(text, 0))


def _sentences(block: str, offset: int) -> Iterator[tuple[int, int]]:
    start = 0
    for match in _SENTENCE_END.finditer(block):
        yield offset + start, offset + match.end()
        start = match.end()
    if block[start:].strip():
        yield offset + start, offset + len(block)


def _split_long(text: str, start: int, end: int, max_words: int) -> Iterator[Unit]:
    """Yield the piece as one Unit, or as word-bounded slices of at most ``max_words``."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    for i in range(0, len(words), max_words):
        group = words[i : i + max_words]
        if group:
            yield Unit(group[0][0], group[-1][1], len(group))


def _windows(units: list[Unit], settings: ChunkerSettings) -> Iterator[tuple[int, int]]:
    """Greedy windows of whole units near ``target_words``; the next window repeats the last sentences."""
    i = 0
    while i < len(units):
        j, words = i, 0
        while j < len(units) and (j == i or words + units[j].words <= settings.max_words):
            words += units[j].words
            j += 1
            if words >= settings.target_words:
                break
        if j < len(units) and sum(u.words for u in units[j:]) < settings.min_words // 3:
            j = len(units) if sum(u.words for u in units[i:]) <= settings.max_words else j
        yield units[i].start, units[j - 1].end
        if j >= len(units):
            return
        i = max(i + 1, j - settings.overlap_sentences) if units[j - 1].words < settings.min_words // 2 else j


HEAD_CHARS = 2000


def head_text(article: Article, passages: list[Passage]) -> str | None:
    """What one whole-article vector embeds (title, summary or first heading, the start of the text).

    None when the article has a single passage, whose own vector already covers it.
    """
    if len(passages) < 2:
        return None
    lead = article.summary or article.sections[0].heading
    head = article.title if not lead else f"{article.title}. {lead}"
    return f"{head}\n{article.full_text()[:HEAD_CHARS]}"
