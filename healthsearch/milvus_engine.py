"""The Milvus engine: one index generation as a Milvus collection behind an alias (Milvus Lite file or server).

Layout of generation N of alias A:
    A_g00000N         passages: metadata, dense ``vector`` (inner product on normalized vectors = cosine) and
                      BM25 ``sparse_*`` fields that Milvus's own BM25 functions make from ``lexical_*``
    A_g00000N_heads   whole-article vectors, keyed by the id of the article's first passage (with tags/source)
Committing a generation moves alias A to A_g00000N; readers resolve the alias once and stay on that generation, as
local readers stay on the files their manifest named. The previous generation is kept, older ones dropped.

``lexical_title``, ``lexical_section`` and ``lexical_text`` hold the passage's parts already analyzed by
healthsearch's own tokenizer (lexical.tokenize: lower case, English stopwords out, Porter stems), each with its own
BM25 function and sparse field; a query's three BM25 rankings are weighted 2 : 1 : 1 and summed, as the local
engine sums its bm25s fields. Milvus's ``standard`` analyzer only splits the tokens on spaces: Milvus Lite offers
no stemmer, and this way a Lite file and a server rank alike. (Format 1 collections, one field with the title
repeated, are still searched.)

pymilvus (and milvus-lite for files) are imported inside functions: this module imports without them.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np

from . import failpoints, fusion
from .engine import Filters, Ranking
from .errors import IndexProblem
from .lexical import FIELD_WEIGHTS, K1, B, tokenize
from .query import query_terms
from .spec import ModelSpec
from .store import Store, StoredPassage

INSTALL_HINT = "pip install -e '.[scale]'"
FORMAT = "2"  # 2: one BM25 field per title / section / text; 1: one field, title repeated (still read)
READABLE_FORMATS = ("1", FORMAT)
LEXICAL_FIELDS = ("title", "section", "text")  # weighted as lexical.FIELD_WEIGHTS, like the local engine
LEXICAL_DEPTH = 4  # each field's BM25 search goes this many times deeper than the summed ranking returns
MAX_TOPK = 16_384  # Milvus's limit on results per search and rows per query
CONNECT_TIMEOUT_S = 5.0
MAX_TEXT_BYTES = 65_535
MAX_TAGS, MAX_TAG_BYTES = 256, 512
PASSAGE_FIELDS = ("id", "article_id", "ordinal", "section", "text", "title", "url", "source", "tags")
_PREFIX = "healthsearch."
ProgressCallback = Callable[[int, int], None]
P = ParamSpec("P")
R = TypeVar("R")


def milvus_failures(function: Callable[P, R]) -> Callable[P, R]:
    """Turn an error Milvus reports during a request (a lost server, a dropped collection) into one IndexProblem
    line."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            if exc.__class__.__module__.split(".")[0] != "pymilvus":
                raise
            message = str(getattr(exc, "message", "") or exc).strip().splitlines()[0][:300]
            raise IndexProblem(
                f"Milvus request failed ({message}); check that the server is up and the collection exists"
            ) from None

    return wrapper


# ---- connecting ---------------------------------------------------------------------------------------------


def is_lite(uri: str) -> bool:
    """True for a Milvus Lite file (a path ending in .db), False for a server URI."""
    return not uri.startswith(("http://", "https://", "tcp://", "unix:")) and uri.endswith(".db")


_lite_users: dict[str, int] = {}
_lite_lock = threading.Lock()


def connect(uri: str, token: str | None = None, timeout: float = CONNECT_TIMEOUT_S) -> Any:
    """A pymilvus MilvusClient for a Milvus Lite file (``DIR/milvus.db``) or a server (``http(s)://host:port``).

    Every failure is one IndexProblem line: pymilvus or milvus-lite missing, a server that does not answer within
    ``timeout`` seconds, a wrong token, a Lite file another process holds open.
    """
    MilvusClient, MilvusException = _pymilvus()
    if not uri.startswith(("http://", "https://", "tcp://", "unix:")) and not uri.endswith(".db"):
        raise IndexProblem(
            f"Milvus URI {uri!r} is neither a Milvus Lite file (a path ending in .db) nor a server (http://host:19530)"
        )
    if is_lite(uri):
        _need_lite()
        parent = Path(uri).expanduser().parent
        if not parent.is_dir():
            raise IndexProblem(f"Milvus Lite file {uri}: folder {parent} does not exist")
    try:
        client = MilvusClient(uri=uri, token=token or "", timeout=timeout)
    except MilvusException as exc:
        raise IndexProblem(_connect_problem(uri, exc)) from None
    if is_lite(uri):
        with _lite_lock:
            key = str(Path(uri).expanduser().resolve())
            _lite_users[key] = _lite_users.get(key, 0) + 1
    return client


def disconnect(client: Any, uri: str) -> None:
    """Close a client; the last one on a Milvus Lite file releases the file for other processes."""
    client.close()
    if not is_lite(uri):
        return
    key = str(Path(uri).expanduser().resolve())
    with _lite_lock:
        _lite_users[key] = _lite_users.get(key, 1) - 1
        last = _lite_users[key] <= 0
        if last:
            del _lite_users[key]
    if last:
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(key)


def _pymilvus() -> tuple[Any, type[Exception]]:
    try:
        from pymilvus import MilvusClient, MilvusException
    except ImportError:
        raise IndexProblem(f"the Milvus engine needs pymilvus; install it with: {INSTALL_HINT}") from None
    import logging

    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # its RPC errors become our one-line messages
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)  # Milvus Lite in-process: RPCs it lacks
    return MilvusClient, MilvusException


def _need_lite() -> None:
    try:
        import milvus_lite  # noqa: F401
    except ImportError:
        raise IndexProblem(f"a Milvus Lite file needs milvus-lite; install it with: {INSTALL_HINT}") from None


def _connect_problem(uri: str, exc: Exception) -> str:
    """The one line for a failed connection, from pymilvus's exception and the gRPC error under it."""
    code = getattr(exc.__cause__, "code", None)
    status = getattr(code(), "name", "") if callable(code) else ""
    text = str(getattr(exc, "message", exc))
    if status in ("UNAUTHENTICATED", "PERMISSION_DENIED") or "auth" in text.lower():
        return f"Milvus at {uri} refused the token; check MILVUS_TOKEN (user:password or an API key)"
    if is_lite(uri):
        if "milvus-lite is required" in text:
            return f"a Milvus Lite file needs milvus-lite; install it with: {INSTALL_HINT}"
        if _locked(Path(uri).expanduser() / "LOCK"):
            return (
                f"Milvus Lite file {uri} is open in another process (a page or a build); stop it, or serve the "
                "file with `milvus-lite server --data-dir FILE --port 19530` and use --milvus-uri http://127.0.0.1:19530"
            )
        return f"cannot open Milvus Lite file {uri}: {text}"
    if "UNIMPLEMENTED" in text:
        return (
            f"{uri} answers but is not a Milvus gRPC port; check the host and port (Milvus listens on 19530)"
        )
    return (
        f"cannot reach Milvus at {uri}; check that the server is running, the host and port, and the network "
        f"(no answer within {CONNECT_TIMEOUT_S:g} s)"
    )


def _locked(lock_file: Path) -> bool:
    """True when another process holds Milvus Lite's lock on its data folder."""
    import fcntl

    try:
        with lock_file.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(handle, fcntl.LOCK_UN)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


# ---- names and generations -----------------------------------------------------------------------------------


def collection_name(alias: str, generation: int) -> str:
    """The collection of one generation: ``<alias>_g000007``."""
    return f"{alias}_g{generation:06d}"


def heads_name(collection: str) -> str:
    """The whole-article vectors beside a generation's passages."""
    return f"{collection}_heads"


def _generation_of(alias: str, name: str) -> int | None:
    prefix = f"{alias}_g"
    number = name[len(prefix) :] if name.startswith(prefix) else ""
    return int(number) if len(number) == 6 and number.isdigit() else None


@milvus_failures
def live_collection(client: Any, alias: str) -> str | None:
    """The collection the alias names, or None when there is no such alias yet."""
    for name in client.list_collections():
        if alias in client.list_aliases(name)["aliases"]:
            return str(name)
    return None


@milvus_failures
def live_generation(client: Any, alias: str) -> int:
    """The generation number the alias names (0 when there is none); refuses an alias healthsearch did not make."""
    live = live_collection(client, alias)
    if live is None:
        return 0
    number = _generation_of(alias, live)
    if number is None or _properties(client, live).get("format") not in READABLE_FORMATS:
        raise IndexProblem(
            f"Milvus alias {alias} names collection {live}, which healthsearch did not write; choose another --collection"
        )
    return number


def _properties(client: Any, collection: str) -> dict[str, str]:
    raw = client.describe_collection(collection).get("properties", {}) or {}
    return {k[len(_PREFIX) :]: str(v) for k, v in raw.items() if k.startswith(_PREFIX)}


# ---- writing a generation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """A generation written but not yet committed."""

    collection: str
    generation: int
    counts: dict[str, int]
    seconds: float


@milvus_failures
def write_generation(
    client: Any,
    alias: str,
    generation: int,
    store: Store,
    model: ModelSpec,
    model_key: str,
    batch_size: int = 1_000,
    vector_index: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> Written:
    """Write every passage of ``store`` (with its cached ``model_key`` vectors) and the article heads into a new
    collection for ``generation``; the alias does not move (see :func:`commit`).

    ``vector_index`` is the Milvus index type of the dense fields (default FLAT; see :func:`vector_index_for`).
    """
    import time

    started = time.perf_counter()
    if generation <= live_generation(client, alias):
        raise IndexProblem(f"generation {generation} of {alias} is not newer than the live one")
    if client.has_collection(alias) and live_collection(client, alias) is None:
        raise IndexProblem(f"Milvus already has a collection named {alias}; choose another --collection")
    name = collection_name(alias, generation)
    for leftover in (name, heads_name(name)):  # from a build that died before its commit
        if client.has_collection(leftover):
            client.drop_collection(leftover)
    kind = vector_index or "FLAT"
    counts = store.counts()
    _create_passages(client, name, model, kind)
    _create_heads(client, heads_name(name), model.dimension, kind)
    total, done = counts["passages"] + counts["heads"], 0
    for rows in _passage_rows(store, model_key, model.dimension, batch_size):
        client.insert(name, rows)
        done += len(rows)
        failpoints.reach("writing")
        if on_progress is not None:
            on_progress(done, total)
    for rows in _head_rows(store, model_key, model.dimension, batch_size):
        client.insert(heads_name(name), rows)
        done += len(rows)
        if on_progress is not None:
            on_progress(done, total)
    client.flush(name)
    client.flush(heads_name(name))
    written = int(client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])
    if written != counts["passages"]:
        raise IndexProblem(f"Milvus holds {written} of {counts['passages']} passages after writing {name}")
    _set_properties(
        client,
        name,
        {
            "counts": json.dumps({**counts, "sources": len(store.facets()["sources"])}),
            "facets": json.dumps(store.facets()),
            "complete": "true",
        },
    )
    return Written(name, generation, counts, time.perf_counter() - started)


def vector_index_for(uri: str) -> str:
    """The dense index type for a URI: FLAT (exact, like the local flat index) in a Lite file, AUTOINDEX on a
    server."""
    return "FLAT" if is_lite(uri) else "AUTOINDEX"


def _create_passages(client: Any, name: str, model: ModelSpec, vector_index: str) -> None:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    for field in ("article_id", "section", "text", "title", "url", "source"):
        schema.add_field(field, DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
    schema.add_field("ordinal", DataType.INT64)
    schema.add_field(
        "tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=MAX_TAGS, max_length=MAX_TAG_BYTES
    )
    for part in LEXICAL_FIELDS:
        schema.add_field(
            f"lexical_{part}",
            DataType.VARCHAR,
            max_length=MAX_TEXT_BYTES,
            enable_analyzer=True,
            analyzer_params={"tokenizer": "standard"},
        )
        schema.add_field(f"sparse_{part}", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name=f"bm25_{part}",
                function_type=FunctionType.BM25,
                input_field_names=[f"lexical_{part}"],
                output_field_names=[f"sparse_{part}"],
            )
        )
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=model.dimension)
    index = client.prepare_index_params()
    index.add_index("vector", index_type=vector_index, metric_type="IP")
    for part in LEXICAL_FIELDS:
        index.add_index(
            f"sparse_{part}",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": K1, "bm25_b": B},
        )
    properties = {
        "format": FORMAT,
        "model": model.name,
        "fingerprint": model.fingerprint,
        "dimension": str(model.dimension),
        "heads": heads_name(name),
        "complete": "false",
    }
    client.create_collection(
        name, schema=schema, index_params=index, properties={_PREFIX + k: v for k, v in properties.items()}
    )


def _create_heads(client: Any, name: str, dimension: int, vector_index: str) -> None:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("source", DataType.VARCHAR, max_length=MAX_TEXT_BYTES)
    schema.add_field(
        "tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=MAX_TAGS, max_length=MAX_TAG_BYTES
    )
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    index = client.prepare_index_params()
    index.add_index("vector", index_type=vector_index, metric_type="IP")
    client.create_collection(name, schema=schema, index_params=index)


def _set_properties(client: Any, collection: str, values: dict[str, str]) -> None:
    client.alter_collection_properties(collection, {_PREFIX + k: v for k, v in values.items()})


def lexical_texts(rows: Sequence[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """What the three BM25 functions read for each (title, section, text): each part's analyzed tokens,
    space-joined (one tokenizer call for the whole batch)."""
    tokens = tokenize([part or "" for row in rows for part in row])
    return [
        (_fit(" ".join(tokens[i])), _fit(" ".join(tokens[i + 1])), _fit(" ".join(tokens[i + 2])))
        for i in range(0, len(tokens), 3)
    ]


def query_text(text: str) -> str:
    """The query's distinct analyzed terms, space-joined ("" when none), as the local lexical index reads them."""
    words = query_terms(text)
    return " ".join(dict.fromkeys(tokenize([" ".join(words)])[0])) if words else ""


def _fit(text: str, limit: int = MAX_TEXT_BYTES) -> str:
    """Cut a string to ``limit`` UTF-8 bytes (VARCHAR max_length), on a character boundary."""
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", errors="ignore")


def _tags(tags: Sequence[str]) -> list[str]:
    return [_fit(t, MAX_TAG_BYTES) for t in tags[:MAX_TAGS]]


def _passage_rows(store: Store, model_key: str, dimension: int, batch: int) -> Iterator[list[dict[str, Any]]]:
    lexical_rows = store.lexical_rows()
    for ids, vectors in store.vectors(model_key, dimension, batch):
        rows = store.fetch_passages(ids.tolist())
        fields = [next(lexical_rows) for _ in range(len(ids))]
        missing = [
            lexical_id
            for lexical_id, pid in zip((f[0] for f in fields), ids.tolist(), strict=True)
            if lexical_id != pid
        ]
        if missing:
            raise IndexProblem(f"passage {missing[0]} has no vector for {model_key}; run the build again")
        analyzed = lexical_texts([f[1:] for f in fields])
        out = []
        for pid, vector, lexical in zip(ids.tolist(), vectors, analyzed, strict=True):
            row = rows[pid]
            out.append(
                {
                    "id": pid,
                    "article_id": _fit(row.article_id),
                    "ordinal": row.ordinal,
                    "section": _fit(row.section or ""),
                    "text": _fit(row.text or ""),
                    "title": _fit(row.title or ""),
                    "url": _fit(row.url or ""),
                    "source": _fit(row.source or ""),
                    "tags": _tags(row.tags),
                    **{f"lexical_{part}": value for part, value in zip(LEXICAL_FIELDS, lexical, strict=True)},
                    "vector": vector.tolist(),
                }
            )
        yield out


def _head_rows(store: Store, model_key: str, dimension: int, batch: int) -> Iterator[list[dict[str, Any]]]:
    for ids, vectors in store.head_vectors(model_key, dimension, batch):
        rows = store.fetch_passages(ids.tolist())
        yield [
            {
                "id": pid,
                "source": _fit(rows[pid].source or ""),
                "tags": _tags(rows[pid].tags),
                "vector": v.tolist(),
            }
            for pid, v in zip(ids.tolist(), vectors, strict=True)
        ]


# ---- committing and cleaning up ------------------------------------------------------------------------------


@milvus_failures
def commit(client: Any, alias: str, collection: str) -> None:
    """Move ``alias`` to a completely written collection: the one step that makes a generation live."""
    if _properties(client, collection).get("complete") != "true":
        raise IndexProblem(f"collection {collection} was not completely written; run the build again")
    if live_collection(client, alias) is None:
        client.create_alias(collection, alias)
    else:
        client.alter_alias(collection, alias)


@milvus_failures
def drop_old(client: Any, alias: str, keep: int = 2) -> list[str]:
    """Drop this alias's generations older than the ``keep`` newest up to the live one (live and previous by
    default, as the local engine keeps its files), and uncommitted ones newer than the live one; returns them."""
    live = live_generation(client, alias)
    dropped = []
    for name in client.list_collections():
        base = name[: -len("_heads")] if name.endswith("_heads") else name
        number = _generation_of(alias, base)
        if number is None or live == 0 or live - keep < number <= live:
            continue
        if alias not in client.list_aliases(name)["aliases"]:
            client.drop_collection(name)
            dropped.append(str(name))
    return sorted(dropped)


@milvus_failures
def check_compatible(
    client: Any, collection: str, model: ModelSpec, index_dir: str | Path = "DIR", uri: str = ""
) -> dict[str, str]:
    """The collection's recorded properties; refuses one written by healthsearch with another model or dimension
    (or not by healthsearch at all) with how to rebuild."""
    found = _properties(client, collection)
    where = f"Milvus collection {collection}" + (f" at {uri}" if uri else "")
    rebuild = f"rebuild with: python build_index.py --index {index_dir} --full"
    if found.get("format") not in READABLE_FORMATS:
        raise IndexProblem(f"{where} was not written by this healthsearch; {rebuild}")
    if found.get("dimension") != str(model.dimension):
        raise IndexProblem(
            f"{where} holds {found.get('dimension')}-dimensional vectors of {found.get('model')}, but the index uses "
            f"{model.name} ({model.dimension} dimensions); {rebuild}"
        )
    if found.get("fingerprint") != model.fingerprint or found.get("model") != model.name:
        raise IndexProblem(
            f"{where} was built with model {found.get('model')} ({found.get('fingerprint')}), but the index uses "
            f"{model.name} ({model.fingerprint}); {rebuild}"
        )
    if found.get("complete") != "true":
        raise IndexProblem(f"{where} was not completely written; {rebuild}")
    return found


# ---- the engine ----------------------------------------------------------------------------------------------


def filter_expression(filters: Filters) -> str:
    """A Milvus boolean expression for tag and source filters ("" for none); values are quoted safely."""
    parts = []
    if filters.tags:
        parts.append(f"array_contains_any(tags, [{', '.join(quote(t) for t in sorted(filters.tags))}])")
    if filters.sources:
        parts.append(f"source in [{', '.join(quote(s) for s in sorted(filters.sources))}]")
    return " and ".join(parts)


def quote(value: str) -> str:
    """A Milvus string literal: double-quoted, with backslash, quotes and line breaks escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


class MilvusEngine:
    """The Engine protocol (engine.py) over one committed generation, found through its alias when opened."""

    @milvus_failures
    def __init__(
        self,
        client: Any,
        alias: str,
        uri: str = "",
        model: ModelSpec | None = None,
        index_dir: str | Path = "DIR",
    ) -> None:
        self.client, self.alias, self.uri = client, alias, uri
        live = live_collection(client, alias)
        if live is None:
            target = f" at {uri}" if uri else ""
            raise IndexProblem(
                f"Milvus{target} has no collection {alias}; build it with: python build_index.py --index "
                f"{index_dir} --engine milvus --milvus-uri {uri or 'URI'} --collection {alias}"
            )
        self.collection = live
        self.properties = (
            check_compatible(client, live, model, index_dir, uri)
            if model is not None
            else _properties(client, live)
        )
        self.heads = self.properties.get("heads", heads_name(live))
        for name in (live, self.heads):  # searchable after a restart (idempotent when already loaded)
            client.load_collection(name)
        self.counts: dict[str, int] = json.loads(self.properties["counts"])
        self._facets: dict[str, list[str]] = json.loads(self.properties["facets"])

    @classmethod
    def open(
        cls,
        uri: str,
        alias: str,
        token: str | None = None,
        model: ModelSpec | None = None,
        index_dir: str | Path = "DIR",
    ) -> MilvusEngine:
        """Connect and open the generation ``alias`` names now (refused when it was built with another model)."""
        client = connect(uri, token)
        try:
            return cls(client, alias, uri, model, index_dir)
        except BaseException:
            disconnect(client, uri)
            raise

    @milvus_failures
    def changed(self) -> bool:
        """True when a build has moved the alias to a newer generation since this engine opened."""
        return live_collection(self.client, self.alias) != self.collection

    @milvus_failures
    def dense(self, query: np.ndarray, limit: int, filters: Filters, use_heads: bool) -> Ranking:
        """Nearest passages by cosine; with ``use_heads`` each article's whole-article vector also counts for its
        first passage (merged with fusion.best_of, as the local engine does)."""
        vector = [np.asarray(query, dtype=np.float32).tolist()]
        content = self._search(self.collection, vector, "vector", limit, filters)
        if use_heads and self.counts.get("heads", 0):
            content = fusion.best_of([content, self._search(self.heads, vector, "vector", limit, filters)])
        return content

    @milvus_failures
    def lexical(self, text: str, limit: int, filters: Filters) -> Ranking:
        """BM25 per field (title, section, text), weighted and summed as the local engine does; no known terms
        means []. Each field is searched ``LEXICAL_DEPTH`` times deeper than ``limit`` before the sum."""
        terms = query_text(text)
        if not terms:
            return []
        if self.properties.get("format") == "1":  # one field, the title repeated
            return self._search(self.collection, [terms], "sparse", limit, filters)
        summed: dict[int, float] = {}
        for part, weight in zip(LEXICAL_FIELDS, FIELD_WEIGHTS, strict=True):
            for pid, score in self._search(
                self.collection, [terms], f"sparse_{part}", LEXICAL_DEPTH * limit, filters
            ):
                summed[pid] = summed.get(pid, 0.0) + weight * score
        return sorted(summed.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]

    def _search(self, collection: str, data: list[Any], field: str, limit: int, filters: Filters) -> Ranking:
        hits = self.client.search(
            collection,
            data=data,
            anns_field=field,
            limit=max(1, min(limit, MAX_TOPK)),
            filter=filter_expression(filters),
            output_fields=["id"],  # [] would return every field in Milvus Lite
        )[0]
        # Milvus Lite reports BM25 as a negated distance, a server as a positive score: both rank the same.
        ranking = [(int(hit["id"]), abs(float(hit["distance"]))) for hit in hits]
        return sorted(ranking, key=lambda pair: (-pair[1], pair[0]))

    @milvus_failures
    def similarities(self, query: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        """Cosine of the query with each passage's own vector."""
        rows = self._get(ids, ["id", "vector"])
        q = np.asarray(query, dtype=np.float32)
        return {int(r["id"]): float(np.dot(np.asarray(r["vector"], dtype=np.float32), q)) for r in rows}

    @milvus_failures
    def fetch_passages(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        """Passage rows with their article fields, by passage id."""
        return {int(r["id"]): _stored(r) for r in self._get(ids, list(PASSAGE_FIELDS))}

    def _get(self, ids: Sequence[int], fields: list[str]) -> list[dict[str, Any]]:
        wanted = list(dict.fromkeys(int(i) for i in ids))
        rows: list[dict[str, Any]] = []
        for start in range(0, len(wanted), 1_000):
            rows.extend(
                self.client.get(self.collection, ids=wanted[start : start + 1_000], output_fields=fields)
            )
        return rows

    @milvus_failures
    def article_passages(self, article_id: str) -> list[StoredPassage]:
        """Every passage of one article, in reading order."""
        rows = self.client.query(
            self.collection,
            filter=f"article_id == {quote(article_id)}",
            output_fields=list(PASSAGE_FIELDS),
            limit=MAX_TOPK,
        )
        return sorted((_stored(r) for r in rows), key=lambda p: p.ordinal)

    def facets(self) -> dict[str, list[str]]:
        """{"tags": [...], "sources": [...]} recorded when the generation was written."""
        return {key: list(values) for key, values in self._facets.items()}

    def close(self) -> None:
        """Release the connection (and, for the last user, the Milvus Lite file)."""
        disconnect(self.client, self.uri)


def _stored(row: dict[str, Any]) -> StoredPassage:
    return StoredPassage(
        id=int(row["id"]),
        article_id=str(row["article_id"]),
        ordinal=int(row["ordinal"]),
        section=str(row["section"]),
        text=str(row["text"]),
        title=str(row["title"]),
        url=str(row["url"]),
        source=str(row["source"]),
        tags=[str(t) for t in row["tags"] or []],
    )


# ---- the build's side ----------------------------------------------------------------------------------------


class MilvusTarget:
    """Where a build writes its Milvus generation: one connection, the alias, and the write → commit → drop steps
    (build.py calls them around its local database generation)."""

    def __init__(self, client: Any, uri: str, alias: str) -> None:
        self.client, self.uri, self.alias = client, uri, alias
        self.index_type = vector_index_for(uri).lower()

    @classmethod
    def connect(cls, engine: Any) -> MilvusTarget:
        """Connect to the spec's engine (``EngineSpec``); the token comes from ``MILVUS_TOKEN``."""
        import os

        return cls(connect(engine.uri, os.environ.get("MILVUS_TOKEN")), engine.uri, engine.collection)

    def live_generation(self) -> int:
        """The generation the alias names now (0 when none)."""
        return live_generation(self.client, self.alias)

    def write(self, generation: int, store: Store, model: ModelSpec, model_key: str) -> Written:
        """Write the store's passages, vectors and heads as ``generation`` (not yet live)."""
        return write_generation(
            self.client,
            self.alias,
            generation,
            store,
            model,
            model_key,
            vector_index=vector_index_for(self.uri),
        )

    def commit(self, written: Written) -> None:
        """Move the alias to the written generation."""
        commit(self.client, self.alias, written.collection)

    def drop_old(self) -> None:
        """Drop generations older than the previous one."""
        drop_old(self.client, self.alias, keep=2)

    def close(self) -> None:
        """Release the connection (and the Milvus Lite file)."""
        disconnect(self.client, self.uri)
