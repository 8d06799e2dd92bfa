"""Incremental build: read changed files, re-embed only new content, write a new generation aside, commit.

The build starts from the live index's spec (spec.py); settings override single fields. It copies the live
database into a new generation (generations.py), applies the file changes there, embeds what the cache lacks,
writes the search side (FAISS + bm25s), and commits by replacing manifest.json in one rename. A build that fails
or is killed at any point leaves the previous generation serving.

With the Milvus engine the SQLite generation stays in the folder (embedding cache, passages, file stamps) and the
search side is a new Milvus collection instead (milvus_engine.py); moving its alias is the commit, then the
manifest follows. With ``ray`` the changed files are chunked and the missing vectors embedded on Ray Data
(ray_embed.py); the result is the same.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from . import failpoints, lexical
from .ann import VectorIndex
from .chunking import chunk_article, head_text
from .config import DEFAULT_CORPUS, FORMAT_VERSION, BuildSettings, ChunkerSettings
from .embedding import Encoder, ModelRef, resolve_backend, resolve_model
from .errors import CorpusError, HealthsearchError, IndexProblem
from .generations import Generation, build_lock, next_generation, remove_old
from .ingest import CorpusFile, list_corpus_files, read_file
from .manifest import Manifest, library_versions, now_iso, read_manifest, write_manifest
from .spec import (
    IndexSpec,
    ModelSpec,
    VectorSpec,
    describe_changes,
    model_of,
    reembeds,
    requested_engine,
)
from .spelling import word_counts
from .store import SCHEMA, ArticleRecord, Store, open_db

if TYPE_CHECKING:
    from .milvus_engine import MilvusTarget

ProgressCallback = Callable[[int, int], None]
PassageKeys = dict[tuple[str, int], str]


@dataclass
class BuildReport:
    """What a build did, for the summary line and for tests."""

    articles: int = 0
    passages: int = 0
    new: int = 0
    changed: int = 0
    removed: int = 0
    kept: int = 0
    embedded: int = 0
    seconds: float = 0.0
    up_to_date: bool = False
    corpus: Path = DEFAULT_CORPUS
    spec: IndexSpec | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passages_per_second(self) -> float:
        """Embedding throughput over the whole build."""
        return self.embedded / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Plan:
    """What this build starts from and what it must do."""

    corpus: Path
    spec: IndexSpec  # the spec this build writes (model dimension filled in once the encoder is known)
    ref: ModelRef
    base: Manifest | None  # the live generation whose database and cached vectors are reused
    files: list[CorpusFile]
    changed: list[CorpusFile]
    removed: list[str]

    def nothing_to_do(self, index_dir: Path) -> bool:
        """True when the live generation already is what this build would write, with all its files."""
        base = self.base
        return (
            base is not None
            and base.format_version == FORMAT_VERSION
            and not self.changed
            and not self.removed
            and base.spec == self.spec
            and _complete(index_dir, base)
        )


def _complete(index_dir: Path, manifest: Manifest) -> bool:
    """True when the manifest names every file its kind needs and they all exist (a Milvus index keeps only its
    database in the folder)."""
    if manifest.spec.engine.name == "milvus":
        needed = ["database"]
    else:
        needed = ["database", "lexical", *VectorIndex.parts(manifest.index_type)]
    if not all(key in manifest.files and (index_dir / manifest.files[key]).exists() for key in needed):
        return False
    return _keeps_word_counts(index_dir / manifest.files["database"])


def _keeps_word_counts(database: Path) -> bool:
    """False for a database from before word counts were kept: the next build adds them (nothing re-embedded)."""
    conn = open_db(database, readonly=True)
    try:
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'vocabulary'")
        return found.fetchone() is not None
    finally:
        conn.close()


def build_index(
    settings: BuildSettings, encoder: Encoder | None = None, on_progress: ProgressCallback | None = None
) -> BuildReport:
    """Bring the index in ``settings.index`` up to date with its corpus (``settings.corpus`` or the live one's)."""
    started = time.perf_counter()
    settings.index.mkdir(parents=True, exist_ok=True)
    with build_lock(settings.index):
        report = BuildReport()
        live = _live_manifest(settings.index, report)
        plan = _plan(settings, live, encoder, report)
        report.corpus = plan.corpus
        if settings.ray:
            from .ray_embed import require_ray

            require_ray()
        if plan.nothing_to_do(settings.index):
            _report_unchanged(plan, report)
        else:
            encoder = encoder or _encoder_for(plan, settings)
            plan.spec = plan.spec.with_model(dimension=encoder.dimension)
            _Run(settings, plan, live, encoder, report, on_progress).write_safely()
        report.spec = plan.spec
    report.seconds = time.perf_counter() - started
    return report


def _live_manifest(index_dir: Path, report: BuildReport) -> Manifest | None:
    """The live generation (an index of the previous format is read for upgrading), or None."""
    try:
        live = read_manifest(index_dir, upgrade=True)
    except IndexProblem as exc:
        if (index_dir / "manifest.json").exists():
            report.notes.append(f"previous index not reusable ({exc}); rebuilding everything")
        return None
    if live.format_version != FORMAT_VERSION:
        report.notes.append(f"index upgraded from format {live.format_version}; cached vectors reused")
    return live


def _plan(
    settings: BuildSettings, live: Manifest | None, encoder: Encoder | None, report: BuildReport
) -> _Plan:
    """Decide the spec and which files to (re)read by comparing sizes and times with the live generation's stamps."""
    corpus = settings.corpus or (Path(live.corpus) if live and live.corpus else DEFAULT_CORPUS)
    files = list_corpus_files(corpus)
    if not files:
        raise CorpusError(
            f"corpus folder {corpus} has no articles; add .md, .txt, .html, .jsonl or MedQuAD .xml files"
        )
    spec, ref = requested_spec(live.spec if live else IndexSpec(), settings, encoder)
    base = live
    if live is not None:
        report.notes.extend(describe_changes(live.spec, spec))
        if settings.full or reembeds(live.spec, spec):
            base = None
    stamps = _stamps(settings.index, base)
    if base is not None and (base.spec.chunker != spec.chunker or base.corpus != _corpus_key(corpus)):
        if base.spec.chunker == spec.chunker:
            report.notes.append("corpus folder changed; re-reading every file (cached vectors reused)")
        return _Plan(corpus, spec, ref, base, files, files, sorted(stamps))
    changed = [f for f in files if stamps.get(f.relative) != (f.size, f.mtime_ns)]
    present = {f.relative for f in files}
    return _Plan(corpus, spec, ref, base, files, changed, sorted(set(stamps) - present))


def requested_spec(
    live: IndexSpec, settings: BuildSettings, encoder: Encoder | None = None
) -> tuple[IndexSpec, ModelRef]:
    """The live spec with the settings' fields (or a given encoder's model) applied; the model is resolved."""
    if encoder is not None:
        ref, backend, tokens = encoder.ref, encoder.backend, encoder.passage_tokens
    else:
        ref = resolve_model(settings.model) if settings.model else model_of(live.model)
        backend = resolve_backend(settings.backend or live.model.backend, settings.device)
        tokens = live.model.passage_tokens if settings.passage_tokens is None else settings.passage_tokens
    same_files = ref.fingerprint == live.model.fingerprint
    model = ModelSpec(
        name=live.model.name if same_files else ref.name,
        location=ref.location,
        fingerprint=ref.fingerprint,
        dimension=live.model.dimension if same_files else 0,
        backend=backend,
        passage_tokens=tokens,
    )
    vectors = VectorSpec(
        kind=live.vectors.kind if settings.index_type is None else settings.index_type,
        compact=live.vectors.compact if settings.compact is None else settings.compact,
    )
    engine = requested_engine(
        live.engine, settings.engine, settings.milvus_uri, settings.collection, settings.index
    )
    spec = replace(
        live, model=model, vectors=vectors, chunker=settings.chunker or live.chunker, engine=engine
    )
    return spec, replace(ref, name=model.name)


def _encoder_for(plan: _Plan, settings: BuildSettings) -> Encoder:
    return Encoder(plan.ref, settings.device, plan.spec.model.backend, plan.spec.model.passage_tokens)


def _corpus_key(corpus: Path) -> str:
    return str(corpus.resolve())


def _stamps(index_dir: Path, base: Manifest | None) -> dict[str, tuple[int, int]]:
    if base is None:
        return {}
    try:
        return Store(open_db(index_dir / base.files["database"], readonly=True)).source_stamps()
    except (sqlite3.Error, KeyError):
        return {}


def _report_unchanged(plan: _Plan, report: BuildReport) -> None:
    """Fill the report for a build that had nothing to do."""
    assert plan.base is not None
    report.up_to_date = True
    report.articles = plan.base.counts["articles"]
    report.passages = report.kept = plan.base.counts["passages"]
    report.skipped = [(str(path), str(reason)) for path, reason in plan.base.skipped]


@dataclass
class _Run:
    """One build writing a new generation: what it was asked, what it plans, the encoder and the report it fills."""

    settings: BuildSettings
    plan: _Plan
    live: Manifest | None
    encoder: Encoder
    report: BuildReport
    on_progress: ProgressCallback | None

    def write_safely(self) -> None:
        """Write and commit a generation; a full disk becomes one clear line (the live generation is untouched)."""
        with _milvus(self.plan.spec) as milvus, _ray(self.settings):
            number = self.live.generation if self.live else 0
            if milvus is not None:
                number = max(number, milvus.live_generation())
            generation = next_generation(self.settings.index, number)
            try:
                self.write_generation(generation, milvus)
            except (OSError, sqlite3.Error, RuntimeError) as exc:
                _full_disk(exc, self.settings, generation, self.live)
                raise

    def write_generation(self, generation: Generation, milvus: MilvusTarget | None = None) -> None:
        """Write a complete new generation aside, then commit it: by replacing the manifest (local files), or
        by moving the Milvus alias and then replacing the manifest (Milvus)."""
        settings, plan, encoder = self.settings, self.plan, self.encoder
        conn = _start_database(settings.index, plan.base, generation.partial("database"))
        try:
            store = Store(conn)
            _apply_changes(store, plan, self.report, settings)
            store.put_vocabulary(word_counts(store.library_texts()))
            self.embed_missing(store)
            store.drop_unused_embeddings(encoder.key)
            conn.commit()
            counts = store.counts()
            if milvus is None:
                lexical.build(store.lexical_rows(), generation.partial("lexical"))
                parts = [
                    "lexical",
                    *VectorIndex.write(store, encoder.key, encoder.dimension, plan.spec.vectors, generation),
                ]
                failpoints.reach("writing")
            else:
                written = milvus.write(generation.number, store, plan.spec.model, encoder.key)
                parts = []
        finally:
            conn.close()
        files = generation.publish(["database", *parts])
        failpoints.reach("before-swap")
        if milvus is not None:
            milvus.commit(written)
        index_type = milvus.index_type if milvus is not None else None
        write_manifest(settings.index, self.manifest(generation.number, counts, files, index_type))
        remove_old(settings.index, keep={generation.number, generation.number - 1})
        if milvus is not None:
            milvus.drop_old()
        self.report.articles, self.report.passages = counts["articles"], counts["passages"]

    def embed_missing(self, store: Store) -> None:
        """Embed every passage whose content hash has no cached vector under this encoder's key (on Ray with
        ``settings.ray``)."""
        settings, encoder = self.settings, self.encoder
        if settings.ray:
            from .ray_embed import embed_missing_with_ray

            self.report.embedded = embed_missing_with_ray(
                store, encoder, encoder.key, settings.ray_address, settings.batch_size
            )
            return
        inputs = store.embedding_inputs(store.missing_embeddings(encoder.key))
        hashes = list(inputs)
        if not hashes:
            return

        def progress(done: int, total: int) -> None:
            failpoints.reach("embedding")
            if self.on_progress is not None:
                self.on_progress(done, total)

        vectors = encoder.encode_passages(
            [inputs[h] for h in hashes], settings.batch_size, progress=settings.progress, on_progress=progress
        )
        store.put_embeddings(encoder.key, hashes, vectors)
        self.report.embedded = len(hashes)

    def manifest(
        self, generation: int, counts: dict[str, int], files: dict[str, str], index_type: str | None
    ) -> Manifest:
        """The manifest that commits this generation (skip notes of unchanged files carried over)."""
        plan = self.plan
        skipped = [list(item) for item in self.report.skipped]
        if plan.base is not None:
            still_there = {f.relative for f in plan.files} - {f.relative for f in plan.changed}
            skipped += [item for item in plan.base.skipped if item[0] in still_there]
        return Manifest(
            generation=generation,
            spec=plan.spec,
            vector_key=self.encoder.key,
            index_type=index_type or VectorIndex.kind_for(counts["passages"], plan.spec.vectors),
            counts=counts,
            files=files,
            corpus=_corpus_key(plan.corpus),
            built_at=now_iso(),
            skipped=sorted(skipped),
            versions=library_versions(),
        )


def _full_disk(
    exc: BaseException, settings: BuildSettings, generation: Generation, live: Manifest | None
) -> None:
    """Raise the one-line message for a full disk (partial files cleared); return for any other error."""
    if _out_of_space(exc):
        next_generation(settings.index, generation.number)  # clears the partial files
        still = "the previous index still answers" if live else "no index was written"
        raise IndexProblem(
            f"the disk holding {settings.index.resolve()} is full ({_first_line(exc)}); {still}. "
            "Free some space and run the build again"
        ) from None


@contextlib.contextmanager
def _milvus(spec: IndexSpec) -> Iterator[MilvusTarget | None]:
    """A connection to the spec's Milvus (opened before any work, so a bad URI or token fails at once), or None."""
    if spec.engine.name != "milvus":
        yield None
        return
    from .milvus_engine import MilvusTarget

    target = MilvusTarget.connect(spec.engine)
    try:
        yield target
    finally:
        target.close()


@contextlib.contextmanager
def _ray(settings: BuildSettings) -> Iterator[None]:
    if not settings.ray:
        yield
        return
    from .ray_embed import ray_session

    with ray_session(settings.ray_address):
        yield


def _out_of_space(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    text = str(exc).lower()
    return "disk is full" in text or "no space left" in text or "disk i/o error" in text


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [exc.__class__.__name__])[0][:120]


def _start_database(index_dir: Path, base: Manifest | None, target: Path) -> sqlite3.Connection:
    """A fresh database, or a consistent copy of the live one to update incrementally."""
    conn = open_db(target)
    if base is not None:
        source = sqlite3.connect(f"file:{index_dir / base.files['database']}?mode=ro&immutable=1", uri=True)
        try:
            source.backup(conn)
        finally:
            source.close()
        _drop_old_fts(conn)
        conn.executescript(SCHEMA)  # tables newer than the live copy (word counts)
    return conn


def _drop_old_fts(conn: sqlite3.Connection) -> None:
    """Indexes built before lexical search moved to bm25s files carry an FTS5 table: drop it, reclaim the space."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'passages_fts'").fetchone():
        conn.execute("DROP TABLE passages_fts")
        conn.commit()
        conn.execute("VACUUM")


def _apply_changes(store: Store, plan: _Plan, report: BuildReport, settings: BuildSettings) -> None:
    """Replace the passages of changed and removed files; count new/changed/removed/kept passages."""
    touched = [f.relative for f in plan.changed] + plan.removed
    before = store.passage_hashes(touched)
    for path in touched:
        store.remove_source(path)
    owners = store.article_owners()
    after: PassageKeys = {}
    for chunked in _chunked_files(plan, settings):
        _record_read(chunked, report)
        for record in chunked.records:
            article = record.article
            if article.id in owners:
                report.warnings.append(
                    f"duplicate article id {article.id!r} in {chunked.file.relative} (already in {owners[article.id]}); skipped"
                )
                continue
            owners[article.id] = chunked.file.relative
            store.add_article(record)
            after.update(
                {(p.article_id, p.ordinal): h for p, h in zip(record.passages, record.hashes, strict=True)}
            )
        store.stamp_source(chunked.file.relative, chunked.file.size, chunked.file.mtime_ns)
    _count_changes(before, after, store.counts()["passages"], report)


@dataclass
class ChunkedFile:
    """One corpus file read and chunked: its articles as store records, or why it was skipped."""

    file: CorpusFile
    records: list[ArticleRecord] = field(default_factory=list)
    skipped: str = ""
    warnings: list[str] = field(default_factory=list)


def chunk_file(file: CorpusFile, chunker: ChunkerSettings) -> ChunkedFile:
    """Read one file and chunk its articles: passages, their content hashes and the whole-article head text."""
    read = read_file(file)
    records = []
    for article in read.articles:
        article.source_path = file.relative
        passages = chunk_article(article, chunker)
        hashes = [content_hash(p.embedding_text()) for p in passages]
        head = head_text(article, passages)
        records.append(ArticleRecord(article, passages, hashes, (head, content_hash(head)) if head else None))
    return ChunkedFile(file, records, read.skipped, read.warnings)


def _chunked_files(plan: _Plan, settings: BuildSettings) -> Iterator[ChunkedFile]:
    """The changed files read and chunked, in order: here, or as Ray tasks with ``settings.ray``."""
    if settings.ray and plan.changed:
        from .ray_embed import chunk_with_ray

        yield from chunk_with_ray(plan.changed, plan.spec.chunker, settings.ray_address)
        return
    for file in plan.changed:
        yield chunk_file(file, plan.spec.chunker)


def _record_read(read: ChunkedFile, report: BuildReport) -> None:
    if read.skipped:
        report.skipped.append((read.file.relative, read.skipped))
    report.warnings.extend(read.warnings)


def content_hash(text: str) -> str:
    """Stable key of what the model embeds."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _count_changes(before: PassageKeys, after: PassageKeys, total: int, report: BuildReport) -> None:
    report.new = sum(1 for key in after if key not in before)
    report.removed = sum(1 for key in before if key not in after)
    report.changed = sum(1 for key, h in after.items() if key in before and before[key] != h)
    report.kept = total - report.new - report.changed


__all__ = [
    "BuildReport",
    "ChunkedFile",
    "HealthsearchError",
    "build_index",
    "chunk_file",
    "content_hash",
    "requested_spec",
]
