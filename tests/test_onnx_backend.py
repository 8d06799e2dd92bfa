"""The ONNX backends: exported offline from the packaged model, close to the torch vectors, used end to end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from healthsearch.embedding import Encoder
from healthsearch.errors import ModelError
from healthsearch.search import Searcher

from .conftest import build, copy_sample

pytestmark = pytest.mark.slow  # real pages, processes or model exports: outside the quick tier

TEXTS = [
    "heel pain after running",
    "Gout. Overview\nGout is a painful kind of arthritis.",
    "burning when I pee " * 40,
]


@pytest.fixture(scope="module", autouse=True)
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEALTHSEARCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.mark.parametrize(("backend", "closeness"), [("onnx", 0.9999), ("onnx-int8", 0.98)])
def test_onnx_vectors_match_torch(backend: str, closeness: float) -> None:
    onnx = Encoder(backend=backend)
    expected, got = Encoder(backend="torch").encode_passages(TEXTS), onnx.encode_passages(TEXTS)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert (got * expected).sum(axis=1).min() > closeness
    assert onnx.key.endswith(f"+{backend}+192tok") and onnx._model is None, "the torch model is never loaded"


def test_export_is_cached_by_model_fingerprint() -> None:
    first = Encoder(backend="onnx-int8")
    _ = first.dimension
    folder = Path(os.environ["HEALTHSEARCH_CACHE"]) / "onnx" / first.ref.fingerprint
    assert (folder / "model.onnx").exists() and (folder / "model-qint8-per-channel.onnx").exists()
    stamp = (folder / "model.onnx").stat().st_mtime_ns
    _ = Encoder(backend="onnx-int8").dimension
    assert (folder / "model.onnx").stat().st_mtime_ns == stamp


def test_build_and_search_with_int8_backend(tmp_path: Path, encoder: Encoder) -> None:
    corpus, index = (
        copy_sample(["plantar-fasciitis", "gout", "asthma"], tmp_path / "corpus"),
        tmp_path / "index",
    )
    build(corpus, index, Encoder(backend="onnx-int8"))
    manifest = json.loads((index / "manifest.json").read_text())
    assert manifest["spec"]["model"]["backend"] == "onnx-int8"
    searcher = Searcher.open(index, encoder=encoder)  # a torch encoder is swapped for the index's backend
    assert searcher.encoder.backend == "onnx-int8"
    assert searcher.search("wheezing and a tight chest", k=1)[0].article_id == "asthma"
    again = build(corpus, index, encoder)  # back to torch: everything is embedded again, nothing stale kept
    assert again.embedded > 0 and any("backend changed" in note for note in again.notes)


def test_unknown_backend_and_hub_models_are_refused() -> None:
    with pytest.raises(ModelError, match="unknown backend"):
        Encoder(backend="tensorrt")
    with pytest.raises(ModelError, match="local model folder"):
        Encoder("someone/some-hub-model", backend="onnx")


def test_bfloat16_backend_is_close_to_fp32() -> None:
    fp32, bf16 = Encoder(backend="torch"), Encoder(backend="torch-bf16")
    assert bf16.key.endswith("+torch-bf16+192tok") and fp32.key.endswith(f"{fp32.ref.fingerprint}+192tok")
    got, expected = bf16.encode_passages(TEXTS), fp32.encode_passages(TEXTS)
    assert got.dtype == np.float32 and (got * expected).sum(axis=1).min() > 0.999
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_passage_token_limit_cuts_passages_but_not_queries(backend: str) -> None:
    opening = "Plantar fasciitis causes heel pain that is worst with the first steps of the morning. " * 3
    texts = [
        opening + "It often follows running on hard ground in worn shoes. " * 8,
        opening + "Ice, calf stretches and rest usually help within a few months. " * 8,
    ]
    limited, whole = (
        Encoder(backend=backend, passage_tokens=32),
        Encoder(backend=backend, passage_tokens=None),
    )
    cut, full = limited.encode_passages(texts), whole.encode_passages(texts)
    assert float(cut[0] @ cut[1]) > 0.9999, "the first 32 tokens are the same, so the vectors are too"
    assert float(full[0] @ full[1]) < 0.98, "without the limit the different endings count"
    assert float(limited.encode_query(texts[0]) @ full[0]) > 0.9999, "queries are never cut"
    assert limited.key == whole.key + "+32tok", "cached vectors of different limits never mix"


def test_tiny_passage_token_limit_is_refused() -> None:
    with pytest.raises(ModelError, match="too small"):
        Encoder(passage_tokens=8)
