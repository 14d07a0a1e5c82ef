"""Every figure the dashboard shows, read from the store: the package's only SQL.

Standard SQL that SQLite and PostgreSQL both accept: days are computed in Python and compared as the
ISO text the store keeps (a day stamp is midnight UTC, so grouping by it groups by day); aggregation
happens in the database, so a page reads a few rows however many people signed. Counts only: no
query here reads a name, an e-mail address, a platform id or a chat id.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.campaigns.subscriptions import OPT_OUT
from bot.core.served import SERVED
from bot.privacy.crypto import Keyring
from bot.storage.counters import Counters
from bot.storage.database import Store, day_stamp, stamp

# Delivery states as organisers see them: pending and sending are both still queued.
FUNNEL = ("queued", "sent", "failed", "skipped", "expired", "cancelled")
QUEUED_STATES = ("pending", "sending")
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

    # -- sign-ups ---------------------------------------------------------------------------

    async def signups_per_day(self, since: date, petition: str | None = None) -> dict[date, int]:
        """Signatures per day from ``since`` on (of one petition, or of all)."""
        rows = await self.store.rows(
            "SELECT signed_at, COUNT(*) FROM signatures WHERE (? IS NULL OR petition_id = ?) AND signed_at >= ?"
            " GROUP BY signed_at",
            (petition, petition, day_stamp(datetime.combine(since, datetime.min.time()))),
        )
        per_day: Counter[date] = Counter()
        for row in rows:
            per_day[_day(row[0])] += int(row[1])
        return dict(per_day)

    async def signed_before(self, since: date, petition: str | None = None) -> int:
        row = await self.store.row(
            "SELECT COUNT(*) FROM signatures WHERE (? IS NULL OR petition_id = ?) AND signed_at < ?",
            (petition, petition, day_stamp(datetime.combine(since, datetime.min.time()))),
        )
        return int(row[0]) if row else 0

    async def consent_versions(self, petition: str) -> dict[int, int]:
        rows = await self.store.rows(
            "SELECT consent_version, COUNT(*) FROM signatures WHERE petition_id = ? GROUP BY consent_version"
            " ORDER BY consent_version",
            (petition,),
        )
        return {int(row[0]): int(row[1]) for row in rows}

    async def countries(self, petition: str) -> dict[str | None, int]:
        """Signatures per country (None: not given). The country is encrypted, so it is decrypted here,
        in a worker thread, and only the signatures added since the last look are: the counts are kept
        in memory, and recounted whole when any signature was removed (an erasure)."""
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
        rows = await self.store.rows(
            "SELECT country FROM signatures WHERE petition_id = ? AND id > ? AND id <= ?",
            (petition, cache.last_id, last),
        )
        added = await asyncio.to_thread(self._decrypt_countries, [row[0] for row in rows])
        return _CountryCache(last, cache.rows + len(rows), cache.counts + added)

    def _decrypt_countries(self, blobs: Iterable[bytes | None]) -> Counter[str | None]:
        cipher = self.keyring.cipher
        return Counter(cipher.decrypt(blob, "signatures.country") if blob is not None else None for blob in blobs)

    # -- subscribers ------------------------------------------------------------------------

    async def subscribers(self) -> Subscribers:
        """Subscriptions per topic; people subscribed to anything, per language and per platform."""
        topics = await self.store.rows("SELECT topic, COUNT(*) FROM subscriptions GROUP BY topic")
        languages = await self.store.rows(
            "SELECT language, COUNT(DISTINCT user_id) FROM subscriptions GROUP BY language"
        )
        platforms = await self.store.rows(
            "SELECT platform, COUNT(DISTINCT user_id) FROM subscriptions GROUP BY platform"
        )

        def counted(rows: Sequence[Sequence[object]]) -> dict[str, int]:
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

    async def progress(self, broadcast_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """For each broadcast, its rows in each state as organisers see them."""
        if not broadcast_ids:
            return {}
        marks = ", ".join("?" * len(broadcast_ids))
        rows = await self.store.rows(
            f"SELECT broadcast_id, state, COUNT(*) FROM outbox WHERE broadcast_id IN ({marks})"
            " GROUP BY broadcast_id, state",
            tuple(broadcast_ids),
        )
        found: dict[int, dict[str, int]] = {broadcast_id: {} for broadcast_id in broadcast_ids}
        for broadcast_id, state, count in rows:
            by_state = found[int(broadcast_id)]
            shown = funnel_state(state)
            by_state[shown] = by_state.get(shown, 0) + int(count)
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
