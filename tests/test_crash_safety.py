"""A build killed with SIGKILL at any moment leaves the previous index answering exactly as before."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from healthsearch.embedding import Encoder
from healthsearch.failpoints import POINTS
from healthsearch.search import Searcher

from .conftest import REPO, build, copy_sample, write

pytestmark = pytest.mark.slow  # real pages, processes or model exports: outside the quick tier

QUERIES = ["heel pain after running", "gout in the big toe", "burning when I pee"]


def snapshot(index: Path) -> list[list[tuple[str, float]]]:
    searcher = Searcher.open(index)
    return [[(r.passage_id, round(r.score, 5)) for r in searcher.search(q, k=5)] for q in QUERIES]


def build_in_subprocess(corpus: Path, index: Path, failpoint: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEALTHSEARCH_FAILPOINT": failpoint or ""}
    command = [
        sys.executable,
        str(REPO / "build_index.py"),
        "--corpus",
        str(corpus),
        "--index",
        str(index),
        "--quiet",
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("failpoint", POINTS)
def test_sigkill_during_build_keeps_previous_index(tmp_path: Path, encoder: Encoder, failpoint: str) -> None:
    corpus = copy_sample(["plantar-fasciitis", "gout", "urinary-tract-infection"], tmp_path / "corpus")
    index = tmp_path / "index"
    build(corpus, index, encoder)
    before, manifest = snapshot(index), (index / "manifest.json").read_text()
    write(
        corpus,
        "new.md",
        "# Blisters\n\n## Care\n\nA blister on the heel from new running shoes heals in days.\n",
    )
    killed = build_in_subprocess(corpus, index, failpoint)
    assert killed.returncode == -signal.SIGKILL
    assert (index / "manifest.json").read_text() == manifest
    assert snapshot(index) == before
    report = build(corpus, index, encoder)  # the next build cleans up and completes
    assert report.new >= 1 and not list(index.glob("*.partial"))
    assert json.loads((index / "manifest.json").read_text())["generation"] == 2


@pytest.mark.slow
def test_reader_keeps_answering_while_a_rebuild_runs(tmp_path: Path, encoder: Encoder) -> None:
    corpus = copy_sample(["plantar-fasciitis", "gout", "achilles-tendinitis"], tmp_path / "corpus")
    index = tmp_path / "index"
    build(corpus, index, encoder)
    searcher = Searcher.open(index, encoder=encoder)
    expected = [r.passage_id for r in searcher.search("heel pain after running", k=5)]
    write(corpus, "extra.md", "# Extra\n\n## Heels\n\nSomething new about sore heels.\n")
    rebuild = threading.Thread(target=build, args=(corpus, index, encoder), kwargs={"full": True})
    rebuild.start()
    answers = 0
    while rebuild.is_alive() or answers < 3:
        assert [r.passage_id for r in searcher.search("heel pain after running", k=5)] == expected
        answers += 1
    rebuild.join()
    assert searcher.changed_on_disk()
    assert "extra" in {
        r.article_id for r in Searcher.open(index).search("something new about sore heels", k=3)
    }
