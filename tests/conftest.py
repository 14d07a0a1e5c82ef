from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from testbot import TestBot

from bot.content import BUNDLED_CONTENT, Content, load
from bot.core.app import Services, build_services
from bot.core.config import Config, StorageConfig

# Tests never touch the internet; local test servers are reached directly.
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
TEST_KEY = "11" * 32


@pytest.fixture(scope="session")
def content() -> Content:
    return load(BUNDLED_CONTENT)


@pytest.fixture(scope="session")
def services(content: Content) -> Services:
    return build_services(Config(), content)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)
    return Config(storage=StorageConfig(tmp_path / "bot.sqlite3"))


@pytest.fixture
async def bot(config: Config, services: Services) -> AsyncIterator[TestBot]:
    async with TestBot.started(config, services) as test_bot:
        yield test_bot
