"""Campaign figures for organisers: pledge and petition totals, sign-ups per day."""

from __future__ import annotations

from datetime import date, timedelta

from bot.campaigns.petitions import Signatures
from bot.campaigns.pledges import Pledges
from bot.content.i18n import Locales, goal_progress, number
from bot.content.model import Campaigns, localized
from bot.port import markup
from bot.port.markup import RichText

DAYS = 14
BAR_WIDTH = 20


def bar(count: int, peak: int) -> str:
    """A text bar: platforms without images still show the shape of the last days."""
    if peak == 0 or count == 0:
        return ""
    return "█" * max(1, round(BAR_WIDTH * count / peak))


async def report(
    pledges: Pledges, signatures: Signatures, campaigns: Campaigns, locales: Locales, lang: str, today: date
) -> RichText:
    pledge_counts = await pledges.pledge_counts()
    signature_counts = await signatures.signature_counts()
    since = today - timedelta(days=DAYS - 1)
    per_day = await signatures.signups_per_day(since)

    def total(count: int, goal: int | None) -> str:
        if goal is None:
            return number(lang, count)
        return markup.plain(goal_progress(locales, lang, count, goal))

    lines: list[RichText] = [locales.rich(lang, "stats.pledges")]
    for pledge in campaigns.pledges.values():
        lines.append(
            markup.text(f"• {localized(pledge.title, lang)}: {total(pledge_counts.get(pledge.id, 0), pledge.goal)}")
        )
    lines.append(locales.rich(lang, "stats.petitions"))
    for petition in campaigns.petitions.values():
        count = signature_counts.get(petition.id, 0)
        lines.append(markup.text(f"• {localized(petition.title, lang)}: {total(count, petition.goal)}"))
    lines.append(locales.plural(lang, "stats.per_day", DAYS))
    peak = max(per_day.values(), default=0)
    for offset in range(DAYS):
        day = since + timedelta(days=offset)
        count = per_day.get(day, 0)
        lines.append(markup.text(f"{day.isoformat()} {number(lang, count):>6} {bar(count, peak)}".rstrip()))
    return markup.join(*lines, sep="\n")
