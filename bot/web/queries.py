"""Every figure the dashboard shows, read from the store: the package's only SQL.

Standard SQL that SQLite and PostgreSQL both accept: days are computed in Python and compared as the
ISO text the store keeps (a day stamp is midnight UTC, so grouping by it groups by day); aggregation
happens in the database, so a page reads a few rows however many people signed. Counts only: no
query here reads a name, an e-mail address, a platform id or a chat id.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.campaigns.subscriptions import OPT_OUT
from bot.core.served import SERVED
from bot.delivery.outbox import Broadcast
from bot.privacy.crypto import Keyring
from bot.storage.counters import Counters
from bot.storage.database import Row, Store, day_stamp, stamp

# Delivery states as organisers see them: pending and sending are both still queued.
FUNNEL = ("queued", "sent", "failed", "skipped", "expired", "cancelled")
QUEUED_STATES = ("pending", "sending")
# Countries decrypted between two turns of the event loop (a few milliseconds' work).
DECRYPT_SLICE = 500
# Signatures read at once to count their countries.
COUNTRY_PAGE = 2000
# How long the subscriber figures are shown before they are counted again.
SUBSCRIBERS_SECONDS = 30.0
# Broadcasts whose rows will not change any more.
SETTLED = ("done", "cancelled")
# A country with fewer signatures than this shows as "<5": with so few, a count points at people.
SMALL_CELL = 5


def funnel_state(state: str) -> str:
    return "queued" if state in QUEUED_STATES else state


def days_from(since: date, until: date) -> list[date]:
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def _day(value: str) -> date:
    return datetime.fromisoformat(value).date()


@dataclass(frozen=True, slots=True)
class Subscribers:
    by_topic: dict[str, int]
    by_language: dict[str, int]
    by_platform: dict[str, int]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One broadcast's rows: per platform, how many in each state, and why the failed ones failed."""

    states: dict[str, dict[str, int]]
    reasons: dict[str, dict[str, int]]

    def total(self, state: str) -> int:
        return sum(by_state.get(state, 0) for by_state in self.states.values())

    @property
    def settled(self) -> int:
        return sum(sum(by_state.values()) for by_state in self.states.values()) - self.total("queued")

    @property
    def size(self) -> int:
        return sum(sum(by_state.values()) for by_state in self.states.values())


@dataclass
class _CountryCache:
    """A petition's countries, counted from the signatures up to ``last_id`` (``rows`` of them)."""

    last_id: int = 0
    rows: int = 0
    counts: Counter[str | None] = field(default_factory=Counter)


class Figures:
    def __init__(self, store: Store, keyring: Keyring) -> None:
        self.store = store
        self.keyring = keyring
        self.counters = Counters(store)
        self._countries: dict[str, _CountryCache] = {}
        self._country_lock = asyncio.Lock()
        self._settled: dict[int, dict[str, int]] = {}
        self._subscribers: tuple[float, Subscribers] | None = None

    # -- sign-ups ---------------------------------------------------------------------------

    async def signups_per_day(self, petition: str, since: date) -> dict[date, int]:
        """A petition's signatures per day from ``since`` on (read from its index alone)."""
        rows = await self.store.rows(
            "SELECT signed_at, COUNT(*) FROM signatures WHERE petition_id = ? AND signed_at >= ? GROUP BY signed_at",
            (petition, day_stamp(datetime.combine(since, datetime.min.time()))),
        )
        return {_day(row[0]): int(row[1]) for row in rows}

    async def consent_versions(self, petition: str) -> dict[int, int]:
        rows = await self.store.rows(
            "SELECT consent_version, COUNT(*) FROM signatures WHERE petition_id = ? GROUP BY consent_version"
            " ORDER BY consent_version",
            (petition,),
        )
        return {int(row[0]): int(row[1]) for row in rows}

    async def topic_size(self, topic: str) -> int:
        row = await self.store.row("SELECT COUNT(*) FROM subscriptions WHERE topic = ?", (topic,))
        return int(row[0]) if row else 0

    async def countries(self, petition: str) -> dict[str | None, int]:
        """Signatures per country (None: not given). The country is encrypted, so it is decrypted here,
        and only the signatures added since the last look are: the counts are kept in memory, and
        recounted whole when any signature was removed (an erasure)."""
        async with self._country_lock:
            row = await self.store.row(
                "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM signatures WHERE petition_id = ?", (petition,)
            )
            total, last = (int(row[0]), int(row[1])) if row else (0, 0)
            cache = self._countries.get(petition, _CountryCache())
            if cache.last_id > last:
                cache = _CountryCache()
            if cache.last_id < last:
                cache = await self._count_countries(petition, cache, last)
            if cache.rows != total:
                # Some were removed (an erasure): count them all again.
                cache = await self._count_countries(petition, _CountryCache(), last)
            self._countries[petition] = cache
            return dict(cache.counts)

    async def _count_countries(self, petition: str, cache: _CountryCache, last: int) -> _CountryCache:
        cipher = self.keyring.cipher
        counts = Counter(cache.counts)
        after, rows = cache.last_id, cache.rows
        # A page of rows at a time, decrypted a slice at a time, letting the event loop run between
        # them: one large fetch, or decrypting in a worker thread, keeps the loop from the interpreter
        # (measured: the loop late by 150-200 ms on 100,000 signatures).
        while after < last:
            page = await self.store.rows(
                "SELECT id, country FROM signatures WHERE petition_id = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?",
                (petition, after, last, COUNTRY_PAGE),
            )
            if not page:
                break
            for start in range(0, len(page), DECRYPT_SLICE):
                counts.update(
                    cipher.decrypt(row[1], "signatures.country") if row[1] is not None else None
                    for row in page[start : start + DECRYPT_SLICE]
                )
                await asyncio.sleep(0)
            after, rows = int(page[-1][0]), rows + len(page)
        return _CountryCache(last, rows, counts)

    # -- subscribers ------------------------------------------------------------------------

    async def subscribers(self) -> Subscribers:
        """Subscriptions per topic; people subscribed to anything, per language and per platform.

        Three scans of the subscriptions' indexes (tens of milliseconds each at 100,000 people): kept
        for SUBSCRIBERS_SECONDS, so that organisers clicking around do not scan them again each time.
        """
        now = time.monotonic()
        if self._subscribers is not None and now - self._subscribers[0] < SUBSCRIBERS_SECONDS:
            return self._subscribers[1]
        found = await self._count_subscribers()
        self._subscribers = (now, found)
        return found

    async def _count_subscribers(self) -> Subscribers:
        topics = await self.store.rows("SELECT topic, COUNT(*) FROM subscriptions GROUP BY topic")
        languages = await self.store.rows(
            "SELECT language, COUNT(DISTINCT user_id) FROM subscriptions GROUP BY language"
        )
        platforms = await self.store.rows(
            "SELECT platform, COUNT(DISTINCT user_id) FROM subscriptions GROUP BY platform"
        )

        def counted(rows: Sequence[Row]) -> dict[str, int]:
            return {str(row[0]): int(str(row[1])) for row in rows}

        return Subscribers(counted(topics), counted(languages), counted(platforms))

    async def opt_outs_per_week(self, weeks: int, today: date) -> dict[date, int]:
        """Opt-outs (unsubscriptions) per week, by the Monday that starts it, the last ``weeks`` weeks."""
        first = today - timedelta(days=today.weekday(), weeks=weeks - 1)
        per_week = {first + timedelta(weeks=n): 0 for n in range(weeks)}
        for day, count in (await self.counters.per_day(OPT_OUT, first)).items():
            monday = day - timedelta(days=day.weekday())
            if monday in per_week:
                per_week[monday] += count
        return per_week

    # -- deliveries -------------------------------------------------------------------------

    async def delivery(self, broadcast_id: int) -> Delivery:
        rows = await self.store.rows(
            "SELECT platform, state, error, COUNT(*) FROM outbox WHERE broadcast_id = ?"
            " GROUP BY platform, state, error",
            (broadcast_id,),
        )
        states: dict[str, dict[str, int]] = {}
        reasons: dict[str, dict[str, int]] = {}
        for platform, state, error, count in rows:
            by_state = states.setdefault(platform, {})
            shown = funnel_state(state)
            by_state[shown] = by_state.get(shown, 0) + int(count)
            if state == "failed":
                by_reason = reasons.setdefault(platform, {})
                reason = error or "unknown"
                by_reason[reason] = by_reason.get(reason, 0) + int(count)
        return Delivery(states, reasons)

    async def progress(self, broadcasts: Sequence[Broadcast]) -> dict[int, dict[str, int]]:
        """For each broadcast, its rows in each state as organisers see them.

        A finished broadcast's rows no longer change (but for someone's erasure, which takes their
        rows away), so its counts are read once and kept: the list of the latest broadcasts reads
        only the rows of those still going out.
        """
        found = {b.id: self._settled[b.id] for b in broadcasts if b.id in self._settled}
        wanted = [b.id for b in broadcasts if b.id not in found]
        if wanted:
            marks = ", ".join("?" * len(wanted))
            rows = await self.store.rows(
                f"SELECT broadcast_id, state, COUNT(*) FROM outbox WHERE broadcast_id IN ({marks})"
                " GROUP BY broadcast_id, state",
                tuple(wanted),
            )
            read: dict[int, dict[str, int]] = {broadcast_id: {} for broadcast_id in wanted}
            for broadcast_id, state, count in rows:
                by_state = read[int(broadcast_id)]
                shown = funnel_state(state)
                by_state[shown] = by_state.get(shown, 0) + int(count)
            found.update(read)
            self._settled.update((b.id, read[b.id]) for b in broadcasts if b.id in read and b.state in SETTLED)
        return found

    async def reminders(self, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
        """The reminder broadcasts already created for ``keys``: each one's id and state."""
        if not keys:
            return {}
        marks = ", ".join("?" * len(keys))
        rows = await self.store.rows(
            f"SELECT reminder_key, id, state FROM broadcasts WHERE reminder_key IN ({marks})", tuple(keys)
        )
        return {str(row[0]): (int(row[1]), str(row[2])) for row in rows}

    # -- answers ----------------------------------------------------------------------------

    async def served(self) -> dict[str, int]:
        """How often each entry ("entry:<id>"), the fallback, the emergency and crisis answers were served."""
        return await self.counters.totals(SERVED)

    # -- exports ----------------------------------------------------------------------------

    async def record_export(self, organiser: str, petition: str, fmt: str, count: int, now: datetime) -> None:
        async with self.store.transaction() as db:
            await db.execute(
                "INSERT INTO export_audit (organiser, petition_id, format, count, exported_at) VALUES (?, ?, ?, ?, ?)",
                (organiser, petition, fmt, count, stamp(now)),
            )

    async def exports(self, petition: str, limit: int = 50) -> list[tuple[str, str, int, datetime]]:
        """The latest exports of ``petition``: who (their pseudonymous key), the format, how many, when."""
        rows = await self.store.rows(
            "SELECT organiser, format, count, exported_at FROM export_audit WHERE petition_id = ?"
            " ORDER BY exported_at DESC, id DESC LIMIT ?",
            (petition, limit),
        )
        return [(str(r[0]), str(r[1]), int(r[2]), datetime.fromisoformat(r[3])) for r in rows]
