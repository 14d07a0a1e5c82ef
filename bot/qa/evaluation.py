"""``advocacy-bot kb eval``: how well the answering pipeline serves YAML files of cases.

Two files are measured. ``kb-tests.yaml`` is the tuning set: thresholds, lexicons and triggers are
adjusted against it. ``eval/blind.yaml`` was written from the reference notes alone before any
tuning and is never tuned on: it says how the bot does on wording nobody here wrote. Both are
reported side by side, per set and per language, with false alarms on a line of their own; a
blind miss is counted, not listed, unless asked for (so that nobody fixes one question at a time).

Every case is asked as a chat message from someone who never chose a language and whose client
says nothing: the bot works out the language as it does for such a message, and an entry case
passes only when the entry comes in the language the question is written in (in English when the
entry is not translated into it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.content.model import LANGUAGES
from bot.content.yamlio import ContentError, Node, Problem, Seq, load_yaml
from bot.port.events import ReplyKind
from bot.qa.calibration import Sample
from bot.qa.deciding import Answer, Decider

# What a case may expect besides an entry id.
KINDS = ("emergency", "crisis", "smalltalk", "fallback", "refusal")
SETS = (
    "entries",
    "emergencies",
    "crisis",
    "overdose-questions",
    "look-alikes",
    "smalltalk",
    "out-of-scope",
    # Out of scope, but asking about the knowledge base's own places, laws and services for a detail no
    # entry gives: reported, not fitted on (``bot/qa/calibration.py`` says why).
    "near-misses",
    "refusals",
)
# The set of a case that names none: by what it expects.
DEFAULT_SET = {
    "emergency": "emergencies",
    "crisis": "crisis",
    "smalltalk": "smalltalk",
    "fallback": "out-of-scope",
    "refusal": "refusals",
}
# The bar each set must clear (issue 11); entries per language below.
TARGETS = {
    "emergencies": 1.0,
    "crisis": 1.0,
    "overdose-questions": 0.95,
    "look-alikes": 0.96,
    "smalltalk": 0.95,
    "out-of-scope": 0.96,
    "near-misses": 0.96,
    "refusals": 0.95,
}
ENTRY_TARGET = 0.95
# At most this share of the messages that are no emergency may get the emergency or crisis answer.
FALSE_ALARM_TARGET = 0.01
# Kinds that count as "not answered" for a question nothing in the knowledge base answers.
NOT_ANSWERED = (ReplyKind.FALLBACK, ReplyKind.CLARIFY, ReplyKind.SMALLTALK)


@dataclass(frozen=True, slots=True)
class Case:
    question: str
    expect: str
    line: int
    # The language the question is written in; None: English.
    lang: str | None = None
    set: str | None = None

    @property
    def kind(self) -> str:
        return self.expect if self.expect in KINDS else "answer"

    @property
    def group(self) -> str:
        return self.set or DEFAULT_SET.get(self.expect, "entries")

    @property
    def written_in(self) -> str:
        return self.lang or "en"


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    answer: Answer
    # The language the bot worked out for the question, and the one the expected entry should come in.
    lang: str
    expected_lang: str

    @property
    def passed(self) -> bool:
        answer = self.answer
        match self.case.kind:
            case "answer":
                # An entry carried by a refusal or after an emergency answer is still that entry, served.
                served = answer.kind in (ReplyKind.ANSWER, ReplyKind.EMERGENCY, ReplyKind.REFUSAL)
                return served and answer.entry == self.case.expect and answer.lang == self.expected_lang
            case "emergency":
                return answer.kind is ReplyKind.EMERGENCY and answer.emergency is not None
            case "crisis":
                return answer.kind is ReplyKind.EMERGENCY and answer.crisis is not None
            case "smalltalk":
                return answer.kind is ReplyKind.SMALLTALK
            case "fallback":
                return answer.kind in NOT_ANSWERED
            case _:
                return answer.kind.value == self.case.kind

    @property
    def false_alarm(self) -> bool:
        """The emergency or crisis answer given to a message that describes neither."""
        return self.case.kind not in ("emergency", "crisis") and self.answer.kind is ReplyKind.EMERGENCY


def load_cases(path: Path, entry_ids: set[str]) -> list[Case]:
    data = load_yaml(path)
    problems: list[Problem] = []
    cases: list[Case] = []
    raw = data.get("cases") if isinstance(data, Node) else None
    if not isinstance(raw, Seq):
        raise ContentError([Problem(path, 1, "expected a mapping with a list under 'cases'")])
    for index, item in enumerate(raw):
        line = raw.line_of(index)
        if not isinstance(item, Node) or not isinstance(item.get("q"), str) or not isinstance(item.get("expect"), str):
            problems.append(Problem(path, line, "each case needs text fields 'q' and 'expect'"))
            continue
        unknown = set(item) - {"q", "expect", "lang", "set"}
        if unknown:
            problems.append(Problem(path, line, f"unknown field(s): {', '.join(sorted(unknown))}"))
        expect = item["expect"]
        if expect not in KINDS and expect not in entry_ids:
            problems.append(
                Problem(path, item.line_of("expect"), f"expect: {expect!r} is neither a kind nor an entry id")
            )
            continue
        lang = item.get("lang")
        if "lang" in item and lang not in LANGUAGES:
            problems.append(Problem(path, item.line_of("lang"), f"lang: {lang!r} is not one of {', '.join(LANGUAGES)}"))
            continue
        group = item.get("set")
        if "set" in item and group not in SETS:
            problems.append(Problem(path, item.line_of("set"), f"set: {group!r} is not one of {', '.join(SETS)}"))
            continue
        cases.append(Case(item["q"], expect, line, lang, group))
    if problems:
        raise ContentError(problems)
    return cases


def evaluate(decider: Decider, cases: Iterable[Case], chosen: str | None = None) -> list[Outcome]:
    """Ask every case as a chat message. ``chosen``: the language the askers picked with /language;
    None (the default): nobody picked one and the bot works each question's language out."""
    outcomes = []
    for case in cases:
        lang = chosen or decider.language_of(case.question) or decider.default_language
        answer = decider.answer(case.question, lang)
        expected = chosen or case.written_in
        if case.kind == "answer":
            expected = decider.kb.entries[case.expect].text_in(expected).lang
        outcomes.append(Outcome(case, answer, lang, expected))
    return outcomes


def calibration_samples(decider: Decider, cases: Iterable[Case]) -> list[Sample]:
    """The rankings of the questions that reach the knowledge base (not alarms, small talk or refusals),
    for fitting when to answer (bot/qa/calibration.py)."""
    samples = []
    for case in cases:
        if case.group not in ("entries", "overdose-questions", "out-of-scope", "look-alikes"):
            continue
        lang = decider.language_of(case.question) or decider.default_language
        if decider.answer(case.question, lang).kind in (ReplyKind.EMERGENCY, ReplyKind.SMALLTALK, ReplyKind.REFUSAL):
            continue
        ranking = decider.rank(case.question, lang)
        in_scope = case.kind == "answer"
        ids = [hit.entry for hit in ranking.hits]
        place = ids.index(case.expect) if in_scope and case.expect in ids else None
        samples.append(Sample(ranking, in_scope, place, case.written_in))
    return samples


def _share(outcomes: list[Outcome]) -> tuple[int, int, float]:
    passed = sum(o.passed for o in outcomes)
    return passed, len(outcomes), passed / max(len(outcomes), 1)


def _language_order(lang: str) -> int:
    return LANGUAGES.index(lang) if lang in LANGUAGES else len(LANGUAGES)


@dataclass(frozen=True, slots=True)
class Report:
    text: str
    ok: bool


def summarise(outcomes: list[Outcome], title: str = "", *, show_misses: bool = True) -> Report:
    """A printable report and whether every target is met: each set (entries per language), false
    alarms, a per-language table, then each miss (or only their number)."""
    by_set: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_set[outcome.case.group].append(outcome)
    lines = [title] if title else []
    ok = True

    def row(label: str, group: list[Outcome], target: float) -> None:
        nonlocal ok
        passed, count, share = _share(group)
        met = share >= target
        ok = ok and met
        mark = "ok" if met else "BELOW TARGET"
        lines.append(f"  {label:<24} {passed:>4}/{count:<4} {share:7.1%}  ({mark}, target {target:.0%})")

    for name in SETS:
        group = by_set.get(name, [])
        if not group:
            continue
        if name == "entries":
            by_lang: dict[str, list[Outcome]] = defaultdict(list)
            for outcome in group:
                by_lang[outcome.case.written_in].append(outcome)
            for lang in sorted(by_lang, key=_language_order):
                row(f"entries {lang}", by_lang[lang], ENTRY_TARGET)
            continue
        row(name, group, TARGETS[name])
    calm = [o for o in outcomes if o.case.kind not in ("emergency", "crisis")]
    if calm:
        alarms = sum(o.false_alarm for o in calm)
        share = alarms / len(calm)
        met = share <= FALSE_ALARM_TARGET
        ok = ok and met
        mark = "ok" if met else "ABOVE TARGET"
        bound = f"at most {FALSE_ALARM_TARGET:.0%}"
        lines.append(f"  {'false alarms':<24} {alarms:>4}/{len(calm):<4} {share:7.1%}  ({mark}, {bound})")
    total, count, share = _share(outcomes)
    lines.append(f"  {'all':<24} {total:>4}/{count:<4} {share:7.1%}")

    lines.append("  per language (passed/cases of each set):")
    languages = sorted({o.case.written_in for o in outcomes}, key=_language_order)
    for lang in languages:
        parts = []
        for name in SETS:
            group = [o for o in by_set.get(name, []) if o.case.written_in == lang]
            if group:
                passed, count, _ = _share(group)
                parts.append(f"{name} {passed}/{count}")
        lines.append(f"    {lang:<4} " + "; ".join(parts))

    misses = [o for o in outcomes if not o.passed]
    if misses and show_misses:
        lines.append(f"  misses ({len(misses)}):")
        for o in misses:
            got = o.answer.kind.value + (f" {o.answer.entry}" if o.answer.entry else "")
            if o.case.kind == "answer" and o.answer.entry == o.case.expect:
                got += f" in {o.answer.lang}, not {o.expected_lang}"
            if o.answer.outside:
                got += f" as outside topic {o.answer.outside}"
            candidates = ", ".join(o.answer.candidates[:3])
            lines.append(
                f"    line {o.case.line} [{o.case.written_in}]: {o.case.question!r}: expected {o.case.expect}, "
                f"got {got} (score {o.answer.score:.2f}; candidates: {candidates or '-'})"
            )
    elif misses:
        lines.append(f"  misses: {len(misses)} (not listed: this set is never tuned on)")
    return Report("\n".join(lines), ok)
