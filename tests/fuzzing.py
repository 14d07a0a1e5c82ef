"""Fuzzed events for the core, and what every reply must satisfy: shared by tests/test_fuzz.py (bounded,
in the suite) and bench/fuzz.py (as long as one likes).

Events are forged buttons (every action the router knows, with junk or plausible arguments),
commands with junk arguments, free text (form answers, STOP, 100 KB messages), from private chats,
groups (addressed or not), organisers or not, with whatever language a client reports.
"""

from __future__ import annotations

import html
import logging
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from adapters.discord import render as discord_render
from adapters.telegram import adapter as telegram
from bot.content import Content
from bot.core.app import Core
from bot.core.router import Router
from bot.port import plaintext
from bot.port.events import HANDOFF, ButtonPress, Chat, ChatKind, Command, Event, Reply, Text, User

PEOPLE = ("alice", "boss", "mallory")
ORGANISER = "console:boss"
BIG_SIZE = 100_000
# Telegram counts the characters shown, without the HTML tags.
_TAG = re.compile(r"<[^<>]*>")
# Characters that parsers, escapers and text analysis treat specially, and a few scripts.
_ALPHABET = (
    "abcxyz ABC 0129 .,;:!?'\"-_/\\|*~`#>@&<[](){}=+\t\n\r"
    "éèçñãõüßø ÆŒ Яблоко Україна مرحبا 你好 🧪💉🏳️‍🌈"
    "\u200b\u200c\u200d\u202e\u2066\ufeff\x00\x01\x7f\u0301"
)
_FORM_ANSWERS = ("STOP", "Stop!", "Ana Lima", "ana@example.org", "=cmd|'/Ccalc'!A1@example.org", "Portugal", "PT")


@dataclass(frozen=True)
class Vocabulary:
    """What the bot knows about: the names events are forged from."""

    prefixes: tuple[str, ...]
    commands: tuple[str, ...]
    ids: tuple[str, ...]
    big: tuple[str, ...]


def vocabulary(router: Router, content: Content) -> Vocabulary:
    ids = {
        *content.kb.entries,
        *(group.id for group in content.kb.groups),
        *content.campaigns.petitions,
        *content.campaigns.pledges,
        *("news", "petitions", "action-days", "all", "en", "ru", "uk", "xx", "yes", "no", "confirm", "keep"),
        *("", "1", "2", "0", "-1", "99999999999999999999", "name", "email", "country", "consent", "text"),
    }
    return Vocabulary(
        prefixes=tuple(sorted(router._actions)),
        commands=(*sorted(router.commands), "nope", "Start"),
        ids=tuple(sorted(ids)),
        big=big_inputs(),
    )


def big_inputs() -> tuple[str, ...]:
    """Four 100 KB messages: markdown that once backtracked for minutes, words, emoji, and a mixture."""
    rng = random.Random(3)
    return (
        "[a](" * (BIG_SIZE // 4),
        ("how does naloxone work " * (BIG_SIZE // 23 + 1))[:BIG_SIZE],
        "🧪" * BIG_SIZE,
        "".join(rng.choice(_ALPHABET) for _ in range(BIG_SIZE)),
    )


def junk(rng: random.Random, vocab: Vocabulary) -> str:
    """An argument or a message: random characters, a known name, both, or 100 KB."""
    roll = rng.random()
    if roll < 0.35:
        return "".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(0, 40)))
    if roll < 0.65:
        return rng.choice(vocab.ids)
    if roll < 0.95:
        return f"{rng.choice(vocab.ids)}:{rng.choice(vocab.ids) if rng.random() < 0.5 else junk(rng, vocab)}"
    return rng.choice(vocab.big)


def random_event(rng: random.Random, vocab: Vocabulary) -> Event:
    roll = rng.random()
    if roll < 0.35:
        content: ButtonPress | Command | Text = ButtonPress(f"{rng.choice(vocab.prefixes)}:{junk(rng, vocab)}")
    elif roll < 0.4:
        content = ButtonPress(junk(rng, vocab))
    elif roll < 0.7:
        content = Command(rng.choice(vocab.commands), junk(rng, vocab))
    else:
        content = Text(rng.choice(_FORM_ANSWERS) if rng.random() < 0.3 else junk(rng, vocab))
    person = rng.choice(PEOPLE)
    language = rng.choice((None, "en", "ru-RU", "pt_BR", "uk", "xx", "", junk(rng, vocab)[:8]))
    where = rng.choice(("private", "private", "group", "unaddressed"))
    chat = Chat(f"console:{person}") if where == "private" else Chat("room", ChatKind.GROUP)
    return Event(
        User("console", person, language), chat, content, addressed=where != "unaddressed", organiser=rng.random() < 0.2
    )


def check_renders(reply: Reply) -> None:
    """The reply as every platform would show it, within every platform's limits."""
    plaintext.render(reply)
    for chunk in telegram.split_html(reply.text):
        assert telegram.utf16_len(html.unescape(_TAG.sub("", chunk))) <= telegram.MAX_MESSAGE
    telegram.merged([reply, reply])
    for message in discord_render.render(reply):
        assert len(message.content) <= discord_render.MAX_CONTENT
        assert len(message.rows) <= discord_render.MAX_ROWS
        for row in message.rows:
            assert len(row) <= discord_render.MAX_PER_ROW
            assert all(len(choice.custom_id) <= 100 for choice in row), [choice.custom_id for choice in row]
    assert reply.handoff is None or HANDOFF.fullmatch(reply.handoff)


class _Kept(logging.Handler):
    """Keeps every record it handles."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def failures_logged() -> Iterator[list[logging.LogRecord]]:
    """What the core logs when it failed to handle an event (and answered "something went wrong")."""
    handler = _Kept(logging.ERROR)
    logger = logging.getLogger("bot")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


async def still_answers(core: Core) -> None:
    replies = (
        await core.handle(Event(User("console", "newcomer"), Chat("console:newcomer"), Text("what is naloxone")))
    ).replies
    assert replies[0].entry == "naloxone", replies
