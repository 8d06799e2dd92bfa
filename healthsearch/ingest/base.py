"""What every reader shares: the result type, the error type and text helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..documents import Article, Section
from .boilerplate import drop_boilerplate

MAX_FILE_BYTES = 20 * 1024 * 1024
_BULLET = re.compile(r"^\s*(?:[-*+•·▪●◦–]|\d{1,3}[.)])\s+")


class ReadError(Exception):
    """A file that cannot be read; the message is the reason shown to the user."""


@dataclass
class ReadResult:
    """Articles from one file plus warnings about parts of it that were skipped."""

    articles: list[Article]
    warnings: list[str] = field(default_factory=list)


def read_text_file(path: Path) -> str:
    """Read a UTF-8 text file, raising ReadError with a plain reason for anything else."""
    size = path.stat().st_size
    if size == 0:
        raise ReadError("empty file")
    if size > MAX_FILE_BYTES:
        raise ReadError(
            f"file is {size // (1024 * 1024)} MB, over the {MAX_FILE_BYTES // (1024 * 1024)} MB limit"
        )
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise ReadError("binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadError(f"not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    if not text.strip():
        raise ReadError("file holds only whitespace")
    return text


def split_blocks(text: str) -> list[str]:
    """Split text into blank-line-separated blocks, trailing spaces removed."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    blocks = re.split(r"\n\s*\n", "\n".join(lines))
    return [b.strip("\n") for b in blocks if b.strip()]


def is_bullet(line: str) -> bool:
    """True for a list item line ("- x", "• x", "1. x")."""
    return bool(_BULLET.match(line))


def looks_like_heading(block: str) -> bool:
    """True for a one-line block that reads as a heading in plain text."""
    line = block.strip()
    words = line.split()
    if "\n" in line or not words or len(words) > 14 or is_bullet(line):
        return False
    if line[-1] in ".,;:!\"'" or not (line[0].isupper() or line[0].isdigit()):
        return False
    if line.endswith("?"):
        return True
    capitalised = sum(1 for w in words if w[0].isupper() or not w[0].isalpha())
    return len(words) <= 4 or capitalised / len(words) >= 0.6


def sections_from_blocks(blocks: list[str], title: str) -> list[Section]:
    """Group plain-text blocks under the heading lines that precede them."""
    sections: list[Section] = []
    heading, body = "", list[str]()
    for block in drop_boilerplate(blocks):
        if block.strip().lower() in title.lower():
            continue
        if looks_like_heading(block):
            if body:
                sections.append(Section(heading, "\n\n".join(body)))
            heading, body = block.strip(), []
        else:
            body.append(block)
    if body:
        sections.append(Section(heading, "\n\n".join(body)))
    return sections


def title_from_stem(path: Path) -> str:
    """A readable title from a file name: "plantar-fasciitis" → "Plantar fasciitis"."""
    words = re.sub(r"[-_]+", " ", path.stem).strip()
    return words[:1].upper() + words[1:] if words else path.name


def as_str_list(value: object) -> list[str]:
    """Tags may be a list or a comma-separated string; always return a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if isinstance(value, list | tuple):
        return [str(t).strip() for t in value if str(t).strip()]
    return [str(value)]


def make_article(
    path: Path, title: str, sections: list[Section], meta: dict[str, object] | None = None
) -> Article:
    """Build an Article whose id is the file stem; raises ReadError when nothing is left."""
    if not any(s.text.strip() for s in sections):
        raise ReadError("no article text found")
    meta = meta or {}
    return Article(
        id=path.stem,
        title=title.strip() or title_from_stem(path),
        sections=[s for s in sections if s.text.strip()],
        url=str(meta.get("url") or ""),
        source=str(meta.get("source") or ""),
        tags=as_str_list(meta.get("tags")),
        summary=str(meta.get("summary") or ""),
        source_path=str(path),
    )
