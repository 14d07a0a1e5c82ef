"""Several bot instances on one PostgreSQL database: elections and their takeover when an instance is
SIGKILLed, leases of rows in flight, reminders created once, the language choice across instances, and
sign-ups that survive the server dropping every connection."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import asyncpg
import pytest
from conftest import TEST_KEY
from testbot import TestBot

from bot.campaigns.petitions import Signer
from bot.core.app import Core, Services
from bot.core.config import Config, StorageConfig
from bot.delivery import Scheduler
from bot.delivery.broadcasts import create_broadcast
from bot.delivery.outbox import Lease, Outbox
from bot.port.clock import ManualClock
from bot.storage.database import Store

INSTANCE = Path(__file__).with_name("instance.py")
PETITION = "un-decriminalise"


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)


def on(url: str, tmp_path: Path) -> Config:
    return Config(storage=StorageConfig(url=url, data_dir=tmp_path))


@asynccontextmanager
async def instances(url: str, tmp_path: Path, services: Services, count: int) -> AsyncIterator[list[Core]]:
    """``count`` cores on one database, as separate bot processes would have (a pool and an id each)."""
    cores = [await Core.open(on(url, tmp_path), services=services) for _ in range(count)]
    try:
        yield cores
    finally:
        for core in cores:
            await core.close()


@contextmanager
def instance(*args: str, expect: str) -> Iterator[subprocess.Popen[str]]:
    """Another instance in a process of its own (tests/instance.py), once it has printed ``expect``."""
    process = subprocess.Popen(
        [sys.executable, str(INSTANCE), *args], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == expect
        yield process
    finally:
        process.kill()
        process.wait()


async def test_one_instance_is_elected_and_another_takes_over_within_seconds_of_a_sigkill(
    database_url: str,
) -> None:
    store = await Store.open(database_url)
    stop = asyncio.Event()
    elected = asyncio.Event()

    async def stand() -> None:
        async with store.elected("delivery:telegram", stop) as term:
            assert term is not None
            elected.set()
            await stop.wait()

    try:
        with instance("elect", database_url, "delivery:telegram", expect="elected") as other:
            standing = asyncio.create_task(stand())
            # The role is held by the other process: this one waits.
            await asyncio.sleep(2.5)
            assert not elected.is_set()
            other.kill()
            killed = asyncio.get_running_loop().time()
            await asyncio.wait_for(elected.wait(), 10)
            assert asyncio.get_running_loop().time() - killed < 5
        # Other roles were free all along.
        async with store.elected("scheduler", stop) as term:
            assert term is not None
    finally:
        stop.set()
        await standing
        await store.close()


async def test_the_elected_instance_sees_its_election_lost_when_its_session_ends(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        async with store.elected("polling:telegram") as term:
            assert term is not None and not term.lost.is_set()
            admin = await asyncpg.connect(database_url)
            try:
                # The server ends every session holding an advisory lock (as when its network goes).
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND pid <> pg_backend_pid()"
                )
            finally:
                await admin.close()
            await asyncio.wait_for(term.lost.wait(), 10)
    finally:
        await store.close()


async def test_a_dead_instances_rows_in_flight_are_claimed_again_after_their_lease(
    database_url: str, tmp_path: Path, services: Services
) -> None:
    async with instances(database_url, tmp_path, services, 1) as (core,):
        now = datetime.now(UTC)
        for n in range(30):
            await core.subscriptions.subscribe(f"person-{n}", "telegram", "news", str(1000 + n), "en", now)
        outbox = Outbox(core.store, core.keyring)
        created = await create_broadcast(outbox, topic="news", body="Hello", language=None, platform=None, now=now)
        assert created.queued == 30
        lease = timedelta(seconds=30)
        with instance("claim", database_url, "telegram", "10", "30", expect="claimed 10"):
            pass  # SIGKILLed with its 10 rows "sending"
        # Before the lease runs out, only the rows nobody holds are handed out.
        first = Lease(lease)
        claimed, _, _ = await outbox.claim("telegram", datetime.now(UTC), 100, timedelta(hours=1), first)
        assert (len(claimed), first.abandoned) == (20, 0)
        # Once it has, the dead instance's rows are sent again (at least once, as configured).
        later = Lease(lease)
        again, _, _ = await outbox.claim("telegram", datetime.now(UTC) + lease, 100, timedelta(hours=1), later)
        assert (len(again), later.abandoned) == (10, 10)
        assert {row.address for row in claimed + again} == {str(1000 + n) for n in range(30)}
        # And those still claimed by this live instance are not taken from it.
        none, _, _ = await outbox.claim("telegram", datetime.now(UTC) + 3 * lease, 100, timedelta(hours=1), Lease())
        assert none == []


async def test_reminders_are_created_once_whatever_the_number_of_instances(
    database_url: str, tmp_path: Path, services: Services
) -> None:
    async with instances(database_url, tmp_path, services, 3) as cores:
        day = next(day for day in cores[0].content.campaigns.calendar.values() if day.remind)
        on = day.in_year(2027) - timedelta(days=day.remind[0])
        when = datetime.combine(on, time(cores[0].reminders.hour), UTC)
        for core in cores:
            core.clock = ManualClock(when)
        for n in range(20):
            await cores[n % 3].subscriptions.subscribe(f"p{n}", "console", "action-days", f"c{n}", "en", when)
        await asyncio.gather(*(Scheduler(core, {}).tick() for core in cores for _ in range(3)))
        rows = await cores[0].store.rows(
            "SELECT b.reminder_key, COUNT(o.id), COUNT(DISTINCT o.user_id) FROM broadcasts b"
            " JOIN outbox o ON o.broadcast_id = b.id GROUP BY b.reminder_key"
        )
        assert rows and all(int(row[1]) == int(row[2]) == 20 for row in rows), [tuple(r) for r in rows]
        keys = await cores[0].store.rows("SELECT reminder_key, COUNT(*) FROM broadcasts GROUP BY reminder_key")
        assert all(int(row[1]) == 1 for row in keys)


async def test_only_one_instance_schedules(database_url: str, tmp_path: Path, services: Services) -> None:
    ticks: list[int] = []
    async with instances(database_url, tmp_path, services, 3) as cores:
        stop = asyncio.Event()
        schedulers = [Scheduler(core, {}) for core in cores]
        for n, scheduler in enumerate(schedulers):

            async def tick(n: int = n) -> None:
                ticks.append(n)

            scheduler.tick = tick  # type: ignore[method-assign]
        running = [asyncio.create_task(scheduler.run(stop)) for scheduler in schedulers]
        for _ in range(5):
            await asyncio.sleep(0.2)
            for scheduler in schedulers:
                scheduler.wake.set()
        stop.set()
        await asyncio.gather(*running)
    assert len(ticks) > 1 and len(set(ticks)) == 1


async def test_a_language_chosen_through_one_instance_counts_on_the_next_message_to_another(
    database_url: str, tmp_path: Path, services: Services
) -> None:
    async with instances(database_url, tmp_path, services, 2) as (first, second):
        on_first, on_second = TestBot(first, "traveller"), TestBot(second, "traveller")
        english = await on_second.ask("/help")
        await on_first.ask("/language es")
        spanish = await on_second.ask("/help")
        assert spanish != english
        assert spanish == await TestBot(first, "traveller").ask("/help")


async def test_sign_ups_survive_the_server_dropping_every_connection(
    database_url: str, tmp_path: Path, services: Services
) -> None:
    async with instances(database_url, tmp_path, services, 1) as (core,):
        now = datetime.now(UTC)

        async def sign(n: int) -> bool:
            await asyncio.sleep(n * 0.002)
            signer = Signer(f"Person {n}", None, "PT")
            signed = await core.signatures.sign(PETITION, f"signer-{n}", "console", signer, 1, now)
            return signed.recorded

        async def drop_every_connection() -> None:
            await asyncio.sleep(0.15)
            admin = await asyncpg.connect(database_url)
            try:
                dropped = await admin.fetchval(
                    "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            finally:
                await admin.close()
            assert dropped >= 1

        results = await asyncio.gather(*(sign(n) for n in range(300)), drop_every_connection())
        recorded = results[:-1]
        # Every sign-up went through (retried on a new connection), and each is stored exactly once.
        assert all(recorded)
        assert await core.signatures.signature_count(PETITION) == 300
        rows = await core.store.rows("SELECT COUNT(*), COUNT(DISTINCT user_id) FROM signatures")
        assert tuple(rows[0]) == (300, 300)
