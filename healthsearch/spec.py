"""IndexSpec: everything that shapes an index, written into manifest.json and read back.

The next build starts from the live index's spec; command-line flags override single fields. Searcher.open and the
page build their encoder from it, so an index built with another model, backend or token limit is served as built.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .config import (
    DEFAULT_BACKEND,
    DEFAULT_COLLECTION,
    DEFAULT_MODEL,
    DEFAULT_PASSAGE_TOKENS,
    ENGINES,
    ChunkerSettings,
)
from .embedding import ModelRef, resolve_model
from .errors import HealthsearchError, IndexProblem

LITE_FILE = (
    "milvus.db"  # the Milvus Lite file a Milvus index uses in its folder when no --milvus-uri is given
)
_COLLECTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")


@dataclass(frozen=True)
class ModelSpec:
    """The embedding model and how it runs. ``location``, ``fingerprint`` and ``dimension`` are filled once the
    model is resolved; ``backend`` is concrete after a build ("auto" only in a request)."""

    name: str = DEFAULT_MODEL
    location: str = ""
    fingerprint: str = ""
    dimension: int = 0
    backend: str = DEFAULT_BACKEND
    passage_tokens: int | None = DEFAULT_PASSAGE_TOKENS


@dataclass(frozen=True)
class VectorSpec:
    """The FAISS side: requested kind ("auto", "flat", "ivf", "ivfpq") and whether to keep it compact."""

    kind: str = "auto"
    compact: bool = False


@dataclass(frozen=True)
class EngineSpec:
    """Where passages and vectors live: "local" files, or a Milvus collection (alias) at ``uri``."""

    name: str = "local"
    uri: str = ""
    collection: str = ""


@dataclass(frozen=True)
class IndexSpec:
    """How an index is built; equal specs make interchangeable indexes from the same corpus."""

    model: ModelSpec = field(default_factory=ModelSpec)
    chunker: ChunkerSettings = field(default_factory=ChunkerSettings)
    vectors: VectorSpec = field(default_factory=VectorSpec)
    engine: EngineSpec = field(default_factory=EngineSpec)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "manifest") -> IndexSpec:
        """Read a spec written by :meth:`to_dict`; unknown or missing fields are refused with the field's name."""
        if not isinstance(data, dict):
            raise IndexProblem(f"{where}: the index spec is not an object")
        parts: dict[str, Any] = {}
        for part in fields(cls):
            kind = _PART_TYPES[part.name]
            parts[part.name] = _read_part(kind, data.get(part.name, {}), f"{where}: spec.{part.name}")
        return cls(**parts)

    def with_model(self, **changes: Any) -> IndexSpec:
        """A copy with some model fields changed."""
        return replace(self, model=replace(self.model, **changes))


_PART_TYPES: dict[str, type] = {
    "model": ModelSpec,
    "chunker": ChunkerSettings,
    "vectors": VectorSpec,
    "engine": EngineSpec,
}


def _read_part(kind: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise IndexProblem(f"{where} is not an object")
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise IndexProblem(
            f"{where} has unknown field(s) {', '.join(unknown)}; written by a newer healthsearch?"
        )
    return kind(**data)


# What a change of each field costs the next build, in the words the build summary uses.
_COSTS = {
    "model": "every passage re-embedded",
    "chunker": "every file re-read and re-chunked (cached vectors of unchanged passages reused)",
    "vectors": "vector index rebuilt from cached vectors (nothing re-embedded)",
    "engine": "passages and vectors written to the new engine (cached vectors reused)",
}
_MODEL_FIELDS = {
    "name": "model",
    "fingerprint": "model files",
    "backend": "backend",
    "passage_tokens": "passage token limit",
}


def describe_changes(before: IndexSpec, after: IndexSpec) -> list[str]:
    """One line per changed field with what it costs, e.g. "model changed ...: every passage re-embedded"."""
    notes = []
    for key, label in _MODEL_FIELDS.items():
        was, now = getattr(before.model, key), getattr(after.model, key)
        if was != now and not (key == "fingerprint" and before.model.name != after.model.name):
            notes.append(f"{label} changed ({_show(was)} → {_show(now)}): {_COSTS['model']}")
    for part in ("chunker", "vectors", "engine"):
        was, now = asdict(getattr(before, part)), asdict(getattr(after, part))
        changed = [f"{key} {_show(was[key])} → {_show(now[key])}" for key in was if was[key] != now[key]]
        if changed:
            notes.append(f"{part} changed ({', '.join(changed)}): {_COSTS[part]}")
    return notes


def reembeds(before: IndexSpec, after: IndexSpec) -> bool:
    """True when cached vectors cannot be reused: other model files, backend or passage token limit."""
    keys = ("fingerprint", "backend", "passage_tokens")
    return any(getattr(before.model, k) != getattr(after.model, k) for k in keys)


def _show(value: Any) -> str:
    if value is None:
        return "model limit"
    return str(value) if value != "" else "none"


def requested_engine(
    live: EngineSpec, name: str | None, uri: str | None, collection: str | None, index_dir: Path
) -> EngineSpec:
    """The live engine with the given fields changed (None keeps them). A Milvus engine without a URI uses the
    Milvus Lite file ``DIR/milvus.db``, without a collection ``healthsearch``; Lite paths are made absolute."""
    engine = name or live.name
    if engine not in ENGINES:
        raise HealthsearchError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
    if engine == "local":
        if uri or collection:
            raise HealthsearchError("--milvus-uri and --collection need --engine milvus")
        return EngineSpec()
    kept = live if live.name == "milvus" else EngineSpec()
    chosen = (kept.uri if uri is None else uri) or str(index_dir / LITE_FILE)
    alias = (kept.collection if collection is None else collection) or DEFAULT_COLLECTION
    if not _COLLECTION_NAME.fullmatch(alias):
        raise HealthsearchError(
            f"collection name {alias!r} is not usable in Milvus; use letters, digits and underscores "
            "(not starting with a digit, at most 200)"
        )
    return EngineSpec("milvus", lite_path(chosen), alias)


def lite_path(uri: str) -> str:
    """A Milvus Lite file (a path ending in .db) as an absolute path; a server URI unchanged."""
    if uri.startswith(("http://", "https://", "tcp://", "unix:")) or not uri.endswith(".db"):
        return uri
    return str(Path(uri).expanduser().resolve())


def model_of(spec: ModelSpec) -> ModelRef:
    """Find the files of the model a spec names: its recorded folder if still there, else by name."""
    return resolve_model(spec.location if spec.location and Path(spec.location).is_dir() else spec.name)
