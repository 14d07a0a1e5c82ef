"""The organisers' report of the CRM sync: rows given up, and erasures left to them, through the
delivery engines' direct sends (as a broadcast's report goes), to every organiser on a platform that runs."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from bot.content.i18n import Locales
from bot.delivery import Engine
from bot.port import markup
from bot.port.events import Reply
from bot.sync.engine import Report
from bot.sync.outbox import Notice

log = logging.getLogger(__name__)


def report_text(locales: Locales, lang: str, notices: Sequence[Notice]) -> markup.RichText:
    failed = [notice for notice in notices if notice.kind == "failed"]
    manual = [notice for notice in notices if notice.kind == "manual"]
    lines: list[markup.RichText] = [locales.rich(lang, "sync.report", failed=len(failed), manual=len(manual))]
    # Ids and petition names only: never a person's details.
    lines += [markup.text(f"#{n.id} {n.destination} {n.event} {n.subject}: {n.detail}") for n in notices]
    return markup.join(*lines, sep="\n")


def organiser_report(locales: Locales, lang: str, organisers: Sequence[str], engines: Mapping[str, Engine]) -> Report:
    async def report(notices: Sequence[Notice]) -> bool:
        text = report_text(locales, lang, notices)
        delivered = False
        for organiser in organisers:
            platform, _, address = organiser.partition(":")
            engine = engines.get(platform)
            if engine is not None and await engine.send_direct(address, Reply(text)):
                delivered = True
        if not delivered:
            log.warning("%d CRM sync notice(s) for organisers: see advocacy-bot sync status", len(notices))
        # Either way they stay listed by `advocacy-bot sync status` until dealt with.
        return delivered

    return report
