"""Text the command line prints: build summaries, search results, index facts."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from .answer import TRUNCATION_NOTE, answer
from .build import BuildReport
from .config import BuildSettings
from .manifest import Manifest
from .relevance import NO_CLOSE_MATCH
from .search import Searcher
from .spec import IndexSpec

MAX_LISTED = 20


def print_build_report(report: BuildReport, settings: BuildSettings) -> None:
    """One screen: what changed in the spec, counts, timing, skipped files with reasons, warnings."""
    for note in report.notes:
        print(f"note: {note}")
    state = "up to date" if report.up_to_date else "built"
    print(
        f"Index {settings.index} {state}: {report.articles} articles, {report.passages} passages "
        f"from {report.corpus}"
    )
    if report.spec is not None:
        print(f"  {spec_line(report.spec)}")
    print(
        f"  passages: {report.new} new, {report.changed} changed, {report.removed} removed, {report.kept} kept"
    )
    if report.embedded:
        print(
            f"  embedded {report.embedded} texts (passages and whole articles); {report.seconds:.1f} s in all "
            f"({report.passages_per_second:.1f} passages/s)"
        )
    else:
        print(f"  nothing to embed; {report.seconds:.1f} s in all")
    _print_list(f"skipped {len(report.skipped)} file(s)", [f"{p}: {why}" for p, why in report.skipped])
    _print_list(f"{len(report.warnings)} warning(s)", report.warnings)


def spec_line(spec: IndexSpec) -> str:
    """The spec in one line: model, backend, token limit, vector index, engine."""
    model, vectors = spec.model, spec.vectors
    tokens = f"{model.passage_tokens} tokens" if model.passage_tokens else "the model's token limit"
    kind = "compact" if vectors.compact else vectors.kind
    engine = spec.engine.name
    if engine == "milvus":
        return (
            f"model {model.name} ({model.backend}, passages cut at {tokens}); engine milvus at {spec.engine.uri}, "
            f"collection {spec.engine.collection}"
        )
    return f"model {model.name} ({model.backend}, passages cut at {tokens}); vectors {kind}; engine {engine}"


def _print_list(title: str, lines: list[str]) -> None:
    if not lines:
        return
    print(f"  {title}:")
    for line in lines[:MAX_LISTED]:
        print(f"    {line}")
    if len(lines) > MAX_LISTED:
        print(f"    ... and {len(lines) - MAX_LISTED} more")


def search_record(searcher: Searcher, record: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The JSON contract for one query (see answer.Answer.to_dict), with the record's id when it has one."""
    found = answer(searcher, str(record.get("query", "")), **options).to_dict()
    return (
        {"id": record["id"], **{k: v for k, v in found.items() if k != "query"}} if "id" in record else found
    )


def print_results(record: dict[str, Any]) -> str:
    """Readable results: emergency first, then rank, title, section, best sentence and where it came from."""
    lines = []
    if record["emergency"]:
        lines += [f"!! {record['emergency']}", ""]
    if record.get("truncated"):
        lines += [TRUNCATION_NOTE, ""]
    if record.get("corrected_query"):
        lines += [f"Showing results for: {record['corrected_query']}", ""]
    if record["results"] and not record["close_match"]:
        lines += [f"{NO_CLOSE_MATCH}; the nearest passages follow.", ""]
    if not record["results"]:
        lines.append("No matching passages. Try other words, or fewer of them.")
    for result in record["results"]:
        where = f" — {result['section']}" if result["section"] else ""
        lines.append(f"{result['rank']}. {result['title']}{where}  (score {result['score']:.3f})")
        lines += textwrap.wrap(result["best_sentence"], 100, initial_indent="   ", subsequent_indent="   ")
        lines.append(f"   source: {result['url'] or result['article_id']}")
    lines.append("\nGeneral information, not medical advice.")
    return "\n".join(lines)


def _search_side(manifest: Manifest) -> list[str]:
    """Where the vectors and BM25 live: files in the folder, or a Milvus collection."""
    files, engine = manifest.files, manifest.spec.engine
    if engine.name == "milvus":
        return [
            f"engine:     milvus at {engine.uri}, collection (alias) {engine.collection}, generation "
            f"{manifest.generation}",
            f"vectors:    {manifest.index_type} in Milvus; BM25 by Milvus's BM25 function",
            f"cache:      embeddings and passages in {files['database']}",
        ]
    return [
        f"vectors:    {manifest.index_type} in {files['vectors']}"
        + (f" (re-ranked with {files['exact']}/)" if "exact" in files else "")
        + (" (compact)" if manifest.spec.vectors.compact else ""),
        f"lexical:    BM25 (bm25s) in {files['lexical']}/",
        "engine:     local",
    ]


def manifest_summary(manifest: Manifest, index_dir: Path) -> str:
    """The manifest facts a person wants to see."""
    model, counts = manifest.spec.model, manifest.counts
    tokens = f"{model.passage_tokens} tokens" if model.passage_tokens else "the model's limit"
    return "\n".join(
        [
            f"index:      {index_dir} (generation {manifest.generation}, format {manifest.format_version})",
            f"built at:   {manifest.built_at}",
            f"corpus:     {manifest.corpus}",
            f"articles:   {counts['articles']}",
            f"passages:   {counts['passages']}",
            f"model:      {model.name} (dimension {model.dimension}, fingerprint {model.fingerprint})",
            f"            {model.location}",
            f"embedding:  backend {model.backend}, passages cut at {tokens}",
            *_search_side(manifest),
            f"chunker:    {manifest.spec.chunker.as_dict()}",
            f"skipped:    {len(manifest.skipped)} file(s)",
            "versions:   " + ", ".join(f"{k} {v}" for k, v in sorted(manifest.versions.items())),
        ]
    )
