"""The core's multi-step forms (a petition sign-up, a broadcast's text) as Discord modals.

The core keeps each form as a conversation in the store and asks one question at a time; the outcome
of an event describes the form under way (its questions still to type, :class:`bot.port.outcome.OpenForm`),
which Discord shows at once in a modal. Its answers are fed to the core one by one, as the Text answers
it expects (an empty optional field as its Skip button), so the core's validation, re-asking and state
stay the only truth: the modal is just a faster way to type.
"""

from __future__ import annotations

from dataclasses import replace

import discord

from adapters.discord.render import FORM, Choice, fit
from bot.port.events import ButtonPress, Event, Input, Text
from bot.port.outcome import OpenForm, Outcome
from bot.port.services import Port

MAX_TITLE = 45
MAX_LABEL = 45
MAX_DESCRIPTION = 100


def choice(form: OpenForm, label: str) -> Choice:
    """The button that opens ``form``."""
    return Choice(label, FORM, form.key)


def modal(core: Port, form: OpenForm, lang: str) -> discord.ui.Modal:
    shown = discord.ui.Modal(title=fit(form.title, MAX_TITLE), custom_id=choice(form, "").custom_id)
    for field in form.fields:
        style = discord.TextStyle.paragraph if field.paragraph else discord.TextStyle.short
        text_input: discord.ui.TextInput[discord.ui.Modal] = discord.ui.TextInput(
            custom_id=field.name, style=style, required=field.required, max_length=field.max_length
        )
        label = core.strings.text(lang, f"discord.field.{field.name}")
        shown.add_item(
            discord.ui.Label(
                text=fit(label, MAX_LABEL),
                description=fit(field.question, MAX_DESCRIPTION),
                component=text_input,
            )
        )
    return shown


async def submit(core: Port, event: Event, form: OpenForm, values: dict[str, str]) -> Outcome:
    """Feed a submitted modal to the core, question by question; the outcome of the last answer fed.

    Answers stop at the first the core does not accept (it re-asks with the reason) or that is not
    in the modal; the core's next question after an accepted answer is dropped, the modal answered it.
    ``form`` is the form under way, its first question among ``values`` (see :func:`answers`).
    """
    outcome = Outcome([], "")
    for index, field in enumerate(form.fields):
        if field.name not in values:
            break
        value = values[field.name].strip()
        content: Input = ButtonPress(field.skip) if not value and field.skip else Text(value)
        outcome = await core.handle(replace(event, content=content))
        following = outcome.form
        expected = [later.name for later in form.fields[index + 1 :]]
        if following is None or following.key != form.key or [f.name for f in following.fields] != expected:
            break
    return outcome


def answers(form: OpenForm, key: str, values: dict[str, str]) -> bool:
    """Whether a modal submitted as form ``key`` answers the form under way (not an older state of it)."""
    return form.key == key and bool(form.fields) and form.fields[0].name in values


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
