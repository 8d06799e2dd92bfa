"""Misspelled query words corrected toward the emergency vocabulary before the safety check reads them.

People in a hurry type "breth", "siezure", "colapsed" or "paracetemol"; the pattern table spells them right. A
word is corrected only when it is neither English (symspellpy's list) nor already in the vocabulary, has at least
five letters, and a vocabulary word lies within one edit (two for seven letters or more): the same rule as the
search's speller (:mod:`spelling`), over the words of the exemplar bank and the pattern table instead of a
library's.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from .safety_patterns import PATTERNS_FILE
from .safety_semantic import EXEMPLARS_FILE
from .spelling import MIN_COUNT, Speller

_LETTERS = re.compile(r"[a-z]{4,}")
_ESCAPE = re.compile(r"\\[A-Za-z]")
# Contractions as normalised text writes them (apostrophe dropped): never "corrected" ("theres" is not "there").
_CONTRACTIONS = frozenset(
    re.findall(
        r"\w+",
        "theres thats whats wheres heres hows whos didnt doesnt wasnt werent hasnt havent hadnt couldnt wouldnt "
        "shouldnt mustnt arent youre theyre youve theyve weve youll theyll shell hell itll ill wed youd theyd "
        "shed hed aint cant wont isnt dont",
    )
)


def safety_vocabulary(patterns: Path = PATTERNS_FILE, exemplars: Path = EXEMPLARS_FILE) -> set[str]:
    """The words the detector knows: those of the exemplar texts and the literal words of the patterns."""
    words = set(_LETTERS.findall(_ESCAPE.sub(" ", patterns.read_text(encoding="utf-8")).lower()))
    for line in exemplars.read_text(encoding="utf-8").splitlines():
        if line.strip():
            words.update(_LETTERS.findall(str(json.loads(line).get("text", "")).lower()))
    return words


@lru_cache(maxsize=1)
def safety_speller() -> Speller:
    """A speller over :func:`safety_vocabulary`, built once."""
    return Speller(dict.fromkeys(safety_vocabulary() | _CONTRACTIONS, MIN_COUNT))


def correct_spelling(text: str) -> str:
    """Normalised query text with misspelled words replaced by the vocabulary word they most likely mean."""
    return safety_speller().correct(text).text
