"""The delivery engine: one per platform, sending outbox rows at the platform's pace.

It claims at most a window of due rows (marked "sending" before anything is sent), paces every
send through sliding-window limits, obeys a platform's retry-after exactly, retries temporary
errors with capped exponential back-off and jitter, gives up on permanent ones, unsubscribes
people who are gone, and records every outcome in one transaction per window.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from datetime import timedelta

from bot.delivery.host import Host
from bot.delivery.messages import message_for
from bot.delivery.outbox import Claimed, Lease, Outbox, Outcome
from bot.delivery.pacing import Pacer, backoff
from bot.port.clock import idle
from bot.port.delivery import ChatMoved, PermanentFailure, RecipientGone, RetryAfter, Sender
from bot.port.events import Reply

log = logging.getLogger(__name__)

# How often an idle engine looks for work that another process (the CLI) may have queued.
POLL_SECONDS = 5.0


class Engine:
    def __init__(self, core: Host, sender: Sender, *, rng: random.Random | None = None) -> None:
        self.core = core
        self.sender = sender
        self.platform = sender.platform
        self.config = core.delivery
        self.outbox = Outbox(core.store, core.keyring)
        self.pacer = Pacer(sender.limits())
        self.clock = core.clock
        self.rng = rng or random.Random()
        self.grace = timedelta(hours=core.reminders.grace_hours)
        # Set when new work is queued, so an idle engine starts at once.
        self.wake = asyncio.Event()
        # Called after rows were settled (the scheduler then reports finished broadcasts promptly).
        self.after_batch: Callable[[], None] = lambda: None
        # Log records name the platform in a field of their own too (logging.format: json).
        self._log_extra = {"platform": self.platform}

    def _seconds(self) -> float:
        return self.clock.monotonic()

    def _lease(self) -> Lease:
        return Lease(timedelta(seconds=self.config.lease_seconds), self.config.in_flight == "at-least-once")

    async def recover(self) -> int:
        """Settle rows a crash left "sending", as ``delivery.in_flight`` says."""
        lease = self._lease()
        settled = await self.outbox.recover(self.platform, lease.at_least_once, self.clock())
        self._abandoned(settled)
        return settled

    def _abandoned(self, settled: int) -> None:
        if settled:
            what = "will be sent again" if self._lease().at_least_once else "are counted as failed"
            log.warning(
                "%d %s message(s) were in flight at a crash: they %s",
                settled,
                self.platform,
                what,
                extra=self._log_extra,
            )

    async def run_once(self) -> int:
        """Send every row due now; returns how many rows were settled (sent, failed, skipped...).

        At most ``delivery.window`` rows are "sending" at any moment (the most a crash leaves in
        doubt), but sending does not stop at the end of each window to wait for its slowest
        response: once half a window has finished, its outcomes are recorded and as many rows
        claimed, while the other half is still in flight.
        """
        handled = 0
        window = self.config.window
        sending: set[asyncio.Task[Outcome]] = set()
        settled: list[Outcome] = []
        messages: dict[tuple[int, str], Reply | None] = {}
        try:
            while True:
                drained = False
                room = window - len(sending)
                if 2 * room >= window:
                    if settled:
                        await self.outbox.record(settled, self.clock())
                        handled += sum(outcome.state != "pending" for outcome in settled)
                        self._count(settled)
                        settled = []
                    lease = self._lease()
                    claimed, skipped, expired = await self.outbox.claim(
                        self.platform, self.clock(), room, self.grace, lease
                    )
                    if lease.abandoned:
                        self._abandoned(lease.abandoned)
                    if expired:
                        log.warning(
                            "skipped %d %s reminder(s) due more than the grace period ago",
                            expired,
                            self.platform,
                            extra=self._log_extra,
                        )
                    handled += skipped + expired
                    if not claimed and (skipped or expired):
                        continue
                    # Nothing more is due now: see what is in flight through, then look once more.
                    drained = not claimed
                    for row in claimed:
                        sending.add(await self._start(row, messages))
                if not sending:
                    return handled
                finished, sending = await asyncio.wait(
                    sending, return_when=asyncio.ALL_COMPLETED if drained else asyncio.FIRST_COMPLETED
                )
                settled.extend(task.result() for task in finished)
        finally:
            for task in sending:
                task.cancel()

    def _count(self, outcomes: Sequence[Outcome]) -> None:
        metrics = self.core.metrics
        for outcome in outcomes:
            if outcome.state == "sent":
                metrics.sent(self.platform)
            elif outcome.state == "failed":
                metrics.failed(self.platform, outcome.error or "unknown")

    async def run(self, stop: asyncio.Event) -> None:
        """Send for the platform whenever this instance is the one elected to (the platform's pace
        belongs to the bot's token, which every instance shares), until ``stop``."""
        while not stop.is_set():
            async with self.core.store.elected(f"delivery:{self.platform}", stop) as term:
                if term is not None:
                    await self._serve(stop, term.lost)

    async def _serve(self, stop: asyncio.Event, lost: asyncio.Event) -> None:
        await self.recover()
        while not stop.is_set() and not lost.is_set():
            # Cleared before looking for work: a wake-up during the look is not lost.
            self.wake.clear()
            try:
                if await self.run_once():
                    self.after_batch()
                next_due = await self.outbox.next_due(self.platform)
            except Exception:
                log.exception("the %s delivery engine failed; retrying", self.platform, extra=self._log_extra)
                next_due = None
            delay = POLL_SECONDS
            if next_due is not None:
                delay = min(POLL_SECONDS, max(0.0, (next_due - self.clock()).total_seconds()))
            await idle(delay, stop, self.wake, lost)

    async def _start(self, row: Claimed, messages: dict[tuple[int, str], Reply | None]) -> asyncio.Task[Outcome]:
        """Start sending ``row`` when the pace allows; the task's result is what happened to it."""
        key = (row.broadcast.id, row.language)
        if key not in messages:
            messages[key] = message_for(self.core.locales, self.core.content.campaigns, row.broadcast, row.language)
        message = messages[key]
        if message is None:
            return asyncio.ensure_future(_settled(Outcome(row.id, "failed", row.attempts, "no-content")))
        group = self.sender.is_group(row.address)
        # Only the run loop waits on the clock: sends start one at a time, each when the pace allows.
        await self._wait_turn(row.address, group)
        started = asyncio.Event()
        task = asyncio.ensure_future(self._send(row, message, group, started))
        # The next one waits until this one has really started: the pacer counts actual starts.
        await started.wait()
        return task

    async def _wait_turn(self, address: str, group: bool) -> None:
        while (wait := self.pacer.wait(self._seconds(), address, group)) > 0:
            await self.clock.sleep(wait)

    async def _send(self, row: Claimed, message: Reply, group: bool, started: asyncio.Event) -> Outcome:
        attempts = row.attempts + 1
        self.pacer.started(self._seconds(), row.address, group)
        started.set()
        try:
            await self.sender.send(row.address, message)
        except RetryAfter as exc:
            # Nothing more is started before the platform's time is up, and this one goes again then;
            # and the pace drops for a while, in case the platform counts differently than configured.
            self.pacer.pause_until(self._seconds() + exc.seconds)
            self.pacer.slow_down(self._seconds())
            return Outcome(
                row.id, "pending", row.attempts, "retry-after", self.clock() + timedelta(seconds=exc.seconds)
            )
        except ChatMoved as exc:
            await self.outbox.readdress(row.id, row.user_id, self.platform, exc.new_address)
            return Outcome(row.id, "pending", attempts, "chat-moved", self.clock())
        except RecipientGone:
            await self.core.subscriptions.unsubscribe(row.user_id)
            log.info(
                "a %s recipient is gone (blocked the bot or left): unsubscribed", self.platform, extra=self._log_extra
            )
            return Outcome(row.id, "failed", attempts, "gone")
        except PermanentFailure as exc:
            log.warning("a %s message failed permanently: %s", self.platform, type(exc).__name__, extra=self._log_extra)
            return Outcome(row.id, "failed", attempts, "permanent")
        except Exception as exc:  # temporary by default: a network error must not lose the message
            if attempts >= self.config.max_attempts:
                log.warning(
                    "a %s message failed %d times (%s): giving up",
                    self.platform,
                    attempts,
                    type(exc).__name__,
                    extra=self._log_extra,
                )
                return Outcome(row.id, "failed", attempts, "temporary")
            return Outcome(row.id, "pending", attempts, "temporary", self.clock() + self.backoff(attempts))
        finally:
            # The response proves the platform has counted it: from now, it counts for one more window.
            self.pacer.finished(self._seconds(), row.address, group)
        return Outcome(row.id, "sent", attempts)

    def backoff(self, attempts: int) -> timedelta:
        return backoff(attempts, self.config.retry_base_seconds, self.config.retry_max_seconds, self.rng)

    async def send_direct(self, address: str, message: Reply) -> bool:
        """Send one message outside the outbox (an organiser's report); False if it failed."""
        group = self.sender.is_group(address)
        await self._wait_turn(address, group)
        self.pacer.started(self._seconds(), address, group)
        try:
            with contextlib.suppress(Exception):
                await self.sender.send(address, message)
                return True
        finally:
            self.pacer.finished(self._seconds(), address, group)
        log.warning("could not send a report on %s", self.platform, extra=self._log_extra)
        return False


async def _settled(outcome: Outcome) -> Outcome:
    return outcome
