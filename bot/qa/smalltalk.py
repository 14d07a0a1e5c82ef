"""Greetings, thanks, "ok", "who are you": a friendly line and what the bot can do, never the fallback.

A message is small talk when it is made only of small-talk phrases (``smalltalk.yaml``) and stop
words: "hi!", "ok thanks", "hey, who are you?", however far its words are stretched ("holaaa"). A
greeting before a question ("hi, where can i get narcan") is not: the question is answered. What
people call the bot ("bot", "бот"), or whoever else they greet in a group ("everyone", "galera"),
counts beside a greeting, thanks, a goodbye or an "ok" ("buenas noches bot", "good morning
everyone"), not on its own nor in a question about the bot ("who is behind this bot", "ти людина
чи бот?"), which its entry answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from bot.content.model import SMALLTALK_INTENTS, SMALLTALK_NAME, ConceptTable
from bot.content.text import phrase_words, squeezed
from bot.qa.phrases import ConceptReader

# The intents beside which the bot's name is part of the small talk.
_ADDRESSING = frozenset({"greeting", "thanks", "bye", "ok"})


@dataclass(frozen=True, slots=True)
class SmallTalk:
    intent: str
    # The language of the phrase; None when several languages say it alike ("ok", "hola" is only Spanish).
    lang: str | None


class SmallTalkDetector:
    def __init__(self, table: ConceptTable, stopwords: Mapping[str, AbstractSet[str]]) -> None:
        self._reader = ConceptReader(table, str)
        self._fillers = frozenset().union(*stopwords.values()) if stopwords else frozenset()
        # The last message read and what it is: deciding asks about a message two or three times.
        self._last: tuple[str, SmallTalk | None] | None = None

    def detect(self, text: str) -> SmallTalk | None:
        last = self._last
        if last is not None and last[0] == text:
            return last[1]
        found = self._detect(text)
        self._last = (text, found)
        return found

    def _detect(self, text: str) -> SmallTalk | None:
        typed = phrase_words(text)
        once = [squeezed(word) for word in typed]
        found = self._detect_words(once)
        if found is not None:
            return found
        # Read again with stretched letters kept twice ("gooood" is "good"), only if any were stretched.
        twice = [squeezed(word, 2) for word in typed]
        return self._detect_words(twice) if twice != once else None

    def _detect_words(self, tokens: list[str]) -> SmallTalk | None:
        if not tokens:
            return None
        covered = [False] * len(tokens)
        intents: dict[str, set[str]] = {}
        names: list[range] = []
        for seen in self._reader.read(tokens):
            span = range(seen.found.start, seen.found.end)
            if seen.concept == SMALLTALK_NAME:
                names.append(span)
                continue
            intents.setdefault(seen.concept, set()).add(seen.lang)
            for at in span:
                covered[at] = True
        if not intents:
            return None
        if intents.keys() <= _ADDRESSING:
            for span in names:
                for at in span:
                    covered[at] = True
        if not all(done or token in self._fillers for done, token in zip(covered, tokens, strict=True)):
            return None
        intent = next(i for i in SMALLTALK_INTENTS if i in intents)
        langs = intents[intent]
        return SmallTalk(intent, next(iter(langs)) if len(langs) == 1 else None)
