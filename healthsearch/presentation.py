"""What the search page shows, as plain data and escaped HTML (no Streamlit here, so it is testable)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlparse

from . import config
from .highlight import to_html
from .relevance import match_level
from .search import Result
from .store import StoredPassage

DISCLAIMER = (
    "General information, not medical advice. It does not replace a doctor, nurse or pharmacist. "
    "In an emergency call your local emergency number."
)
EXAMPLE_QUERIES = (
    "heel pain after running",
    "burning when I pee",
    "pain on the outside of my knee when running",
    "can't sleep at night",
    "itchy red patches on my skin",
    "heartburn after eating",
)
MODES = dict(zip(("Hybrid", "Semantic", "Keyword"), config.MODES, strict=True))  # page label → mode

CSS = """
<style>
.hs-card {border: 1px solid #d9dee7; border-radius: 10px; padding: 0.9rem 1.1rem; margin: 0 0 0.4rem 0;
          background: #ffffff;}
.hs-title {font-size: 1.15rem; font-weight: 600; margin: 0 0 0.15rem 0;}
.hs-title a {text-decoration: none;}
.hs-meta {color: #5b6475; font-size: 0.85rem; margin-bottom: 0.5rem;}
.hs-section {font-weight: 600; color: #1f4e8c; font-size: 0.9rem; margin: 0.4rem 0 0.2rem 0;}
.hs-passage {line-height: 1.55; font-size: 0.97rem;}
.hs-passage strong {background: #fff7d6;}
.hs-passage mark {background: #ffe08a; padding: 0 1px; border-radius: 2px;}
.hs-cue {float: right; color: #2e7d32; font-size: 0.85rem; letter-spacing: 1px;}
.hs-cue.hs-weak {color: #7a7f8a;}
.hs-tag {display: inline-block; background: #eef2f8; border-radius: 8px; padding: 0 6px; margin-right: 4px;}
</style>
"""


@dataclass
class ArticleGroup:
    """The results of one article, in rank order."""

    article_id: str
    title: str
    url: str
    source: str
    tags: list[str]
    results: list[Result] = field(default_factory=list)


def group_by_article(results: list[Result]) -> list[ArticleGroup]:
    """Group passages by article; an article sits where its best passage ranked."""
    groups: dict[str, ArticleGroup] = {}
    for result in results:
        group = groups.setdefault(
            result.article_id,
            ArticleGroup(result.article_id, result.title, result.url, result.source, result.tags),
        )
        group.results.append(result)
    return list(groups.values())


def more_from_article(group: ArticleGroup, passages: Sequence[StoredPassage]) -> list[tuple[str, str]]:
    """(section, text) of an article's other passages: further matches first, then the rest in reading order."""
    matched = [(r.section, r.text) for r in group.results[1:]]
    matched_ids = {r.passage_id for r in group.results}
    return matched + [(p.section, p.text) for p in passages if p.passage_id not in matched_ids]


def relevance_cue(group: ArticleGroup) -> tuple[int, str]:
    """Filled dots of 5 and a word for how closely the article's best passage matches (relevance.py)."""
    scored = [r.similarity for r in group.results if r.similarity is not None]
    return match_level(max(scored) if scored else None)


def card_html(group: ArticleGroup, query: str) -> str:
    """An article card: escaped title, source, tags, the best passage with marks and a relevance cue."""
    best = group.results[0]
    dots, word = relevance_cue(group)
    title = html.escape(group.title)
    if _safe_url(group.url):
        title = f'<a href="{html.escape(group.url, quote=True)}" target="_blank" rel="noopener">{title}</a>'
    cue = f'<span class="hs-cue" title="{word}">{"●" * dots}{"○" * (5 - dots)} {word}</span>' if dots else ""
    tags = "".join(f'<span class="hs-tag">{html.escape(t)}</span>' for t in group.tags)
    section = f'<div class="hs-section">{html.escape(best.section)}</div>' if best.section else ""
    return (
        f'<div class="hs-card">{cue}<div class="hs-title">{title}</div>'
        f'<div class="hs-meta">Source: {html.escape(source_label(group))} {tags}</div>'
        f'{section}<div class="hs-passage">{to_html(best.text, query)}</div></div>'
    )


def passage_html(section: str, text: str, query: str) -> str:
    """A further passage of an article, escaped and marked."""
    head = f'<div class="hs-section">{html.escape(section)}</div>' if section else ""
    return f'{head}<div class="hs-passage">{to_html(text, query)}</div>'


def source_label(group: ArticleGroup) -> str:
    """Where a passage came from: the source name, else the web site, else the article id."""
    if group.source:
        return group.source
    host = urlparse(group.url).netloc if _safe_url(group.url) else ""
    return host or group.article_id


def _safe_url(url: str) -> bool:
    """Only http(s) links are rendered (no javascript: or data: URLs from corpus files)."""
    return urlparse(url).scheme in ("http", "https")
