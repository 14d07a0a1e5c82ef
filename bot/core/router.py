"""Dispatch of commands, button presses and free text to handlers."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from bot.campaigns.conversations import Conversation
from bot.content.text import ECHO_CHARS
from bot.core.capabilities import Capabilities
from bot.core.choices import typed_choice
from bot.core.context import Context
from bot.port.actions import SEPARATOR, Action
from bot.port.events import HANDOFF, Button, ButtonPress, ChatKind, Command, Gone, Reply, ReplyKind, Text
from bot.port.outcome import OpenForm
from bot.port.services import Argument, ArgumentChoice, CommandInfo

log = logging.getLogger(__name__)


Handler = Callable[[Context, str], Awaitable[list[Reply]]]
# A button press, given the values its action declares (each a string, in order).
ActionHandler = Callable[..., Awaitable[list[Reply]]]
# Free text typed while a multi-step form (a "flow", such as a petition sign-up) is under way.
FlowHandler = Callable[[Context, str, Conversation], Awaitable[list[Reply]]]
# The buttons a form's current question offers (to press by typing their labels after a restart).
Offers = Callable[[Context, Conversation], tuple[Button, ...]]
# The form under way with the questions still to type, for platforms that show a form whole.
Describes = Callable[[Context, Conversation], OpenForm | None]
# People whose last private replies offered buttons, remembered to press them by typing.
OFFERED_CACHE = 50_000


@dataclass(frozen=True, slots=True)
class Offered:
    """The buttons of someone's last private replies, the language of their labels, and when."""

    buttons: tuple[Button, ...]
    lang: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    handler: Handler
    # Interface-string key of the one-line description shown by /help and platform menus.
    description: str
    organiser_only: bool = False
    # Handles personal data: in a group it is moved to a private chat, never answered there.
    personal: bool = False
    argument: ArgumentSpec | None = None

    def info(self, core: Capabilities) -> CommandInfo:
        argument = None
        if self.argument is not None:
            spec = self.argument
            choose = spec.choices
            choices = None if choose is None else (lambda lang: choose(core, lang))
            argument = Argument(spec.name, spec.required, spec.max_length, choices)
        return CommandInfo(self.name, self.description, self.organiser_only, self.personal, argument)


@dataclass(frozen=True, slots=True)
class ArgumentSpec:
    """A command's argument as a feature declares it (see :class:`bot.port.services.Argument`)."""

    name: str
    required: bool = False
    # None: as long as a message (a question); else the most characters worth reading.
    max_length: int | None = ECHO_CHARS
    # The values to choose from, in a language, from what the core holds (the open petitions...).
    choices: Callable[[Capabilities, str], list[ArgumentChoice]] | None = None


class Router:
    def __init__(self) -> None:
        self.commands: dict[str, CommandSpec] = {}
        self._actions: dict[str, tuple[Action, ActionHandler]] = {}
        self._text: Handler | None = None
        self._flows: dict[str, FlowHandler] = {}
        self._offers: dict[str, Offers] = {}
        self._forms: dict[str, Describes] = {}
        # In memory only: after a restart, a form's own question tells what it offers (Offers).
        self._offered: OrderedDict[str, Offered] = OrderedDict()
        self._gone: Handler | None = None
        # Free text that means one thing whatever else is going on (STOP): checked before anything.
        self._keywords: list[Callable[[Context, str], Awaitable[list[Reply] | None]]] = []

    def command(
        self,
        name: str,
        description: str,
        *,
        organiser_only: bool = False,
        personal: bool = False,
        argument: ArgumentSpec | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            if name in self.commands:
                raise ValueError(f"command /{name} registered twice")
            self.commands[name] = CommandSpec(name, handler, description, organiser_only, personal, argument)
            return handler

        return register

    def flow(
        self, name: str, *, offers: Offers | None = None, form: Describes | None = None
    ) -> Callable[[FlowHandler], FlowHandler]:
        """Handle free text while the form ``name`` is under way; ``offers``: its question's buttons;
        ``form``: the questions still to type, for platforms that show them at once."""

        def register(handler: FlowHandler) -> FlowHandler:
            if name in self._flows:
                raise ValueError(f"flow {name!r} registered twice")
            self._flows[name] = handler
            if offers is not None:
                self._offers[name] = offers
            if form is not None:
                self._forms[name] = form
            return handler

        return register

    def action(self, action: Action) -> Callable[[ActionHandler], ActionHandler]:
        """Handle presses of ``action``'s buttons: the handler gets the values the press carries."""

        def register(handler: ActionHandler) -> ActionHandler:
            if action.name in self._actions:
                raise ValueError(f"button action {action.name!r} registered twice")
            self._actions[action.name] = (action, handler)
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

    def actions(self) -> dict[str, str | None]:
        """Every button action's name, and the command it hands off to from a group (None: public)."""
        return {name: action.handoff for name, (action, _) in self._actions.items()}

    def form(self, ctx: Context, conversation: Conversation) -> OpenForm | None:
        """The form under way as its flow describes it, if it has questions to type."""
        describe = self._forms.get(conversation.flow)
        return describe(ctx, conversation) if describe is not None else None

    def visible_commands(self, organiser: bool) -> list[CommandSpec]:
        return [spec for spec in self.commands.values() if organiser or not spec.organiser_only]

    async def dispatch(self, ctx: Context) -> list[Reply]:
        replies = await self._dispatch(ctx)
        if ctx.event.chat.kind is ChatKind.PRIVATE and not isinstance(ctx.event.content, Gone):
            self._remember_offered(ctx, replies)
        return replies

    async def _dispatch(self, ctx: Context) -> list[Reply]:
        content = ctx.event.content
        if isinstance(content, Command):
            return await self.run_command(ctx, content.name, content.args)
        if isinstance(content, ButtonPress):
            return await self.press(ctx, content.action)
        if isinstance(content, Gone):
            return await self._gone(ctx, "") if self._gone is not None else []
        if isinstance(content, Text):
            if ctx.event.chat.kind is ChatKind.PRIVATE:
                for keyword in self._keywords:
                    replies = await keyword(ctx, content.text)
                    if replies is not None:
                        return replies
                conversation = await ctx.core.conversations.conversation(ctx.user_key)
                if conversation is not None and conversation.flow in self._flows:
                    if ctx.core.clock() - conversation.updated_at > ctx.core.conversation_timeout:
                        await ctx.core.conversations.end_conversation(ctx.user_key)
                        return [ctx.reply("conversation.expired")]
                else:
                    conversation = None
                button = self._typed_button(ctx, content.text, conversation)
                if button is not None:
                    return await self.press(ctx, button.action)
                if conversation is not None:
                    return await self._flows[conversation.flow](ctx, content.text, conversation)
            if self._text is not None:
                return await self._text(ctx, content.text)
        return []

    async def press(self, ctx: Context, data: str) -> list[Reply]:
        name, _, rest = data.partition(SEPARATOR)
        found = self._actions.get(name)
        if found is None:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        action, handler = found
        if action.handoff is not None and ctx.event.chat.kind is not ChatKind.PRIVATE:
            return [self._handoff(ctx, action.handoff, rest)]
        return await handler(ctx, *action.values(rest))

    # ------------------------------------------------------------------ typed button labels

    def _remember_offered(self, ctx: Context, replies: list[Reply]) -> None:
        buttons = tuple(button for reply in replies for row in reply.buttons for button in row)
        if not buttons:
            self._offered.pop(ctx.user_key, None)
            return
        self._offered[ctx.user_key] = Offered(buttons, ctx.lang, ctx.core.clock())
        self._offered.move_to_end(ctx.user_key)
        if len(self._offered) > OFFERED_CACHE:
            self._offered.popitem(last=False)

    def _typed_button(self, ctx: Context, text: str, conversation: Conversation | None) -> Button | None:
        """The button on offer that ``text`` names (its label, or "yes", "skip"…), if one does.

        On offer: those of the person's last replies, unless they are older than a form may stay
        silent; else, after a restart, those of the question of the form under way.
        """
        offered = self._offered.get(ctx.user_key)
        if offered is not None and ctx.core.clock() - offered.at > ctx.core.conversation_timeout:
            offered = None
        if offered is None and conversation is not None and conversation.flow in self._offers:
            offered = Offered(self._offers[conversation.flow](ctx, conversation), ctx.lang, ctx.core.clock())
        if offered is None:
            return None
        locales = ctx.core.locales
        button = typed_choice(locales, offered.lang, tuple(ctx.core.content.locales), text, offered.buttons)
        # Someone describing an emergency is answered as such, even in words that name a button.
        if button is not None and ctx.core.decider.detector.detect(text) is not None:
            return None
        return button

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
