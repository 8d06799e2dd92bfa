"""Generations of an index folder: file names, the build lock, partial files, the commit and cleanup.

Every build writes a complete new generation of files beside the live one (``passages-000007.sqlite``,
``vectors-000007.faiss``, ``lexical-000007/`` …), first under ``.partial`` names, and commits it by replacing
manifest.json in one rename. Readers keep the generation they opened; the one before the live one is kept for them
and older ones are deleted.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import IndexProblem

PARTIAL = ".partial"
LOCK_NAME = ".build.lock"
# Each generation file: its manifest key → name pattern (``{n}`` is the six-digit generation number).
FILE_PATTERNS = {
    "database": "passages-{n}.sqlite",
    "vectors": "vectors-{n}.faiss",
    "heads": "heads-{n}.faiss",
    "lexical": "lexical-{n}",
    "exact": "exact-{n}",
}


@dataclass(frozen=True)
class Generation:
    """The files of one generation number in one index folder."""

    folder: Path
    number: int

    def name(self, key: str) -> str:
        """File (or folder) name of one part, e.g. ``vectors-000007.faiss``."""
        return FILE_PATTERNS[key].format(n=f"{self.number:06d}")

    def path(self, key: str) -> Path:
        """Final path of one part."""
        return self.folder / self.name(key)

    def partial(self, key: str) -> Path:
        """Where a part is written before the commit."""
        return self.folder / f"{self.name(key)}{PARTIAL}"

    def publish(self, keys: list[str]) -> dict[str, str]:
        """Rename the written partials of ``keys`` to their final names; returns the manifest's ``files``."""
        for key in keys:
            _remove(self.path(key))  # left by a build that died before its commit
            self.partial(key).rename(self.path(key))
        return {key: self.name(key) for key in keys}


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index directory."""
    with (index_dir / LOCK_NAME).open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexProblem(
                f"another build is already running on {index_dir}; wait for it to finish"
            ) from None
        yield


def next_generation(index_dir: Path, live: int) -> Generation:
    """The generation after ``live`` (also after --full: never overwrite what readers use), partials cleared."""
    for path in index_dir.glob(f"*{PARTIAL}"):
        _remove(path)
    return Generation(index_dir, live + 1)


def remove_old(index_dir: Path, keep: set[int]) -> None:
    """Delete generation files whose number is not in ``keep`` (readers may still hold the previous one open)."""
    for pattern in FILE_PATTERNS.values():
        for path in index_dir.glob(pattern.format(n="[0-9]" * 6)):
            number = path.name.split("-", 1)[1][:6]
            if int(number) not in keep:
                _remove(path)


def _remove(path: Path) -> None:
    """Delete a file or a folder of files."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
