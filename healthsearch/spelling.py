"""Correct misspelled query words toward the library's own vocabulary ("metforman" → "metformin").

A word is corrected only when it is not a mixed-case name ("HypoKit"), neither in the library nor an English word (symspellpy's English frequency
list guards "dancer" from becoming "cancer"), has at least five letters, and a library word that occurs at least
five times lies within one edit (two for words of seven letters or more). The most frequent of the closest such
words wins. Candidate search is symspellpy's symmetric-delete lookup.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

MIN_LETTERS = 5
MIN_COUNT = 5
_WORD = re.compile(r"[A-Za-z]+")
_ENGLISH_LIST = "frequency_dictionary_en_82_765.txt"


@dataclass(frozen=True)
class Correction:
    """The query as searched, whether anything changed, and each (written, corrected) word."""

    text: str
    changed: bool
    changes: list[tuple[str, str]] = field(default_factory=list)


class Speller:
    """Spelling correction over one library's word counts."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        from symspellpy import SymSpell

        self.counts = counts
        self._lookup = SymSpell(max_dictionary_edit_distance=2)
        for word, count in counts.items():
            if count >= MIN_COUNT and len(word) >= MIN_LETTERS - 1:
                self._lookup.create_dictionary_entry(word, count)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Speller:
        """A speller over the words of the library's passages (titles and headings included)."""
        return cls(word_counts(texts))

    def correct(self, query: str) -> Correction:
        """The query with misspelled words replaced (case kept where the word was capitalised)."""
        changes: list[tuple[str, str]] = []

        def fix(match: re.Match[str]) -> str:
            written = match.group(0)
            better = None if any(c.isupper() for c in written[1:]) else self.suggest(written.lower())
            if better is None:
                return written
            changes.append((written, better))
            return better.capitalize() if written[0].isupper() else better

        text = _WORD.sub(fix, query)
        return Correction(text, bool(changes), changes)

    def suggest(self, word: str) -> str | None:
        """The library word this one is a misspelling of, or None."""
        if len(word) < MIN_LETTERS or word in self.counts or word in english_words():
            return None
        from symspellpy import Verbosity

        distance = 2 if len(word) >= 7 else 1
        found = self._lookup.lookup(word, Verbosity.ALL, max_edit_distance=distance)
        if not found:
            return None
        best = min(found, key=lambda s: (s.distance, -s.count))
        return str(best.term)


def word_counts(texts: Iterable[str]) -> Counter[str]:
    """How often each lowercase word occurs in ``texts``."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(word.lower() for word in _WORD.findall(text))
    return counts


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The English words symspellpy ships (82,765 of them, with counts from Google Books n-grams)."""
    text = resources.files("symspellpy").joinpath(_ENGLISH_LIST).read_text(encoding="utf-8")
    return frozenset(line.split(" ", 1)[0] for line in text.splitlines() if line)
