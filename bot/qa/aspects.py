"""The aspects a question asks about, and whether an entry speaks of them (``aspects.yaml``).

"Can I drive on methadone", "do fentanyl test strips expire", "is narcan safe for dogs": each names an
entry's subject and asks about a side of it that the entry never mentions. Their words are the entry's
words, so the ranking finds that entry with all the confidence of a question it answers (the learned
entry model believed "can people on methadone donate blood" to be about treatment with methadone at
0.99). What tells them apart is what the answer says, which the ranking does not read: an entry that
never speaks of the aspect asked about, in any of its languages, is offered ("did you mean"), not served,
as one that never mentions the year a question names is (``years.py``).

Written from the near misses of the tuning set and of its 27th block (questions that sit just outside an
entry, of which 60 % were kept out when the block was scored before any tuning on it; 75 % with the
aspects). The 28th block, written afterwards to the same brief and scored before anything was changed
for it, kept 57.1 % of its out-of-scope questions out without the aspects and 69.3 % with them, its
entries served alike. On the whole tuning set (30 blocks) they keep 16 more out-of-scope questions and
65 more near misses out (of 3,260 and 460), and hold back no question that expects an entry.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from bot.content.model import KnowledgeBase
from bot.content.text import phrase_words
from bot.qa.phrases import PhraseSet


class Aspects:
    def __init__(self, kb: KnowledgeBase, known: AbstractSet[str] = frozenset()) -> None:
        self._phrases = PhraseSet(
            (
                (phrase, (aspect.id, lang))
                for aspect in kb.aspects
                for lang, listed in aspect.asks.items()
                for phrase in listed
            ),
            known,
        )
        self._entries = kb.entries
        # Worked out when a question asking about an aspect first meets the entry, as the years are: most
        # questions ask about none, and reading every text of a large knowledge base at each build is not free.
        self._spoken_of: dict[str, frozenset[str]] = {}

    def asked(self, text: str) -> frozenset[str]:
        """The aspects ``text`` asks about."""
        return self._found(phrase_words(text))

    def unspoken(self, text: str, entry_id: str) -> frozenset[str]:
        """The aspects ``text`` asks about that the entry never speaks of."""
        asked = self.asked(text)
        if not asked:
            return asked
        spoken = self._spoken_of.get(entry_id)
        if spoken is None:
            # Text by text: the phrase rules read a message's first few hundred words, and an entry in six
            # languages holds more.
            texts = self._entries[entry_id].texts()
            spoken = frozenset().union(*(self._found(phrase_words(text)) for text in texts))
            self._spoken_of[entry_id] = spoken
        return asked - spoken

    def _found(self, tokens: list[str]) -> frozenset[str]:
        return frozenset(found.tag[0] for found in self._phrases.find_all(tokens) if found.tag is not None)
