"""Recognising someone who wants to kill or hurt themselves, and choosing the line to give them.

Like emergency detection, the content (``crisis.yaml``, ``concepts``) lists the words of a few
concepts in six languages and the rules reason over them: the writer's own wish to die or to hurt
themselves (unless it is a figure of speech: "i want to die of embarrassment"), or someone else's,
is a crisis; so is a bare mention of suicide or self-harm ("suicidal", "suicide hotline"), unless
it is about figures, research or news, or about a story. Every mention is taken seriously: the
answer costs a reader nothing, and missing one is the worst thing this bot could do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import StrEnum

from bot.content.model import CrisisContent, CrisisLine
from bot.content.text import phrase_words
from bot.qa.phrases import ConceptReader

CRISIS_ENTRY = "crisis-support"


class CrisisConcept(StrEnum):
    # The writer wants to die, to kill or to hurt themselves.
    INTENT = "intent"
    # Someone else does.
    OTHER = "other"
    # Suicide or self-harm named: "suicidal", "suicide hotline".
    MENTION = "mention"
    # Figures, research, news.
    ABOUT = "about"
    # A film, a book, a song, a game.
    FICTION = "fiction"
    # "die of laughter", "die of embarrassment".
    FIGURATIVE = "figurative"


@dataclass(frozen=True, slots=True)
class CrisisMatch:
    lang: str
    phrase: str
    # It is about someone else ("my friend wants to kill herself").
    someone_else: bool = False

    @property
    def entry(self) -> str:
        return CRISIS_ENTRY


class CrisisDetector:
    def __init__(self, content: CrisisContent, known: AbstractSet[str] = frozenset()) -> None:
        self._reader = ConceptReader(content.concepts, CrisisConcept, known)

    def detect(self, text: str) -> CrisisMatch | None:
        c = CrisisConcept
        seen = self._reader.read(phrase_words(text))
        found = {s.concept: s for s in reversed(seen)}  # the first of each concept
        languages = Counter(s.lang for s in seen if s.concept in (c.INTENT, c.OTHER, c.MENTION))
        lang = languages.most_common(1)[0][0] if languages else "en"
        if c.INTENT in found and c.FIGURATIVE not in found:
            return CrisisMatch(lang, found[c.INTENT].phrase)
        if c.OTHER in found:
            return CrisisMatch(lang, found[c.OTHER].phrase, someone_else=True)
        if c.MENTION in found and not (c.ABOUT in found or c.FICTION in found):
            return CrisisMatch(lang, found[c.MENTION].phrase)
        return None


def line_for(content: CrisisContent, country: str | None) -> CrisisLine | None:
    """The crisis line (or at least the emergency number) for ``country``, when one is listed."""
    return content.lines.get(country.upper()) if country else None
