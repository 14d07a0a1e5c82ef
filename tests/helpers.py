"""What the test modules share: running the ``advocacy-bot`` command as a user would (for the tests that
need a real process), reading the row of a query that always has one, and writing the test's database
into a configuration file."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiosqlite

from bot.core.config import Config

ROOT = Path(__file__).resolve().parents[1]


def run_bot(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS`` in the repository, with ``env`` replacing the environment if given."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ.copy() if env is None else env,
        timeout=60,
    )


async def only_row(cursor: aiosqlite.Cursor) -> sqlite3.Row:
    """The row of a query that always returns one (``COUNT(*)``, a ``PRAGMA``)."""
    row = await cursor.fetchone()
    assert row is not None, "the query returned no row"
    return row


def storage_section(config: Config) -> dict[str, str]:
    """The ``storage:`` section of a configuration file for the test's database, whichever backend it is
    (a test cluster's URL holds no password, so it may be written in the file)."""
    return {"url": config.server_url} if config.server_url else {"path": str(config.store_path)}
