"""A test bot in the manner of errbot's: push a message through the console adapter, pop the reply.

async with TestBot.started(config) as bot:
    bot.push("/start")
    assert "harm reduction" in await bot.pop()
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.console import ConsoleAdapter
from bot.config import Config
from bot.core import Core, Services
from bot.events import ButtonPress, Event, Reply
from bot.plaintext import render


class TestBot:
    __test__ = False  # not a pytest test class

    def __init__(self, core: Core, user_id: str = "tester", language: str | None = None) -> None:
        self.core = core
        self.adapter = ConsoleAdapter(user_id, language, stdin=io.StringIO(), stdout=io.StringIO(), interactive=False)
        self._pending: deque[str] = deque()
        self.replies: deque[Reply] = deque()

    @classmethod
    @asynccontextmanager
    async def started(
        cls,
        config: Config,
        services: Services | None = None,
        user_id: str = "tester",
        language: str | None = None,
    ) -> AsyncIterator[TestBot]:
        core = await Core.open(config, services=services)
        try:
            yield cls(core, user_id, language)
        finally:
            await core.close()

    def push(self, line: str) -> None:
        self._pending.append(line)

    async def _drain(self) -> None:
        while self._pending:
            self.replies.extend(await self.adapter.handle_line(self.core, self._pending.popleft()))

    async def pop_reply(self) -> Reply:
        await self._drain()
        if not self.replies:
            raise AssertionError("the bot did not reply")
        return self.replies.popleft()

    async def pop(self) -> str:
        """The next reply as the console shows it."""
        return render(await self.pop_reply())

    async def press(self, label: str) -> str:
        """Press the button whose label contains ``label`` (as a console user types its number)."""
        await self._drain()
        numbers = [n for n, button in enumerate(self.adapter.choices, 1) if label in button.label]
        if len(numbers) != 1:
            labels = [button.label for button in self.adapter.choices]
            raise AssertionError(f"{len(numbers)} buttons match {label!r} among {labels}")
        return await self.ask(str(numbers[0]))

    async def act(self, action: str) -> str:
        """Press a button by its action, as when someone presses an old button further up the chat."""
        await self._drain()
        replies = await self.core.handle(Event(self.adapter.user, self.adapter.chat, ButtonPress(action)))
        return "\n\n".join(render(reply) for reply in replies)

    async def ask(self, line: str) -> str:
        """Every reply to one line, as the console shows them; fails if earlier replies went unread."""
        await self._drain()
        if self.replies:
            raise AssertionError(f"{len(self.replies)} earlier replies were not popped")
        self.push(line)
        await self._drain()
        if not self.replies:
            raise AssertionError("the bot did not reply")
        texts = [render(reply) for reply in self.replies]
        self.replies.clear()
        return "\n\n".join(texts)
