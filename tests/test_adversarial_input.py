"""No message can stall the bot: 100 KB of adversarial text through every renderer and every handler
that quotes what it was given, each within 50 ms; nothing quoted back at length.

All adapters share one event loop, so a pattern that backtracks on one person's message would hold
up every platform, emergency answers included.
"""

from __future__ import annotations

import functools
import itertools
import random
import time
from collections.abc import Awaitable, Callable

import pytest
from testbot import TestBot

from adapters.discord import render as discord_render
from adapters.discord.commands import core_commands
from adapters.telegram import adapter as telegram
from bot.content.text import ECHO_CHARS
from bot.port import markup, plaintext
from bot.port.events import Chat, Command, Event, Reply, Text, User

SIZE = 100_000
BOUND = 0.05
# What the patterns that see user text treat specially, each repeated to 100 KB.
UNITS = (
    "[", "[a](", "](", "[a](b", "[a]", "<", "<a:/", "<<a:/", "<a", "http://", "http://.", "https://a.", "steam://",
    "*", "**", "**a", "_", "~", "`", "|", "\\", "@", "@everyone", "@&", ">", ">>> ", "# ", "- ", "\n", "\n-", "\n>",
    " ", ".", "1", "1:", "é", "🧪", "a", "\u202e", "**x**", "[x](https://y)", "\t-",
)  # fmt: skip


def adversarial() -> list[str]:
    texts = [(unit * (SIZE // len(unit) + 1))[:SIZE] for unit in UNITS]
    rng = random.Random(12)
    specials = "".join(set("".join(UNITS)))
    texts.append("".join(rng.choice(specials) for _ in range(SIZE)))
    return texts


INPUTS = adversarial()
IDS = [repr(text[:12]) for text in INPUTS]


def fastest(run: Callable[[], object], times: int = 5) -> float:
    """The best of a few runs: the bound is on the work, not on a busy machine's worst moment."""
    best = float("inf")
    for _ in range(times):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


async def fastest_async(run: Callable[[], Awaitable[object]], times: int = 5) -> float:
    best = float("inf")
    for _ in range(times):
        started = time.perf_counter()
        await run()
        best = min(best, time.perf_counter() - started)
    return best


_fresh = itertools.count()


@pytest.mark.parametrize("text", INPUTS, ids=IDS)
def test_every_renderer_takes_linear_time(text: str) -> None:
    rich = markup.text(text)
    renderers: dict[str, Callable[[], object]] = {
        "discord escape (line start)": lambda: discord_render.escape(text, line_start=True),
        "discord escape (within a line)": lambda: discord_render.escape(text, line_start=False),
        # to_markdown keeps what it made: a new text each run, so that each run does the work.
        "discord message": lambda: discord_render.render(Reply(markup.text(text + str(next(_fresh))))),
        "telegram html": lambda: telegram.to_html(rich),
        "telegram messages": lambda: telegram.split_html(rich),
        "console": lambda: plaintext.render(Reply(rich)),
    }
    slow = {name: round(seconds, 3) for name, run in renderers.items() if (seconds := fastest(run)) > BOUND}
    assert slow == {}


@pytest.mark.parametrize("text", INPUTS, ids=IDS)
def test_light_markup_is_parsed_in_linear_time(text: str) -> None:
    # An organiser's broadcast is parsed as light markup (at most 3,000 characters from a chat). Each
    # span found costs a little: the bound is looser, but 100 KB of "[" took minutes when it was square.
    assert fastest(lambda: markup.parse(text)) < 0.25


ECHOING = ("sources", "language", "sign", "subscribe", "unsubscribe", "timezone", "pledge", "topics", "start")


@pytest.mark.parametrize("text", INPUTS[:: len(INPUTS) // 8], ids=IDS[:: len(INPUTS) // 8])
async def test_handlers_that_quote_their_argument_take_linear_time(bot: TestBot, text: str) -> None:
    core = bot.core
    person = User("console", "adversary")
    slow: dict[str, float] = {}
    for name in ECHOING:
        event = Event(person, Chat("console:adversary"), Command(name, text))
        seconds = await fastest_async(functools.partial(core.handle, event))
        replies = (await core.handle(event)).replies
        assert all(len(plaintext.render(reply)) < 5000 for reply in replies), name
        if seconds > BOUND:
            slow[name] = round(seconds, 3)
        await core.handle(Event(person, Chat("console:adversary"), Command("cancel")))
    assert slow == {}


async def test_a_form_answer_is_quoted_back_short_and_fast(bot: TestBot) -> None:
    await bot.ask("/sign")
    await bot.ask("Ana Lima")
    await bot.press("Skip")
    country = "Atlantis " * (SIZE // 9)
    event = Event(bot.adapter.user, bot.adapter.chat, Text(country))
    started = time.perf_counter()
    (reply,) = (await bot.core.handle(event)).replies
    assert time.perf_counter() - started < BOUND
    shown = plaintext.render(reply)
    assert "Atlantis" in shown and len(shown) < 1000


async def test_every_discord_option_has_a_length_limit(bot: TestBot) -> None:
    async def run(*_: object) -> None:
        pass

    limits = {
        command.name: parameter.max_value
        for command in core_commands(bot.core, run)
        for parameter in command.parameters
    }
    assert limits and all(limit is not None for limit in limits.values()), limits
    assert limits["sources"] == limits["timezone"] == ECHO_CHARS
    assert limits["ask"] == discord_render.MAX_CONTENT
