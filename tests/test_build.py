"""Incremental builds, atomic swaps and model checks, with the real model on tiny corpora."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from healthsearch import ann
from healthsearch.embedding import Encoder
from healthsearch.errors import CorpusError, IndexProblem
from healthsearch.search import Searcher

from .conftest import build, copy_sample, write

SLUGS = ["plantar-fasciitis", "achilles-tendinitis", "gout"]


def answers(index: Path, query: str = "heel pain after running") -> list[tuple[str, str]]:
    return [(r.passage_id, r.text) for r in Searcher.open(index).search(query, k=5)]


def test_first_build_then_nothing_to_do(tmp_path: Path, encoder: Encoder) -> None:
    corpus = copy_sample(SLUGS, tmp_path / "corpus")
    first = build(corpus, tmp_path / "index", encoder)
    assert first.articles == 3 and first.passages == first.new > 10
    assert first.embedded == first.passages + 3  # plus one whole-article vector per article
    fresh = Encoder()
    second = build(corpus, tmp_path / "index", fresh)
    assert second.up_to_date and second.embedded == 0 and second.kept == first.passages
    assert fresh._model is None, "a no-change build must not load the model"


def test_added_changed_removed_files_touch_only_their_passages(tmp_path: Path, encoder: Encoder) -> None:
    corpus, index = copy_sample(SLUGS, tmp_path / "corpus"), tmp_path / "index"
    first = build(corpus, index, encoder)
    gout = (corpus / "gout.md").read_text()
    (corpus / "gout.md").write_text(
        gout.replace("## Overview\n", "## Overview\n\nAn added opening sentence.\n")
    )
    (corpus / "achilles-tendinitis.md").unlink()
    write(corpus, "new-note.md", "# Blisters\n\nA blister is a bubble of fluid under the skin.\n")
    report = build(corpus, index, encoder)
    assert report.new >= 1 and report.changed >= 1 and report.removed >= 1
    assert report.embedded == report.new + report.changed + 1  # plus gout's whole-article vector
    assert report.kept + report.new + report.changed == report.passages
    assert report.passages < first.passages
    ids = {r.article_id for r in Searcher.open(index).search("blister fluid under the skin", k=3)}
    assert "new-note" in ids


def test_full_rebuild_re_embeds_everything(tmp_path: Path, encoder: Encoder) -> None:
    corpus = copy_sample(SLUGS[:1], tmp_path / "corpus")
    first = build(corpus, tmp_path / "index", encoder)
    again = build(corpus, tmp_path / "index", encoder, full=True)
    assert again.embedded == first.embedded and again.new == first.passages


def test_failed_build_leaves_previous_index_serving(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, index = copy_sample(SLUGS, tmp_path / "corpus"), tmp_path / "index"
    build(corpus, index, encoder)
    before, manifest = answers(index), (index / "manifest.json").read_text()
    write(corpus, "extra.md", "# Extra\n\nSomething new about heels.\n")

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full while writing vectors")

    monkeypatch.setattr(ann, "build", explode)
    with pytest.raises(RuntimeError):
        build(corpus, index, encoder)
    assert (index / "manifest.json").read_text() == manifest
    assert answers(index) == before
    monkeypatch.undo()
    assert build(corpus, index, encoder).new >= 1  # the next build recovers


def test_duplicate_ids_are_named_and_skipped(tmp_path: Path, encoder: Encoder) -> None:
    corpus = tmp_path / "corpus"
    write(corpus, "a/gout.md", "# Gout\n\nJoint pain from uric acid crystals.\n")
    write(corpus, "b/gout.md", "# Gout again\n\nA second file with the same stem.\n")
    report = build(corpus, tmp_path / "index", encoder)
    assert report.articles == 1
    assert any("gout" in w and "a/gout.md" in w and "b/gout.md" in w for w in report.warnings)


def test_skipped_files_are_reported_and_remembered(tmp_path: Path, encoder: Encoder) -> None:
    corpus = copy_sample(SLUGS[:1], tmp_path / "corpus")
    (corpus / "broken.md").write_bytes(b"---\ntitle: [oops\n---\ntext")
    report = build(corpus, tmp_path / "index", encoder)
    assert report.skipped == [("broken.md", report.skipped[0][1])] and "front matter" in report.skipped[0][1]
    again = build(corpus, tmp_path / "index", encoder)
    assert again.up_to_date and again.skipped == report.skipped


def test_empty_corpus_is_a_clear_error(tmp_path: Path, encoder: Encoder) -> None:
    (tmp_path / "corpus").mkdir()
    with pytest.raises(CorpusError, match="has no articles"):
        build(tmp_path / "corpus", tmp_path / "index", encoder)


def test_query_model_must_match_the_index(tmp_path: Path, encoder: Encoder) -> None:
    corpus, index = copy_sample(SLUGS[:1], tmp_path / "corpus"), tmp_path / "index"
    build(corpus, index, encoder)
    other = tmp_path / "other-model"
    shutil.copytree(encoder.ref.location, other)
    (other / "README.md").write_text("a different model folder")
    with pytest.raises(IndexProblem, match="built with model"):
        Searcher.open(index, model=str(other))


def test_manifest_records_model_and_settings(tmp_path: Path, encoder: Encoder) -> None:
    index = tmp_path / "index"
    build(copy_sample(SLUGS[:1], tmp_path / "corpus"), index, encoder)
    manifest = json.loads((index / "manifest.json").read_text())
    model = manifest["spec"]["model"]
    assert model["name"] == "all-MiniLM-L6-v2" and model["dimension"] == 384
    assert manifest["spec"]["chunker"]["max_words"] == 200 and manifest["vector_key"] == encoder.key
    assert {"sentence-transformers", "faiss-cpu", "python"} <= set(manifest["versions"])
    assert (index / manifest["files"]["vectors"]).suffix == ".faiss"
    assert not list(index.glob("*.partial")) and not any(p.suffix == ".pkl" for p in index.iterdir())


def test_damaged_index_files_give_clear_errors(tmp_path: Path, encoder: Encoder) -> None:
    index = tmp_path / "index"
    build(copy_sample(SLUGS[:1], tmp_path / "corpus"), index, encoder)
    manifest = json.loads((index / "manifest.json").read_text())
    vectors = index / manifest["files"]["vectors"]
    vectors.write_bytes(vectors.read_bytes()[:100])
    with pytest.raises(IndexProblem, match="damaged"):
        Searcher.open(index)
    (index / "manifest.json").write_text("{not json")
    with pytest.raises(IndexProblem, match="unreadable"):
        Searcher.open(index)
    manifest["format_version"] = 99
    (index / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexProblem, match="newer healthsearch"):
        Searcher.open(index)
    with pytest.raises(IndexProblem, match="no index"):
        Searcher.open(tmp_path / "missing")


def test_old_generations_are_cleaned_up(tmp_path: Path, encoder: Encoder) -> None:
    corpus, index = copy_sample(SLUGS[:1], tmp_path / "corpus"), tmp_path / "index"
    for n in range(3):
        write(corpus, f"note{n}.md", f"# Note {n}\n\nA zebracorn sighting, number {n}.\n")
        build(corpus, index, encoder)
    assert len(list(index.glob("passages-*.sqlite"))) == 2
    assert len(list(index.glob("lexical-*"))) == 2
    assert os.path.exists(index / json.loads((index / "manifest.json").read_text())["files"]["database"])
    hits = Searcher.open(index).search("zebracorn", k=5, mode="lexical")
    assert sorted(r.title for r in hits) == ["Note 0", "Note 1", "Note 2"]


def test_moved_corpus_is_re_read_but_not_re_embedded(tmp_path: Path, encoder: Encoder) -> None:
    corpus, index = copy_sample(SLUGS[:2], tmp_path / "corpus"), tmp_path / "index"
    first = build(corpus, index, encoder)
    moved = corpus.rename(tmp_path / "moved")
    report = build(moved, index, encoder)
    assert not report.up_to_date and report.embedded == 0 and report.passages == first.passages
    assert any("re-reading every file" in note for note in report.notes)


def test_searcher_encoder_uses_the_same_cache_key_as_the_build(tmp_path: Path, encoder: Encoder) -> None:
    index = tmp_path / "index"
    build(copy_sample(SLUGS[:1], tmp_path / "corpus"), index, encoder)
    searcher = Searcher.open(index)
    assert searcher.encoder.key == encoder.key
    assert (
        sum(len(ids) for ids, _ in searcher.engine.store.vectors(searcher.encoder.key, 384))
        == searcher.counts["passages"]
    )


def test_passage_token_limit_is_recorded_and_a_change_re_embeds(tmp_path: Path, encoder: Encoder) -> None:
    corpus, index = copy_sample(SLUGS[:1], tmp_path / "corpus"), tmp_path / "index"
    build(corpus, index, Encoder(encoder.ref, passage_tokens=64))
    manifest = json.loads((index / "manifest.json").read_text())
    assert manifest["spec"]["model"]["passage_tokens"] == 64
    searcher = Searcher.open(index)
    assert searcher.encoder.passage_tokens == 64 and searcher.encoder.key.endswith("+64tok")
    assert sum(len(ids) for ids, _ in searcher.engine.store.vectors(searcher.encoder.key, 384)) > 0
    assert searcher.search("heel pain in the morning", k=1)[0].article_id == "plantar-fasciitis"
    again = build(corpus, index, encoder)
    assert again.embedded > 0 and any(
        "token limit changed (64 → 192): every passage re-embedded" in note for note in again.notes
    )
    assert json.loads((index / "manifest.json").read_text())["spec"]["model"]["passage_tokens"] == 192


def test_old_fts_table_is_dropped_on_the_next_build(tmp_path: Path, encoder: Encoder) -> None:
    corpus, index = copy_sample(SLUGS[:1], tmp_path / "corpus"), tmp_path / "index"
    build(corpus, index, encoder)
    live = index / json.loads((index / "manifest.json").read_text())["files"]["database"]
    with sqlite3.connect(live) as conn:  # as builds before bm25s left it
        conn.execute("CREATE VIRTUAL TABLE passages_fts USING fts5(title, section, text)")
    write(corpus, "note.md", "# Note\n\nA new short note.\n")
    build(corpus, index, encoder)
    newest = index / json.loads((index / "manifest.json").read_text())["files"]["database"]
    with sqlite3.connect(newest) as conn:
        assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'passages_fts'").fetchone()


def test_full_rebuild_writes_a_new_generation_beside_the_live_one(tmp_path: Path, encoder: Encoder) -> None:
    corpus, index = copy_sample(SLUGS[:1], tmp_path / "corpus"), tmp_path / "index"
    build(corpus, index, encoder)
    live = json.loads((index / "manifest.json").read_text())
    build(corpus, index, encoder, full=True)
    after = json.loads((index / "manifest.json").read_text())
    assert after["generation"] == live["generation"] + 1
    assert all(
        (index / name).exists() for name in live["files"].values()
    )  # readers of the old one keep going


def test_an_index_without_word_counts_gets_them_on_the_next_build_without_re_embedding(
    tmp_path: Path, encoder: Encoder
) -> None:
    corpus, index = copy_sample(SLUGS[:2], tmp_path / "corpus"), tmp_path / "index"
    build(corpus, index, encoder)
    live = index / json.loads((index / "manifest.json").read_text())["files"]["database"]
    with sqlite3.connect(live) as conn:  # as builds before word counts were kept left it
        conn.execute("DROP TABLE vocabulary")
    assert Searcher.open(index, encoder=encoder).speller().counts == {}
    again = build(corpus, index, encoder)
    assert not again.up_to_date and again.embedded == 0
    counts = Searcher.open(index, encoder=encoder).speller().counts
    assert counts and max(counts.values()) >= 5
