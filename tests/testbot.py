"""A test bot in the manner of errbot's: push a message through the console adapter, pop the reply.

async with TestBot.started(config) as bot:
    bot.push("/start")
    assert "harm reduction" in await bot.pop()

Broadcasts and reminders reach every TestBot of the same core through one console sender:
``await bot.deliver()`` runs the scheduler and the console's delivery engine once, and returns what
this bot's user received.
"""

from __future__ import annotations

import io
import random
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

from adapters.console.adapter import ConsoleAdapter, ConsoleSender
from bot.core.app import Core, Services
from bot.core.config import Config
from bot.core.router import Router
from bot.delivery import Engine, Scheduler
from bot.port.events import ButtonPress, Event, Reply
from bot.port.plaintext import render

# One console delivery engine per core, shared by the TestBots (users) of that core.
_ENGINES: weakref.WeakKeyDictionary[Core, Engine] = weakref.WeakKeyDictionary()


class TestBot:
    __test__ = False  # not a pytest test class

    def __init__(self, core: Core, user_id: str = "tester", language: str | None = None) -> None:
        self.core = core
        self.received: list[Reply] = []
        self.adapter = ConsoleAdapter(
            user_id,
            language,
            stdin=io.StringIO(),
            stdout=io.StringIO(),
            interactive=False,
            on_delivery=self.received.append,
        )
        self._pending: deque[str] = deque()
        self.replies: deque[Reply] = deque()
        if core not in _ENGINES:
            _ENGINES[core] = Engine(core, self.adapter.sender(), rng=random.Random(0))
        self.engine = _ENGINES[core]
        cast(ConsoleSender, self.engine.sender).attach(self.adapter)

    async def deliver(self) -> list[str]:
        """Run the scheduler and the console delivery once; what this user received since last time."""
        await Scheduler(self.core, {"console": self.engine}).tick()
        await self.engine.run_once()
        texts = [render(reply) for reply in self.received]
        self.received.clear()
        return texts

    @classmethod
    @asynccontextmanager
    async def started(
        cls,
        config: Config,
        services: Services | None = None,
        user_id: str = "tester",
        language: str | None = None,
        router: Router | None = None,
    ) -> AsyncIterator[TestBot]:
        core = await Core.open(config, services=services, router=router)
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
        replies = (await self.core.handle(Event(self.adapter.user, self.adapter.chat, ButtonPress(action)))).replies
        return "\n\n".join(render(reply) for reply in replies)

    async def ask_each(self, *lines: str) -> str:
        """Type ``lines`` one after the other (a form filled in); the replies to the last."""
        for line in lines[:-1]:
            await self.ask(line)
        return await self.ask(lines[-1])

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
