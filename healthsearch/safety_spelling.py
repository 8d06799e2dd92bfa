"""Text-speak expanded and misspelled query words corrected before the safety check reads them.

Text-speak too short for a speller ("wat", "pls", "rn") is expanded from ``safety_data/shorthand.txt``.

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

from .errors import SafetyDataError
from .safety_patterns import DATA_DIR, PATTERNS_FILE
from .safety_semantic import EXEMPLARS_FILE
from .spelling import MIN_COUNT, Speller

SHORTHAND_FILE = DATA_DIR / "shorthand.txt"
_SHORTHAND_ENTRY = re.compile(r"([a-z0-9]+) = ([a-z]+(?: [a-z]+)*)")
_WORD_OR_NUMBER = re.compile(r"[a-z0-9]+")
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


def load_shorthand(path: Path = SHORTHAND_FILE) -> dict[str, str]:
    """Read and validate a shorthand file; a bad entry raises SafetyDataError naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SafetyDataError(f"cannot read safety shorthand file {path}: {exc}") from None
    table: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry = _SHORTHAND_ENTRY.fullmatch(line)
        if entry is None:
            raise SafetyDataError(
                f"{path}:{number}: expected 'short = expansion' in lowercase words: {line!r}"
            )
        if entry.group(1) in table:
            raise SafetyDataError(f"{path}:{number}: {entry.group(1)!r} is listed twice")
        table[entry.group(1)] = entry.group(2)
    return table


SHORTHAND = load_shorthand()


def expand_shorthand(text: str, table: dict[str, str] = SHORTHAND) -> str:
    """Normalised text with each shorthand word replaced by its expansion ("wat to do" → "what to do")."""
    return _WORD_OR_NUMBER.sub(lambda word: table.get(word.group(0), word.group(0)), text)


def correct_spelling(text: str) -> str:
    """Normalised query text with text-speak expanded and misspelled words replaced by the vocabulary word they
    most likely mean."""
    return safety_speller().correct(expand_shorthand(text)).text
