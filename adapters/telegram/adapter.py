"""The Telegram adapter, on python-telegram-bot 22: updates in, HTML replies out, broadcasts sent.

Long polling by default, a webhook as an option. Everything a person or the content wrote reaches
Telegram HTML-escaped (replies are spans; only Bold and Link become tags), long replies are split on
paragraph boundaries, and buttons carry compact, versioned callback data.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import os
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, cast

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    TelegramError,
)
from telegram.error import RetryAfter as TelegramRetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBUserWarning

from adapters.telegram import TOKEN_ENV, TelegramConfig
from bot.port import markup
from bot.port.clock import idle
from bot.port.delivery import ChatMoved, PermanentFailure, PlatformLimits, RecipientGone, RetryAfter, TemporaryFailure
from bot.port.events import HANDOFF, ButtonPress, Chat, ChatKind, Event, Gone, Reply, Share, User, parse_text
from bot.port.languages import LANGUAGES
from bot.port.markup import Bold, Link, RichText, plain
from bot.port.mechanics import KeyedLocks, MessageLimits, merge_replies, split_rich
from bot.port.platform import AdapterError, Setup
from bot.port.redaction import register_secret, secret_env
from bot.port.services import CommandInfo, Port

log = logging.getLogger(__name__)

PLATFORM = "telegram"
WEBHOOK_SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"
# Telegram's limit, counted in UTF-16 code units after entities are parsed.
MAX_MESSAGE = 4096
MAX_CALLBACK_BYTES = 64
# Callback data is "<version>|<action>". A deploy that changes the format bumps the version, and
# presses on older buttons get a polite "expired" instead of being misread.
CALLBACK_VERSION = "1"
# Actions too long for callback data are stored and referred to by "<version>#<digest>".
LONG_ACTIONS_SCOPE = "buttons"
MAX_DESCRIPTION = 256
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Tries at a reply to a waiting person when Telegram says "too many requests".
INTERACTIVE_ATTEMPTS = 3
App = Application[Any, Any, Any, Any, Any, Any]


class TelegramStartError(AdapterError):
    pass


def _token() -> str:
    token = secret_env(TOKEN_ENV)
    if not token:
        raise TelegramStartError(f"{TOKEN_ENV} is not set: create a bot with @BotFather and put its token there")
    return token


def _start_error(exc: InvalidToken | NetworkError, settings: TelegramConfig) -> TelegramStartError:
    if isinstance(exc, InvalidToken):
        return TelegramStartError(
            f"Telegram rejected the bot token (401 Unauthorized): check {TOKEN_ENV} or ask @BotFather for a new one"
        )
    return TelegramStartError(f"cannot reach the Bot API at {settings.base_url}: {exc}")


async def check(settings: TelegramConfig) -> str:
    """The token is set and Telegram accepts it (getMe): for ``advocacy-bot doctor``."""
    bot = Bot(_token(), base_url=settings.base_url)
    try:
        async with bot:
            return f"@{bot.username} accepts the token ({settings.mode})"
    except (InvalidToken, NetworkError) as exc:
        raise _start_error(exc, settings) from exc


class ObservedRequest(HTTPXRequest):
    """python-telegram-bot's HTTP client, telling the adapter the status of every answer (None: no
    answer), for the count of 429s and for whether polling works."""

    def __init__(self, observe: Callable[[int | None], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._observe = observe

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        try:
            code, payload = await super().do_request(*args, **kwargs)
        except Exception:
            self._observe(None)
            raise
        self._observe(code)
        return code, payload


# ---------------------------------------------------------------------- rendering


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def span_html(span: Any) -> str:
    if isinstance(span, Bold):
        return f"<b>{html.escape(span.text, quote=False)}</b>"
    if isinstance(span, Link):
        return f'<a href="{html.escape(span.url)}">{html.escape(span.text, quote=False)}</a>'
    return html.escape(span.text, quote=False)


def to_html(text: RichText) -> str:
    return "".join(span_html(span) for span in text)


# What one message holds, as Telegram counts it.
TEXT = MessageLimits(MAX_MESSAGE, utf16_len)


def split_html(text: RichText) -> list[str]:
    """The reply as HTML messages within Telegram's limit, cut by bot.port.mechanics' policy."""
    return [to_html(piece) for piece in split_rich(text, TEXT)] or [""]


def merged(replies: Sequence[Reply]) -> list[Reply]:
    """Consecutive replies as fewer messages (bot.port.mechanics' policy): fewer messages keep a
    conversation under Telegram's per-chat flood limit, and the emergency answer stays a message of
    its own, first, so it cannot be missed."""
    return merge_replies(replies, TEXT, plain)


# ---------------------------------------------------------------------- callback data


def callback_data(action: str) -> str | None:
    data = f"{CALLBACK_VERSION}|{action}"
    return data if len(data.encode()) <= MAX_CALLBACK_BYTES else None


def digest_data(action: str) -> str:
    return f"{CALLBACK_VERSION}#{hashlib.sha256(action.encode()).hexdigest()[:24]}"


async def encode_action(core: Port, action: str) -> str:
    data = callback_data(action)
    if data is not None:
        return data
    data = digest_data(action)
    await core.settings(PLATFORM).set(LONG_ACTIONS_SCOPE, data, action)
    return data


async def decode_action(core: Port, data: str) -> str | None:
    """The core action of a button, or None when the button comes from another version."""
    version, separator, rest = data.partition("|")
    if separator and version == CALLBACK_VERSION:
        return rest
    if data.startswith(f"{CALLBACK_VERSION}#"):
        return await core.settings(PLATFORM).get(LONG_ACTIONS_SCOPE, data)
    return None


# ---------------------------------------------------------------------- sending


def retry_seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def delivery_error(exc: TelegramError) -> Exception:
    """The delivery engine's view of a Bot API error."""
    if isinstance(exc, TelegramRetryAfter):
        return RetryAfter(retry_seconds(exc.retry_after))
    if isinstance(exc, ChatMigrated):
        return ChatMoved(str(exc.new_chat_id))
    if isinstance(exc, Forbidden):
        return RecipientGone(exc.message)
    if isinstance(exc, BadRequest):
        # PTB lower-cases the description ("Chat not found"): compare without case.
        if "chat not found" in exc.message.lower() or "user is deactivated" in exc.message.lower():
            return RecipientGone(exc.message)
        return PermanentFailure(exc.message)
    if isinstance(exc, InvalidToken):
        return PermanentFailure("the bot token was rejected")
    if isinstance(exc, NetworkError):
        return TemporaryFailure(type(exc).__name__)
    return PermanentFailure(type(exc).__name__)


class TelegramSender:
    """Sends broadcasts; the delivery engine paces it."""

    platform = PLATFORM

    def __init__(self, adapter: TelegramAdapter, limits: PlatformLimits) -> None:
        self.adapter = adapter
        self._limits = limits

    def limits(self) -> PlatformLimits:
        return self._limits

    def is_group(self, address: str) -> bool:
        return address.startswith("-")

    async def send(self, address: str, reply: Reply) -> None:
        core = await self.adapter.ready()
        try:
            # Broadcasts carry no hand-off: the language of the adapter's own labels does not matter.
            await self.adapter.send_reply(core, address, reply, core.default_language)
        except TelegramError as exc:
            raise delivery_error(exc) from exc


# ---------------------------------------------------------------------- updates, in order per chat


def _chat_of(update: Update) -> str | None:
    return str(update.effective_chat.id) if update.effective_chat else None


class ArrivalQueue(asyncio.Queue[object]):
    """The updates received, each noted in the store before Telegram is told it arrived (the webhook
    answers once ``put`` returns): one delivered again, to this instance or another behind the same
    address, is dropped; and the order of a chat's updates is known to every instance."""

    def __init__(self) -> None:
        super().__init__()
        self.core: Port | None = None
        # Webhook mode: an update that cannot be noted is refused, and Telegram delivers it again.
        self.refuse_unnoted = False

    async def put(self, item: object) -> None:
        if isinstance(item, Update) and self.core is not None:
            try:
                if not await self.core.arrived(PLATFORM, item.update_id, _chat_of(item)):
                    return
            except Exception as exc:
                if self.refuse_unnoted:
                    raise
                # Polled updates are confirmed by the next poll whatever happens: better handled.
                log.warning("telegram: could not note an update (%s); handling it anyway", type(exc).__name__)
        await super().put(item)


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Updates of different chats are handled at the same time, those of one chat in order, across
    instances too.

    A sign-up's answers (name, then e-mail) must be handled in the order they were typed, while one
    slow chat must not hold up everybody else: python-telegram-bot's own concurrent processor gives
    the second but not the first.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._turns: KeyedLocks[str | None] = KeyedLocks()
        self.core: Port | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if not isinstance(update, Update) or self.core is None:
            await coroutine
            return
        chat = _chat_of(update)
        async with self._turns.of(chat), self.core.chat_turn(PLATFORM, update.update_id, chat):
            await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


# ---------------------------------------------------------------------- the adapter


class TelegramAdapter:
    name = PLATFORM

    def __init__(self, settings: TelegramConfig, limits: PlatformLimits, token: str | None = None) -> None:
        self.settings = settings
        self.limits = limits
        token = token or _token()
        register_secret(token)
        self.secret = secret_env(WEBHOOK_SECRET_ENV) or None
        if settings.mode == "webhook" and not self.secret:
            raise TelegramStartError(f"{WEBHOOK_SECRET_ENV} is not set: webhook mode checks it on every request")
        # Opt in now to python-telegram-bot 23's durations (timedelta), which silences its warning.
        os.environ.setdefault("PTB_TIMEDELTA", "true")
        # send_reply makes the raw sendMessage call on purpose (see there); PTB suggests the typed one.
        warnings.filterwarnings("ignore", r"Please use 'Bot\.sendMessage'", PTBUserWarning)
        self.arrivals = ArrivalQueue()
        self.arrivals.refuse_unnoted = settings.mode == "webhook"
        self.processor = ChatOrderedProcessor(settings.concurrent_updates)
        self.app: App = (
            ApplicationBuilder()
            .token(token)
            .base_url(settings.base_url)
            .update_queue(self.arrivals)
            .concurrent_updates(self.processor)
            # python-telegram-bot's own pool sizes for each client.
            .request(ObservedRequest(self._answered, connection_pool_size=256))
            .get_updates_request(ObservedRequest(self._polled, connection_pool_size=1))
            .build()
        )
        self.app.add_handler(MessageHandler(filters.TEXT, self._on_message))
        self.app.add_handler(CallbackQueryHandler(self._on_callback))
        self.app.add_handler(ChatMemberHandler(self._on_member, ChatMemberHandler.MY_CHAT_MEMBER))
        self._core: Port | None = None
        self._started = asyncio.Event()
        self._failure: TelegramStartError | None = None
        self._stop: asyncio.Event | None = None
        # Since when (monotonic seconds) and why asking for updates fails; None while it works.
        self._polling_failure: tuple[float, str] | None = None
        # Polling, while another instance is the one that polls: healthy, ready to take over.
        self._standing_by = False
        self.username = ""

    def sender(self) -> TelegramSender:
        return TelegramSender(self, self.limits)

    async def ready(self) -> Port:
        await self._started.wait()
        assert self._core is not None
        return self._core

    def health(self) -> str | None:
        if not self._started.is_set():
            return "telegram: not connected yet"
        updater = self.app.updater
        if (updater is None or not updater.running) and not self._standing_by:
            return "telegram: not receiving updates"
        if self._polling_failure is not None:
            since, why = self._polling_failure
            return f"telegram: asking for updates has failed for {time.monotonic() - since:.0f} s ({why})"
        return None

    def _answered(self, status: int | None) -> None:
        if status == 429 and self._core is not None:
            self._core.rate_limited(PLATFORM)

    def _polled(self, status: int | None) -> None:
        self._answered(status)
        if status == 200:
            self._polling_failure = None
        elif self._polling_failure is None:
            self._polling_failure = (time.monotonic(), "no answer" if status is None else f"HTTP {status}")

    @property
    def bot(self) -> Bot:
        return cast(Bot, self.app.bot)

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self, core: Port, stop: asyncio.Event) -> None:
        self._core, self._stop = core, stop
        self.arrivals.core = self.processor.core = core
        try:
            await self.app.initialize()  # getMe: checks the token
        except (InvalidToken, NetworkError) as exc:
            raise _start_error(exc, self.settings) from exc
        try:
            self.username = self.bot.username
            await self.set_commands(core)
            updater = self.app.updater
            assert updater is not None
            settings = self.settings
            if settings.mode == "webhook":
                await updater.start_webhook(
                    listen=settings.webhook_listen,
                    port=settings.webhook_port,
                    url_path=settings.webhook_path,
                    webhook_url=settings.webhook_url,
                    secret_token=self.secret,
                    allowed_updates=Update.ALL_TYPES,
                )
            await self.app.start()
            self._started.set()
            log.info("telegram: running as @%s (%s)", self.username, settings.mode)
            if settings.mode == "webhook":
                await stop.wait()
            else:
                await self._poll(core, stop)
            if updater.running:
                await updater.stop()
            await self.app.stop()
        finally:
            await self.app.shutdown()
        if self._failure is not None:
            raise self._failure

    async def _poll(self, core: Port, stop: asyncio.Event) -> None:
        """Poll whenever this instance is the elected poller: Telegram answers a second one with 409
        Conflict, so the others stand by to take over."""
        updater = self.app.updater
        assert updater is not None
        while not stop.is_set():
            self._standing_by = True
            async with core.elected(f"polling:{PLATFORM}", stop) as role:
                if role is None:
                    return
                self._standing_by = False
                await updater.start_polling(allowed_updates=Update.ALL_TYPES, error_callback=self._polling_error)
                await idle(None, stop, role.lost)
                await updater.stop()

    def _polling_error(self, exc: TelegramError) -> None:
        if isinstance(exc, Conflict):
            # Two pollers fight over the updates and each loses some: stop with the reason.
            self._failure = TelegramStartError(
                "Telegram says another program is already getting this bot's updates (409 Conflict): "
                "another instance is running with the same token, or a webhook is set. Stop the other "
                "instance (or use telegram.mode: webhook) and start again."
            )
            if self._stop is not None:
                self._stop.set()
            return
        log.warning("telegram: polling failed (%s); retrying", type(exc).__name__)

    async def set_commands(self, core: Port) -> None:
        """Command menus per language: private chats, groups (no personal commands), organisers."""
        organisers = list(core.commands())
        everyone = [command for command in organisers if not command.organiser_only]
        in_groups = [command for command in everyone if not command.personal]

        def menu(commands: Sequence[CommandInfo], lang: str) -> list[BotCommand]:
            return [
                BotCommand(command.name, core.strings.text(lang, command.description)[:MAX_DESCRIPTION])
                for command in commands
            ]

        default = core.default_language
        for lang in (None, *LANGUAGES):
            language = lang or default
            code = lang or None
            await self.bot.set_my_commands(menu(everyone, language), BotCommandScopeAllPrivateChats(), code)
            await self.bot.set_my_commands(menu(in_groups, language), BotCommandScopeAllGroupChats(), code)
            for organiser in core.organisers:
                platform, _, user_id = organiser.partition(":")
                if platform == PLATFORM and user_id.lstrip("-").isdigit():
                    await self.bot.set_my_commands(menu(organisers, language), BotCommandScopeChat(int(user_id)), code)

    # -- updates in ------------------------------------------------------------------------

    def _addressed(self, message: Message) -> bool:
        if message.chat.type == ChatType.PRIVATE:
            return True
        for entity in message.entities:
            if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
                command = message.parse_entity(entity)
                return "@" not in command or command.split("@", 1)[1].lower() == self.username.lower()
            if (
                entity.type == MessageEntity.MENTION
                and message.parse_entity(entity)[1:].lower() == self.username.lower()
            ):
                return True
        reply = message.reply_to_message
        return reply is not None and reply.from_user is not None and reply.from_user.id == self.bot.id

    def _event_text(self, message: Message) -> str:
        """The text without the bot's @mention, which is how people address it in groups."""
        text = message.text or ""
        mention = f"@{self.username}"
        return text.replace(mention, " ").strip() if self.username and mention in text else text

    async def _on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or message.text is None or user.is_bot:
            return
        core = await self.ready()
        group = message.chat.type != ChatType.PRIVATE
        addressed = self._addressed(message)
        content = parse_text(self._event_text(message))
        if group and message.text.startswith("/") and not addressed:
            return  # a command for another bot
        event = Event(
            User(PLATFORM, str(user.id), user.language_code),
            Chat(str(message.chat.id), ChatKind.GROUP if group else ChatKind.PRIVATE),
            content,
            addressed=addressed,
        )
        await self._respond(core, event, reply_to=message.message_id if group else None)

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        core = await self.ready()
        action = await decode_action(core, query.data or "")
        if action is None:
            user = User(PLATFORM, str(query.from_user.id), query.from_user.language_code)
            chat = Chat(str(query.message.chat.id) if query.message else str(query.from_user.id))
            lang = (await core.current(Event(user, chat, ButtonPress("")))).lang
            await query.answer(core.strings.text(lang, "error.button_expired"))
            return
        await query.answer()
        await self._press(core, query, action)

    async def _press(self, core: Port, query: CallbackQuery, action: str) -> None:
        message = query.message
        if message is None:
            return
        chat = message.chat
        group = chat.type != ChatType.PRIVATE
        event = Event(
            User(PLATFORM, str(query.from_user.id), query.from_user.language_code),
            Chat(str(chat.id), ChatKind.GROUP if group else ChatKind.PRIVATE),
            ButtonPress(action),
        )
        await self._respond(core, event)

    async def _respond(self, core: Port, event: Event, *, reply_to: int | None = None) -> None:
        """Hand ``event`` to the core and send its replies where it happened."""
        outcome = await core.handle(event)
        # The adapter's own labels ("Continue in a private chat") in the language of the replies.
        lang = outcome.lang
        for reply in merged(outcome.replies):
            if reply.private and event.chat.kind is ChatKind.GROUP:
                await self._send_privately(core, event.user.id, reply, lang)
                continue
            await self.answer(core, event.chat.id, reply, lang, reply_to=reply_to)

    async def _send_privately(self, core: Port, user_id: str, reply: Reply, lang: str) -> None:
        """A reply meant for one person (the crisis answer to a message in a group), in their private
        chat with the bot. Telegram lets a bot write first only to someone who has started it; for
        anyone else the reply in the group carries a button that opens the private chat."""
        try:
            await self.answer(core, user_id, reply, lang)
        except Forbidden:
            log.info("a private reply could not be delivered: the person has not started the bot")

    async def _on_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is None:
            return
        if change.new_chat_member.status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT):
            core = await self.ready()
            # In a private chat, "kicked" means the person blocked the bot: they are gone.
            chat = Chat(
                str(change.chat.id), ChatKind.PRIVATE if change.chat.type == ChatType.PRIVATE else ChatKind.GROUP
            )
            await core.handle(Event(User(PLATFORM, str(change.from_user.id)), chat, Gone()))

    # -- replies out -----------------------------------------------------------------------

    async def keyboard(self, core: Port, reply: Reply, lang: str) -> InlineKeyboardMarkup | None:
        rows = [
            [
                InlineKeyboardButton(button.label, callback_data=await encode_action(core, button.action))
                for button in row
            ]
            for row in reply.buttons
        ]
        if reply.handoff and self.username:
            label = core.strings.text(lang, "button.continue_privately")
            rows.append([InlineKeyboardButton(label, url=f"https://t.me/{self.username}?start={reply.handoff}")])
        return InlineKeyboardMarkup(rows) if rows else None

    def share_link(self, share: Share) -> RichText:
        """A deep link that opens a private chat with this bot on ``share``'s command."""
        if self.username and HANDOFF.fullmatch(share.payload):
            url = f"https://t.me/{self.username}?start={share.payload}"
            return (Link(url, url),)
        return markup.text(f"/{share.command} {share.argument}".rstrip())

    async def send_reply(
        self, core: Port, chat_id: str, reply: Reply, lang: str, *, reply_to: int | None = None
    ) -> None:
        text = reply.text if reply.share is None else markup.join(reply.text, self.share_link(reply.share), sep="\n")
        chunks = split_html(text)
        keyboard = await self.keyboard(core, reply, lang)
        for index, chunk in enumerate(chunks):
            params: dict[str, Any] = {
                "chat_id": int(chat_id),
                "text": chunk,
                "parse_mode": ParseMode.HTML,
                "link_preview_options": NO_PREVIEW,
            }
            if keyboard is not None and index == len(chunks) - 1:
                params["reply_markup"] = keyboard
            if reply_to is not None and index == 0:
                params["reply_parameters"] = ReplyParameters(reply_to, allow_sending_without_reply=True)
            # The raw call: the sent message is not needed, and parsing it back into a Message is
            # the biggest cost of a reply on our side.
            await self.bot.do_api_request("sendMessage", params)

    async def answer(self, core: Port, chat_id: str, reply: Reply, lang: str, *, reply_to: int | None = None) -> None:
        """Send a reply to someone who is waiting for it: a flood wait is waited out, not dropped."""
        for attempt in range(INTERACTIVE_ATTEMPTS):
            try:
                await self.send_reply(core, chat_id, reply, lang, reply_to=reply_to)
                return
            except TelegramRetryAfter as exc:
                if attempt == INTERACTIVE_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(retry_seconds(exc.retry_after))


def create(setup: Setup[TelegramConfig]) -> TelegramAdapter:
    return TelegramAdapter(setup.settings, setup.limits)
