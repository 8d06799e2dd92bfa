"""Fine-tuning: pairs come from the library alone, bad input gets one line, and a tiny real tune builds and searches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from healthsearch import tune as tune_module
from healthsearch.build import build_index
from healthsearch.cli import main
from healthsearch.config import BuildSettings
from healthsearch.embedding import Encoder
from healthsearch.ingest.medquad import read_medquad
from healthsearch.negatives import mine_negatives
from healthsearch.search import Searcher
from healthsearch.tune import (
    TuneSettings,
    build_pairs,
    evaluation_queries,
    is_question,
    normalise_query,
    read_library,
    training_queries,
    tune,
)

from .conftest import REPO, SHARED, copy_sample, needs_shared, write

FIVE = ["plantar-fasciitis", "gout", "asthma", "migraine", "acne"]
HEEL_ARTICLES = {"plantar-fasciitis", "heel-spurs", "achilles-tendinitis", "achilles-tendon-rupture"}


def test_questions_and_normalisation() -> None:
    assert is_question("What causes gout?") and is_question("How is asthma treated")
    assert not is_question("Causes") and not is_question("Treatment")
    assert (
        normalise_query("  What is (are) GOUT ? ")
        == normalise_query("what is are gout")
        == "what is are gout"
    )


def test_pairs_from_headings_titles_and_questions(tmp_path: Path) -> None:
    write(
        tmp_path / "c",
        "heel.md",
        """
        ---
        title: Heel Pain
        ---
        ## What causes heel pain?

        Heel pain usually comes from strain on the tissue under the foot.

        ## Treatment

        Rest, ice and stretching help most people.
        """,
    )
    found = build_pairs(read_library(tmp_path / "c"))
    pairs = {(p.kind, p.query): p.passage for p in found.train + found.validation}
    assert pairs[("title", "Heel Pain")].startswith("Heel pain usually comes")
    assert pairs[("question", "What causes heel pain?")] == (
        "Heel Pain\nHeel pain usually comes from strain on the tissue under the foot."
    )
    assert pairs[("heading", "Heel Pain: Treatment")].endswith("Rest, ice and stretching help most people.")


def test_medquad_questions_become_pairs(tmp_path: Path) -> None:
    path = tmp_path / "gout.xml"
    path.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<Document id="0000001" source="GHR" url="https://example.org"><Focus>Gout</Focus><QAPairs>
<QAPair pid="1"><Question qid="1" qtype="information">What is (are) Gout ?</Question>
<Answer>Gout is a form of arthritis caused by uric acid crystals in a joint.</Answer></QAPair>
<QAPair pid="2"><Question qid="2" qtype="treatment">What are the treatments for Gout ?</Question>
<Answer>Flares are treated with anti-inflammatory medicines and colchicine.</Answer></QAPair>
</QAPairs></Document>
""",
        encoding="utf-8",
    )
    found = build_pairs(read_medquad(path).articles)
    queries = {(p.kind, p.query) for p in found.train + found.validation}
    assert {
        ("question", "What is (are) Gout ?"),
        ("question", "What are the treatments for Gout ?"),
    } <= queries
    assert ("title", "Gout") in queries  # one title pair per distinct title, from its first answer


def test_duplicates_and_evaluation_queries_are_dropped(tmp_path: Path) -> None:
    corpus = copy_sample(FIVE, tmp_path / "c")
    (corpus / "copy.md").write_text((corpus / "gout.md").read_text(), encoding="utf-8")
    queries = tmp_path / "eval.jsonl"
    queries.write_text('{"id": "q1", "query": "gout: CAUSES", "paraphrase": "Acne"}\n', encoding="utf-8")
    excluded = evaluation_queries([queries])
    found = build_pairs(read_library(corpus), excluded)
    kept = {normalise_query(p.query) for p in found.train + found.validation}
    assert excluded == {"gout causes", "acne"} and not kept & excluded
    assert found.excluded == 2 and found.duplicates >= 8
    assert found.validation and not {p.query for p in found.validation} & {p.query for p in found.train}


def test_too_few_pairs_is_one_line_with_the_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = copy_sample(["gout"], tmp_path / "c")
    code = main(["tune", "--corpus", str(corpus), "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "only 9 training pairs found" in err
    assert not (tmp_path / "m").exists()


def test_existing_output_is_refused_without_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "keep.txt").write_text("mine", encoding="utf-8")
    code = main(["tune", "--corpus", str(REPO / "corpus"), "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2 and "already exists; pass --overwrite" in err
    assert (tmp_path / "m" / "keep.txt").read_text() == "mine"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real two-step tune of the packaged all-MiniLM-L6-v2 on five sample articles (42 pairs)."""
    root = tmp_path_factory.mktemp("tune")
    corpus = copy_sample(FIVE, root / "corpus")
    out = root / "model"
    code = main(
        [
            "tune",
            "--corpus",
            str(corpus),
            "--out",
            str(out),
            "--max-steps",
            "2",
            "--batch-size",
            "8",
            "--mini-batch-size",
            "4",
            "--max-tokens",
            "96",
            "--quiet",
        ]
    )
    assert code == 0
    return out


def test_tiny_tune_writes_a_model_card_and_its_queries(tiny_model: Path) -> None:
    card = (tiny_model / "README.md").read_text(encoding="utf-8")
    assert "| base model | all-MiniLM-L6-v2 |" in card and "2 of 2 planned" in card
    assert "| training pairs | 40 (+2 held out for validation) |" in card
    assert "python -m healthsearch tune --corpus" in card and "--max-steps 2" in card
    assert "validation loss (before / after) | None" not in card
    assert "plantar fasciitis causes" in training_queries(tiny_model)
    assert "| training tokens | first 96 tokens of each text |" in card
    assert (
        "CachedMultipleNegativesRankingLoss (in-batch negatives over the whole batch, computed 4 texts"
        in card
    )
    assert "| batch size / learning rate | 8 / 3e-05 |" in card
    assert Encoder(str(tiny_model)).model.max_seq_length == 256  # the training limit (96) is not saved
    assert not list(tiny_model.parent.glob(".model.*"))


def test_hard_negatives_are_other_articles_ranked_below_the_answer(sample_index: Path) -> None:
    articles = read_library(copy_sample(FIVE, Path(str(sample_index) + "-five")))
    titles = {a.id: a.title for a in articles}
    pairs = build_pairs(articles).train
    mined = mine_negatives(pairs, sample_index, progress=False)
    assert len(mined.texts) == len(pairs) and all(mined.texts)
    assert mined.mined + mined.fallback == len(pairs) and mined.mined >= len(pairs) * 0.9
    for pair, negative in zip(pairs, mined.texts, strict=True):
        assert not negative.startswith(titles[pair.article_id] + "\n"), (pair.query, negative[:80])
        assert negative not in pair.passage
    gout = next(n for p, n in zip(pairs, mined.texts, strict=True) if p.query == "Gout: Causes")
    assert gout.split("\n")[0] in {a.title for a in read_library(REPO / "corpus")}  # a real library passage


def test_hard_negatives_never_come_from_an_article_on_the_same_subject(
    tmp_path: Path, encoder: Encoder
) -> None:
    """A second "Gout" article (another source) would rank first; its passages are the same subject, not wrong."""
    corpus = copy_sample(FIVE, tmp_path / "c")
    text = (
        (corpus / "gout.md")
        .read_text(encoding="utf-8")
        .replace("source: healthsearch sample library", "source: b")
    )
    (corpus / "gout-second-source.md").write_text(
        text.replace("## Overview\n", "## About gout\n"), encoding="utf-8"
    )
    index = tmp_path / "index"
    build_index(BuildSettings(corpus=corpus, index=index, progress=False), encoder=encoder)
    articles = read_library(corpus)
    pairs = [p for p in build_pairs(articles).train if p.title == "Gout"]
    mined = mine_negatives(pairs, index, progress=False)
    assert pairs and mined.mined == len(pairs)
    assert not [n for n in mined.texts if n.startswith("Gout\n")]


def test_tune_with_hard_negatives_records_them(sample_index: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    corpus = copy_sample(FIVE, tmp_path / "c")
    args = ["tune", "--corpus", str(corpus), "--out", str(out), "--max-steps", "1", "--batch-size", "8"]
    assert main([*args, "--hard-negatives", str(sample_index), "--quiet"]) == 0
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"one per training pair from the index {sample_index}: " in card and "1 of 1 planned" in card


def test_hard_negatives_from_a_folder_that_is_no_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m"
    args = ["tune", "--corpus", str(REPO / "corpus"), "--out", str(out), "--hard-negatives", str(tmp_path)]
    assert main(args) == 2
    assert "is not an index folder (no manifest.json)" in capsys.readouterr().err and not out.exists()


@pytest.mark.slow
def test_an_index_built_with_the_tuned_model_searches(tiny_model: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(BuildSettings(corpus=REPO / "corpus", index=index, model=str(tiny_model), progress=False))
    results = Searcher.open(index).search("stabbing heel pain with my first steps in the morning", k=5)
    # Two sample articles list this symptom nearly word for word; either may rank first.
    assert results[0].article_id in {"plantar-fasciitis", "heel-spurs"}
    assert "plantar-fasciitis" in [r.article_id for r in results[:3]]
    assert all(r.article_id in HEEL_ARTICLES for r in results)
    manifest = json.loads((index / "manifest.json").read_text())
    assert str(tiny_model) in json.dumps(manifest)


@pytest.mark.slow
def test_overwrite_replaces_the_model(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    out.mkdir()
    (out / "stale.txt").write_text("old", encoding="utf-8")
    settings = TuneSettings(
        corpus=REPO / "corpus", out=out, max_steps=1, batch_size=4, overwrite=True, progress=False
    )
    report = tune(settings)
    assert report.steps == 1 and (out / "model.safetensors").is_file() and not (out / "stale.txt").exists()


@pytest.mark.slow
def test_interrupt_saves_what_was_learned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import TrainerCallback

    class CtrlC(TrainerCallback):
        hit = False

        def on_step_end(self, args: object, state: object, control: object, **kwargs: object) -> None:
            raise KeyboardInterrupt

    monkeypatch.setattr(tune_module, "_time_limit", lambda minutes, started: CtrlC())
    out = tmp_path / "m"
    report = tune(
        TuneSettings(corpus=copy_sample(FIVE, tmp_path / "c"), out=out, batch_size=8, progress=False)
    )
    assert report.stopped == "interrupted" and report.steps == 1
    assert "interrupted" in (out / "README.md").read_text() and (out / "model.safetensors").is_file()


@pytest.mark.slow
def test_a_killed_tune_leaves_no_model(tmp_path: Path) -> None:
    """SIGKILL in the middle of training (as the OOM killer would) leaves nothing at --out."""
    corpus = copy_sample(FIVE, tmp_path / "c")
    out = tmp_path / "m"
    command = [sys.executable, "-m", "healthsearch", "tune", "--corpus", str(corpus), "--out", str(out)]
    env = {**os.environ, "HEALTHSEARCH_FAILPOINT": "tuning"}
    done = subprocess.run([*command, "--batch-size", "8", "--quiet"], env=env, capture_output=True, cwd=REPO)
    assert done.returncode == -9 and not out.exists()


@needs_shared
@pytest.mark.slow
def test_liveqa_library_pairs_never_hold_a_liveqa_question() -> None:
    """The LiveQA library (MedQuAD subset + extra answers) yields pairs, none of them a LiveQA question."""
    questions = evaluation_queries([SHARED / "liveqa-dev" / "queries.jsonl"])
    articles = [
        a
        for path in sorted((SHARED / "medquad" / "3_GHR_QA").glob("*.xml"))[:200]
        for a in read_medquad(path).articles
    ]
    found = build_pairs(articles, questions)
    kept = {normalise_query(p.query) for p in found.train + found.validation}
    assert len(kept) > 500 and not kept & questions
