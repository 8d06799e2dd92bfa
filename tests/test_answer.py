"""The one query path: the page and the CLI JSON agree on cleaning, truncation, emergencies, the close-match note."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from healthsearch.answer import TRUNCATION_NOTE, answer
from healthsearch.cli import main
from healthsearch.embedding import Encoder
from healthsearch.evaluate import load_qrels, load_queries
from healthsearch.query import MAX_QUERY_CHARS
from healthsearch.relevance import CLOSE_MATCH, NO_CLOSE_MATCH, match_level
from healthsearch.search import SearchConfig, Searcher

from .conftest import REPO

EVAL = REPO / "eval"


@pytest.fixture(scope="module")
def searcher(sample_index: Path) -> Searcher:
    return Searcher.open(sample_index)


def cli_json(capsys: pytest.CaptureFixture[str], index: Path, query: str) -> dict[str, object]:
    assert main(["search", "--index", str(index), "--json", query]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_cli_json_is_the_answer_as_a_dict(
    searcher: Searcher, sample_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    query = "  crushing   chest pain spreading to my jaw  " + "and worse " * 80
    record = cli_json(capsys, sample_index, query)
    found = answer(searcher, query).to_dict()
    assert record == found
    assert record["truncated"] is True and len(str(record["query"])) <= MAX_QUERY_CHARS
    assert record["emergency"] and record["emergency_category"] and record["close_match"] is True


def test_an_emergency_past_the_searched_text_is_still_seen_by_both(
    searcher: Searcher, sample_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    query = "my knee hurts when i run " * 30 + "and now i want to kill myself"
    found = answer(searcher, query)
    assert found.truncated and found.note == TRUNCATION_NOTE
    assert cli_json(capsys, sample_index, query)["emergency"] == (found.emergency and found.emergency.message)


def test_a_self_harm_question_gets_the_support_line_in_the_json(
    searcher: Searcher, sample_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = cli_json(capsys, sample_index, "how can i support a friend who self harms")
    assert record["emergency"] is None and record["emergency_category"] is None
    assert "988" in str(record["support"])
    at_risk = cli_json(capsys, sample_index, "i want to kill myself tonight")
    assert at_risk["emergency_category"] == "self_harm" and at_risk["support"] is None
    assert cli_json(capsys, sample_index, "heel pain after running")["support"] is None


def test_empty_and_bad_options_become_errors_not_exceptions(searcher: Searcher) -> None:
    assert "empty" in str(answer(searcher, "   \t ").error)
    assert "unknown mode" in str(answer(searcher, "gout", mode="fuzzy").error)
    assert "k must be at least 1" in str(answer(searcher, "gout", k=0).error)


OFF_TOPIC = list(load_queries(EVAL / "offtopic-queries.jsonl").values())


@pytest.mark.slow
def test_off_topic_queries_say_there_is_no_close_match(searcher: Searcher) -> None:
    noted = [q for q in OFF_TOPIC if not answer(searcher, q).close_match]
    assert len(noted) >= len(OFF_TOPIC) - 1, set(OFF_TOPIC) - set(noted)  # benchmarks/RESULTS.md: 21 of 22
    for query in ("xsscanary payload", "qwxzv blorptangle frimmish", "easy banana bread recipe without eggs"):
        found = answer(searcher, query)
        assert not found.close_match and found.results  # loosely related results are still shown
        assert all(match_level(r.similarity)[1] in ("weak match", "loosely related") for r in found.results)


@pytest.mark.parametrize("name", ["dev", "heldout"])
@pytest.mark.slow
def test_labelled_answers_are_shown_as_a_match(searcher: Searcher, name: str) -> None:
    queries, qrels = load_queries(EVAL / f"{name}-queries.jsonl"), load_qrels(EVAL / f"{name}-qrels.tsv")
    weak = []
    for qid, text in queries.items():
        found = answer(searcher, text)
        wanted = {doc for doc, grade in qrels[qid].items() if grade == 2}
        best = max((r.similarity or 0.0 for r in found.results if r.article_id in wanted), default=0.0)
        if not found.close_match or best < CLOSE_MATCH:
            weak.append(qid)
    assert weak == []


def test_the_cue_follows_similarity_not_rank() -> None:
    assert match_level(0.7) == (5, "strong match") and match_level(0.05) == (1, "loosely related")
    assert match_level(None) == (0, "unscored")


def test_cli_text_output_carries_the_no_close_match_note(
    sample_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "--index", str(sample_index), "xsscanary payload"]) == 0
    assert NO_CLOSE_MATCH in capsys.readouterr().out


def test_queries_run_on_one_thread_with_the_same_vectors(
    searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from healthsearch import embedding

    fp32 = Encoder(backend="torch")  # fp32 queries run on onnxruntime whatever this machine's default is
    runner = fp32._query_runner()
    assert runner is not None and runner.session.get_session_options().intra_op_num_threads == 1
    onnx_vector = fp32.encode_query("heel pain after running")
    torch_vector = fp32._encode(["heel pain after running"], 1, threads=1)[0]
    assert float(onnx_vector @ torch_vector) > 0.9999
    monkeypatch.setattr(embedding, "QUERY_ONNX", False)
    seen: list[int] = []

    def query() -> None:
        searcher.encoder.encode_query("heel pain")
        seen.append(torch.get_num_threads())

    worker = threading.Thread(target=query)
    worker.start()
    worker.join()
    assert seen == [1]  # the torch path also keeps a query on its own thread


def test_a_misspelled_word_is_corrected_shown_and_in_the_json(
    searcher: Searcher, sample_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = answer(searcher, "sholder pain when lifting my arm")
    assert found.corrected == "shoulder pain when lifting my arm"
    assert found.showing_for == "Showing results for: shoulder pain when lifting my arm"
    assert found.query == "sholder pain when lifting my arm"  # what was typed stays the query
    assert "shoulder" in found.results[0].title.lower()
    record = cli_json(capsys, sample_index, "sholder pain when lifting my arm")
    assert record["corrected_query"] == found.corrected
    assert answer(searcher, "heel pain after running").to_dict()["corrected_query"] is None


def test_spelling_correction_can_be_turned_off(sample_index: Path, encoder: Encoder) -> None:
    plain = Searcher.open(sample_index, encoder=encoder, config=SearchConfig(correct_spelling=False))
    assert answer(plain, "sholder pain when lifting my arm").corrected is None
