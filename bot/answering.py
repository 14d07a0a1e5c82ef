"""Answering a question: emergency first, then refusals, then the knowledge base.

The result is a typed :class:`Answer` (what ``advocacy-bot ask --json`` prints) that
:meth:`Answerer.reply` turns into a :class:`~bot.events.Reply` in the user's language.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot import markup
from bot.content.model import Content, Entry
from bot.events import Button, Reply, ReplyKind
from bot.i18n import Locales
from bot.markup import Bold, Link, Plain, RichText
from bot.retrieval import Analyzer, Retriever
from bot.safety import EmergencyDetector, EmergencyMatch, RefusalRules

KB_LANGUAGE = "en"
MAX_CHOICES = 3
# Below this share of its information known to the knowledge base, a question is out of scope:
# "best pizza in porto" shares a word with the Portugal entries but is not about them.
MIN_COVERAGE = 0.55


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
        self.retriever = Retriever(self.kb.entries.values(), Analyzer(content.lexicon, KB_LANGUAGE))

    # ------------------------------------------------------------------ deciding

    def answer(self, question: str, lang: str) -> Answer:
        emergency = self.detector.detect(question)
        if emergency is not None:
            # The emergency answer goes first; a question that also clearly matches an entry
            # ("will I get arrested if I call 911 for someone who ODs?") gets that entry after it.
            ranking = self.retriever.rank(question)
            confident = bool(ranking.hits) and ranking.confidence >= self.thresholds.answer
            entry = ranking.hits[0].entry if confident else emergency.entry
            candidates = tuple(hit.entry for hit in ranking.hits) if confident else ()
            text_lang = self._emergency_language(emergency, lang)
            return Answer(question, ReplyKind.EMERGENCY, entry, candidates, text_lang, 1.0, emergency)
        refusal = self.refusals.check(question)
        if refusal is not None:
            return Answer(question, ReplyKind.REFUSAL, refusal.entry, (), lang, 1.0)
        ranking = self.retriever.rank(question)
        candidates = tuple(hit.entry for hit in ranking.hits)
        score = ranking.confidence
        if ranking.coverage < MIN_COVERAGE:
            return Answer(question, ReplyKind.FALLBACK, None, candidates, lang, score)
        if candidates and score >= self.thresholds.answer:
            return Answer(question, ReplyKind.ANSWER, candidates[0], candidates, KB_LANGUAGE, score)
        if candidates and score >= self.thresholds.clarify:
            return Answer(question, ReplyKind.CLARIFY, None, candidates, lang, score)
        return Answer(question, ReplyKind.FALLBACK, None, candidates, lang, score)

    def _emergency_language(self, match: EmergencyMatch, lang: str) -> str:
        texts = self.content.emergency.texts
        if match.lang != "en" and match.lang in texts:
            return match.lang
        return lang if lang in texts else "en"

    # ------------------------------------------------------------------ rendering

    def replies(self, answer: Answer, lang: str) -> list[Reply]:
        """The replies to send, in order: an emergency answer first, then any entry it carries."""
        if answer.kind is ReplyKind.EMERGENCY and answer.emergency is not None:
            replies = [self.emergency_reply(answer.emergency, answer.lang)]
            if answer.entry and answer.entry != answer.emergency.entry:
                replies.append(self.entry_reply(answer.entry, lang))
            return replies
        return [self.reply(answer, lang)]

    def reply(self, answer: Answer, lang: str) -> Reply:
        t = self.locales
        if answer.kind is ReplyKind.ANSWER and answer.entry:
            return self.entry_reply(answer.entry, lang)
        if answer.kind is ReplyKind.REFUSAL and answer.entry:
            entry = self.kb.entries[answer.entry]
            text = markup.join(
                t.rich(lang, f"refusal.{self._refusal_key(answer.entry)}"),
                markup.first_paragraph(entry.answer),
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
        return tuple((Button(self.kb.entries[i].title, f"kb:{i}"),) for i in ids if i in self.kb.entries)

    def entry_reply(self, entry_id: str, lang: str) -> Reply:
        entry = self.kb.entries[entry_id]
        text = markup.join((Bold(entry.title),), entry.answer, self.sources_text(entry, lang))
        related = [r for r in entry.related if r in self.kb.entries][:MAX_CHOICES]
        return Reply(text, self._entry_buttons(related, lang), kind=ReplyKind.ANSWER, entry=entry.id)

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
        buttons = ((Button(entry.title, f"kb:{entry.id}"),),) if entry else ()
        return Reply(text, buttons, kind=ReplyKind.EMERGENCY, entry=match.entry)
