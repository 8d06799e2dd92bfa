"""SQLite store: articles, passages, the embedding cache and source-file stamps."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .documents import Article, Passage

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY, title TEXT, url TEXT, source TEXT, tags TEXT, summary TEXT, aliases TEXT,
    source_path TEXT NOT NULL, head_text TEXT, head_hash TEXT);
CREATE INDEX IF NOT EXISTS articles_by_source ON articles(source_path);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY, article_id TEXT NOT NULL, ordinal INTEGER NOT NULL, section TEXT, text TEXT,
    content_hash TEXT NOT NULL, UNIQUE(article_id, ordinal));
CREATE TABLE IF NOT EXISTS vocabulary (word TEXT PRIMARY KEY, count INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS embeddings (
    content_hash TEXT NOT NULL, model TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (content_hash, model)) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class StoredPassage:
    """A passage row joined with its article, as search results need it."""

    id: int
    article_id: str
    ordinal: int
    section: str
    text: str
    title: str
    url: str
    source: str
    tags: list[str]

    @property
    def passage_id(self) -> str:
        """The stable public id of a passage: ``<article_id>#<ordinal>``."""
        return f"{self.article_id}#{self.ordinal}"


_ALL_HASHES = (
    "SELECT content_hash AS h FROM passages UNION SELECT head_hash FROM articles WHERE head_hash IS NOT NULL"
)


@dataclass(frozen=True)
class ArticleRecord:
    """An article ready to store: passages with content hashes and the optional whole-article (head) text with its
    hash."""

    article: Article
    passages: list[Passage]
    hashes: list[str]
    head: tuple[str, str] | None = None


def _vector_batches(
    rows: sqlite3.Cursor, dimension: int, batch: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    while chunk := rows.fetchmany(batch):
        ids = np.fromiter((r[0] for r in chunk), dtype=np.int64, count=len(chunk))
        matrix = np.frombuffer(b"".join(r[1] for r in chunk), dtype=np.float32).reshape(len(chunk), dimension)
        yield ids, matrix


def _stored_passage(row: tuple[Any, ...]) -> StoredPassage:
    """A fetch_passages row → StoredPassage (tags are stored as JSON)."""
    pid, article_id, ordinal, section, text, title, url, source, tags = row
    return StoredPassage(
        pid, article_id, ordinal, section, text, title, url, source, json.loads(tags or "[]")
    )


def open_db(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """Open the database; read-only connections treat the file as immutable (generations never change)."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.executescript(SCHEMA)
    conn.execute("PRAGMA query_only = 1" if readonly else "PRAGMA journal_mode = OFF")
    return conn


class Store:
    """Typed access to one index database."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def source_stamps(self) -> dict[str, tuple[int, int]]:
        """path → (size, mtime_ns) of every file read into this index."""
        return {p: (s, m) for p, s, m in self.conn.execute("SELECT path, size, mtime_ns FROM sources")}

    def passage_hashes(self, source_paths: Iterable[str]) -> dict[tuple[str, int], str]:
        """(article_id, ordinal) → content hash for every passage of the given source files."""
        found: dict[tuple[str, int], str] = {}
        for path in source_paths:
            rows = self.conn.execute(
                "SELECT p.article_id, p.ordinal, p.content_hash FROM passages p JOIN articles a"
                " ON a.id = p.article_id WHERE a.source_path = ?",
                (path,),
            )
            found.update({(a, o): h for a, o, h in rows})
        return found

    def article_owners(self) -> dict[str, str]:
        """article id → the source file it came from."""
        return dict(self.conn.execute("SELECT id, source_path FROM articles"))

    def remove_source(self, path: str) -> None:
        """Delete a source file's articles and passages."""
        ids = [
            r[0]
            for r in self.conn.execute(
                "SELECT p.id FROM passages p JOIN articles a ON a.id = p.article_id WHERE a.source_path = ?",
                (path,),
            )
        ]
        self.conn.executemany("DELETE FROM passages WHERE id = ?", ((i,) for i in ids))
        self.conn.execute("DELETE FROM articles WHERE source_path = ?", (path,))
        self.conn.execute("DELETE FROM sources WHERE path = ?", (path,))

    def stamp_source(self, path: str, size: int, mtime_ns: int) -> None:
        """Remember a source file's size and modification time."""
        self.conn.execute("INSERT OR REPLACE INTO sources VALUES (?, ?, ?)", (path, size, mtime_ns))

    def add_article(self, record: ArticleRecord) -> None:
        """Insert an article, its head text and hash if any, and its passages."""
        article, head = record.article, record.head
        self.conn.execute(
            "INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                article.id,
                article.title,
                article.url,
                article.source,
                json.dumps(article.tags),
                article.summary,
                json.dumps(article.aliases),
                article.source_path,
                *(head or (None, None)),
            ),
        )
        for passage, content_hash in zip(record.passages, record.hashes, strict=True):
            self.conn.execute(
                "INSERT INTO passages (article_id, ordinal, section, text, content_hash) VALUES (?, ?, ?, ?, ?)",
                (passage.article_id, passage.ordinal, passage.section, passage.text, content_hash),
            )

    def missing_embeddings(self, model: str) -> set[str]:
        """Content hashes of passages and article heads not yet embedded with ``model``."""
        rows = self.conn.execute(
            f"SELECT h FROM ({_ALL_HASHES}) LEFT JOIN embeddings e ON e.content_hash = h AND e.model = ?"
            " WHERE e.content_hash IS NULL",
            (model,),
        )
        return {r[0] for r in rows}

    def embedding_inputs(self, hashes: Iterable[str]) -> dict[str, str]:
        """content hash → the text the model embeds, for passages (title, section, text) and article heads."""
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (h TEXT PRIMARY KEY)")
        self.conn.execute("DELETE FROM temp.wanted")
        self.conn.executemany("INSERT OR IGNORE INTO temp.wanted VALUES (?)", ((h,) for h in hashes))
        rows = self.conn.execute(  # filtered inside SQLite: an incremental build reads only what it embeds
            "SELECT p.content_hash, a.title, p.section, p.text FROM passages p JOIN articles a ON a.id = p.article_id"
            " WHERE p.content_hash IN (SELECT h FROM temp.wanted)"
        )
        found = {h: Passage("", 0, s, t, title).embedding_text() for h, title, s, t in rows}
        heads = self.conn.execute(
            "SELECT head_hash, head_text FROM articles WHERE head_hash IN (SELECT h FROM temp.wanted)"
        )
        found.update(dict(heads.fetchall()))
        return found

    def put_embeddings(self, model: str, hashes: list[str], vectors: np.ndarray) -> None:
        """Cache vectors by content hash and model."""
        self.conn.executemany(
            "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
            ((h, model, v.astype(np.float32).tobytes()) for h, v in zip(hashes, vectors, strict=True)),
        )

    def drop_unused_embeddings(self, model: str) -> int:
        """Delete cached vectors of other models and those no passage or article head uses; returns how many."""
        cursor = self.conn.execute(
            f"DELETE FROM embeddings WHERE model != ? OR content_hash NOT IN ({_ALL_HASHES})", (model,)
        )
        return cursor.rowcount

    def vectors(
        self, model: str, dimension: int, batch: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (passage ids, vectors) in batches for every passage, in id order."""
        query = (
            "SELECT p.id, e.vector FROM passages p JOIN embeddings e"
            " ON e.content_hash = p.content_hash AND e.model = ? ORDER BY p.id"
        )
        return _vector_batches(self.conn.execute(query, (model,)), dimension, batch)

    def vectors_of(self, model: str, dimension: int, ids: list[int]) -> dict[int, np.ndarray]:
        """The cached vectors of some passages, by passage id."""
        return self._vectors_by_passage("e.content_hash = p.content_hash", model, dimension, ids)

    def article_vectors_of(self, model: str, dimension: int, ids: list[int]) -> dict[int, np.ndarray]:
        """The whole-article (head) vector of each passage's article, by passage id (articles with a head)."""
        return self._vectors_by_passage("e.content_hash = a.head_hash", model, dimension, ids)

    def _vectors_by_passage(
        self, match: str, model: str, dimension: int, ids: list[int]
    ) -> dict[int, np.ndarray]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            "SELECT p.id, e.vector FROM passages p JOIN articles a ON a.id = p.article_id"
            f" JOIN embeddings e ON {match} AND e.model = ? WHERE p.id IN ({marks})",
            [model, *ids],
        )
        return {pid: np.frombuffer(blob, dtype=np.float32, count=dimension) for pid, blob in rows}

    def head_vectors(
        self, model: str, dimension: int, batch: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (id of the article's first passage, whole-article vector) for articles that have a head."""
        query = (
            "SELECT p.id, e.vector FROM articles a JOIN passages p ON p.article_id = a.id AND p.ordinal = 0"
            " JOIN embeddings e ON e.content_hash = a.head_hash AND e.model = ? ORDER BY p.id"
        )
        return _vector_batches(self.conn.execute(query, (model,)), dimension, batch)

    def library_texts(self) -> Iterator[str]:
        """Every title once, and every passage's section heading and text: what the library's words are."""
        for (title,) in self.conn.execute("SELECT title FROM articles"):
            yield title or ""
        for section, text in self.conn.execute("SELECT section, text FROM passages"):
            yield f"{section or ''}\n{text or ''}"

    def put_vocabulary(self, counts: Mapping[str, int]) -> None:
        """Replace the library's word counts (query spelling correction reads them)."""
        self.conn.execute("DELETE FROM vocabulary")
        self.conn.executemany("INSERT INTO vocabulary (word, count) VALUES (?, ?)", counts.items())

    def vocabulary(self) -> dict[str, int]:
        """The library's word counts; empty for an index built before they were kept."""
        try:
            return dict(self.conn.execute("SELECT word, count FROM vocabulary"))
        except sqlite3.OperationalError:
            return {}

    def counts(self) -> dict[str, int]:
        """Numbers of articles, passages, source files and article heads."""
        counts = {
            name: int(self.conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0])
            for name in ("articles", "passages", "sources")
        }
        counts["heads"] = int(self.conn.execute("SELECT COUNT(head_hash) FROM articles").fetchone()[0])
        return counts

    def fetch_passages(self, ids: list[int]) -> dict[int, StoredPassage]:
        """Passage rows with article fields, keyed by passage id."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            "SELECT p.id, p.article_id, p.ordinal, p.section, p.text, a.title, a.url, a.source, a.tags"
            f" FROM passages p JOIN articles a ON a.id = p.article_id WHERE p.id IN ({marks})",
            ids,
        )
        return {r[0]: _stored_passage(r) for r in rows}

    def article_passages(self, article_id: str) -> list[StoredPassage]:
        """Every passage of one article in reading order."""
        ids = [
            r[0]
            for r in self.conn.execute(
                "SELECT id FROM passages WHERE article_id = ? ORDER BY ordinal", (article_id,)
            )
        ]
        found = self.fetch_passages(ids)
        return [found[i] for i in ids]

    def lexical_rows(self) -> Iterator[tuple[int, str, str, str]]:
        """(passage id, title with the article's aliases, section, text) of every passage, in id order."""
        rows = self.conn.execute(
            "SELECT p.id, a.title, a.aliases, p.section, p.text FROM passages p"
            " JOIN articles a ON a.id = p.article_id ORDER BY p.id"
        )
        for passage_id, title, aliases, section, text in rows:
            yield passage_id, " ".join([title, *json.loads(aliases or "[]")]), section, text

    def facets(self) -> dict[str, list[str]]:
        """All tags and sources present, for filters."""
        tags: set[str] = set()
        for (raw,) in self.conn.execute("SELECT DISTINCT tags FROM articles"):
            tags.update(json.loads(raw or "[]"))
        sources = [r[0] for r in self.conn.execute("SELECT DISTINCT source FROM articles WHERE source != ''")]
        return {"tags": sorted(tags), "sources": sorted(sources)}
