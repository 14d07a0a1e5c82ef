"""The scheduler: starts scheduled broadcasts, creates action-day reminders, reports finished ones.

Reminders are broadcasts created from the calendar, one per action day, year and "days before",
whose rows are each due at the configured local hour in the recipient's time zone (zoneinfo does
the daylight-saving arithmetic). A row already later than the grace period when it would be
queued (the bot was down) is not queued; one that becomes late while queued expires when claimed.
Both are logged.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.campaigns.subscriptions import ACTION_DAYS
from bot.content.model import ActionDay
from bot.delivery.engine import Engine
from bot.delivery.host import Host
from bot.delivery.messages import reminder_key
from bot.delivery.outbox import Outbox, Report
from bot.port import markup
from bot.port.clock import idle
from bot.port.events import Reply

log = logging.getLogger(__name__)

TICK_SECONDS = 30.0
# Local clocks run from UTC-12 to UTC+14: a reminder's rows fall within this span of its UTC hour.
EARLIEST_OFFSET = timedelta(hours=14)
LATEST_OFFSET = timedelta(hours=12)


def local_due(on: datetime, hour: int, zone: ZoneInfo) -> datetime:
    """``hour`` o'clock on the date of ``on`` in ``zone``, as UTC."""
    return datetime.combine(on.date(), time(hour), tzinfo=zone).astimezone(UTC)


class Scheduler:
    def __init__(self, core: Host, engines: dict[str, Engine]) -> None:
        self.core = core
        self.engines = engines
        self.outbox = Outbox(core.store, core.keyring)
        self.reminders = core.reminders
        self.grace = timedelta(hours=self.reminders.grace_hours)
        # Set to tick before the next scheduled time (an engine finished a batch).
        self.wake = asyncio.Event()

    async def tick(self) -> None:
        now = self.core.clock()
        for broadcast in await self.outbox.due(now):
            if broadcast.kind == "broadcast":
                queued = await self.outbox.start(broadcast, now)
                log.info("broadcast %d started: %d recipient(s)", broadcast.id, queued)
        open_reminders = await self._reminders(now)
        for report in await self.outbox.finish(now, keep_open=open_reminders):
            await self._report(report)
        for engine in self.engines.values():
            engine.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Tick whenever this instance is the one elected to schedule (so that each broadcast starts,
        and each reminder is created, once however many instances run), until ``stop``."""
        while not stop.is_set():
            async with self.core.store.elected("scheduler", stop) as term:
                while term is not None and not stop.is_set() and not term.lost.is_set():
                    self.wake.clear()
                    try:
                        await self.tick()
                    except Exception:
                        log.exception("the scheduler failed; retrying at the next tick")
                    await idle(TICK_SECONDS, stop, self.wake, term.lost)

    async def _reminders(self, now: datetime) -> list[int]:
        """Create due reminders and queue their new recipients; returns those still taking recipients."""
        still_open: list[int] = []
        for day in self.core.content.campaigns.calendar.values():
            for days_before in day.remind:
                for year in (now.year - 1, now.year, now.year + 1):
                    broadcast_id = await self._reminder(day, year, days_before, now)
                    if broadcast_id is not None:
                        still_open.append(broadcast_id)
        return still_open

    async def _reminder(self, day: ActionDay, year: int, days_before: int, now: datetime) -> int | None:
        send_on = datetime.combine(day.in_year(year) - timedelta(days=days_before), time(self.reminders.hour), UTC)
        first, last = send_on - EARLIEST_OFFSET, send_on + LATEST_OFFSET + self.grace
        if not first - timedelta(days=1) <= now <= last:
            return None
        key = reminder_key(day, year, days_before)
        broadcast = await self.outbox.by_reminder_key(key)
        if broadcast is None:
            await self.outbox.create(
                kind="reminder", topic=ACTION_DAYS, body=day.id, send_at=first, now=now, reminder_key=key
            )
            broadcast = await self.outbox.by_reminder_key(key)
        if broadcast is None or broadcast.state in ("done", "cancelled"):
            return None
        queued = await self.outbox.queued_users(broadcast.id)
        rows: list[tuple[str, str, bytes, str, datetime]] = []
        late = 0
        for sub in await self.core.store.rows(
            "SELECT s.user_id, s.platform, s.address, s.language, u.zone FROM subscriptions s"
            " JOIN users u ON u.id = s.user_id WHERE s.topic = ?",
            (ACTION_DAYS,),
        ):
            if sub["user_id"] in queued:
                continue
            zone = ZoneInfo(self.core.people.zone(sub["zone"]) or self.reminders.default_timezone)
            due = local_due(send_on, self.reminders.hour, zone)
            if due < now - self.grace:
                late += 1
                continue
            rows.append((sub["user_id"], sub["platform"], sub["address"], sub["language"], due))
        if late:
            log.warning("reminder %s: %d recipient(s) skipped, due more than the grace period ago", key, late)
        added = await self.outbox.add_recipients(broadcast.id, rows, now)
        if added:
            log.info("reminder %s: %d recipient(s) queued", key, added)
        return broadcast.id

    async def _report(self, report: Report) -> None:
        counts = report.counts
        summary = {state: counts.get(state, 0) for state in ("sent", "failed", "skipped", "expired", "cancelled")}
        seconds = int(report.duration.total_seconds())
        log.info("broadcast %d finished in %d s: %s", report.broadcast.id, seconds, summary)
        engine = self.engines.get(report.report_platform or "")
        if engine is None or report.report_address is None:
            return
        lang = self.core.default_language
        locales = self.core.locales
        skipped = summary["skipped"] + summary["expired"] + summary["cancelled"]
        # Each count agrees with its own words ("1 enviado, 3 fallidos"), so each is a plural of its own.
        figures = {
            name: markup.plain(locales.plural(lang, f"broadcast.report.{name}", count))
            for name, count in (("sent", summary["sent"]), ("failed", summary["failed"]), ("skipped", skipped))
        }
        text = locales.rich(
            lang, "broadcast.report", id=report.broadcast.id, duration=str(timedelta(seconds=seconds)), **figures
        )
        await engine.send_direct(report.report_address, Reply(markup.join(text)))
