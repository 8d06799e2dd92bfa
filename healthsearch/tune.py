"""Fine-tune the embedding model on the library's own questions: pair mining, training, model card.

Training pairs come from the library alone: question-style headings (MedQuAD: each question) and titled section
headings with the passages under them, plus each distinct title with its article's opening passage. Pairs are
deduplicated, any pair whose query equals an evaluation query is dropped, and 5 % of the queries are held out
for a validation loss. Training uses sentence-transformers' trainer with CachedMultipleNegativesRankingLoss:
in-batch negatives over a large batch (256 pairs), computed ``mini_batch_size`` texts at a time (GradCache), so
memory stays that of a small batch; no duplicate text in a batch; with ``hard_negatives`` also one negative per
pair mined from the current index, :mod:`negatives`. The model is written to a temporary folder beside ``out`` and renamed
into place only when complete, so an interrupt or out-of-memory never leaves a half-written model.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import time
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import failpoints
from .chunking import chunk_article
from .config import DEFAULT_MODEL, DEFAULT_PASSAGE_TOKENS
from .documents import Article
from .embedding import resolve_model
from .errors import HealthsearchError
from .negatives import MARGIN, MinedNegatives, mine_negatives

MIN_PAIRS = 40
VALIDATION_SHARE = 0.05
PASSAGES_PER_HEADING = 3
# The validation loss is computed over at most this many held-out pairs (each evaluation is a forward pass).
LOSS_PAIRS = 256
QUERIES_FILE = "training-queries.jsonl"
CARD_FILE = "README.md"
_QUESTION_WORDS = frozenset(
    [
        "what",
        "how",
        "why",
        "when",
        "who",
        "whom",
        "which",
        "where",
        "is",
        "are",
        "am",
        "can",
        "could",
        "does",
        "do",
        "did",
        "should",
        "will",
        "would",
        "was",
        "were",
        "has",
        "have",
        "may",
        "might",
    ]
)


class TuneError(HealthsearchError):
    """Tuning cannot start or finish: too few pairs, an existing output folder, out of memory."""


@dataclass(frozen=True)
class Pair:
    """One training example: a query the library itself asks and the passage that answers it."""

    query: str
    passage: str
    kind: str  # "question", "heading" or "title"
    article_id: str = ""
    title: str = ""  # the article's title: negatives never come from an article of the same title


@dataclass(frozen=True)
class TuneSettings:
    """Everything a tuning run needs to know."""

    corpus: Path
    out: Path
    base: str = DEFAULT_MODEL
    epochs: int = 1
    max_minutes: float | None = None
    batch_size: int = 256
    mini_batch_size: int = 64
    overwrite: bool = False
    max_steps: int | None = None
    exclude_queries: tuple[Path, ...] = ()
    learning_rate: float = 3e-5
    max_tokens: int = DEFAULT_PASSAGE_TOKENS  # train on what the index embeds
    min_pairs: int = MIN_PAIRS
    hard_negatives: Path | None = None
    progress: bool = True
    command: str = ""


@dataclass
class PairSet:
    """Mined pairs split for training, with what was dropped on the way."""

    train: list[Pair]
    validation: list[Pair]
    found: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    excluded: int = 0


@dataclass
class TuneReport:
    """What a tuning run did, as written into the model card."""

    out: Path
    base: str
    pairs: PairSet
    steps: int = 0
    planned_steps: int = 0
    epochs: float = 0.0
    stopped: str = "finished"
    train_loss_first: float | None = None
    train_loss_last: float | None = None
    validation_loss_before: float | None = None
    validation_loss_after: float | None = None
    minutes: float = 0.0
    device: str = "cpu"
    precision: str = "fp32"
    negatives: MinedNegatives | None = None
    mining_minutes: float = 0.0


# --- pair mining -------------------------------------------------------------------------------------------


def normalise_query(text: str) -> str:
    """Lowercase letters and digits separated by single spaces: how queries are compared for equality."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.findall(r"[^\W_]+", folded))


def is_question(text: str) -> bool:
    """True for headings that read as a question ("What causes gout?", "How is asthma treated")."""
    words = normalise_query(text).split()
    return text.rstrip().endswith("?") or (len(words) >= 3 and words[0] in _QUESTION_WORDS)


def mine_pairs(articles: Iterable[Article]) -> Iterator[Pair]:
    """Heading → passages under it (up to three), and each distinct title → its article's opening passage."""
    titles: set[str] = set()
    for article in articles:
        passages = chunk_article(article)
        if not passages:
            continue
        title_key = normalise_query(article.title)
        if title_key and title_key not in titles:
            titles.add(title_key)
            kind = "question" if is_question(article.title) else "title"
            yield Pair(article.title, passages[0].text, kind, article.id, article.title)
        under: Counter[str] = Counter()
        for passage in passages:
            if not passage.section.strip() or under[passage.section] >= PASSAGES_PER_HEADING:
                continue
            under[passage.section] += 1
            yield Pair(
                _heading_query(article.title, passage.section),
                f"{article.title}\n{passage.text}",
                "question" if is_question(passage.section) else "heading",
                article.id,
                article.title,
            )


def _heading_query(title: str, heading: str) -> str:
    """The heading as a query; headings that do not name their article ("Causes") get the title first."""
    if normalise_query(title) in normalise_query(heading):
        return heading
    return f"{title}: {heading}"


def evaluation_queries(paths: Iterable[Path]) -> set[str]:
    """Normalised query texts of JSONL files (every string field except "id": query, paraphrase, ...)."""
    found: set[str] = set()
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise TuneError(f"cannot read evaluation queries {path} ({exc.__class__.__name__})") from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise TuneError(f"{path}:{number}: not a JSON line") from None
            if isinstance(record, dict):
                found.update(
                    normalise_query(v) for k, v in record.items() if k != "id" and isinstance(v, str)
                )
    found.discard("")
    return found


def build_pairs(articles: Iterable[Article], excluded_queries: Collection[str] = frozenset()) -> PairSet:
    """Mine, deduplicate, drop evaluation queries, and hold out 5 % of the queries for validation."""
    seen: set[tuple[str, str]] = set()
    kept: list[Pair] = []
    result = PairSet([], [])
    for pair in mine_pairs(articles):
        key = (normalise_query(pair.query), normalise_query(pair.passage))
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        if key[0] in excluded_queries:
            result.excluded += 1
            continue
        kept.append(pair)
        result.found[pair.kind] += 1
    held_out = _validation_queries({normalise_query(p.query) for p in kept})
    for pair in kept:
        (result.validation if normalise_query(pair.query) in held_out else result.train).append(pair)
    return result


def _validation_queries(queries: set[str]) -> set[str]:
    """A stable 5 % of the distinct queries (by hash), at least one when there are 20 or more."""
    ordered = sorted(queries, key=lambda q: hashlib.sha256(q.encode()).hexdigest())
    count = round(len(ordered) * VALIDATION_SHARE) or (1 if len(ordered) >= 20 else 0)
    return set(ordered[:count])


def read_library(corpus: Path) -> list[Article]:
    """Every article of the corpus folder, read the way a build reads it."""
    from .ingest import list_corpus_files, read_file

    return [article for file in list_corpus_files(corpus) for article in read_file(file).articles]


# --- training ----------------------------------------------------------------------------------------------


def tune(settings: TuneSettings) -> TuneReport:
    """Mine pairs from ``settings.corpus``, train, and write the model folder ``settings.out`` atomically."""
    _check_output(settings)
    pairs = build_pairs(read_library(settings.corpus), evaluation_queries(settings.exclude_queries))
    total = len(pairs.train) + len(pairs.validation)
    if total < settings.min_pairs:
        raise TuneError(
            f"only {total} training pairs found in {settings.corpus} (question-style headings, titled "
            f"sections with text, article titles); tuning needs at least {settings.min_pairs}"
        )
    negatives, mining_minutes = _negatives(settings, pairs)
    settings.out.parent.mkdir(parents=True, exist_ok=True)
    partial = settings.out.with_name(f".{settings.out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        report = _train(settings, pairs, partial, negatives)
        report.mining_minutes = mining_minutes
        _write_card(partial, report, settings)
        _write_queries(partial, pairs)
        _move_into_place(partial, settings.out)
    except MemoryError:
        raise TuneError(_oom_message(settings)) from None
    except RuntimeError as exc:
        if "out of memory" not in str(exc).lower():
            raise
        raise TuneError(_oom_message(settings)) from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return report


def _check_output(settings: TuneSettings) -> None:
    out = settings.out
    if out.exists() and not out.is_dir():
        raise TuneError(f"output path {out} exists and is not a folder")
    if out.exists() and not settings.overwrite:
        raise TuneError(f"output folder {out} already exists; pass --overwrite to replace it")
    if settings.epochs < 1 or settings.batch_size < 2 or settings.mini_batch_size < 1:
        raise TuneError(
            "--epochs must be at least 1, --batch-size at least 2 and --mini-batch-size at least 1"
        )


def _oom_message(settings: TuneSettings) -> str:
    return (
        f"ran out of memory at {settings.mini_batch_size} texts per forward pass; try a smaller "
        f"--mini-batch-size (the batch of {settings.batch_size} can stay; nothing was written to {settings.out})"
    )


def _negatives(settings: TuneSettings, pairs: PairSet) -> tuple[MinedNegatives | None, float]:
    """Hard negatives from ``settings.hard_negatives`` (an index folder), and the minutes mining took."""
    if settings.hard_negatives is None:
        return None, 0.0
    started = time.monotonic()
    mined = mine_negatives(pairs.train, settings.hard_negatives, progress=settings.progress)
    return mined, round((time.monotonic() - started) / 60, 2)


def _train(
    settings: TuneSettings, pairs: PairSet, folder: Path, negatives: MinedNegatives | None = None
) -> TuneReport:
    """Train on ``pairs.train`` and save the model (as learned so far, when stopped early) into ``folder``."""
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    from .embedding import _load, resolve_backend

    started = time.monotonic()
    ref = resolve_model(settings.base)
    model = _load(ref, device=None)
    own_limit = model.max_seq_length
    model.max_seq_length = min(own_limit or settings.max_tokens, settings.max_tokens)
    device = str(model.device)
    bf16 = resolve_backend("auto", device) == "torch-bf16"
    report = TuneReport(
        settings.out,
        ref.name,
        pairs,
        device=device,
        precision="bf16 autocast" if bf16 else "fp32",
        negatives=negatives,
    )
    timer = _time_limit(settings.max_minutes, started)
    arguments = SentenceTransformerTrainingArguments(
        output_dir=str(folder / "_trainer"),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps or -1,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        warmup_steps=_planned_steps(settings, len(pairs.train)) // 10,
        bf16=bf16,
        use_cpu=device == "cpu",  # transformers refuses bf16 autocast on a CPU unless told it is one
        batch_sampler="no_duplicates",
        eval_strategy="no",
        save_strategy="no",
        logging_steps=max(1, _planned_steps(settings, len(pairs.train)) // 25),
        report_to="none",
        disable_tqdm=not settings.progress,
        seed=0,
        dataloader_pin_memory=device.startswith("cuda"),
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=arguments,
        train_dataset=_dataset(pairs.train, negatives.texts if negatives else None),
        eval_dataset=_dataset(pairs.validation[:LOSS_PAIRS]) if pairs.validation else None,
        loss=_loss(model, min(settings.mini_batch_size, settings.batch_size)),
        callbacks=[timer],
    )
    report.validation_loss_before = _validation_loss(trainer, pairs)
    try:
        trainer.train()
        report.stopped = "time limit" if timer.hit else "finished"
    except KeyboardInterrupt:
        report.stopped = "interrupted"
    report.validation_loss_after = _validation_loss(trainer, pairs)
    _record_progress(report, trainer)
    model.max_seq_length = own_limit
    shutil.rmtree(folder / "_trainer", ignore_errors=True)
    model.save(str(folder), create_model_card=False)
    report.minutes = round((time.monotonic() - started) / 60, 2)
    return report


def _planned_steps(settings: TuneSettings, pairs: int) -> int:
    per_epoch = max(1, math.ceil(pairs / settings.batch_size))
    return settings.max_steps or per_epoch * settings.epochs


def _dataset(pairs: list[Pair], negatives: list[str] | None = None) -> Any:
    """anchor / positive columns, and a third, negative, when hard negatives were mined."""
    from datasets import Dataset

    columns = {"anchor": [p.query for p in pairs], "positive": [p.passage for p in pairs]}
    if negatives is not None:
        columns["negative"] = negatives
    return Dataset.from_dict(columns)


def _loss(model: Any, mini_batch_size: int) -> Any:
    """CachedMultipleNegativesRankingLoss, from where this sentence-transformers version keeps it."""
    import importlib

    for module in ("sentence_transformers.sentence_transformer.losses", "sentence_transformers.losses"):
        try:
            losses = importlib.import_module(module)
            return losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=mini_batch_size)
        except (ImportError, AttributeError):
            continue
    raise TuneError("this sentence-transformers version has no CachedMultipleNegativesRankingLoss")


def _validation_loss(trainer: Any, pairs: PairSet) -> float | None:
    if not pairs.validation:
        return None
    loss = trainer.evaluate().get("eval_loss")
    return None if loss is None else round(float(loss), 4)


def _record_progress(report: TuneReport, trainer: Any) -> None:
    state = trainer.state
    report.steps, report.planned_steps = state.global_step, state.max_steps
    report.epochs = round(float(state.epoch or 0.0), 3)
    losses = [entry["loss"] for entry in state.log_history if "loss" in entry]
    if losses:
        report.train_loss_first, report.train_loss_last = round(losses[0], 4), round(losses[-1], 4)


def _time_limit(max_minutes: float | None, started: float) -> Any:
    """A trainer callback that stops training cleanly once ``max_minutes`` have passed."""
    from transformers import TrainerCallback

    class TimeLimit(TrainerCallback):
        hit = False

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
            failpoints.reach("tuning")
            if max_minutes is not None and time.monotonic() - started > max_minutes * 60:
                control.should_training_stop = self.hit = True
            return control

    return TimeLimit()


# --- output ------------------------------------------------------------------------------------------------


def _write_queries(folder: Path, pairs: PairSet) -> None:
    """Every training and validation query, so a benchmark can check that none is an evaluation query."""
    lines = [json.dumps({"query": p.query, "split": "train"}, ensure_ascii=False) for p in pairs.train]
    lines += [
        json.dumps({"query": p.query, "split": "validation"}, ensure_ascii=False) for p in pairs.validation
    ]
    (folder / QUERIES_FILE).write_text("\n".join(dict.fromkeys(lines)) + "\n", encoding="utf-8")


def training_queries(model_dir: Path) -> set[str]:
    """Normalised training queries of a tuned model folder (empty for a model not made by ``tune``)."""
    path = model_dir / QUERIES_FILE
    if not path.is_file():
        return set()
    return {
        normalise_query(json.loads(line)["query"]) for line in path.read_text("utf-8").splitlines() if line
    }


def _write_card(folder: Path, report: TuneReport, settings: TuneSettings) -> None:
    found = report.pairs.found
    rows = [
        ("base model", report.base),
        ("corpus", str(settings.corpus)),
        (
            "training pairs",
            f"{len(report.pairs.train):,} (+{len(report.pairs.validation):,} held out for validation)",
        ),
        ("pairs by kind", ", ".join(f"{kind} {count:,}" for kind, count in sorted(found.items()))),
        ("dropped", f"{report.pairs.duplicates:,} duplicates, {report.pairs.excluded:,} evaluation queries"),
        ("excluded query files", ", ".join(str(p) for p in settings.exclude_queries) or "none"),
        (
            "loss",
            "CachedMultipleNegativesRankingLoss (in-batch negatives over the whole batch, computed "
            f"{min(settings.mini_batch_size, settings.batch_size)} texts at a time; no duplicate text in a batch)",
        ),
        ("hard negatives", _negatives_line(report)),
        ("batch size / learning rate", f"{settings.batch_size} / {settings.learning_rate}"),
        ("training tokens", f"first {settings.max_tokens} tokens of each text"),
        (
            "steps",
            f"{report.steps:,} of {report.planned_steps:,} planned ({report.epochs} epochs), {report.stopped}",
        ),
        ("train loss (first / last logged)", f"{report.train_loss_first} / {report.train_loss_last}"),
        (
            "validation loss (before / after)",
            f"{report.validation_loss_before} / {report.validation_loss_after} "
            f"(over {min(LOSS_PAIRS, len(report.pairs.validation))} held-out pairs)",
        ),
        ("minutes", f"{report.minutes} on {report.device} ({report.precision})"),
        ("command", f"`{settings.command}`" if settings.command else "(called from Python)"),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    card = (
        f"# {settings.out.name}\n\nA sentence-transformers model fine-tuned by `healthsearch tune` on questions "
        f"the library itself asks and the passages that answer them.\n\n| | |\n|---|---|\n{table}\n\n"
        "Use it with `python build_index.py --model <this folder> --full`. "
        f"`{QUERIES_FILE}` lists every training query.\n"
    )
    (folder / CARD_FILE).write_text(card, encoding="utf-8")


def _negatives_line(report: TuneReport) -> str:
    mined = report.negatives
    if mined is None:
        return "none (in-batch negatives only)"
    return (
        f"one per training pair from the index {mined.index}: {mined.mined:,} mined (best-ranked passage of "
        f"an article of another title at most {MARGIN} x the query's own article), {mined.fallback:,} another pair's passage; "
        f"mining took {report.mining_minutes} min"
    )


def _move_into_place(partial: Path, out: Path) -> None:
    """Replace ``out`` with the finished folder: the old one is moved aside first, removed last."""
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    partial.rename(out)
    shutil.rmtree(old, ignore_errors=True)
