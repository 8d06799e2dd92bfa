"""Readers for every corpus format and the walk over a corpus folder.

One reader per format; ``READERS`` maps a file suffix to it. Every reader takes a path and returns a
ReadResult or raises ReadError with a plain reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..documents import Article
from ..errors import CorpusError
from .base import ReadError, ReadResult
from .html import read_html
from .jsonl import read_jsonl
from .markdown import read_markdown
from .medquad import read_medquad
from .text import read_text

Reader = Callable[[Path], ReadResult]
READERS: dict[str, Reader] = {
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".txt": read_text,
    ".html": read_html,
    ".htm": read_html,
    ".jsonl": read_jsonl,
    ".xml": read_medquad,
}

__all__ = ["READERS", "CorpusFile", "FileRead", "ReadError", "list_corpus_files", "read_file"]


@dataclass(frozen=True)
class CorpusFile:
    """A readable file under the corpus root, with what tells whether it changed."""

    path: Path
    relative: str
    size: int
    mtime_ns: int


@dataclass
class FileRead:
    """Outcome of reading one file: articles, or the reason it was skipped, plus warnings."""

    file: CorpusFile
    articles: list[Article] = field(default_factory=list)
    skipped: str = ""
    warnings: list[str] = field(default_factory=list)


def list_corpus_files(root: Path) -> list[CorpusFile]:
    """Every file with a known suffix under ``root``, sorted; symlinks leaving the root are not followed."""
    if not root.exists():
        raise CorpusError(
            f"corpus folder {root} does not exist; create it and add articles (.md, .txt, .html, .jsonl, .xml)"
        )
    if not root.is_dir():
        raise CorpusError(f"corpus path {root} is not a folder")
    real_root = root.resolve()
    files = []
    for path in _walk(real_root):
        stat = path.stat()
        files.append(CorpusFile(path, path.relative_to(real_root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return sorted(files, key=lambda f: f.relative)


def _walk(root: Path) -> Iterator[Path]:
    """Yield files with a known suffix; hidden entries and links out of the root or in loops are skipped."""
    seen_dirs: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here = Path(dirpath).resolve()
        if here in seen_dirs or not here.is_relative_to(root):
            dirnames[:] = []
            continue
        seen_dirs.add(here)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith(".") or path.suffix.lower() not in READERS:
                continue
            real = path.resolve()
            if real.is_file() and real.is_relative_to(root):
                yield real if real != path.absolute() else path


def read_file(file: CorpusFile) -> FileRead:
    """Read one file with the reader for its suffix; failures become a skip reason, never an exception."""
    reader = READERS[file.path.suffix.lower()]
    try:
        result = reader(file.path)
    except ReadError as exc:
        return FileRead(file, skipped=str(exc))
    except Exception as exc:  # a reader bug or an odd file must never stop the build
        return FileRead(file, skipped=f"could not read ({exc.__class__.__name__}: {str(exc)[:200]})")
    return FileRead(file, articles=result.articles, warnings=result.warnings)
