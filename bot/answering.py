"""Answering a question: emergency first, then refusals, then the knowledge base.

The result is a typed :class:`Answer` (what ``advocacy-bot ask --json`` prints) that
:meth:`Answerer.reply` turns into a :class:`~bot.events.Reply` in the user's language.

Every entry is written in English; some are translated. A question is looked up in the index of
the asker's language (the entries translated into it), in the English index through the
language's lexicon bridges (the entries that are not), and, when neither is sure, in the other
languages' indexes (a Russian question from someone whose client says English). Whichever index
finds the entry, it is served in the asker's language when translated, otherwise in English with a
note in theirs.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass

from bot import markup
from bot.content.model import LANGUAGES, Content, Entry, EntryText, ReviewStatus
from bot.events import Button, Reply, ReplyKind
from bot.i18n import Locales
from bot.markup import Bold, Link, Plain, RichText
from bot.retrieval import NOTHING, Analyzer, Document, Ranking, Retriever
from bot.safety import EmergencyDetector, EmergencyMatch, RefusalRules

KB_LANGUAGE = "en"
MAX_CHOICES = 3
# Below this share of its information known to the knowledge base, a question is out of scope:
# "best pizza in porto" shares a word with the Portugal entries but is not about them.
MIN_COVERAGE = 0.55
# A question found only in another language's index must be almost entirely known there: a question
# really written in that language is, while "premier league table" is half known to the French one.
CROSS_LANGUAGE_COVERAGE = 0.85


# Decisions remembered (least recently asked forgotten first), for questions up to this long.
ANSWER_CACHE = 4096
MAX_CACHED_QUESTION = 300


@dataclass(frozen=True, slots=True)
class Thresholds:
    answer: float = 0.55
    clarify: float = 0.45


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    kind: ReplyKind
    entry: str | None
    candidates: tuple[str, ...]
    # The language of what is served: an entry not translated into the asker's language is English.
    lang: str
    score: float
    emergency: EmergencyMatch | None = None


class Answerer:
    def __init__(
        self,
        content: Content,
        locales: Locales,
        thresholds: Thresholds | None = None,
        emergency_country: str | None = None,
    ) -> None:
        self.content = content
        self.kb = content.kb
        self.locales = locales
        self.thresholds = thresholds or Thresholds()
        self.emergency_country = emergency_country
        self.detector = EmergencyDetector(content.emergency)
        self.refusals = RefusalRules(content.refusals)
        self.analyzers = {lang: Analyzer(content.lexicon, lang) for lang in LANGUAGES}
        self.indexes: dict[str, Retriever] = {}
        self._recent: OrderedDict[tuple[str, str], Answer] = OrderedDict()
        for lang, analyzer in self.analyzers.items():
            documents = [d for d in (Document.of(e, lang) for e in self.kb.entries.values()) if d is not None]
            if documents or lang == KB_LANGUAGE:
                self.indexes[lang] = Retriever(documents, analyzer)

    # ------------------------------------------------------------------ deciding

    def answer(self, question: str, lang: str) -> Answer:
        """The decision for ``question``, remembered: people ask the same few things over and over,
        and the content never changes while the bot runs."""
        key = (" ".join(question.casefold().split()), lang)
        cached = self._recent.get(key)
        if cached is not None:
            self._recent.move_to_end(key)
            return cached if cached.question == question else dataclasses.replace(cached, question=question)
        decided = self.decide(question, lang)
        if len(question) <= MAX_CACHED_QUESTION:
            self._recent[key] = decided
            if len(self._recent) > ANSWER_CACHE:
                self._recent.popitem(last=False)
        return decided

    def decide(self, question: str, lang: str) -> Answer:
        """The decision for ``question``, worked out afresh (benchmarks time this)."""
        emergency = self.detector.detect(question)
        if emergency is not None:
            # The emergency answer goes first; a question that also clearly matches an entry
            # ("will I get arrested if I call 911 for someone who ODs?") gets that entry after it.
            ranking = self.rank(question, lang)
            confident = bool(ranking.hits) and ranking.confidence >= self.thresholds.answer
            entry = ranking.hits[0].entry if confident else emergency.entry
            candidates = tuple(hit.entry for hit in ranking.hits) if confident else ()
            text_lang = self._emergency_language(emergency, lang)
            return Answer(question, ReplyKind.EMERGENCY, entry, candidates, text_lang, 1.0, emergency)
        refusal = self.refusals.check(question)
        if refusal is not None:
            served = self._served(refusal.entry, lang)
            return Answer(question, ReplyKind.REFUSAL, refusal.entry, (), served, 1.0)
        ranking = self.rank(question, lang)
        candidates = tuple(hit.entry for hit in ranking.hits)
        score = ranking.confidence
        if ranking.coverage < MIN_COVERAGE:
            return Answer(question, ReplyKind.FALLBACK, None, candidates, lang, score)
        if candidates and score >= self.thresholds.answer:
            served = self._served(candidates[0], lang)
            return Answer(question, ReplyKind.ANSWER, candidates[0], candidates, served, score)
        if candidates and score >= self.thresholds.clarify:
            return Answer(question, ReplyKind.CLARIFY, None, candidates, lang, score)
        return Answer(question, ReplyKind.FALLBACK, None, candidates, lang, score)

    def rank(self, question: str, lang: str) -> Ranking:
        """The best ranking of the entries for ``question`` from someone who reads ``lang``."""
        english = self.indexes[KB_LANGUAGE]
        own = self.indexes.get(lang) if lang != KB_LANGUAGE else None
        if own is None:
            primary = [english.rank(question)]
        else:
            analyzer = self.analyzers[lang]
            tokens = analyzer.tokens(question)
            # A word one index knows is not out of scope for the other: "día" means something to the
            # Spanish index even when the entry asked about is only in the English one.
            known_here = {t for t in tokens if own.knows([t])}
            # Through the lexicon only: a word that merely looks English ("film") says nothing.
            known_in_english = {t for t in tokens if (b := analyzer.bridge([t])) != [t] and english.knows(b)}
            primary = [
                english.rank_words(analyzer.bridge(tokens), known_elsewhere=known_here),
                # Last, so that on equal confidence the entry translated into the asker's language wins.
                own.rank_words(tokens, known_elsewhere=known_in_english),
            ]
        best = max(primary, key=self._strength)
        if self._confident(best):
            return best
        # Not found in the asker's language: the question may be written in another one.
        others = [index.rank(question) for other, index in self.indexes.items() if other not in (lang, KB_LANGUAGE)]
        found = max(others, key=self._strength, default=NOTHING)
        return found if self._confident(found) and found.coverage >= CROSS_LANGUAGE_COVERAGE else best

    def _confident(self, ranking: Ranking) -> bool:
        return self._usable(ranking) and ranking.confidence >= self.thresholds.answer

    @staticmethod
    def _usable(ranking: Ranking) -> bool:
        return bool(ranking.hits) and ranking.coverage >= MIN_COVERAGE

    @staticmethod
    def _strength(ranking: Ranking) -> tuple[bool, float]:
        """How far to trust a ranking: usable ones first (the question is mostly known to that
        index), then by confidence; among unusable ones the most confident still says most."""
        return Answerer._usable(ranking), ranking.confidence

    def _served(self, entry_id: str, lang: str) -> str:
        return self.kb.entries[entry_id].text_in(lang).lang

    def _emergency_language(self, match: EmergencyMatch, lang: str) -> str:
        texts = self.content.emergency.texts
        # The asker's language first: trigger lists overlap (Russian "передоз" is Ukrainian slang too),
        # so the list that matched says only that the question is not in English.
        if lang != "en" and lang in texts:
            return lang
        return match.lang if match.lang in texts else "en"

    # ------------------------------------------------------------------ rendering

    def replies(self, answer: Answer, lang: str) -> list[Reply]:
        """The replies to send, in order: an emergency answer first, then any entry it carries."""
        if answer.kind is ReplyKind.EMERGENCY and answer.emergency is not None:
            # All in the emergency answer's language: a Russian question from a client set to English
            # gets the Russian emergency text, and the entry after it in Russian too.
            replies = [self.emergency_reply(answer.emergency, answer.lang)]
            if answer.entry and answer.entry != answer.emergency.entry:
                replies.append(self.entry_reply(answer.entry, answer.lang))
            return replies
        return [self.reply(answer, lang)]

    def reply(self, answer: Answer, lang: str) -> Reply:
        t = self.locales
        if answer.kind is ReplyKind.ANSWER and answer.entry:
            return self.entry_reply(answer.entry, lang)
        if answer.kind is ReplyKind.REFUSAL and answer.entry:
            entry = self.kb.entries[answer.entry]
            shown = entry.text_in(lang)
            text = markup.join(
                t.rich(lang, f"refusal.{self._refusal_key(answer.entry)}"),
                self._noted(shown, lang, markup.first_paragraph(shown.answer)),
            )
            return Reply(text, self._entry_buttons([entry.id], lang), kind=ReplyKind.REFUSAL, entry=entry.id)
        if answer.kind is ReplyKind.CLARIFY:
            choices = list(answer.candidates[:MAX_CHOICES])
            return Reply(t.rich(lang, "clarify"), self._entry_buttons(choices, lang), kind=ReplyKind.CLARIFY)
        return Reply(
            t.rich(lang, "fallback"),
            (
                (
                    Button(t.text(lang, "button.topics"), "topics:"),
                    Button(t.text(lang, "button.help"), "help:"),
                ),
            ),
            kind=ReplyKind.FALLBACK,
        )

    @staticmethod
    def _refusal_key(entry: str) -> str:
        return "dosing" if entry == "dosing-advice" else "supply"

    def _entry_buttons(self, ids: list[str], lang: str) -> tuple[tuple[Button, ...], ...]:
        entries = self.kb.entries
        return tuple((Button(entries[i].text_in(lang).title, f"kb:{i}"),) for i in ids if i in entries)

    def _noted(self, shown: EntryText, lang: str, text: RichText) -> RichText:
        """``text`` with the one-line note its language calls for, in the asker's language."""
        if shown.lang != lang:
            # First: someone who asked in Spanish must know why English follows.
            return markup.join(self.locales.rich(lang, "kb.english_only"), text)
        if shown.status is ReviewStatus.UNREVIEWED:
            return markup.join(text, self.locales.rich(lang, "kb.unreviewed"))
        return text

    def entry_reply(self, entry_id: str, lang: str) -> Reply:
        entry = self.kb.entries[entry_id]
        shown = entry.text_in(lang)
        text = markup.join((Bold(shown.title),), shown.answer, self.sources_text(entry, lang))
        related = [r for r in entry.related if r in self.kb.entries][:MAX_CHOICES]
        return Reply(
            self._noted(shown, lang, text), self._entry_buttons(related, lang), kind=ReplyKind.ANSWER, entry=entry.id
        )

    def sources_text(self, entry: Entry, lang: str) -> RichText:
        spans: list[markup.Span] = [Bold(self.locales.text(lang, "sources.heading"))]
        for number, source in enumerate(entry.sources, 1):
            label = f"{source.organisation}, {source.title} ({source.year or 'n.d.'})"
            spans.append(Plain(f"\n{number}. "))
            spans.append(Link(label, source.url) if source.url else Plain(label))
        return tuple(spans)

    def emergency_reply(self, match: EmergencyMatch, lang: str) -> Reply:
        content = self.content.emergency
        body = content.texts.get(lang) or content.texts["en"]
        lines: list[str] = []
        country = self.emergency_country
        local = [n for n in content.numbers if country and country in n.countries]
        if local:
            lines.append(self.locales.text(lang, "emergency.local_number", country=country, number=local[0].number))
        listed = " · ".join(f"{n.number} ({n.where.get(lang) or n.where['en']})" for n in content.numbers)
        lines.append(self.locales.text(lang, "emergency.numbers", numbers=listed))
        text = markup.join(body, markup.text("\n".join(lines)))
        entry = self.kb.entries.get(match.entry)
        buttons = ((Button(entry.text_in(lang).title, f"kb:{entry.id}"),),) if entry else ()
        return Reply(text, buttons, kind=ReplyKind.EMERGENCY, entry=match.entry)
