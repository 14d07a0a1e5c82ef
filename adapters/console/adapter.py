"""The console adapter: chat with the bot on stdin/stdout, interactively or piped.

Piped, it reads lines until end of input, prints each reply and exits; interactively it shows a
prompt, with line editing and history (``console_terminal``). Buttons are numbered choices: typing
the number presses the button.
"""

from __future__ import annotations

import asyncio
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from adapters.console import PLATFORM as DECLARED
from adapters.console import ConsoleConfig
from adapters.console.terminal import Terminal
from bot.port.delivery import PermanentFailure, PlatformLimits
from bot.port.events import Button, ButtonPress, Chat, ChatKind, Event, Reply, User, parse_text
from bot.port.plaintext import buttons_of, render
from bot.port.platform import Setup
from bot.port.services import Port

PLATFORM = "console"
QUIT = {"/quit", "/exit"}
# The history of typed lines, in the data directory (owner-only).
HISTORY_FILE = "console_history"
WELCOME = "advocacy-bot: type a question, /help for commands, /quit to leave.\n"
# Terminal escape sequences (an arrow key where nothing edits lines: "^[[A") and other control
# characters: keys, not text. Character classes in sequence, no nesting: linear time.
_KEYS = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|O.)?|[\x00-\x08\x0b-\x1f\x7f]")


def typed_text(line: str) -> str:
    """What was typed on ``line``, without the keys that are not text."""
    return _KEYS.sub("", line)


class ConsoleAdapter:
    name = PLATFORM

    def __init__(
        self,
        user_id: str = "local",
        language: str | None = None,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
        interactive: bool | None = None,
        on_delivery: Callable[[Reply], None] | None = None,
        history: Path | None = None,
        limits: PlatformLimits | None = None,
    ) -> None:
        self.user = User(PLATFORM, user_id, language)
        self.chat = Chat(f"console:{user_id}", ChatKind.PRIVATE)
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.interactive = self.stdin.isatty() if interactive is None else interactive
        self._choices: list[Button] = []
        # Where broadcasts go instead of the screen (a test collecting them).
        self._on_delivery = on_delivery
        # The file typed lines are kept in, interactively (None: kept for this session only).
        self.history = history
        self._terminal: Terminal | None = None
        self._sender = ConsoleSender(limits or DECLARED.limits)
        self._sender.attach(self)

    @property
    def choices(self) -> list[Button]:
        """The buttons of the last replies that had any, in the order they are numbered."""
        return list(self._choices)

    def _write(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def event_for(self, line: str) -> Event:
        stripped = line.strip()
        if stripped.isdigit() and 1 <= int(stripped) <= len(self._choices):
            return Event(self.user, self.chat, ButtonPress(self._choices[int(stripped) - 1].action))
        return Event(self.user, self.chat, parse_text(stripped))

    def deliver(self, reply: Reply) -> None:
        """Show a broadcast or reminder, as a recipient on a chat platform would get it."""
        if self._on_delivery is not None:
            self._on_delivery(reply)
        elif self._terminal is not None:
            self._terminal.background(render(reply) + "\n\n")
        else:
            self._write(render(reply) + "\n\n")
        choices = buttons_of(reply)
        if choices:
            self._choices = choices

    def sender(self) -> ConsoleSender:
        return self._sender

    async def handle_line(self, core: Port, line: str) -> list[Reply]:
        """The replies to one typed line; their buttons become the numbered choices."""
        replies = (await core.handle(self.event_for(line))).replies
        choices = [button for reply in replies for button in buttons_of(reply)]
        if choices:
            self._choices = choices
        return replies

    async def answer(self, core: Port, line: str) -> None:
        for reply in await self.handle_line(core, line):
            self._write(render(reply) + "\n\n")

    async def run(self, core: Port, stop: asyncio.Event) -> None:
        if self.interactive:
            await self._converse(core, stop)
            return
        lines = _LineReader(self.stdin)
        while not stop.is_set():
            line = await lines.next(stop)
            if line is None:
                break
            text = typed_text(line).strip()
            if text in QUIT:
                break
            if text:
                await self.answer(core, text)

    async def _converse(self, core: Port, stop: asyncio.Event) -> None:
        with Terminal(self.stdin, self.stdout, self.history) as terminal:
            self._terminal = terminal
            self._write(WELCOME)
            try:
                while not stop.is_set():
                    line = await terminal.read_line(stop)
                    if line is None:
                        break
                    try:
                        text = typed_text(line).strip()
                        if text in QUIT:
                            break
                        if not text:
                            continue
                        # Answers to a form (a name, an e-mail) are never kept for the up arrow or the file.
                        if not (await core.current(self.event_for(text))).in_form:
                            terminal.remember(text)
                        await self.answer(core, text)
                    finally:
                        terminal.answered()
            finally:
                self._terminal = None


class ConsoleSender:
    """Delivers broadcasts to the console chats of this process (one per console user)."""

    platform = PLATFORM

    def __init__(self, limits: PlatformLimits) -> None:
        self._limits = limits
        self._chats: dict[str, ConsoleAdapter] = {}

    def attach(self, adapter: ConsoleAdapter) -> None:
        self._chats[adapter.chat.id] = adapter

    def limits(self) -> PlatformLimits:
        return self._limits

    def is_group(self, address: str) -> bool:
        return False

    async def send(self, address: str, reply: Reply) -> None:
        adapter = self._chats.get(address)
        if adapter is None:
            # Another console user id, not at this terminal: not gone, so not unsubscribed.
            raise PermanentFailure("no console open for this user")
        adapter.deliver(reply)


class _LineReader:
    """Lines from a blocking stream, read on a daemon thread so a signal can stop the wait."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def put(item: str | None) -> bool:
            try:
                loop.call_soon_threadsafe(self._queue.put_nowait, item)
            except RuntimeError:  # the loop has closed: the chat is over
                return False
            return True

        def pump() -> None:
            try:
                for line in stream:
                    if not put(line):
                        return
            except (OSError, ValueError, UnicodeDecodeError):
                pass
            put(None)

        # A daemon thread: a blocked read must not keep the process alive after a signal.
        threading.Thread(target=pump, name="console-stdin", daemon=True).start()

    async def next(self, stop: asyncio.Event) -> str | None:
        getter = asyncio.ensure_future(self._queue.get())
        stopper = asyncio.ensure_future(stop.wait())
        done, pending = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return getter.result() if getter in done else None


def create(setup: Setup[ConsoleConfig]) -> ConsoleAdapter:
    settings = setup.settings
    history = setup.data_dir / HISTORY_FILE if settings.history else None
    return ConsoleAdapter(settings.user_id, settings.language, history=history, limits=setup.limits)


async def check(settings: ConsoleConfig) -> str:
    return "the console needs nothing more"
