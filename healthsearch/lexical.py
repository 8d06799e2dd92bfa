"""Lexical retrieval: BM25 per field (title, section, text) with bm25s, weighted and summed.

bm25s stores each field's BM25 scores as a sparse term × passage matrix (NumPy files, no pickle), so a query only
adds up the precomputed columns of its own terms: the cost follows the length of those posting lists, not the
size of the library, and the files are memory-mapped. Terms are Porter-stemmed and English stopwords dropped.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from .errors import IndexProblem
from .query import query_terms

FIELDS = ("title", "section", "text")
IDS_FILE = "ids.npy"
K1, B = 1.2, 0.75
FIELD_WEIGHTS = (2.0, 1.0, 1.0)  # title, section, text: measured best on LiveQA and the sample library
_STEMMER = Stemmer.Stemmer("porter")

LexicalRow = tuple[int, str, str, str]  # passage id, title (with aliases), section, text


def stem_words(words: Sequence[str]) -> list[str]:
    """Lower-cased Porter stems, exactly as the index stems its terms (highlighting marks the same words)."""
    return list(_STEMMER.stemWords([w.lower() for w in words]))


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, stopword-free, Porter-stemmed tokens of each text."""
    tokens = bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_STEMMER, return_ids=False, show_progress=False
    )
    return [list(t) for t in tokens]


def build(rows: Iterable[LexicalRow], folder: Path) -> None:
    """Write a BM25 index of ``rows`` (passage id, title, section, text) into ``folder``."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ids: list[int] = []
    columns: dict[str, list[str]] = {field: [] for field in FIELDS}
    for passage_id, *values in rows:
        ids.append(passage_id)
        for field, value in zip(FIELDS, values, strict=True):
            columns[field].append(value or "")
    np.save(folder / IDS_FILE, np.asarray(ids, dtype=np.int64), allow_pickle=False)
    if not ids:
        return
    for field, texts in columns.items():
        tokens = tokenize(texts)
        if any(tokens):  # bm25s cannot index a field that is empty in every passage
            model = bm25s.BM25(k1=K1, b=B)
            model.index(tokens, show_progress=False)
            model.save(str(folder / field))


class LexicalIndex:
    """A loaded BM25 index: ranks passage ids for a query."""

    def __init__(self, ids: np.ndarray, fields: dict[str, bm25s.BM25]) -> None:
        self.ids = ids
        self.fields = fields

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Memory-map an index written by :func:`build`."""
        try:
            ids = np.load(folder / IDS_FILE, mmap_mode="r", allow_pickle=False)
            fields = {
                field: bm25s.BM25.load(str(folder / field), mmap=True, show_progress=False)
                for field in FIELDS
                if (folder / field).is_dir()
            }
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            raise IndexProblem(
                f"lexical index {folder} is missing or damaged ({exc}); run: python build_index.py --index {folder.parent}"
            ) from None
        return cls(ids, fields)

    def search(
        self, text: str, limit: int, weights: tuple[float, float, float] = FIELD_WEIGHTS
    ) -> list[tuple[int, float]]:
        """Up to ``limit`` (passage id, score) pairs, best first; any text is safe, no known terms → []."""
        terms = _query_tokens(text)
        if not terms or not self.fields:
            return []
        scores = np.zeros(len(self.ids), dtype=np.float32)
        for field, weight in zip(FIELDS, weights, strict=True):
            model = self.fields.get(field)
            if model is None:
                continue
            known = [model.vocab_dict[t] for t in terms if t in model.vocab_dict]
            if weight > 0 and known:
                scores += weight * model.get_scores_from_ids(known)
        return _top(scores, self.ids, limit)


def _query_tokens(text: str) -> list[str]:
    """The query's distinct stemmed terms (the same tokenizer as the passages)."""
    words = query_terms(text)
    return list(dict.fromkeys(tokenize([" ".join(words)])[0])) if words else []


def _top(scores: np.ndarray, ids: np.ndarray, limit: int) -> list[tuple[int, float]]:
    matched = np.flatnonzero(scores > 0)
    if len(matched) > limit:
        matched = matched[np.argpartition(-scores[matched], limit - 1)[:limit]]
    order = matched[np.lexsort((ids[matched], -scores[matched]))]
    return [(int(ids[i]), float(scores[i])) for i in order]
