"""One event being handled, with what features need to answer it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.capabilities import Capabilities
from bot.port.actions import DISMISS
from bot.port.events import Button, ChatKind, Event, Reply, ReplyKind
from bot.port.markup import RichText
from bot.qa.deciding import usual_country


@dataclass(frozen=True, slots=True)
class Context:
    """One event being handled, with what handlers need to answer it."""

    core: Capabilities
    event: Event
    # The pseudonymous id the store knows this person by.
    user_key: str
    lang: str
    # Arrived through a link (/start <payload>): anyone can send someone such a link, so whatever it
    # would change is asked about first (see confirm).
    via_link: bool = False

    def t(self, key: str, **params: Any) -> RichText:
        return self.core.locales.rich(self.lang, key, **params)

    def text(self, key: str, **params: Any) -> str:
        return self.core.locales.text(self.lang, key, **params)

    def reply(self, key: str, kind: ReplyKind = ReplyKind.INFO, **params: Any) -> Reply:
        return Reply(self.t(key, **params), kind=kind)

    def confirm(self, question: RichText, action: str) -> Reply:
        """A change someone did not ask for in so many words: one tap on Yes makes it (``action``)."""
        buttons = ((Button(self.text("button.yes"), action), Button(self.text("button.no"), DISMISS.build())),)
        return Reply(question, buttons)

    @property
    def is_organiser(self) -> bool:
        return self.event.organiser or self.core.config.is_organiser(self.event.user.platform, self.event.user.id)

    async def answer(self, question: str) -> list[Reply]:
        """The replies to a question, with the local emergency number and crisis line when it needs them."""
        core = self.core
        answer = core.decider.answer(question, self.lang)
        country = await self.country() if answer.kind is ReplyKind.EMERGENCY or answer.about_overdose else None
        return core.replies.for_answer(
            answer, self.lang, country=country, in_group=self.event.chat.kind is ChatKind.GROUP
        )

    async def country(self) -> str | None:
        """Where the person likely is: the deployment's country; else the one they gave when signing a
        petition; else the country their platform's language points to."""
        if self.core.config.emergency_country:
            return self.core.config.emergency_country
        return await self.core.signatures.country_of(self.user_key) or usual_country(self.event.user.language)
