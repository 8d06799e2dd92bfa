"""Ray Data build throughput against the plain build, same corpus, same machine, one run.

    python benchmarks/ray_bench.py [--passages 2000] [--shared ../shared] [--json]

Both builds are fresh (``--full`` into empty folders) through the CLI, as a user runs them: the plain build embeds
in this process with every core; ``--ray`` starts a local Ray (this machine's cores) and embeds with
``map_batches`` over an actor pool of encoders. Whole-process seconds include model loading and, for Ray, starting
the cluster; the passages per second the build reports cover embedding and writing.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from healthsearch.ingest import list_corpus_files, read_file  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--passages", type=int, default=2000, help="MedQuAD answers in the corpus")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ray-bench-") as work:
        corpus = _corpus(Path(work) / "corpus", args.shared, args.passages)
        numbers = {
            "plain": _build(corpus, Path(work) / "plain", []),
            "ray": _build(corpus, Path(work) / "ray", ["--ray"]),
        }
    numbers["ray_over_plain_seconds"] = round(numbers["ray"]["seconds"] / numbers["plain"]["seconds"], 2)
    for name, value in numbers.items():
        print(f"{name}: {value}", flush=True)
    if args.json:
        print(json.dumps(numbers))
    return 0


def _corpus(folder: Path, shared: Path, passages: int) -> Path:
    """One JSONL file of real MedQuAD answers (first 150 words each)."""
    folder.mkdir(parents=True)
    lines: list[str] = []
    for file in list_corpus_files(shared / "medquad"):
        for article in read_file(file).articles:
            text = " ".join(article.full_text().split()[:150])
            lines.append(json.dumps({"id": f"a{len(lines)}", "title": article.title, "text": text}))
            if len(lines) >= passages:
                (folder / "answers.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
                return folder
    raise SystemExit(f"error: only {len(lines)} answers under {shared}/medquad")


def _build(corpus: Path, index: Path, extra: list[str]) -> dict[str, float]:
    command = [
        sys.executable,
        "build_index.py",
        "--corpus",
        str(corpus),
        "--index",
        str(index),
        "--full",
        *extra,
    ]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"error: {' '.join(extra) or 'plain'} build failed: {done.stderr.strip()[-500:]}")
    rate = re.search(r"([\d,.]+) passages/s", done.stdout + done.stderr)
    shutil.rmtree(index, ignore_errors=True)
    return {
        "seconds": round(seconds, 1),
        "reported_passages_per_second": float(rate.group(1).replace(",", "")) if rate else -1.0,
    }


if __name__ == "__main__":
    raise SystemExit(main())
