"""Settings and the names every front end shares (modes, backends, index kinds, file names).

What shapes an index lives in spec.IndexSpec; BuildSettings holds how to run one build and which spec fields the
caller wants changed (None keeps the live index's value).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_BACKEND = "auto"
# Passages are embedded from their first 192 tokens: builds 1.1-1.4x faster than the model's 256, with LiveQA
# nDCG@10 within 0.5 % (benchmarks/RESULTS.md); the lexical side always indexes the whole passage.
DEFAULT_PASSAGE_TOKENS = 192
MIN_PASSAGE_TOKENS = 16
DEFAULT_CORPUS = Path("corpus")
DEFAULT_INDEX = Path("index")
MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 4

MODES = ("hybrid", "dense", "lexical")
BACKENDS = ("auto", "torch", "torch-bf16", "onnx", "onnx-int8")
INDEX_KINDS = ("auto", "flat", "ivf", "ivfpq")
RERANK_DEPTH = 30  # passages an optional cross-encoder re-scores
MAX_K = 1000
ENGINES = ("local", "milvus")
DEFAULT_COLLECTION = "healthsearch"


@dataclass(frozen=True)
class ChunkerSettings:
    """How articles are cut into passages (word counts are whitespace-separated words)."""

    target_words: int = 160
    max_words: int = 200
    min_words: int = 120
    overlap_sentences: int = 1

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for the manifest."""
        return asdict(self)


@dataclass(frozen=True)
class BuildSettings:
    """One build: where, how to run it, and the spec fields to change (None: as the live index was built,
    or the default for a new index)."""

    corpus: Path | None = None
    index: Path = DEFAULT_INDEX
    full: bool = False
    batch_size: int = 32
    device: str | None = None
    progress: bool = True
    model: str | None = None
    backend: str | None = None
    passage_tokens: int | None = None
    index_type: str | None = None
    compact: bool | None = None
    chunker: ChunkerSettings | None = None
    engine: str | None = None  # "local" or "milvus"
    milvus_uri: str | None = None  # a Milvus Lite file (.db) or a server (http://host:19530)
    collection: str | None = None  # the Milvus alias that names the live generation
    ray: bool = False  # chunk and embed on Ray Data (how to run, not part of the spec)
    ray_address: str | None = None  # a Ray cluster; None starts a local Ray with this machine's cores
