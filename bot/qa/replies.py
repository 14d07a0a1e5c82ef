"""Building the replies to a decided :class:`~bot.qa.deciding.Answer`: the text, the buttons and the
closing lines, in the asker's language.

The emergency answer comes first, then the crisis answer, then any entry; an answer about overdose
closes with the local emergency number; a refusal offers the entries that do help; an entry served in
English to someone who reads another language says so first, in theirs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from babel import Locale

from bot.content.i18n import Locales
from bot.content.model import Content, Entry, EntryText, ReviewStatus
from bot.port import markup
from bot.port.actions import HELP, KB, TOPICS
from bot.port.events import Button, Reply, ReplyKind
from bot.port.markup import Bold, Link, Plain, RichText
from bot.qa.crisis import CRISIS_ENTRY, line_for
from bot.qa.deciding import Answer
from bot.qa.emergency import EmergencyMatch

MAX_CHOICES = 3
# Safer-use entries offered after a refusal to give a dose (they exist in the bundled content; a
# deployment's content may lack some, and then they are not offered).
DOSING_ENTRY = "dosing-advice"
SAFER_USE_ENTRIES = ("drug-checking", DOSING_ENTRY, "never-use-alone")


class ReplyBuilder:
    """The replies to an answer: from the content, the interface strings and the deployment's country."""

    def __init__(self, content: Content, locales: Locales, emergency_country: str | None = None) -> None:
        self.content = content
        self.kb = content.kb
        self.locales = locales
        self.emergency_country = emergency_country

    def for_answer(
        self, answer: Answer, lang: str, *, country: str | None = None, in_group: bool = False
    ) -> list[Reply]:
        """The replies to send, in order: the emergency answer, the crisis answer, then any entry.

        ``country``: where the asker is, when known (for the local emergency number and crisis line).
        ``in_group``: asked in a group: the crisis answer goes to the person privately, with a short
        pointer in the group.
        """
        if answer.kind is ReplyKind.EMERGENCY:
            # All in the alarm's language: a Russian message from a client set to English gets the
            # Russian emergency text, and the entry after it in Russian too.
            replies: list[Reply] = []
            if answer.emergency is not None:
                replies.append(self.emergency_reply(answer.emergency, answer.lang, country))
            if answer.crisis is not None:
                replies.extend(self.crisis_replies(answer.lang, country, in_group=in_group))
            shown = {answer.emergency.entry if answer.emergency else None, CRISIS_ENTRY}
            if answer.entry and answer.entry not in shown:
                replies.append(self.entry_reply(answer.entry, answer.lang))
            return replies
        if answer.kind is ReplyKind.ANSWER and answer.entry and answer.about_overdose:
            reply = self.entry_reply(answer.entry, lang)
            closing = markup.text(self._emergency_line(lang, country))
            return [dataclasses.replace(reply, text=markup.join(reply.text, closing))]
        return [self.reply(answer, lang)]

    def reply(self, answer: Answer, lang: str) -> Reply:
        t = self.locales
        if answer.kind is ReplyKind.ANSWER and answer.entry:
            return self.entry_reply(answer.entry, lang)
        if answer.kind is ReplyKind.SMALLTALK and answer.smalltalk is not None:
            text = markup.join(t.rich(lang, f"smalltalk.{answer.smalltalk.intent}"), t.rich(lang, "smalltalk.can_do"))
            return Reply(text, self._menu_buttons(lang), kind=ReplyKind.SMALLTALK)
        if answer.kind is ReplyKind.REFUSAL and answer.entry:
            entry = self.kb.entries[answer.entry]
            shown = entry.text_in(lang)
            text = self._noted(shown, lang, markup.first_paragraph(shown.answer))
            if answer.entry == DOSING_ENTRY:
                # The entry's first line is the refusal; what follows it is what does help.
                offered: tuple[str, ...] = SAFER_USE_ENTRIES
            else:
                text = markup.join(t.rich(lang, "refusal.supply"), text)
                offered = (answer.entry,)
            return Reply(text, self._entry_buttons(offered, lang), kind=ReplyKind.REFUSAL, entry=entry.id)
        if answer.kind is ReplyKind.CLARIFY:
            choices = list(answer.candidates[:MAX_CHOICES])
            return Reply(t.rich(lang, "clarify"), self._entry_buttons(choices, lang), kind=ReplyKind.CLARIFY)
        return Reply(t.rich(lang, "fallback"), self._menu_buttons(lang), kind=ReplyKind.FALLBACK)

    def _menu_buttons(self, lang: str) -> tuple[tuple[Button, ...], ...]:
        t = self.locales
        return (
            (Button(t.text(lang, "button.topics"), TOPICS.build()), Button(t.text(lang, "button.help"), HELP.build())),
        )

    def _entry_buttons(self, ids: Iterable[str], lang: str) -> tuple[tuple[Button, ...], ...]:
        entries = self.kb.entries
        return tuple((Button(entries[i].text_in(lang).title, KB.build(i)),) for i in ids if i in entries)

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

    def _local_number(self, country: str | None) -> str | None:
        country = country or self.emergency_country
        if not country:
            return None
        line = line_for(self.content.crisis, country)
        if line is not None:
            return line.emergency
        listed = [n for n in self.content.emergency.numbers if country in n.countries]
        return listed[0].number if listed else None

    def _emergency_line(self, lang: str, country: str | None) -> str:
        """One line: the local emergency number when the country is known, else the common ones."""
        country = country or self.emergency_country
        local = self._local_number(country)
        if local is not None:
            return self.locales.text(
                lang, "emergency.call_local", number=local, country=self._country_name(country, lang)
            )
        numbers = " · ".join(n.number for n in self.content.emergency.numbers)
        return self.locales.text(lang, "emergency.call_any", numbers=numbers)

    def _country_name(self, country: str | None, lang: str) -> str:
        if not country:
            return ""
        return str(Locale.parse(lang).territories.get(country.upper(), country.upper()))

    def emergency_reply(self, match: EmergencyMatch, lang: str, country: str | None = None) -> Reply:
        content = self.content.emergency
        body = content.texts.get(lang) or content.texts["en"]
        lines: list[str] = []
        country = country or self.emergency_country
        local = self._local_number(country)
        if local is not None:
            lines.append(
                self.locales.text(
                    lang, "emergency.local_number", country=self._country_name(country, lang), number=local
                )
            )
        listed = "; ".join(f"{n.number}: {n.where.get(lang) or n.where['en']}" for n in content.numbers)
        lines.append(self.locales.text(lang, "emergency.numbers", numbers=listed))
        text = markup.join(body, markup.text("\n".join(lines)))
        entry = self.kb.entries.get(match.entry)
        buttons = ((Button(entry.text_in(lang).title, KB.build(entry.id)),),) if entry else ()
        return Reply(text, buttons, kind=ReplyKind.EMERGENCY, entry=match.entry)

    def crisis_replies(self, lang: str, country: str | None = None, *, in_group: bool = False) -> list[Reply]:
        """The crisis answer; asked in a group, it goes to the person privately, with a pointer there."""
        reply = self.crisis_reply(lang, country)
        if not in_group:
            return [reply]
        pointer = Reply(self.locales.rich(lang, "crisis.pointer"), kind=ReplyKind.EMERGENCY, handoff="helpline")
        return [dataclasses.replace(reply, private=True), pointer]

    def crisis_reply(self, lang: str, country: str | None = None) -> Reply:
        content = self.content.crisis
        t = self.locales
        country = (country or self.emergency_country or "").upper() or None
        parts: list[RichText] = [content.texts.get(lang) or content.texts["en"]]
        line = line_for(content, country)
        if line is not None and line.name:
            contact = [t.text(lang, "crisis.call", number=line.phone)] if line.phone else []
            if line.text:
                contact.append(t.text(lang, "crisis.text", number=line.text))
            details = [t.text(lang, "crisis.always")] if line.always else []
            if line.free:
                details.append(t.text(lang, "crisis.free"))
            spans: list[markup.Span] = [Bold(line.name), Plain(": " + ", ".join(contact) if contact else "")]
            if details:
                spans.append(Plain(f" ({', '.join(details)})"))
            if line.chat:
                spans.extend((Plain(" · "), Link(t.text(lang, "crisis.chat"), line.chat)))
            parts.append(tuple(s for s in spans if not (isinstance(s, Plain) and not s.text)))
        parts.append(markup.text(self._danger_line(lang, country)))
        directory = content.directory
        if directory is not None:
            # Where no line is listed for the country, its page in the directory is the next best thing.
            known = line is not None and line.name is not None
            url = f"{directory.country_url}{country}" if country and not known else directory.url
            parts.append((*t.rich(lang, "crisis.directory"), Plain(" "), Link(directory.name, url)))
        parts.append(t.rich(lang, "crisis.door"))
        entry = self.kb.entries.get(CRISIS_ENTRY)
        buttons = ((Button(entry.text_in(lang).title, KB.build(entry.id)),),) if entry else ()
        return Reply(markup.join(*parts), buttons, kind=ReplyKind.EMERGENCY, entry=CRISIS_ENTRY)

    def _danger_line(self, lang: str, country: str | None) -> str:
        local = self._local_number(country)
        if local is not None:
            return self.locales.text(lang, "crisis.danger_local", number=local)
        numbers = " · ".join(n.number for n in self.content.emergency.numbers)
        return self.locales.text(lang, "crisis.danger_any", numbers=numbers)
