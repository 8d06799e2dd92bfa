"""Retrieval metrics at article level over TREC qrels: nDCG@k, Recall@k, MRR@k, Hit@k."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import HealthsearchError

Qrels = dict[str, dict[str, int]]


def load_qrels(path: Path) -> Qrels:
    """TREC qrels lines ``qid 0 doc_id grade`` → {qid: {doc_id: grade}}."""
    qrels: Qrels = defaultdict(dict)
    for number, line in enumerate(_read_lines(path), start=1):
        parts = line.split()
        if len(parts) != 4 or not parts[3].lstrip("-").isdigit():
            raise HealthsearchError(f"{path}:{number}: expected 'qid 0 doc_id grade', got {line[:60]!r}")
        qrels[parts[0]][parts[2]] = int(parts[3])
    return dict(qrels)


def load_queries(path: Path, field: str = "query") -> dict[str, str]:
    """JSONL lines {"id": ..., field: ...} → {id: text}."""
    queries = {}
    for number, line in enumerate(_read_lines(path), start=1):
        try:
            record = json.loads(line)
            queries[str(record["id"])] = str(record[field])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise HealthsearchError(
                f'{path}:{number}: expected a JSON object with "id" and "{field}"'
            ) from None
    return queries


def _read_lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise HealthsearchError(f"cannot read {path} ({exc.__class__.__name__})") from None


def unique_in_order(ids: Iterable[str]) -> list[str]:
    """Article ranking from a passage ranking: each article at the rank of its best passage."""
    return list(dict.fromkeys(ids))


def ndcg(ranked: Sequence[str], judged: dict[str, int], k: int = 10, condensed: bool = False) -> float:
    """nDCG@k with linear gains (as trec_eval); ``condensed`` drops unjudged documents first."""
    if condensed:
        ranked = [d for d in ranked if d in judged]
    gains = [max(judged.get(d, 0), 0) for d in ranked[:k]]
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    best = _dcg(ideal)
    return _dcg(gains) / best if best > 0 else 0.0


def _dcg(gains: Sequence[int]) -> float:
    return sum(g / math.log2(rank + 2) for rank, g in enumerate(gains))


def recall(ranked: Sequence[str], judged: dict[str, int], k: int = 10, min_grade: int = 1) -> float:
    """Share of relevant documents found in the top k."""
    relevant = {d for d, g in judged.items() if g >= min_grade}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranked: Sequence[str], judged: dict[str, int], k: int = 10, min_grade: int = 1) -> float:
    """1 / rank of the first relevant document in the top k, else 0."""
    for rank, doc in enumerate(ranked[:k], start=1):
        if judged.get(doc, 0) >= min_grade:
            return 1.0 / rank
    return 0.0


def hit(ranked: Sequence[str], judged: dict[str, int], k: int = 3, min_grade: int = 1) -> float:
    """1 when a relevant document is in the top k."""
    return 1.0 if reciprocal_rank(ranked, judged, k, min_grade) > 0 else 0.0


def evaluate_run(run: dict[str, list[str]], qrels: Qrels, min_grade: int = 1) -> dict[str, Any]:
    """Mean metrics over the queries that have at least one relevant judgement."""
    scored = [q for q in run if any(g >= min_grade for g in qrels.get(q, {}).values())]
    metrics: dict[str, Callable[[Sequence[str], dict[str, int]], float]] = {
        "ndcg@10": lambda r, j: ndcg(r, j, 10),
        "ndcg@10_condensed": lambda r, j: ndcg(r, j, 10, condensed=True),
        "recall@10": lambda r, j: recall(r, j, 10, min_grade),
        "mrr@10": lambda r, j: reciprocal_rank(r, j, 10, min_grade),
        "hit@3": lambda r, j: hit(r, j, 3, min_grade),
    }
    summary: dict[str, Any] = {"queries": len(scored)}
    for name, metric in metrics.items():
        values = [metric(run[q], qrels[q]) for q in scored]
        summary[name] = round(sum(values) / len(values), 4) if values else 0.0
    return summary
