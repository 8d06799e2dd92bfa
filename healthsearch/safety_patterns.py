"""The emergency pattern table: read and validated once from ``safety_data/patterns.txt``, then matched.

The table language is described at the top of the data file. Every problem in it raises `SafetyDataError`
naming the file and line ("patterns.txt:57: unknown fragment <kidz>").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import SafetyDataError

MAX_CHECKED_CHARS = (
    2000  # the emergency check reads more of a long message than search uses (query.MAX_QUERY_CHARS)
)
DATA_DIR = Path(__file__).resolve().parent / "safety_data"
PATTERNS_FILE = DATA_DIR / "patterns.txt"
REQUIRED_FRAGMENTS = ("informational", "urgent", "animal", "human", "mild")
# Optional, all three or none: a self-harm *question* (<self_harm_question>: supporting someone, research, the
# past) without a sign of risk now (<risk_now>) gets the quieter support line instead of the emergency banner,
# as does any other query naming the topic (<self_harm_topic>) that is no emergency.
SUPPORT_FRAGMENTS = ("self_harm_question", "risk_now", "self_harm_topic")
# Optional: an event in the past that is over now (<resolved>) alerts on no layer unless <back_now> (or, where
# that is not defined, an urgent word) says it is happening again; <back_now> also keeps a self-harm question loud.
RESOLVED_FRAGMENT = "resolved"
BACK_NOW_FRAGMENT = "back_now"
# Optional, both or none: a question asked in general (<general_question>: "how long does stroke recovery take")
# that names nobody and nothing happening now (<personal>) keeps the semantic layer quiet.
GENERAL_FRAGMENTS = ("general_question", "personal")

_NEGATORS = frozenset(
    {"no", "not", "without", "never", "nor", "denies", "isnt", "wasnt", "hasnt", "didnt", "dont"}
)
_CLAUSE_BREAKS = frozenset({"but", "and", "with", "plus", "now", "then", "also"})
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_OD = re.compile(r"\bod'(?:d|ed)\b")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_TOKEN = re.compile(r"<(\w+)>")
_FRAGMENT_NAME = re.compile(r"<(\w+)>")
_CATEGORY = re.compile(r"\[([a-z][a-z0-9_]*)\]")


@dataclass(frozen=True)
class Rule:
    """One compiled category of the table."""

    kind: str
    patterns: tuple[re.Pattern[str], ...]
    combos: tuple[tuple[re.Pattern[str], ...], ...]
    benign: tuple[re.Pattern[str], ...]
    quiet: tuple[
        re.Pattern[str], ...
    ] = ()  # benign uses that also keep the semantic layer quiet ("~ " lines)


@dataclass(frozen=True)
class PatternTable:
    """Compiled categories in priority order and the guard patterns."""

    rules: tuple[Rule, ...]
    informational: re.Pattern[str]
    urgent: re.Pattern[str]
    animal: re.Pattern[str]
    human: re.Pattern[str]
    mild: re.Pattern[str]
    self_harm_question: re.Pattern[str] | None = None
    risk_now: re.Pattern[str] | None = None
    self_harm_topic: re.Pattern[str] | None = None
    resolved: re.Pattern[str] | None = None
    back_now: re.Pattern[str] | None = None
    general_question: re.Pattern[str] | None = None
    personal: re.Pattern[str] | None = None

    @property
    def happening_now(self) -> re.Pattern[str]:
        """What says an event is happening now: <back_now>, or the urgent words where it is not defined."""
        return self.back_now or self.urgent

    @property
    def kinds(self) -> tuple[str, ...]:
        """Category names in the order they are tried."""
        return tuple(rule.kind for rule in self.rules)


def normalise(query: str) -> str:
    """Lowercase, fold quotes, drop apostrophes and punctuation, squeeze spaces."""
    text = unicodedata.normalize("NFKC", query[:MAX_CHECKED_CHARS]).lower().translate(_QUOTES)
    text = _OD.sub("overdosed", text)
    return _NON_WORD.sub(" ", text.replace("'", "")).strip()


def load_table(path: Path = PATTERNS_FILE) -> PatternTable:
    """Read, validate and compile a pattern table; any bad entry raises SafetyDataError with file:line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SafetyDataError(f"cannot read safety pattern file {path}: {exc}") from None
    return _compile(path, _logical_lines(path, text))


def _logical_lines(path: Path, text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each entry, joining indented continuation lines; comments dropped."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        if raw.startswith("    "):
            if not lines:
                raise SafetyDataError(f"{path}:{number}: continuation line with nothing above it")
            lines[-1] = (lines[-1][0], lines[-1][1] + raw.strip())
        else:
            lines.append((number, raw.strip()))
    return lines


def _compile(path: Path, lines: list[tuple[int, str]]) -> PatternTable:
    fragments: dict[str, str] = {}
    rules: dict[str, dict[str, list]] = {}
    current: dict[str, list] | None = None
    for number, line in lines:
        where = f"{path}:{number}"
        if line.startswith("<"):
            name, body = _fragment(where, line)
            fragments[name] = _checked(where, _expand(where, body, fragments))
        elif line.startswith("["):
            current = _new_category(where, line, rules)
        elif line[:2] in ("+ ", "& ", "- ", "~ "):
            if current is None:
                raise SafetyDataError(f"{where}: rule before any [category] line")
            current[line[0]].append(_rule_entry(where, line, fragments))
        else:
            raise SafetyDataError(
                f"{where}: expected '<name> = ', '[category]', '+ ', '& ', '- ' or '~ ', got {line[:30]!r}"
            )
    missing = [name for name in REQUIRED_FRAGMENTS if name not in fragments]
    if missing:
        raise SafetyDataError(f"{path}: required fragment(s) missing: {', '.join(f'<{m}>' for m in missing)}")
    if not rules:
        raise SafetyDataError(f"{path}: no [category] defined")
    guards = (re.compile(fragments[name]) for name in REQUIRED_FRAGMENTS)
    informational, urgent, animal, human, mild = guards
    table = tuple(
        Rule(kind, tuple(parts["+"]), tuple(parts["&"]), tuple(parts["-"] + parts["~"]), tuple(parts["~"]))
        for kind, parts in rules.items()
    )
    support = [re.compile(fragments[n]) for n in SUPPORT_FRAGMENTS if n in fragments]
    if support and len(support) != len(SUPPORT_FRAGMENTS):
        names = ", ".join(f"<{n}>" for n in SUPPORT_FRAGMENTS)
        raise SafetyDataError(f"{path}: the support fragments {names} go together; define all or none")
    question, risk_now, topic = support or (None, None, None)
    general = [re.compile(fragments[n]) for n in GENERAL_FRAGMENTS if n in fragments]
    if general and len(general) != len(GENERAL_FRAGMENTS):
        names = ", ".join(f"<{n}>" for n in GENERAL_FRAGMENTS)
        raise SafetyDataError(f"{path}: the fragments {names} go together; define both or none")
    general_question, personal = general or (None, None)
    resolved, back_now = (
        re.compile(fragments[name]) if name in fragments else None
        for name in (RESOLVED_FRAGMENT, BACK_NOW_FRAGMENT)
    )
    return PatternTable(
        table,
        informational,
        urgent,
        animal,
        human,
        mild,
        question,
        risk_now,
        topic,
        resolved,
        back_now,
        general_question,
        personal,
    )


def _fragment(where: str, line: str) -> tuple[str, str]:
    head, sep, body = line.partition(" = ")
    match = _FRAGMENT_NAME.fullmatch(head.strip())
    if not sep or match is None or not body.strip():
        raise SafetyDataError(f"{where}: a fragment is written '<name> = regex'")
    return match.group(1), body


def _new_category(where: str, line: str, rules: dict[str, dict[str, list]]) -> dict[str, list]:
    match = _CATEGORY.fullmatch(line)
    if match is None:
        raise SafetyDataError(f"{where}: a category is written [lowercase_name], got {line[:30]!r}")
    if match.group(1) in rules:
        raise SafetyDataError(f"{where}: category [{match.group(1)}] is defined twice")
    rules[match.group(1)] = {"+": [], "&": [], "-": [], "~": []}
    return rules[match.group(1)]


def _rule_entry(
    where: str, line: str, fragments: dict[str, str]
) -> re.Pattern[str] | tuple[re.Pattern[str], ...]:
    body = line[2:].strip()
    if not body:
        raise SafetyDataError(f"{where}: empty pattern")
    if line[0] != "&":
        return re.compile(_checked(where, _expand(where, body, fragments)))
    parts = [part.strip() for part in body.split("&&")]
    if len(parts) < 2 or not all(parts):
        raise SafetyDataError(f"{where}: a combination needs two or more non-empty parts joined by '&&'")
    return tuple(re.compile(_checked(where, _expand(where, part, fragments))) for part in parts)


def _expand(where: str, pattern: str, fragments: dict[str, str]) -> str:
    """Replace <name> tokens with their fragment, wrapped in a non-capturing group."""

    def fragment(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in fragments:
            raise SafetyDataError(f"{where}: unknown fragment <{name}> (define it on an earlier line)")
        return f"(?:{fragments[name]})"

    return _TOKEN.sub(fragment, pattern)


def _checked(where: str, pattern: str) -> str:
    """The pattern itself, once it is known to compile."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise SafetyDataError(f"{where}: bad regular expression: {exc}") from None
    return pattern


def _negated(text: str, start: int) -> bool:
    """Return True if the words just before `start` negate the match ("no vomiting")."""
    for word in reversed(text[max(0, start - 40) : start].split()[-3:]):
        if word in _CLAUSE_BREAKS:
            return False
        if word in _NEGATORS:
            return True
    return False


def _affirmed(pattern: re.Pattern[str], text: str) -> bool:
    """Return True if `pattern` matches somewhere in `text` without being negated."""
    return any(not _negated(text, m.start()) for m in pattern.finditer(text))


def _rule_matches(rule: Rule, text: str) -> bool:
    """Return True if `text` triggers `rule` once the rule's benign phrases are removed."""
    for benign in rule.benign:
        text = benign.sub(" . ", text)
    text = " ".join(text.split())
    if any(p.search(text) for p in rule.patterns):
        return True
    return any(all(_affirmed(p, text) for p in combo) for combo in rule.combos)


def guarded(table: PatternTable, text: str) -> bool:
    """True for informational, animal or over-and-done queries (normalised text), on which only self-harm may
    alert."""
    if table.informational.search(text) and not table.urgent.search(text):
        return True
    resolved = table.resolved
    # the phrase itself is skipped when looking for "now": "fine now" says nothing
    if (
        resolved is not None
        and resolved.search(text)
        and not table.happening_now.search(resolved.sub(" ", text))
    ):
        return True
    return bool(table.animal.search(text)) and not table.human.search(table.animal.sub(" ", text))


def sounds_mild(table: PatternTable, text: str) -> bool:
    """True for a mild, past or "what happens if" wording with nothing saying it is happening now: the
    semantic layer stays quiet on it, since a look-alike of a mild symptom embeds close to the emergency."""
    return bool(table.mild.search(text)) and not table.happening_now.search(text)


def asks_in_general(table: PatternTable, text: str) -> bool:
    """True for a question asked in general ("what are the signs of sepsis") that names nobody and nothing
    happening now: a look-alike of an emergency's words that the semantic layer should not alarm on."""
    if table.general_question is None or table.personal is None:
        return False
    return bool(table.general_question.search(text)) and not table.personal.search(text)


def keeps_semantic_quiet(table: PatternTable, text: str) -> bool:
    """True where the semantic layer must not alarm outside self-harm, however sure it is: guarded (informational,
    animal, over and done) or asked in general. A mild wording quiets it too, unless the probe is sure."""
    return guarded(table, text) or asks_in_general(table, text)


def names_benign_use(table: PatternTable, text: str) -> bool:
    """True when `text` holds a benign use ("~ " lines: "chrome keeps going unresponsive", "overdosed on
    netflix"): the semantic layer stays quiet on it whatever category it found, since such a phrase embeds
    close to an emergency (not always the one it names)."""
    return any(quiet.search(text) for rule in table.rules for quiet in rule.quiet)


def self_harm_question(table: PatternTable, text: str) -> bool:
    """True for a question about self-harm (supporting someone, research, the past) with no sign of risk now:
    it gets the support line, not the emergency banner (normalised text)."""
    if table.self_harm_question is None or table.risk_now is None:
        return False
    if table.risk_now.search(text) or table.happening_now.search(text):
        return False
    return bool(table.self_harm_question.search(text))


def mentions_self_harm(table: PatternTable, text: str) -> bool:
    """True when normalised `text` names suicide or self-harm or the self-harm patterns fire, question or not."""
    if table.self_harm_topic is not None and table.self_harm_topic.search(text):
        return True
    return any(rule.kind == "self_harm" and _rule_matches(rule, text) for rule in table.rules)


def match_kind(table: PatternTable, text: str) -> str | None:
    """The first category whose patterns fire on normalised `text`, or None."""
    is_guarded = guarded(table, text)
    quiet_self_harm = self_harm_question(table, text)
    for rule in table.rules:
        allowed = not quiet_self_harm if rule.kind == "self_harm" else not is_guarded
        if allowed and _rule_matches(rule, text):
            return rule.kind
    return None
