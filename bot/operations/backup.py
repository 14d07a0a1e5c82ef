"""``advocacy-bot backup`` and ``restore``: whole, consistent copies of the database.

A backup is SQLite's online backup (the API behind the sqlite3 shell's ``.backup``): it can be taken
while the bot runs, and sees one moment of the database. Each copy is checked whole before it gets
its final name, is owner-only, and only the newest ``keep`` are kept. Restoring checks the backup,
moves the current database (and its ``-wal`` file, which would otherwise be replayed over the
restored one) aside as it is, then copies the backup into a new owner-only file.

The secret key is never part of a backup: whoever holds a backup and the key can read every
signature, so the key is kept elsewhere (see the README).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bot.core.config import Config
from bot.operations import heartbeat
from bot.privacy.crypto import unwrap_keys
from bot.privacy.secret_key import SecretKeyError, load_key
from bot.storage.migrations import MIGRATIONS

PREFIX = "advocacy-bot-"
SUFFIX = ".sqlite3"


class BackupError(Exception):
    pass


def _checked(path: Path) -> sqlite3.Connection:
    """``path`` opened, after checking that it is a whole database of a schema this program knows."""
    db = sqlite3.connect(path)
    try:
        damage = [str(row[0]) for row in db.execute("PRAGMA integrity_check")]
        if damage != ["ok"]:
            raise BackupError(f"{path} is damaged: {'; '.join(damage[:3])}")
        version = int(db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0])
    except sqlite3.Error as exc:
        db.close()
        raise BackupError(f"{path} is not a database of advocacy-bot ({exc})") from exc
    except BaseException:
        db.close()
        raise
    if version > MIGRATIONS[-1].version:
        db.close()
        raise BackupError(f"{path} is at schema {version}, newer than this program: upgrade advocacy-bot first")
    return db


def _private_file(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def backup(database: Path, directory: Path, keep: int, now: datetime) -> Path:
    """Copy ``database`` into ``directory`` as advocacy-bot-<UTC time>.sqlite3; returns the copy."""
    if not database.exists():
        raise BackupError(f"there is no database at {database} (check storage.path)")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = directory / f"{PREFIX}{now:%Y%m%dT%H%M%SZ}{SUFFIX}"
    if target.exists():
        raise BackupError(f"{target} already exists")
    temporary = target.with_name(f".{target.name}.part")
    _private_file(temporary)
    try:
        with (
            contextlib.closing(sqlite3.connect(database)) as source,
            contextlib.closing(sqlite3.connect(temporary)) as copy,
        ):
            source.backup(copy)
            # One self-contained file: no write-ahead log beside a backup.
            copy.execute("PRAGMA journal_mode=DELETE")
        _checked(temporary).close()
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    for old in sorted(directory.glob(f"{PREFIX}*{SUFFIX}"))[:-keep]:
        old.unlink()
    return target


def recently_running(database: Path, now: datetime) -> dict[str, datetime]:
    """The platforms a bot on ``database`` delivered to moments ago (nothing if it cannot be read)."""
    if not database.exists():
        return {}
    try:
        with contextlib.closing(sqlite3.connect(database)) as db:
            rows = db.execute(
                "SELECT name, value FROM adapter_settings WHERE platform = ? AND scope = ?",
                (heartbeat.OWNER, heartbeat.SCOPE),
            ).fetchall()
    except sqlite3.Error:
        # A damaged database (the reason to restore, often) has no running bot worth protecting.
        return {}
    return heartbeat.fresh({str(name): str(value) for name, value in rows}, now)


def restore(backup_file: Path, database: Path, secret: bytes | None, now: datetime) -> Path | None:
    """Make ``database`` a copy of ``backup_file``; returns where the replaced database was saved.

    With ``secret``, the backup must open with it: a database nobody can read is not restored.
    """
    if not backup_file.is_file():
        raise BackupError(f"{backup_file}: no such file")
    with contextlib.closing(_checked(backup_file)) as source:
        if secret is not None:
            wrapped = {str(row[0]): bytes(row[1]) for row in source.execute("SELECT purpose, wrapped FROM keyring")}
            if wrapped:
                try:
                    unwrap_keys(secret, wrapped)
                except SecretKeyError as exc:
                    raise BackupError(f"{backup_file}: {exc}") from exc
        saved = None
        if database.exists():
            # Moved aside as it is, with its write-ahead log: it may be damaged (often the reason to
            # restore), and a log left behind would be replayed over the restored database.
            saved = database.with_name(f"{database.name}.before-restore-{now:%Y%m%dT%H%M%SZ}")
            for suffix in ("", "-wal", "-shm"):
                part = database.with_name(database.name + suffix)
                if part.exists():
                    kept = saved.with_name(saved.name + suffix)
                    os.replace(part, kept)
                    os.chmod(kept, 0o600)
        database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _private_file(database)
        with contextlib.closing(sqlite3.connect(database)) as live:
            source.backup(live)
    return saved


def restore_database(
    config: Config, backup_file: Path, now: datetime, *, force: bool, notice: Callable[[str], None]
) -> str:
    """``advocacy-bot restore``: refused while a bot runs on the database (unless ``force``), checked
    with the configured key when there is one; returns what was done."""
    database = config.store_path
    seen = recently_running(database, now)
    if seen and not force:
        raise BackupError(
            f"a bot was running on {database} moments ago ({heartbeat.describe(seen, now)}): "
            "stop it first (systemctl stop advocacy-bot), or add --force if it has crashed"
        )
    try:
        secret: bytes | None = load_key(config.data_dir, create=False)
    except SecretKeyError:
        secret = None
        notice(f"advocacy-bot: no secret key is configured, so whether it opens {backup_file} is not checked")
    saved = restore(backup_file, database, secret, now)
    aside = f"; the database it replaced is saved as {saved}" if saved else ""
    return f"restored {database} from {backup_file}{aside}. Check with doctor, then start the bot."
