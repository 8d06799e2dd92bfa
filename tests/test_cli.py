"""The command line: exit codes, one-line errors and the JSON contracts of GUIDE.md §2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from healthsearch.cli import main

from .conftest import REPO, copy_sample


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_search_json_contract(capsys: pytest.CaptureFixture[str], sample_index: Path) -> None:
    code, out, _ = run_cli(
        capsys, "search", "--index", str(sample_index), "--json", "heel pain after running"
    )
    record = json.loads(out)
    assert code == 0 and record["query"] == "heel pain after running" and record["emergency"] is None
    first = record["results"][0]
    assert first["article_id"] in {"plantar-fasciitis", "achilles-tendinitis", "heel-spurs"}
    assert {"rank", "score", "article_id", "title", "section", "passage_id", "text", "url"} <= set(first)


def test_search_json_flags_an_emergency(capsys: pytest.CaptureFixture[str], sample_index: Path) -> None:
    _, out, _ = run_cli(
        capsys,
        "search",
        "--index",
        str(sample_index),
        "--json",
        "crushing chest pain spreading to my left arm",
    )
    assert "emergency" in json.loads(out)["emergency"].lower()


def test_batch_queries_print_one_line_each(
    capsys: pytest.CaptureFixture[str], sample_index: Path, tmp_path: Path
) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "q1", "query": "itchy dry skin patches"}\n{"id": "q2", "query": "   "}\n')
    code, out, _ = run_cli(
        capsys, "search", "--index", str(sample_index), "--k", "3", "--queries", str(queries)
    )
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [line["id"] for line in lines] == ["q1", "q2"]
    assert len(lines[0]["results"]) == 3 and lines[0]["emergency"] is None
    assert lines[1]["results"] == [] and "empty" in lines[1]["error"]


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_text_output_per_mode(capsys: pytest.CaptureFixture[str], sample_index: Path, mode: str) -> None:
    code, out, _ = run_cli(capsys, "search", "--index", str(sample_index), "--mode", mode, "--k", "2", "gout")
    assert code == 0 and "1. Gout" in out and "not medical advice" in out


def test_errors_are_one_line_with_exit_code(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run_cli(capsys, "search", "--index", str(tmp_path / "none"), "gout")
    assert code == 2 and out == "" and err.count("\n") == 1 and "build_index.py" in err
    code, _, err = run_cli(
        capsys, "build", "--corpus", str(tmp_path / "missing"), "--index", str(tmp_path / "i")
    )
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "search", "--index", str(tmp_path))
    assert code == 2 and "give either a query" in err
    corpus = copy_sample(["gout"], tmp_path / "corpus")
    code, _, err = run_cli(
        capsys, "build", "--corpus", str(corpus), "--index", str(tmp_path / "i"), "--passage-tokens", "8"
    )
    assert code == 2 and "too small" in err and "Traceback" not in err


def test_info_prints_manifest_facts(capsys: pytest.CaptureFixture[str], sample_index: Path) -> None:
    code, out, _ = run_cli(capsys, "info", "--index", str(sample_index))
    assert code == 0 and "articles:   60" in out and "all-MiniLM-L6-v2" in out
    assert "lexical:    BM25 (bm25s) in lexical-" in out
    assert "passages cut at 192 tokens" in out


@pytest.mark.slow
def test_build_index_script_summary_and_no_change(tmp_path: Path) -> None:
    corpus = copy_sample(["gout"], tmp_path / "corpus")
    command = [
        sys.executable,
        str(REPO / "build_index.py"),
        "--corpus",
        str(corpus),
        "--index",
        str(tmp_path / "ix"),
    ]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == 0, first.stderr
    assert "1 articles" in first.stdout and "passages/s" in first.stdout and "Embedding" in first.stderr
    second = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0 and "up to date" in second.stdout and "nothing to embed" in second.stdout
