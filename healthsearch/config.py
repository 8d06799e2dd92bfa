"""Settings of a build, resolved once and written into the manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_BACKEND = "auto"
# Passages are embedded from their first 192 tokens: builds 1.1-1.4x faster than the model's 256, with LiveQA
# nDCG@10 within 0.5 % (benchmarks/RESULTS.md); the lexical side always indexes the whole passage.
DEFAULT_PASSAGE_TOKENS = 192
MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 3


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
    """Everything a build needs to know."""

    corpus: Path = Path("corpus")
    index: Path = Path("index")
    model: str = DEFAULT_MODEL
    full: bool = False
    batch_size: int = 32
    device: str | None = None
    chunker: ChunkerSettings = ChunkerSettings()
    progress: bool = True
    index_type: str = "auto"
    backend: str = DEFAULT_BACKEND
    compact: bool = False
    passage_tokens: int | None = DEFAULT_PASSAGE_TOKENS
