"""JSON Lines corpora: one article a line, {"id", "title", "text", "url"?, "tags"?, "source"?}."""

from __future__ import annotations

import json
from pathlib import Path

from ..documents import Article, Section
from .base import MAX_FILE_BYTES, ReadError, ReadResult, as_str_list, sections_from_blocks, split_blocks


def read_jsonl(path: Path) -> ReadResult:
    """Read every good line; each bad line becomes a warning and the rest still count."""
    result = ReadResult([])
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                result.articles.append(_article_from_line(raw, path))
            except ReadError as exc:
                result.warnings.append(f"{path}:{number}: {exc}")
    if not result.articles:
        raise ReadError("no valid article lines" if result.warnings else "empty file")
    return result


def _article_from_line(raw: bytes, path: Path) -> Article:
    """Parse and validate one line."""
    if len(raw) > MAX_FILE_BYTES:
        raise ReadError("line is over the size limit")
    try:
        record = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReadError(f"not valid JSON ({exc.__class__.__name__}: {str(exc)[:60]})") from None
    if not isinstance(record, dict):
        raise ReadError("line is not a JSON object")
    article_id, title, text = (str(record.get(key) or "").strip() for key in ("id", "title", "text"))
    if not article_id or not text:
        raise ReadError('missing "id" or "text"')
    sections = sections_from_blocks(split_blocks(text), title) or [Section("", text)]
    return Article(
        id=article_id,
        title=title or article_id,
        sections=sections,
        url=str(record.get("url") or ""),
        source=str(record.get("source") or ""),
        tags=as_str_list(record.get("tags")),
        source_path=str(path),
    )
