"""The index spec: written into the manifest, read back, followed by later builds, the Searcher and the CLI."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from healthsearch.build import build_index
from healthsearch.cli import main
from healthsearch.config import BuildSettings, ChunkerSettings
from healthsearch.errors import IndexProblem
from healthsearch.manifest import read_manifest
from healthsearch.search import Searcher
from healthsearch.spec import EngineSpec, IndexSpec, ModelSpec, VectorSpec, describe_changes

from .conftest import REPO, copy_sample, write

SLUGS = ["plantar-fasciitis", "gout"]


def test_spec_round_trips_through_a_dict() -> None:
    spec = IndexSpec(
        model=ModelSpec("m", "/models/m", "abc", 128, "onnx", None),
        chunker=ChunkerSettings(target_words=90, max_words=120, min_words=60, overlap_sentences=0),
        vectors=VectorSpec("ivf", True),
        engine=EngineSpec("milvus", "index/milvus.db", "library"),
    )
    assert IndexSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_unknown_spec_fields_are_refused_by_name() -> None:
    data = IndexSpec().to_dict()
    data["model"]["colour"] = "blue"
    with pytest.raises(IndexProblem, match=r"spec\.model has unknown field\(s\) colour"):
        IndexSpec.from_dict(data)


def test_each_changed_field_is_named_with_its_cost() -> None:
    before = IndexSpec(model=ModelSpec("a", "/a", "f1", 384, "torch", 192))
    after = replace(before, model=replace(before.model, passage_tokens=128), vectors=VectorSpec(compact=True))
    notes = describe_changes(before, after)
    assert notes == [
        "passage token limit changed (192 → 128): every passage re-embedded",
        "vectors changed (compact False → True): vector index rebuilt from cached vectors (nothing re-embedded)",
    ]


@pytest.mark.slow
def test_the_index_built_off_the_defaults_records_its_spec(
    small_model_index: Path, small_model: Path
) -> None:
    manifest = read_manifest(small_model_index)
    model = manifest.spec.model
    assert (model.location, model.dimension, model.backend, model.passage_tokens) == (
        str(small_model.resolve()),
        128,
        "torch",
        128,
    )
    assert manifest.spec.vectors.compact and manifest.index_type == "ivfpq" and "exact" in manifest.files
    assert manifest.vector_key.endswith("@" + model.fingerprint + "+128tok")


@pytest.mark.slow
def test_searcher_follows_the_spec_without_being_told(small_model_index: Path) -> None:
    searcher = Searcher.open(small_model_index)
    assert searcher.encoder.dimension == 128 and searcher.encoder.backend == "torch"
    assert searcher.encoder.passage_tokens == 128
    results = searcher.search("heel pain after running", k=5)
    assert results[0].article_id in {"plantar-fasciitis", "achilles-tendinitis", "heel-spurs"}
    assert results[0].similarity is not None and 0 < results[0].similarity <= 1


@pytest.mark.slow
def test_a_build_without_flags_keeps_everything(tmp_path: Path, small_model_index: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(small_model_index, index)
    live = read_manifest(index)
    again = build_index(BuildSettings(corpus=REPO / "corpus", index=index, progress=False))
    assert again.up_to_date and again.embedded == 0 and not again.notes
    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    write(corpus, "frostbite.md", "# Frostbite\n\n## Overview\n\nFrostbite is skin frozen by cold.\n")
    changed = build_index(BuildSettings(corpus=corpus, index=index, progress=False))
    after = read_manifest(index)
    assert changed.embedded <= 3 and after.spec == live.spec and after.generation == live.generation + 1
    assert Searcher.open(index).search("frozen fingers in the cold", k=1)[0].article_id == "frostbite"


def test_flags_change_single_fields_and_say_what_it_costs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], encoder: object
) -> None:
    corpus, index = copy_sample(SLUGS, tmp_path / "corpus"), tmp_path / "index"
    assert main(["build", "--corpus", str(corpus), "--index", str(index), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["build", "--index", str(index), "--quiet", "--compact"]) == 0
    out = capsys.readouterr().out
    assert "vectors changed (compact False → True): vector index rebuilt" in out and "nothing to embed" in out
    assert f"from {corpus}" in out  # the corpus folder is remembered too
    assert main(["build", "--index", str(index), "--quiet", "--passage-tokens", "96"]) == 0
    out = capsys.readouterr().out
    assert "passage token limit changed (192 → 96): every passage re-embedded" in out
    spec = read_manifest(index).spec
    assert spec.vectors.compact and spec.model.passage_tokens == 96
    assert main(["build", "--index", str(index), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "up to date" in out and "note:" not in out


@pytest.mark.slow
def test_another_model_via_the_cli_re_embeds_and_is_kept(
    tmp_path: Path, small_model: Path, capsys: pytest.CaptureFixture[str], encoder: object
) -> None:
    corpus, index = copy_sample(SLUGS, tmp_path / "corpus"), tmp_path / "index"
    main(["build", "--corpus", str(corpus), "--index", str(index), "--quiet"])
    capsys.readouterr()
    assert main(["build", "--index", str(index), "--quiet", "--model", str(small_model)]) == 0
    out = capsys.readouterr().out
    assert "model changed (all-MiniLM-L6-v2 → " in out and "every passage re-embedded" in out
    assert read_manifest(index).spec.model.dimension == 128
    assert main(["search", "--index", str(index), "--json", "gout in the big toe"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["article_id"] == "gout"


def test_an_index_of_the_previous_format_is_upgraded_without_re_embedding(
    tmp_path: Path, encoder: object
) -> None:
    corpus, index = copy_sample(SLUGS, tmp_path / "corpus"), tmp_path / "index"
    build_index(BuildSettings(corpus=corpus, index=index, progress=False))
    data = json.loads((index / "manifest.json").read_text())
    spec = data.pop("spec")
    old = {**data, "format_version": 3, "model": spec["model"], "chunker": spec["chunker"]}
    del old["vector_key"]
    (index / "manifest.json").write_text(json.dumps(old))
    with pytest.raises(IndexProblem, match=r"older healthsearch .*to upgrade it"):
        Searcher.open(index)
    report = build_index(BuildSettings(index=index, progress=False))
    assert report.embedded == 0 and any("upgraded from format 3" in note for note in report.notes)
    assert Searcher.open(index).search("gout", k=1)[0].article_id == "gout"


def test_a_missing_file_of_the_live_generation_is_rewritten(tmp_path: Path, encoder: object) -> None:
    corpus, index = copy_sample(SLUGS, tmp_path / "corpus"), tmp_path / "index"
    build_index(BuildSettings(corpus=corpus, index=index, progress=False))
    shutil.rmtree(index / read_manifest(index).files["lexical"])
    with pytest.raises(IndexProblem, match=r"missing or damaged.*--index"):
        Searcher.open(index)
    report = build_index(BuildSettings(corpus=corpus, index=index, progress=False))
    assert not report.up_to_date and report.embedded == 0
    assert Searcher.open(index).search("gout", k=1, mode="lexical")
