"""The sync engine: one elected instance sends the sync outbox's rows to each CRM at its pace.

Per destination it claims a window of due rows, paces every request through the delivery engine's
sliding-window pacer, obeys ``Retry-After`` exactly (and slows down for a while after one), retries
temporary errors with the delivery engine's capped exponential back-off and jitter, stops a row at a
permanent error, and tells organisers of rows given up and of steps left to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta

from bot.delivery.pacing import Pacer, backoff
from bot.port.clock import Clock, idle
from bot.port.delivery import PermanentFailure, PlatformLimits, RetryAfter
from bot.privacy.crypto import Keyring
from bot.storage.database import Store
from bot.sync.destinations import Client, MissingSecret
from bot.sync.election import Lease
from bot.sync.outbox import Claimed, Notice, Outcome, SyncOutbox
from bot.sync.settings import SyncConfig

log = logging.getLogger(__name__)

ROLE = "crm-sync"
# How often an idle engine looks for rows another process (the command line) may have queued.
POLL_SECONDS = 5.0

Report = Callable[[Sequence[Notice]], Awaitable[bool]]


class SyncEngine:
    def __init__(
        self,
        store: Store,
        keyring: Keyring,
        clock: Clock,
        settings: SyncConfig,
        clients: Mapping[str, Client],
        *,
        report: Report | None = None,
        rng: random.Random | None = None,
        lease: Lease | None = None,
    ) -> None:
        self.outbox = SyncOutbox(store, keyring)
        self.clock = clock
        self.settings = settings
        self.clients = dict(clients)
        self.report = report
        self.rng = rng or random.Random()
        self.lease = lease or Lease(store, ROLE, settings.lease_seconds)
        self.pacers = {
            name: Pacer(PlatformLimits(per_second=client.destination.per_second)) for name, client in clients.items()
        }
        # Set while this instance holds the lease (and has recovered what a crashed holder left).
        self.leading = asyncio.Event()
        # Set when rows are queued, so an idle engine starts at once.
        self.wake = asyncio.Event()

    # ------------------------------------------------------------------ election

    async def elect(self) -> bool:
        """Take or renew the lease; on taking it, send again what a crashed holder left in flight."""
        try:
            holding = await self.lease.hold(self.clock())
        except Exception:
            log.exception("could not renew the CRM sync lease")
            holding = False
        if holding and not self.leading.is_set():
            for destination in self.clients:
                recovered = await self.outbox.recover(destination, self.clock())
                if recovered:
                    log.warning("%d CRM event(s) to %s were in flight at a crash: sent again", recovered, destination)
            log.info("this instance does the CRM sync")
            self.leading.set()
        elif not holding and self.leading.is_set():
            log.warning("another instance took over the CRM sync")
            self.leading.clear()
        return holding

    async def _keep_lease(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.elect()
            await idle(self.settings.lease_seconds / 3, stop)

    # ------------------------------------------------------------------ sending

    async def run_once(self, destination: str) -> int:
        """Send every row of ``destination`` due now, while this instance leads; returns the rows settled."""
        settled = 0
        window = self.settings.window
        while self.leading.is_set():
            claimed = await self.outbox.claim(destination, self.clock(), window)
            if not claimed:
                return settled
            tasks = [await self._start(row) for row in claimed]
            outcomes = [await task for task in tasks]
            await self.outbox.record(outcomes, self.clock())
            settled += sum(outcome.state != "pending" for outcome in outcomes)
        return settled

    async def _start(self, row: Claimed) -> asyncio.Task[Outcome]:
        pacer = self.pacers[row.destination]
        while (wait := pacer.wait(self.clock.monotonic(), row.destination, False)) > 0:
            await self.clock.sleep(wait)
        pacer.started(self.clock.monotonic(), row.destination, False)
        return asyncio.ensure_future(self._send(row, pacer))

    async def _send(self, row: Claimed, pacer: Pacer) -> Outcome:
        attempts = row.attempts + 1
        client = self.clients[row.destination]
        try:
            sent = await client.send(row)
        except RetryAfter as exc:
            # Nothing more starts before the CRM's time is up; this one goes again then, not counted as an attempt.
            pacer.pause_until(self.clock.monotonic() + exc.seconds)
            pacer.slow_down(self.clock.monotonic())
            log.warning("%s asked to wait %.0f s (429)", row.destination, exc.seconds)
            return Outcome(
                row.id, "pending", row.attempts, "retry-after", self.clock() + timedelta(seconds=exc.seconds)
            )
        except (PermanentFailure, MissingSecret) as exc:
            log.warning("a %s event to %s failed for good: %s", row.event, row.destination, exc)
            return Outcome(row.id, "failed", attempts, f"permanent: {exc}")
        except Exception as exc:  # temporary by default: a network error must not lose the event
            if attempts >= self.settings.max_attempts:
                log.warning("a %s event to %s failed %d times: giving up", row.event, row.destination, attempts)
                return Outcome(row.id, "failed", attempts, f"temporary: {exc}")
            delay = backoff(attempts, self.settings.retry_base_seconds, self.settings.retry_max_seconds, self.rng)
            return Outcome(row.id, "pending", attempts, f"temporary: {exc}", self.clock() + delay)
        finally:
            pacer.finished(self.clock.monotonic(), row.destination, False)
        return Outcome(row.id, "sent", attempts, None, None, sent.remote_id, sent.manual)

    async def tell_organisers(self) -> int:
        """Report rows given up and steps left to organisers, each once; returns how many were reported."""
        notices = await self.outbox.notices(unreported=True)
        if not notices or self.report is None:
            return 0
        if await self.report(notices):
            await self.outbox.mark_reported([notice.id for notice in notices])
            return len(notices)
        return 0

    async def _serve(self, destination: str, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.wake.clear()
            delay = POLL_SECONDS
            if self.leading.is_set():
                try:
                    await self.run_once(destination)
                    await self.tell_organisers()
                    next_due = await self.outbox.next_due(destination)
                    if next_due is not None:
                        delay = min(delay, max(0.0, (next_due - self.clock()).total_seconds()))
                except Exception:
                    log.exception("the CRM sync to %s failed; retrying", destination)
            await idle(delay, stop, self.wake, *(() if self.leading.is_set() else (self.leading,)))

    async def run(self, stop: asyncio.Event) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._keep_lease(stop), name="sync:lease")
                for destination in self.clients:
                    group.create_task(self._serve(destination, stop), name=f"sync:{destination}")
        finally:
            self.leading.clear()
            await self.lease.release()
            await self.close()

    async def close(self) -> None:
        for client in self.clients.values():
            with contextlib.suppress(Exception):
                await client.close()
