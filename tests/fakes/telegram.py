"""A fake Telegram Bot API server on 127.0.0.1 for the real python-telegram-bot (PTB) to talk to.

    async with FakeTelegram(username="advocacy_test_bot") as tg:
        app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()
        ...  # start polling, then:
        tg.push_message("/start")
        [reply] = await tg.wait_for("sendMessage")

The fake answers the way Telegram does, errors included, so a misbehaving bot fails loudly:
invalid HTML, over-long texts, oversized callback data, unanswered or twice-answered callback
queries, replies to unknown messages, edits that change nothing, sends to chats that blocked or
removed the bot, and flood-limit breaches (see ``FloodLimits``). Every request is recorded in
``calls``; failures and slow answers can be scripted with ``fail`` and ``delay``.

Updates are plain Bot API JSON (``dict``), built by ``push_*`` and by the helpers ``make_user``,
``private_chat``, ``group_chat`` and ``supergroup_chat``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

JSONDict = dict[str, Any]

DEFAULT_TOKEN = "123456789:AAFakeTelegramTokenForTests_0123456789"

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
CALLBACK_DATA_BYTES = range(1, 65)

# Parameters that PTB sends as plain strings: everything else arrives JSON-encoded (numbers,
# booleans, reply_markup, commands, scope, ...). A string parameter missing here would be
# JSON-decoded by mistake (text "42" would become the number 42), so list each one the fake reads.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "url",
        "secret_token",
        "language_code",
        "action",
        "photo",
        "document",
        "ip_address",
    }
)
_SENDING_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "editMessageText"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
# Without allowed_updates Telegram sends every update type except these.
_NOT_SENT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_LEADING_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION = re.compile(r"(?<![A-Za-z0-9_@])@[A-Za-z0-9_]{5,32}(?![A-Za-z0-9_])")
_FORBIDDEN = {
    ("private", "kicked"): "Forbidden: bot was blocked by the user",
    ("group", "kicked"): "Forbidden: bot was kicked from the group chat",
    ("supergroup", "kicked"): "Forbidden: bot was kicked from the supergroup chat",
    ("group", "left"): "Forbidden: bot is not a member of the group chat",
    ("supergroup", "left"): "Forbidden: bot is not a member of the supergroup chat",
}
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
_ADMIN_RIGHTS = dict.fromkeys(
    (
        "can_be_edited",
        "is_anonymous",
        "can_delete_messages",
        "can_manage_video_chats",
        "can_restrict_members",
        "can_promote_members",
        "can_change_info",
        "can_invite_users",
        "can_post_stories",
        "can_edit_stories",
        "can_delete_stories",
    ),
    False,
)
_RESTRICTIONS = dict.fromkeys(
    (
        "can_change_info",
        "can_invite_users",
        "can_pin_messages",
        "can_send_messages",
        "can_send_polls",
        "can_send_other_messages",
        "can_add_web_page_previews",
        "can_manage_topics",
        "can_send_audios",
        "can_send_documents",
        "can_send_photos",
        "can_send_videos",
        "can_send_video_notes",
        "can_send_voice_notes",
        "can_edit_tag",
        "can_react_to_messages",
    ),
    False,
)
# The fields PTB requires for each ChatMember status, beyond "status" and "user".
_MEMBER_FIELDS: dict[str, JSONDict] = {
    "creator": {"is_anonymous": False},
    "administrator": {**_ADMIN_RIGHTS, "can_manage_chat": True},
    "member": {},
    "restricted": {**_RESTRICTIONS, "is_member": True, "until_date": 0},
    "left": {},
    "kicked": {"until_date": 0},
}


# --- Users and chats -------------------------------------------------------------------------


def make_user(
    user_id: int = 1001,
    first_name: str = "Alice",
    *,
    username: str | None = None,
    language_code: str | None = "en",
) -> JSONDict:
    """A human Telegram user; ``language_code`` is what the client app reports (None: not sent)."""
    user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
    if username is not None:
        user["username"] = username
    if language_code is not None:
        user["language_code"] = language_code
    return user


def private_chat(user: JSONDict) -> JSONDict:
    """The private chat between the bot and ``user``: its id is the user's id."""
    chat: JSONDict = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    if "username" in user:
        chat["username"] = user["username"]
    return chat


def group_chat(chat_id: int = -4001, title: str = "Test group") -> JSONDict:
    """A basic group: a negative id above -10**12."""
    if not -(10**12) < chat_id < 0:
        raise ValueError(f"a basic group id is negative and above -10**12, not {chat_id}")
    return {"id": chat_id, "type": "group", "title": title}


def supergroup_chat(
    chat_id: int = -1001234567890, title: str = "Test supergroup", *, username: str | None = None
) -> JSONDict:
    """A supergroup (or a group after migration): an id of the form -100xxxxxxxxxx."""
    if chat_id > -(10**12):
        raise ValueError(f"a supergroup id is -100 followed by digits (at most -10**12), not {chat_id}")
    chat: JSONDict = {"id": chat_id, "type": "supergroup", "title": title}
    if username is not None:
        chat["username"] = username
    return chat


def _chat_member(user: JSONDict, status: str) -> JSONDict:
    if status not in _MEMBER_FIELDS:
        raise ValueError(f"unknown chat member status {status!r}; one of {sorted(_MEMBER_FIELDS)}")
    return {"status": status, "user": user, **_MEMBER_FIELDS[status]}


# --- Records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedFile:
    """A file the bot uploaded in a multipart request."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Call:
    """One request the bot made, recorded once the fake has answered it.

    ``params`` holds the decoded parameters (numbers, booleans, dicts and lists as the bot meant
    them; uploads as ``UploadedFile``). ``time`` is ``time.monotonic()`` at arrival. ``status`` is
    the HTTP status of the answer, 499 if the bot hung up first (e.g. a long poll cut by stop()).
    """

    method: str
    params: JSONDict
    time: float
    status: int


@dataclass(frozen=True)
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` sends within any ``seconds``-long window."""

    count: int
    seconds: float


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's flood limits, as the fake enforces them (None switches one off).

    Telegram documents about 1 message/s per chat with short bursts tolerated; the fake accepts
    bursts of 3 within any second, so an answer split into 3 parts passes and a loop does not.
    Only sends that succeed count: sendMessage, sendPhoto, sendDocument and editMessageText; a
    send over a limit gets 429 before any other check (Telegram does not document the order).
    ``per_group`` applies to negative chat ids. With ``reject=False`` a breach is recorded in
    ``FakeTelegram.flood_violations`` but the message is delivered anyway.
    """

    per_chat: RateLimit | None = RateLimit(3, 1.0)
    overall: RateLimit | None = RateLimit(30, 1.0)
    per_group: RateLimit | None = RateLimit(20, 60.0)
    reject: bool = True


DEFAULT_FLOOD_LIMITS = FloodLimits()


@dataclass(frozen=True)
class FloodViolation:
    method: str
    chat_id: int | str
    limit: str  # "per_chat", "overall" or "per_group"
    retry_after: int
    time: float


# --- Errors ----------------------------------------------------------------------------------


class _ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = int(status)
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(detail: str) -> _ApiError:
    return _ApiError(HTTPStatus.BAD_REQUEST, f"Bad Request: {detail}")


# --- Text ------------------------------------------------------------------------------------


def _utf16_len(text: str) -> int:
    """Length as Telegram counts it: entity offsets, lengths and text limits are in UTF-16 units."""
    return len(text.encode("utf-16-le")) // 2


_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_REFERENCES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_REFERENCE = re.compile(r"&(?:(?P<named>lt|gt|amp|quot)|#(?P<dec>[0-9]{1,7})|#[xX](?P<hex>[0-9a-fA-F]{1,6}));")
_TAG_NAME = re.compile(r"[^\s>]*")
_TAG_REST = re.compile(r"""(?P<attrs>(?:\s+[^\s=>]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*)\s*>""")
_ATTRIBUTE = re.compile(r"""([^\s=>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_END_TAG = re.compile(r"</(?P<name>[^\s>]*)\s*>")


@dataclass
class _OpenTag:
    name: str
    offset: int
    attributes: dict[str, str]
    language: str | None = None


class _HtmlParser:
    """Telegram's HTML parse mode (the messages of its "can't parse entities" errors included).

    Stricter than Telegram in one way, on purpose: Telegram keeps a stray "&" or ">" as text, but
    both mean the bot forgot to escape something, which breaks as soon as a "<" comes along.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.text: list[str] = []
        self.length = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[JSONDict] = []

    def parse(self) -> tuple[str, list[JSONDict]]:
        pos = 0
        while pos < len(self.source):
            char = self.source[pos]
            if char == "<":
                pos = self._end_tag(pos) if self.source.startswith("</", pos) else self._start_tag(pos)
            elif char == "&":
                decoded, pos = self._reference(self.source, pos, pos)
                self._append(decoded)
            elif char == ">":
                raise self._error(f'unescaped ">" at byte offset {self._byte(pos)}: write &gt;')
            else:
                self._append(char)
                pos += 1
        if self.stack:
            raise self._error(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"')
        self.entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
        return "".join(self.text), self.entities

    def _append(self, char: str) -> None:
        self.text.append(char)
        self.length += 2 if ord(char) > 0xFFFF else 1

    def _start_tag(self, pos: int) -> int:
        name_match = _TAG_NAME.match(self.source, pos + 1)
        assert name_match is not None  # the pattern matches the empty string
        name = name_match[0].lower()
        if name not in _TAG_ENTITY:
            raise self._error(f'Unsupported start tag "{name}" at byte offset {self._byte(pos)}')
        rest = _TAG_REST.match(self.source, name_match.end())
        if rest is None:
            raise self._error(f"Unclosed start tag at byte offset {self._byte(pos)}")
        attributes = {
            attribute[1].lower(): self._unescape(next((v for v in attribute.group(2, 3, 4) if v is not None), ""), pos)
            for attribute in _ATTRIBUTE.finditer(rest["attrs"])
        }
        if name == "span" and attributes.get("class") != "tg-spoiler":
            raise self._error(f'Tag "span" must have class "tg-spoiler" at byte offset {self._byte(pos)}')
        self.stack.append(_OpenTag(name, self.length, attributes))
        return rest.end()

    def _end_tag(self, pos: int) -> int:
        if not self.stack:
            raise self._error(f"Unexpected end tag at byte offset {self._byte(pos)}")
        match = _END_TAG.match(self.source, pos)
        if match is None:
            raise self._error(f"Unclosed end tag at byte offset {self._byte(pos)}")
        tag = self.stack.pop()
        name = match["name"].lower()
        if name and name != tag.name:
            raise self._error(
                f'Unmatched end tag at byte offset {self._byte(pos)}, expected "</{tag.name}>", found "</{name}>"'
            )
        self._emit(tag)
        return match.end()

    def _emit(self, tag: _OpenTag) -> None:
        css_class = tag.attributes.get("class", "")
        if tag.name == "code" and css_class.startswith("language-") and self.stack and self.stack[-1].name == "pre":
            # <pre><code class="language-x"> is one pre entity with a language, not two entities.
            self.stack[-1].language = css_class.removeprefix("language-")
            return
        length = self.length - tag.offset
        if length == 0 or (tag.name == "a" and "href" not in tag.attributes):
            return
        entity: JSONDict = {"type": _TAG_ENTITY[tag.name], "offset": tag.offset, "length": length}
        if tag.name == "a":
            entity["url"] = tag.attributes["href"]
        elif tag.name == "pre" and tag.language:
            entity["language"] = tag.language
        elif tag.name == "blockquote" and "expandable" in tag.attributes:
            entity["type"] = "expandable_blockquote"
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.attributes.get("emoji-id", "")
        self.entities.append(entity)

    def _reference(self, text: str, pos: int, error_pos: int) -> tuple[str, int]:
        """The character that the reference at ``text[pos]`` stands for, and the position after it."""
        match = _REFERENCE.match(text, pos)
        if match is not None:
            if match["named"]:
                return _NAMED_REFERENCES[match["named"]], match.end()
            code_point = int(match["dec"]) if match["dec"] else int(match["hex"], 16)
            if 0 < code_point <= 0x10FFFF and not 0xD800 <= code_point <= 0xDFFF:
                return chr(code_point), match.end()
        raise self._error(
            f'unescaped "&" at byte offset {self._byte(error_pos)}: write &amp; '
            "(only &lt; &gt; &amp; &quot; and numeric references are understood)"
        )

    def _unescape(self, value: str, tag_pos: int) -> str:
        parts: list[str] = []
        pos = 0
        while (amp := value.find("&", pos)) >= 0:
            char, end = self._reference(value, amp, tag_pos)
            parts += [value[pos:amp], char]
            pos = end
        return "".join(parts) + value[pos:]

    def _byte(self, pos: int) -> int:
        return len(self.source[:pos].encode())

    @staticmethod
    def _error(detail: str) -> _ApiError:
        return _bad_request(f"can't parse entities: {detail}")


def _formatted(params: JSONDict, text_key: str, entities_key: str) -> tuple[str, list[JSONDict]]:
    """The text as Telegram stores it, and its entities, after the parse mode is applied."""
    text = str(params.get(text_key, ""))
    parse_mode = str(params.get("parse_mode") or "").lower()
    if parse_mode == "html":
        return _HtmlParser(text).parse()
    if parse_mode in ("markdown", "markdownv2"):
        # The fake does not parse Markdown: the text is kept with its markup and no entities.
        return text, []
    if parse_mode:
        raise _bad_request("unsupported parse_mode")
    return text, list(params.get(entities_key) or [])


def _detected_entities(text: str) -> list[JSONDict]:
    """The entities Telegram adds to a user's text: a leading bot command, and @username mentions."""
    entities: list[JSONDict] = []
    command = _LEADING_COMMAND.match(text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": _utf16_len(command[0])})
    for mention in _MENTION.finditer(text):
        entities.append(
            {"type": "mention", "offset": _utf16_len(text[: mention.start()]), "length": _utf16_len(mention[0])}
        )
    return entities


def _inline_keyboard(params: JSONDict) -> JSONDict | None:
    """The reply_markup if it is an inline keyboard (the only kind a Message shows), validated."""
    markup = params.get("reply_markup")
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    for row in markup["inline_keyboard"]:
        for button in row:
            if not _BUTTON_ACTIONS & button.keys():
                raise _bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and len(str(data).encode()) not in CALLBACK_DATA_BYTES:
                raise _bad_request("BUTTON_DATA_INVALID")
    return markup


def _content(text_key: str, text: str, entities_key: str, entities: list[JSONDict]) -> JSONDict:
    content: JSONDict = {text_key: text}
    if entities:
        content[entities_key] = entities
    return content


def _without_reply(message: JSONDict) -> JSONDict:
    """A message as it appears nested in another (Telegram nests replies one level deep)."""
    return {key: value for key, value in message.items() if key != "reply_to_message"}


def _decode_param(name: str, value: str | bytes | bytearray | web.FileField) -> Any:
    if isinstance(value, web.FileField):
        return UploadedFile(value.filename, value.content_type, value.file.read())
    text = value if isinstance(value, str) else value.decode()
    if name in _STRING_PARAMS:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text  # e.g. chat_id="@channelusername"


async def _read_params(request: web.Request) -> JSONDict:
    if request.content_type == "application/json":
        body = await request.json()
        return body if isinstance(body, dict) else {}
    form = await request.post()
    return {name: _decode_param(name, value) for name, value in form.items()}


# --- Flood limits ----------------------------------------------------------------------------


def _wait_time(sends: deque[float], limit: RateLimit, now: float) -> float | None:
    """Seconds until one more send fits under ``limit``, or None if it fits now."""
    recent = [sent for sent in sends if sent > now - limit.seconds]
    if len(recent) < limit.count:
        return None
    return recent[-limit.count] + limit.seconds - now


class _FloodTracker:
    def __init__(self, limits: FloodLimits) -> None:
        self.limits = limits
        self._overall: deque[float] = deque()
        self._per_chat: defaultdict[int | str, deque[float]] = defaultdict(deque)
        self._horizon = max(
            (limit.seconds for limit in (limits.per_chat, limits.overall, limits.per_group) if limit), default=0.0
        )

    def violation(self, method: str, chat_id: int | str, now: float) -> FloodViolation | None:
        checks: list[tuple[str, RateLimit | None, deque[float]]] = [
            ("per_chat", self.limits.per_chat, self._per_chat[chat_id]),
            ("overall", self.limits.overall, self._overall),
        ]
        if isinstance(chat_id, int) and chat_id < 0:
            checks.append(("per_group", self.limits.per_group, self._per_chat[chat_id]))
        for name, limit, sends in checks:
            wait = _wait_time(sends, limit, now) if limit else None
            if wait is not None:
                return FloodViolation(method, chat_id, name, max(1, math.ceil(wait)), now)
        return None

    def record(self, chat_id: int | str, now: float) -> None:
        for sends in (self._overall, self._per_chat[chat_id]):
            sends.append(now)
            while sends and sends[0] <= now - self._horizon:
                sends.popleft()


# --- The server ------------------------------------------------------------------------------


class _Signal:
    """Wakes everyone waiting at the moment it fires (an Event would stay set)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self) -> None:
        await self._event.wait()


@dataclass
class _Rule:
    """A scripted delay or failure for the next ``times`` calls of ``method`` (to ``chat_id``)."""

    method: str
    chat_id: int | str | None
    times: int
    delay: float = 0.0
    error: _ApiError | None = None


def _take(rules: list[_Rule], method: str, params: JSONDict) -> _Rule | None:
    for rule in rules:
        if rule.method == method and rule.chat_id in (None, params.get("chat_id")):
            rule.times -= 1
            if rule.times == 0:
                rules.remove(rule)
            return rule
    return None


Handler = Callable[[JSONDict], Awaitable[Any]]


class FakeTelegram:
    """The Bot API on 127.0.0.1, for one bot. Use it as an async context manager.

    Besides the methods, tests read: ``calls`` (every request, in the order they were answered),
    ``flood_violations``, ``files`` (uploads, by the file_id the fake gave them), ``webhook`` (what
    setWebhook registered, None after deleteWebhook), ``bot_user`` (the bot as a User), ``token``,
    ``username``, ``bot_id`` and ``base_url``.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        username: str = "advocacy_test_bot",
        first_name: str = "Advocacy Test Bot",
        flood_limits: FloodLimits | None = DEFAULT_FLOOD_LIMITS,
    ) -> None:
        self.token = token
        self.username = username
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: JSONDict = {"id": self.bot_id, "is_bot": True, "first_name": first_name, "username": username}
        self.calls: list[Call] = []
        self.flood_violations: list[FloodViolation] = []
        self.files: dict[str, UploadedFile] = {}
        self.webhook: Webhook | None = None
        self._file_count = 0
        self._flood = _FloodTracker(flood_limits) if flood_limits else None
        self._updates: list[JSONDict] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._updates_signal = _Signal()
        self._calls_signal = _Signal()
        self._chats: dict[int | str, JSONDict] = {}
        self._users: dict[int, JSONDict] = {}
        self._bot_status: dict[int | str, str] = {}
        self._messages: dict[tuple[int | str, int], JSONDict] = {}
        self._last_message_id: defaultdict[int | str, int] = defaultdict(int)
        self._sent: list[tuple[int | str, int]] = []
        self._pending_callbacks: dict[str, JSONDict] = {}
        self._next_callback_id = 1
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._menu_buttons: dict[int | str | None, JSONDict] = {}
        self._failures: list[_Rule] = []
        self._delays: list[_Rule] = []
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "getChat": self._get_chat,
            "leaveChat": self._leave_chat,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
        }

    # -- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=50 * 1024 * 1024)  # Telegram's upload limit for bots
        app.router.add_post("/bot{token}/{method}", self._serve)
        # handler_cancellation: a long poll whose client hung up (PTB's stop()) ends at once.
        # shutdown_timeout: on exit, answers still held by delay() are cut short.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closing = True
        self._updates_signal.fire()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)`` / ``Bot(base_url=...)``: the token is appended."""
        if self._port is None:
            raise RuntimeError("FakeTelegram is not running: use it as `async with FakeTelegram() as tg`")
        return f"http://127.0.0.1:{self._port}/bot"

    # -- what the bot did ---------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def sent_messages(self, chat_id: int | str | None = None) -> list[JSONDict]:
        """The messages the bot sent (to ``chat_id``), oldest first, as they are now: edits
        applied, deleted ones left out. Plain text in "text"/"caption", formatting in entities."""
        return [
            copy.deepcopy(self._messages[key])
            for key in self._sent
            if key in self._messages and chat_id in (None, key[0])
        ]

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates the bot has not confirmed yet (by a getUpdates with a higher offset)."""
        return list(self._updates)

    @property
    def unanswered_callbacks(self) -> list[JSONDict]:
        """The pushed callback queries the bot has not answered yet."""
        return list(self._pending_callbacks.values())

    def my_commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        """The command menu the bot set for exactly this scope and language."""
        return self._commands.get(self._commands_key(scope, language_code), [])

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the calls to arrive, not for one operation
    ) -> list[Call]:
        """The first ``count`` recorded calls of ``method`` (matching ``predicate``), counted from
        the start, as soon as there are that many; AssertionError listing every call after ``timeout``."""
        found = self._matching(method, predicate)
        try:
            async with asyncio.timeout(timeout):
                while len(found) < count:
                    await self._calls_signal.wait()
                    found = self._matching(method, predicate)
        except TimeoutError:
            seen = "\n".join(f"  {c.method} {c.params} -> {c.status}" for c in self.calls) or "  (none)"
            wanted = f"{count} {method} call(s)" + (" matching the predicate" if predicate else "")
            raise AssertionError(f"waited {timeout}s for {wanted}, got {len(found)}; calls so far:\n{seen}") from None
        return found[:count]

    def _matching(self, method: str, predicate: Callable[[Call], bool] | None) -> list[Call]:
        return [call for call in self.calls_to(method) if predicate is None or predicate(call)]

    # -- scripting ----------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        status: int,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        chat_id: int | str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (to ``chat_id`` only, if given) with this error.
        ``description`` defaults to Telegram's wording for a flood wait, else the HTTP reason phrase."""
        parameters: JSONDict = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        if description is None:
            description = f"Too Many Requests: retry after {retry_after}" if retry_after else HTTPStatus(status).phrase
        self._failures.append(_Rule(method, chat_id, times, error=_ApiError(status, description, parameters)))

    def delay(self, method: str, seconds: float, *, chat_id: int | str | None = None, times: int = 1) -> None:
        """Hold the answer to the next ``times`` calls of ``method`` for ``seconds``. The call takes
        effect at once, only the answer is late: a bot that times out and retries sends twice, as
        it can with Telegram."""
        self._delays.append(_Rule(method, chat_id, times, delay=seconds))

    # -- what the users do --------------------------------------------------------------------

    def add_chat(self, *chats: JSONDict) -> None:
        """Make chats known without an update (chats in pushed updates are known already); the bot
        gets "chat not found" for any other chat id, as from Telegram."""
        for chat in chats:
            self._chats[chat["id"]] = chat

    def push_update(self, payload: JSONDict) -> JSONDict:
        """Queue an update of any type, e.g. ``{"chat_join_request": {...}}``; returns it with its
        update_id. Give every field PTB requires: PTB re-fetches an update it cannot parse, in a
        tight loop and without ever confirming it, and its stop() then fails too."""
        update = {"update_id": self._next_update_id, **copy.deepcopy(payload)}
        self._next_update_id += 1
        self._updates.append(update)
        self._updates_signal.fire()
        return update

    def push_message(
        self,
        text: str,
        *,
        user: JSONDict | None = None,
        chat: JSONDict | None = None,
        reply_to: JSONDict | None = None,
    ) -> JSONDict:
        """A user writes ``text`` (default: Alice, in her private chat with the bot). A leading
        /command gets a bot_command entity and each @username a mention, with UTF-16 offsets."""
        return self.push_update({"message": self.written(text, user=user, chat=chat, reply_to=reply_to)})

    def written(
        self,
        text: str,
        *,
        user: JSONDict | None = None,
        chat: JSONDict | None = None,
        reply_to: JSONDict | None = None,
    ) -> JSONDict:
        """The message of :meth:`push_message`, known to the server (the bot can reply to it) but not
        queued: for webhook tests, which post its update themselves."""
        user = user or make_user()
        chat = chat or private_chat(user)
        self._users[user["id"]] = user
        self.add_chat(chat)
        message = self._new_message(chat, user, _content("text", text, "entities", _detected_entities(text)))
        if reply_to is not None:
            target = self._messages.get((reply_to["chat"]["id"], reply_to["message_id"]), reply_to)
            message["reply_to_message"] = _without_reply(target)
        return message

    def push_edited_message(self, message: JSONDict, text: str) -> JSONDict:
        """The user edits one of their pushed messages."""
        stored = self._messages[(message["chat"]["id"], message["message_id"])]
        stored.pop("entities", None)
        stored.update(_content("text", text, "entities", _detected_entities(text)), edit_date=int(time.time()))
        return self.push_update({"edited_message": stored})

    def push_callback(
        self, data: str, *, message: JSONDict, user: JSONDict | None = None, forged: bool = False
    ) -> JSONDict:
        """A user presses the button with ``data`` on ``message`` (one the bot sent, as returned by
        ``sent_messages``). The button must be on the message now, as Telegram's client requires;
        ``forged``: a modified client sends ``data`` of its own making on that message."""
        stored = self._messages.get((message["chat"]["id"], message["message_id"]))
        if stored is None or stored["from"]["id"] != self.bot_id:
            raise ValueError(f"no message the bot sent (and did not delete) with id {message['message_id']}")
        buttons = [
            b.get("callback_data") for row in stored.get("reply_markup", {}).get("inline_keyboard", []) for b in row
        ]
        if data not in buttons and not forged:
            raise ValueError(f"no button with callback_data {data!r} on that message; its buttons: {buttons}")
        chat = stored["chat"]
        query_id = str(self._next_callback_id)
        self._next_callback_id += 1
        query = {
            "id": query_id,
            "from": user or self._users.get(chat["id"]) or make_user(),
            "chat_instance": f"instance{chat['id']}",
            "data": data,
            "message": stored,
        }
        update = self.push_update({"callback_query": query})
        self._pending_callbacks[query_id] = update["callback_query"]
        return update

    def push_my_chat_member(self, chat: JSONDict, user: JSONDict, old_status: str, new_status: str) -> JSONDict:
        """``user`` changes the bot's status in ``chat``: "kicked" in a private chat means the user
        blocked the bot; "left"/"kicked" in a group means it was removed. Sends there then get 403."""
        self.add_chat(chat)
        self._bot_status[chat["id"]] = new_status
        return self.push_update(
            {
                "my_chat_member": {
                    "chat": chat,
                    "from": user,
                    "date": int(time.time()),
                    "old_chat_member": _chat_member(self.bot_user, old_status),
                    "new_chat_member": _chat_member(self.bot_user, new_status),
                }
            }
        )

    async def post_webhook(self, url: str, update: JSONDict, *, secret_token: str | None = None) -> int:
        """POST ``update`` to the bot's webhook server as Telegram does; returns the HTTP status.
        ``secret_token`` defaults to the one the bot registered with setWebhook."""
        if secret_token is None and self.webhook is not None:
            secret_token = self.webhook.secret_token
        headers = {"Content-Type": "application/json"}  # PTB rejects any other value, "; charset=..." included
        if secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        async with aiohttp.ClientSession() as session, session.post(url, data=json.dumps(update), headers=headers) as r:
            return r.status

    # -- HTTP ---------------------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        method = request.match_info["method"]
        params = await _read_params(request)
        status = 499
        try:
            response = await self._respond(request.match_info["token"], method, params)
            if delay := _take(self._delays, method, params):
                await asyncio.sleep(delay.delay)
            status = response.status
            return response
        finally:
            self.calls.append(Call(method, params, arrived, status))
            self._calls_signal.fire()

    async def _respond(self, token: str, method: str, params: JSONDict) -> web.Response:
        try:
            result = await self._dispatch(token, method, params)
        except _ApiError as error:
            return web.json_response(error.body(), status=error.status)
        return web.json_response({"ok": True, "result": result})

    async def _dispatch(self, token: str, method: str, params: JSONDict) -> Any:
        if token != self.token:
            raise _ApiError(HTTPStatus.UNAUTHORIZED, "Unauthorized")
        handler = self._handlers.get(method)
        if handler is None:
            raise _ApiError(HTTPStatus.NOT_FOUND, "Not Found")
        if (failure := _take(self._failures, method, params)) and failure.error:
            raise failure.error
        flood = self._flood if method in _SENDING_METHODS else None
        if flood is not None:
            self._check_flood(flood, method, params.get("chat_id", ""))
        result = await handler(params)
        if flood is not None:
            flood.record(params["chat_id"], time.monotonic())
        return result

    def _check_flood(self, flood: _FloodTracker, method: str, chat_id: int | str) -> None:
        violation = flood.violation(method, chat_id, time.monotonic())
        if violation is None:
            return
        self.flood_violations.append(violation)
        if flood.limits.reject:
            raise _ApiError(
                HTTPStatus.TOO_MANY_REQUESTS,
                f"Too Many Requests: retry after {violation.retry_after}",
                {"retry_after": violation.retry_after},
            )

    # -- chats and messages -------------------------------------------------------------------

    def _chat(self, params: JSONDict) -> JSONDict:
        chat_id = params.get("chat_id")
        if chat_id is None:
            raise _bad_request("chat_id is empty")
        chat = self._chats.get(chat_id)
        if chat is None:
            raise _bad_request("chat not found")
        return chat

    def _writable_chat(self, params: JSONDict) -> JSONDict:
        chat = self._chat(params)
        refusal = _FORBIDDEN.get((chat["type"], self._bot_status.get(chat["id"], "member")))
        if refusal:
            raise _ApiError(HTTPStatus.FORBIDDEN, refusal)
        return chat

    def _new_message(self, chat: JSONDict, sender: JSONDict, content: JSONDict) -> JSONDict:
        self._last_message_id[chat["id"]] += 1
        message_id = self._last_message_id[chat["id"]]
        message = {"message_id": message_id, "from": sender, "chat": chat, "date": int(time.time()), **content}
        self._messages[(chat["id"], message_id)] = message
        return message

    def _send(self, params: JSONDict, content: JSONDict) -> JSONDict:
        chat = self._writable_chat(params)
        reply_to = self._reply_target(chat, params)
        keyboard = _inline_keyboard(params)
        message = self._new_message(chat, self.bot_user, content)
        if reply_to is not None:
            message["reply_to_message"] = _without_reply(reply_to)
        if keyboard is not None:
            message["reply_markup"] = keyboard
        self._sent.append((chat["id"], message["message_id"]))
        return message

    def _reply_target(self, chat: JSONDict, params: JSONDict) -> JSONDict | None:
        reply = params.get("reply_parameters")
        if not reply:
            return None
        target = self._messages.get((reply.get("chat_id", chat["id"]), reply["message_id"]))
        if target is None and not reply.get("allow_sending_without_reply"):
            raise _bad_request("message to be replied not found")
        return target

    def _stored_message(self, params: JSONDict, action: str) -> JSONDict:
        chat = self._writable_chat(params)
        message = self._messages.get((chat["id"], params.get("message_id", 0)))
        if message is None:
            raise _bad_request(f"message to {action} not found")
        if action == "edit" and message["from"]["id"] != self.bot_id:
            raise _bad_request("message can't be edited")
        return message

    def _edit(self, message: JSONDict, replaced: tuple[str, ...], content: JSONDict) -> JSONDict:
        if all(message.get(key) == content.get(key) for key in replaced):
            raise _bad_request(_NOT_MODIFIED)
        for key in replaced:
            message.pop(key, None)
        message.update(content, edit_date=int(time.time()))
        return message

    @staticmethod
    def _message_text(params: JSONDict) -> JSONDict:
        text, entities = _formatted(params, "text", "entities")
        if not text.strip():
            raise _bad_request("message text is empty")
        if _utf16_len(text) > MAX_TEXT_LENGTH:
            raise _bad_request("message is too long")
        return _content("text", text, "entities", entities)

    @staticmethod
    def _caption(params: JSONDict) -> JSONDict:
        if "caption" not in params:
            return {}
        caption, entities = _formatted(params, "caption", "caption_entities")
        if _utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise _bad_request("message caption is too long")
        return _content("caption", caption, "caption_entities", entities)

    def _file(self, params: JSONDict, kind: str) -> tuple[str, UploadedFile | None]:
        """The file_id for the file in ``params[kind]``: an upload, a known file_id or a URL."""
        value = params.get(kind)
        if isinstance(value, str) and value in self.files:
            return value, self.files[value]
        self._file_count += 1
        file_id = f"{kind}-{self._file_count}"
        if isinstance(value, UploadedFile):
            self.files[file_id] = value
            return file_id, value
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return file_id, None
        raise _bad_request("wrong file identifier/HTTP URL specified")

    @staticmethod
    def _commands_key(scope: JSONDict | None, language_code: str) -> tuple[str, str]:
        return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code

    # -- methods ------------------------------------------------------------------------------

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook is not None:
            raise _ApiError(
                HTTPStatus.CONFLICT,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        self._updates = [update for update in self._updates if update["update_id"] >= offset]
        if "allowed_updates" in params:
            self._allowed_updates = params["allowed_updates"] or None
        limit = int(params.get("limit") or 100)
        # A newer getUpdates ends the one being held, as on Telegram: two pollers get a Conflict.
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_signal.fire()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(params.get("timeout") or 0)
        while True:
            if generation != self._poll_generation:
                raise _ApiError(
                    HTTPStatus.CONFLICT,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            batch = [update for update in self._updates if self._is_allowed(update)][:limit]
            if batch or self._closing or loop.time() >= deadline:
                return batch
            try:
                async with asyncio.timeout_at(deadline):
                    await self._updates_signal.wait()
            except TimeoutError:
                pass

    def _is_allowed(self, update: JSONDict) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self._allowed_updates is None:
            return kind not in _NOT_SENT_BY_DEFAULT
        return kind in self._allowed_updates

    async def _set_webhook(self, params: JSONDict) -> bool:
        url = params.get("url") or ""
        if not url:
            return await self._delete_webhook(params)
        if not url.startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise _bad_request("secret token contains unallowed characters")
        if "allowed_updates" in params:
            self._allowed_updates = params["allowed_updates"] or None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = Webhook(url, secret, int(params.get("max_connections") or 40))
        return True

    async def _delete_webhook(self, params: JSONDict) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self.webhook = None
        return True

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        info: JSONDict = {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}
        if self.webhook is not None:
            info.update(url=self.webhook.url, max_connections=self.webhook.max_connections)
        if self._allowed_updates is not None:
            info["allowed_updates"] = self._allowed_updates
        return info

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands") or []
        for command in commands:
            if not _COMMAND_NAME.fullmatch(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
        self._commands[self._commands_key(params.get("scope"), params.get("language_code", ""))] = commands
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return self.my_commands(params.get("scope"), params.get("language_code", ""))

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self._commands.pop(self._commands_key(params.get("scope"), params.get("language_code", "")), None)
        return True

    async def _send_message(self, params: JSONDict) -> JSONDict:
        return self._send(params, self._message_text(params))

    async def _edit_message_text(self, params: JSONDict) -> JSONDict:
        message = self._stored_message(params, "edit")
        if "text" not in message:
            raise _bad_request("there is no text in the message to edit")
        content = self._message_text(params)
        keyboard = _inline_keyboard(params)
        if keyboard is not None:
            content["reply_markup"] = keyboard
        # Editing the text without passing the keyboard again removes it, as on Telegram.
        return self._edit(message, ("text", "entities", "reply_markup"), content)

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict:
        message = self._stored_message(params, "edit")
        keyboard = _inline_keyboard(params)
        return self._edit(message, ("reply_markup",), {"reply_markup": keyboard} if keyboard else {})

    async def _delete_message(self, params: JSONDict) -> bool:
        message = self._stored_message(params, "delete")
        del self._messages[(message["chat"]["id"], message["message_id"])]
        return True

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        if self._pending_callbacks.pop(str(params.get("callback_query_id")), None) is None:
            raise _bad_request("query is too old and response timeout expired or query ID is invalid")
        return True

    async def _send_chat_action(self, params: JSONDict) -> bool:
        self._writable_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    async def _send_photo(self, params: JSONDict) -> JSONDict:
        file_id, upload = self._file(params, "photo")
        size = {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 320, "height": 320}
        if upload is not None:
            size["file_size"] = upload.size
        return self._send(params, {"photo": [size], **self._caption(params)})

    async def _send_document(self, params: JSONDict) -> JSONDict:
        file_id, upload = self._file(params, "document")
        document: JSONDict = {"file_id": file_id, "file_unique_id": f"u{file_id}"}
        if upload is not None:
            document.update(file_name=upload.filename, mime_type=upload.content_type, file_size=upload.size)
        return self._send(params, {"document": document, **self._caption(params)})

    async def _get_chat(self, params: JSONDict) -> JSONDict:
        return {
            **self._chat(params),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": dict.fromkeys(
                ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels"),
                False,
            ),
        }

    async def _leave_chat(self, params: JSONDict) -> bool:
        self._bot_status[self._chat(params)["id"]] = "left"
        return True

    async def _set_chat_menu_button(self, params: JSONDict) -> bool:
        self._menu_buttons[params.get("chat_id")] = params.get("menu_button") or {"type": "default"}
        return True

    async def _get_chat_menu_button(self, params: JSONDict) -> JSONDict:
        default = self._menu_buttons.get(None, {"type": "default"})
        return self._menu_buttons.get(params.get("chat_id"), default)
