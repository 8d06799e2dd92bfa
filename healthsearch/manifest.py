"""manifest.json: the commit point of an index; it names the live generation's files and the spec it was built with."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from .config import FORMAT_VERSION, MANIFEST_NAME, ChunkerSettings
from .errors import IndexProblem
from .spec import EngineSpec, IndexSpec, ModelSpec, VectorSpec

_LIBRARIES = ("healthsearch", "sentence-transformers", "torch", "faiss-cpu", "numpy", "transformers", "bm25s")
_REQUIRED = ("format_version", "generation", "spec", "vector_key", "index_type", "counts", "files")


@dataclass(frozen=True)
class Manifest:
    """What one committed generation is: how it was built (``spec``), its files and counts."""

    generation: int
    spec: IndexSpec
    vector_key: str  # names this index's vectors in the embedding cache
    index_type: str  # the concrete vector index kind: flat, ivf or ivfpq
    counts: dict[str, int]
    files: dict[str, str]
    corpus: str = ""
    built_at: str = ""
    skipped: list[list[str]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION  # older only while a build upgrades an index of the previous format

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, spec included."""
        return {**asdict(self), "spec": self.spec.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Manifest:
        """Read a current-format manifest dict (see :func:`read_manifest` for the checks before this)."""
        try:
            return cls(**{**data, "spec": IndexSpec.from_dict(data["spec"], where)})
        except TypeError as exc:
            raise IndexProblem(f"{where} has unexpected fields ({exc})") from None


def manifest_path(index_dir: Path) -> Path:
    """Where the manifest of an index directory lives."""
    return index_dir / MANIFEST_NAME


def build_hint(index_dir: Path) -> str:
    """The command that (re)builds this index."""
    return f"run: python build_index.py --index {index_dir}"


def read_manifest(index_dir: Path, upgrade: bool = False) -> Manifest:
    """Load and validate the manifest, with a one-line reason and remedy for each way it can be wrong.

    ``upgrade`` (for builds) reads an index of the previous format too, so its cached vectors are reused.
    """
    path = manifest_path(index_dir)
    hint = build_hint(index_dir)
    if not index_dir.is_dir():
        raise IndexProblem(f"no index at {index_dir}; {hint}")
    if not path.is_file():
        raise IndexProblem(f"{index_dir} holds no {MANIFEST_NAME}, so it is not a finished index; {hint}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexProblem(f"{path} is unreadable ({exc.__class__.__name__}); {hint} --full") from None
    if not isinstance(data, dict) or not isinstance(data.get("format_version"), int):
        raise IndexProblem(f"{path} is not a healthsearch manifest; {hint} --full")
    version = data["format_version"]
    if version > FORMAT_VERSION:
        raise IndexProblem(
            f"{path} was written by a newer healthsearch (format {version}, this one reads {FORMAT_VERSION}); "
            f"upgrade healthsearch or {hint} --full"
        )
    if version == 3 and upgrade:
        data = _from_format_3(data)
    elif version < FORMAT_VERSION:
        raise IndexProblem(
            f"{path} was written by an older healthsearch (format {version}, this one reads {FORMAT_VERSION}); "
            f"{hint} to upgrade it (cached vectors are reused)"
        )
    if not all(key in data for key in _REQUIRED):
        raise IndexProblem(f"{path} is not a healthsearch manifest; {hint} --full")
    return Manifest.from_dict(data, str(path))


def _from_format_3(data: dict[str, Any]) -> dict[str, Any]:
    """Format 3 kept model and chunker facts at the top level: the one place that still reads them."""
    model = data.get("model", {})
    spec = IndexSpec(
        model=ModelSpec(
            name=model.get("name", ""),
            location=model.get("location", ""),
            fingerprint=model.get("fingerprint", ""),
            dimension=int(model.get("dimension", 0)),
            backend=model.get("backend", "torch"),
            passage_tokens=model.get("passage_tokens"),
        ),
        chunker=ChunkerSettings(**data.get("chunker", {})),
        vectors=VectorSpec(compact=data.get("index_type") == "ivfpq"),
        engine=EngineSpec(),
    )
    suffix = "" if spec.model.backend == "torch" else f"+{spec.model.backend}"
    limit = "" if spec.model.passage_tokens is None else f"+{spec.model.passage_tokens}tok"
    return {
        **{k: v for k, v in data.items() if k not in ("model", "chunker")},
        "spec": spec.to_dict(),
        "vector_key": f"{spec.model.name}@{spec.model.fingerprint}{suffix}{limit}",
        "generation": int(data.get("generation", 0)),
        "files": data.get("files", {}),
    }


def write_manifest(index_dir: Path, manifest: Manifest) -> None:
    """Atomically replace the manifest: write aside, fsync, rename (the rename is the commit)."""
    path = manifest_path(index_dir)
    temporary = path.with_name(f".{MANIFEST_NAME}.partial")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(manifest.to_dict(), handle, indent=2, sort_keys=True)
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
