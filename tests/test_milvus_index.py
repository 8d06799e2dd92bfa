"""An index on the Milvus engine, end to end through the product: built with ``build --engine milvus`` into a
Milvus Lite file, searched by the CLI, answer() and the page with the same contract as a local index, rebuilt
incrementally without flags, and a build killed with SIGKILL leaves the previous generation answering."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="the Milvus engine needs pip install -e '.[scale]'")
pytest.importorskip("milvus_lite", reason="Milvus Lite needs pip install -e '.[scale]'")

from healthsearch import milvus_engine as me
from healthsearch.answer import answer
from healthsearch.cli import main
from healthsearch.embedding import Encoder
from healthsearch.manifest import read_manifest
from healthsearch.search import Searcher

from .conftest import REPO, build, built_beside, copy_sample, write

pytestmark = pytest.mark.slow  # engine integration (Milvus Lite, a local Ray): the full tier


SLUGS = ["plantar-fasciitis", "gout", "urinary-tract-infection", "migraine", "asthma"]
QUERIES = ["heel pain after running", "gout in the big toe", "burning when I pee"]
BLISTERS = "# Blisters\n\n## Care\n\nA blister on the heel from new running shoes heals in a few days.\n"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def top_articles(searcher: Searcher) -> list[list[str]]:
    return [[r.article_id for r in searcher.search(q, k=3)] for q in QUERIES]


def snapshot(index: Path, encoder: Encoder) -> list[list[tuple[str, float]]]:
    """What the index answers now; the engine is closed afterwards, releasing the Lite file for other processes."""
    searcher = Searcher.open(index, encoder=encoder)
    try:
        return [[(r.passage_id, round(r.score, 5)) for r in searcher.search(q, k=5)] for q in QUERIES]
    finally:
        searcher.engine.close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_sample(SLUGS, tmp_path_factory.mktemp("milvus-index") / "corpus")


@pytest.fixture(scope="module")
def milvus_index(corpus: Path) -> Path:
    """Built by the CLI: ``build --engine milvus`` (the Lite file defaults to DIR/milvus.db)."""
    index = corpus.parent / "index"
    assert (
        main(["build", "--corpus", str(corpus), "--index", str(index), "--engine", "milvus", "--quiet"]) == 0
    )
    return index


@pytest.fixture(scope="module")
def local_index(corpus: Path, encoder: Encoder) -> Path:
    return built_beside(corpus, "local", encoder)


def test_build_writes_the_engine_into_the_spec_and_no_local_search_files(
    milvus_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = read_manifest(milvus_index)
    engine = manifest.spec.engine
    assert (engine.name, engine.uri, engine.collection) == (
        "milvus",
        str((milvus_index / "milvus.db").resolve()),
        "healthsearch",
    )
    assert set(manifest.files) == {"database"} and (milvus_index / manifest.files["database"]).is_file()
    assert not list(milvus_index.glob("*.faiss")) and not list(milvus_index.glob("lexical-*"))
    code, out, _ = run_cli(capsys, "info", "--index", str(milvus_index))
    assert code == 0 and "engine:     milvus at" in out and "collection (alias) healthsearch" in out


def test_cli_json_and_answer_keep_the_contract_of_a_local_index(
    milvus_index: Path, local_index: Path, encoder: Encoder, capsys: pytest.CaptureFixture[str]
) -> None:
    records = {}
    for name, index in (("milvus", milvus_index), ("local", local_index)):
        code, out, _ = run_cli(capsys, "search", "--index", str(index), "--json", QUERIES[0])
        assert code == 0
        records[name] = json.loads(out)
    milvus, local = records["milvus"], records["local"]
    assert set(milvus) == set(local) and set(milvus["results"][0]) == set(local["results"][0])
    assert milvus["results"][0]["article_id"] == local["results"][0]["article_id"] == "plantar-fasciitis"
    assert milvus["close_match"] and milvus["results"][0]["similarity"] > 0.3
    searcher = Searcher.open(milvus_index, encoder=encoder)
    found = answer(searcher, "gout in the big toe", k=5, tags=["foot"])
    assert found.error is None and found.results and all("foot" in r.tags for r in found.results)
    assert found.results[0].article_id == "gout" and found.results[0].best_sentence
    assert [r[0] for r in top_articles(searcher)] == [r[0] for r in top_articles(Searcher.open(local_index))]
    searcher.engine.close()


def test_rebuild_without_flags_stays_on_milvus_and_embeds_nothing(tmp_path: Path, encoder: Encoder) -> None:
    corpus = copy_sample(SLUGS[:3], tmp_path / "corpus")
    index = tmp_path / "index"
    uri = str(tmp_path / "lib.db")
    first = build(corpus, index, encoder, engine="milvus", milvus_uri=uri, collection="lib")
    assert first.embedded > 0
    assert build(corpus, index, encoder).up_to_date
    (corpus / "gout.md").touch()  # re-read, same passages: a new generation from cached vectors
    again = build(corpus, index, encoder)
    assert again.embedded == 0 and not again.up_to_date
    write(corpus, "blisters.md", BLISTERS)
    grown = build(corpus, index, encoder)
    assert grown.new == 1 and grown.embedded == 1  # only the new passage (one passage: no separate head)
    manifest = read_manifest(index)
    assert manifest.spec.engine.name == "milvus" and manifest.spec.engine.uri == uri
    assert manifest.generation == 3
    client = me.connect(uri)
    try:
        assert me.live_collection(client, "lib") == me.collection_name("lib", 3)
        assert sorted(client.list_collections()) == sorted(
            name
            for n in (2, 3)
            for name in (me.collection_name("lib", n), me.heads_name(me.collection_name("lib", n)))
        )
    finally:
        me.disconnect(client, uri)
    searcher = Searcher.open(index, encoder=encoder)
    assert searcher.search("blister from new shoes", k=1)[0].article_id == "blisters"
    searcher.engine.close()


def test_bad_engine_flags_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = copy_sample(SLUGS[:1], tmp_path / "corpus")
    base = ["build", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--quiet"]
    code, _, err = run_cli(capsys, *base, "--milvus-uri", str(tmp_path / "x.db"))
    assert code == 2 and "--milvus-uri and --collection need --engine milvus" in err
    code, _, err = run_cli(capsys, *base, "--engine", "milvus", "--collection", "9-lives")
    assert code == 2 and "collection name '9-lives'" in err
    code, _, err = run_cli(capsys, *base, "--engine", "milvus", "--milvus-uri", "http://127.0.0.1:9")
    assert code == 2 and "cannot reach Milvus at http://127.0.0.1:9" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "index" / "manifest.json").exists()


def test_without_the_extra_engine_and_ray_say_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = copy_sample(SLUGS[:1], tmp_path / "corpus")
    base = ["build", "--corpus", str(corpus), "--index", str(tmp_path / "index"), "--quiet"]
    monkeypatch.setitem(sys.modules, "pymilvus", None)
    monkeypatch.setitem(sys.modules, "ray", None)
    code, _, err = run_cli(capsys, *base, "--engine", "milvus")
    assert code == 2 and "pip install -e '.[scale]'" in err
    code, _, err = run_cli(capsys, *base, "--ray")
    assert code == 2 and "--ray needs Ray Data" in err and "pip install -e '.[scale]'" in err


@pytest.mark.slow
@pytest.mark.parametrize("failpoint", ["writing", "before-swap"])
def test_sigkill_during_a_milvus_build_keeps_the_previous_generation(
    tmp_path: Path, encoder: Encoder, failpoint: str
) -> None:
    corpus = copy_sample(SLUGS[:3], tmp_path / "corpus")
    index = tmp_path / "index"
    build(corpus, index, encoder, engine="milvus")
    before, manifest = snapshot(index, encoder), (index / "manifest.json").read_text()
    write(corpus, "blisters.md", BLISTERS)
    command = [sys.executable, str(REPO / "build_index.py"), "--index", str(index), "--quiet"]
    env = {**os.environ, "HEALTHSEARCH_FAILPOINT": failpoint}
    killed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (index / "manifest.json").read_text() == manifest
    assert snapshot(index, encoder) == before  # the alias still names generation 1
    report = build(corpus, index, encoder)  # the next build replaces the dead one's leftovers
    assert report.new == 1 and report.embedded == 1  # the dead build's database was never committed
    assert read_manifest(index).generation == 2 and not list(index.glob("*.partial"))
    assert snapshot(index, encoder) != before


@pytest.mark.slow
def test_page_serves_a_milvus_index(
    tmp_path: Path, encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    # Its own index: a Milvus Lite file is held by whoever opened it (the module's index is open in this process).
    index = tmp_path / "index"
    build(copy_sample(SLUGS[:3], tmp_path / "corpus"), index, encoder, engine="milvus")
    monkeypatch.setenv("HEALTHSEARCH_INDEX", str(index))
    at = AppTest.from_file(str(REPO / "search_app.py"), default_timeout=180)
    at.query_params["q"] = "heel pain after running"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    found = [h.value for h in at.get("html") if 'class="hs-card"' in h.value]
    assert found and "Plantar" in found[0] and "<mark>" in found[0]
    assert "milvus" in " ".join(str(m.value) for m in at.sidebar.markdown)
