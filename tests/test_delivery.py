"""The delivery engine and the scheduler, on a hand-moved clock: pacing, errors, crashes, reminders."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict, Unpack

import pytest

from bot.core.app import Core, Services
from bot.core.config import Config, StorageConfig
from bot.delivery import ChatMoved, Engine, PermanentFailure, RecipientGone, RetryAfter, Scheduler, TemporaryFailure
from bot.delivery.outbox import Claimed, Outbox, Outcome
from bot.delivery.pacing import RECOVERY_SECONDS, RECOVERY_STEP, Pacer
from bot.delivery.settings import DeliveryConfig
from bot.port.clock import ManualClock
from bot.port.delivery import PlatformLimits
from bot.port.events import Reply
from bot.port.markup import plain

TELEGRAM = PlatformLimits(25.0, 1.0, 20.0)


class RecordingSender:
    """A platform that records what it gets and when, and fails as a test scripts it."""

    platform = "telegram"

    def __init__(self, clock: ManualClock, limits: PlatformLimits = TELEGRAM) -> None:
        self.clock = clock
        self._limits = limits
        self.sent: list[tuple[str, str, float]] = []
        self.attempts: list[tuple[str, float]] = []
        # address -> errors to raise, one per attempt, before succeeding
        self.failures: dict[str, list[Exception]] = {}

    def limits(self) -> PlatformLimits:
        return self._limits

    def is_group(self, address: str) -> bool:
        return address.startswith("-")

    async def send(self, address: str, reply: Reply) -> None:
        now = self.clock().timestamp()
        self.attempts.append((address, now))
        pending = self.failures.get(address)
        if pending:
            raise pending.pop(0)
        self.sent.append((address, plain(reply.text), now))

    def addresses(self) -> list[str]:
        return [address for address, _, _ in self.sent]


def max_in_window(times: list[float], window: float) -> int:
    """The most sends in any sliding window [t, t + window)."""
    times = sorted(times)
    best = start = 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2027, 6, 19, 8, 0, tzinfo=UTC))


class DeliveryOptions(TypedDict, total=False):
    """The options of DeliveryConfig these tests set."""

    in_flight: str
    window: int
    max_attempts: int
    retry_base_seconds: float


def _config(tmp_path: Path, **delivery: Unpack[DeliveryOptions]) -> Config:
    return Config(storage=StorageConfig(tmp_path / "bot.sqlite3"), delivery=DeliveryConfig(**delivery))


@pytest.fixture
async def core(tmp_path: Path, services: Services, clock: ManualClock, config: Config) -> AsyncIterator[Core]:
    opened = await Core.open(_config(tmp_path), services=services)
    opened.clock = clock
    try:
        yield opened
    finally:
        await opened.close()


def engine_for(core: Core, sender: RecordingSender) -> Engine:
    return Engine(core, sender, rng=random.Random(7))


async def hand_out(engine: Engine, claimed: list[Claimed]) -> list[Outcome]:
    """Send claimed rows as the engine does, without recording what happened (as if it then died)."""
    messages: dict[tuple[int, str], Reply | None] = {}
    return list(await asyncio.gather(*[await engine._start(row, messages) for row in claimed]))


async def subscribe(core: Core, count: int, topic: str = "news", *, first: int = 0, lang: str = "en") -> list[str]:
    addresses = []
    for index in range(first, first + count):
        address = str(1000 + index)
        user = core.keyring.user_id("telegram", address)
        await core.subscriptions.subscribe(user, "telegram", topic, address, lang, core.clock())
        addresses.append(address)
    return addresses


async def broadcast(core: Core, body: str = "Join us on 26 June", topic: str = "news") -> int:
    outbox = Outbox(core.store, core.keyring)
    now = core.clock()
    broadcast_id = await outbox.create(kind="broadcast", topic=topic, body=body, send_at=now, now=now)
    assert broadcast_id is not None
    await Scheduler(core, {}).tick()
    return broadcast_id


async def test_fan_out_reaches_every_subscriber_once_within_the_limits(core: Core, clock: ManualClock) -> None:
    addresses = await subscribe(core, 120)
    sender = RecordingSender(clock)
    await broadcast(core)
    await engine_for(core, sender).run_once()
    assert sorted(sender.addresses()) == sorted(addresses)
    times = [t for _, _, t in sender.sent]
    assert max_in_window(times, 1.0) <= 25
    # Paced, not trickled: 120 messages at 25/s take about 4.8 s of (virtual) time.
    assert 4.0 <= max(times) - min(times) <= 6.0
    assert "Join us on 26 June" in sender.sent[0][1]
    assert "Send STOP to stop all messages." in sender.sent[0][1]


async def test_per_chat_and_per_group_limits(core: Core, clock: ManualClock) -> None:
    group = "-100500"
    await core.subscriptions.subscribe(
        core.keyring.user_id("telegram", group), "telegram", "news", group, "en", clock()
    )
    sender = RecordingSender(clock)
    engine = engine_for(core, sender)
    for index in range(22):
        await broadcast(core, body=f"update {index}")
        await engine.run_once()
    times = [t for _, _, t in sender.sent]
    assert len(times) == 22
    assert max_in_window(times, 1.0) <= 1
    assert max_in_window(times, 60.0) <= 20
    assert times[20] - times[0] >= 60.0


async def test_unsubscribing_after_queueing_skips_the_message(core: Core, clock: ManualClock) -> None:
    stays, leaves = await subscribe(core, 2)
    broadcast_id = await broadcast(core)
    await core.subscriptions.unsubscribe(core.keyring.user_id("telegram", leaves))
    sender = RecordingSender(clock)
    await engine_for(core, sender).run_once()
    assert sender.addresses() == [stays]
    assert await Outbox(core.store, core.keyring).counts(broadcast_id) == {"sent": 1, "skipped": 1}


async def test_retry_after_is_obeyed_exactly(core: Core, clock: ManualClock) -> None:
    first, *others = await subscribe(core, 5)
    sender = RecordingSender(clock, PlatformLimits(1000.0))
    sender.failures[first] = [RetryAfter(3.0)]
    start = clock().timestamp()
    await broadcast(core)
    engine = engine_for(core, sender)
    await engine.run_once()
    await engine.run_once()  # nothing is due before the 3 s are up
    clock.advance(seconds=3)
    await engine.run_once()
    assert sorted(sender.addresses()) == sorted([first, *others])
    retried = [t for address, t in sender.attempts if address == first]
    assert retried[1] - retried[0] >= 3.0
    # No send started inside the retry-after window after the 429.
    assert not [t for _, t in sender.attempts if retried[0] < t < retried[0] + 3.0]
    assert retried[0] - start < 0.01  # at once (starts are spread over the second: 1 ms apart here)


async def test_temporary_errors_are_retried_with_backoff_then_succeed(core: Core, clock: ManualClock) -> None:
    (address,) = await subscribe(core, 1)
    sender = RecordingSender(clock)
    sender.failures[address] = [TemporaryFailure("502"), TemporaryFailure("timeout")]
    broadcast_id = await broadcast(core)
    engine = engine_for(core, sender)
    await engine.run_once()
    assert sender.sent == []
    waits = []
    for _ in range(2):
        due = await engine.outbox.next_due("telegram")
        assert due is not None
        waits.append((due - clock()).total_seconds())
        clock.now = due
        await engine.run_once()
    assert sender.addresses() == [address]
    # Equal jitter on a doubling ceiling: 1-2 s after the first failure, 2-4 s after the second.
    assert 1.0 <= waits[0] <= 2.0 and 2.0 <= waits[1] <= 4.0
    assert await engine.outbox.counts(broadcast_id) == {"sent": 1}


async def test_temporary_errors_give_up_after_max_attempts(
    tmp_path: Path, services: Services, clock: ManualClock
) -> None:
    core = await Core.open(_config(tmp_path, max_attempts=3, retry_base_seconds=1.0), services=services)
    core.clock = clock
    try:
        (address,) = await subscribe(core, 1)
        sender = RecordingSender(clock)
        sender.failures[address] = [TemporaryFailure("502")] * 5
        broadcast_id = await broadcast(core)
        engine = engine_for(core, sender)
        for _ in range(5):
            await engine.run_once()
            clock.advance(minutes=10)
        assert len(sender.attempts) == 3
        assert await engine.outbox.counts(broadcast_id) == {"failed": 1}
    finally:
        await core.close()


async def test_a_permanent_error_is_not_retried(core: Core, clock: ManualClock) -> None:
    bad, good = await subscribe(core, 2)
    sender = RecordingSender(clock)
    sender.failures[bad] = [PermanentFailure("400 bad request")]
    broadcast_id = await broadcast(core)
    engine = engine_for(core, sender)
    await engine.run_once()
    clock.advance(hours=1)
    await engine.run_once()
    assert sender.addresses() == [good]
    assert len([a for a, _ in sender.attempts if a == bad]) == 1
    assert await engine.outbox.counts(broadcast_id) == {"sent": 1, "failed": 1}


async def test_a_blocked_user_is_unsubscribed_from_everything(core: Core, clock: ManualClock) -> None:
    (address,) = await subscribe(core, 1)
    user = core.keyring.user_id("telegram", address)
    await core.subscriptions.subscribe(user, "telegram", "action-days", address, "en", clock())
    sender = RecordingSender(clock)
    sender.failures[address] = [RecipientGone("403 bot was blocked by the user")]
    await broadcast(core)
    await engine_for(core, sender).run_once()
    assert await core.subscriptions.topics_of(user) == []
    await broadcast(core, body="second")
    await engine_for(core, sender).run_once()
    assert len(sender.attempts) == 1


async def test_a_moved_chat_gets_the_message_at_its_new_address(core: Core, clock: ManualClock) -> None:
    old = "-4001"
    user = core.keyring.user_id("telegram", old)
    await core.subscriptions.subscribe(user, "telegram", "news", old, "en", clock())
    sender = RecordingSender(clock)
    sender.failures[old] = [ChatMoved("-1004001")]
    await broadcast(core)
    engine = engine_for(core, sender)
    await engine.run_once()
    clock.advance(seconds=1)
    await engine.run_once()
    assert sender.addresses() == ["-1004001"]
    await broadcast(core, body="next")
    clock.advance(minutes=5)
    await engine.run_once()
    assert sender.addresses()[-1] == "-1004001"


async def test_cancelling_midway_stops_what_was_not_handed_out(core: Core, clock: ManualClock) -> None:
    await subscribe(core, 60)
    sender = RecordingSender(clock)
    broadcast_id = await broadcast(core)
    engine = engine_for(core, sender)
    # One window (25 rows) goes out, then the organiser cancels.
    claimed, _, _ = await engine.outbox.claim("telegram", clock(), 25, timedelta(hours=6))
    outcomes = await hand_out(engine, claimed)
    await engine.outbox.record(outcomes, clock())
    assert await engine.outbox.cancel(broadcast_id, clock()) == 35
    await engine.run_once()
    assert len(sender.sent) == 25
    assert await engine.outbox.counts(broadcast_id) == {"sent": 25, "cancelled": 35}
    assert await engine.outbox.cancel(broadcast_id, clock()) is None


@pytest.mark.parametrize(("mode", "expected"), [("at-least-once", "sent"), ("at-most-once", "failed")])
async def test_restart_after_a_crash_with_pending_and_in_flight_rows(
    tmp_path: Path, services: Services, clock: ManualClock, mode: str, expected: str
) -> None:
    config = _config(tmp_path, in_flight=mode, window=10)
    core = await Core.open(config, services=services)
    core.clock = clock
    await subscribe(core, 30)
    broadcast_id = await broadcast(core)
    sender = RecordingSender(clock)
    engine = engine_for(core, sender)
    # 10 rows are handed to the platform, then the process dies before recording them.
    claimed, _, _ = await engine.outbox.claim("telegram", clock(), config.delivery.window, timedelta(hours=6))
    await hand_out(engine, claimed)
    await core.close()

    core = await Core.open(config, services=services)
    core.clock = clock
    try:
        engine = engine_for(core, sender)
        assert await engine.recover() == 10
        await engine.run_once()
        counts = await engine.outbox.counts(broadcast_id)
        delivered = Counter(sender.addresses())
        assert len(delivered) == 30  # nobody was skipped...
        if mode == "at-least-once":
            assert counts == {"sent": 30}
            assert sum(delivered.values()) == 40  # ...and only the 10 in flight got it twice
        else:
            assert counts == {"sent": 20, "failed": 10}
            assert sum(delivered.values()) == 30
        assert expected in counts
    finally:
        await core.close()


async def test_a_finished_broadcast_is_reported_to_its_organiser(core: Core, clock: ManualClock) -> None:
    await subscribe(core, 3)
    sender = RecordingSender(clock)
    engine = engine_for(core, sender)
    outbox = Outbox(core.store, core.keyring)
    await outbox.create(
        kind="broadcast", topic="news", body="Hi", send_at=clock(), now=clock(), report_to=("telegram", "42")
    )
    scheduler = Scheduler(core, {"telegram": engine})
    await scheduler.tick()
    await engine.run_once()
    clock.advance(seconds=5)
    await scheduler.tick()
    report = [text for address, text, _ in sender.sent if address == "42"]
    assert report == ["Broadcast #1 is done: 3 sent, 0 failed, 0 skipped, in 0:00:05."]


async def test_a_scheduled_broadcast_waits_for_its_time(core: Core, clock: ManualClock) -> None:
    await subscribe(core, 2)
    outbox = Outbox(core.store, core.keyring)
    await outbox.create(kind="broadcast", topic="news", body="Later", send_at=clock() + timedelta(hours=2), now=clock())
    sender = RecordingSender(clock)
    engine = engine_for(core, sender)
    scheduler = Scheduler(core, {"telegram": engine})
    await scheduler.tick()
    await engine.run_once()
    assert sender.sent == []
    clock.advance(hours=2)
    await scheduler.tick()
    await engine.run_once()
    assert len(sender.sent) == 2


# ---------------------------------------------------------------- reminders


async def subscribe_in(core: Core, zones: dict[str, str]) -> dict[str, str]:
    """Subscribe one person per time zone to action days; returns zone -> address."""
    addresses = {}
    for index, zone in enumerate(zones.values()):
        address = str(5000 + index)
        user = core.keyring.user_id("telegram", address)
        await core.subscriptions.subscribe(user, "telegram", "action-days", address, "en", core.clock())
        await core.people.set_timezone(user, "telegram", zone, core.clock())
        addresses[zone] = address
    return addresses


async def run_until(core: Core, engine: Engine, clock: ManualClock, end: datetime, step: timedelta) -> None:
    scheduler = Scheduler(core, {"telegram": engine})
    while clock() < end:
        await scheduler.tick()
        await engine.run_once()
        clock.now = min(end, clock() + step)


async def test_reminders_come_at_the_local_hour_across_a_dst_change(core: Core, clock: ManualClock) -> None:
    # International Drug Users' Day, 1 November 2027: the 7-days-before reminder (25 October) is
    # before Europe leaves summer time (31 October), the on-the-day one after; New York changes on
    # 7 November, Tokyo never.
    clock.now = datetime(2027, 10, 22, 0, 0, tzinfo=UTC)
    zones = {"lisbon": "Europe/Lisbon", "new_york": "America/New_York", "tokyo": "Asia/Tokyo"}
    addresses = await subscribe_in(core, zones)
    sender = RecordingSender(clock)
    engine = engine_for(core, sender)
    await run_until(core, engine, clock, datetime(2027, 11, 3, tzinfo=UTC), timedelta(minutes=15))
    got = {}
    for address, text, at in sender.sent:
        if "International Drug Users' Day" in text:
            when = "before" if "In 7 days" in text else "today"
            got[(address, when)] = datetime.fromtimestamp(at, UTC)
    assert len(got) == 6
    assert got[(addresses["Europe/Lisbon"], "before")] == datetime(2027, 10, 25, 9, 0, tzinfo=UTC)  # 10:00 WEST
    assert got[(addresses["Europe/Lisbon"], "today")] == datetime(2027, 11, 1, 10, 0, tzinfo=UTC)  # 10:00 WET
    assert got[(addresses["America/New_York"], "before")] == datetime(2027, 10, 25, 14, 0, tzinfo=UTC)
    assert got[(addresses["America/New_York"], "today")] == datetime(2027, 11, 1, 14, 0, tzinfo=UTC)
    assert got[(addresses["Asia/Tokyo"], "before")] == datetime(2027, 10, 25, 1, 0, tzinfo=UTC)
    assert got[(addresses["Asia/Tokyo"], "today")] == datetime(2027, 11, 1, 1, 0, tzinfo=UTC)


async def test_each_reminder_fires_once_per_subscriber_per_year(core: Core, clock: ManualClock) -> None:
    clock.now = datetime(2027, 6, 18, 0, 0, tzinfo=UTC)
    (address,) = await subscribe(core, 1, "action-days")
    sender = RecordingSender(clock)
    engine = engine_for(core, sender)
    await run_until(core, engine, clock, datetime(2027, 6, 28, tzinfo=UTC), timedelta(hours=1))
    about = [text for _, text, _ in sender.sent if "Support. Don't Punish" in text]
    assert len(about) == 2
    assert about[0].startswith("In 7 days: Support. Don't Punish: Global Day of Action (2027-06-26)")
    assert about[1].startswith("Today: Support. Don't Punish: Global Day of Action")
    assert "https://supportdontpunish.org/" in about[1]
    # A year later, once more each.
    clock.now = datetime(2028, 6, 18, 0, 0, tzinfo=UTC)
    await run_until(core, engine, clock, datetime(2028, 6, 28, tzinfo=UTC), timedelta(hours=6))
    assert len([text for _, text, _ in sender.sent if "Support. Don't Punish" in text]) == 4
    assert {a for a, _, _ in sender.sent} == {address}


@pytest.mark.parametrize(("down_hours", "sent"), [(5, True), (7, False)])
async def test_reminders_missed_during_downtime(
    core: Core, clock: ManualClock, caplog: pytest.LogCaptureFixture, down_hours: int, sent: bool
) -> None:
    caplog.set_level(logging.INFO)
    await subscribe(core, 1, "action-days")
    sender = RecordingSender(clock)
    engine = engine_for(core, sender)
    scheduler = Scheduler(core, {"telegram": engine})
    # The 26 June reminder is due 19 June at 10:00 UTC. The bot queues it, then is down.
    clock.now = datetime(2027, 6, 19, 8, 0, tzinfo=UTC)
    await scheduler.tick()
    clock.now = datetime(2027, 6, 19, 10, 0, tzinfo=UTC) + timedelta(hours=down_hours)
    await scheduler.tick()
    await engine.run_once()
    assert bool([t for _, t, _ in sender.sent if "In 7 days" in t]) is sent
    if not sent:
        assert "skipped 1 telegram reminder(s) due more than the grace period ago" in caplog.text


async def test_a_late_subscriber_is_not_sent_a_stale_reminder(
    core: Core, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    clock.now = datetime(2027, 6, 26, 20, 0, tzinfo=UTC)  # ten hours after the on-the-day reminder
    await subscribe(core, 1, "action-days")
    sender = RecordingSender(clock)
    engine = engine_for(core, sender)
    await Scheduler(core, {"telegram": engine}).tick()
    await engine.run_once()
    assert sender.sent == []
    assert "skipped, due more than the grace period ago" in caplog.text


def test_max_in_window_counts_sliding_windows() -> None:
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5], 1.0) == 3
    assert max_in_window([], 1.0) == 0


async def test_engine_handles_an_empty_outbox(core: Core, clock: ManualClock) -> None:
    assert await engine_for(core, RecordingSender(clock)).run_once() == 0


async def test_a_scheduled_broadcast_survives_a_restart(tmp_path: Path, services: Services, clock: ManualClock) -> None:
    config = _config(tmp_path)
    core = await Core.open(config, services=services)
    core.clock = clock
    await subscribe(core, 2)
    outbox = Outbox(core.store, core.keyring)
    await outbox.create(kind="broadcast", topic="news", body="Later", send_at=clock() + timedelta(days=1), now=clock())
    await core.close()
    clock.advance(days=1)
    core = await Core.open(config, services=services)
    core.clock = clock
    try:
        sender = RecordingSender(clock)
        engine = engine_for(core, sender)
        await Scheduler(core, {"telegram": engine}).tick()
        await engine.run_once()
        assert len(sender.sent) == 2
    finally:
        await core.close()


def test_the_pace_drops_after_a_429_and_climbs_back_slowly() -> None:
    pacer = Pacer(PlatformLimits(40.0))
    assert pacer.pace == 40
    pacer.slow_down(100.0)
    assert pacer.pace == 30
    pacer.slow_down(100.5)
    assert pacer.pace == 22
    pacer.wait(104.0, "chat", False)
    assert pacer.pace == 22  # not before RECOVERY_SECONDS without another 429
    pacer.wait(100.5 + 3 * RECOVERY_SECONDS, "chat", False)
    assert pacer.pace == int(40 * (0.75 * 0.75 + 3 * RECOVERY_STEP))
    pacer.wait(1000.0, "chat", False)
    assert pacer.pace == 40


def test_a_send_counts_until_a_second_after_its_response() -> None:
    pacer = Pacer(PlatformLimits(2.0))
    pacer.started(0.0, "a", False)
    pacer.started(0.5, "b", False)
    assert pacer.wait(0.6, "c", False) > 0  # both in flight: the platform may count them any moment
    pacer.finished(0.7, "a", False)
    assert pacer.wait(1.7, "c", False) == 0.0  # "a" arrived by 0.7: a second later it no longer counts
    pacer.started(1.7, "c", False)
    pacer.finished(2.0, "b", False)  # a slow response: "b" may have arrived as late as 2.0
    assert pacer.wait(2.1, "d", False) == pytest.approx(0.9)  # "b" counts until 3.0, "c" is in flight
