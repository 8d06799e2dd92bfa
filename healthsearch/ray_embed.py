"""Ray Data for builds: reading and chunking corpus files, and embedding, as Ray Data pipelines.

A build on Ray runs in two stages around the SQLite store, so it stays incremental:
    1. :func:`chunk_with_ray` reads and chunks the changed files on Ray (tasks) → one ChunkedFile per file, with
       each article's passages, content hashes and head text, exactly what the plain build computes;
    2. the driver writes them into SQLite, asks the store which content hashes have no cached vector, and
       :func:`embed_with_ray` (or :func:`embed_missing_with_ray`) embeds only those on an actor pool of encoders
       (``num_gpus=1`` per actor where the cluster has GPUs, CPU actors otherwise).
Without ``address`` a local Ray starts with this machine's cores (or ``num_cpus``). Workers of a remote cluster
need the corpus files and the model at the same paths (a shared file system or a runtime_env).

ray is imported inside functions: this module imports without it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .build import ChunkedFile, chunk_file
from .config import ChunkerSettings
from .documents import Article, Passage, Section
from .embedding import Encoder, ModelRef, resolve_model
from .errors import HealthsearchError
from .ingest import CorpusFile
from .spec import ModelSpec
from .store import ArticleRecord, Store

INSTALL_HINT = "pip install -e '.[scale]'"
CPUS_PER_ACTOR = 2  # torch threads per CPU encoder actor
FILES_PER_TASK = 8


def require_ray() -> None:
    """Refuse --ray in one line when Ray Data is not installed."""
    _ray()


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise HealthsearchError(f"--ray needs Ray Data; install it with: {INSTALL_HINT}") from None
    return ray


# ---- Ray itself ----------------------------------------------------------------------------------------------


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to the Ray cluster at ``address`` or start a local one (``num_cpus``: default all cores);
    returns True when this call started it. An already running Ray in this process is reused."""
    ray = _ray()
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    try:
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else exc.__class__.__name__
        raise HealthsearchError(
            f"cannot start {where} ({first}); check the address and that Ray runs there"
        ) from None
    ray.data.DataContext.get_current().enable_progress_bars = False
    import logging

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return True


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Ray for the duration of a build; shut down afterwards only when this session started it."""
    started = ensure_ray(address, num_cpus)
    try:
        yield
    finally:
        if started:
            _ray().shutdown()


# ---- stage 1: read and chunk ---------------------------------------------------------------------------------


def chunk_with_ray(
    files: Sequence[CorpusFile],
    chunker: ChunkerSettings,
    address: str | None = None,
    num_cpus: int | None = None,
) -> list[ChunkedFile]:
    """:func:`chunk_file` over ``files`` as Ray tasks (``map_batches``), returned in the order of ``files``."""
    if not files:
        return []
    ray = _ray()
    ensure_ray(address, num_cpus)
    rows = [
        {"position": i, "path": str(f.path), "relative": f.relative, "size": f.size, "mtime_ns": f.mtime_ns}
        for i, f in enumerate(files)
    ]
    dataset = ray.data.from_items(rows).map_batches(
        _chunk_batch,
        fn_kwargs={"chunker": asdict(chunker)},
        batch_size=FILES_PER_TASK,
        batch_format="pandas",
        num_cpus=1,
    )
    found: dict[int, ChunkedFile] = {}
    for batch in dataset.iter_batches(batch_format="pandas", batch_size=None):
        for position, encoded in zip(batch["position"], batch["chunked"], strict=True):
            found[int(position)] = _chunked_from_json(files[int(position)], encoded)
    return [found[i] for i in range(len(files))]


def _chunk_batch(batch: Any, chunker: dict[str, Any]) -> Any:
    """Ray task: chunk a batch of files; results travel as JSON text (plain data, no objects)."""
    import pandas as pd

    settings = ChunkerSettings(**chunker)
    out = []
    for row in batch.itertuples(index=False):
        file = CorpusFile(Path(row.path), row.relative, int(row.size), int(row.mtime_ns))
        out.append(_chunked_to_json(chunk_file(file, settings)))
    return pd.DataFrame({"position": batch["position"], "chunked": out})


def _chunked_to_json(chunked: ChunkedFile) -> str:
    return json.dumps(
        {
            "records": [
                {
                    "article": asdict(r.article),
                    "passages": [asdict(p) for p in r.passages],
                    "hashes": r.hashes,
                    "head": list(r.head) if r.head else None,
                }
                for r in chunked.records
            ],
            "skipped": chunked.skipped,
            "warnings": chunked.warnings,
        }
    )


def _chunked_from_json(file: CorpusFile, encoded: str) -> ChunkedFile:
    data = json.loads(encoded)
    records = []
    for r in data["records"]:
        fields = dict(r["article"])
        fields["sections"] = [Section(**s) for s in fields["sections"]]
        passages = [Passage(**p) for p in r["passages"]]
        head = (r["head"][0], r["head"][1]) if r["head"] else None
        records.append(ArticleRecord(Article(**fields), passages, list(r["hashes"]), head))
    return ChunkedFile(file, records, data["skipped"], list(data["warnings"]))


# ---- stage 2: embed ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncoderArgs:
    """What each actor needs to build its own Encoder: the model files, backend and passage token limit."""

    ref: ModelRef
    backend: str
    passage_tokens: int | None
    device: str | None = None

    @classmethod
    def of(cls, model: Encoder | ModelSpec | EncoderArgs) -> EncoderArgs:
        """From the driver's Encoder (same vectors as its cache key names) or an index spec's model."""
        if isinstance(model, EncoderArgs):
            return model
        if isinstance(model, Encoder):
            return cls(model.ref, model.backend, model.passage_tokens, model.device)
        location = model.location if model.location and Path(model.location).is_dir() else model.name
        encoder = Encoder(resolve_model(location), None, model.backend, model.passage_tokens)
        return cls(encoder.ref, encoder.backend, encoder.passage_tokens)


class _EncoderActor:
    """A Ray actor holding one loaded Encoder; each call embeds one chunk of texts."""

    def __init__(self, args: dict[str, Any], batch_size: int) -> None:
        device = args["device"]
        if device is None and _ray().get_gpu_ids():
            device = "cuda"
        self.encoder = Encoder(ModelRef(**args["ref"]), device, args["backend"], args["passage_tokens"])
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        starts, vectors = [], []
        for start, chunk in zip(batch["start"], batch["texts"], strict=True):
            chunk = [str(t) for t in chunk]
            vectors.append(self.encoder.encode_passages(chunk, self.batch_size))
            starts.append(np.arange(int(start), int(start) + len(chunk), dtype=np.int64))
        return {"position": np.concatenate(starts), "vector": np.concatenate(vectors)}


def embed_with_ray(
    texts: Sequence[str],
    model: Encoder | ModelSpec | EncoderArgs,
    address: str | None = None,
    batch_size: int = 32,
    num_cpus: int | None = None,
    actors: int | None = None,
) -> np.ndarray:
    """Normalized vectors (n, dim) of ``texts`` in input order, embedded by ``map_batches`` over an actor pool of
    encoders; equal to ``Encoder.encode_passages`` (texts are cut into the same length-sorted chunks).

    ``actors``: pool size (default one per GPU, or one per CPUS_PER_ACTOR cores).
    """
    ray = _ray()
    ensure_ray(address, num_cpus)
    args = EncoderArgs.of(model)
    order = np.argsort(
        [-len(t) for t in texts], kind="stable"
    )  # as encode_passages: little padding per batch
    step = max(batch_size * 8, 256)  # encode_passages's chunk: same chunks, same model batches, same vectors
    chunks = [
        {"start": start, "texts": [texts[i] for i in order[start : start + step]]}
        for start in range(0, len(texts), step)
    ]
    if not chunks:
        return np.zeros((0, _dimension(args)), dtype=np.float32)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    cpus = int(ray.cluster_resources().get("CPU", 1))
    pool = min(actors or (gpus or max(1, cpus // CPUS_PER_ACTOR)), len(chunks))
    per_actor = {"num_gpus": 1} if gpus else {"num_cpus": max(1, min(CPUS_PER_ACTOR, cpus // pool))}
    dataset = ray.data.from_items(chunks, override_num_blocks=len(chunks)).map_batches(
        _EncoderActor,
        fn_constructor_kwargs={"args": _plain(args), "batch_size": batch_size},
        batch_size=1,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=pool),
        **per_actor,
    )
    out: np.ndarray | None = None
    for batch in dataset.iter_batches(batch_format="numpy", batch_size=None):
        vectors = np.asarray(batch["vector"], dtype=np.float32)
        if out is None:
            out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
        out[order[batch["position"]]] = vectors
    assert out is not None
    return out


def _plain(args: EncoderArgs) -> dict[str, Any]:
    return {
        "ref": asdict(args.ref),
        "backend": args.backend,
        "passage_tokens": args.passage_tokens,
        "device": args.device,
    }


def _dimension(args: EncoderArgs) -> int:
    return Encoder(args.ref, args.device, args.backend, args.passage_tokens).dimension


def embed_missing_with_ray(
    store: Store,
    model: Encoder | ModelSpec | EncoderArgs,
    model_key: str,
    address: str | None = None,
    batch_size: int = 32,
    num_cpus: int | None = None,
) -> int:
    """Embed on Ray only the passages and article heads whose content hash has no cached ``model_key`` vector,
    and cache them in the store; returns how many were embedded (the plain build's embedding step on Ray)."""
    inputs = store.embedding_inputs(store.missing_embeddings(model_key))
    hashes = list(inputs)
    if hashes:
        vectors = embed_with_ray([inputs[h] for h in hashes], model, address, batch_size, num_cpus)
        store.put_embeddings(model_key, hashes, vectors)
    return len(hashes)
