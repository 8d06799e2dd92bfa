"""The two emergency layers (patterns, semantic exemplars), their data files, the cache and the batteries."""

from __future__ import annotations

import fnmatch
import json
import threading
import tomllib
from pathlib import Path

import numpy as np
import pytest

from healthsearch import safety
from healthsearch.embedding import Encoder
from healthsearch.errors import HealthsearchError, SafetyDataError
from healthsearch.safety import (
    CRISIS_MESSAGE,
    EMERGENCY_MESSAGE,
    detect_emergency,
    pattern_kind,
    semantic_kind,
)
from healthsearch.safety_patterns import (
    DATA_DIR,
    asks_in_general,
    load_table,
    match_kind,
    mentions_self_harm,
    names_benign_use,
    normalise,
    sounds_mild,
)
from healthsearch.safety_probe import TextFeatures, _vectorizers, load_probes
from healthsearch.safety_semantic import (
    BENIGN,
    Calibration,
    SemanticLayer,
    load_calibrations,
    load_exemplars,
)

from .conftest import DATA, REPO

# Written for these tests, in neither battery: the patterns miss them, the exemplar bank does not.
SEMANTIC_ONLY = [
    ("my father is sweating and says there is a heavy weight in his chest", "heart_attack"),
    ("her mouth is pulling down on the left and she cant hold a cup", "stroke"),
    ("he swallowed a whole strip of his nan's heart tablets", "overdose_poisoning"),
    ("i am so done with being alive", "self_harm"),
]


def battery(name: str) -> list[dict[str, object]]:
    return [
        json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()
    ]


# --- data files ---------------------------------------------------------------------------------------


def test_shipped_data_loads_with_every_category_and_exemplars_for_each() -> None:
    kinds = safety.PATTERNS.kinds
    assert {"self_harm", "heart_attack", "stroke", "pregnancy", "infant", "head_injury"} <= set(kinds)
    banked = {e.category for e in safety.SEMANTIC.exemplars}
    assert set(kinds) <= banked and BENIGN in banked
    assert "all-minilm-l6-v2" in safety.SEMANTIC.calibrations


def test_setuptools_ships_every_data_file() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["healthsearch"]
    for path in DATA_DIR.iterdir():
        relative = path.relative_to(DATA_DIR.parent).as_posix()
        assert any(fnmatch.fnmatch(relative, g) for g in globs), relative


def test_no_exemplar_is_a_battery_line() -> None:
    lines = {
        normalise(str(r["query"]))
        for n in ("safety-tuning.jsonl", "safety-heldout.jsonl")
        for r in battery(n)
    }
    copies = [e.text for e in safety.SEMANTIC.exemplars if normalise(e.text) in lines]
    assert copies == []


GOOD_HEAD = "<informational> = ^what is\n<urgent> = now\n<animal> = \\bdog\\b\n<human> = \\bme\\b\n<mild> = \\bonce\\b\n"

BAD_TABLES = [
    (GOOD_HEAD + "[a]\n+ \\b<nope>\n", 7, "unknown fragment <nope>"),
    (GOOD_HEAD + "[a]\n+ (unclosed\n", 7, "bad regular expression"),
    (GOOD_HEAD + "+ orphan\n", 6, "rule before any [category]"),
    (GOOD_HEAD + "[a]\n+ x\n[a]\n", 8, "defined twice"),
    (GOOD_HEAD + "[a]\n& only one part\n", 7, "two or more"),
    (GOOD_HEAD + "[a]\n* what\n", 7, "expected"),
    (GOOD_HEAD + "[Bad Name]\n", 6, "lowercase_name"),
    ("    continued\n", 1, "continuation line"),
    ("# a comment\n\n" + GOOD_HEAD + "[a]\n+ ok\n    |(broken\n", 9, "bad regular expression"),
]


@pytest.mark.parametrize(("text", "line", "problem"), BAD_TABLES)
def test_bad_pattern_entry_names_file_and_line(tmp_path: Path, text: str, line: int, problem: str) -> None:
    path = tmp_path / "patterns.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SafetyDataError) as caught:
        load_table(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert problem in message and "\n" not in message
    assert isinstance(caught.value, HealthsearchError)


def test_support_fragments_come_all_together(tmp_path: Path) -> None:
    path = tmp_path / "patterns.txt"
    path.write_text(GOOD_HEAD + "<risk_now> = tonight\n[self_harm]\n+ suicid\n", encoding="utf-8")
    with pytest.raises(SafetyDataError, match="define all or none") as caught:
        load_table(path)
    assert str(caught.value).startswith(str(path))


def test_a_table_with_support_fragments_quiets_self_harm_questions(tmp_path: Path) -> None:
    path = tmp_path / "patterns.txt"
    support = "<self_harm_question> = research\n<risk_now> = tonight\n<self_harm_topic> = suicid\n"
    path.write_text(GOOD_HEAD + support + "[self_harm]\n+ suicid\n", encoding="utf-8")
    table = load_table(path)
    assert match_kind(table, "suicide research") is None and mentions_self_harm(table, "suicide research")
    assert match_kind(table, "suicide research tonight") == "self_harm"
    plain = tmp_path / "plain.txt"
    plain.write_text(GOOD_HEAD + "[self_harm]\n+ suicid\n", encoding="utf-8")
    assert match_kind(load_table(plain), "suicide research") == "self_harm"  # no support tier: alerts


def test_general_question_fragments_come_together(tmp_path: Path) -> None:
    path = tmp_path / "patterns.txt"
    path.write_text(GOOD_HEAD + "<general_question> = ^how\n[a]\n+ x\n", encoding="utf-8")
    with pytest.raises(SafetyDataError, match="define both or none"):
        load_table(path)
    path.write_text(
        GOOD_HEAD + "<general_question> = ^how\n<personal> = \\bmy\\b\n[a]\n+ x\n", encoding="utf-8"
    )
    table = load_table(path)
    assert asks_in_general(table, "how long does it last") and not asks_in_general(table, "how is my dad")


def test_table_without_guard_fragments_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "patterns.txt"
    path.write_text("[a]\n+ x\n", encoding="utf-8")
    with pytest.raises(SafetyDataError, match="required fragment"):
        load_table(path)


def test_a_valid_small_table_compiles_and_matches(tmp_path: Path) -> None:
    path = tmp_path / "patterns.txt"
    path.write_text(
        GOOD_HEAD + "[fire]\n+ \\bon fire\n& \\bsmoke && \\bcough\\w*\n- \\bon fire emblem\n",
        encoding="utf-8",
    )
    table = load_table(path)
    assert table.kinds == ("fire",)


def test_a_benign_use_line_quiets_both_layers(tmp_path: Path) -> None:
    path = tmp_path / "patterns.txt"
    path.write_text(
        GOOD_HEAD + "[fire]\n+ \\bon fire\n~ \\bpc (?:is )?on fire\n- \\bfire emblem\n[smoke]\n+ \\bsmoke\n",
        encoding="utf-8",
    )
    table = load_table(path)
    assert match_kind(table, "my pc is on fire") is None  # removed before matching, like "-"
    assert match_kind(table, "the kitchen is on fire") == "fire"
    assert names_benign_use(table, "my pc is on fire")
    assert not names_benign_use(table, "fire emblem is on fire")  # "-" lines quiet the patterns only


@pytest.mark.parametrize(
    "query",
    [
        "chrome keeps going unresponsive on windows 11",
        "overdosed on netflix this weekend",
        "pregnancy brain, 30 weeks and i keep losing my phone",
    ],
)
def test_a_benign_use_keeps_the_semantic_layer_quiet(encoder: Encoder, query: str) -> None:
    assert detect_emergency(query, encoder.encode_query(query), encoder) is None


BAD_EXEMPLARS = [
    ('{"category": "stroke", "text": "face drooping"}\n{"category": "benign"', 2, "not valid JSON"),
    (
        '{"category": "stroke", "text": "face drooping"}\n{"category": "strok", "text": "x"}',
        2,
        "unknown category",
    ),
    ('{"category": "stroke", "text": "face drooping", "extra": 1}', 1, "nothing else"),
    ('{"category": "stroke", "text": "a"}\n\n{"category": "benign", "text": "A"}', 3, "duplicate exemplar"),
    ('{"category": "stroke", "text": "   "}', 1, "1 to 300 characters"),
    ('["stroke", "face"]', 1, "JSON object"),
]


@pytest.mark.parametrize(("text", "line", "problem"), BAD_EXEMPLARS)
def test_bad_exemplar_names_file_and_line(tmp_path: Path, text: str, line: int, problem: str) -> None:
    path = tmp_path / "exemplars.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SafetyDataError) as caught:
        load_exemplars(path, ("stroke",))
    assert str(caught.value).startswith(f"{path}:{line}: ") and problem in str(caught.value)


def test_bank_needs_both_sides(tmp_path: Path) -> None:
    path = tmp_path / "exemplars.jsonl"
    path.write_text('{"category": "stroke", "text": "face drooping"}\n', encoding="utf-8")
    with pytest.raises(SafetyDataError, match="both emergency and 'benign'"):
        load_exemplars(path, ("stroke",))


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            '{"model": "m", "threshold": 0.5, "margin": 0.1}\n{"model": "n", "threshold": "high", "margin": 0}',
            2,
        ),
        ('{"model": "", "threshold": 0.5, "margin": 0.1}', 1),
        (
            '{"model": "m", "threshold": 0.5, "margin": 0.1}\n{"model": "M", "threshold": 0.5, "margin": 0.1}',
            2,
        ),
        ('{"model": "m", "threshold": true, "margin": 0.1}', 1),
        (
            '{"model": "m", "threshold": 0.5, "margin": 0.1}\n{"model": "n", "threshold": 0.5, "margin": 0, "top_k": 0}',
            2,
        ),
        ('{"model": "m", "threshold": 0.5, "margin": 0.1, "top_k": 2.5}', 1),
    ],
)
def test_bad_calibration_names_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "calibration.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SafetyDataError) as caught:
        load_calibrations(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_missing_data_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SafetyDataError, match="cannot read"):
        load_table(tmp_path / "absent.txt")


# --- the layers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "kind"), SEMANTIC_ONLY)
def test_semantic_layer_catches_what_patterns_miss(encoder: Encoder, query: str, kind: str) -> None:
    assert pattern_kind(query) is None
    assert detect_emergency(query) is None  # no encoder: patterns only
    alert = detect_emergency(query, encoder.encode_query(query), encoder)
    assert alert is not None and alert.kind == kind and alert.layer == "semantic"


def test_encoder_alone_embeds_the_query_itself(encoder: Encoder) -> None:
    query, kind = SEMANTIC_ONLY[1]
    alert = detect_emergency(query, encoder=encoder)
    assert alert is not None and alert.kind == kind and alert.layer == "semantic"


def test_vector_without_encoder_is_ignored(encoder: Encoder) -> None:
    query, _ = SEMANTIC_ONLY[0]
    assert detect_emergency(query, query_vector=encoder.encode_query(query)) is None


def test_patterns_fire_first_and_say_so(encoder: Encoder) -> None:
    query = "crushing chest pain spreading to my jaw"
    alert = detect_emergency(query, encoder.encode_query(query), encoder)
    assert alert is not None and alert.layer == "pattern" and alert.kind == "heart_attack"
    assert alert.message == EMERGENCY_MESSAGE


def test_semantic_self_harm_keeps_the_crisis_line(encoder: Encoder) -> None:
    query = "i am so done with being alive"
    alert = detect_emergency(query, encoder.encode_query(query), encoder)
    assert alert is not None and alert.kind == "self_harm" and CRISIS_MESSAGE in alert.message


@pytest.mark.parametrize(
    "query",
    [
        "what are the signs of a heart attack",
        "how to use a nebuliser",
        "my dog is breathing fast and collapsed",
    ],
)
def test_semantic_layer_respects_guards_and_benign_neighbours(encoder: Encoder, query: str) -> None:
    assert detect_emergency(query, encoder.encode_query(query), encoder) is None


@pytest.mark.parametrize(
    "vector",
    [np.zeros(384, dtype=np.float32), np.full(384, np.nan, dtype=np.float32), np.ones(7, dtype=np.float32)],
)
def test_unusable_vector_falls_back_to_patterns(encoder: Encoder, vector: np.ndarray) -> None:
    query, _ = SEMANTIC_ONLY[0]
    assert detect_emergency(query, vector, encoder) is None
    alert = detect_emergency("seizure wont stop", vector, encoder)
    assert alert is not None and alert.layer == "pattern"


@pytest.mark.parametrize("query", ["", "   ", "\x00\x01", "\ud800", "x" * 10_000, "((((((", "\U0001f600"])
def test_never_raises_with_an_encoder(encoder: Encoder, query: str) -> None:
    result = detect_emergency(query, encoder=encoder)
    assert result is None or result.layer in ("pattern", "semantic")


def test_uncalibrated_model_gets_patterns_only(encoder: Encoder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safety.SEMANTIC, "calibrations", {})
    monkeypatch.setattr(safety.SEMANTIC, "probes", {})
    query, _ = SEMANTIC_ONLY[0]
    assert detect_emergency(query, encoder.encode_query(query), encoder) is None
    assert safety.prepare_semantic(encoder) is False
    alert = detect_emergency("seizure wont stop", encoder=encoder)
    assert alert is not None and alert.layer == "pattern"


# --- the probe (a classifier over query vectors) ----------------------------------------------------------


def test_the_shipped_probe_reads_the_default_model(encoder: Encoder) -> None:
    probe = safety.SEMANTIC.probe(encoder)
    assert probe is not None and probe.text_features is not None
    assert probe.weights.shape == (len(probe.classes), encoder.dimension + probe.text_features.width)
    query = "my grandad went grey and sweaty and says his chest is heavy"
    found = probe.classify(encoder.encode_query(query), safety.checked_text(query))
    assert found is not None and found[0] == "heart_attack" and found[1] >= probe.threshold
    calm_query = "best stretches for tight hamstrings after running"
    calm = probe.classify(encoder.encode_query(calm_query), safety.checked_text(calm_query))
    assert calm is not None and calm[1] < probe.threshold
    assert probe.classify(np.zeros(7, dtype=np.float32)) is None  # a vector of another size does not fit


def test_the_probe_reads_the_words_as_well_as_the_vector(encoder: Encoder) -> None:
    """The same vector scores differently with different text: the n-gram columns carry weight."""
    probe = safety.SEMANTIC.probe(encoder)
    assert probe is not None
    query = "husband snores so loud i cant sleep"
    vector = encoder.encode_query(query)
    own_words = probe.classify(vector, safety.checked_text(query))
    alarming_words = probe.classify(vector, safety.checked_text("husband wont wake up"))
    assert own_words is not None and alarming_words is not None
    assert own_words[1] < probe.threshold <= alarming_words[1]


def test_a_probe_reads_only_the_model_it_was_trained_on(
    encoder: Encoder, small_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Encoder(str(small_model))
    assert safety.SEMANTIC.probe(other) is None
    monkeypatch.setattr(safety.SEMANTIC, "calibrations", {})
    query, _ = SEMANTIC_ONLY[0]
    alert = detect_emergency(query, encoder.encode_query(query), encoder)  # the probe alone still reads it
    assert alert is not None and alert.layer == "semantic"


def _probe_line(**changes: object) -> str:
    row: dict[str, object] = {
        "model": "m",
        "fingerprint": "f",
        "classes": ["benign", "stroke"],
        "weights": [[0.0, 1.0], [1.0, 0.0]],
        "bias": [0.0, 0.0],
        "threshold": 0.5,
    }
    row.update(changes)
    return json.dumps({k: v for k, v in row.items() if v is not None})


TEXT_SETTINGS = {"n_features": 2, "char_ngrams": [3, 3], "word_ngrams": [1, 1], "vector_weight": 1.0}
BAD_PROBES = [
    ("{not json", "not valid JSON"),
    (_probe_line(bias=None), "a probe needs"),
    (_probe_line(classes=["stroke", "fire"]), "'classes' must list"),
    (_probe_line(classes=["benign", "fire"]), "unknown category 'fire'"),
    (_probe_line(weights=[[0.0, 1.0]]), "one row and 'bias' one number per class"),
    (_probe_line(weights=[[0.0, "x"], [1.0, 0.0]]), "finite numbers"),
    (_probe_line(threshold=1.5), "between 0 and 1"),
    (_probe_line(text_features={"n_features": 4}), "'text_features' needs"),
    (_probe_line(text_features={**TEXT_SETTINGS, "n_features": 0}), "a count up to 2**20"),
    (_probe_line(text_features={**TEXT_SETTINGS, "char_ngrams": [5, 3]}), "[low, high] n-gram ranges"),
    (_probe_line(text_features={**TEXT_SETTINGS, "vector_weight": -1}), "a weight above 0"),
    (_probe_line(mild_override=0.4), "'mild_override' must be a probability from 'threshold'"),
    (_probe_line(mild_override=True), "'mild_override' must be"),
    (_probe_line(margin_floor=0.5), "'margin_floor' must be a probability from 0 up to 'threshold'"),
    (_probe_line(margin_floor=-0.1), "'margin_floor' must be"),
]


@pytest.mark.parametrize(("line", "problem"), BAD_PROBES)
def test_bad_probe_line_names_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "probes.jsonl"
    path.write_text(_probe_line() + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(SafetyDataError) as caught:
        load_probes(path, ("stroke",))
    assert str(caught.value).startswith(f"{path}:2: ") and problem in str(caught.value)


def test_no_probe_file_means_no_probes(tmp_path: Path) -> None:
    assert load_probes(tmp_path / "absent.jsonl", ("stroke",)) == {}
    path = tmp_path / "probes.jsonl"
    path.write_text(_probe_line() + "\n", encoding="utf-8")
    probe = load_probes(path, ("stroke",))["m"]
    assert probe.detect(np.array([0.0, 1.0], dtype=np.float32)) is None  # the benign row wins: 0.27 < 0.5
    assert probe.classify(np.array([1.0, 0.0], dtype=np.float32)) == (
        "stroke",
        pytest.approx(0.7311, abs=1e-4),
    )
    assert probe.detect(np.array([1.0, 0.0], dtype=np.float32)) == "stroke"


def test_mild_override_needs_a_surer_probe_than_the_threshold(tmp_path: Path) -> None:
    path = tmp_path / "probes.jsonl"
    path.write_text(_probe_line(mild_override=0.9) + "\n", encoding="utf-8")
    probe = load_probes(path, ("stroke",))["m"]
    likely = np.array([1.0, 0.0], dtype=np.float32)  # 0.73: alerts, but not past a mild word
    sure = np.array([4.0, 0.0], dtype=np.float32)  # 0.98
    assert probe.detect(likely) == "stroke" and not probe.overrides_mild(likely)
    assert probe.overrides_mild(sure)
    path.write_text(_probe_line() + "\n", encoding="utf-8")
    assert not load_probes(path, ("stroke",))["m"].overrides_mild(
        sure
    )  # no override: a mild word always wins


def test_margin_floor_lets_the_margins_speak_only_where_the_probe_has_doubts(tmp_path: Path) -> None:
    path = tmp_path / "probes.jsonl"
    path.write_text(_probe_line(margin_floor=0.2) + "\n", encoding="utf-8")
    probe = load_probes(path, ("stroke",))["m"]
    doubtful = np.array([0.0, 1.0], dtype=np.float32)  # 0.27: below the threshold, above the floor
    benign = np.array([0.0, 3.0], dtype=np.float32)  # 0.05: below the floor
    alerting = np.array([1.0, 0.0], dtype=np.float32)  # 0.73
    assert probe.judge(doubtful) == (None, False, True)
    assert probe.judge(benign) == (None, False, False)
    assert probe.judge(alerting) == ("stroke", False, False)
    path.write_text(_probe_line() + "\n", encoding="utf-8")
    assert load_probes(path, ("stroke",))["m"].judge(benign).margins_may_alert  # no floor: margins always may


def test_the_margins_stay_quiet_below_the_probes_floor(encoder: Encoder) -> None:
    """A query the margins alone would alert on, that the trained probe calls plainly benign, stays quiet."""
    probe = safety.SEMANTIC.probe(encoder)
    assert probe is not None and probe.margin_floor > 0
    query = "grazed knee bleeding stoped how to clean it"
    vector = encoder.encode_query(query)
    text = safety.checked_text(query)
    assert safety.SEMANTIC.detect_by_margin(encoder, vector) is not None
    assert not probe.judge(vector, text).margins_may_alert
    assert safety.SEMANTIC.judge(encoder, vector, text) == (None, False)


def test_a_sure_probe_outweighs_a_mild_or_past_word(encoder: Encoder) -> None:
    sepsis = "mom had surgery last week, belly pain, fever, shivering and breathing fast"
    past = "had chest pain once last year what tests should i ask for"
    for query in (sepsis, past):
        assert sounds_mild(safety.PATTERNS, safety.checked_text(query)), query
    assert semantic_kind(sepsis, encoder.encode_query(sepsis), encoder) is not None
    assert semantic_kind(past, encoder.encode_query(past), encoder) is None


def test_text_features_round_trip_through_a_probe_line(tmp_path: Path) -> None:
    features = TextFeatures(n_features=2, char_ngrams=(3, 3), word_ngrams=(1, 1), vector_weight=1.0)
    assert features.as_json() == TEXT_SETTINGS
    weights = [[0.0] * 6, [0.0] * 6]
    path = tmp_path / "probes.jsonl"
    path.write_text(_probe_line(weights=weights, text_features=features.as_json()) + "\n", encoding="utf-8")
    assert load_probes(path, ("stroke",))["m"].text_features == features


def test_prepare_semantic_builds_the_probe_hashers(encoder: Encoder) -> None:
    assert safety.prepare_semantic(encoder)
    probe = safety.SEMANTIC.probe(encoder)
    assert probe is not None and probe.text_features is not None
    assert _vectorizers.cache_info().currsize >= 1


def test_a_probe_with_text_features_adds_the_words_columns(tmp_path: Path) -> None:
    """Two vector columns, then 2 character-n-gram and 2 word-n-gram columns: the words can tip the decision."""
    words_weight = [[0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 4.0, 4.0]]
    path = tmp_path / "probes.jsonl"
    line = _probe_line(weights=words_weight, text_features=TEXT_SETTINGS, threshold=0.6)
    path.write_text(line + "\n", encoding="utf-8")
    probe = load_probes(path, ("stroke",))["m"]
    assert probe.text_features is not None and probe.text_features.width == 4
    vector = np.array([0.0, 0.0], dtype=np.float32)
    assert probe.detect(vector, "") is None  # no words: an even 0.5 against the benign row, below 0.6
    assert probe.detect(vector, "face drooping") == "stroke"
    assert (
        probe.classify(np.zeros(4, dtype=np.float32), "face drooping") is None
    )  # 4 + 4 columns do not fit 6


# --- the cache ------------------------------------------------------------------------------------------


def test_bank_is_embedded_once_per_encoder_even_from_many_threads(
    encoder: Encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    layer = SemanticLayer(safety.SEMANTIC.exemplars, {"all-minilm-l6-v2": Calibration(0.51, 0.05)})
    calls: list[int] = []
    real = encoder.encode_passages

    def counting(texts, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(encoder, "encode_passages", counting)
    query, kind = SEMANTIC_ONLY[0]
    vector = encoder.encode_query(query)
    results: list[str | None] = []
    threads = [
        threading.Thread(target=lambda: results.append(layer.detect(encoder, vector))) for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [kind] * 6
    assert calls == [len(layer.exemplars)]
    assert layer.cached_keys() == (encoder.key,)
    layer.detect(encoder, vector)
    assert len(calls) == 1


def test_prepare_semantic_fills_the_cache(encoder: Encoder) -> None:
    assert safety.prepare_semantic(encoder) is True
    assert encoder.key in safety.SEMANTIC.cached_keys()


# --- the batteries --------------------------------------------------------------------------------------


def run_battery(encoder: Encoder, name: str) -> tuple[list[str], list[str], int]:
    rows = battery(name)
    misses, alarms = [], []
    for row in rows:
        query = str(row["query"])
        fired = detect_emergency(query, encoder.encode_query(query), encoder) is not None
        if row["emergency"] and not fired:
            misses.append(f"[{row['category']}] {query}")
        if not row["emergency"] and fired:
            alarms.append(f"[{row['category']}] {query}")
    return misses, alarms, sum(1 for r in rows if not r["emergency"])


def test_batteries_are_big_enough_and_labelled() -> None:
    tuning, heldout = battery("safety-tuning.jsonl"), battery("safety-heldout.jsonl")
    rows = tuning + heldout
    assert sum(1 for r in rows if r["emergency"]) >= 150 and sum(1 for r in rows if not r["emergency"]) >= 150
    assert {str(r["category"]) for r in rows} <= set(safety.PATTERNS.kinds)
    assert not {r["query"] for r in tuning} & {r["query"] for r in heldout}


@pytest.mark.parametrize("name", ["safety-tuning.jsonl"])
@pytest.mark.slow  # embeds the whole tuning battery
def test_battery_targets_hold(encoder: Encoder, name: str) -> None:
    misses, alarms, negatives = run_battery(encoder, name)
    assert misses == []
    assert len(alarms) / negatives <= 0.05, alarms


def test_calibration_top_k_defaults_to_one_and_is_read(tmp_path: Path) -> None:
    path = tmp_path / "calibration.jsonl"
    path.write_text(
        '{"model": "a", "threshold": 0.5, "margin": 0.1}\n{"model": "b", "threshold": 0.5, "margin": 0, "top_k": 3}',
        encoding="utf-8",
    )
    table = load_calibrations(path)
    assert table["a"].top_k == 1 and table["b"] == Calibration(0.5, 0.0, 3)


def test_top_k_margin_compares_the_means_of_both_sides(encoder: Encoder) -> None:
    """A query with one close benign look-alike but several close emergency exemplars scores by the means."""
    vector = encoder.encode_query("my dad collapsed and is not breathing")
    one = safety.SEMANTIC.score(encoder, vector, 1)
    two = safety.SEMANTIC.score(encoder, vector, 2)
    assert one is not None and two is not None
    assert one.category == two.category and one.emergency == two.emergency
    assert one.emergency_mean == one.emergency >= two.emergency_mean
    assert one.benign_mean >= two.benign_mean


MILD_LOOKALIKES = [
    "my asthma is a little worse in the spring",
    "had chest pain once last year what tests should i ask for",
    "baby has a runny nose but feeding fine and happy",
    "what happens if you take two paracetamol by accident",
    "wasp sting on my hand a bit puffy next day",
    "paper cut keeps bleeding a bit",
]


def test_a_mild_or_past_wording_keeps_the_semantic_layer_quiet(encoder: Encoder) -> None:
    vectors = {q: encoder.encode_query(q) for q in MILD_LOOKALIKES}
    assert all(sounds_mild(safety.PATTERNS, normalise(q)) for q in MILD_LOOKALIKES)
    assert any(safety.SEMANTIC.detect_by_margin(encoder, v) for v in vectors.values())  # the bank alone fires
    assert [q for q, v in vectors.items() if semantic_kind(q, v, encoder)] == []


GENERAL_QUESTIONS = [
    "how long does stroke recovery take",
    "what is internal bleeding caused by",
    "how to dispose of button batteries safely",
    "what are the warning signs of sepsis",
]
# a person, "this" or something happening now, or a first-aid how-to: not asked in general
NOT_GENERAL = [
    "how long does a seizure last my son is still shaking",
    "what is this rash on my babys legs that doesnt fade",
    "how to stop heavy bleeding",
    "how do i wake him up",
]


def test_a_question_asked_in_general_keeps_the_semantic_layer_quiet() -> None:
    assert all(asks_in_general(safety.PATTERNS, safety.checked_text(q)) for q in GENERAL_QUESTIONS)
    assert not any(asks_in_general(safety.PATTERNS, safety.checked_text(q)) for q in NOT_GENERAL)


def test_mild_wording_does_not_silence_the_patterns_or_an_urgent_word() -> None:
    assert pattern_kind("a bit of chest pain spreading to my left arm and sweating") == "heart_attack"
    assert not sounds_mild(safety.PATTERNS, normalise("it was a little bump but he is not breathing help"))


def test_plain_snoring_is_quiet_but_an_unrousable_snorer_is_not() -> None:
    table = safety.PATTERNS
    assert names_benign_use(table, normalise("husband snores so loud i cant sleep"))
    for query in (
        "is it normal that my patient is unrousable and snoring loudly",
        "grandad fell and now hes snoring loudly and we cant wake him",
    ):
        assert not names_benign_use(table, normalise(query)), query
        assert pattern_kind(query) == "unresponsive", query
