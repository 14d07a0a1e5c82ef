"""Emergency detection and refusal rules: the checks that run before any knowledge-base answer.

Both rule sets live in content (``emergency.yaml``, ``safety.yaml``) so that they are reviewed like
the answers; this module only applies them. Emergency detection is tuned for recall: a false alarm
costs a few lines, a missed one can cost a life.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.content.model import EmergencyContent, RefusalRule
from bot.phrases import PhraseSet
from bot.text import words


class EmergencyKind(StrEnum):
    OPIOID = "opioid"
    STIMULANT = "stimulant"


# The entry that expands on each kind of emergency answer.
EMERGENCY_ENTRY = {EmergencyKind.OPIOID: "overdose-response", EmergencyKind.STIMULANT: "stimulant-overamping"}


@dataclass(frozen=True, slots=True)
class EmergencyMatch:
    kind: EmergencyKind
    lang: str
    phrase: str

    @property
    def entry(self) -> str:
        return EMERGENCY_ENTRY[self.kind]


class EmergencyDetector:
    """Recognises someone describing an overdose or a stimulant emergency happening now.

    ``strong`` phrases ("not breathing", "blue lips") always trigger. ``weak`` overdose words and
    ``stimulant`` phrases trigger too, unless the message is a general question ("what is an
    overdose") with nobody present in it ("my friend", "he", "right now").
    """

    def __init__(self, content: EmergencyContent) -> None:
        rules = content.rules
        self._langs = sorted({lang for table in rules.values() for lang in table})
        self._sets = {
            name: {lang: PhraseSet(phrases) for lang, phrases in table.items()} for name, table in rules.items()
        }

    def _find(self, rule: str, tokens: list[str]) -> tuple[str, str] | None:
        for lang, phrases in self._sets.get(rule, {}).items():
            found = phrases.find(tokens)
            if found:
                return lang, found
        return None

    def detect(self, text: str) -> EmergencyMatch | None:
        tokens = words(text)
        if not tokens:
            return None
        strong = self._find("strong", tokens)
        if strong:
            stimulant = self._find("stimulant", tokens)
            kind = EmergencyKind.STIMULANT if stimulant and not self._find("weak", tokens) else EmergencyKind.OPIOID
            return EmergencyMatch(kind, strong[0], strong[1])
        weak = self._find("weak", tokens)
        stimulant = self._find("stimulant", tokens)
        if not weak and not stimulant:
            return None
        if self._find("general", tokens) and not self._find("personal", tokens):
            return None
        lang, phrase = weak or stimulant  # type: ignore[misc]
        return EmergencyMatch(EmergencyKind.OPIOID if weak else EmergencyKind.STIMULANT, lang, phrase)


@dataclass(frozen=True, slots=True)
class Refusal:
    rule: str
    entry: str


class RefusalRules:
    """Requests for doses or for a source of supply: answered with a refusal, never with an amount."""

    def __init__(self, rules: tuple[RefusalRule, ...]) -> None:
        self._rules = [(rule, [PhraseSet(group) for group in rule.all_of], PhraseSet(rule.none_of)) for rule in rules]

    def check(self, text: str) -> Refusal | None:
        tokens = words(text)
        for rule, groups, exceptions in self._rules:
            if all(g.find(tokens) for g in groups) and not (exceptions and exceptions.find(tokens)):
                return Refusal(rule.id, rule.entry)
        return None
