"""Personal business never happens in a group, and a link never changes anything without a tap."""

from __future__ import annotations

from typing import Any

import pytest
from testbot import TestBot

from bot.core.router import Router
from bot.features import build_router
from bot.port.actions import Action
from bot.port.events import ButtonPress, Chat, ChatKind, Command, Event, User
from bot.port.markup import plain

PETITION = "un-decriminalise"
GROUP = Chat("group-1", ChatKind.GROUP)


async def at_consent(bot: TestBot) -> None:
    await bot.ask_each("/sign", "Ann Example", "ann@example.org", "Portugal")


async def test_a_forged_consent_press_in_a_group_signs_nothing_and_names_nobody(bot: TestBot) -> None:
    await at_consent(bot)
    event = Event(User("console", "tester"), GROUP, ButtonPress(f"sign-consent:{PETITION}:1"))
    replies = (await bot.core.handle(event)).replies
    (reply,) = replies
    assert reply.handoff == "sign"
    assert "let's continue in a private chat" in plain(reply.text)
    assert "Ann" not in plain(reply.text) and "ann@example.org" not in plain(reply.text)
    assert await bot.core.signatures.signature_count(PETITION) == 0
    # The private chat the hand-off opens goes on with the form as it was.
    assert "Name: Ann Example" in await bot.ask(f"/start {reply.handoff}")


async def test_every_personal_button_pressed_in_a_group_is_handed_off(bot: TestBot) -> None:
    await at_consent(bot)
    actions = bot.core.router.actions()
    personal = {prefix: command for prefix, command in actions.items() if command is not None}
    assert {"sign-consent", "sign-skip", "sign-pick", "sign-change", "updates", "timezone-set"} <= set(personal)
    for prefix, command in personal.items():
        replies = (await bot.core.handle(Event(User("console", "tester"), GROUP, ButtonPress(f"{prefix}:x:y")))).replies
        assert [reply.handoff for reply in replies] == [command], prefix
    assert await bot.core.conversations.conversation(bot.core.keyring.user_id("console", "tester")) is not None
    assert await bot.core.signatures.signature_count(PETITION) == 0


def test_an_action_must_say_whether_it_is_personal() -> None:
    with pytest.raises(ValueError, match="give handoff"):
        Action("anything")
    with pytest.raises(ValueError, match="give handoff"):
        Action("anything", handoff="sign", public=True)
    assert all(isinstance(command, str | None) for command in build_router().actions().values())


def test_an_action_is_declared_once_and_registered_once() -> None:
    router = Router()

    async def handler(ctx: Any) -> list[Any]:
        return []

    router.action(Action("anything", public=True))(handler)
    with pytest.raises(ValueError, match="registered twice"):
        router.action(Action("anything", handoff="sign"))(handler)


async def stored(bot: TestBot) -> dict[str, list[tuple[Any, ...]]]:
    """What a link must never change: everything stored about people but the form under way."""
    tables = ("users", "subscriptions", "pledges_taken", "signatures")
    found = {}
    for table in tables:
        rows = await bot.core.store.rows(f"SELECT * FROM {table} ORDER BY 1")
        found[table] = [tuple(row) for row in rows]
    return found


@pytest.mark.parametrize(
    ("payload", "question", "done"),
    [
        ("unsubscribe-all", "Stop everything you are subscribed to?", "You are unsubscribed from everything."),
        ("unsubscribe-news", "Stop campaign news?", "Unsubscribed: campaign news."),
        ("subscribe-action-days", "Subscribe to action-day reminders?", "Subscribed: action-day reminders."),
        ("timezone-Kyiv", "Set your time zone to Europe/Kyiv?", "Time zone set: Europe/Kyiv."),
        ("language-ru", "Switch my language to Русский?", "Язык изменён: Русский"),
    ],
)
async def test_a_link_that_would_change_a_setting_asks_first(
    bot: TestBot, payload: str, question: str, done: str
) -> None:
    await bot.ask("/subscribe news")
    await bot.ask("/language en")
    before = await stored(bot)
    asked = await bot.ask(f"/start {payload}")
    assert question in asked and "[1] Yes" in asked and "[2] No" in asked
    assert await stored(bot) == before
    assert "OK: nothing changed." in await bot.ask("no")
    assert await stored(bot) == before
    await bot.ask(f"/start {payload}")
    assert done in await bot.press("Yes")
    assert await stored(bot) != before


async def test_no_link_changes_anything_stored(bot: TestBot) -> None:
    await bot.ask_each("/subscribe news", "/language en", "/timezone Lisbon", "/pledge")
    await bot.press("carry naloxone")
    await bot.press("I pledge")
    before = await stored(bot)
    pledge = next(iter(bot.core.content.campaigns.pledges))
    arguments = {
        "subscribe": ["action-days", "news"],
        "unsubscribe": ["all", "news"],
        "timezone": ["Kyiv", "EST", "Russia"],
        "language": ["ru"],
        "pledge": [pledge],
        "pledges": [pledge],
        "sign": [PETITION],
    }
    for command in bot.core.router.commands:
        for argument in ["", *arguments.get(command, ["x"])]:
            payload = f"{command}-{argument}" if argument else command
            await bot.ask(f"/start {payload}")
            assert await stored(bot) == before, payload
    # A link may open a form (here the sign-up), and /start cancel is no way to end one.
    assert await bot.core.conversations.conversation(bot.core.keyring.user_id("console", "tester")) is not None


async def test_a_group_hand_off_then_the_link_asks_before_subscribing(bot: TestBot) -> None:
    (reply,) = (await bot.core.handle(Event(User("console", "tester"), GROUP, Command("subscribe", "news")))).replies
    assert reply.handoff == "subscribe-news"
    assert "Subscribe to campaign news?" in await bot.ask(f"/start {reply.handoff}")
    assert await bot.core.subscriptions.topics_of(bot.core.keyring.user_id("console", "tester")) == []
    assert "Subscribed: campaign news." in await bot.ask("yes")
