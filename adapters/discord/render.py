"""What people see on Discord: escaped markdown cut to Discord's sizes, and buttons that outlive the process.

Replies are spans (bot.port.markup); every span's text is escaped for Discord markdown and mentions here,
and every message also goes out with ``allowed_mentions`` none, so neither a person nor the content
can make the bot format text or ping anyone. Buttons carry versioned custom ids that a
:class:`discord.ui.DynamicItem` parses after any restart.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, Self, runtime_checkable

import discord

from bot.port.events import Reply, ReplyKind
from bot.port.markup import Bold, Link, RichText
from bot.port.mechanics import MessageLimits, merge, split

MAX_CONTENT = 2000
# What one message holds: its markdown, escapes included, as sent.
TEXT = MessageLimits(MAX_CONTENT)
MAX_ROWS = 5
MAX_PER_ROW = 5
MAX_LABEL = 80
NO_PINGS = discord.AllowedMentions.none()

# A custom id is "v1:<kind>:<value>". A release that changes the format bumps the version, and clicks on
# buttons sent before it get a polite "expired" instead of being misread.
VERSION = "v1"
# Kinds: a core Button.action; a handoff payload to carry on with privately; a form (modal) to open.
ACTION, HANDOFF, FORM = "a", "h", "f"
_CURRENT = rf"{VERSION}:(?P<kind>[{ACTION}{HANDOFF}{FORM}]):(?P<value>.+)"


def fit(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut (Discord rejects longer fields)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --------------------------------------------------------------------------------- markdown


# What discord.utils.escape_markdown and escape_mentions escape, in linear time and at C speed: no
# Python call per escaped character, so that 100 KB of markdown costs milliseconds (all adapters
# share one event loop). Links are left alone, as the library leaves them. Unlike the library,
# whose masked-link rule (\[.+\]\(.+\)) backtracks with the cube of a line's length, every "["
# is escaped: that alone keeps a masked link from forming, and Discord shows "\[" as "[".
_LINKS = re.compile(r"(<[^:<> ]+:/[^<> ]+>|(?:https?|steam)://[^\s<]+[^<.,:;\"'\]\s])")
_MARKDOWN = "\\_~|*`["  # the backslash first, so that the ones added are not escaped again
# A zero-width space after the @: shown the same, never read as a mention.
_MENTION = re.compile(r"@(?=everyone|here|[!&]?[0-9]{17,20})")
# A line-start rule's backslash goes before a quote, a heading or a list marker (quotes are escaped
# whether or not a space follows, which shows the same), and after an indented list marker's
# indentation (the library's ^\s*- can reach across a line break and put it before the break).
_LINE_STARTS = ("-", "#", ">")
_INDENTED_MARKER = re.compile(r"(?<=\n)([ \t]+)(?=-)")
# Holds the place of each link while the text around it is escaped; never in what is sent.
_LINK_PLACE = "\x00"


def escape(text: str, *, line_start: bool) -> str:
    """``text`` shown literally: markdown escaped, and mentions broken with a zero-width space.

    ``line_start``: the text starts a line (it does not continue one after a bold span, say).
    """
    parts = _LINKS.split(("\n" if line_start else "") + text.replace(_LINK_PLACE, ""))
    # Every stretch between links, escaped in one go.
    between = _LINK_PLACE.join(parts[0::2])
    for char in _MARKDOWN:
        between = between.replace(char, "\\" + char)
    for char in _LINE_STARTS:
        between = between.replace("\n" + char, "\n\\" + char)
    between = _MENTION.sub("@\u200b", between)
    indented = _INDENTED_MARKER.split(between)
    indented[1::2] = [indent + "\\" for indent in indented[1::2]]
    parts[0::2] = "".join(indented).split(_LINK_PLACE)
    escaped = "".join(parts)
    return escaped[1:] if line_start else escaped


# Answers repeat (the same questions, the same menus): their markdown is kept rather than escaped again.
@functools.lru_cache(maxsize=1024)
def to_markdown(text: RichText) -> str:
    out: list[str] = []
    line_start = True
    for span in text:
        if isinstance(span, Link):
            label = escape(span.text, line_start=False)
            out.append(span.url if span.text == span.url else f"[{label}]({span.url})")
        elif isinstance(span, Bold):
            out.append(f"**{escape(span.text, line_start=False)}**")
        else:
            out.append(escape(span.text, line_start=line_start))
        if span.text:
            line_start = span.text.endswith("\n")
    return "".join(out)


# --------------------------------------------------------------------------------- buttons


@dataclass(frozen=True)
class Choice:
    """A button: its label and what it does (``kind``, ``value``: see the custom id format)."""

    label: str
    kind: str
    value: str

    @property
    def custom_id(self) -> str:
        return f"{VERSION}:{self.kind}:{self.value}"


@runtime_checkable
class ButtonHandler(Protocol):
    """The client that handles clicks (the adapter's discord.Client)."""

    async def on_button(self, interaction: discord.Interaction[Any], kind: str, value: str) -> None: ...

    async def on_stale_button(self, interaction: discord.Interaction[Any]) -> None: ...


def _handler(interaction: discord.Interaction[Any]) -> ButtonHandler:
    client = interaction.client
    if not isinstance(client, ButtonHandler):
        raise TypeError(f"{type(client).__name__} does not handle buttons")
    return client


class ChoiceButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=_CURRENT):
    """A button of the current format, dispatched by its custom id alone (no per-message state)."""

    def __init__(self, choice: Choice) -> None:
        style = discord.ButtonStyle.primary if choice.kind == FORM else discord.ButtonStyle.secondary
        super().__init__(discord.ui.Button(label=fit(choice.label, MAX_LABEL), custom_id=choice.custom_id, style=style))
        self.choice = choice

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        label = getattr(item, "label", None) or ""
        return cls(Choice(label, match["kind"], match["value"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _handler(interaction).on_button(interaction, self.choice.kind, self.choice.value)


class StaleButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=rf"(?!{_CURRENT}$).+"):
    """Any other button of this bot: an older format, answered as expired."""

    def __init__(self, custom_id: str) -> None:
        super().__init__(discord.ui.Button(label="-", custom_id=custom_id))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(match.group(0))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _handler(interaction).on_stale_button(interaction)


def layout(rows: Sequence[Sequence[Choice]]) -> list[list[list[Choice]]]:
    """Button rows as Discord allows them (5 per row, 5 rows per message): the rows of each message."""
    wrapped = [list(row[i : i + MAX_PER_ROW]) for row in rows for i in range(0, len(row), MAX_PER_ROW)]
    if len(wrapped) > MAX_ROWS:
        # Too many rows (a long list of one-button rows): pack them, five to a row.
        flat = [choice for row in wrapped for choice in row]
        wrapped = [flat[i : i + MAX_PER_ROW] for i in range(0, len(flat), MAX_PER_ROW)]
    return [wrapped[i : i + MAX_ROWS] for i in range(0, len(wrapped), MAX_ROWS)]


# --------------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class Outgoing:
    """One Discord message: markdown content and button rows, shown to everyone or to one person."""

    content: str
    rows: tuple[tuple[Choice, ...], ...] = ()
    ephemeral: bool = False
    # Part of the emergency answer: a message of its own, so that it cannot be missed.
    alone: bool = False

    def view(self) -> discord.ui.View | None:
        if not self.rows:
            return None
        view = discord.ui.View(timeout=None)
        for number, row in enumerate(self.rows):
            for choice in row:
                button = ChoiceButton(choice)
                button.row = number
                view.add_item(button)
        return view

    def kwargs(self) -> dict[str, Any]:
        """What every send takes: no pings, no link previews, and the buttons if any."""
        options: dict[str, Any] = {"content": self.content, "allowed_mentions": NO_PINGS, "suppress_embeds": True}
        view = self.view()
        if view is not None:
            options["view"] = view
        return options


def buttons(reply: Reply, extra: Sequence[Choice] = ()) -> list[list[Choice]]:
    """The reply's buttons as choices, with ``extra`` as a first row of their own."""
    rows = [[Choice(button.label, ACTION, button.action) for button in row] for row in reply.buttons]
    return [list(extra), *rows] if extra else rows


def compact(messages: Sequence[Outgoing]) -> list[Outgoing]:
    """Consecutive messages joined where they fit in one (bot.port.mechanics' policy): kept apart by
    buttons (which stay last), by another audience (ephemeral or not), and around the emergency answer."""

    def kept_apart(previous: Outgoing, message: Outgoing) -> bool:
        return bool(previous.rows) or previous.ephemeral != message.ephemeral or previous.alone or message.alone

    return merge(
        messages,
        TEXT,
        text=lambda message: message.content,
        kept_apart=kept_apart,
        join=lambda previous, message, joiner: dataclasses.replace(
            message, content=f"{previous.content}{joiner}{message.content}"
        ),
    )


def render(reply: Reply, *, extra: Sequence[Choice] = (), ephemeral: bool = False) -> list[Outgoing]:
    """The messages that show ``reply``: its text in pieces, its buttons under the last piece."""
    pieces = split(to_markdown(reply.text), TEXT)
    groups = layout(buttons(reply, extra))
    alone = reply.kind is ReplyKind.EMERGENCY
    messages = [Outgoing(piece, ephemeral=ephemeral, alone=alone) for piece in pieces[:-1]]
    last = pieces[-1] if pieces else ""
    for group in groups or [[]]:
        rows = tuple(tuple(row) for row in group)
        if last or rows:
            messages.append(Outgoing(last, rows, ephemeral, alone))
        last = ""
    return messages
