"""Every bad input gets one clear line (and a non-zero exit where the command cannot do its job), no traceback."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from healthsearch.cli import main

from .conftest import copy_sample

GOOD = ["gout"]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


# ---- corpus files: the build goes on, names the file and says why -------------------------------------------


def _nested_html(depth: int) -> bytes:
    return (
        "<html><body>"
        + "<div>" * depth
        + "<p>Deeply nested page about ear infections.</p>"
        + "</div>" * depth
        + "</body></html>"
    ).encode()


CORPUS_CASES: dict[str, tuple[str, bytes, str]] = {
    "zero-byte file": ("empty.md", b"", "empty file"),
    "binary file named .md": ("photo.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00", "binary file"),
    "non-UTF-8 text": ("latin.txt", "Fi\xe8vre et toux.".encode("latin-1"), "not UTF-8"),
    "malformed front matter": (
        "front.md",
        b"---\ntitle: 'unclosed\ntags: [a\n---\nBody.\n",
        "malformed front matter",
    ),
    "malformed XML": ("broken.xml", b"<Document source='X' id='1'><QAPairs>", "malformed XML"),
    "XML entity bomb": (
        "bomb.xml",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b'<Document source="X" id="1"><Focus>&b;</Focus></Document>',
        "unsafe XML",
    ),
    "JSONL with only bad lines": ("bad.jsonl", b'{"id": 1\nnot json\n', "no valid article lines"),
}


@pytest.mark.parametrize("case", list(CORPUS_CASES))
def test_bad_corpus_file_is_skipped_and_named(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], encoder: object
) -> None:
    name, content, reason = CORPUS_CASES[case]
    corpus = copy_sample(GOOD, tmp_path / "corpus")
    (corpus / name).write_bytes(content)
    code, out, _ = cli(capsys, "build", "--corpus", corpus, "--index", tmp_path / "index", "--quiet")
    assert code == 0
    assert f"{name}: " in out and reason in out
    assert "1 articles" in out


def test_fifty_megabyte_article_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = copy_sample(GOOD, tmp_path / "corpus")
    with (corpus / "huge.txt").open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    code, out, _ = cli(capsys, "build", "--corpus", corpus, "--index", tmp_path / "index", "--quiet")
    assert code == 0 and "huge.txt: file is 50 MB, over the 20 MB limit" in out


def test_malformed_jsonl_line_good_lines_still_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "lib.jsonl").write_text(
        '{"id": "a", "title": "Ear infection", "text": "Ear pain and fever in children."}\n'
        '{"id": "b", "title": oops}\n'
        '{"id": "c", "title": "Pink eye", "text": "Red, itchy, watery eyes."}\n'
    )
    code, out, _ = cli(capsys, "build", "--corpus", corpus, "--index", tmp_path / "index", "--quiet")
    assert code == 0 and "2 articles" in out and "lib.jsonl:2: not valid JSON" in out


def test_deeply_nested_html_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "nested.html").write_bytes(_nested_html(5000))
    code, out, _ = cli(capsys, "build", "--corpus", corpus, "--index", tmp_path / "index", "--quiet")
    assert code == 0 and ("1 articles" in out or "nested.html: " in out)


def test_non_english_articles_are_indexed_and_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "gripe.md").write_text(
        "# Gripe\n\nLa gripe causa fiebre, tos y dolor muscular.\n", encoding="utf-8"
    )
    (corpus / "ganmao.md").write_text("# 感冒\n\n感冒会引起流鼻涕和喉咙痛。\n", encoding="utf-8")
    code, out, _ = cli(capsys, "build", "--corpus", corpus, "--index", tmp_path / "index", "--quiet")
    assert code == 0 and "2 articles" in out
    code, out, _ = cli(
        capsys, "search", "--index", tmp_path / "index", "--mode", "lexical", "--json", "fiebre"
    )
    assert json.loads(out)["results"][0]["article_id"] == "gripe"


def test_duplicate_ids_name_both_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = copy_sample(GOOD, tmp_path / "corpus")
    (corpus / "more").mkdir()
    shutil.copy(corpus / "gout.md", corpus / "more" / "gout.md")
    code, out, _ = cli(capsys, "build", "--corpus", corpus, "--index", tmp_path / "index", "--quiet")
    assert code == 0 and "duplicate article id 'gout' in more/gout.md (already in gout.md)" in out


# ---- commands that cannot do their job: exit 2 and one line --------------------------------------------------


@pytest.fixture
def built_index(tmp_path: Path, sample_index: Path) -> Path:
    index = tmp_path / "index"
    shutil.copytree(sample_index, index)
    return index


def _manifest(index: Path) -> dict[str, object]:
    return json.loads((index / "manifest.json").read_text())


def _damage_database(index: Path) -> None:
    (index / str(_manifest(index)["files"]["database"])).write_bytes(b"this is not a database" * 100)  # type: ignore[index]


def _truncate_vectors(index: Path) -> None:
    path = index / str(_manifest(index)["files"]["vectors"])  # type: ignore[index]
    path.write_bytes(path.read_bytes()[:1000])


def _newer_manifest(index: Path) -> None:
    (index / "manifest.json").write_text(json.dumps({**_manifest(index), "format_version": 99}))


def _other_dimension(index: Path) -> None:
    manifest = _manifest(index)
    manifest["spec"]["model"]["dimension"] = 768  # type: ignore[index]
    (index / "manifest.json").write_text(json.dumps(manifest))


def _other_model(index: Path) -> None:
    manifest = _manifest(index)
    manifest["spec"]["model"]["fingerprint"] = "0123456789abcdef"  # type: ignore[index]
    (index / "manifest.json").write_text(json.dumps(manifest))


def _no_manifest(index: Path) -> None:
    (index / "manifest.json").unlink()


INDEX_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "corrupt SQLite": (_damage_database, "damaged"),
    "truncated .faiss": (_truncate_vectors, "damaged"),
    "manifest from a newer version": (_newer_manifest, "newer healthsearch"),
    "index of another dimension": (_other_dimension, "of size 384"),
    "index from another model": (_other_model, "built with model"),
    "index without manifest": (_no_manifest, "not a finished index"),
}


@pytest.mark.parametrize("case", list(INDEX_CASES))
def test_broken_index_says_what_to_run(
    case: str, built_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damage, words = INDEX_CASES[case]
    damage(built_index)
    code, out, err = cli(capsys, "search", "--index", built_index, "gout")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert words in err and "build_index.py" in err


def test_missing_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "search", "--index", tmp_path / "nowhere", "gout")
    assert code == 2 and "no index at" in err


def test_locked_database_still_answers(built_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = sqlite3.connect(built_index / str(_manifest(built_index)["files"]["database"]))  # type: ignore[index]
    lock.execute("BEGIN EXCLUSIVE")
    try:
        code, out, _ = cli(capsys, "search", "--index", built_index, "--json", "gout")
    finally:
        lock.rollback()
        lock.close()
    assert code == 0 and json.loads(out)["results"]


def test_missing_and_empty_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "build", "--corpus", tmp_path / "nope", "--index", tmp_path / "index")
    assert code == 2 and "does not exist" in err
    (tmp_path / "empty").mkdir()
    code, _, err = cli(capsys, "build", "--corpus", tmp_path / "empty", "--index", tmp_path / "index")
    assert code == 2 and "has no articles" in err


# ---- queries --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "ok"),
    [
        ("", False),
        ("   \t ", False),
        ("knee " * 2000, True),
        ("?!...;;", True),
        ("🤕🤒", True),
        ("'; DROP TABLE passages; --", True),
        ('"AND OR NEAR(', True),
        ("title:heel* NOT -pain", True),
    ],
)
def test_odd_queries(query: str, ok: bool, sample_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "search", "--index", sample_index, "--json", "--mode", "lexical", query)
    if ok:
        assert code == 0 and isinstance(json.loads(out)["results"], list)
    else:
        assert code == 2 and "empty" in err and err.count("\n") == 1


@pytest.mark.parametrize(("k", "ok"), [("0", False), ("-3", False), ("1000000000", True)])
def test_k_bounds(k: str, ok: bool, sample_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "search", "--index", sample_index, "--json", "--k", k, "gout")
    if ok:
        assert code == 0 and 0 < len(json.loads(out)["results"]) <= 1000
    else:
        assert code == 2 and "at least 1" in err


def _can_mount_tmpfs() -> bool:
    probe = "mkdir -p /tmp/hs-probe && mount -t tmpfs -o size=1m tmpfs /tmp/hs-probe"
    try:
        return subprocess.run(["unshare", "-m", "sh", "-c", probe], capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs unshare and mount (root) for a small tmpfs")
@pytest.mark.slow
def test_a_full_disk_is_one_line_and_the_previous_index_still_answers(
    tmp_path: Path, encoder: object
) -> None:
    corpus, disk = copy_sample(GOOD, tmp_path / "corpus"), tmp_path / "disk"
    disk.mkdir()
    python = f"{sys.executable} -m healthsearch"
    script = f"""
        mount -t tmpfs -o size=8m tmpfs {disk} || exit 99
        {python} build --corpus {corpus} --index {disk}/index --quiet >/dev/null || exit 98
        echo '# Hives\n\nRaised itchy welts on the skin.' > {corpus}/hives.md
        dd if=/dev/zero of={disk}/filler bs=64k 2>/dev/null
        {python} build --index {disk}/index --quiet; echo "exit=$?"
        ls {disk}/index | grep -c partial
        {python} search --index {disk}/index --json "gout in the big toe" | head -c 300
    """
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=600)
    out, err = done.stdout, done.stderr
    assert "Traceback" not in err and "unexpected error" not in err
    assert "exit=2" in out and f"the disk holding {disk}/index is full" in err
    assert "the previous index still answers" in err
    assert out.splitlines()[1] == "0"  # no partial files left behind
    assert '"article_id": "gout"' in out
