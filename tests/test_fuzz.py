"""The standing fuzz check: forged buttons, junk commands and 100 KB messages through the core.

Whatever arrives, in whatever order and from whomever (a group, an organiser, a client reporting
any language): no failure inside the core, every reply renders for every platform within its
limits, and the bot still answers a plain question afterwards. Bounded to about half a minute here;
``bench/fuzz.py`` runs the same events (tests/fuzzing.py) for as long as one likes.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator

import pytest
from fuzzing import ORGANISER, check_renders, failures_logged, random_event, still_answers, vocabulary
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testbot import TestBot

from bot.content import BUNDLED_CONTENT, load
from bot.core.app import Services
from bot.core.config import Config
from bot.features import build_router

VOCABULARY = vocabulary(build_router(), load(BUNDLED_CONTENT))


@pytest.fixture
def backend() -> str:
    # The fuzz exercises the core's handling, not the store (every storage test runs on both): SQLite
    # alone keeps the suite's time.
    return "sqlite"


@pytest.fixture
async def fuzzed(config: Config, services: Services) -> AsyncIterator[TestBot]:
    """One bot for every example, so that forms, choices and subscriptions pile up between them."""
    async with TestBot.started(dataclasses.replace(config, organisers=(ORGANISER,)), services) as bot:
        yield bot


@settings(
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rng=st.randoms(use_true_random=False), count=st.integers(1, 6))
async def test_whatever_arrives_the_core_answers_and_renders(fuzzed: TestBot, rng: random.Random, count: int) -> None:
    with failures_logged() as failures:
        for _ in range(count):
            for reply in (await fuzzed.core.handle(random_event(rng, VOCABULARY))).replies:
                check_renders(reply)
        await still_answers(fuzzed.core)
    assert failures == []


def test_the_fuzz_covers_every_button_and_command() -> None:
    prefixes, commands = set(VOCABULARY.prefixes), set(VOCABULARY.commands)
    assert {"sign", "sign-consent", "pledge-take", "forget", "broadcast-send", "kb", "language"} <= prefixes
    assert {"start", "sign", "broadcast", "timezone", "sources", "mydata"} <= commands
    assert [len(text) for text in VOCABULARY.big] == [100_000] * 4
