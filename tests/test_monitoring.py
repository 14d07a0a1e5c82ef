"""/healthz and /metrics of a running bot (serve, with the Telegram adapter against the fake Bot API).

A broadcast is scraped while it goes out: the outbox fills, drains to 0, and every message is counted
sent or failed (with its reason), 429s included; no label ever holds a person, a chat or a text.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from fakes.discord import FakeDiscord, FakeGuild
from fakes.telegram import FakeTelegram, make_user, private_chat
from prometheus_client.parser import text_string_to_metric_families
from test_discord_support import discord_config
from test_discord_support import running as discord_running
from test_operations import free_port

from adapters.console import ConsoleConfig
from adapters.telegram import TelegramConfig
from adapters.telegram.adapter import TelegramAdapter
from bot.cli import broadcasts as broadcasting
from bot.core.app import Core, Services
from bot.core.config import Config, MetricsConfig, StorageConfig
from bot.delivery.settings import DeliveryConfig
from bot.operations.monitoring import Monitoring
from bot.operations.serving import serve
from bot.port.delivery import PlatformLimits

# The fixtures fake and guild.
pytest_plugins = ["test_discord_support"]

SUBSCRIBERS = [make_user(7_100_000_001 + n, f"Person {n}", language_code="en") for n in range(40)]
BLOCKED = SUBSCRIBERS[7]
BROADCAST = "Meet at the Quokka Hall at dawn: bring banners."
# Every label the metrics may carry; values of these are platforms, kinds, states, reasons, content ids.
LABELS = {"platform", "kind", "state", "reason", "petition", "pledge", "le"}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", "11" * 32)


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class Scraper:
    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        self.session = session
        self.base = f"http://127.0.0.1:{port}"

    async def health(self) -> tuple[int, str]:
        async with self.session.get(f"{self.base}/healthz") as response:
            return response.status, await response.text()

    async def metrics(self) -> tuple[str, Samples]:
        async with self.session.get(f"{self.base}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            text = await response.text()
        return text, parse(text)

    async def until_healthy(self) -> None:
        for _ in range(200):
            try:
                if (await self.health())[0] == 200:
                    return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError(f"never healthy: {await self.health()}")


def settings(tmp_path: Path, tg: FakeTelegram, port: int) -> Config:
    return Config(
        storage=StorageConfig(tmp_path / "bot.sqlite3"),
        platforms={
            "console": ConsoleConfig(enabled=False),
            "telegram": TelegramConfig(enabled=True, base_url=tg.base_url),
        },
        metrics=MetricsConfig(enabled=True, port=port),
        # 20 a second: the 40 messages take two seconds, long enough to watch the queue drain.
        delivery=DeliveryConfig(limits={"telegram": PlatformLimits(20.0, 1.0, 20.0)}),
    )


@asynccontextmanager
async def running(config: Config, tg: FakeTelegram) -> AsyncIterator[Scraper]:
    adapter = TelegramAdapter(config.section("telegram"), config.limits("telegram"), token=tg.token)
    server = asyncio.create_task(serve(config, [adapter], create_key=False))
    try:
        async with aiohttp.ClientSession() as session:
            scraper = Scraper(session, config.metrics.port)
            await scraper.until_healthy()
            yield scraper
    finally:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(server, 20)


async def test_metrics_follow_a_broadcast_until_the_outbox_is_empty(tmp_path: Path, services: Services) -> None:
    async with FakeTelegram() as tg:
        config = settings(tmp_path, tg, free_port())
        core = await Core.open(config, services=services, create_key=False)
        now = datetime.now(UTC)
        for person in SUBSCRIBERS:
            tg.add_chat(private_chat(person))
            user = core.keyring.user_id("telegram", str(person["id"]))
            await core.subscriptions.subscribe(user, "telegram", "news", str(person["id"]), "en", now)
        await core.close()
        text_file = tmp_path / "message.txt"
        text_file.write_text(BROADCAST)
        queued = await broadcasting.send(config, text_file, "news", None, None, None, dry_run=False)
        assert "No bot is running on this database" in queued
        tg.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=BLOCKED["id"])
        tg.fail("sendMessage", 429, retry_after=1)

        async with running(config, tg) as scraper:
            tg.push_message("what is naloxone", user=SUBSCRIBERS[0])
            depths: list[float] = []
            for _ in range(300):
                text, samples = await scraper.metrics()
                depth = sum(
                    value(samples, "advocacy_bot_outbox_messages", platform="telegram", state=s)
                    for s in ("pending", "sending")
                )
                depths.append(depth)
                delivered = value(samples, "advocacy_bot_messages_sent_total", platform="telegram") + value(
                    samples, "advocacy_bot_messages_failed_total", platform="telegram", reason="gone"
                )
                if delivered == len(SUBSCRIBERS) and depth == 0:
                    break
                await asyncio.sleep(0.1)
            assert (await scraper.health()) == (200, "ok\n")

    assert max(depths) > 0, depths
    assert depths[-1] == 0, depths
    assert value(samples, "advocacy_bot_messages_sent_total", platform="telegram") == len(SUBSCRIBERS) - 1
    assert value(samples, "advocacy_bot_messages_failed_total", platform="telegram", reason="gone") == 1
    assert value(samples, "advocacy_bot_rate_limited_total", platform="telegram") >= 1
    assert value(samples, "advocacy_bot_outbox_lag_seconds", platform="telegram") == 0
    assert value(samples, "advocacy_bot_updates_total", platform="telegram", kind="text") == 1
    assert value(samples, "advocacy_bot_replies_total", platform="telegram", kind="answer") >= 1
    assert value(samples, "advocacy_bot_answer_seconds_count", platform="telegram") == 1
    assert value(samples, "advocacy_bot_petition_signatures", petition="un-decriminalise") == 0
    # Nothing about anyone: no label beyond the known ones, no id, no name, no text.
    assert {name for (_, labels) in samples for name, _ in labels} <= LABELS
    for person in SUBSCRIBERS:
        assert str(person["id"]) not in text and person["first_name"] not in text
    assert "Quokka" not in text and "what is" not in text


async def test_healthz_says_why_while_telegram_cannot_be_polled(tmp_path: Path) -> None:
    async with FakeTelegram() as tg:
        config = settings(tmp_path, tg, free_port())
        async with running(config, tg) as scraper:
            # The long poll under way ends with an update; the next two polls fail, then one succeeds.
            tg.fail("getUpdates", 502, times=2)
            tg.push_message("/start", user=SUBSCRIBERS[0])
            for _ in range(100):
                status, text = await scraper.health()
                if status == 503:
                    break
                await asyncio.sleep(0.05)
            assert status == 503
            assert text.startswith("telegram: asking for updates has failed for") and "HTTP 502" in text
            # Healthy again as soon as a poll answers (this one at once: it brings an update).
            tg.push_message("/help", user=SUBSCRIBERS[0])
            await scraper.until_healthy()


async def test_monitoring_that_cannot_listen_stops_the_start_with_the_reason(tmp_path: Path) -> None:
    async with FakeTelegram() as tg:
        port = free_port()
        config = settings(tmp_path, tg, port)
        blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", port)
        try:
            from bot.operations.serving import StartError

            with pytest.raises(StartError, match=f"cannot serve /healthz and /metrics on 127.0.0.1:{port}"):
                await serve(
                    config,
                    [TelegramAdapter(config.section("telegram"), config.limits("telegram"), token=tg.token)],
                    create_key=False,
                )
        finally:
            blocker.close()
            await blocker.wait_closed()


async def test_discord_health_follows_the_gateway_and_429s_are_counted(
    fake: FakeDiscord, guild: FakeGuild, config: Config, services: Services
) -> None:
    async with discord_running(fake, discord_config(config, fake), services) as bot:
        monitoring = Monitoring(bot.core, [bot.adapter], MetricsConfig())
        assert await monitoring.problems() == []
        # discord.py waits a short 429 out by itself: the answer still comes, and the 429 is counted.
        fake.fail("POST", "/channels/*/messages", 429, retry_after=0.2)
        await bot.dm("what is naloxone", containing="Naloxone")
        samples = parse(bot.core.metrics.exposition().decode())
        assert value(samples, "advocacy_bot_rate_limited_total", platform="discord") == 1
        client = bot.adapter.client
        assert client is not None
        # What discord.py reports when the connection drops, and when it has resumed the session.
        client.dispatch("disconnect")
        await settles(monitoring, ["discord: the gateway connection is down (reconnecting)"])
        client.dispatch("resumed")
        await settles(monitoring, [])
        # A real drop: the client resumes on its own, and is healthy again.
        await fake.drop_connection()
        await fake.wait_connected()
        await settles(monitoring, [])
        assert len(fake.resumes) == 1


async def settles(monitoring: Monitoring, problems: list[str]) -> None:
    """Wait for /healthz's reasons to become ``problems`` (the events are handled in tasks of their own)."""
    for _ in range(200):
        if await monitoring.problems() == problems:
            return
        await asyncio.sleep(0.01)
    assert await monitoring.problems() == problems
