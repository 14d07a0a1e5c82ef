"""What a recipient sees: the same function builds the message and the organiser's preview."""

from __future__ import annotations

from datetime import date

from bot.campaigns.subscriptions import ACTION_DAYS
from bot.content.i18n import Locales
from bot.content.model import ActionDay, Campaigns, localized
from bot.delivery.outbox import Broadcast
from bot.port import markup
from bot.port.events import Reply


def reminder_key(day: ActionDay, year: int, days_before: int) -> str:
    return f"{day.id}:{year}:{days_before}"


def footer(locales: Locales, lang: str, topic: str) -> markup.RichText:
    return locales.rich(lang, "broadcast.footer", topic=locales.text(lang, f"topic.{topic}"))


def broadcast_message(locales: Locales, body: str, topic: str, lang: str) -> Reply:
    return Reply(markup.join(markup.parse(body), footer(locales, lang, topic)))


def audience_summary(
    locales: Locales, lang: str, audience: int, topic: str, language: str | None, platform: str | None
) -> markup.RichText:
    """Who a broadcast reaches (``audience`` people), as the organiser confirms it, in chat or on the dashboard."""
    return locales.plural(
        lang,
        "broadcast.audience",
        audience,
        topic=locales.text(lang, f"topic.{topic}"),
        language=locales.text(language, "language.name")
        if language
        else locales.text(lang, "broadcast.every_language"),
        platform=platform.capitalize() if platform else locales.text(lang, "broadcast.every_platform"),
    )


def reminder_message(locales: Locales, day: ActionDay, on: date, days_before: int, lang: str) -> Reply:
    name = localized(day.name, lang)
    if days_before:
        heading = locales.plural(lang, "reminder.in_days", days_before, name=name, date=on.isoformat())
    else:
        heading = locales.rich(lang, "reminder.today", name=name)
    link = (markup.Link(day.link, day.link),) if day.link else ()
    text = markup.join(heading, markup.parse(localized(day.message, lang)), link, footer(locales, lang, ACTION_DAYS))
    return Reply(text)


def message_for(locales: Locales, campaigns: Campaigns, broadcast: Broadcast, lang: str) -> Reply | None:
    """The message of ``broadcast`` in ``lang``; None if its action day left the calendar."""
    if broadcast.kind != "reminder":
        return broadcast_message(locales, broadcast.body, broadcast.topic, lang)
    day = campaigns.calendar.get(broadcast.body)
    if day is None or broadcast.reminder_key is None:
        return None
    _, year, days_before = broadcast.reminder_key.rsplit(":", 2)
    return reminder_message(locales, day, day.in_year(int(year)), int(days_before), lang)
