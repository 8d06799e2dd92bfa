"""Optional second stage: a sentence-transformers CrossEncoder re-scores the best fused passages.

Off by default (no cross-encoder ships offline). Users who have one pass its hub name or folder
(`--reranker`, `HEALTHSEARCH_RERANKER`); it reads the query and each passage together, which is slower but sharper
than comparing two vectors, so only the top ``depth`` passages are re-scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .config import RERANK_DEPTH
from .documents import Passage
from .errors import ModelError
from .store import StoredPassage

DEFAULT_DEPTH = RERANK_DEPTH


class Reranker:
    """A cross-encoder, loaded once, that re-orders the head of a ranking."""

    def __init__(self, name_or_path: str, depth: int = DEFAULT_DEPTH, device: str | None = None) -> None:
        if depth < 1:
            raise ModelError(f"reranker depth must be at least 1 (got {depth})")
        self.name = name_or_path
        self.depth = depth
        self.model = _load(name_or_path, device)

    def scores(self, query: str, passages: Sequence[StoredPassage]) -> np.ndarray:
        """The cross-encoder's relevance score of each passage (title, section and text) for ``query``."""
        pairs = [
            (query, Passage(p.article_id, p.ordinal, p.section, p.text, p.title).embedding_text())
            for p in passages
        ]
        return np.asarray(self.model.predict(pairs, show_progress_bar=False), dtype=np.float32).reshape(-1)

    def rerank(
        self, query: str, hits: list[tuple[StoredPassage, float]]
    ) -> list[tuple[StoredPassage, float]]:
        """The first ``depth`` hits re-ordered by cross-encoder score (which becomes their score); the rest follow
        in their fused order."""
        head, tail = hits[: self.depth], hits[self.depth :]
        if not head:
            return hits
        scores = self.scores(query, [row for row, _ in head])
        order = sorted(range(len(head)), key=lambda i: (-scores[i], i))
        return [(head[i][0], float(scores[i])) for i in order] + tail


def _load(name_or_path: str, device: str | None) -> Any:
    """Load a CrossEncoder from a folder, or by hub name (cached copies only when offline); ``device`` None lets
    sentence-transformers pick a GPU when there is one, as the Encoder does."""
    from sentence_transformers import CrossEncoder

    local = Path(name_or_path).expanduser()
    try:
        if local.is_dir():
            return CrossEncoder(str(local), device=device, local_files_only=True)
        return CrossEncoder(name_or_path, device=device)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(
            f"cannot load reranker {name_or_path!r} ({str(exc).splitlines()[0][:200]}); pass a folder holding a "
            "sentence-transformers CrossEncoder, or a hub name this machine can download"
        ) from None
