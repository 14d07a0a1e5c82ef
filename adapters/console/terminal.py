"""The console's terminal: line editing and history, and output that never lands mid-conversation.

Lines are read with ``input()``, which edits them through readline where Python has it (arrow keys
move, up recalls), on a daemon thread: a blocked read must not keep the process alive after a
signal. Output that comes on its own (a broadcast, a delivery report, a log line) waits while a
line is being answered; otherwise it is printed above the prompt, which is then drawn again with
what was being typed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

try:
    import readline
except ImportError:  # no line editing here (Windows); escape sequences are still dropped
    readline = None  # type: ignore[assignment]

try:
    import termios
except ImportError:
    termios = None  # type: ignore[assignment]

PROMPT = "> "
HISTORY_LENGTH = 1000
# Back to the start of the line, and clear it (ANSI): where the prompt was.
CLEAR_LINE = "\r\x1b[2K"


class _Through:
    """A log handler's stream that hands each record to the terminal, to be shown at the right moment."""

    def __init__(self, terminal: Terminal, stream: IO[str]) -> None:
        self._terminal = terminal
        self._stream = stream

    def write(self, text: str) -> int:
        self._terminal.background(text, self._stream)
        return len(text)

    def flush(self) -> None:
        pass


class Terminal:
    """One person typing at one terminal. Use as a context manager around the conversation."""

    def __init__(self, stdin: IO[str], stdout: IO[str], history: Path | None) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.history = history
        # Real line editing only on the process's own terminal: input() uses readline only there.
        self._editing = readline is not None and stdin is sys.stdin
        self._lock = threading.RLock()
        # The prompt is on screen, waiting for a line.
        self._reading = False
        # A typed line is being answered: output of its own waits in _held until it is.
        self._busy = False
        self._held: list[tuple[IO[str], str]] = []
        self._requests: queue.SimpleQueue[asyncio.Future[str | None]] = queue.SimpleQueue()
        self._saved_modes: list[Any] | None = None
        self._redirected: list[tuple[logging.StreamHandler[IO[str]], IO[str]]] = []

    # -- set-up ------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        if termios is not None and self.stdin.isatty():
            # Restored on the way out: the process may stop while readline has the terminal in its mode.
            with contextlib.suppress(termios.error, OSError, ValueError):
                self._saved_modes = termios.tcgetattr(self.stdin.fileno())
        if self._editing:
            self._start_history()
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and _on_a_terminal(handler.stream):
                self._redirected.append((handler, handler.stream))
                handler.setStream(_Through(self, handler.stream))
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._serve, args=(loop,), name="console-input", daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for handler, stream in self._redirected:
            handler.setStream(stream)
        self._release()
        if self._editing:
            readline.set_pre_input_hook(None)
            if self.history is not None:
                with contextlib.suppress(OSError):
                    readline.write_history_file(str(self.history))
                    os.chmod(self.history, 0o600)
        if self._saved_modes is not None:
            with contextlib.suppress(termios.error, OSError, ValueError):
                termios.tcsetattr(self.stdin.fileno(), termios.TCSADRAIN, self._saved_modes)
        with self._lock:
            if self._reading:
                # Leave the shell's prompt a line of its own.
                self.stdout.write("\n")
                self.stdout.flush()

    def _start_history(self) -> None:
        # Lines are added by remember() only: a form's answers must never be recalled or saved.
        readline.set_auto_history(False)
        readline.set_history_length(HISTORY_LENGTH)
        readline.set_pre_input_hook(self._prompt_shown)
        if self.history is None:
            return
        self.history.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created owner-only before readline writes to it: the questions someone asked are theirs.
        os.close(os.open(self.history, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(self.history, 0o600)
        with contextlib.suppress(OSError):
            readline.read_history_file(str(self.history))

    # -- input -------------------------------------------------------------------------------

    async def read_line(self, stop: asyncio.Event) -> str | None:
        """The next typed line (None at the end of input, or when ``stop`` is set).

        Output of its own is held from the moment the line is typed until :meth:`answered`.
        """
        line: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._requests.put(line)
        stopper = asyncio.ensure_future(stop.wait())
        waiting: set[asyncio.Future[Any]] = {line, stopper}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        return line.result() if line.done() and not line.cancelled() else None

    def answered(self) -> None:
        """The typed line has had its answer: show what was held meanwhile."""
        self._release()

    def remember(self, line: str) -> None:
        """Keep ``line`` for the up arrow, and in the history file."""
        if not self._editing:
            return
        readline.add_history(line)
        if self.history is not None:
            with contextlib.suppress(OSError):
                readline.append_history_file(1, str(self.history))

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            request = self._requests.get()
            line: str | None
            try:
                if self._editing:
                    line = input(PROMPT)
                else:
                    self._prompt()
                    read = self.stdin.readline()
                    line = read.rstrip("\n") if read else None
            except (EOFError, OSError, ValueError, UnicodeDecodeError):
                line = None
            with self._lock:
                self._reading = False
                self._busy = line is not None
            try:
                loop.call_soon_threadsafe(_settle, request, line)
            except RuntimeError:  # the loop has closed: the chat is over
                return
            if line is None:
                return

    def _prompt(self) -> None:
        with self._lock:
            self.stdout.write(PROMPT)
            self.stdout.flush()
            self._reading = True

    def _prompt_shown(self) -> None:
        with self._lock:
            self._reading = True

    # -- output ------------------------------------------------------------------------------

    def background(self, text: str, stream: IO[str] | None = None) -> None:
        """Show ``text``, which came on its own, without cutting into a question or its answer."""
        stream = stream or self.stdout
        with self._lock:
            if self._busy:
                self._held.append((stream, text))
                return
            if not self._reading:
                _write(stream, text)
                return
            self.stdout.write(CLEAR_LINE)
            self.stdout.flush()
            _write(stream, text)
            typed = readline.get_line_buffer() if self._editing else ""
            _write(self.stdout, PROMPT + typed)

    def _release(self) -> None:
        with self._lock:
            self._busy = False
            held, self._held = self._held, []
            for stream, text in held:
                _write(stream, text)


def _settle(future: asyncio.Future[str | None], line: str | None) -> None:
    if not future.done():
        future.set_result(line)


def _write(stream: IO[str], text: str) -> None:
    stream.write(text)
    stream.flush()


def _on_a_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False
