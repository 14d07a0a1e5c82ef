"""Greetings, thanks, "ok", "who are you": a friendly line and what the bot can do, never the fallback.

A message is small talk when it is made only of small-talk phrases (``smalltalk.yaml``) and stop
words: "hi!", "ok thanks", "hey, who are you?". A greeting before a question ("hi, where can i get
narcan") is not: the question is answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from bot.content.model import SMALLTALK_INTENTS, ConceptTable
from bot.emergency import prepare
from bot.phrases import PhraseSet



@dataclass(frozen=True, slots=True)
class SmallTalk:
    intent: str
    lang: str


class SmallTalkDetector:
    def __init__(self, table: ConceptTable, stopwords: Mapping[str, AbstractSet[str]]) -> None:
        self._phrases = PhraseSet(
            (phrase, (intent, lang))
            for intent, by_lang in table.items()
            for lang, phrases in by_lang.items()
            for phrase in phrases
        )
        self._fillers = frozenset().union(*stopwords.values()) if stopwords else frozenset()

    def detect(self, text: str) -> SmallTalk | None:
        tokens = prepare(text)
        if not tokens:
            return None
        covered = [False] * len(tokens)
        intents: dict[str, str] = {}
        for found in self._phrases.find_all(tokens):
            intent, lang = found.tag  # type: ignore[misc]
            intents.setdefault(intent, lang)
            for at in range(found.start, found.end):
                covered[at] = True
        if not intents:
            return None
        if not all(done or token in self._fillers for done, token in zip(covered, tokens, strict=True)):
            return None
        intent = next(i for i in SMALLTALK_INTENTS if i in intents)
        return SmallTalk(intent, intents[intent])

