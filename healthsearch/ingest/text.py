"""Plain-text articles: first line is the title, short capitalised lines are headings."""

from __future__ import annotations

from pathlib import Path

from .base import (
    ReadResult,
    looks_like_heading,
    make_article,
    read_text_file,
    sections_from_blocks,
    split_blocks,
)


def read_text(path: Path) -> ReadResult:
    """Read a .txt article such as a scraped web page saved as text."""
    blocks = split_blocks(read_text_file(path))
    title = ""
    if (
        blocks and "\n" not in blocks[0] and len(blocks[0].split()) <= 20 and not blocks[0].endswith(".")
    ) or (blocks and looks_like_heading(blocks[0])):
        title = blocks.pop(0).strip()
    return ReadResult([make_article(path, title, sections_from_blocks(blocks, title))])
