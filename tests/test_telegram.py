"""The Telegram adapter end to end: the real python-telegram-bot against the local fake Bot API."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes.telegram import FakeTelegram, FloodLimits, RateLimit, group_chat, make_user, private_chat
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.error import RetryAfter as TelegramRetryAfter

from adapters.telegram import TelegramConfig
from adapters.telegram.adapter import (
    CALLBACK_VERSION,
    TelegramAdapter,
    TelegramSender,
    TelegramStartError,
    callback_data,
    decode_action,
    delivery_error,
    encode_action,
    merged,
    split_html,
)
from bot.core.app import Core, Services
from bot.core.config import Config, StorageConfig
from bot.delivery import ChatMoved, Engine, PermanentFailure, RecipientGone, RetryAfter, Scheduler, TemporaryFailure
from bot.delivery.outbox import Outbox
from bot.delivery.settings import DeliveryConfig
from bot.port.clock import ManualClock
from bot.port.delivery import PlatformLimits
from bot.port.events import Reply, ReplyKind
from bot.port.markup import Bold, Link, Plain

USERNAME = "advocacy_test_bot"
ALICE = make_user(1001, "Alice", language_code="en")
BORIS = make_user(1002, "Борис", language_code="ru")
ORGANISER = make_user(4242, "Olga", language_code="en")
GROUP = group_chat(-4001, "Harm reduction group")
# People in tests answer faster than anyone types; the per-chat limit is widened for them, while
# the overall and group limits stay Telegram's (and broadcasts are tested at the strict defaults).
CHATTY = FloodLimits(per_chat=RateLimit(10, 1.0))


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", "11" * 32)


@dataclass
class Running:
    tg: FakeTelegram
    adapter: TelegramAdapter
    core: Core

    async def say(
        self, text: str, *, user: dict[str, Any] = ALICE, chat: dict[str, Any] | None = None, n: int = 1
    ) -> list[dict[str, Any]]:
        """``user`` writes ``text``; returns the ``n`` messages the bot sends back to that chat."""
        chat = chat or private_chat(user)
        before = len(self.tg.sent_messages(chat["id"]))
        self.tg.push_message(text, user=user, chat=chat)
        return await self.replies(chat["id"], before, n)

    async def press(self, label: str, *, user: dict[str, Any] = ALICE, n: int = 1) -> list[dict[str, Any]]:
        """``user`` presses the button labelled ``label`` on the latest message that has it."""
        chat_id = private_chat(user)["id"]
        for message in reversed(self.tg.sent_messages(chat_id)):
            for row in message.get("reply_markup", {}).get("inline_keyboard", []):
                for button in row:
                    if label in button["text"] and "callback_data" in button:
                        before = len(self.tg.sent_messages(chat_id))
                        self.tg.push_callback(button["callback_data"], message=message, user=user)
                        return await self.replies(chat_id, before, n)
        raise AssertionError(f"no button {label!r} in chat {chat_id}")

    async def replies(self, chat_id: int, before: int, n: int) -> list[dict[str, Any]]:
        for _ in range(500):
            sent = self.tg.sent_messages(chat_id)
            if len(sent) >= before + n:
                return sent[before:]
            await asyncio.sleep(0.01)
        raise AssertionError(
            f"expected {n} message(s) in chat {chat_id}, got {self.tg.sent_messages(chat_id)[before:]}"
        )


def text_of(messages: list[dict[str, Any]]) -> str:
    return "\n\n".join(message.get("text", "") for message in messages)


@asynccontextmanager
async def running(
    tmp_path: Path,
    services: Services,
    *,
    flood: FloodLimits | None = CHATTY,
    organisers: tuple[str, ...] = (),
    telegram: TelegramConfig | None = None,
    token: str | None = None,
) -> AsyncIterator[Running]:
    async with FakeTelegram(username=USERNAME, flood_limits=flood) as tg:
        settings = telegram or TelegramConfig(enabled=True, base_url=tg.base_url)
        config = Config(
            storage=StorageConfig(tmp_path / "bot.sqlite3"), organisers=organisers, platforms={"telegram": settings}
        )
        core = await Core.open(config, services=services, create_key=False)
        adapter = TelegramAdapter(config.section("telegram"), config.limits("telegram"), token=token or tg.token)
        stop = asyncio.Event()
        task = asyncio.create_task(adapter.run(core, stop))
        try:
            await asyncio.wait_for(asyncio.shield(adapter.ready()), timeout=10)
            yield Running(tg, adapter, core)
            assert tg.flood_violations == []
            assert tg.unanswered_callbacks == []
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)
            await core.close()


# ---------------------------------------------------------------- rendering (table-driven)


@pytest.mark.parametrize(
    ("spans", "html"),
    [
        ((Plain("a < b & c > d"),), "a &lt; b &amp; c &gt; d"),
        ((Bold("<script>"),), "<b>&lt;script&gt;</b>"),
        (
            (Link("x & y", 'https://e.org/?a=1&b="2"'),),
            '<a href="https://e.org/?a=1&amp;b=&quot;2&quot;">x &amp; y</a>',
        ),
        ((Plain("O'Neil"), Bold("**not markup**")), "O'Neil<b>**not markup**</b>"),
    ],
)
def test_spans_become_escaped_telegram_html(spans: tuple[Any, ...], html: str) -> None:
    assert split_html(spans) == [html]


def test_long_replies_split_on_paragraphs_within_the_limit() -> None:
    paragraph = "word " * 300  # 1,500 characters
    text = (Plain("\n\n".join([paragraph.strip()] * 6)),)
    chunks = split_html(text)
    assert len(chunks) == 3
    assert all(len(chunk) <= 4096 for chunk in chunks)
    assert "".join(chunks).count("word") == 1800
    huge = (Plain("x" * 9000),)
    assert [len(c) for c in split_html(huge)] == [4096, 4096, 808]


def test_utf16_counting_splits_emoji_text_where_telegram_would() -> None:
    emoji = "😀" * 3000  # 6,000 UTF-16 units
    assert len(split_html((Plain(emoji),))) == 2


def test_replies_without_buttons_join_the_next_but_the_emergency_stays_alone() -> None:
    intro, notice = Reply((Plain("intro"),)), Reply((Plain("privacy"),))
    question = Reply((Plain("name?"),), buttons=(), kind=ReplyKind.INFO)
    emergency = Reply((Plain("call 112"),), kind=ReplyKind.EMERGENCY)
    assert [r.text for r in merged([intro, notice, question])] == [
        (Plain("intro"), Plain("\n\n"), Plain("privacy"), Plain("\n\n"), Plain("name?"))
    ]
    assert len(merged([emergency, intro])) == 2


async def test_callback_data_is_versioned_and_long_actions_are_stored(tmp_path: Path, services: Services) -> None:
    assert callback_data("sign-consent:un-decriminalise:1") == f"{CALLBACK_VERSION}|sign-consent:un-decriminalise:1"
    config = Config(storage=StorageConfig(tmp_path / "bot.sqlite3"))
    core = await Core.open(config, services=services)
    try:
        long_action = "pledge:" + "x" * 80
        data = await encode_action(core, long_action)
        assert len(data.encode()) <= 64
        assert await decode_action(core, data) == long_action
        assert await decode_action(core, "0|pledge:carry-naloxone") is None  # an older format: expired
    finally:
        await core.close()


# ---------------------------------------------------------------- start-up


async def test_start_up_registers_command_menus_per_language_and_scope(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services, organisers=("telegram:4242",)) as bot:
        private = [c["command"] for c in bot.tg.my_commands({"type": "all_private_chats"})]
        groups = [c["command"] for c in bot.tg.my_commands({"type": "all_group_chats"})]
        organiser = [c["command"] for c in bot.tg.my_commands({"type": "chat", "chat_id": 4242})]
        assert {"start", "ask", "sign", "pledge", "subscribe", "mydata", "forget"} <= set(private)
        assert "broadcast" not in private and "stats" not in private
        assert "sign" not in groups and "mydata" not in groups and "ask" in groups
        assert {"broadcast", "stats"} <= set(organiser)
        russian = bot.tg.my_commands({"type": "all_private_chats"}, "ru")
        assert [c["command"] for c in russian] == private


async def test_a_rejected_token_fails_with_a_clear_message(tmp_path: Path, services: Services) -> None:
    async with FakeTelegram(username=USERNAME) as tg:
        config = Config(
            storage=StorageConfig(tmp_path / "bot.sqlite3"), platforms={"telegram": TelegramConfig(True, tg.base_url)}
        )
        core = await Core.open(config, services=services, create_key=False)
        try:
            adapter = TelegramAdapter(config.section("telegram"), config.limits("telegram"), token="999:wrong")
            with pytest.raises(TelegramStartError, match=r"rejected the bot token \(401 Unauthorized\)"):
                await adapter.run(core, asyncio.Event())
        finally:
            await core.close()


def test_a_missing_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    with pytest.raises(TelegramStartError, match="TELEGRAM_BOT_TOKEN is not set"):
        TelegramAdapter(Config().section("telegram"), Config().limits("telegram"))


async def test_another_poller_is_explained_not_a_traceback(tmp_path: Path, services: Services) -> None:
    async with FakeTelegram(username=USERNAME) as tg:
        config = Config(
            storage=StorageConfig(tmp_path / "bot.sqlite3"), platforms={"telegram": TelegramConfig(True, tg.base_url)}
        )
        core = await Core.open(config, services=services, create_key=False)
        try:
            tg.fail(
                "getUpdates",
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                times=50,
            )
            adapter = TelegramAdapter(config.section("telegram"), config.limits("telegram"), token=tg.token)
            with pytest.raises(TelegramStartError, match="another instance is running with the same token"):
                await asyncio.wait_for(adapter.run(core, asyncio.Event()), timeout=10)
        finally:
            await core.close()


# ---------------------------------------------------------------- user flows


async def test_ask_answers_in_html_with_sources(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as bot:
        (answer,) = await bot.say("how does naloxone work?")
        assert "Naloxone" in answer["text"]
        assert any(e["type"] == "bold" for e in answer.get("entities", []))
        call = bot.tg.calls_to("sendMessage")[-1]
        assert call.params["parse_mode"] == "HTML"


async def test_user_text_is_escaped_never_parsed(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as bot:
        (reply,) = await bot.say("/sources <b>&nope</b>")
        assert 'There is no answer called "<b>&nope</b>"' in reply["text"]


async def test_emergency_in_a_group_is_answered_there_even_unaddressed(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as bot:
        text = "help my friend is not breathing"
        core = bot.core
        expected = len(
            merged(core.replies.for_answer(core.decider.answer(text, "en"), "en"))
        )  # the emergency, and maybe more
        reply, *_ = await bot.say(text, chat=GROUP, n=expected)
        assert reply["chat"]["id"] == GROUP["id"]
        assert "emergency" in reply["text"].lower()
        before = len(bot.tg.sent_messages(GROUP["id"]))
        bot.tg.push_message("what time is the meeting?", user=ALICE, chat=GROUP)
        await bot.say(f"@{USERNAME} what is naloxone", chat=GROUP)  # addressed: answered
        assert len(bot.tg.sent_messages(GROUP["id"])) == before + 1


async def test_a_crisis_in_a_group_is_answered_privately_with_a_pointer_there(
    tmp_path: Path, services: Services
) -> None:
    async with running(tmp_path, services) as bot:
        await bot.say("/start")  # Alice has a private chat with the bot
        before = len(bot.tg.sent_messages(ALICE["id"]))
        # Not addressed to the bot, and still never left unanswered.
        (pointer,) = await bot.say("honestly i want to end my life", chat=GROUP)
        (private,) = await bot.replies(ALICE["id"], before, 1)
        assert "glad you told me" in private["text"] and "Find A Helpline" in private["text"]
        # The group sees a short pointer, never the crisis answer itself.
        assert "Find A Helpline" not in pointer["text"] and "private chat" in pointer["text"]
        (button,) = pointer["reply_markup"]["inline_keyboard"][-1]
        assert button["url"] == f"https://t.me/{USERNAME}?start=helpline"
        # The link opens the crisis answer in the private chat.
        (again,) = await bot.say("/start helpline")
        assert "Find A Helpline" in again["text"]
        # Someone the bot cannot write to first: the pointer in the group still leads to it.
        bot.tg.push_my_chat_member(private_chat(BORIS), BORIS, "member", "kicked")
        (pointer,) = await bot.say("хочу умереть", user=BORIS, chat=GROUP)
        assert "Find A Helpline" not in pointer["text"]
        assert pointer["reply_markup"]["inline_keyboard"][-1][0]["url"].endswith("?start=helpline")


async def test_an_emergency_question_about_the_law_gets_both(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as bot:
        emergency, entry = await bot.say("my friend is overdosing, will i get arrested if i call 911", n=2)
        assert emergency["text"].startswith("Call your local emergency number now.")
        assert "Good Samaritan" in entry["text"]


async def test_topics_buttons_and_every_callback_answered(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as bot:
        (menu,) = await bot.say("/topics")
        assert "Overdose" in str(menu["reply_markup"])
        (group,) = await bot.press("Overdose")
        assert "Signs of an opioid overdose" in str(group["reply_markup"])
        (entry,) = await bot.press("Signs of an opioid overdose")
        assert "pinpoint" in entry["text"]


async def test_a_button_from_an_older_version_gets_a_polite_expired_answer(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as bot:
        await bot.say("/start")
        # As a deploy with another callback format would have sent it.
        old_format = InlineKeyboardMarkup([[InlineKeyboardButton("Topics", callback_data="0|topics:A")]])
        await bot.adapter.bot.send_message(ALICE["id"], "an old message", reply_markup=old_format)
        stored = bot.tg.sent_messages(ALICE["id"])[-1]
        bot.tg.push_callback("0|topics:A", message=stored, user=ALICE)
        (answer,) = await bot.tg.wait_for("answerCallbackQuery")
        assert "expired" in answer.params["text"]


async def test_pledge_flow(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as bot:
        await bot.say("/pledge")
        await bot.press("carry naloxone")
        (thanks,) = await bot.press("I pledge")
        assert "1 of 1,000" in thanks["text"]


async def test_sign_from_a_group_continues_in_a_private_chat(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as bot:
        (handoff,) = await bot.say("/sign", chat=GROUP)
        (button,) = handoff["reply_markup"]["inline_keyboard"][-1]
        assert button["url"] == f"https://t.me/{USERNAME}?start=sign"
        assert "private chat" in handoff["text"]
        (intro,) = await bot.say("/start sign")
        assert "Decriminalise personal drug possession worldwide" in intro["text"]
        assert "What name should appear" in intro["text"]
        (reask,) = await bot.say("R2D2")
        assert "can't contain" in reask["text"]
        await bot.say("Алиса Иванова")
        await bot.press("Skip")
        (consent,) = await bot.say("Portugal")
        assert "I agree that my name" in consent["text"]
        (thanks,) = await bot.press("I agree")
        assert "Thank you, Алиса Иванова!" in thanks["text"]
        assert "1 of 15,000" in thanks["text"]
        assert all(m["chat"]["id"] == GROUP["id"] for m in bot.tg.sent_messages(GROUP["id"]))
        assert "Алиса" not in text_of(bot.tg.sent_messages(GROUP["id"]))


async def test_subscribe_and_stop(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as bot:
        (done,) = await bot.say("/subscribe news")
        assert "Subscribed: campaign news." in done["text"]
        (stopped,) = await bot.say("STOP")
        assert "unsubscribed from everything" in stopped["text"]
        (kept,) = await bot.say("we have to stop this war")
        assert "unsubscribed" not in kept["text"]


async def test_mydata_and_forget(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as bot:
        await bot.say("/subscribe news")
        (data,) = await bot.say("/mydata")
        assert "Subscribed to campaign news" in data["text"]
        await bot.say("/forget")
        (done,) = await bot.press("Yes, erase everything")
        assert "subscriptions: 1" in done["text"]
        (after,) = await bot.say("/mydata")
        assert "I store nothing about you: no id" in after["text"]
        assert "pseudonymous id (not your account id)" not in after["text"]


async def test_a_forged_consent_press_in_a_group_never_shows_the_name(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as bot:
        await bot.say("/sign")
        await bot.say("Alice Liddell")
        await bot.say("skip")
        (review,) = await bot.say("Portugal")
        assert "Name: Alice Liddell" in review["text"]
        (in_group,) = await bot.say("/help", chat=GROUP)
        before = len(bot.tg.sent_messages(GROUP["id"]))
        consent = "1|sign-consent:un-decriminalise:1"
        bot.tg.push_callback(consent, message=in_group, user=ALICE, forged=True)
        (handoff,) = await bot.replies(GROUP["id"], before, 1)
        assert "private chat" in handoff["text"]
        (button,) = handoff["reply_markup"]["inline_keyboard"][-1]
        assert button["url"] == f"https://t.me/{USERNAME}?start=sign"
        assert "Alice" not in text_of(bot.tg.sent_messages(GROUP["id"]))
        assert await bot.core.signatures.signature_count("un-decriminalise") == 0
        # The link goes on privately where the form was: one more tap signs.
        (resumed,) = await bot.say("/start sign")
        assert "Name: Alice Liddell" in resumed["text"]
        (thanks,) = await bot.say("i agree")
        assert "Thank you, Alice Liddell!" in thanks["text"]


async def test_a_deep_link_asks_before_it_changes_anything(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as bot:
        await bot.say("/subscribe news")
        user_key = bot.core.keyring.user_id("telegram", str(ALICE["id"]))
        (asked,) = await bot.say("/start unsubscribe-all")
        assert "Stop everything you are subscribed to?" in asked["text"]
        labels = [b["text"] for row in asked["reply_markup"]["inline_keyboard"] for b in row]
        assert labels == ["Yes", "No"]
        assert await bot.core.subscriptions.topics_of(user_key) == ["news"]
        (done,) = await bot.press("Yes")
        assert "unsubscribed from everything" in done["text"]
        (asked,) = await bot.say("/start timezone-Kyiv")
        assert "Set your time zone to Europe/Kyiv?" in asked["text"]
        assert await bot.core.people.timezone_of(user_key) is None


async def test_a_pledge_is_shared_with_a_deep_link(tmp_path: Path, services: Services) -> None:
    pledge = next(p for p in services.content.campaigns.pledges.values() if "naloxone" in p.title["en"])
    async with running(tmp_path, services) as bot:
        await bot.say("/pledge")
        await bot.press("carry naloxone")
        (thanks,) = await bot.press("I pledge")
        link = f"https://t.me/{USERNAME}?start=pledge-{pledge.id}"
        assert f"Ask your friends to join you: pass this on.\n{link}" in thanks["text"]
        assert {"type": "text_link", "url": link} in [
            {"type": e["type"], "url": e.get("url")} for e in thanks.get("entities", [])
        ]
        # A friend who follows the link sees the pledge, and takes it only with a tap.
        (shown,) = await bot.say(f"/start pledge-{pledge.id}", user=BORIS)
        assert "Беру обязательство" in str(shown["reply_markup"])
        assert (await bot.core.pledges.pledge_counts())[pledge.id] == 1


async def test_the_broadcast_prompt_shows_the_markup_literally(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services, organisers=("telegram:4242",)) as bot:
        (prompt,) = await bot.say("/broadcast", user=ORGANISER)
        assert "(light formatting: **bold**, [text](https://link)); at most 3,000 characters." in prompt["text"]
        assert not any(e["type"] in ("bold", "text_link") for e in prompt.get("entities", []))


async def test_blocking_the_bot_unsubscribes(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as bot:
        await bot.say("/subscribe news")
        user_key = bot.core.keyring.user_id("telegram", str(ALICE["id"]))
        bot.tg.push_my_chat_member(private_chat(ALICE), ALICE, "member", "kicked")
        for _ in range(200):
            if not await bot.core.subscriptions.topics_of(user_key):
                break
            await asyncio.sleep(0.01)
        assert await bot.core.subscriptions.topics_of(user_key) == []


# ---------------------------------------------------------------- broadcasts and reminders


async def subscribe_many(bot: Running, users: list[dict[str, Any]], topic: str = "news") -> None:
    for user in users:
        await bot.say(f"/subscribe {topic}", user=user)


async def test_organiser_broadcast_with_preview_confirm_and_report(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services, organisers=("telegram:4242",)) as bot:
        await subscribe_many(bot, [ALICE, BORIS])
        await bot.say("/broadcast", user=ORGANISER)
        await bot.say("The <b>26 June</b> day of action & more: **join**", user=ORGANISER)
        await bot.press("campaign news", user=ORGANISER)
        await bot.press("Every language", user=ORGANISER)
        (preview,) = await bot.press("Every platform", user=ORGANISER)
        assert "2 subscribers now" in preview["text"]
        await bot.press("Send it", user=ORGANISER)
        engine = Engine(bot.core, bot.adapter.sender())
        await engine.run_once()
        got = bot.tg.sent_messages(ALICE["id"])[-1]
        assert got["text"] in preview["text"]  # the preview showed exactly this
        assert "The <b>26 June</b> day of action & more: join" in got["text"]
        assert any(e["type"] == "bold" and e["length"] == 4 for e in got.get("entities", []))
        await Scheduler(bot.core, {"telegram": engine}).tick()
        report = bot.tg.sent_messages(ORGANISER["id"])[-1]
        assert report["text"].startswith("Broadcast #1 is done: 2 sent, 0 failed")


async def test_broadcast_failures_429_403_migration_and_5xx(tmp_path: Path, services: Services) -> None:
    migrating = group_chat(-5001, "Old group")
    async with running(tmp_path, services, flood=FloodLimits()) as bot:
        await subscribe_many(bot, [ALICE, BORIS, ORGANISER])
        bot.tg.add_chat(migrating)
        group_key = bot.core.keyring.user_id("telegram", "group-owner")
        await bot.core.subscriptions.subscribe(
            group_key, "telegram", "news", str(migrating["id"]), "en", bot.core.clock()
        )
        outbox = Outbox(bot.core.store, bot.core.keyring)
        now = bot.core.clock()
        await outbox.create(kind="broadcast", topic="news", body="Hello", send_at=now, now=now)
        await Scheduler(bot.core, {}).tick()
        bot.tg.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, chat_id=ALICE["id"])
        bot.tg.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=BORIS["id"])
        bot.tg.fail("sendMessage", 502, "Bad Gateway", chat_id=ORGANISER["id"])
        bot.tg.fail(
            "sendMessage",
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            migrate_to_chat_id=-1005001,
            chat_id=migrating["id"],
        )
        bot.tg.add_chat(group_chat(-1005001, "New supergroup") | {"type": "supergroup"})
        await drain(Engine(bot.core, bot.adapter.sender()))
        assert "Hello" in bot.tg.sent_messages(ALICE["id"])[-1]["text"]
        assert "Hello" in bot.tg.sent_messages(ORGANISER["id"])[-1]["text"]
        assert "Hello" in bot.tg.sent_messages(-1005001)[-1]["text"]
        assert await bot.core.subscriptions.topics_of(bot.core.keyring.user_id("telegram", str(BORIS["id"]))) == []


async def drain(engine: Engine) -> None:
    """Run the engine until nothing is left to send, waiting (for real, a few seconds at most) for
    retry-afters and back-offs: the platform's own clock is real here."""
    for _ in range(10):
        await engine.run_once()
        due = await engine.outbox.next_due("telegram")
        if due is None:
            return
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 0.05)
    raise AssertionError("the outbox did not drain")


async def broadcast_to(bot: Running, users: list[dict[str, Any]], body: str) -> None:
    """``users`` subscribe to campaign news, and a broadcast of ``body`` to them is started."""
    for user in users:
        bot.tg.add_chat(private_chat(user))
        key = bot.core.keyring.user_id("telegram", str(user["id"]))
        await bot.core.subscriptions.subscribe(key, "telegram", "news", str(user["id"]), "en", bot.core.clock())
    outbox = Outbox(bot.core.store, bot.core.keyring)
    now = bot.core.clock()
    await outbox.create(kind="broadcast", topic="news", body=body, send_at=now, now=now)
    await Scheduler(bot.core, {}).tick()


async def test_a_fan_out_stays_under_the_flood_limits(tmp_path: Path, services: Services) -> None:
    users = [make_user(2000 + i, f"User{i}") for i in range(40)]
    async with running(tmp_path, services, flood=FloodLimits()) as bot:
        await broadcast_to(bot, users, "Fan-out")
        await Engine(bot.core, bot.adapter.sender()).run_once()
        assert all("Fan-out" in bot.tg.sent_messages(u["id"])[-1]["text"] for u in users)
        assert bot.tg.flood_violations == []


class LateSender:
    """The adapter's sender, whose requests leave a random while after the engine lets them go, as on a
    busy machine: the Bot API counts them when they arrive, late and bunched."""

    def __init__(self, sender: TelegramSender, seed: int) -> None:
        self.sender = sender
        self.platform = sender.platform
        self.rng = random.Random(seed)

    def limits(self) -> PlatformLimits:
        return self.sender.limits()

    def is_group(self, address: str) -> bool:
        return self.sender.is_group(address)

    async def send(self, address: str, reply: Reply) -> None:
        await asyncio.sleep(self.rng.choice((0.0, 0.0, 0.02, 0.3)))
        await self.sender.send(address, reply)


async def test_pacing_holds_at_the_platforms_own_limit_when_requests_arrive_late(
    tmp_path: Path, services: Services
) -> None:
    limit = 40
    users = [make_user(3000 + i, f"User{i}") for i in range(3 * limit)]
    flood = FloodLimits(overall=RateLimit(limit, 1.0))
    settings = DeliveryConfig(window=limit, limits={"telegram": PlatformLimits(float(limit), 1.0, 20.0)})
    async with running(tmp_path, services, flood=flood) as bot:
        bot.core.config = dataclasses.replace(bot.core.config, delivery=settings)
        await broadcast_to(bot, users, "Late")
        await drain(Engine(bot.core, LateSender(bot.adapter.sender(), seed=5)))
        assert all("Late" in bot.tg.sent_messages(u["id"])[-1]["text"] for u in users)
        assert [call for call in bot.tg.calls_to("sendMessage") if call.status == 429] == []


async def test_reminders_reach_subscribers_on_telegram(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as bot:
        await bot.say("/subscribe action-days")
        clock = ManualClock(datetime(2027, 6, 19, 10, 0, tzinfo=UTC))
        bot.core.clock = clock
        engine = Engine(bot.core, bot.adapter.sender())
        await Scheduler(bot.core, {"telegram": engine}).tick()
        await engine.run_once()
        reminder = bot.tg.sent_messages(ALICE["id"])[-1]
        assert reminder["text"].startswith("In 7 days: Support. Don't Punish")


# ---------------------------------------------------------------- webhook mode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_mode_checks_the_secret_on_every_request(
    tmp_path: Path, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "s3cret-token")
    port = free_port()
    async with FakeTelegram(username=USERNAME, flood_limits=CHATTY) as tg:
        settings = TelegramConfig(
            enabled=True,
            base_url=tg.base_url,
            mode="webhook",
            webhook_port=port,
            webhook_path="hook",
            webhook_url="https://bot.example.org/hook",
        )
        config = Config(storage=StorageConfig(tmp_path / "bot.sqlite3"), platforms={"telegram": settings})
        core = await Core.open(config, services=services, create_key=False)
        adapter = TelegramAdapter(config.section("telegram"), config.limits("telegram"), token=tg.token)
        stop = asyncio.Event()
        task = asyncio.create_task(adapter.run(core, stop))
        try:
            await asyncio.wait_for(asyncio.shield(adapter.ready()), timeout=10)
            assert tg.webhook is not None and tg.webhook.secret_token == "s3cret-token"
            assert tg.webhook.url == "https://bot.example.org/hook"
            update = {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": private_chat(ALICE),
                    "from": ALICE,
                    "text": "what is naloxone",
                },
            }
            tg.add_chat(private_chat(ALICE))
            url = f"http://127.0.0.1:{port}/hook"
            assert await tg.post_webhook(url, update, secret_token="wrong") == 403
            assert await tg.post_webhook(url, update) == 200
            await tg.wait_for("sendMessage")
            assert len(tg.sent_messages(ALICE["id"])) == 1
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)
            await core.close()


def test_webhook_mode_needs_its_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET", raising=False)
    settings = TelegramConfig(enabled=True, mode="webhook", webhook_url="https://bot.example.org/hook")
    with pytest.raises(TelegramStartError, match="TELEGRAM_WEBHOOK_SECRET is not set"):
        TelegramAdapter(settings, Config().limits("telegram"), token="1:x")


async def test_one_chats_updates_are_handled_in_order(tmp_path: Path, services: Services) -> None:
    async with running(tmp_path, services) as bot:
        chat = private_chat(ALICE)["id"]
        # Typed faster than the bot answers: the answers must still land in their steps.
        for text in ("/sign", "Maria", "maria@example.org", "PT"):
            bot.tg.push_message(text, user=ALICE)
        (*_, consent) = await bot.replies(chat, 0, 4)
        assert "I agree that my name" in consent["text"]
        texts = [m["text"] for m in bot.tg.sent_messages(chat)]
        assert "What name should appear" in texts[0]
        assert "e-mail address" in texts[1] and "Which country" in texts[2]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: TelegramRetryAfter(timedelta(seconds=3)), RetryAfter),
        (lambda: Forbidden("Forbidden: bot was blocked by the user"), RecipientGone),
        (lambda: BadRequest("Chat not found"), RecipientGone),
        (lambda: BadRequest("Can't parse entities: unsupported start tag"), PermanentFailure),
        (lambda: ChatMigrated(-100123), ChatMoved),
        (lambda: NetworkError("Bad Gateway"), TemporaryFailure),
        (lambda: TimedOut(), TemporaryFailure),
        (lambda: InvalidToken(), PermanentFailure),
    ],
)
def test_bot_api_errors_map_to_what_the_engine_should_do(
    make: Callable[[], TelegramError], expected: type[Exception]
) -> None:
    # Built inside the test, once PTB_TIMEDELTA is set, as the adapter sets it.
    mapped = delivery_error(make())
    assert type(mapped) is expected
    if isinstance(mapped, RetryAfter):
        assert mapped.seconds == 3.0
    if isinstance(mapped, ChatMoved):
        assert mapped.new_address == "-100123"
