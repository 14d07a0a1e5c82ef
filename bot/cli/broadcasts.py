"""``advocacy-bot broadcast``: organisers queue, list, inspect and cancel broadcasts from the server.

The running bot's scheduler picks queued broadcasts up (it looks every 30 seconds). Nothing here
sends anything: ``send`` says whether a running bot will, and ``status`` when none has for a while.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.campaigns.subscriptions import TOPICS
from bot.cli.common import EXIT_OK, EXIT_PROBLEMS, Commands, notice
from bot.cli.database import opened
from bot.content import LANGUAGES
from bot.content.i18n import Locales, counted
from bot.core.config import Config
from bot.delivery.broadcasts import MAX_BROADCAST_CHARS, create_broadcast
from bot.delivery.messages import broadcast_message
from bot.delivery.outbox import Broadcast
from bot.delivery.scheduler import TICK_SECONDS
from bot.features.broadcasts import platforms
from bot.operations import heartbeat
from bot.port.plaintext import render
from bot.privacy.files import ExportError

# A broadcast nothing has moved for this long is waiting for a running bot.
STALLED = timedelta(minutes=1)


def add_commands(sub: Commands, common: argparse.ArgumentParser) -> None:
    broadcast = sub.add_parser("broadcast", parents=[common], help="queue and follow broadcasts to subscribers")
    broadcast_sub = broadcast.add_subparsers(dest="broadcast_command", metavar="BROADCAST_COMMAND", required=True)
    send = broadcast_sub.add_parser("send", parents=[common], help="queue a broadcast (the running bot sends it)")
    send.add_argument("--text-file", type=Path, required=True, help="the message (light markup: **bold**, [text](url))")
    send.add_argument("--topic", required=True, choices=TOPICS, help="who gets it: subscribers of this topic")
    send.add_argument("--lang", choices=LANGUAGES, help="only subscribers who use this language")
    send.add_argument("--platform", choices=platforms(), help="only subscribers on this platform")
    send.add_argument("--at", help="when, ISO-8601 (default: now; without an offset: UTC)")
    send.add_argument("--dry-run", action="store_true", help="show the message and the audience; queue nothing")
    broadcast_sub.add_parser("list", parents=[common], help="the latest broadcasts")
    for name, what in (("status", "a broadcast's delivery figures"), ("cancel", "stop a broadcast")):
        one = broadcast_sub.add_parser(name, parents=[common], help=what)
        one.add_argument("id", type=int)


def cmd_broadcast(config: Config, args: argparse.Namespace) -> int:
    try:
        if args.broadcast_command == "send":
            output = asyncio.run(
                send(config, args.text_file, args.topic, args.lang, args.platform, args.at, dry_run=args.dry_run)
            )
        elif args.broadcast_command == "list":
            output = asyncio.run(listing(config))
        elif args.broadcast_command == "status":
            output = asyncio.run(status(config, args.id))
        else:
            output = asyncio.run(cancel(config, args.id))
    except ExportError as exc:
        notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    print(output)
    return EXIT_OK


def subscribers(count: int) -> str:
    return counted(count, {"one": "{count} subscriber", "other": "{count} subscribers"})


def read_text(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from exc
    if not text:
        raise ExportError(f"{path} is empty: nothing to send")
    if len(text) > MAX_BROADCAST_CHARS:
        raise ExportError(f"{path} has {len(text)} characters; a broadcast holds at most {MAX_BROADCAST_CHARS}")
    return text


def parse_when(value: str | None) -> datetime | None:
    """An ISO-8601 moment; without an offset it is taken as UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ExportError(f"--at: {value!r} is not an ISO-8601 date and time (e.g. 2027-06-19T10:00+02:00)") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


async def send(
    config: Config,
    text_file: Path,
    topic: str,
    language: str | None,
    platform: str | None,
    at: str | None,
    *,
    dry_run: bool,
) -> str:
    body = read_text(text_file)
    when = parse_when(at)
    async with opened(config) as database:
        outbox = database.outbox
        audience = await outbox.audience_size(topic, language, platform)
        if dry_run:
            locales = Locales(database.content.locales, config.default_language)
            preview = render(broadcast_message(locales, body, topic, language or config.default_language))
            return f"{preview}\n\nAudience: {subscribers(audience)} now.\ndry run: nothing was queued"
        now = datetime.now(UTC).replace(microsecond=0)
        send_at = when or now
        # Started by the running bot's scheduler at its time, even when that is now.
        created = await create_broadcast(
            outbox, topic=topic, body=body, language=language, platform=platform, now=now, send_at=send_at
        )
        seen = await heartbeat.running(database.store, now)
    scheduled = f"broadcast {created.id} scheduled for {send_at.isoformat()} ({subscribers(audience)} now)"
    return f"{scheduled}\n{who_sends(seen, platform, now)}"


def who_sends(seen: dict[str, datetime], platform: str | None, now: datetime) -> str:
    """Whether a running bot will send a queued broadcast (to ``platform``, or everywhere)."""
    if not seen:
        return (
            "No bot is running on this database (none seen in the last few minutes): "
            "it goes out when one starts (advocacy-bot run)."
        )
    running = heartbeat.describe(seen, now)
    if platform is not None and platform not in seen:
        return f"The running bot does not deliver to {platform} ({running}): it goes out when one that does starts."
    return f"A running bot ({running}) picks it up within {TICK_SECONDS:g} seconds of its time."


def _line(broadcast: Broadcast) -> str:
    return "  ".join(
        (str(broadcast.id), broadcast.kind, broadcast.topic, broadcast.state, broadcast.send_at.isoformat())
    )


async def listing(config: Config) -> str:
    async with opened(config) as database:
        broadcasts = await database.outbox.listing()
    if not broadcasts:
        return "no broadcasts yet"
    return "\n".join(["id  kind  topic  state  send_at", *(_line(b) for b in broadcasts)])


async def status(config: Config, broadcast_id: int) -> str:
    now = datetime.now(UTC)
    async with opened(config) as database:
        outbox = database.outbox
        broadcast = await outbox.get(broadcast_id)
        if broadcast is None:
            raise ExportError(f"there is no broadcast {broadcast_id}")
        counts = await outbox.counts(broadcast_id)
        oldest_due, last_change = await outbox.activity(broadcast_id)
        seen = await heartbeat.running(database.store, now)
    lines = [_line(broadcast)]
    lines += [f"{state}: {count}" for state, count in sorted(counts.items())] or ["no recipients queued yet"]
    if broadcast.started_at and broadcast.finished_at:
        lines.append(f"duration: {broadcast.finished_at - broadcast.started_at}")
    if stalled(broadcast, oldest_due, last_change, now):
        bots = f"bots seen: {heartbeat.describe(seen, now)}" if seen else "no bot seen running on this database"
        lines.append(f"waiting for a running bot: nothing has happened to it for over a minute ({bots})")
    return "\n".join(lines)


def stalled(broadcast: Broadcast, oldest_due: datetime | None, last_change: datetime | None, now: datetime) -> bool:
    """Nothing has claimed a broadcast that is due: not started, or its due messages untouched."""
    if broadcast.state == "scheduled":
        return broadcast.send_at <= now - STALLED
    if broadcast.state != "sending" or oldest_due is None or oldest_due > now - STALLED:
        return False
    return last_change is None or last_change <= now - STALLED


async def cancel(config: Config, broadcast_id: int) -> str:
    async with opened(config) as database:
        stopped = await database.outbox.cancel(broadcast_id, datetime.now(UTC))
    if stopped is None:
        raise ExportError(f"broadcast {broadcast_id} has already finished or been cancelled (or does not exist)")
    messages = counted(stopped, {"one": "{count} message", "other": "{count} messages"})
    return f"broadcast {broadcast_id} cancelled: {messages} will not be sent"
