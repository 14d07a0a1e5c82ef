"""The fake Bot API (tests/fakes/telegram.py) holds its contract with the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import html
import re
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from fakes.telegram import (
    FakeTelegram,
    FloodLimits,
    RateLimit,
    Webhook,
    group_chat,
    make_user,
    private_chat,
    supergroup_chat,
)
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonCommands,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

USERNAME = "advocacy_test_bot"
App = Application[Any, Any, Any, Any, Any, Any]


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns on every RetryAfter unless durations are opted in to timedelta (its next default)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(username=USERNAME) as fake:
        yield fake


def build_app(tg: FakeTelegram) -> App:
    return ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()


@asynccontextmanager
async def bare_bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    """A Bot without an Application: every call is a plain request, errors come straight back."""
    async with Bot(tg.token, base_url=tg.base_url) as bot:
        yield bot


@asynccontextmanager
async def polling(app: App) -> AsyncIterator[App]:
    """The app polling the fake, as the Telegram adapter runs it (no signal handlers, no loop ownership)."""
    assert app.updater is not None  # None only when the builder was told to build no updater
    async with app:
        await app.updater.start_polling(timeout=1)
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Replies with what it got (command arguments for a command)."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(" ".join(context.args or []) or update.effective_message.text or "")


def said(text: str) -> re.Pattern[str]:
    """Matches a TelegramError's message: PTB drops the "Bad Request: " prefix and capitalize()s
    the rest, so "Bad Request: BUTTON_DATA_INVALID" arrives as "Button_data_invalid"."""
    return re.compile(re.escape(text), re.IGNORECASE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- Start-up and commands ----------------------------------------------------------------------


async def test_get_me_describes_the_bot(tg: FakeTelegram) -> None:
    async with bare_bot(tg) as bot:
        assert bot.username == USERNAME
        assert bot.id == tg.bot_id
        assert bot.bot.can_read_all_group_messages is False  # privacy mode, as a new bot has it
    assert [call.method for call in tg.calls] == ["getMe"]


async def test_command_handler_fires_on_start_and_start_at_username(tg: FakeTelegram) -> None:
    app = build_app(tg)
    app.add_handler(CommandHandler("start", echo))
    async with polling(app):
        group = group_chat()
        tg.push_message("/start@some_other_bot", chat=group)  # addressed to another bot: ignored
        tg.push_message("/start", user=make_user(1))
        tg.push_message(f"/start@{USERNAME} deep", chat=group, user=make_user(2))
        replies = await tg.wait_for("sendMessage", count=2)
    assert [(call.params["chat_id"], call.params["text"]) for call in replies] == [(1, "/start"), (group["id"], "deep")]
    # PTB quotes the message it answers in groups unless told otherwise.
    assert replies[1].params["reply_parameters"] == {"message_id": 2}
    assert tg.calls_to("deleteWebhook")[0].params == {}  # polling always starts by deleting a webhook


async def test_entities_are_in_utf16_units(tg: FakeTelegram) -> None:
    mentions: list[str] = []

    async def on_mention(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        mentions.extend(update.effective_message.parse_entities([MessageEntity.MENTION]).values())
        await update.effective_message.reply_text("mentioned")

    app = build_app(tg)
    app.add_handler(CommandHandler("help", echo))
    app.add_handler(MessageHandler(filters.Entity(MessageEntity.MENTION), on_mention))
    async with polling(app):
        command = tg.push_message("/help 🙂 naloxone 👍🏽", user=make_user(1))
        mention = tg.push_message(f"🙂🙂 hey @{USERNAME}, help", user=make_user(2))
        replies = await tg.wait_for("sendMessage", count=2)
    assert command["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 5}]
    # Each 🙂 is two UTF-16 units: the mention starts at 2 + 2 + len(" hey ") = 9, not 7.
    assert mention["message"]["entities"] == [{"type": "mention", "offset": 9, "length": len(USERNAME) + 1}]
    assert [call.params["text"] for call in replies] == ["🙂 naloxone 👍🏽", "mentioned"]
    assert mentions == [f"@{USERNAME}"]


async def test_updates_are_delivered_once_in_order_across_polls_and_restarts(tg: FakeTelegram) -> None:
    seen: list[str] = []

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text is not None
        seen.append(update.effective_message.text)
        await update.effective_message.reply_text("ok")

    # Five users, so that the replies stay under the per-chat flood limit.
    users = [make_user(n) for n in range(1, 6)]
    for _ in range(2):
        app = build_app(tg)
        app.add_handler(MessageHandler(filters.TEXT, record))
        async with polling(app):
            for user in users[:3]:
                tg.push_message(f"first from {user['id']}", user=user)
            await tg.wait_for("sendMessage", count=len(seen) + 3)
            for user in users[3:]:
                tg.push_message(f"second from {user['id']}", user=user)
            await tg.wait_for("sendMessage", count=len(seen) + 2)
        assert tg.pending_updates == []  # stop() confirmed everything it fetched
    expected = [f"first from {n}" for n in (1, 2, 3)] + [f"second from {n}" for n in (4, 5)]
    assert seen == expected * 2
    answered = [call for call in tg.calls_to("getUpdates") if call.status == 200]
    # A new Updater starts again from offset 0: only the server's memory of the confirmed
    # offset (PTB's last getUpdates on stop) keeps the first five from coming back.
    assert [call.params["offset"] for call in answered] == [0, 4, 6, 0, 9, 11]


async def test_a_second_poller_ends_the_first_with_a_conflict(tg: FakeTelegram) -> None:
    async with bare_bot(tg) as first, bare_bot(tg) as second:
        held = asyncio.create_task(first.get_updates(timeout=5))
        async with asyncio.timeout(5):
            while not held.done():  # until the first poll has arrived and been superseded
                await second.get_updates(timeout=0)
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            held.result()


async def test_commands_are_stored_per_scope_and_language(tg: FakeTelegram) -> None:
    private = BotCommandScopeAllPrivateChats()
    async with bare_bot(tg) as bot:
        await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "Help")])
        await bot.set_my_commands([BotCommand("start", "Empezar")], scope=private, language_code="es")
        assert await bot.get_my_commands(scope=private, language_code="es") == (BotCommand("start", "Empezar"),)
        assert await bot.get_my_commands(scope=private) == ()
        assert len(await bot.get_my_commands()) == 2
        await bot.delete_my_commands()
        assert await bot.get_my_commands() == ()
        with pytest.raises(BadRequest, match=said("BOT_COMMAND_INVALID")):
            await bot.set_my_commands([BotCommand("Start", "capitals are not allowed")])
    call = tg.calls_to("setMyCommands")[1]
    assert call.params == {
        "commands": [{"command": "start", "description": "Empezar"}],
        "scope": {"type": "all_private_chats"},
        "language_code": "es",
    }
    assert tg.my_commands({"type": "all_private_chats"}, "es") == call.params["commands"]
    assert tg.my_commands(BotCommandScopeChat(5).to_dict()) == []


# --- Sending: what Telegram accepts -------------------------------------------------------------


async def test_an_html_reply_is_recorded_with_its_plain_text_and_entities(tg: FakeTelegram) -> None:
    async def bold_echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text is not None
        await update.effective_message.reply_html(f"<b>{html.escape(update.effective_message.text)}</b> ✓")

    app = build_app(tg)
    app.add_handler(MessageHandler(filters.TEXT, bold_echo))
    async with polling(app):
        tg.push_message('is 1 < 2 & "safe"?')
        [call] = await tg.wait_for("sendMessage")
    assert call.params["parse_mode"] == "HTML"
    assert call.params["text"] == "<b>is 1 &lt; 2 &amp; &quot;safe&quot;?</b> ✓"
    [message] = tg.sent_messages(chat_id=1001)
    assert message["text"] == 'is 1 < 2 & "safe"? ✓'
    assert message["entities"] == [{"type": "bold", "offset": 0, "length": 18}]
    assert message["from"]["username"] == USERNAME


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        ("<i>a</i> &#128578;&#x1F642; &lt;&gt;", "a 🙂🙂 <>", [{"type": "italic", "offset": 0, "length": 1}]),
        (
            '🙂<a href="https://example.org/?a=1&amp;b=2">link</a>',
            "🙂link",
            [{"type": "text_link", "offset": 2, "length": 4, "url": "https://example.org/?a=1&b=2"}],
        ),
        (
            '<pre><code class="language-python">x = 1</code></pre>',
            "x = 1",
            [{"type": "pre", "offset": 0, "length": 5, "language": "python"}],
        ),
        (
            "<B>a<tg-spoiler>b</tg-spoiler><span class='tg-spoiler'>c</span></>",
            "abc",
            [
                {"type": "bold", "offset": 0, "length": 3},
                {"type": "spoiler", "offset": 1, "length": 1},
                {"type": "spoiler", "offset": 2, "length": 1},
            ],
        ),
        ("<blockquote expandable>q</blockquote>", "q", [{"type": "expandable_blockquote", "offset": 0, "length": 1}]),
    ],
)
async def test_valid_html_is_parsed_like_telegram(
    tg: FakeTelegram, source: str, text: str, entities: list[dict[str, Any]]
) -> None:
    chat = private_chat(make_user())
    tg.add_chat(chat)
    async with bare_bot(tg) as bot:
        message = await bot.send_message(chat["id"], source, parse_mode="HTML")
    assert message.text == text
    assert [entity.to_dict() for entity in message.entities] == entities


@pytest.mark.parametrize(
    ("source", "detail"),
    [
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("🙂<br>", 'Unsupported start tag "br" at byte offset 4'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ('<span class="red">x</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("fish & chips", 'unescaped "&" at byte offset 5'),
        ("&nbsp;", 'unescaped "&" at byte offset 0'),
        ("2 > 1", 'unescaped ">" at byte offset 2'),
    ],
)
async def test_invalid_html_is_a_bad_request(tg: FakeTelegram, source: str, detail: str) -> None:
    chat = private_chat(make_user())
    tg.add_chat(chat)
    async with bare_bot(tg) as bot:
        with pytest.raises(BadRequest, match=said("can't parse entities")) as error:
            await bot.send_message(chat["id"], source, parse_mode="HTML")
    assert detail.lower() in error.value.message.lower()
    assert tg.sent_messages() == []


async def test_text_length_is_checked_after_parsing_in_utf16_units() -> None:
    chat = private_chat(make_user())
    # The flood limit would answer the fourth message to one chat with 429 before looking at it.
    async with FakeTelegram(flood_limits=None) as tg, bare_bot(tg) as bot:
        tg.add_chat(chat)
        await bot.send_message(chat["id"], "a" * 4096)
        await bot.send_message(chat["id"], "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")  # tags don't count
        await bot.send_message(chat["id"], "🙂" * 2048)
        for too_long in ("a" * 4097, "🙂" * 2049):
            with pytest.raises(BadRequest, match=said("message is too long")):
                await bot.send_message(chat["id"], too_long)
        for empty in ("", "  \n", "<b></b>"):
            with pytest.raises(BadRequest, match=said("message text is empty")):
                await bot.send_message(chat["id"], empty, parse_mode="HTML")
        assert len(tg.sent_messages()) == 3


async def test_callback_data_must_be_1_to_64_bytes(tg: FakeTelegram) -> None:
    chat = private_chat(make_user())
    tg.add_chat(chat)

    def keyboard(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("press", callback_data=data)]])

    async with bare_bot(tg) as bot:
        await bot.send_message(chat["id"], "ok", reply_markup=keyboard("x" * 64))
        for data in ("x" * 65, "é" * 33, ""):  # "é" is two bytes in UTF-8
            with pytest.raises(BadRequest, match=said("BUTTON_DATA_INVALID")):
                await bot.send_message(chat["id"], "too big", reply_markup=keyboard(data))
        with pytest.raises(BadRequest, match=said("Text buttons are unallowed")):
            await bot.send_message(
                chat["id"], "no action", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("x")]])
            )


async def test_a_pushed_callback_query_is_answered_once(tg: FakeTelegram) -> None:
    async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        buttons = [[InlineKeyboardButton("Naloxone", callback_data="kb:naloxone")]]
        await update.effective_message.reply_text("Pick one", reply_markup=InlineKeyboardMarkup(buttons))

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"You picked {query.data}")

    app = build_app(tg)
    app.add_handler(CommandHandler("start", menu))
    app.add_handler(CallbackQueryHandler(pressed))
    async with polling(app):
        tg.push_message("/start")
        await tg.wait_for("sendMessage")
        [sent] = tg.sent_messages()
        with pytest.raises(ValueError, match="no button with callback_data 'kb:other'"):
            tg.push_callback("kb:other", message=sent)
        update = tg.push_callback("kb:naloxone", message=sent)
        [answer] = await tg.wait_for("answerCallbackQuery")
        await tg.wait_for("editMessageText")
        assert tg.unanswered_callbacks == []
        with pytest.raises(BadRequest, match=said("query is too old")):
            await app.bot.answer_callback_query(update["callback_query"]["id"])
    assert answer.params == {"callback_query_id": update["callback_query"]["id"]}
    assert update["callback_query"]["from"]["id"] == 1001
    [edited] = tg.sent_messages()
    # Editing the text without passing the keyboard again removes it, as on Telegram.
    assert edited["text"] == "You picked kb:naloxone" and "reply_markup" not in edited


async def test_edits_deletes_and_replies_are_checked_against_the_chat(tg: FakeTelegram) -> None:
    user = make_user()
    pushed = tg.push_message("hello", user=user)["message"]
    async with bare_bot(tg) as bot:
        sent = await bot.send_message(user["id"], "first", reply_to_message_id=pushed["message_id"])
        assert sent.reply_to_message is not None and sent.reply_to_message.text == "hello"
        assert sent.message_id == pushed["message_id"] + 1  # one sequence of ids per chat
        with pytest.raises(BadRequest, match=said("message is not modified")):
            await bot.edit_message_text("first", user["id"], sent.message_id)
        with pytest.raises(BadRequest, match=said("message can't be edited")):
            await bot.edit_message_text("theirs", user["id"], pushed["message_id"])
        with pytest.raises(BadRequest, match=said("message to be replied not found")):
            await bot.send_message(user["id"], "reply", reply_to_message_id=999)
        with pytest.raises(BadRequest, match=said("chat not found")):
            await bot.send_message(-4002, "nobody added the bot there")
        assert await bot.delete_message(user["id"], sent.message_id)
        with pytest.raises(BadRequest, match=said("message to delete not found")):
            await bot.delete_message(user["id"], sent.message_id)
    assert tg.sent_messages() == []


async def test_a_photo_upload_is_recorded_with_its_bytes(tg: FakeTelegram) -> None:
    chat = private_chat(make_user())
    tg.add_chat(chat)
    async with bare_bot(tg) as bot:
        message = await bot.send_photo(chat["id"], photo=b"\x89PNG fake", caption="<i>map</i>", parse_mode="HTML")
        await bot.send_photo(chat["id"], photo=message.photo[-1].file_id)  # resent by file_id: no upload
        document = await bot.send_document(chat["id"], document=b"a,b\n", filename="pledges.csv")
    [upload, resend] = tg.calls_to("sendPhoto")
    assert upload.params["photo"].data == b"\x89PNG fake"
    assert resend.params["photo"] == message.photo[-1].file_id
    assert tg.files[message.photo[-1].file_id].data == b"\x89PNG fake"
    assert message.caption == "map" and message.caption_entities[0].type == "italic"
    assert document.document is not None and document.document.file_name == "pledges.csv"
    assert tg.files[document.document.file_id].data == b"a,b\n"


async def test_chat_methods(tg: FakeTelegram) -> None:
    group = group_chat(title="Harm reduction volunteers")
    tg.push_message(f"hi @{USERNAME}", chat=group)
    async with bare_bot(tg) as bot:
        assert (await bot.get_chat(group["id"])).title == "Harm reduction volunteers"
        assert await bot.send_chat_action(group["id"], ChatAction.TYPING)
        await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
        assert await bot.get_chat_menu_button(group["id"]) == MenuButtonCommands()
        assert await bot.leave_chat(group["id"])
        with pytest.raises(Forbidden, match="bot is not a member of the group chat"):
            await bot.send_message(group["id"], "still here?")


# --- Errors as PTB raises them ------------------------------------------------------------------


async def test_flood_wait_is_retry_after(tg: FakeTelegram) -> None:
    tg.add_chat(private_chat(make_user()))
    tg.fail("sendMessage", 429, retry_after=7)
    async with bare_bot(tg) as bot:
        with pytest.raises(RetryAfter) as error:
            await bot.send_message(1001, "hi")
        await bot.send_message(1001, "only the next call fails")
    assert error.value.retry_after == timedelta(seconds=7)
    assert [call.status for call in tg.calls_to("sendMessage")] == [429, 200]


@pytest.mark.parametrize(
    ("status", "description", "exception"),
    [
        (403, "Forbidden: bot was blocked by the user", Forbidden),
        (400, "Bad Request: chat not found", BadRequest),
        (500, "Internal Server Error", NetworkError),
        (502, "Bad Gateway", NetworkError),
    ],
)
async def test_error_statuses_become_ptb_exceptions(
    tg: FakeTelegram, status: int, description: str, exception: type[Exception]
) -> None:
    tg.add_chat(private_chat(make_user()))
    tg.fail("sendMessage", status, description)
    async with bare_bot(tg) as bot:
        with pytest.raises(exception, match=said(description.removeprefix("Bad Request: "))):
            await bot.send_message(1001, "hi")


async def test_a_wrong_token_is_invalid_token(tg: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:wrong", base_url=tg.base_url):
            pass
    assert tg.calls[0].status == 401


async def test_an_unknown_method_is_not_found(tg: FakeTelegram) -> None:
    async with bare_bot(tg) as bot:
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("sendTelepathy")
    assert tg.calls[-1].method == "sendTelepathy" and tg.calls[-1].status == 404


async def test_get_updates_conflicts_with_a_webhook(tg: FakeTelegram) -> None:
    async with bare_bot(tg) as bot:
        with pytest.raises(BadRequest, match=said("HTTPS URL must be provided")):
            await bot.set_webhook("http://127.0.0.1:8443/hook")
        await bot.set_webhook("https://bot.example.org/hook", secret_token="s3cret")
        with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
            await bot.get_updates()
        assert (await bot.get_webhook_info()).url == "https://bot.example.org/hook"
        await bot.delete_webhook()
        assert await bot.get_updates() == ()


async def test_a_migrated_group_is_chat_migrated_for_that_chat_only(tg: FakeTelegram) -> None:
    group, supergroup = group_chat(), supergroup_chat()
    tg.add_chat(group, supergroup, private_chat(make_user()))
    tg.fail(
        "sendMessage",
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        migrate_to_chat_id=supergroup["id"],
        chat_id=group["id"],
    )
    async with bare_bot(tg) as bot:
        await bot.send_message(1001, "another chat is not affected")
        with pytest.raises(ChatMigrated) as error:
            await bot.send_message(group["id"], "hi")
    assert error.value.new_chat_id == supergroup["id"]


async def test_sends_to_a_user_who_blocked_the_bot_are_forbidden(tg: FakeTelegram) -> None:
    user = make_user()
    chat = private_chat(user)
    tg.push_my_chat_member(chat, user, "member", "kicked")
    async with bare_bot(tg) as bot:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(chat["id"], "are you there?")


@pytest.mark.parametrize("status", ["creator", "administrator", "member", "restricted", "left", "kicked"])
async def test_my_chat_member_updates_parse_in_ptb(tg: FakeTelegram, status: str) -> None:
    update = tg.push_my_chat_member(supergroup_chat(), make_user(), "left", status)
    parsed = Update.de_json(update, None)
    assert parsed.my_chat_member is not None
    assert parsed.my_chat_member.new_chat_member.status == status
    assert parsed.my_chat_member.new_chat_member.user.id == tg.bot_id


async def test_an_edited_message_keeps_its_id_and_gets_new_entities(tg: FakeTelegram) -> None:
    original = tg.push_message("naloxone?")["message"]
    parsed = Update.de_json(tg.push_edited_message(original, f"@{USERNAME} naloxone?"), None)
    assert parsed.edited_message is not None and parsed.edited_message.edit_date is not None
    assert parsed.edited_message.message_id == original["message_id"]
    assert parsed.edited_message.parse_entities() == {parsed.edited_message.entities[0]: f"@{USERNAME}"}


async def test_a_slow_answer_is_waited_for_and_a_timeout_may_still_have_sent(tg: FakeTelegram) -> None:
    tg.add_chat(private_chat(make_user()))
    async with bare_bot(tg) as bot:
        tg.delay("sendMessage", 0.3)
        started = time.monotonic()
        await bot.send_message(1001, "slow")
        assert time.monotonic() - started >= 0.3
        tg.delay("sendMessage", 2.0)
        with pytest.raises(TimedOut):
            await bot.send_message(1001, "too slow", read_timeout=0.2)
    # Telegram had already sent it: retrying after TimedOut sends the message twice.
    assert [message["text"] for message in tg.sent_messages()] == ["slow", "too slow"]


async def test_polling_survives_a_server_error(tg: FakeTelegram) -> None:
    tg.fail("getUpdates", 502)
    app = build_app(tg)
    app.add_handler(CommandHandler("start", echo))
    async with polling(app):
        tg.push_message("/start")
        await tg.wait_for("sendMessage")  # after PTB's 1 s back-off
    assert [call.status for call in tg.calls_to("getUpdates")][:2] == [502, 200]


async def test_wait_for_reports_the_calls_it_saw(tg: FakeTelegram) -> None:
    async with bare_bot(tg):
        pass
    with pytest.raises(AssertionError, match=r"1 sendMessage call\(s\), got 0; calls so far:\n  getMe \{\} -> 200"):
        await tg.wait_for("sendMessage", timeout=0.05)


# --- Flood limits ---------------------------------------------------------------------------------


async def test_a_tight_loop_to_one_chat_breaks_the_flood_limit(tg: FakeTelegram) -> None:
    tg.add_chat(private_chat(make_user()))
    async with bare_bot(tg) as bot:
        with pytest.raises(RetryAfter):
            for n in range(40):
                await bot.send_message(1001, f"message {n}")
    assert len(tg.sent_messages()) == 3
    [violation] = tg.flood_violations
    assert (violation.method, violation.chat_id, violation.limit, violation.retry_after) == (
        "sendMessage",
        1001,
        "per_chat",
        1,
    )


async def test_flood_violations_can_be_recorded_without_rejecting() -> None:
    async with FakeTelegram(flood_limits=FloodLimits(reject=False)) as tg:
        tg.add_chat(private_chat(make_user()))
        async with bare_bot(tg) as bot:
            for n in range(40):
                await bot.send_message(1001, f"message {n}")
    assert len(tg.sent_messages()) == 40
    assert tg.flood_violations and {violation.limit for violation in tg.flood_violations} == {"per_chat"}


async def test_thirty_one_chats_in_a_second_break_the_overall_limit(tg: FakeTelegram) -> None:
    users = [make_user(n) for n in range(1, 32)]
    tg.add_chat(*map(private_chat, users))
    async with bare_bot(tg) as bot:
        for user in users[:30]:
            await bot.send_message(user["id"], "news")
        with pytest.raises(RetryAfter):
            await bot.send_message(users[30]["id"], "news")
    assert [violation.limit for violation in tg.flood_violations] == ["overall"]


async def test_a_group_has_its_own_limit_per_minute() -> None:
    group = group_chat()
    async with FakeTelegram(flood_limits=FloodLimits(per_group=RateLimit(2, 60.0))) as tg, bare_bot(tg) as bot:
        tg.add_chat(group)
        await bot.send_message(group["id"], "news")
        await bot.send_message(group["id"], "more news")
        with pytest.raises(RetryAfter) as error:
            await bot.send_message(group["id"], "too much news")
        assert [violation.limit for violation in tg.flood_violations] == ["per_group"]
    assert error.value.retry_after == timedelta(seconds=60)


async def test_limits_can_be_switched_off() -> None:
    async with FakeTelegram(flood_limits=None) as tg:
        tg.add_chat(private_chat(make_user()))
        async with bare_bot(tg) as bot:
            for n in range(40):
                await bot.send_message(1001, f"message {n}")
    assert len(tg.sent_messages()) == 40 and tg.flood_violations == []


# --- Webhook mode ---------------------------------------------------------------------------------


async def test_webhook_mode_checks_the_secret_token(tg: FakeTelegram) -> None:
    pytest.importorskip("tornado", reason='webhooks need "python-telegram-bot[webhooks]" (tornado)')
    app = build_app(tg)
    app.add_handler(CommandHandler("start", echo))
    port = free_port()
    hook = f"http://127.0.0.1:{port}/hook"
    assert app.updater is not None
    async with app:
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="hook",
            webhook_url="https://bot.example.org/hook",
            secret_token="s3cret_T0ken",
        )
        await app.start()
        try:
            update = tg.push_message("/start")
            assert await tg.post_webhook(hook, update, secret_token="wrong") == 403
            assert await tg.post_webhook(hook, update) == 200  # with the secret the bot registered
            await tg.wait_for("sendMessage")
        finally:
            await app.updater.stop()
            await app.stop()
    assert len(tg.calls_to("sendMessage")) == 1
    assert tg.webhook == Webhook("https://bot.example.org/hook", "s3cret_T0ken", 40)
    assert tg.calls_to("setWebhook")[0].params["secret_token"] == "s3cret_T0ken"
    assert tg.calls_to("getUpdates") == []
