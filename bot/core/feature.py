"""Features as classes: a feature declares its commands, button actions, form and free-text checks as
decorated methods, and the router dispatches to them (discord.py's cogs are the model).

    class Pledges(Feature):
        TAKE = Action("pledge-take", ("pledge",), handoff="pledge")

        @command("pledge", "command.pledge", personal=True)
        async def listing(self, ctx: Context, args: str) -> list[Reply]: ...

        @pressed(TAKE)
        async def take(self, ctx: Context, pledge_id: str) -> list[Reply]: ...

Making a feature (``Pledges(router)``) adds all of it to ``router``; a feature runs alone on a router of
its own just as well as beside the others, which is how each one is tested.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from bot.campaigns.conversations import Conversation
from bot.core.context import Context
from bot.core.router import ArgumentSpec, Router
from bot.port.actions import Action
from bot.port.events import Button, Reply
from bot.port.outcome import OpenForm

M = TypeVar("M", bound=Callable[..., Any])
# How a declared method joins a router, given the method bound to its feature.
Binding = Callable[[Router, Callable[..., Any]], object]
_BINDINGS = "__feature_bindings__"


def _declare(binding: Binding) -> Callable[[M], M]:
    def mark(method: M) -> M:
        bindings: list[Binding] = method.__dict__.setdefault(_BINDINGS, [])
        bindings.append(binding)
        return method

    return mark


def command(
    name: str,
    description: str,
    *,
    organiser_only: bool = False,
    personal: bool = False,
    argument: ArgumentSpec | None = None,
) -> Callable[[M], M]:
    """The method runs the command ``/name`` (``description``: the interface string /help shows)."""

    def bind(router: Router, handler: Callable[..., Any]) -> None:
        router.command(name, description, organiser_only=organiser_only, personal=personal, argument=argument)(handler)

    return _declare(bind)


def pressed(action: Action) -> Callable[[M], M]:
    """The method handles presses of ``action``'s buttons, given the values they carry."""
    return _declare(lambda router, handler: router.action(action)(handler))


def free_text(method: M) -> M:
    """The method answers free text no form or button took (questions)."""
    return _declare(lambda router, handler: router.text(handler))(method)


def keyword(method: M) -> M:
    """The method looks at private free text before forms and questions, and returns None to pass."""
    return _declare(lambda router, handler: router.keyword(handler))(method)


def gone(method: M) -> M:
    """The method is told that someone can no longer be reached."""
    return _declare(lambda router, handler: router.gone(handler))(method)


class Feature:
    """A capability offered in chats: its declared methods join the router it is made with."""

    # The multi-step form the feature runs, if any: the flow's name, stored with the conversation. Text
    # typed while it is under way goes to form_text; form_buttons and open_form describe its question.
    flow: ClassVar[str | None] = None

    def __init__(self, router: Router) -> None:
        self.router = router
        for cls in reversed(type(self).__mro__):
            for attribute, member in vars(cls).items():
                for binding in getattr(member, _BINDINGS, ()):
                    binding(router, getattr(self, attribute))
        if self.flow is not None:
            router.flow(self.flow, offers=self.form_buttons, form=self.open_form)(self.form_text)

    async def form_text(self, ctx: Context, text: str, conversation: Conversation) -> list[Reply]:
        """What someone typed while the feature's form is under way."""
        raise NotImplementedError(f"{type(self).__name__} declares a flow and must answer its form")

    def form_buttons(self, ctx: Context, conversation: Conversation) -> tuple[Button, ...]:
        """The buttons the form's current question offers (pressed by typing their labels after a restart)."""
        return ()

    def open_form(self, ctx: Context, conversation: Conversation) -> OpenForm | None:
        """The form under way with the questions still to type, for platforms that show a form whole."""
        return None
