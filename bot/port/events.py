"""The event model: what adapters hand to the core, and the replies the core hands back."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from bot.port.markup import RichText


class ChatKind(StrEnum):
    PRIVATE = "private"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class User:
    """Who wrote: the platform's own id for them, and the language their client reports."""

    platform: str
    id: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Chat:
    """Where they wrote."""

    id: str
    kind: ChatKind = ChatKind.PRIVATE


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: str = ""


@dataclass(frozen=True, slots=True)
class ButtonPress:
    action: str


@dataclass(frozen=True, slots=True)
class Gone:
    """The platform says this person can no longer be reached (blocked the bot, left, deleted)."""


# What someone did: typed, sent a command, pressed a button, or left.
Input = Text | Command | ButtonPress | Gone


@dataclass(frozen=True, slots=True)
class Event:
    user: User
    chat: Chat
    content: Input
    # In a group: whether the bot was addressed (mentioned, replied to, or sent a command).
    addressed: bool = True
    # The platform vouches that this person organises the campaign here (a Discord server's
    # organiser role), on top of the organisers listed in the configuration.
    organiser: bool = False


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: str


class ReplyKind(StrEnum):
    ANSWER = "answer"
    EMERGENCY = "emergency"
    CLARIFY = "clarify"
    FALLBACK = "fallback"
    REFUSAL = "refusal"
    # A greeting, thanks or "who are you": a friendly line and what the bot can do.
    SMALLTALK = "smalltalk"
    INFO = "info"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Share:
    """A way for someone else to reach a command (a pledge's share link), which each adapter writes
    its own way: a Telegram deep link, a Discord command mention, the command on the console."""

    command: str
    argument: str = ""

    @property
    def payload(self) -> str:
        """As a start payload ("pledge-carry-naloxone"), like a hand-off's."""
        return f"{self.command}-{self.argument}" if self.argument else self.command


@dataclass(frozen=True, slots=True)
class Reply:
    text: RichText
    buttons: tuple[tuple[Button, ...], ...] = ()
    # Send in a private chat with the user rather than where the event came from.
    private: bool = False
    kind: ReplyKind = ReplyKind.INFO
    # The knowledge-base entry the reply is about, if any.
    entry: str | None = None
    # Personal business asked for in a group: the command to continue with in a private chat,
    # as a start payload ("sign-un-decriminalise" for /sign un-decriminalise). Adapters turn it
    # into a link or button that opens the private chat and sends /start <payload>.
    handoff: str | None = None
    # Shown after the text: how to bring someone else here (see Share).
    share: Share | None = None
    # The reply asks a question of the form under way (see bot.port.outcome.Outcome.form).
    asks_form: bool = False
    extras: dict[str, object] = field(default_factory=dict, compare=False)


# What a handoff payload may hold: Telegram's deep-link alphabet, at most 64 characters.
HANDOFF = re.compile(r"[A-Za-z0-9_-]{1,64}")

_COMMAND = re.compile(r"^/(?P<name>[A-Za-z][A-Za-z0-9_]{0,31})(?:@\S+)?(?:\s+(?P<args>.*))?$", re.DOTALL)


def parse_text(text: str) -> Text | Command:
    """A typed line as a command ("/ask how?", "/start@bot") or free text."""
    match = _COMMAND.match(text.strip())
    if match:
        return Command(match.group("name").lower(), (match.group("args") or "").strip())
    return Text(text)
