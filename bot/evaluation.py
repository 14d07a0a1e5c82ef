"""``advocacy-bot kb eval``: top-1 accuracy of the answering pipeline on a YAML file of cases."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bot.answering import Answer, Answerer
from bot.content.yamlio import ContentError, Node, Problem, Seq, load_yaml
from bot.events import ReplyKind

KINDS = ("emergency", "fallback", "refusal")
# The bar the bundled content must clear (issue: >= 95% top-1, every emergency, >= 95% out of scope).
TARGETS = {"answer": 0.95, "emergency": 1.0, "fallback": 0.95, "refusal": 0.95}


@dataclass(frozen=True, slots=True)
class Case:
    question: str
    expect: str
    line: int
    lang: str | None = None

    @property
    def kind(self) -> str:
        return self.expect if self.expect in KINDS else "answer"


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    answer: Answer

    @property
    def passed(self) -> bool:
        kind = self.case.kind
        if kind == "answer":
            # An entry delivered right after an emergency answer is still that entry, delivered.
            delivered = self.answer.kind in (ReplyKind.ANSWER, ReplyKind.EMERGENCY)
            return delivered and self.answer.entry == self.case.expect
        return self.answer.kind.value == kind


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
        unknown = set(item) - {"q", "expect", "lang"}
        if unknown:
            problems.append(Problem(path, line, f"unknown field(s): {', '.join(sorted(unknown))}"))
        expect = item["expect"]
        if expect not in KINDS and expect not in entry_ids:
            problems.append(
                Problem(path, item.line_of("expect"), f"expect: {expect!r} is neither a kind nor an entry id")
            )
            continue
        lang = item.get("lang")
        cases.append(Case(item["q"], expect, line, lang if isinstance(lang, str) else None))
    if problems:
        raise ContentError(problems)
    return cases


def evaluate(answerer: Answerer, cases: list[Case], lang: str) -> list[Outcome]:
    return [Outcome(case, answerer.answer(case.question, case.lang or lang)) for case in cases]


def summarise(outcomes: list[Outcome]) -> tuple[str, bool]:
    """A printable report (accuracy per kind, then each miss) and whether every target is met."""
    by_kind: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_kind[outcome.case.kind].append(outcome)
    lines = []
    ok = True
    for kind in ("answer", *KINDS):
        group = by_kind.get(kind, [])
        if not group:
            continue
        passed = sum(o.passed for o in group)
        share = passed / len(group)
        target = TARGETS[kind]
        ok = ok and share >= target
        mark = "ok" if share >= target else f"below target {target:.0%}"
        lines.append(f"{kind:<10} {passed:>4}/{len(group):<4} {share:7.1%}  ({mark})")
        if kind == "answer":
            after = sum(o.passed and o.answer.kind is ReplyKind.EMERGENCY for o in group)
            lines.append(f"{'':<10} of which {after} after an emergency answer")
    total = sum(o.passed for o in outcomes)
    lines.append(f"{'all':<10} {total:>4}/{len(outcomes):<4} {total / max(len(outcomes), 1):7.1%}")
    misses = [o for o in outcomes if not o.passed]
    if misses:
        lines.append("")
        lines.append(f"misses ({len(misses)}):")
        for o in misses:
            got = o.answer.kind.value + (f" {o.answer.entry}" if o.answer.entry else "")
            candidates = ", ".join(o.answer.candidates[:3])
            lines.append(
                f"  line {o.case.line}: {o.case.question!r}: expected {o.case.expect}, got {got} "
                f"(score {o.answer.score:.2f}; candidates: {candidates or '-'})"
            )
    return "\n".join(lines), ok
