"""The optional cross-encoder reranker, with a tiny BERT cross-encoder built here (random weights: the test
checks the plumbing, not the quality)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

from healthsearch.cli import main
from healthsearch.errors import ModelError
from healthsearch.rerank import Reranker
from healthsearch.search import Searcher
from healthsearch.store import StoredPassage

pytestmark = pytest.mark.slow  # real pages, processes or model exports: outside the quick tier

WORDS = [
    "heel",
    "pain",
    "foot",
    "running",
    "gout",
    "toe",
    "joint",
    "knee",
    "sleep",
    "night",
    "skin",
    "rash",
    "itch",
    "burning",
    "pee",
    "stomach",
]


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    (folder / "vocab.txt").write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n"
    )
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(WORDS) + 5,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=1,
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


def test_reranker_reorders_the_head_by_cross_encoder_score(
    sample_index: Path, tiny_cross_encoder: Path
) -> None:
    query, reranker = "heel pain after running", Reranker(str(tiny_cross_encoder), depth=30)
    plain = Searcher.open(sample_index)
    fused = plain.search(query, k=30, highlight=False)
    rows = [_stored(plain, r.passage_id) for r in fused]
    scores = reranker.scores(query, rows)
    assert scores.shape == (30,) and np.isfinite(scores).all()
    expected = [rows[i].passage_id for i in np.argsort(-scores, kind="stable")]
    reranked = Searcher.open(sample_index, reranker=reranker).search(query, k=30)
    assert [r.passage_id for r in reranked] == expected
    assert [r.score for r in reranked] == pytest.approx(sorted(scores.tolist(), reverse=True), abs=1e-5)


def _stored(searcher: Searcher, passage_id: str) -> StoredPassage:
    article_id, ordinal = passage_id.rsplit("#", 1)
    return next(p for p in searcher.article_passages(article_id) if p.ordinal == int(ordinal))


def test_reranker_is_off_by_default(sample_index: Path) -> None:
    assert Searcher.open(sample_index).reranker is None


def test_missing_reranker_is_a_clear_error(
    tmp_path: Path, sample_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    with pytest.raises(ModelError, match="cannot load reranker"):
        Reranker(str(empty))
    assert main(["search", "--index", str(sample_index), "--reranker", str(empty), "gout"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "cannot load reranker" in error
