"""Dispatch of commands, button presses and free text to handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.events import ButtonPress, Command, Event, Reply, ReplyKind, Text
from bot.markup import RichText

if TYPE_CHECKING:
    from bot.core import Core


@dataclass(frozen=True, slots=True)
class Context:
    """One event being handled, with what handlers need to answer it."""

    core: Core
    event: Event
    # The pseudonymous id the store knows this person by.
    user_key: str
    lang: str

    def t(self, key: str, **params: Any) -> RichText:
        return self.core.locales.rich(self.lang, key, **params)

    def text(self, key: str, **params: Any) -> str:
        return self.core.locales.text(self.lang, key, **params)

    def reply(self, key: str, kind: ReplyKind = ReplyKind.INFO, **params: Any) -> Reply:
        return Reply(self.t(key, **params), kind=kind)

    @property
    def is_organiser(self) -> bool:
        return self.core.config.is_organiser(self.event.user.platform, self.event.user.id)


Handler = Callable[[Context, str], Awaitable[list[Reply]]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    handler: Handler
    # Interface-string key of the one-line description shown by /help and platform menus.
    description: str
    organiser_only: bool = False


class Router:
    def __init__(self) -> None:
        self.commands: dict[str, CommandSpec] = {}
        self._actions: dict[str, Handler] = {}
        self._text: Handler | None = None

    def command(self, name: str, description: str, *, organiser_only: bool = False) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if name in self.commands:
                raise ValueError(f"command /{name} registered twice")
            self.commands[name] = CommandSpec(name, handler, description, organiser_only)
            return handler

        return register

    def action(self, prefix: str) -> Callable[[Handler], Handler]:
        """Handle button presses whose action is ``prefix:argument``."""

        def register(handler: Handler) -> Handler:
            if prefix in self._actions:
                raise ValueError(f"button action {prefix!r} registered twice")
            self._actions[prefix] = handler
            return handler

        return register

    def text(self, handler: Handler) -> Handler:
        self._text = handler
        return handler

    def visible_commands(self, organiser: bool) -> list[CommandSpec]:
        return [spec for spec in self.commands.values() if organiser or not spec.organiser_only]

    async def dispatch(self, ctx: Context) -> list[Reply]:
        content = ctx.event.content
        if isinstance(content, Command):
            spec = self.commands.get(content.name)
            if spec is None or (spec.organiser_only and not ctx.is_organiser):
                return [ctx.reply("error.unknown_command", ReplyKind.ERROR, command=content.name)]
            return await spec.handler(ctx, content.args)
        if isinstance(content, ButtonPress):
            prefix, _, argument = content.action.partition(":")
            action = self._actions.get(prefix)
            if action is None:
                return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
            return await action(ctx, argument)
        if isinstance(content, Text) and self._text is not None:
            return await self._text(ctx, content.text)
        return []
