"""Markdown articles with optional YAML front matter (title, summary, tags, url, source)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import frontmatter
from markdown_it import MarkdownIt

from ..documents import Section
from .base import ReadError, ReadResult, make_article, read_text_file, split_blocks
from .boilerplate import drop_boilerplate

_PARSER = MarkdownIt("commonmark")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")


def read_markdown(path: Path) -> ReadResult:
    """Read a .md file into one Article; headings become sections."""
    meta, body = _split_front_matter(read_text_file(path), path)
    headings = _heading_lines(body)
    lines = body.split("\n")
    title = str(meta.get("title") or "").strip()
    if not title and headings and headings[0][1] == 1:
        title = headings[0][2]
    sections = _sections(lines, headings, title)
    return ReadResult([make_article(path, title, sections, meta)])


def _split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    """Separate YAML front matter from the body; malformed YAML is a ReadError."""
    try:
        post = frontmatter.loads(text)
    except Exception as exc:  # yaml raises several unrelated types
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReadError(f"malformed front matter: {first_line}") from None
    if not isinstance(post.metadata, dict):
        raise ReadError("front matter is not a mapping of keys to values")
    return dict(post.metadata), post.content


def _heading_lines(body: str) -> list[tuple[int, int, str]]:
    """(first line, level, text) of every heading, found by a real Markdown parser."""
    tokens = _PARSER.parse(body)
    found = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            found.append((token.map[0], int(token.tag[1]), tokens[i + 1].content.strip()))
    return found


def _sections(lines: list[str], headings: list[tuple[int, int, str]], title: str) -> list[Section]:
    """Cut the body at each heading; a top H1 equal to the title is not a section."""
    starts = [(0, "")] + [(line, text) for line, _, text in headings]
    ends = [line for line, _, _ in headings] + [len(lines)]
    sections = []
    for (start, heading), end in zip(starts, ends, strict=True):
        first = start + 1 if heading else start
        blocks = drop_boilerplate(split_blocks(plain_inline("\n".join(lines[first:end]))))
        if blocks:
            sections.append(Section("" if heading == title else heading, "\n\n".join(blocks)))
    return sections


def plain_inline(text: str) -> str:
    """Drop images and link targets and bold markers, keeping the words people read."""
    return _EMPHASIS.sub(r"\2", _LINK.sub(r"\1", _IMAGE.sub("", text)))
