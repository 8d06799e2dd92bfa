"""Best-matching sentence and query-term marks, rendered as escaped HTML."""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass

from .chunking import split_sentences
from .lexical import stem_words
from .query import query_terms

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Highlight:
    """Character spans in a passage: the best sentence and each word that matches a query term."""

    sentence: tuple[int, int]
    terms: list[tuple[int, int]]


def _stems(words: list[str]) -> list[str]:
    return stem_words(words)


def find_highlight(text: str, query: str) -> Highlight:
    """The sentence sharing most query stems (first sentence on a tie) and all matching word spans."""
    wanted = set(_stems(query_terms(query)))
    words = list(_WORD.finditer(text))
    stems = _stems([m.group() for m in words])
    terms = [(m.start(), m.end()) for m, s in zip(words, stems, strict=True) if s in wanted]
    sentences = _sentence_spans(text)

    def overlap(span: tuple[int, int]) -> int:
        return len({stems[i] for i, m in enumerate(words) if span[0] <= m.start() < span[1]} & wanted)

    return Highlight(max(sentences, key=overlap), terms)


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentences within each line, so a list item is never fused with the line that leads into it."""
    spans, offset = [], 0
    for line in text.split("\n"):
        spans += [(offset + s, offset + e) for s, e in split_sentences(line) if line[s:e].strip()]
        offset += len(line) + 1
    return spans or [(0, len(text))]


def best_sentence(text: str, query: str) -> str:
    """The text of the best-matching sentence."""
    start, end = find_highlight(text, query).sentence
    return text[start:end].strip()


def to_html(text: str, query: str) -> str:
    """Escaped passage HTML: the best sentence in <strong>, query terms in <mark>, line breaks kept."""
    marks = find_highlight(text, query)
    cuts = sorted({0, len(text), *marks.sentence, *(p for span in marks.terms for p in span)})
    pieces = []
    for start, end in itertools.pairwise(cuts):
        piece = html.escape(text[start:end]).replace("\n", "<br>")
        if any(s <= start and end <= e for s, e in marks.terms):
            piece = f"<mark>{piece}</mark>"
        if marks.sentence[0] <= start and end <= marks.sentence[1]:
            piece = f"<strong>{piece}</strong>"
        pieces.append(piece)
    return "".join(pieces)
