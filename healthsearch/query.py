"""Turning what a person typed into something safe to search with."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_CHARS = 500
MAX_LEXICAL_TERMS = 32
_TERM = re.compile(r"[^\W_]+", re.UNICODE)
# Lucene's English stopwords (as bm25s uses), plus question words that carry no topic.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
        "what",
        "how",
        "why",
        "when",
        "who",
        "which",
        "do",
        "does",
        "i",
        "my",
        "me",
        "can",
        "you",
        "your",
        "have",
        "has",
        "am",
        "im",
        "get",
        "got",
        "after",
        "before",
        "during",
    ]
)


@dataclass(frozen=True)
class CleanQuery:
    """The query to search with, and whether it had to be shortened."""

    text: str
    truncated: bool


def clean_query(raw: str) -> CleanQuery:
    """Normalise unicode and whitespace, and cut very long input at a word boundary."""
    text = " ".join(unicodedata.normalize("NFKC", raw or "").split())
    if len(text) <= MAX_QUERY_CHARS:
        return CleanQuery(text, False)
    cut = text[:MAX_QUERY_CHARS]
    return CleanQuery(cut.rsplit(" ", 1)[0] if " " in cut else cut, True)


def query_terms(text: str) -> list[str]:
    """Lower-cased word terms without stopwords, in order, unique."""
    seen: dict[str, None] = {}
    for term in _TERM.findall(text.lower()):
        if term not in STOPWORDS:
            seen.setdefault(term, None)
    return list(seen)[:MAX_LEXICAL_TERMS]


_PLEASANTRIES = re.compile(
    r"\b(?:hi|hello|hey|dear (?:sir|madam|doctor|team)|sir|madam|good (?:morning|afternoon|evening)|greetings"
    r"|thanks?(?: you)?(?: (?:very|so) much)?(?: in advance)?|many thanks|regards|best wishes|sincerely"
    r"|plz reply|please reply|please help|please advise|please let me know)\b[!.,]*",
    re.IGNORECASE,
)
_CODES = re.compile(r"\bNDC\s*[\d-]+|\b\d{4,5}-\d{3,4}-\d{1,2}\b|\[[A-Z]+\]|https?://\S+|\S+@\S+\.\w+")
_GENERIC_SUBJECTS = re.compile(
    r"^(?:re|fwd?)\s*:|^(?:general health|general information|customer service request|consultation|question"
    r"|questions|help|inquiry|enquiry|can'?t find an answer|clinicaltrials\.gov.*?)\s*[.:]+\s*",
    re.IGNORECASE,
)


def clean_consumer_question(text: str) -> str:
    """Drop greetings, thanks, sign-offs, product codes and generic subject lines from a written question."""
    cleaned = _GENERIC_SUBJECTS.sub("", text.strip())
    cleaned = _CODES.sub(" ", _PLEASANTRIES.sub(" ", cleaned))
    cleaned = " ".join(cleaned.split()).strip(" .,;")
    return cleaned or text.strip()
