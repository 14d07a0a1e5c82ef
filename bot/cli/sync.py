"""``advocacy-bot sync``: organisers follow the CRM sync from the server, and send failed events again.

Nothing here sends anything: the running bot's sync engine does (it looks every few seconds).
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

from bot.cli.common import EXIT_OK, EXIT_PROBLEMS, Commands, notice
from bot.cli.database import opened
from bot.core.config import Config
from bot.privacy.files import ExportError
from bot.sync.outbox import Status, SyncOutbox


def add_commands(sub: Commands, common: argparse.ArgumentParser) -> None:
    sync = sub.add_parser("sync", parents=[common], help="follow the CRM sync (sync: in config.yaml)")
    sync_sub = sync.add_subparsers(dest="sync_command", metavar="SYNC_COMMAND", required=True)
    sync_sub.add_parser(
        "status", parents=[common], help="per destination: pending, done, failed, oldest pending; what is left to you"
    )
    retry = sync_sub.add_parser("retry", parents=[common], help="send waiting events now, without their back-off")
    retry.add_argument("--failed", action="store_true", help="also send again the events given up")
    done = sync_sub.add_parser("done", parents=[common], help="mark a manual erasure step as done")
    done.add_argument("id", type=int, help="the step's number, as sync status lists it")


def cmd_sync(config: Config, args: argparse.Namespace) -> int:
    try:
        if args.sync_command == "status":
            output = asyncio.run(status(config))
        elif args.sync_command == "retry":
            output = asyncio.run(retry(config, failed=args.failed))
        else:
            output = asyncio.run(done(config, args.id))
    except ExportError as exc:
        notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    print(output)
    return EXIT_OK


def age(oldest: datetime | None, now: datetime) -> str:
    if oldest is None:
        return "-"
    return str(timedelta(seconds=int(max(0.0, (now - oldest).total_seconds()))))


async def status(config: Config) -> str:
    now = datetime.now(UTC)
    async with opened(config) as database:
        outbox = SyncOutbox(database.store, database.keyring)
        figures = await outbox.status()
        notices = await outbox.notices()
    names = sorted(set(config.sync.destinations) | set(figures))
    if not names:
        return "no CRM destination is configured (sync.destinations in config.yaml)"
    lines = [f"{'destination':<20} {'pending':>8} {'done':>8} {'failed':>8}  oldest pending"]
    for name in names:
        counts = figures.get(name, Status())
        waiting = counts.pending + counts.sending
        lines.append(f"{name:<20} {waiting:>8} {counts.sent:>8} {counts.failed:>8}  {age(counts.oldest_pending, now)}")
    failed = [n for n in notices if n.kind == "failed"]
    manual = [n for n in notices if n.kind == "manual"]
    if failed:
        lines += ["", "given up (advocacy-bot sync retry --failed sends them again):"]
        lines += [f"  #{n.id} {n.destination} {n.event} {n.subject} ({n.day}): {n.detail}" for n in failed]
    if manual:
        lines += ["", "erasures left to you (advocacy-bot sync done ID once done):"]
        lines += [f"  #{n.id} {n.destination} {n.subject} ({n.day}): {n.detail}" for n in manual]
    return "\n".join(lines)


async def retry(config: Config, *, failed: bool) -> str:
    async with opened(config) as database:
        count = await SyncOutbox(database.store, database.keyring).retry(datetime.now(UTC), failed=failed)
    return f"{count} event(s) will be sent at once by the running bot"


async def done(config: Config, row_id: int) -> str:
    async with opened(config) as database:
        if not await SyncOutbox(database.store, database.keyring).manual_done(row_id):
            raise ExportError(f"there is no manual step #{row_id}")
    return f"step #{row_id} is done"
