"""The database's files: owner-only, and a damaged one refused at start with one line that says what to do.

Each case runs the real ``advocacy-bot`` command. A read-only folder and a full disk are made with a
private mount namespace (``unshare``) where one can be made, so that they are real, not simulated.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEST_KEY
from helpers import ROOT
from testbot import TestBot

from bot.core.app import Core, Services
from bot.core.config import Config, StorageConfig
from bot.storage.database import MARKER_SUFFIX, DatabaseUnusable, Store

DB = "bot.sqlite3"


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def start(folder: Path, *, wrap: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """The console bot on ``folder``/bot.sqlite3, asked one thing (``wrap``: a command that runs it)."""
    config = folder.parent / f"{folder.name}.yaml"
    config.write_text(f"storage:\n  path: {folder / DB}\n", encoding="utf-8")
    command = [sys.executable, "-m", "bot", "--config", str(config)]
    return subprocess.run(
        [*(wrap or []), *command],
        input="/help\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "ADVOCACY_BOT_SECRET_KEY": TEST_KEY},
        timeout=60,
    )


def refused(result: subprocess.CompletedProcess[str], path: Path, *remedy: str) -> None:
    """Exit status 2, and one line naming the file and what to do: no traceback. (The line before it
    says which database and configuration the console opened.)"""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"advocacy-bot: the database {path} ")]
    assert len(lines) == 1, result.stderr
    assert all(words in lines[0] for words in remedy), lines[0]


async def signed_database(folder: Path, services: Services) -> Path:
    """A real database with people in it, closed."""
    config = Config(storage=StorageConfig(folder / DB))
    async with TestBot.started(config, services) as bot:
        for person in range(40):
            someone = TestBot(bot.core, user_id=f"p{person}")
            await someone.ask("/subscribe news")
            await someone.ask("/pledge carry-naloxone")
    return folder / DB


def can_mount() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--map-root-user", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(not can_mount(), reason="no private mount namespace here (unshare)")


def in_namespace(mount: str) -> list[str]:
    """Run the command in a mount namespace of its own, after ``mount`` (a shell command)."""
    return ["unshare", "--mount", "--map-root-user", "sh", "-c", f'{mount} && exec "$@"', "sh"]


# --------------------------------------------------------------------------------- permissions


async def test_the_data_folder_and_the_database_files_are_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    store = await Store.open(folder / DB)
    try:
        async with store.transaction() as db:
            await db.execute("INSERT INTO users (id, platform, created_at) VALUES ('u', 'console', 'now')")
        files = [folder / DB, folder / f"{DB}-wal", folder / f"{DB}-shm", folder / f"{DB}{MARKER_SUFFIX}"]
        assert {file.name: mode(file) for file in files} == {file.name: 0o600 for file in files}
        assert mode(folder) == 0o700
    finally:
        await store.close()


async def test_an_existing_database_is_made_owner_only(tmp_path: Path) -> None:
    path = tmp_path / DB
    await (await Store.open(path)).close()
    path.chmod(0o644)
    await (await Store.open(path)).close()
    assert mode(path) == 0o600
    path.chmod(0o444)  # someone made it read-only: others lose their access, the owner keeps it read-only
    try:
        await (await Store.open(path)).close()
    except DatabaseUnusable:
        assert os.geteuid() != 0  # root may write to it anyway
    assert mode(path) == 0o400


# --------------------------------------------------------------------------------- damaged databases


async def test_a_truncated_database_is_refused(tmp_path: Path, services: Services) -> None:
    path = await signed_database(tmp_path / "data", services)
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    refused(start(path.parent), path, "damaged", "restore it from a backup")


@pytest.mark.parametrize("written", [b"garbage" * 3 + b"\0" * 100, b"not a database\n" * 200])
async def test_a_bad_header_or_a_text_file_is_refused(tmp_path: Path, services: Services, written: bytes) -> None:
    path = await signed_database(tmp_path / "data", services)
    with path.open("r+b") as handle:
        handle.write(written)
    refused(start(path.parent), path, "not a database", "restore it from a backup")


async def test_an_empty_or_missing_database_is_refused_once_one_existed(tmp_path: Path, services: Services) -> None:
    path = await signed_database(tmp_path / "data", services)
    assert path.with_name(DB + MARKER_SUFFIX).exists()
    path.write_bytes(b"")
    refused(start(path.parent), path, "is empty", "restore it from a backup", MARKER_SUFFIX)
    assert path.stat().st_size == 0  # nothing was made of it
    path.unlink()
    refused(start(path.parent), path, "is missing", "restore it from a backup")


def test_an_empty_file_is_a_first_start(tmp_path: Path) -> None:
    # As when a deployment creates the file before the first start (a bind mount needs one).
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    (folder / DB).write_bytes(b"")
    result = start(folder)
    assert result.returncode == 0, result.stderr
    assert "/topics" in result.stdout
    assert (folder / DB).stat().st_size > 0 and (folder / f"{DB}{MARKER_SUFFIX}").exists()


@needs_mount
async def test_a_read_only_database_is_refused(tmp_path: Path, services: Services) -> None:
    path = await signed_database(tmp_path / "data", services)
    folder = path.parent
    result = start(folder, wrap=in_namespace(f"mount --bind -o ro {folder} {folder}"))
    refused(result, path, "write to both")


@needs_mount
def test_a_full_disk_is_refused_with_what_to_do(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    result = start(folder, wrap=in_namespace(f"mount -t tmpfs -o size=64k,mode=700 tmpfs {folder}"))
    refused(result, folder / DB, "the disk is full", "Free some space")


async def test_a_damaged_database_stops_the_core_with_the_same_line(tmp_path: Path, services: Services) -> None:
    path = await signed_database(tmp_path / "data", services)
    path.write_bytes(b"SQLite format 3\0" + b"\xff" * 200)
    with pytest.raises(DatabaseUnusable, match=f"the database {path} "):
        await Core.open(Config(storage=StorageConfig(path)), services=services)
