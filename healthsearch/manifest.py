"""manifest.json: the commit point of an index; it names the generation of files that is live."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from .config import FORMAT_VERSION, MANIFEST_NAME
from .errors import IndexProblem

_LIBRARIES = ("healthsearch", "sentence-transformers", "torch", "faiss-cpu", "numpy", "transformers", "bm25s")


def manifest_path(index_dir: Path) -> Path:
    """Where the manifest of an index directory lives."""
    return index_dir / MANIFEST_NAME


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """Load and validate the manifest, with a one-line reason and remedy for each way it can be wrong."""
    path = manifest_path(index_dir)
    build_hint = f"run: python build_index.py --index {index_dir}"
    if not index_dir.is_dir():
        raise IndexProblem(f"no index at {index_dir}; {build_hint}")
    if not path.is_file():
        raise IndexProblem(
            f"{index_dir} holds no {MANIFEST_NAME}, so it is not a finished index; {build_hint}"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexProblem(f"{path} is unreadable ({exc.__class__.__name__}); {build_hint} --full") from None
    return validate(data, path, build_hint)


def validate(data: Any, path: Path, build_hint: str) -> dict[str, Any]:
    """Check the manifest's shape and version."""
    if not isinstance(data, dict) or not all(
        k in data for k in ("format_version", "model", "files", "counts")
    ):
        raise IndexProblem(f"{path} is not a healthsearch manifest; {build_hint} --full")
    version = data["format_version"]
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IndexProblem(
            f"{path} was written by a newer healthsearch (format {version}, this one reads {FORMAT_VERSION}); "
            f"upgrade healthsearch or {build_hint} --full"
        )
    if version < FORMAT_VERSION:
        raise IndexProblem(
            f"{path} was written by an older healthsearch (format {version}, this one reads {FORMAT_VERSION}); "
            f"{build_hint} --full"
        )
    return data


def write_manifest(index_dir: Path, data: dict[str, Any]) -> None:
    """Atomically replace the manifest: write aside, fsync, rename (the rename is the commit)."""
    path = manifest_path(index_dir)
    temporary = path.with_name(f".{MANIFEST_NAME}.partial")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_dir(index_dir)


def _fsync_dir(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape an index, plus Python's."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def now_iso() -> str:
    """Current UTC time, second precision."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()
