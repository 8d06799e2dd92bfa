"""The Milvus engine against Milvus Lite: a generation written from a real index's Store answers like the local
engine (FAISS + bm25s), swaps atomically, survives a killed writer and refuses bad input in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="the Milvus engine needs pip install -e '.[scale]'")
pytest.importorskip("milvus_lite", reason="Milvus Lite needs pip install -e '.[scale]'")

from healthsearch import fusion
from healthsearch import milvus_engine as me
from healthsearch.embedding import Encoder
from healthsearch.engine import Filters
from healthsearch.errors import IndexProblem
from healthsearch.evaluate import evaluate_run, load_qrels, load_queries, unique_in_order
from healthsearch.manifest import read_manifest
from healthsearch.query import clean_consumer_question, clean_query
from healthsearch.search import Searcher
from healthsearch.spec import ModelSpec
from healthsearch.store import Store, open_db
from healthsearch.vocabulary import clinical_terms

from .conftest import REPO, build, copy_sample, write

pytestmark = pytest.mark.slow  # engine integration (Milvus Lite, a local Ray): the full tier

SLUGS = [
    "plantar-fasciitis",
    "achilles-tendinitis",
    "gout",
    "urinary-tract-infection",
    "heart-attack",
    "migraine",
    "acne",
    "asthma",
    "kidney-stones",
    "insomnia",
]
QUERIES = [
    "heel pain after running",
    "gout in the big toe",
    "burning when I pee",
    "crushing chest pain spreading to my jaw",
    "cannot fall asleep at night",
    "wheezing and short of breath",
    "throbbing headache with nausea and light sensitivity",
    "pimples on my chin",
]
ODD_TAG = 'he said "stop" \\ it\'s fine'
INJECTION = 'x"]) or id > 0 or array_contains_any(tags, ["'
ALIAS = "library"


def model_spec(index: Path) -> ModelSpec:
    return read_manifest(index).spec.model


def open_store(index: Path) -> Store:
    return Store(open_db(index / read_manifest(index).files["database"], readonly=True))


def write_and_commit(
    client: object, store: Store, model: ModelSpec, key: str, **options: object
) -> me.Written:
    written = me.write_generation(
        client, ALIAS, me.live_generation(client, ALIAS) + 1, store, model, key, **options
    )
    me.commit(client, ALIAS, written.collection)
    return written


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Path:
    """A real local index of ten sample articles plus one with an awkward tag and its own source."""
    corpus = copy_sample(SLUGS, tmp_path_factory.mktemp("milvus") / "corpus")
    write(
        corpus,
        "odd.md",
        f"""
        ---
        title: Blisters from new shoes
        tags: ['{ODD_TAG.replace("'", "''")}', feet]
        source: odd source "quoted"
        ---

        ## Care

        A blister on the heel from new running shoes usually heals in a few days. Keep it clean and covered.
        """,
    )
    index = corpus.parent / "index"
    build(corpus, index, encoder)
    return index


@pytest.fixture(scope="module")
def milvus(local: Path, encoder: Encoder) -> Iterator[me.MilvusEngine]:
    """Generation 1 of the local index written into a Milvus Lite file and committed."""
    uri = str(local.parent / "milvus.db")
    client = me.connect(uri)
    write_and_commit(client, open_store(local), model_spec(local), encoder.key)
    engine = me.MilvusEngine(client, ALIAS, uri, model_spec(local))
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def searcher(local: Path, encoder: Encoder) -> Searcher:
    return Searcher.open(local, encoder=encoder)


def ids(ranking: list[tuple[int, float]], k: int = 10) -> list[int]:
    return [i for i, _ in ranking[:k]]


def test_generation_holds_every_passage_head_and_facet(milvus: me.MilvusEngine, local: Path) -> None:
    store = open_store(local)
    counts = store.counts()
    assert milvus.counts == {**counts, "sources": len(store.facets()["sources"])}
    assert milvus.counts["heads"] > 0
    assert milvus.facets() == store.facets()
    assert ODD_TAG in milvus.facets()["tags"]
    assert milvus.collection == me.collection_name(ALIAS, 1)


def test_dense_ranking_equals_faiss(milvus: me.MilvusEngine, searcher: Searcher, encoder: Encoder) -> None:
    for query in QUERIES:
        vector = encoder.encode_query(query)
        for use_heads in (False, True):
            local = searcher.engine.dense(vector, 20, Filters(), use_heads)
            remote = milvus.dense(vector, 20, Filters(), use_heads)
            assert ids(remote) == ids(local), (query, use_heads)
            np.testing.assert_allclose([s for _, s in remote[:10]], [s for _, s in local[:10]], atol=1e-4)


def test_lexical_ranking_largely_agrees_with_bm25s(milvus: me.MilvusEngine, searcher: Searcher) -> None:
    overlaps, same_top = [], 0
    for query in QUERIES:
        local, remote = searcher.engine.lexical(query, 20, Filters()), milvus.lexical(query, 20, Filters())
        assert remote and all(score > 0 for _, score in remote)
        assert [s for _, s in remote] == sorted((s for _, s in remote), reverse=True)
        overlaps.append(len(set(ids(local, 5)) & set(ids(remote, 5))) / 5)
        same_top += ids(local, 1) == ids(remote, 1)
    assert np.mean(overlaps) >= 0.6, overlaps
    assert same_top >= len(QUERIES) - 2


def test_lexical_stems_like_the_local_index(milvus: me.MilvusEngine) -> None:
    assert me.query_text("Running runs RUN") == "run"
    assert milvus.lexical("the of and", 10, Filters()) == []  # only stopwords: no known terms
    hits = milvus.fetch_passages(ids(milvus.lexical("blistering", 5, Filters())))
    assert any("blister" in row.text.lower() for row in hits.values())


def test_hybrid_fusion_agrees(milvus: me.MilvusEngine, searcher: Searcher, encoder: Encoder) -> None:
    for query in QUERIES:
        vector = encoder.encode_query(query)
        local = fusion.rrf(
            [
                searcher.engine.dense(vector, 50, Filters(), True),
                searcher.engine.lexical(query, 50, Filters()),
            ],
            weights=[1, 0.5],
        )
        remote = fusion.rrf(
            [milvus.dense(vector, 50, Filters(), True), milvus.lexical(query, 50, Filters())],
            weights=[1, 0.5],
        )
        assert len(set(ids(local, 5)) & set(ids(remote, 5))) >= 3, query
        assert ids(local, 1) == ids(remote, 1), query


def test_passage_rows_equal_the_store(milvus: me.MilvusEngine, local: Path) -> None:
    store = open_store(local)
    wanted = list(range(1, store.counts()["passages"] + 1))
    assert milvus.fetch_passages(wanted) == store.fetch_passages(wanted)
    assert milvus.fetch_passages([]) == {}
    assert milvus.article_passages("gout") == store.article_passages("gout")
    assert milvus.article_passages('no such "article"') == []


def test_similarities_are_cosines_of_stored_vectors(
    milvus: me.MilvusEngine, local: Path, encoder: Encoder
) -> None:
    store = open_store(local)
    passage_ids, vectors = next(store.vectors(encoder.key, encoder.dimension))
    query = encoder.encode_query("heel pain after running")
    found = milvus.similarities(query, passage_ids[:7].tolist())
    expected = {int(i): float(v @ query) for i, v in zip(passage_ids[:7], vectors[:7], strict=True)}
    assert found.keys() == expected.keys()
    np.testing.assert_allclose([found[i] for i in expected], list(expected.values()), atol=1e-5)


def test_filters_become_expressions(milvus: me.MilvusEngine, encoder: Encoder) -> None:
    vector = encoder.encode_query("pain")
    everything = milvus.dense(vector, 1000, Filters(), False)
    rows = milvus.fetch_passages(ids(everything, 1000))
    for filters in (Filters.of(tags=["foot"]), Filters.of(tags=["joints", "skin"], sources=[rows[1].source])):
        kept = [i for i in ids(everything, 1000) if filters.keep(rows[i])]
        assert (
            ids(milvus.dense(vector, 10, filters, False)) == kept[:10]
        )  # exact search, filtered inside Milvus
        lexical = milvus.lexical("pain", 50, filters)
        assert lexical and all(filters.keep(rows[i]) for i in ids(lexical, 50))
    assert milvus.dense(vector, 10, Filters.of(sources=["no such source"]), True) == []


def test_quoted_tag_and_source_filter_exactly(milvus: me.MilvusEngine, encoder: Encoder) -> None:
    vector = encoder.encode_query("blister on my heel")
    for filters in (Filters.of(tags=[ODD_TAG]), Filters.of(sources=['odd source "quoted"'])):
        rows = milvus.fetch_passages(ids(milvus.dense(vector, 20, filters, True), 20))
        assert rows and {row.article_id for row in rows.values()} == {"odd"}
    assert milvus.lexical("blister", 20, Filters.of(tags=[INJECTION])) == []
    assert milvus.dense(vector, 20, Filters.of(tags=[INJECTION], sources=[INJECTION]), True) == []
    assert me.filter_expression(Filters()) == ""
    assert me.quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'


def test_alias_swap_keeps_readers_and_drop_old_keeps_previous(
    local: Path, encoder: Encoder, tmp_path: Path
) -> None:
    uri = str(tmp_path / "swap.db")
    client = me.connect(uri)
    store, model = open_store(local), model_spec(local)
    try:
        write_and_commit(client, store, model, encoder.key)
        old_reader = me.MilvusEngine(client, ALIAS, uri, model)
        vector = encoder.encode_query("heel pain after running")
        before = old_reader.dense(vector, 5, Filters(), True)
        second = write_and_commit(client, store, model, encoder.key)
        assert me.live_collection(client, ALIAS) == second.collection
        assert old_reader.changed() and old_reader.dense(vector, 5, Filters(), True) == before
        assert me.drop_old(client, ALIAS) == []  # generation 1 is the previous one: kept
        third = write_and_commit(client, store, model, encoder.key)
        first = me.collection_name(ALIAS, 1)
        assert me.drop_old(client, ALIAS) == [first, me.heads_name(first)]
        with pytest.raises(IndexProblem, match=r"Milvus request failed .*collection exists"):
            old_reader.dense(vector, 5, Filters(), True)  # its generation is gone: one line, reopen
        assert sorted(client.list_collections()) == sorted(
            [
                second.collection,
                me.heads_name(second.collection),
                third.collection,
                me.heads_name(third.collection),
            ]
        )
        reader = me.MilvusEngine(client, ALIAS, uri, model)
        assert reader.collection == third.collection and not reader.changed()
        assert reader.dense(vector, 5, Filters(), True) == before
    finally:
        me.disconnect(client, uri)


def test_uncommitted_collection_cannot_be_committed(local: Path, encoder: Encoder, tmp_path: Path) -> None:
    uri = str(tmp_path / "partial.db")
    client = me.connect(uri)
    try:
        written = me.write_generation(client, ALIAS, 1, open_store(local), model_spec(local), encoder.key)
        me._set_properties(client, written.collection, {"complete": "false"})
        with pytest.raises(IndexProblem, match="not completely written"):
            me.commit(client, ALIAS, written.collection)
        assert me.live_collection(client, ALIAS) is None
        with pytest.raises(IndexProblem, match="no collection library"):
            me.MilvusEngine(client, ALIAS, uri)
    finally:
        me.disconnect(client, uri)


def test_other_model_or_dimension_refused_with_rebuild(milvus: me.MilvusEngine, local: Path) -> None:
    model = model_spec(local)
    client, collection = milvus.client, milvus.collection
    with pytest.raises(IndexProblem, match=r"384-dimensional .*\(768 dimensions\).*--index DIR --full"):
        me.check_compatible(client, collection, replace(model, dimension=768))
    with pytest.raises(IndexProblem, match=r"built with model all-MiniLM-L6-v2 .*--full"):
        me.check_compatible(client, collection, replace(model, name="other-model", fingerprint="f00"))
    with pytest.raises(IndexProblem, match="--full"):
        me.MilvusEngine(client, ALIAS, "x.db", replace(model, dimension=768))
    assert me.check_compatible(client, collection, model)["dimension"] == "384"


def test_alias_of_a_foreign_collection_is_refused(tmp_path: Path) -> None:
    uri = str(tmp_path / "foreign.db")
    client = me.connect(uri)
    try:
        client.create_collection("theirs", dimension=4)
        client.create_alias("theirs", ALIAS)
        with pytest.raises(IndexProblem, match="did not write; choose another --collection"):
            me.live_generation(client, ALIAS)
        client.create_collection("plain", dimension=4)
        with pytest.raises(IndexProblem, match="already has a collection named plain"):
            me.write_generation(client, "plain", 1, None, ModelSpec(dimension=4), "k")  # type: ignore[arg-type]
    finally:
        me.disconnect(client, uri)


def test_unreachable_server_is_one_quick_line() -> None:
    started = time.perf_counter()
    with pytest.raises(IndexProblem, match=r"cannot reach Milvus at http://127\.0\.0\.1:1; check") as info:
        me.connect("http://127.0.0.1:1", timeout=2)
    assert time.perf_counter() - started < 10
    assert "\n" not in str(info.value)


def test_wrong_token_is_named() -> None:
    grpc = pytest.importorskip("grpc")

    class Refuse(
        grpc.GenericRpcHandler
    ):  # a gRPC endpoint that rejects credentials as a Milvus server with auth
        def service(self, details: object) -> object:
            def refuse(request: object, context: grpc.ServicerContext) -> None:
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "auth check failure, please check username")

            return grpc.unary_unary_rpc_method_handler(refuse)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers([Refuse()])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with pytest.raises(IndexProblem, match="refused the token; check MILVUS_TOKEN"):
            me.connect(f"http://127.0.0.1:{port}", token="root:wrong", timeout=2)
    finally:
        server.stop(grace=0)


def test_bad_uris_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(IndexProblem, match="neither a Milvus Lite file"):
        me.connect("ftp://example/milvus")
    with pytest.raises(IndexProblem, match="does not exist"):
        me.connect(str(tmp_path / "missing" / "milvus.db"))


def test_missing_pymilvus_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymilvus", None)
    with pytest.raises(IndexProblem, match=r"pip install -e '\.\[scale\]'"):
        me.connect("x.db")


WRITER = """
import sys
from healthsearch import milvus_engine as me
from healthsearch.spec import ModelSpec
from healthsearch.store import Store, open_db

uri, database, key, name, fingerprint = sys.argv[1:6]
client = me.connect(uri)
model = ModelSpec(name=name, fingerprint=fingerprint, dimension=384)
def progress(done, total):
    print(done, total, flush=True)
    sys.stdin.readline()  # the test kills this process while it waits here, between two inserts
generation = me.live_generation(client, "library") + 1
me.write_generation(client, "library", generation, Store(open_db(database, readonly=True)), model, key,
                    batch_size=5, on_progress=progress)
"""


def test_killed_writer_leaves_alias_answering(local: Path, encoder: Encoder, tmp_path: Path) -> None:
    uri, store, model = str(tmp_path / "killed.db"), open_store(local), model_spec(local)
    vector = encoder.encode_query("heel pain after running")

    def answers() -> tuple[str, list[tuple[int, float]], list[tuple[int, float]], int]:
        engine = me.MilvusEngine.open(uri, ALIAS, model=model)
        try:
            found = engine.dense(vector, 10, Filters(), True), engine.lexical("heel pain", 10, Filters())
            return engine.collection, *found, engine.counts["passages"]
        finally:
            engine.close()

    client = me.connect(uri)
    write_and_commit(client, store, model, encoder.key)
    me.disconnect(client, uri)  # releases the Lite file for the writer process
    before = answers()
    database = local / read_manifest(local).files["database"]
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, uri, str(database), encoder.key, model.name, model.fingerprint],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert writer.stdout is not None and writer.stdin is not None
    for _ in range(3):  # three batches in, mid-write
        assert writer.stdout.readline().split()[0].isdigit()
        writer.stdin.write("\n")
        writer.stdin.flush()
    writer.stdout.readline()
    writer.send_signal(signal.SIGKILL)
    assert writer.wait(timeout=30) == -signal.SIGKILL
    assert answers() == before  # the alias still names generation 1, answering as before
    client = me.connect(uri)
    try:
        assert me.collection_name(ALIAS, 2) in client.list_collections()  # the dead writer's leftover
        written = write_and_commit(client, store, model, encoder.key)  # the next build replaces it
        assert written.collection == me.collection_name(ALIAS, 2)
        assert written.counts["passages"] == before[3]
    finally:
        me.disconnect(client, uri)
    assert answers()[1:] == before[1:]


def test_lite_file_open_elsewhere_is_one_line(tmp_path: Path) -> None:
    uri = str(tmp_path / "held.db")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pymilvus import MilvusClient; MilvusClient(sys.argv[1]); "
            "print('open', flush=True); sys.stdin.readline()",
            uri,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(IndexProblem, match=r"open in another process.*milvus-lite server"):
            me.connect(uri)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_sample_library_quality_through_milvus(sample_index: Path, encoder: Encoder, tmp_path: Path) -> None:
    """The dev evaluation through Milvus: dense identical, fused hybrid nDCG@10 within 0.01 of the local engine."""
    uri = str(tmp_path / "quality.db")
    client = me.connect(uri)
    store, model = open_store(sample_index), model_spec(sample_index)
    write_and_commit(client, store, model, encoder.key)
    engine = me.MilvusEngine(client, ALIAS, uri, model)
    searcher = Searcher.open(sample_index, encoder=encoder)
    queries = load_queries(REPO / "eval" / "dev-queries.jsonl")
    qrels = load_qrels(REPO / "eval" / "dev-qrels.tsv")
    runs: dict[str, dict[str, list[str]]] = {"local": {}, "milvus": {}}
    try:
        for qid, raw in queries.items():
            text = clean_consumer_question(clean_query(raw).text)
            extra = clinical_terms(text)
            lexical_text, dense_text = (f"{text} {extra}", f"{text} ({extra})") if extra else (text, text)
            dense_vector = encoder.encode_query(dense_text)
            local_dense = searcher.engine.dense(dense_vector, 100, Filters(), True)
            remote_dense = engine.dense(dense_vector, 100, Filters(), True)
            assert ids(remote_dense) == ids(local_dense)
            fused = {
                "local": fusion.rrf(
                    [local_dense, searcher.engine.lexical(lexical_text, 100, Filters())], weights=[1, 0.5]
                ),
                "milvus": fusion.rrf(
                    [remote_dense, engine.lexical(lexical_text, 100, Filters())], weights=[1, 0.5]
                ),
            }
            for name, ranking in fused.items():
                rows = store.fetch_passages(ids(ranking, 100))
                runs[name][qid] = unique_in_order(rows[i].article_id for i in ids(ranking, 100))
    finally:
        engine.close()
    local_ndcg = evaluate_run(runs["local"], qrels)["ndcg@10"]
    milvus_ndcg = evaluate_run(runs["milvus"], qrels)["ndcg@10"]
    assert milvus_ndcg >= local_ndcg - 0.01, (local_ndcg, milvus_ndcg)
