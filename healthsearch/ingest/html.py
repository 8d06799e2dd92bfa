"""HTML pages: keep the article body and its headings, drop navigation, banners, scripts and footers."""

from __future__ import annotations

import re
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ..documents import Section
from .base import ReadResult, make_article, read_text_file
from .boilerplate import drop_boilerplate

_NOISE_TAGS = (
    "script, style, noscript, nav, header, footer, aside, form, iframe, svg, button, template, dialog"
)
_NOISE_HINTS = re.compile(
    r"cookie|consent|banner|sidebar|navbar|menu|breadcrumb|footer|comment|share|social|related|newsletter"
    r"|advert|promo|subscribe|popup|modal",
    re.IGNORECASE,
)
_BLOCKS = "h1, h2, h3, h4, h5, h6, p, li, pre, blockquote, dt, dd, td"
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_CONTAINERS = {"p", "li", "pre", "blockquote", "dd", "td"}


def read_html(path: Path) -> ReadResult:
    """Read an .html article into one Article."""
    tree = LexborHTMLParser(read_text_file(path))
    title = _title(tree)
    _remove_noise(tree)
    body = tree.css_first("article") or tree.css_first("main") or tree.css_first('[role="main"]') or tree.body
    sections = _sections(body, title) if body is not None else []
    meta = {
        "url": _meta(tree, 'link[rel="canonical"]', "href"),
        "source": _meta(tree, 'meta[property="og:site_name"]'),
    }
    return ReadResult([make_article(path, title, sections, dict(meta))])


def _title(tree: LexborHTMLParser) -> str:
    """og:title, else the first h1, else <title>."""
    for selector in ('meta[property="og:title"]',):
        if value := _meta(tree, selector):
            return value
    node = tree.css_first("h1") or tree.css_first("title")
    return node.text(strip=True) if node else ""


def _meta(tree: LexborHTMLParser, selector: str, attribute: str = "content") -> str:
    node = tree.css_first(selector)
    return (node.attributes.get(attribute) or "").strip() if node else ""


def _remove_noise(tree: LexborHTMLParser) -> None:
    """Decompose page furniture: nav/header/footer/aside/scripts and elements named like banners."""
    for node in tree.css(_NOISE_TAGS):
        node.decompose()
    for node in tree.css("[class], [id], [role]"):
        names = " ".join(node.attributes.get(a) or "" for a in ("class", "id", "role"))
        if node.tag not in ("body", "html", "main", "article") and _NOISE_HINTS.search(names):
            node.decompose()


def _sections(body: LexborNode, title: str) -> list[Section]:
    """Walk block elements in document order, starting a section at each heading."""
    sections: list[Section] = []
    heading, blocks = "", list[str]()
    for node in body.css(_BLOCKS):
        if node.tag not in _HEADINGS and _inside_block(node, body):
            continue
        text = " ".join(node.text(separator=" ").split())
        if not text:
            continue
        if node.tag in _HEADINGS:
            sections.append(Section(heading, "\n\n".join(drop_boilerplate(blocks))))
            heading, blocks = ("" if text == title else text), []
        elif node.tag == "li" and blocks and blocks[-1].startswith("- "):
            blocks[-1] += f"\n- {text}"
        else:
            blocks.append(f"- {text}" if node.tag == "li" else text)
    sections.append(Section(heading, "\n\n".join(drop_boilerplate(blocks))))
    return [s for s in sections if s.text.strip()]


def _inside_block(node: LexborNode, stop: LexborNode) -> bool:
    """True when an ancestor is itself a text block, so its text is already taken."""
    parent, depth = node.parent, 0
    while parent is not None and parent != stop and depth < 200:
        if parent.tag in _CONTAINERS or parent.tag in _HEADINGS:
            return True
        parent, depth = parent.parent, depth + 1
    return False
