"""Dispatch of commands, button presses and free text to handlers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from bot.events import HANDOFF, ButtonPress, ChatKind, Command, Event, Gone, Reply, ReplyKind, Text
from bot.markup import RichText

if TYPE_CHECKING:
    from bot.core import Core
    from bot.records import Conversation

log = logging.getLogger(__name__)


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
        return self.event.organiser or self.core.config.is_organiser(self.event.user.platform, self.event.user.id)


Handler = Callable[[Context, str], Awaitable[list[Reply]]]
# Free text typed while a multi-step form (a "flow", such as a petition sign-up) is under way.
FlowHandler = Callable[[Context, str, "Conversation"], Awaitable[list[Reply]]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    handler: Handler
    # Interface-string key of the one-line description shown by /help and platform menus.
    description: str
    organiser_only: bool = False
    # Handles personal data: in a group it is moved to a private chat, never answered there.
    personal: bool = False


class Router:
    def __init__(self) -> None:
        self.commands: dict[str, CommandSpec] = {}
        self._actions: dict[str, Handler] = {}
        self._text: Handler | None = None
        self._flows: dict[str, FlowHandler] = {}
        self._handoffs: dict[str, str] = {}
        self._gone: Handler | None = None
        # Free text that means one thing whatever else is going on (STOP): checked before anything.
        self._keywords: list[Callable[[Context, str], Awaitable[list[Reply] | None]]] = []

    def command(
        self, name: str, description: str, *, organiser_only: bool = False, personal: bool = False
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if name in self.commands:
                raise ValueError(f"command /{name} registered twice")
            self.commands[name] = CommandSpec(name, handler, description, organiser_only, personal)
            return handler

        return register

    def flow(self, name: str) -> Callable[[FlowHandler], FlowHandler]:
        def register(handler: FlowHandler) -> FlowHandler:
            if name in self._flows:
                raise ValueError(f"flow {name!r} registered twice")
            self._flows[name] = handler
            return handler

        return register

    def action(self, prefix: str, *, handoff: str | None = None) -> Callable[[Handler], Handler]:
        """Handle button presses whose action is ``prefix:argument``.

        ``handoff``: the action handles personal data; pressed in a group, it is moved to a
        private chat as the command of that name, with the same argument.
        """

        def register(handler: Handler) -> Handler:
            if prefix in self._actions:
                raise ValueError(f"button action {prefix!r} registered twice")
            self._actions[prefix] = handler
            if handoff is not None:
                self._handoffs[prefix] = handoff
            return handler

        return register

    def text(self, handler: Handler) -> Handler:
        self._text = handler
        return handler

    def keyword(
        self, handler: Callable[[Context, str], Awaitable[list[Reply] | None]]
    ) -> Callable[[Context, str], Awaitable[list[Reply] | None]]:
        """A check on private free text before forms and questions; it returns None to pass."""
        self._keywords.append(handler)
        return handler

    def gone(self, handler: Handler) -> Handler:
        self._gone = handler
        return handler

    def visible_commands(self, organiser: bool) -> list[CommandSpec]:
        return [spec for spec in self.commands.values() if organiser or not spec.organiser_only]

    async def dispatch(self, ctx: Context) -> list[Reply]:
        content = ctx.event.content
        if isinstance(content, Command):
            return await self.run_command(ctx, content.name, content.args)
        if isinstance(content, ButtonPress):
            prefix, _, argument = content.action.partition(":")
            action = self._actions.get(prefix)
            if action is None:
                return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
            if prefix in self._handoffs and ctx.event.chat.kind is not ChatKind.PRIVATE:
                return [self._handoff(ctx, self._handoffs[prefix], argument)]
            return await action(ctx, argument)
        if isinstance(content, Gone):
            return await self._gone(ctx, "") if self._gone is not None else []
        if isinstance(content, Text):
            if ctx.event.chat.kind is ChatKind.PRIVATE:
                for keyword in self._keywords:
                    replies = await keyword(ctx, content.text)
                    if replies is not None:
                        return replies
                conversation = await ctx.core.records.conversation(ctx.user_key)
                if conversation is not None and conversation.flow in self._flows:
                    if ctx.core.clock() - conversation.updated_at > ctx.core.conversation_timeout:
                        await ctx.core.records.end_conversation(ctx.user_key)
                        return [ctx.reply("conversation.expired")]
                    return await self._flows[conversation.flow](ctx, content.text, conversation)
            if self._text is not None:
                return await self._text(ctx, content.text)
        return []

    async def run_command(self, ctx: Context, name: str, args: str) -> list[Reply]:
        spec = self.commands.get(name)
        if spec is None:
            return [ctx.reply("error.unknown_command", ReplyKind.ERROR, command=name)]
        if spec.organiser_only and not ctx.is_organiser:
            # Logged without ids or text: enough to notice someone probing organiser commands.
            log.warning("refused organiser command /%s to a non-organiser on %s", name, ctx.event.user.platform)
            return [ctx.reply("error.organisers_only", ReplyKind.REFUSAL, command=name)]
        if spec.personal and ctx.event.chat.kind is not ChatKind.PRIVATE:
            return [self._handoff(ctx, name, args)]
        return await spec.handler(ctx, args)

    @staticmethod
    def _handoff(ctx: Context, command: str, args: str) -> Reply:
        payload = f"{command}-{args}" if args else command
        reply = ctx.reply("personal.in_private", command=command)
        return replace(reply, handoff=payload if HANDOFF.fullmatch(payload) else command)
