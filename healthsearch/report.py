"""Text the command line prints: build summaries, search results, index facts."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from .build import BuildReport
from .config import BuildSettings
from .errors import HealthsearchError
from .safety import detect_emergency
from .search import Searcher

MAX_LISTED = 20


def print_build_report(report: BuildReport, settings: BuildSettings) -> None:
    """One screen: counts, timing, skipped files with reasons, warnings."""
    for note in report.notes:
        print(f"note: {note}")
    state = "up to date" if report.up_to_date else "built"
    print(
        f"Index {settings.index} {state}: {report.articles} articles, {report.passages} passages "
        f"from {settings.corpus}"
    )
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


def _print_list(title: str, lines: list[str]) -> None:
    if not lines:
        return
    print(f"  {title}:")
    for line in lines[:MAX_LISTED]:
        print(f"    {line}")
    if len(lines) > MAX_LISTED:
        print(f"    ... and {len(lines) - MAX_LISTED} more")


def search_record(searcher: Searcher, record: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The JSON contract for one query: query (or id), emergency, results — or an error."""
    query = str(record.get("query", ""))
    alert = detect_emergency(query)
    head = {"id": record["id"]} if "id" in record else {"query": query}
    out: dict[str, Any] = {**head, "emergency": alert.message if alert else None}
    try:
        out["results"] = [r.to_dict() for r in searcher.search(query, **options)]
    except HealthsearchError as exc:
        out["results"], out["error"] = [], str(exc)
    return out


def print_results(record: dict[str, Any]) -> str:
    """Readable results: emergency first, then rank, title, section, best sentence and where it came from."""
    lines = []
    if record["emergency"]:
        lines += [f"!! {record['emergency']}", ""]
    if not record["results"]:
        lines.append("No matching passages. Try other words, or fewer of them.")
    for result in record["results"]:
        where = f" — {result['section']}" if result["section"] else ""
        lines.append(f"{result['rank']}. {result['title']}{where}  (score {result['score']:.3f})")
        lines += textwrap.wrap(result["best_sentence"], 100, initial_indent="   ", subsequent_indent="   ")
        lines.append(f"   source: {result['url'] or result['article_id']}")
    lines.append("\nGeneral information, not medical advice.")
    return "\n".join(lines)


def manifest_summary(manifest: dict[str, Any], index_dir: Path) -> str:
    """The manifest facts a person wants to see."""
    model, counts = manifest["model"], manifest["counts"]
    return "\n".join(
        [
            f"index:      {index_dir} (generation {manifest.get('generation')}, format {manifest['format_version']})",
            f"built at:   {manifest.get('built_at')}",
            f"corpus:     {manifest.get('corpus')}",
            f"articles:   {counts['articles']}",
            f"passages:   {counts['passages']}",
            f"model:      {model['name']} (dimension {model['dimension']}, fingerprint {model['fingerprint']})",
            f"embedding:  backend {model.get('backend', 'torch')}, passages cut at "
            + (f"{model['passage_tokens']} tokens" if model.get("passage_tokens") else "the model's limit"),
            f"vectors:    {manifest.get('index_type')} in {manifest['files']['vectors']}"
            + (f" (re-ranked with {manifest['files']['exact']}/)" if "exact" in manifest["files"] else ""),
            "lexical:    "
            + (
                f"BM25 (bm25s) in {manifest['files']['lexical']}/"
                if "lexical" in manifest["files"]
                else "none yet; run build_index.py"
            ),
            f"chunker:    {manifest.get('chunker')}",
            f"skipped:    {len(manifest.get('skipped', []))} file(s)",
            "versions:   " + ", ".join(f"{k} {v}" for k, v in sorted(manifest.get("versions", {}).items())),
        ]
    )
