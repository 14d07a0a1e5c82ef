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
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import StrEnum

from bot.content.model import CrisisContent, CrisisLine
from bot.content.text import phrase_words
from bot.qa.phrases import ConceptReader, Seen

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
    # The signs below read as a wish to die only together (see ``_together``).
    # No point, no sense, no hope.
    HOPELESS = "hopeless"
    # Living, existing, going on.
    LIFE = "life"
    # Anything, everything, nothing.
    EVERYTHING = "everything"
    # Better off, easier (for others) ...
    BETTER = "better"
    # ... without the writer.
    ABSENT = "absent"
    # Tired of, fed up with.
    TIRED = "tired"
    # Notes for the family, goodbyes.
    FAREWELL = "farewell"
    # A decision made, an end in sight: "my last week", "this is the end".
    FINAL = "final"
    # All the pills, the whole bottle, at once.
    ALL_AT_ONCE = "all_at_once"
    # Not waking up.
    NO_WAKING = "no_waking"
    # Hoping, wishing.
    WISH = "wish"


@dataclass(frozen=True, slots=True)
class CrisisMatch:
    lang: str
    phrase: str
    # It is about someone else ("my friend wants to kill herself").
    someone_else: bool = False

    @property
    def entry(self) -> str:
        return CRISIS_ENTRY


# Pairs of signs that together are a wish to die: "no point in anything", "they'd be better off
# without me", "tired of living", "wrote letters to my family, this is the end", "take all my pills so
# i don't wake up". Two decisions ("i've decided, this is my last week") count as a pair too, and so do
# two farewells ("wrote my will and gave my dog to my sister").
_PAIRS = tuple(
    (a, b)
    for a, others in (
        (CrisisConcept.HOPELESS, (CrisisConcept.LIFE, CrisisConcept.EVERYTHING)),
        (CrisisConcept.BETTER, (CrisisConcept.ABSENT,)),
        (CrisisConcept.TIRED, (CrisisConcept.LIFE,)),
        (
            CrisisConcept.FINAL,
            (CrisisConcept.FINAL, CrisisConcept.FAREWELL, CrisisConcept.HOPELESS, CrisisConcept.TIRED),
        ),
        (
            CrisisConcept.ALL_AT_ONCE,
            (CrisisConcept.NO_WAKING, CrisisConcept.FINAL, CrisisConcept.HOPELESS, CrisisConcept.FAREWELL),
        ),
        (
            CrisisConcept.NO_WAKING,
            (
                CrisisConcept.HOPELESS,
                CrisisConcept.TIRED,
                CrisisConcept.FINAL,
                CrisisConcept.FAREWELL,
                CrisisConcept.WISH,
            ),
        ),
        (CrisisConcept.FAREWELL, (CrisisConcept.HOPELESS, CrisisConcept.TIRED, CrisisConcept.FAREWELL)),
    )
    for b in others
)
# The concepts that say which language a message is in.
_TELLING = frozenset(CrisisConcept) - {CrisisConcept.ABOUT, CrisisConcept.FICTION, CrisisConcept.FIGURATIVE}


class CrisisDetector:
    def __init__(self, content: CrisisContent, known: AbstractSet[str] = frozenset()) -> None:
        self._reader = ConceptReader(content.concepts, CrisisConcept, known)
        # The last message read and what it holds: deciding asks about a message two or three times
        # (whether it is a crisis, whether it is a figure of speech).
        self._last: tuple[str, list[Seen[CrisisConcept]]] | None = None

    def figure_of_speech(self, text: str) -> bool:
        """Whether ``text`` says "to die" or "to kill" as a figure of speech ("my boss is going to kill
        me", "crever d'ennui"), with no wish to die in it."""
        seen = self._seen(text)
        return any(s.concept is CrisisConcept.FIGURATIVE for s in seen) and self._match(seen) is None

    def detect(self, text: str) -> CrisisMatch | None:
        return self._match(self._seen(text))

    def _seen(self, text: str) -> list[Seen[CrisisConcept]]:
        last = self._last
        if last is not None and last[0] == text:
            return last[1]
        seen = self._reader.read(phrase_words(text))
        # A figure of speech inside a longer wish to die is that wish's words ("en finir avec" in "en
        # finir avec la vie"), not a figure.
        seen = [s for s in seen if s.concept is not CrisisConcept.FIGURATIVE or not any(_within(s, i) for i in seen)]
        self._last = (text, seen)
        return seen

    def _match(self, seen: list[Seen[CrisisConcept]]) -> CrisisMatch | None:
        c = CrisisConcept
        found = {s.concept: s for s in reversed(seen)}  # the first of each concept
        languages = Counter(s.lang for s in seen if s.concept in _TELLING)
        lang = languages.most_common(1)[0][0] if languages else "en"
        if c.INTENT in found and c.FIGURATIVE not in found:
            return CrisisMatch(lang, found[c.INTENT].phrase)
        if c.OTHER in found:
            return CrisisMatch(lang, found[c.OTHER].phrase, someone_else=True)
        story = c.ABOUT in found or c.FICTION in found
        if c.MENTION in found and not story:
            return CrisisMatch(lang, found[c.MENTION].phrase)
        pair = None if story or c.FIGURATIVE in found else _together(seen)
        return CrisisMatch(lang, pair) if pair else None


def _within(figure: Seen[CrisisConcept], other: Seen[CrisisConcept]) -> bool:
    """Whether ``figure`` lies inside ``other``, a longer phrase of a wish to die."""
    inside = other.found.start <= figure.found.start and figure.found.end <= other.found.end
    longer = other.found.end - other.found.start > figure.found.end - figure.found.start
    return other.concept in (CrisisConcept.INTENT, CrisisConcept.OTHER) and inside and longer


def _together(seen: Sequence[Seen[CrisisConcept]]) -> str | None:
    """The first sign of a pair found in words apart ("nothing matters" is one phrase, not hopelessness
    beside "nothing"), or None."""
    for a, b in _PAIRS:
        for first in (s for s in seen if s.concept == a):
            for second in (s for s in seen if s.concept == b and s is not first):
                if first.found.end <= second.found.start or second.found.end <= first.found.start:
                    return first.phrase
    return None


def line_for(content: CrisisContent, country: str | None) -> CrisisLine | None:
    """The crisis line (or at least the emergency number) for ``country``, when one is listed."""
    return content.lines.get(country.upper()) if country else None
