"""The core's multi-step forms (a petition sign-up, a broadcast's text) as Discord modals.

The core keeps each form as a conversation in the store and asks one question at a time; on Discord
the questions still to answer are shown at once in a modal. Its answers are fed to the core one by
one, as the Text answers it expects (an empty optional field as its Skip button), so the core's
validation, re-asking and state stay the only truth: the modal is just a faster way to type.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import discord

from adapters.discord_render import FORM, Choice, fit
from bot import forms, markup
from bot.content.model import localized
from bot.core import Core
from bot.events import ButtonPress, Content, Event, Reply, Text
from bot.handlers import broadcasts, petitions

MAX_TITLE = 45
MAX_LABEL = 45
MAX_DESCRIPTION = 100
# Country names are short; Discord needs some limit.
MAX_COUNTRY_CHARS = 100
MAX_LENGTHS = {"name": forms.MAX_NAME_CHARS, "email": forms.MAX_EMAIL_CHARS, "country": MAX_COUNTRY_CHARS}


@dataclass(frozen=True)
class Field:
    """One question of a form still to be answered."""

    name: str
    required: bool
    # The core's question, shown under the field's label.
    question: str
    max_length: int
    paragraph: bool = False
    # The core action that skips this (optional) question.
    skip: str | None = None


@dataclass(frozen=True)
class Form:
    # "sign:<petition id>" or "broadcast": the form and what it is for, in custom ids.
    key: str
    title: str
    fields: tuple[Field, ...]

    def choice(self, label: str) -> Choice:
        return Choice(label, FORM, self.key)

    def modal(self, core: Core, lang: str) -> discord.ui.Modal:
        modal = discord.ui.Modal(title=fit(self.title, MAX_TITLE), custom_id=self.choice("").custom_id)
        for field in self.fields:
            style = discord.TextStyle.paragraph if field.paragraph else discord.TextStyle.short
            text_input: discord.ui.TextInput[discord.ui.Modal] = discord.ui.TextInput(
                custom_id=field.name, style=style, required=field.required, max_length=field.max_length
            )
            label = core.locales.text(lang, f"discord.field.{field.name}")
            modal.add_item(
                discord.ui.Label(
                    text=fit(label, MAX_LABEL),
                    description=fit(field.question, MAX_DESCRIPTION),
                    component=text_input,
                )
            )
        return modal


async def current(core: Core, user_key: str, lang: str) -> Form | None:
    """The form this person is filling in, with the questions still open; None if there is none."""
    conversation = await core.records.conversation(user_key)
    if conversation is None:
        return None
    state = conversation.state
    step = str(state.get("step"))
    if conversation.flow == broadcasts.FLOW and step == "text":
        question = markup.plain(broadcasts.text_prompt(core.locales, lang))
        text = Field("text", True, question, broadcasts.MAX_BROADCAST_CHARS, paragraph=True)
        title = core.locales.text(lang, "discord.broadcast.title")
        return Form(broadcasts.FLOW, title, (text,))
    petition = core.content.campaigns.petitions.get(str(state.get("petition")))
    if conversation.flow != petitions.FLOW or petition is None:
        return None
    names = [field.name for field in petition.fields]
    if step not in names:
        return None
    first = names.index(step)
    # A field changed from the review is asked alone: the review follows it.
    last = first + 1 if state.get("reviewing") else len(names)
    # The questions' plain wording: "press Skip" does not apply in a form, where one leaves a field empty.
    fields = tuple(
        Field(
            field.name,
            field.required,
            core.locales.text(lang, f"sign.ask.{field.name}"),
            MAX_LENGTHS.get(field.name, MAX_COUNTRY_CHARS),
            skip=None if field.required else f"sign-skip:{petition.id}:{field.name}",
        )
        for field in petition.fields[first:last]
    )
    return Form(f"{petitions.FLOW}:{petition.id}", localized(petition.title, lang), fields)


async def submit(core: Core, event: Event, lang: str, form: Form, values: dict[str, str]) -> list[Reply]:
    """Feed a submitted modal to the core, question by question; the replies to the last answer fed.

    Answers stop at the first the core does not accept (it re-asks with the reason) or that is not
    in the modal; the core's next question after an accepted answer is dropped, the modal answered it.
    ``form`` is the form under way, its first question among ``values`` (see :func:`answers`).
    """
    user_key = core.keyring.user_id(event.user.platform, event.user.id)
    replies: list[Reply] = []
    for index, field in enumerate(form.fields):
        if field.name not in values:
            break
        value = values[field.name].strip()
        content: Content = ButtonPress(field.skip) if not value and field.skip else Text(value)
        replies = await core.handle(replace(event, content=content))
        following = await current(core, user_key, lang)
        expected = [later.name for later in form.fields[index + 1 :]]
        if following is None or following.key != form.key or [f.name for f in following.fields] != expected:
            break
    return replies


def answers(form: Form, key: str, values: dict[str, str]) -> bool:
    """Whether a modal submitted as form ``key`` answers the form under way (not an older state of it)."""
    return form.key == key and form.fields[0].name in values


def submitted_values(data: object) -> dict[str, str]:
    """The values of a modal submission's text inputs by custom id, whatever rows or labels hold them."""
    values: dict[str, str] = {}
    if isinstance(data, dict):
        if isinstance(data.get("custom_id"), str) and isinstance(data.get("value"), str):
            values[data["custom_id"]] = data["value"]
        for key in ("components", "component"):
            values.update(submitted_values(data.get(key)))
    elif isinstance(data, list):
        for item in data:
            values.update(submitted_values(item))
    return values
