from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pgcluster import Cluster, Unavailable, binaries
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


# Every test that touches the store runs on both: SQLite (the default) and PostgreSQL.
BACKENDS = ("sqlite", "postgresql")
# Each test's PostgreSQL database is a copy of this one, made once with every migration applied.
TEMPLATE = "advocacy_template"
_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster for the session. Missing PostgreSQL fails in CI, skips elsewhere."""
    try:
        cluster = Cluster.start()
    except Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is needed in CI: {exc}")
        pytest.skip(f"no PostgreSQL to test with: {exc}")
    try:
        cluster.psql(f"CREATE DATABASE {TEMPLATE}")
        asyncio.run(_migrated(cluster.url(TEMPLATE)))
        yield cluster
    finally:
        cluster.stop()


async def _migrated(url: str) -> None:
    from bot.storage.database import Store

    store = await Store.open(url)
    await store.close()


async def _admin(cluster: Cluster, sql: str) -> None:
    connection = await asyncpg.connect(cluster.url())
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture
def database_url(postgres: Cluster) -> Iterator[str]:
    """A fresh PostgreSQL database of its own for one test, dropped after it."""
    name = f"test_{os.getpid()}_{next(_databases)}"
    asyncio.run(_admin(postgres, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
    try:
        yield postgres.url(name)
    finally:
        asyncio.run(_admin(postgres, f"DROP DATABASE {name} WITH (FORCE)"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """What ``Store.open`` opens in this test: an SQLite file, or a fresh PostgreSQL database."""
    if backend == "postgresql":
        return str(request.getfixturevalue("database_url"))
    return tmp_path / "bot.sqlite3"


@pytest.fixture
def config(store_target: Path | str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)
    monkeypatch.delenv("ADVOCACY_BOT_DATABASE_URL", raising=False)
    if isinstance(store_target, str):
        return Config(storage=StorageConfig(url=store_target, data_dir=tmp_path))
    return Config(storage=StorageConfig(store_target))


@pytest.fixture
async def bot(config: Config, services: Services) -> AsyncIterator[TestBot]:
    async with TestBot.started(config, services) as test_bot:
        yield test_bot


def stored(config: Config) -> bytes:
    """Everything the database holds, as someone who copied it would read it: the SQLite files, or a
    dump of the PostgreSQL database (byte strings in hex, text as it is)."""
    if config.server_url is None:
        path = config.store_path
        return b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))
    return subprocess.run(
        [str(binaries() / "pg_dump"), "--no-owner", "--dbname", config.server_url], capture_output=True, check=True
    ).stdout


async def query(config: Config, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows of one query on the configuration's database (the bot stopped or running)."""
    from bot.storage.database import Store

    store = await Store.open(config.database)
    try:
        return [tuple(row) for row in await store.rows(sql, params)]
    finally:
        await store.close()


async def emptied(config: Config) -> None:
    """The configuration's PostgreSQL database without any table (SQLite files start empty anyway)."""
    if config.server_url is not None:
        connection = await asyncpg.connect(config.server_url)
        try:
            await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await connection.close()
