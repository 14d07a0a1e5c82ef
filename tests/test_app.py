"""One process, several adapters, one core and one store; graceful shutdown on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core import app as core_module
from bot.core import registry as adapters
from bot.core.app import Core
from bot.core.config import Config
from bot.operations.serving import serve
from bot.port.events import Chat, Event, Text, User
from bot.port.platform import Setup
from bot.port.services import Port

ROOT = Path(__file__).resolve().parents[1]


class RecordingAdapter:
    """An adapter that asks one question, then waits for the stop signal."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.core: Port | None = None
        self.answers: list[str | None] = []
        self.answered = asyncio.Event()

    async def run(self, core: Port, stop: asyncio.Event) -> None:
        self.core = core
        replies = (await core.handle(Event(User(self.name, "u1"), Chat("c1"), Text("what is naloxone")))).replies
        self.answers.append(replies[0].entry)
        self.answered.set()
        await stop.wait()


async def test_adapters_share_one_core_and_stop_on_sigterm(config: Config) -> None:
    first, second = RecordingAdapter("alpha"), RecordingAdapter("beta")
    server = asyncio.create_task(serve(config, [first, second]))
    await asyncio.wait_for(asyncio.gather(first.answered.wait(), second.answered.wait()), timeout=10)
    assert first.core is second.core
    assert first.answers == second.answers == ["naloxone"]
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(server, timeout=10)


def test_adapters_are_created_by_name(config: Config) -> None:
    setup = Setup(config.section("console"), config.limits("console"), config.data_dir)
    assert adapters.create("console", setup).name == "console"


def test_sigint_stops_an_interactive_console_cleanly(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"storage:\n  path: {tmp_path / 'db.sqlite3'}\n")
    env = {**os.environ, "ADVOCACY_BOT_SECRET_KEY": "44" * 32}
    # stdin stays open (a pipe nobody writes to): the bot waits until the signal arrives.
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
        text=True,
    )
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write("/help\n")
        process.stdin.flush()
        # Signal only once the bot has answered: it is then serving, with its handlers installed.
        seen = ""
        deadline = time.monotonic() + 60
        while "/topics" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 1)
            if ready:
                # Raw reads: a buffered readline() would hide data from the next select().
                seen += os.read(process.stdout.fileno(), 65536).decode()
        assert "/topics" in seen
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err


class AbandoningAdapter:
    """Someone starts a sign-up, types their name, and goes away; the adapter waits for it to be forgotten."""

    name = "abandoner"

    def __init__(self) -> None:
        self.forgotten = False

    async def run(self, core: Port, stop: asyncio.Event) -> None:
        # It reaches past the port, to the store and the forms: serve hands every adapter the Core.
        assert isinstance(core, Core)
        user = core.keyring.user_id(self.name, "u1")
        long_ago = core.clock() - core.conversation_timeout - timedelta(minutes=5)
        state = {"petition": "un-decriminalise", "step": "email", "answers": {"name": "Ana Lima"}}
        await core.conversations.save_conversation(user, self.name, "sign", state, long_ago)
        for _ in range(200):
            row = await core.store.row("SELECT 1 FROM conversations WHERE user_id = ?", (user,))
            if row is None:
                self.forgotten = True
                return
            await asyncio.sleep(0.02)


async def test_abandoned_forms_are_forgotten_while_the_bot_runs(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core_module, "HOUSEKEEPING_SECONDS", 0.05)
    adapter = AbandoningAdapter()
    await asyncio.wait_for(serve(config, [adapter]), timeout=20)
    assert adapter.forgotten
