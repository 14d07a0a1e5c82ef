"""What handling an event gives an adapter back: the replies, the language they are in, and the form
under way, described well enough for a platform to show it whole (a Discord modal)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.port.events import Reply


@dataclass(frozen=True, slots=True)
class FormField:
    """One question of a form still to be answered by typing."""

    name: str
    required: bool
    # The question as the core asks it, in plain text.
    question: str
    # The most characters an answer may have.
    max_length: int
    # Several lines (a broadcast's text) rather than one.
    paragraph: bool = False
    # The button action that leaves this (optional) question out, as its Skip button does.
    skip: str | None = None


@dataclass(frozen=True, slots=True)
class OpenForm:
    """A form under way and the questions still to answer, in order."""

    # What the form is and what it is for ("sign:<petition>", "broadcast"): equal keys, the same form.
    key: str
    title: str
    fields: tuple[FormField, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    replies: list[Reply]
    # The language the replies are in: an adapter's own words beside them (a button it adds) use it too.
    lang: str
    # The form whose question the replies ask, in a private chat, when it has questions to type.
    form: OpenForm | None = None
    # Whether a form is under way: what is typed next answers it (so it is personal data).
    in_form: bool = False
