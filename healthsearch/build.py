"""Incremental build: read changed files, re-embed only new content, write a new generation aside, swap.

The live index is whatever manifest.json names. A build copies the live database to a new generation,
applies the changes there, writes a new FAISS file, and only then replaces manifest.json in one rename.
A build that fails or is killed at any point leaves the previous generation serving.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ann, failpoints, lexical
from .chunking import chunk_article, head_text
from .config import FORMAT_VERSION, BuildSettings
from .embedding import Encoder, ModelRef, resolve_backend, resolve_model
from .errors import CorpusError, HealthsearchError, IndexProblem
from .ingest import CorpusFile, FileRead, list_corpus_files, read_file
from .manifest import library_versions, now_iso, read_manifest, write_manifest
from .store import ArticleRecord, Store, open_db

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
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passages_per_second(self) -> float:
        """Embedding throughput over the whole build."""
        return self.embedded / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Plan:
    """The files to (re)read and drop, and the live generation to start from."""

    files: list[CorpusFile]
    changed: list[CorpusFile]
    removed: list[str]
    base: dict[str, Any] | None
    ref: ModelRef


def build_index(
    settings: BuildSettings, encoder: Encoder | None = None, on_progress: ProgressCallback | None = None
) -> BuildReport:
    """Bring the index in ``settings.index`` up to date with ``settings.corpus``."""
    started = time.perf_counter()
    settings.index.mkdir(parents=True, exist_ok=True)
    with _build_lock(settings.index):
        report = BuildReport()
        plan = _plan(settings, encoder, report)
        if plan.base is not None and not plan.changed and not plan.removed and _complete(plan.base):
            _report_unchanged(plan.base, settings.index, report)
        else:
            encoder = encoder or Encoder(plan.ref, settings.device, settings.backend, settings.passage_tokens)
            _build_generation(settings, plan, encoder, report, on_progress)
    report.seconds = time.perf_counter() - started
    return report


def _complete(manifest: dict[str, Any]) -> bool:
    """False for generations written before the lexical folder (and, for compact indexes, exact vectors) existed."""
    files = manifest["files"]
    return "lexical" in files and (manifest.get("index_type") != "ivfpq" or "exact" in files)


@contextlib.contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    """One build at a time per index directory."""
    with (index_dir / ".build.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexProblem(
                f"another build is already running on {index_dir}; wait for it to finish"
            ) from None
        yield


def _plan(settings: BuildSettings, encoder: Encoder | None, report: BuildReport) -> _Plan:
    """Decide what to reread by comparing file sizes and times with the live generation's stamps."""
    files = list_corpus_files(settings.corpus)
    if not files:
        raise CorpusError(
            f"corpus folder {settings.corpus} has no articles; add .md, .txt, .html, .jsonl or MedQuAD .xml files"
        )
    ref = encoder.ref if encoder else resolve_model(settings.model)
    backend = encoder.backend if encoder else resolve_backend(settings.backend, settings.device)
    tokens = encoder.passage_tokens if encoder else settings.passage_tokens
    base = None if settings.full else _reusable_base(settings, ref, backend, tokens, report)
    stamps = _stamps(settings.index, base)
    if base is not None and not _same_reading(base, settings):
        report.notes.append(
            "chunker settings or corpus folder changed; re-reading every file (cached vectors reused)"
        )
        return _Plan(files, files, sorted(stamps), base, ref)
    changed = [f for f in files if stamps.get(f.relative) != (f.size, f.mtime_ns)]
    present = {f.relative for f in files}
    return _Plan(files, changed, sorted(set(stamps) - present), base, ref)


def _same_reading(manifest: dict[str, Any], settings: BuildSettings) -> bool:
    """True when files would be read and chunked exactly as the live generation was."""
    return manifest.get("chunker") == settings.chunker.as_dict() and manifest.get("corpus") == _corpus_key(
        settings
    )


def _reusable_base(
    settings: BuildSettings, ref: ModelRef, backend: str, tokens: int | None, report: BuildReport
) -> dict[str, Any] | None:
    """The live manifest when its vectors were made the same way (model files, backend, passage token limit);
    otherwise None (a full rebuild)."""
    try:
        manifest = read_manifest(settings.index)
    except IndexProblem as exc:
        if (settings.index / "manifest.json").exists():
            report.notes.append(f"previous index not reusable ({exc}); rebuilding everything")
        return None
    built = manifest["model"]
    differences = [
        (built.get("fingerprint"), ref.fingerprint, f"model changed to {ref.name}"),
        (built.get("backend", "torch"), backend, f"backend changed to {backend}"),
        (
            built.get("passage_tokens"),
            tokens,
            f"passage token limit changed to {tokens or 'the model limit'}",
        ),
    ]
    for was, now, what in differences:
        if was != now:
            report.notes.append(f"{what}; passages will be embedded again")
            return None
    return manifest


def _corpus_key(settings: BuildSettings) -> str:
    return str(settings.corpus.resolve())


def _stamps(index_dir: Path, base: dict[str, Any] | None) -> dict[str, tuple[int, int]]:
    if base is None:
        return {}
    try:
        return Store(open_db(index_dir / base["files"]["database"], readonly=True)).source_stamps()
    except sqlite3.Error:
        return {}


def _report_unchanged(manifest: dict[str, Any], index_dir: Path, report: BuildReport) -> None:
    """Fill the report for a build that had nothing to do."""
    report.up_to_date = True
    report.articles = manifest["counts"]["articles"]
    report.passages = report.kept = manifest["counts"]["passages"]
    report.skipped = [(str(path), str(reason)) for path, reason in manifest.get("skipped", [])]


def _build_generation(
    settings: BuildSettings,
    plan: _Plan,
    encoder: Encoder,
    report: BuildReport,
    on_progress: ProgressCallback | None,
) -> None:
    """Write a complete new generation aside, then commit it by replacing the manifest."""
    generation = _live_generation(settings.index) + 1  # also after --full: never overwrite what readers use
    _remove_partials(settings.index)
    names = {
        "database": f"passages-{generation:06d}.sqlite",
        "vectors": f"vectors-{generation:06d}.faiss",
        "heads": f"heads-{generation:06d}.faiss",
    }
    db_partial = settings.index / f"{names['database']}.partial"
    conn = _start_database(settings.index, plan.base, db_partial)
    try:
        store = Store(conn)
        _apply_changes(store, plan, settings, report)
        model_key = encoder.key
        _embed_missing(store, encoder, model_key, settings, report, on_progress)
        store.drop_unused_embeddings(model_key)
        conn.commit()
        counts = store.counts()
        indexes = _vector_indexes(store, model_key, encoder.dimension, counts, settings)
        folders = _write_folders(store, model_key, encoder.dimension, counts, settings, names, generation)
    finally:
        conn.close()
    db_partial.rename(settings.index / names["database"])
    for partial, final in folders:
        _remove(final)  # left by a build that died before its swap
        partial.rename(final)
    failpoints.reach("writing")
    for key, index in indexes.items():
        ann.save(index, settings.index / names[key])
    failpoints.reach("before-swap")
    write_manifest(settings.index, _manifest(settings, plan, encoder, generation, counts, report, names))
    _remove_old_generations(settings.index, keep={generation, generation - 1})
    report.articles, report.passages = counts["articles"], counts["passages"]


def _live_generation(index_dir: Path) -> int:
    """The generation number the manifest names (0 when there is no readable manifest)."""
    try:
        return int(read_manifest(index_dir).get("generation", 0))
    except IndexProblem:
        return 0


def _write_folders(
    store: Store,
    model_key: str,
    dimension: int,
    counts: dict[str, int],
    settings: BuildSettings,
    names: dict[str, str],
    generation: int,
) -> list[tuple[Path, Path]]:
    """Write the lexical index and, for compact vector indexes, the exact vectors that re-rank their candidates,
    as partial folders; returns (partial, final) pairs (``names`` gains the folders' names)."""
    names["lexical"] = f"lexical-{generation:06d}"
    lexical.build(store.lexical_rows(), settings.index / f"{names['lexical']}.partial")
    if ann.choose_kind(counts["passages"], settings.index_type, settings.compact) == "ivfpq":
        names["exact"] = f"exact-{generation:06d}"
        exact = settings.index / f"{names['exact']}.partial"
        ann.save_exact(store.vectors(model_key, dimension), counts["passages"], dimension, exact)
    folders = [names[key] for key in ("lexical", "exact") if key in names]
    return [(settings.index / f"{name}.partial", settings.index / name) for name in folders]


def _vector_indexes(
    store: Store, model_key: str, dimension: int, counts: dict[str, int], settings: BuildSettings
) -> dict[str, Any]:
    """FAISS indexes over passage vectors and whole-article (head) vectors."""
    sources = {
        "vectors": ("passages", store.vectors),
        "heads": ("heads", store.head_vectors),
    }
    return {
        name: ann.build(
            batches(model_key, dimension),
            ann.choose_kind(counts[count], settings.index_type, settings.compact),
            dimension,
        )
        for name, (count, batches) in sources.items()
    }


def _start_database(index_dir: Path, base: dict[str, Any] | None, target: Path) -> sqlite3.Connection:
    """A fresh database, or a consistent copy of the live one to update incrementally."""
    conn = open_db(target)
    if base is not None:
        source = sqlite3.connect(
            f"file:{index_dir / base['files']['database']}?mode=ro&immutable=1", uri=True
        )
        try:
            source.backup(conn)
        finally:
            source.close()
        _drop_old_fts(conn)
    return conn


def _drop_old_fts(conn: sqlite3.Connection) -> None:
    """Indexes built before lexical search moved to bm25s files carry an FTS5 table: drop it, reclaim the space."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'passages_fts'").fetchone():
        conn.execute("DROP TABLE passages_fts")
        conn.commit()
        conn.execute("VACUUM")


def _apply_changes(store: Store, plan: _Plan, settings: BuildSettings, report: BuildReport) -> None:
    """Replace the passages of changed and removed files; count new/changed/removed/kept passages."""
    touched = [f.relative for f in plan.changed] + plan.removed
    before = store.passage_hashes(touched)
    for path in touched:
        store.remove_source(path)
    owners = store.article_owners()
    after: PassageKeys = {}
    for file in plan.changed:
        read = read_file(file)
        _record_read(read, report)
        for article in read.articles:
            article.source_path = file.relative
            if article.id in owners:
                report.warnings.append(
                    f"duplicate article id {article.id!r} in {file.relative} (already in {owners[article.id]}); skipped"
                )
                continue
            owners[article.id] = file.relative
            after.update(_add_article(store, article, settings))
        store.stamp_source(file.relative, file.size, file.mtime_ns)
    _count_changes(before, after, store.counts()["passages"], report)


def _record_read(read: FileRead, report: BuildReport) -> None:
    if read.skipped:
        report.skipped.append((read.file.relative, read.skipped))
    report.warnings.extend(read.warnings)


def _add_article(store: Store, article: Any, settings: BuildSettings) -> PassageKeys:
    passages = chunk_article(article, settings.chunker)
    hashes = [content_hash(p.embedding_text()) for p in passages]
    head = head_text(article, passages)
    store.add_article(ArticleRecord(article, passages, hashes, (head, content_hash(head)) if head else None))
    return {(p.article_id, p.ordinal): h for p, h in zip(passages, hashes, strict=True)}


def content_hash(text: str) -> str:
    """Stable key of what the model embeds."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _count_changes(before: PassageKeys, after: PassageKeys, total: int, report: BuildReport) -> None:
    report.new = sum(1 for key in after if key not in before)
    report.removed = sum(1 for key in before if key not in after)
    report.changed = sum(1 for key, h in after.items() if key in before and before[key] != h)
    report.kept = total - report.new - report.changed


def _embed_missing(
    store: Store,
    encoder: Encoder,
    model_key: str,
    settings: BuildSettings,
    report: BuildReport,
    on_progress: ProgressCallback | None,
) -> None:
    """Embed every passage whose content hash has no cached vector for this model."""
    inputs = store.embedding_inputs(store.missing_embeddings(model_key))
    hashes = list(inputs)
    if not hashes:
        return

    def progress(done: int, total: int) -> None:
        failpoints.reach("embedding")
        if on_progress is not None:
            on_progress(done, total)

    vectors = encoder.encode_passages(
        [inputs[h] for h in hashes], settings.batch_size, progress=settings.progress, on_progress=progress
    )
    store.put_embeddings(model_key, hashes, vectors)
    report.embedded = len(hashes)


def _manifest(
    settings: BuildSettings,
    plan: _Plan,
    encoder: Encoder,
    generation: int,
    counts: dict[str, int],
    report: BuildReport,
    names: dict[str, str],
) -> dict[str, Any]:
    skipped = [list(item) for item in report.skipped]
    if plan.base is not None:
        still_there = {f.relative for f in plan.files} - {f.relative for f in plan.changed}
        skipped += [item for item in plan.base.get("skipped", []) if item[0] in still_there]
    return {
        "format_version": FORMAT_VERSION,
        "generation": generation,
        "built_at": now_iso(),
        "corpus": _corpus_key(settings),
        "model": {
            "name": plan.ref.name,
            "location": plan.ref.location,
            "fingerprint": plan.ref.fingerprint,
            "backend": encoder.backend,
            "passage_tokens": encoder.passage_tokens,
            "dimension": encoder.dimension,
            "normalized": True,
            "embedded_text": "title. section\\npassage",
        },
        "chunker": settings.chunker.as_dict(),
        "counts": counts,
        "index_type": ann.choose_kind(counts["passages"], settings.index_type, settings.compact),
        "files": names,
        "skipped": sorted(skipped),
        "versions": library_versions(),
    }


def _remove_partials(index_dir: Path) -> None:
    for path in index_dir.glob("*.partial"):
        _remove(path)


def _remove_old_generations(index_dir: Path, keep: set[int]) -> None:
    """Delete generations older than the previous one (readers may still hold the previous one open)."""
    for path in [
        *index_dir.glob("passages-*.sqlite"),
        *index_dir.glob("*-[0-9][0-9][0-9][0-9][0-9][0-9].faiss"),
        *index_dir.glob("lexical-[0-9][0-9][0-9][0-9][0-9][0-9]"),
        *index_dir.glob("exact-[0-9][0-9][0-9][0-9][0-9][0-9]"),
    ]:
        number = path.stem.rsplit("-", 1)[-1]
        if number.isdigit() and int(number) not in keep:
            _remove(path)


def _remove(path: Path) -> None:
    """Delete a file or a folder of files."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


__all__ = ["BuildReport", "HealthsearchError", "build_index", "content_hash"]
