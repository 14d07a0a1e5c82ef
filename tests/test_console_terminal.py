"""The console as someone types into it: a real process on a pseudo-terminal (pexpect).

Line editing and history come from readline; keys are never questions; nothing (a log line, a
broadcast) comes between a question and its answer; the prompt comes back after a message that
arrives on its own; the history file is owner-only and never holds what was typed into a form.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from conftest import TEST_KEY
from helpers import ROOT, run_bot

PROMPT = "> "
LEFT, UP, DOWN = "\x1b[D", "\x1b[A", "\x1b[B"
# The console's answer to anything it did not understand (content/locales/en.yaml, fallback).
NOT_UNDERSTOOD = "Sorry, I can't answer that"


class Console:
    """``advocacy-bot`` on a pseudo-terminal, and everything it has written so far."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        config = tmp_path / "config.yaml"
        if not config.exists():
            config.write_text(f"storage:\n  path: {tmp_path / 'data' / 'bot.sqlite3'}\norganisers: [console:local]\n")
        env = {**os.environ, "ADVOCACY_BOT_SECRET_KEY": TEST_KEY, "TERM": "xterm"}
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "bot", "--config", str(config), *args],
            cwd=str(ROOT),
            env=env,
            encoding="utf-8",
            timeout=30,
            dimensions=(50, 250),
        )
        self.child.expect_exact("/quit to leave.")
        self.prompt()

    @property
    def seen(self) -> str:
        """Everything written since the last expect()."""
        return str(self.child.before)

    def prompt(self) -> str:
        """Wait for the prompt; returns what was written before it."""
        self.child.expect_exact(PROMPT)
        return self.seen

    def type(self, keys: str) -> None:
        self.child.send(keys)

    def line(self, text: str) -> str:
        """Type ``text`` and Enter; what was written until the next prompt."""
        self.type(text + "\r")
        return self.prompt()

    def press(self, label: str, shown: str) -> str:
        """Type the number of the button labelled ``label`` in ``shown``."""
        found = re.search(rf"\[(\d+)\] {re.escape(label)}", shown)
        assert found, f"no button {label!r} in {shown!r}"
        return self.line(found[1])

    def quit(self) -> None:
        self.type("/quit\r")
        self.child.expect(pexpect.EOF)
        self.child.close()
        assert self.child.exitstatus == 0


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    running = Console(tmp_path, "-v")
    yield running
    if running.child.isalive():
        running.child.terminate(force=True)


def test_arrow_keys_edit_the_line_and_never_become_a_question(console: Console) -> None:
    # "what is nalxone", four steps back (before the x), an o: "what is naloxone".
    console.type("what is nalxone" + LEFT * 4 + "o")
    answer = console.line("")
    assert "Naloxone (Narcan)" in answer
    assert "^[" not in answer and "\x1b[A" not in answer

    # Up brings the question back, down clears it again: Enter on the empty line asks nothing.
    console.type(UP + DOWN)
    assert "Sources" not in console.line("")
    # Up, Enter: the same question again, from the history.
    console.type(UP)
    assert "Naloxone (Narcan)" in console.line("")
    # A stray arrow with nothing to edit is not a question either.
    console.type(LEFT)
    assert NOT_UNDERSTOOD not in console.line("")
    # /help lists the console's own command.
    assert "/quit — leave the console" in console.line("/help")
    console.quit()


def test_no_log_line_comes_between_a_question_and_its_answer(console: Console) -> None:
    # -v: INFO lines on the terminal; erasing someone's data logs one while the answer is made.
    confirm = console.line("/forget")
    shown = console.press("Yes, erase everything", confirm)
    done = shown.index("Done: everything about you is erased")
    logged = shown.index("erased one person's data on console")
    assert done < logged, shown
    console.quit()


def test_the_prompt_comes_back_after_a_message_that_arrives_on_its_own(console: Console) -> None:
    console.line("/subscribe news")
    console.line("/broadcast")
    topics = console.line("Hello from the organisers")
    languages = console.press("campaign news", topics)
    platforms = console.press("Every language", languages)
    preview = console.press("Every platform", platforms)
    send_it = re.search(r"\[(\d+)\] Send it", preview)
    assert send_it is not None, preview
    console.type(send_it[1] + "\r")
    # The confirmation, then (on their own) the broadcast as this subscriber gets it and the report:
    # each of them followed by the prompt, drawn again.
    console.child.expect_exact("is on its way")
    console.child.expect_exact("You get this because you subscribed to campaign news")
    console.prompt()
    console.child.expect_exact("Broadcast #1 is done: 1 sent")
    # The prompt on a line of its own, after the report.
    assert console.prompt().endswith("\n")
    console.quit()


def test_history_is_owner_only_and_never_holds_form_answers(tmp_path: Path) -> None:
    console = Console(tmp_path)
    console.line("what is naloxone")
    console.line("/sign")
    console.line("Zed Privateperson")
    console.line("zed.private@example.org")
    agree = console.line("Portugal")
    console.press("I agree", agree)
    console.line("how do fentanyl test strips work")
    console.quit()
    history = tmp_path / "data" / "console_history"
    assert history.stat().st_mode & 0o777 == 0o600
    kept = history.read_text()
    assert "what is naloxone" in kept and "/sign" in kept and "fentanyl test strips" in kept
    for typed_into_the_form in ("Privateperson", "zed.private", "Portugal"):
        assert typed_into_the_form not in kept

    # The next session recalls the last question with the up arrow.
    again = Console(tmp_path)
    again.type(UP)
    assert "test strip" in again.line("").lower()
    again.quit()


def test_no_history_keeps_no_file(tmp_path: Path) -> None:
    console = Console(tmp_path, "--no-history")
    console.line("what is naloxone")
    console.quit()
    assert not (tmp_path / "data" / "console_history").exists()


def test_piped_escape_sequences_are_not_questions(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  path: {tmp_path / 'bot.sqlite3'}\n")
    result = run_bot(
        "--config", str(config), stdin=f"{UP}\n{LEFT}{LEFT}\n", env={**os.environ, "ADVOCACY_BOT_SECRET_KEY": TEST_KEY}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    # Without -v the console logs warnings only: nothing here.
    assert "INFO" not in result.stderr and "applied migration" not in result.stderr
