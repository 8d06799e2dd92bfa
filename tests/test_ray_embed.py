"""Ray Data stages of a build on a local Ray (2 CPUs): chunking equals the plain build, embedding equals the
Encoder, and only content hashes missing from the SQLite cache are embedded."""

from __future__ import annotations

import shutil
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="Ray Data needs pip install -e '.[scale]'")

from healthsearch import ray_embed
from healthsearch.config import ChunkerSettings
from healthsearch.embedding import Encoder
from healthsearch.errors import HealthsearchError
from healthsearch.ingest import list_corpus_files
from healthsearch.manifest import read_manifest
from healthsearch.search import Searcher
from healthsearch.spec import ModelSpec
from healthsearch.store import Store, open_db

from .conftest import build, built_beside, copy_sample, write

pytestmark = pytest.mark.slow  # engine integration (Milvus Lite, a local Ray): the full tier


SLUGS = ["plantar-fasciitis", "gout", "migraine", "asthma", "acne"]


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    with ray_embed.ray_session(num_cpus=2):
        yield


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = copy_sample(SLUGS, tmp_path_factory.mktemp("ray") / "corpus")
    write(folder, "empty.md", "---\ntitle: Nothing here\n---\n")
    write(folder, "notes/short.txt", "Hiccups\n\nHolding your breath may stop hiccups.\n")
    return folder


@pytest.fixture(scope="module")
def index(corpus: Path, encoder: Encoder) -> Path:
    return built_beside(corpus, "index", encoder)


def tolerance(encoder: Encoder) -> float:
    """How close vectors of one text embedded in different batches are: exact in fp32; bfloat16 rounds the
    padded batch differently, so its vectors agree to about the third decimal."""
    return 1e-6 if encoder.backend == "torch" else 3e-3


def database(index: Path) -> Path:
    return index / read_manifest(index).files["database"]


def test_chunking_on_ray_equals_the_plain_build(corpus: Path, index: Path) -> None:
    files = list_corpus_files(corpus)
    chunked = ray_embed.chunk_with_ray(files, ChunkerSettings())
    assert [c.file for c in chunked] == files
    assert chunked == [ray_embed.chunk_file(f, ChunkerSettings()) for f in files]
    skipped = {c.file.relative: c.skipped for c in chunked if c.skipped}
    assert list(skipped) == ["empty.md"]
    conn = sqlite3.connect(database(index))
    for record in (r for c in chunked for r in c.records):
        stored = conn.execute(
            "SELECT ordinal, section, text, content_hash FROM passages WHERE article_id = ? ORDER BY ordinal",
            (record.article.id,),
        ).fetchall()
        mine = [
            (p.ordinal, p.section, p.text, h) for p, h in zip(record.passages, record.hashes, strict=True)
        ]
        assert mine == stored
        (head_hash,) = conn.execute(
            "SELECT head_hash FROM articles WHERE id = ?", (record.article.id,)
        ).fetchone()
        assert (record.head[1] if record.head else None) == head_hash
        assert (
            record.article.source_path
            == conn.execute("SELECT source_path FROM articles WHERE id = ?", (record.article.id,)).fetchone()[
                0
            ]
        )
    assert ray_embed.chunk_with_ray([], ChunkerSettings()) == []


@pytest.mark.slow  # 300 texts through an actor pool and the local encoder
def test_vectors_equal_the_encoder(index: Path, encoder: Encoder) -> None:
    store = Store(open_db(database(index), readonly=True))
    texts = [f"{title}. {section}\n{text}" for _, title, section, text in store.lexical_rows()][:24]
    texts += [f"short text {i} about {texts[i % 24][:40]}" for i in range(276)]  # 300: two chunks
    found = ray_embed.embed_with_ray(texts, encoder, batch_size=16)
    expected = encoder.encode_passages(texts, 16)
    assert found.shape == (300, encoder.dimension)
    np.testing.assert_allclose(found, expected, atol=tolerance(encoder))
    assert ray_embed.embed_with_ray([], encoder).shape == (0, encoder.dimension)


def test_only_missing_hashes_are_embedded(index: Path, encoder: Encoder, tmp_path: Path) -> None:
    copy = tmp_path / "passages.sqlite"
    shutil.copy(database(index), copy)
    store = Store(open_db(copy))
    before = dict(
        store.conn.execute("SELECT content_hash, vector FROM embeddings WHERE model = ?", (encoder.key,))
    )
    dropped = sorted(before)[::3]
    store.conn.executemany("DELETE FROM embeddings WHERE content_hash = ?", ((h,) for h in dropped))
    assert ray_embed.embed_missing_with_ray(store, encoder, encoder.key) == len(dropped)
    after = dict(
        store.conn.execute("SELECT content_hash, vector FROM embeddings WHERE model = ?", (encoder.key,))
    )
    assert after.keys() == before.keys()
    for h in dropped:
        np.testing.assert_allclose(
            np.frombuffer(after[h], dtype=np.float32),
            np.frombuffer(before[h], dtype=np.float32),
            atol=tolerance(encoder),
        )
    assert ray_embed.embed_missing_with_ray(store, encoder, encoder.key) == 0


def test_encoder_args_from_an_index_spec(index: Path, encoder: Encoder) -> None:
    built = read_manifest(index).spec.model
    spec = ModelSpec(
        name=built.name,
        location=built.location,
        fingerprint=built.fingerprint,
        backend=built.backend,
        passage_tokens=built.passage_tokens,
    )
    args = ray_embed.EncoderArgs.of(spec)
    assert (args.ref.fingerprint, args.backend, args.passage_tokens) == (
        encoder.ref.fingerprint,
        encoder.backend,
        encoder.passage_tokens,
    )


def test_without_ray_one_line_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(HealthsearchError, match=r"pip install -e '\.\[scale\]'"):
        ray_embed.embed_with_ray(["x"], ray_embed.EncoderArgs.of(Encoder()))


QUERIES = ["heel pain after running", "gout in the big toe", "wheezing and short of breath", "hiccups"]


def answers(index: Path, encoder: Encoder, mode: str = "hybrid") -> list[list[tuple[str, float]]]:
    searcher = Searcher.open(index, encoder=encoder)
    try:
        return [[(r.passage_id, r.score) for r in searcher.search(q, k=8, mode=mode)] for q in QUERIES]
    finally:
        searcher.engine.close()


def test_a_ray_build_answers_exactly_as_the_plain_build(
    corpus: Path, index: Path, encoder: Encoder, tmp_path: Path
) -> None:
    on_ray = tmp_path / "index"
    report = build(corpus, on_ray, encoder, ray=True)
    plain = read_manifest(index)
    assert report.embedded > 0
    assert report.passages == plain.counts["passages"] and report.skipped == [
        ("empty.md", report.skipped[0][1])
    ]
    assert read_manifest(on_ray).spec == plain.spec
    assert answers(on_ray, encoder) == answers(index, encoder)
    assert build(corpus, on_ray, encoder, ray=True).up_to_date


@pytest.mark.slow
def test_a_ray_build_into_milvus(corpus: Path, index: Path, encoder: Encoder, tmp_path: Path) -> None:
    pytest.importorskip("pymilvus", reason="the Milvus engine needs pip install -e '.[scale]'")
    pytest.importorskip("milvus_lite", reason="Milvus Lite needs pip install -e '.[scale]'")
    on_ray = tmp_path / "index"
    build(corpus, on_ray, encoder, ray=True, engine="milvus")
    assert read_manifest(on_ray).spec.engine.name == "milvus"
    found, expected = answers(on_ray, encoder, "dense"), answers(index, encoder, "dense")
    assert [[pid for pid, _ in q] for q in found] == [[pid for pid, _ in q] for q in expected]
    np.testing.assert_allclose(
        [s for q in found for _, s in q],
        [s for q in expected for _, s in q],
        atol=max(1e-4, tolerance(encoder)),
    )
