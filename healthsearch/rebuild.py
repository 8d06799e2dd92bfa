"""Run a build in its own lower-priority process, for front ends that keep serving searches meanwhile.

The page's "Rebuild index" must not stall the people searching: embedding in the page's process would compete
with their queries for the same cores and the same interpreter. A separate process at a lower scheduling
priority (nice) gives the queries the cores first; the build keeps the live index's spec, as a plain
``python build_index.py --index DIR`` does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import HealthsearchError

BUILD_NICENESS = 10
_COUNT = re.compile(r"(\d+)/(\d+)")


@dataclass
class BuildProcess:
    """A running ``python -m healthsearch build``; read its progress, then its summary."""

    process: subprocess.Popen[str]
    errors: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, index_dir: Path, corpus: Path | None = None) -> BuildProcess:
        """Start the build (``corpus`` None: the index's own corpus folder)."""
        command = [sys.executable, "-m", "healthsearch", "build", "--index", str(index_dir)]
        if corpus is not None:
            command += ["--corpus", str(corpus)]
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_lower_priority,
        )
        return cls(process)

    def progress(self) -> Iterator[tuple[int, int]]:
        """(done, total) passages embedded, as the build's progress bar reports them."""
        assert self.process.stderr is not None
        buffer = ""
        while chunk := self.process.stderr.read(256):
            buffer += chunk
            *pieces, buffer = re.split(r"[\r\n]", buffer)
            for piece in pieces:
                found = _COUNT.search(piece) if piece.startswith("Embedding") else None
                if found and int(found.group(2)) > 0:
                    yield int(found.group(1)), int(found.group(2))
                elif piece.strip() and not piece.startswith("Embedding"):
                    self.errors.append(piece.strip())

    def finish(self) -> str:
        """Wait for the build; its summary, or a HealthsearchError with its one-line reason."""
        for _ in self.progress():  # whatever is left of stderr
            pass
        out, _ = self.process.communicate()
        if self.process.returncode != 0:
            reason = next((e for e in reversed(self.errors) if e.startswith("error:")), None)
            reason = reason or (self.errors[-1] if self.errors else f"exit code {self.process.returncode}")
            raise HealthsearchError(
                f"the rebuild failed ({reason.removeprefix('error: ')}); the previous index still answers"
            )
        return out.strip()


def _lower_priority() -> None:
    os.nice(BUILD_NICENESS)
