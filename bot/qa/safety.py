"""Refusal rules: requests for doses or for a source of supply, checked before any knowledge-base
answer (after emergencies, ``bot/qa/emergency.py``, and crises, ``bot/qa/crisis.py``).

The rules live in content (``safety.yaml``) so that they are reviewed like the answers; this module
only applies them.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from bot.content.model import RefusalRule
from bot.content.text import phrase_words
from bot.qa.phrases import PhraseSet


@dataclass(frozen=True, slots=True)
class Refusal:
    rule: str
    entry: str


class RefusalRules:
    """Requests for doses or for a source of supply: answered with a refusal, never with an amount."""

    def __init__(self, rules: tuple[RefusalRule, ...], known: AbstractSet[str] = frozenset()) -> None:
        # ``known``: words spelt right, never taken for a typo of a rule's word ("курить" is no "купить").
        self._rules = [
            (rule, [PhraseSet(group, known) for group in rule.all_of], PhraseSet(rule.none_of, known)) for rule in rules
        ]

    def check(self, text: str) -> Refusal | None:
        tokens = phrase_words(text)
        for rule, groups, exceptions in self._rules:
            if all(g.find(tokens) for g in groups) and not (exceptions and exceptions.find(tokens)):
                return Refusal(rule.id, rule.entry)
        return None
