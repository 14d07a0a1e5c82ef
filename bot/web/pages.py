"""What each page of the dashboard shows, gathered for its template: figures from
:mod:`bot.web.queries`, each chart with the table it is drawn from."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup

from bot.campaigns.forms import country_name
from bot.campaigns.subscriptions import ACTION_DAYS, TOPICS
from bot.content.i18n import goal_progress, number
from bot.content.model import LANGUAGES, ActionDay, Entry, localized
from bot.core.app import Core
from bot.core.registry import broadcast_platforms
from bot.core.served import CRISIS, EMERGENCY, ENTRY, FALLBACK
from bot.delivery.messages import message_for, reminder_key
from bot.delivery.outbox import Broadcast, Outbox
from bot.port import markup
from bot.sync.outbox import pending_manual_steps
from bot.web import charts
from bot.web.charts import Bar
from bot.web.queries import FUNNEL, SMALL_CELL, Figures, days_from
from bot.web.render import html

# Sign-ups per day over this many days; opt-outs over this many weeks.
DAYS = 90
WEEKS = 12
# Countries drawn at most (the table lists them all).
COUNTRIES_DRAWN = 25
# Action days ahead on the calendar: a year's.
CALENDAR_DAYS = 366
DAYS_PER_MONTH = 365.25 / 12
# Entries in the chart of the most served.
MOST_SERVED = 20


@dataclass(frozen=True)
class Chart:
    """A chart and its table: ``head`` names the columns, ``rows`` hold the figures as shown."""

    caption: str
    svg: Markup
    head: tuple[str, ...]
    rows: list[tuple[str, ...]]
    # Long tables (a row per day) are folded under the chart, open at a click, no script needed.
    folded: bool = False
    id: str = ""


@dataclass
class Page:
    name: str
    title: str
    values: dict[str, Any] = field(default_factory=dict)


class Pages:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.figures = Figures(core.store, core.keyring)
        self.outbox = Outbox(core.store, core.keyring)

    def t(self, lang: str, key: str, **params: Any) -> str:
        return self.core.locales.text(lang, f"dashboard.{key}", **params)

    def today(self) -> date:
        return self.core.clock().date()

    # -- shared pieces ---------------------------------------------------------------------

    def _daily(self, lang: str, per_day: Mapping[date, int], before: int, prefix: str) -> list[Chart]:
        """Sign-ups per day over DAYS days, and their running total (from ``before``, the earlier ones)."""
        days = days_from(self.today() - timedelta(days=DAYS - 1), self.today())
        daily = [(day.isoformat(), per_day.get(day, 0)) for day in days]
        running, total = [], before
        for day, count in daily:
            total += count
            running.append((day, total))
        head = (self.t(lang, "day"), self.t(lang, "signups"))
        peak = number(lang, max(count for _, count in daily))
        return [
            Chart(
                self.t(lang, "signups_per_day", days=DAYS),
                charts.columns(self.t(lang, "signups_per_day", days=DAYS), daily, peak),
                head,
                [(day, number(lang, count)) for day, count in reversed(daily)],
                folded=True,
                id=f"{prefix}per-day",
            ),
            Chart(
                self.t(lang, "signups_cumulative"),
                charts.columns(self.t(lang, "signups_cumulative"), running, number(lang, total), line=True),
                (self.t(lang, "day"), self.t(lang, "total")),
                [(day, number(lang, count)) for day, count in reversed(running)],
                folded=True,
                id=f"{prefix}cumulative",
            ),
        ]

    def _counts(self, lang: str, caption: str, column: str, counts: Iterable[tuple[str, int]], id: str) -> Chart:
        rows = list(counts)
        bars = [Bar(label, count, number(lang, count)) for label, count in rows]
        return Chart(
            caption,
            charts.bars(caption, bars),
            (column, self.t(lang, "count")),
            [(label, number(lang, count)) for label, count in rows],
            id=id,
        )

    def _goals(self, lang: str, caption: str, rows: Sequence[tuple[str, int, int | None]], id: str) -> Chart:
        bars = [
            Bar(label, count, number(lang, count) if goal is None else self._progress(lang, count, goal), goal)
            for label, count, goal in rows
        ]
        return Chart(
            caption,
            charts.bars(caption, bars),
            (self.t(lang, "name"), self.t(lang, "count"), self.t(lang, "goal")),
            [(label, number(lang, count), number(lang, goal) if goal else "—") for label, count, goal in rows],
            id=id,
        )

    def _progress(self, lang: str, count: int, goal: int) -> str:
        return markup.plain(goal_progress(self.core.locales, lang, count, goal))

    # -- pages ------------------------------------------------------------------------------

    async def overview(self, lang: str) -> Page:
        campaigns = self.core.content.campaigns
        taken = await self.core.pledges.pledge_counts()
        signed = await self.core.signatures.signature_counts()
        since = self.today() - timedelta(days=DAYS - 1)
        per_day: Counter[date] = Counter()
        for petition_id in campaigns.petitions:
            per_day.update(await self.figures.signups_per_day(petition_id, since))
        # The earlier ones: the total (a tally) less those of the days shown.
        before = sum(signed.get(p, 0) for p in campaigns.petitions) - per_day.total()
        subscribers = await self.figures.subscribers()
        opt_outs = await self.figures.opt_outs_per_week(WEEKS, self.today())
        pledges = [(localized(p.title, lang), taken.get(p.id, 0), p.goal) for p in campaigns.pledges.values()]
        petitions = [(localized(p.title, lang), signed.get(p.id, 0), p.goal) for p in campaigns.petitions.values()]
        topic_name = {topic: self.core.locales.text(lang, f"topic.{topic}") for topic in TOPICS}
        language_name = {code: self.core.locales.text(code, "language.name") for code in LANGUAGES}
        charts_ = [
            self._goals(lang, self.t(lang, "pledges"), pledges, "pledges"),
            self._goals(lang, self.t(lang, "petitions"), petitions, "petitions"),
            *self._daily(lang, per_day, before, ""),
            self._counts(
                lang,
                self.t(lang, "subscribers_by_topic"),
                self.t(lang, "topic"),
                [(topic_name[t], subscribers.by_topic.get(t, 0)) for t in TOPICS],
                "by-topic",
            ),
            self._counts(
                lang,
                self.t(lang, "subscribers_by_language"),
                self.t(lang, "language"),
                [(language_name.get(code, code), count) for code, count in sorted(subscribers.by_language.items())],
                "by-language",
            ),
            self._counts(
                lang,
                self.t(lang, "subscribers_by_platform"),
                self.t(lang, "platform"),
                [(name.capitalize(), count) for name, count in sorted(subscribers.by_platform.items())],
                "by-platform",
            ),
            self._counts(
                lang,
                self.t(lang, "opt_outs_per_week", weeks=WEEKS),
                self.t(lang, "week_of"),
                [(monday.isoformat(), count) for monday, count in opt_outs.items()],
                "opt-outs",
            ),
        ]
        links = [(p.id, localized(p.title, lang)) for p in campaigns.petitions.values()]
        # CRM sync: the erasures a CRM's API could not do, left to organisers (ids, never a person).
        syncing = bool(self.core.config.sync.destinations)
        steps = await pending_manual_steps(self.core.store, self.core.keyring) if syncing else []
        manual = [(f"#{n.id}", n.destination, n.subject, n.day, n.detail) for n in steps]
        return Page(
            "overview",
            self.t(lang, "overview"),
            {"charts": charts_, "petitions": links, "syncing": syncing, "manual_steps": manual},
        )

    async def petition(self, lang: str, petition_id: str, who: Callable[[str], str]) -> Page | None:
        petition = self.core.content.campaigns.petitions.get(petition_id)
        if petition is None:
            return None
        since = self.today() - timedelta(days=DAYS - 1)
        per_day = await self.figures.signups_per_day(petition_id, since)
        countries = await self.figures.countries(petition_id)
        consents = await self.figures.consent_versions(petition_id)
        count = await self.core.signatures.signature_count(petition_id)
        before = count - sum(per_day.values())
        ranked = sorted(countries.items(), key=lambda item: (-item[1], item[0] or "~"))
        named = [
            (country_name(code, lang) if code else self.t(lang, "no_country"), n, n < SMALL_CELL) for code, n in ranked
        ]
        caption = self.t(lang, "by_country")
        bars = [
            Bar(name, SMALL_CELL if small else n, f"<{SMALL_CELL}" if small else number(lang, n), suppressed=small)
            for name, n, small in named[:COUNTRIES_DRAWN]
        ]
        by_country = Chart(
            caption,
            charts.bars(caption, bars),
            (self.t(lang, "country"), self.t(lang, "signatures")),
            [(name, f"<{SMALL_CELL}" if small else number(lang, n)) for name, n, small in named],
            id="by-country",
        )
        by_consent = self._counts(
            lang,
            self.t(lang, "by_consent"),
            self.t(lang, "consent_version"),
            [(str(version), n) for version, n in consents.items()],
            "by-consent",
        )
        exports = [
            (when.strftime("%Y-%m-%d %H:%M"), who(organiser), fmt.upper(), number(lang, n))
            for organiser, fmt, n, when in await self.figures.exports(petition_id)
        ]
        return Page(
            "petition",
            localized(petition.title, lang),
            {
                "petition": petition,
                "progress": self._progress(lang, count, petition.goal),
                "charts": [*self._daily(lang, per_day, before, "petition-"), by_country, by_consent],
                "exports": exports,
            },
        )

    async def broadcasts(self, lang: str) -> Page:
        listing = await self.outbox.listing()
        progress = await self.figures.progress(listing)
        rows = [(b, self._audience(lang, b), progress[b.id]) for b in listing]
        return Page(
            "broadcasts",
            self.t(lang, "broadcasts"),
            {
                "rows": rows,
                "funnel": FUNNEL,
                "topics": [(t, self.core.locales.text(lang, f"topic.{t}")) for t in TOPICS],
                "languages": [(code, self.core.locales.text(code, "language.name")) for code in LANGUAGES],
                "platforms": [(name, name.capitalize()) for name in broadcast_platforms()],
            },
        )

    def _audience(self, lang: str, broadcast: Broadcast) -> str:
        parts = [self.core.locales.text(lang, f"topic.{broadcast.topic}")]
        if broadcast.language:
            parts.append(self.core.locales.text(broadcast.language, "language.name"))
        if broadcast.platform:
            parts.append(broadcast.platform.capitalize())
        return " · ".join(parts)

    async def broadcast(self, lang: str, broadcast_id: int) -> Page | None:
        broadcast = await self.outbox.get(broadcast_id)
        if broadcast is None:
            return None
        delivery = await self.figures.delivery(broadcast_id)
        message = message_for(self.core.locales, self.core.content.campaigns, broadcast, broadcast.language or lang)
        funnel = []
        for platform, states in sorted(delivery.states.items()):
            caption = self.t(lang, "funnel_on", platform=platform.capitalize())
            funnel.append(
                self._counts(
                    lang,
                    caption,
                    self.t(lang, "state"),
                    [(self.t(lang, f"state_{state}"), states.get(state, 0)) for state in FUNNEL],
                    f"funnel-{platform}",
                )
            )
        reasons = [
            (platform.capitalize(), reason, number(lang, n))
            for platform, by_reason in sorted(delivery.reasons.items())
            for reason, n in sorted(by_reason.items(), key=lambda item: -item[1])
        ]
        return Page(
            "broadcast",
            self.t(lang, "broadcast_number", id=broadcast_id),
            {
                "broadcast": broadcast,
                "audience": self._audience(lang, broadcast),
                "message": html(message.text) if message else None,
                "delivery": delivery,
                "funnel": funnel,
                "states": FUNNEL,
                "reasons": reasons,
                "live": broadcast.state in ("scheduled", "sending"),
            },
        )

    async def progress(self, broadcast_id: int) -> dict[str, Any] | None:
        """A broadcast's state and counts, for the page's script to refresh them while it goes out."""
        broadcast = await self.outbox.get(broadcast_id)
        if broadcast is None:
            return None
        counts = (await self.figures.progress([broadcast]))[broadcast_id]
        return {"state": broadcast.state, "counts": {state: counts.get(state, 0) for state in FUNNEL}}

    async def calendar(self, lang: str) -> Page:
        today = self.today()
        upcoming: list[tuple[date, ActionDay]] = []
        for day in self.core.content.campaigns.calendar.values():
            on = next(d for d in (day.in_year(today.year), day.in_year(today.year + 1)) if d >= today)
            if (on - today).days <= CALENDAR_DAYS:
                upcoming.append((on, day))
        upcoming.sort(key=lambda item: item[0])
        keys = [reminder_key(day, on.year, before) for on, day in upcoming for before in day.remind]
        created = await self.figures.reminders(keys)
        days = []
        for on, day in upcoming:
            reminders = []
            for before in sorted(day.remind, reverse=True):
                found = created.get(reminder_key(day, on.year, before))
                state = self.t(lang, f"reminder_{found[1]}") if found else self.t(lang, "reminder_planned")
                reminders.append((on - timedelta(days=before), before, state, found[0] if found else None))
            days.append((on, (on - today).days, localized(day.name, lang), day.link, reminders))
        caption = self.t(lang, "days_until")
        chart = Chart(
            caption,
            charts.bars(caption, [Bar(name, until, number(lang, until)) for _, until, name, _, _ in days]),
            (self.t(lang, "action_day"), self.t(lang, "date"), self.t(lang, "days")),
            [(name, on.isoformat(), number(lang, until)) for on, until, name, _, _ in days],
            id="calendar",
        )
        audience = await self.figures.topic_size(ACTION_DAYS)
        return Page("calendar", self.t(lang, "calendar"), {"days": days, "timeline": chart, "audience": audience})

    async def knowledge(self, lang: str) -> Page:
        await self.core.served.flush(self.today())
        served = await self.figures.served()
        review = self.core.config.web.review_months
        today = self.today()
        due = today - timedelta(days=round(review * DAYS_PER_MONTH))
        entries = sorted(self.core.content.kb.entries.values(), key=lambda e: (e.reviewed, e.id))
        rows = [
            (entry, self._entry_title(entry, lang), entry.reviewed < due, served.get(ENTRY + entry.id, 0))
            for entry in entries
        ]
        answers = [
            (self.t(lang, "served_emergency"), served.get(EMERGENCY, 0)),
            (self.t(lang, "served_crisis"), served.get(CRISIS, 0)),
            (self.t(lang, "served_fallback"), served.get(FALLBACK, 0)),
        ]
        most = sorted((row for row in rows if row[3]), key=lambda row: (-row[3], row[0].id))[:MOST_SERVED]
        charts_ = [
            self._counts(lang, self.t(lang, "special_answers"), self.t(lang, "answer"), answers, "special"),
            self._counts(
                lang,
                self.t(lang, "most_served"),
                self.t(lang, "entry"),
                [(title, n) for _, title, _, n in most],
                "most-served",
            ),
        ]
        overdue = sum(1 for row in rows if row[2])
        return Page(
            "knowledge",
            self.t(lang, "knowledge"),
            {"rows": rows, "charts": charts_, "overdue": overdue, "due": due, "review": review},
        )

    @staticmethod
    def _entry_title(entry: Entry, lang: str) -> str:
        translation = entry.translations.get(lang)
        return translation.title if translation else entry.title
