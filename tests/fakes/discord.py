"""A local fake of Discord's REST API and gateway that the real discord.py talks to on 127.0.0.1.

One aiohttp app serves REST under ``/api/v10`` and the gateway websocket at ``/gateway``. Point
discord.py at it with ``discord.http.Route.BASE = fake.api_base`` and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)``.

The fake keeps just enough state to answer as Discord does (guilds, channels, messages, interactions,
registered commands, one gateway session) and records everything the client does, so tests can assert
on REST calls (``calls``, ``sent_messages``), gateway frames (``client_frames``), pings
(``mentions_that_would_ping``) and rate limits (``rate_limit_violations``). Payloads come from
``fakes.discord_payloads``.
"""

# Waits take a ``timeout`` so a failing test names what it was waiting for and what it saw instead.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from . import discord_payloads as payloads
from .discord_payloads import (
    EPHEMERAL,
    EVERYONE_PERMISSIONS,
    JSON,
    LOADING,
    CallbackType,
    ChannelType,
    GatewayOp,
    InteractionOrigin,
    InteractionType,
    OptionType,
    OptionValue,
)

__all__ = [
    "Call",
    "ClientFrame",
    "FakeDiscord",
    "FakeGuild",
    "InteractionRef",
    "Pings",
    "RateLimitViolation",
    "SentMessage",
    "would_ping",
]

API_PREFIX = "/api/v10"
GATEWAY_PATH = "/gateway"
# READY names a different URL for resuming, as Discord does, so tests can see the client honour it.
RESUME_GATEWAY_PATH = "/resume-gateway"
DISCORD_EPOCH_MS = 1_420_070_400_000
MAX_CONTENT_LENGTH = 2000
MAX_EMBEDS = 10
MAX_MODAL_COMPONENTS = 5
# Interaction tokens accept follow-ups for 15 minutes after the 3 s window for the first response.
INTERACTION_TOKEN_LIFETIME = 15 * 60

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")

T = TypeVar("T")


# --- records tests assert on -----------------------------------------------------------------


@dataclass(frozen=True)
class Pings:
    """Who a message would notify on real Discord (permissions aside: assumes the bot may ping all)."""

    everyone: bool = False
    here: bool = False
    users: frozenset[int] = frozenset()
    roles: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return self.everyone or self.here or bool(self.users) or bool(self.roles)


def would_ping(content: str, allowed_mentions: Mapping[str, Any] | None, replied_user_id: int | None = None) -> Pings:
    """Apply Discord's ``allowed_mentions`` rules to ``content``.

    Without ``allowed_mentions`` every mention in the content pings, and so does a reply's author;
    with it only the kinds in ``parse`` and the ids in ``users``/``roles`` ping, and the replied-to
    author only with ``replied_user: true``. ``@here`` follows the ``everyone`` kind.
    """
    users = {int(found) for found in _USER_MENTION.findall(content)}
    roles = {int(found) for found in _ROLE_MENTION.findall(content)}
    if allowed_mentions is None:
        everyone, ping_reply = True, True
    else:
        parse = set(allowed_mentions.get("parse", ()))
        if "users" not in parse:
            users &= {int(user_id) for user_id in allowed_mentions.get("users", ())}
        if "roles" not in parse:
            roles &= {int(role_id) for role_id in allowed_mentions.get("roles", ())}
        everyone = "everyone" in parse
        ping_reply = bool(allowed_mentions.get("replied_user", False))
    if replied_user_id is not None and ping_reply:
        users.add(replied_user_id)
    return Pings(
        everyone=everyone and "@everyone" in content,
        here=everyone and "@here" in content,
        users=frozenset(users),
        roles=frozenset(roles),
    )


MessageKind = Literal["channel", "interaction_response", "followup", "edit"]


@dataclass(frozen=True)
class SentMessage:
    """A message the bot created or edited, in any of the ways discord.py can do it.

    ``kind`` is ``channel`` (``POST /channels/{id}/messages``), ``interaction_response`` (callback type
    4), ``followup`` (``POST /webhooks/{app}/{token}``) or ``edit`` (any PATCH, and callback type 7);
    ``content``, ``embeds`` and ``components`` are the message's state after the call.
    """

    kind: MessageKind
    channel_id: int
    message_id: int
    content: str
    embeds: list[JSON]
    components: list[JSON]
    flags: int
    allowed_mentions: JSON | None
    interaction_id: int | None = None
    replied_user_id: int | None = None

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)


@dataclass(frozen=True)
class Call:
    """One REST request and the fake's answer. ``path`` is relative to ``/api/v10``."""

    method: str
    path: str
    route: str | None
    query: Mapping[str, str]
    json: Any
    headers: Mapping[str, str]
    status: int
    response: Any
    at: float
    files: tuple[str, ...] = ()
    message: SentMessage | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}"


@dataclass(frozen=True)
class ClientFrame:
    """A gateway frame the client sent, and the gateway path of the connection it came on."""

    op: int
    data: Any
    path: str
    at: float


@dataclass(frozen=True)
class RateLimitViolation:
    method: str
    path: str
    at: float
    requests_in_window: int


@dataclass(frozen=True)
class InteractionRef:
    """An interaction the fake dispatched; its callback goes to ``/interactions/{id}/{token}/callback``."""

    id: int
    token: str


@dataclass(frozen=True)
class FakeGuild:
    id: int
    name: str
    channels: Mapping[str, int]

    @property
    def default_channel_id(self) -> int:
        return next(iter(self.channels.values()))


# --- internals -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reply:
    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    message: SentMessage | None = None

    def to_response(self) -> web.Response:
        if self.body is None:
            return web.Response(status=self.status, headers=self.headers)
        # Exactly "application/json": discord.py reads any other content type (even with a charset) as text.
        return web.Response(
            status=self.status,
            body=json.dumps(self.body).encode(),
            headers={**self.headers, "Content-Type": "application/json"},
        )


class _ApiError(Exception):
    """Raised by a handler to answer with a JSON error instead."""

    def __init__(self, status: int, body: JSON) -> None:
        super().__init__(f"{status} {body}")
        self.reply = _Reply(status, body)


def _coded_error(status: int, code: int) -> _ApiError:
    return _ApiError(status, payloads.error(code, payloads.ERROR_MESSAGES[code]))


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any
    files: tuple[str, ...]

    def id(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError:
            raise _ApiError(404, payloads.http_error(404)) from None

    def object_body(self) -> JSON:
        if not isinstance(self.body, dict):
            raise _ApiError(400, payloads.field_error("_root", "MODEL_TYPE_CONVERT", "Expected an object."))
        return self.body


_Handler = Callable[[_Request], Awaitable[_Reply]]


def _path_regex(pattern: str, *, capture: bool = False) -> re.Pattern[str]:
    """``/channels/{channel_id}/messages`` or ``/channels/*/messages``: placeholders match one segment."""
    regex = ""
    for part in re.split(r"(\{\w+\}|\*)", pattern):
        if part == "*" or (part.startswith("{") and not capture):
            regex += "[^/]+"
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += re.escape(part)
    return re.compile(regex)


@dataclass
class _Route:
    method: str
    template: str
    handler: _Handler
    # Interaction and webhook routes are authorised by their token, and exempt from the global limit.
    bot_auth: bool = True
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.regex = _path_regex(self.template, capture=True)

    def match(self, method: str, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path) if method == self.method else None
        return None if found is None else found.groupdict()

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


@dataclass
class _ScriptedFailure:
    method: str
    pattern: re.Pattern[str]
    status: int
    code: int | None
    message: str | None
    retry_after: float | None
    global_: bool
    remaining: int

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and self.method in (method, "*") and self.pattern.fullmatch(path) is not None

    def reply(self) -> _Reply:
        if self.status == 429:
            return _rate_limit_reply(0.1 if self.retry_after is None else self.retry_after, global_=self.global_)
        if self.code is None:
            body = payloads.http_error(self.status)
            if self.message is not None:
                body["message"] = self.message
        else:
            body = payloads.error(self.code, self.message or payloads.ERROR_MESSAGES.get(self.code, "Error"))
        return _Reply(self.status, body)


def _rate_limit_reply(retry_after: float, *, global_: bool) -> _Reply:
    # discord.py takes a 429 without a Via header, or without a JSON body, for a Cloudflare ban.
    headers = {
        "Via": "1.1 google",
        "Retry-After": str(max(1, round(retry_after))),
        "X-RateLimit-Scope": "global" if global_ else "user",
    }
    if global_:
        headers["X-RateLimit-Global"] = "true"
    else:
        headers |= {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": "fake-discord-bucket",
        }
    return _Reply(429, payloads.rate_limited(retry_after, global_=global_), headers)


class _SlidingWindow:
    """At most ``limit`` requests in any ``window`` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._admitted: deque[float] = deque()

    def admit(self, now: float) -> float | None:
        """Record a request; if it is over the limit, return how long until one would be admitted."""
        while self._admitted and self._admitted[0] <= now - self.window:
            self._admitted.popleft()
        if len(self._admitted) >= self.limit:
            return self._admitted[0] + self.window - now
        self._admitted.append(now)
        return None

    def __len__(self) -> int:
        return len(self._admitted)


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    request: web.Request
    path: str


@dataclass
class _Session:
    id: str
    intents: int
    sequence: int = 0
    # Every dispatch of the session as sent (seq, frame text): RESUME replays from it.
    events: list[tuple[int, str]] = field(default_factory=list)


@dataclass(eq=False)
class _Shard:
    """One shard's gateway session (IDENTIFY with ``shard: [id, count]``) and the connection serving it."""

    id: int
    count: int
    session: _Session
    connection: _Connection | None


@dataclass
class _Interaction:
    ref: InteractionRef
    type: InteractionType
    origin: InteractionOrigin
    created_at: float
    # The message whose component was used (component interactions, and modals opened by one).
    component_message_id: int | None = None
    callback_type: int | None = None
    original_message_id: int | None = None
    followup_ids: set[int] = field(default_factory=set)


_CALLBACKS_ALLOWED: Mapping[InteractionType, frozenset[int]] = {
    InteractionType.APPLICATION_COMMAND: frozenset(
        {CallbackType.CHANNEL_MESSAGE, CallbackType.DEFERRED_CHANNEL_MESSAGE, CallbackType.MODAL}
    ),
    InteractionType.MESSAGE_COMPONENT: frozenset(
        {
            CallbackType.CHANNEL_MESSAGE,
            CallbackType.DEFERRED_CHANNEL_MESSAGE,
            CallbackType.DEFERRED_UPDATE_MESSAGE,
            CallbackType.UPDATE_MESSAGE,
            CallbackType.MODAL,
        }
    ),
    InteractionType.MODAL_SUBMIT: frozenset(
        {
            CallbackType.CHANNEL_MESSAGE,
            CallbackType.DEFERRED_CHANNEL_MESSAGE,
            CallbackType.DEFERRED_UPDATE_MESSAGE,
            CallbackType.UPDATE_MESSAGE,
        }
    ),
}
_UPDATES = frozenset({CallbackType.DEFERRED_UPDATE_MESSAGE, CallbackType.UPDATE_MESSAGE})


class _Snowflakes:
    """Ids with real timestamps, so discord.py's ``snowflake_time`` and message-age logic work."""

    def __init__(self) -> None:
        self._increment = itertools.count()

    def __call__(self) -> int:
        elapsed_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (elapsed_ms << 22) | (next(self._increment) % 4096)


def _validate_message(body: JSON, *, files: tuple[str, ...], creating: bool) -> None:
    content = body.get("content")
    if content is not None and len(str(content)) > MAX_CONTENT_LENGTH:
        raise _ApiError(
            400,
            payloads.field_error(
                "content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT_LENGTH} or fewer in length."
            ),
        )
    embeds = body.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        raise _ApiError(
            400, payloads.field_error("embeds", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length.")
        )
    allowed = body.get("allowed_mentions") or {}
    for kind in ("users", "roles"):
        if kind in allowed.get("parse", ()) and allowed.get(kind):
            raise _ApiError(
                400,
                payloads.field_error(
                    f"allowed_mentions.{kind}",
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                ),
            )
    substance = ("content", "embeds", "components", "sticker_ids", "poll")
    if creating and not files and not any(body.get(key) for key in substance):
        raise _coded_error(400, 50006)


def _sent_message(
    kind: MessageKind, message: JSON, body: JSON, interaction: _Interaction | None, replied_user_id: int | None = None
) -> SentMessage:
    return SentMessage(
        kind=kind,
        channel_id=int(message["channel_id"]),
        message_id=int(message["id"]),
        content=message["content"],
        embeds=message["embeds"],
        components=message["components"],
        flags=message["flags"],
        allowed_mentions=body.get("allowed_mentions"),
        interaction_id=None if interaction is None else interaction.ref.id,
        replied_user_id=replied_user_id,
    )


def _walk_components(components: Sequence[JSON]) -> Iterator[JSON]:
    for component in components:
        yield component
        yield from _walk_components(component.get("components") or [])
        if "component" in component:
            yield from _walk_components([component["component"]])


def _has_custom_id(message: JSON, custom_id: str) -> bool:
    return any(component.get("custom_id") == custom_id for component in _walk_components(message["components"]))


def _infer_option_type(value: OptionValue) -> OptionType:
    if isinstance(value, bool):
        return OptionType.BOOLEAN
    if isinstance(value, int):
        return OptionType.INTEGER
    if isinstance(value, float):
        return OptionType.NUMBER
    return OptionType.STRING


# --- the fake --------------------------------------------------------------------------------


class FakeDiscord:
    """Discord's REST API and gateway on 127.0.0.1, for one bot and one client at a time.

    Use as ``async with FakeDiscord(...) as fake``; register guilds with ``add_guild`` before the client
    connects (they appear in READY), then drive the client with ``message_create``, ``slash_command``,
    ``button_click``, ``modal_submit``, ``guild_create``, ``guild_delete`` or ``dispatch``.
    """

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        application_id: int | None = None,
        bot_user_id: int | None = None,
        bot_username: str = "advocacy-bot",
        heartbeat_interval_ms: int = 41_250,
        global_rate_limit: int = 50,
        rate_limit_window: float = 1.0,
        interaction_deadline: float = 3.0,
        privileged_intents: int = 0,
        echo_own_messages: bool = True,
    ) -> None:
        """``privileged_intents`` are those switched on in the developer portal (none by default: asking
        for one closes the gateway with 4014). ``echo_own_messages`` dispatches MESSAGE_CREATE/UPDATE for
        the bot's own non-ephemeral messages, as Discord does."""
        self._ids = _Snowflakes()
        self.token = token
        self.application_id = application_id or self._ids()
        self.bot_user_id = bot_user_id or self._ids()
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.interaction_deadline = interaction_deadline
        self.privileged_intents = privileged_intents
        self.echo_own_messages = echo_own_messages

        self.calls: list[Call] = []
        self.client_frames: list[ClientFrame] = []
        self.rate_limit_violations: list[RateLimitViolation] = []

        self._bot_user = payloads.user(self.bot_user_id, bot_username, bot=True)
        self._bot_username = bot_username
        self._users: dict[int, JSON] = {self.bot_user_id: self._bot_user}
        self.default_user_id = self.add_user("tester")
        self._guilds: dict[int, JSON] = {}
        self._channels: dict[int, JSON] = {}
        self._dm_channels: dict[int, int] = {}
        self._dms_closed: set[int] = set()
        self._messages: dict[int, JSON] = {}
        self._commands: dict[int | None, list[JSON]] = {}
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self._interactions: dict[int, _Interaction] = {}
        self._modals: dict[str, tuple[JSON, _Interaction]] = {}
        self._failures: list[_ScriptedFailure] = []
        self._global_limit = _SlidingWindow(global_rate_limit, rate_limit_window)
        self._routes = self._route_table()

        self._session: _Session | None = None
        self._attached: _Connection | None = None
        # Sharded clients' sessions, by shard id: each gets only its own guilds' events.
        self._shards: dict[int, _Shard] = {}
        # What GET /gateway/bot recommends.
        self.recommended_shards = 1
        self._connections: list[_Connection] = []
        self._ready_sent = False
        self._gateway_lock = asyncio.Lock()
        self._changed = asyncio.Event()

        self._runner: web.AppRunner | None = None
        self._base_url = ""

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get(GATEWAY_PATH, self._gateway)
        app.router.add_get(RESUME_GATEWAY_PATH, self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._base_url = f"http://{host}:{port}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for connection in list(self._connections):
            await connection.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return self._base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return "ws" + self._base_url.removeprefix("http") + GATEWAY_PATH

    @property
    def resume_gateway_url(self) -> str:
        return "ws" + self._base_url.removeprefix("http") + RESUME_GATEWAY_PATH

    # --- world set-up ------------------------------------------------------------------------

    def add_user(self, username: str, *, user_id: int | None = None, bot: bool = False) -> int:
        user_id = user_id or self._ids()
        self._users[user_id] = payloads.user(user_id, username, bot=bot)
        return user_id

    def add_guild(
        self,
        name: str,
        *,
        channels: Sequence[str] = ("general",),
        announcement_channels: Sequence[str] = (),
        guild_id: int | None = None,
        owner_id: int | None = None,
        preferred_locale: str = "en-US",
    ) -> FakeGuild:
        """A guild the bot is in, with text channels then announcement channels, in that order.

        Added before the client connects it is part of READY; afterwards announce it with ``guild_create``.
        """
        guild_id = guild_id or self._ids()
        owner_id = owner_id or self.default_user_id
        channel_ids: dict[str, int] = {}
        channel_payloads = []
        kinds = [(channel, False) for channel in channels] + [(channel, True) for channel in announcement_channels]
        for position, (channel_name, announcement) in enumerate(kinds):
            channel_id = self._ids()
            channel = payloads.text_channel(
                channel_id, guild_id, channel_name, announcement=announcement, position=position
            )
            self._channels[channel_id] = channel
            channel_payloads.append(channel)
            channel_ids[channel_name] = channel_id
        members = [payloads.member(self._bot_user)]
        if owner_id != self.bot_user_id:
            members.append(payloads.member(self._user(owner_id)))
        self._guilds[guild_id] = payloads.guild_create(
            guild_id,
            name,
            owner_id=owner_id,
            channels=channel_payloads,
            members=members,
            preferred_locale=preferred_locale,
        )
        return FakeGuild(guild_id, name, channel_ids)

    def close_dms(self, user_id: int) -> None:
        """The user accepts no DMs from the bot: sending them one fails with 403, code 50007."""
        self._dms_closed.add(user_id)

    def commands(self, guild_id: int | None = None) -> list[JSON]:
        """The registered commands, global or of one guild, as Discord echoed them."""
        return list(self._commands.get(guild_id, []))

    # --- scripted failures -------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path_pattern: str,
        status: int,
        *,
        code: int | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        global_: bool = False,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` instead of handling them.

        ``path_pattern`` is relative to ``/api/v10``; ``{name}`` or ``*`` match one path segment and
        ``method`` may be ``*``. A 429 carries Discord's rate-limit body and headers (``retry_after``
        defaults to 0.1 s); other statuses a JSON error with ``code`` and ``message``.
        """
        self._failures.append(
            _ScriptedFailure(
                method.upper(), _path_regex(path_pattern), status, code, message, retry_after, global_, times
            )
        )

    # --- gateway control ---------------------------------------------------------------------

    @property
    def shards(self) -> dict[int, int]:
        """Shard id -> shard count of every sharded session identified (sharded clients only)."""
        return {shard.id: shard.count for shard in self._shards.values()}

    def shard_of(self, guild_id: int | None) -> int:
        """The shard Discord sends a guild's events to (DMs: shard 0)."""
        counts = {shard.count for shard in self._shards.values()}
        if guild_id is None or not counts:
            return 0
        return (guild_id >> 22) % max(counts)

    async def wait_shards(self, count: int, timeout: float = 10.0) -> None:
        """Wait until ``count`` shards have identified and been sent their READY and guilds."""
        await self._wait_until(
            lambda: True if len(self._shards) >= count and self._ready_sent else None,
            timeout,
            lambda: f"{len(self._shards)} of {count} shards identified",
        )

    def _has_session(self) -> bool:
        return self._session is not None or bool(self._shards)

    @property
    def session_id(self) -> str | None:
        return None if self._session is None else self._session.id

    @property
    def identifies(self) -> list[JSON]:
        return [frame.data for frame in self.client_frames if frame.op == GatewayOp.IDENTIFY]

    @property
    def resumes(self) -> list[JSON]:
        return [frame.data for frame in self.client_frames if frame.op == GatewayOp.RESUME]

    @property
    def intents(self) -> int | None:
        """The intents of the current session's IDENTIFY."""
        return None if self._session is None else self._session.intents

    async def dispatch(self, event: str, data: JSON) -> int:
        """Send a DISPATCH; with no client attached it is kept for the RESUME replay. Returns its sequence."""
        async with self._gateway_lock:
            return await self._dispatch_locked(event, data)

    async def reconnect(self) -> None:
        """Send RECONNECT (op 7). Until the client has resumed, dispatches are only kept for the replay."""
        await self._detach_with(payloads.reconnect())

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Send INVALID_SESSION (op 9); unless ``resumable`` the session and its unsent events are gone."""
        await self._detach_with(payloads.invalid_session(resumable), end_session=not resumable)

    async def drop_connection(self) -> None:
        """Cut the connection without a close frame, as a network failure would; the client resumes."""
        async with self._gateway_lock:
            connection = self._require_attached()
            self._attached = None
            transport = connection.request.transport
            if transport is not None:
                transport.abort()

    async def _detach_with(self, frame: JSON, *, end_session: bool = False) -> None:
        async with self._gateway_lock:
            connection = self._require_attached()
            self._attached = None
            if end_session:
                self._session = None
                self._ready_sent = False
            await self._send(connection, json.dumps(frame))

    def _require_attached(self) -> _Connection:
        if self._attached is None:
            raise RuntimeError("no client is connected to the fake gateway")
        return self._attached

    # --- events ------------------------------------------------------------------------------

    async def message_create(
        self,
        content: str,
        *,
        author_id: int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
    ) -> JSON:
        """A user's message: in a DM with the bot unless ``guild_id`` or ``channel_id`` says where.

        As on Discord, a guild message that does not mention the bot reaches a client without the
        MESSAGE_CONTENT intent with empty content. Returns the message as stored (with its content).
        """
        author = self._user(author_id or self.default_user_id)
        channel = self._place(int(author["id"]), guild_id, channel_id)
        pings = would_ping(content, None)
        message = payloads.message(
            self._ids(),
            int(channel["id"]),
            author,
            content,
            mentions=[self._user(user_id) for user_id in sorted(pings.users)],
            mention_roles=sorted(pings.roles),
            # Members lack MENTION_EVERYONE by default, so their @everyone notifies nobody.
            mention_everyone=False,
        )
        self._messages[int(message["id"])] = message
        event = self._as_gateway_message(message)
        content_hidden = (
            "guild_id" in event
            and self.bot_user_id not in pings.users
            and not (self.intents or 0) & payloads.INTENT_MESSAGE_CONTENT
        )
        if content_hidden:
            event |= {"content": "", "embeds": [], "attachments": [], "components": []}
        await self.dispatch("MESSAGE_CREATE", event)
        return message

    async def slash_command(
        self,
        name: str,
        options: Mapping[str, OptionValue] | None = None,
        *,
        user_id: int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        permissions: int = EVERYONE_PERMISSIONS,
        roles: Sequence[int] = (),
        locale: str = "en-US",
    ) -> InteractionRef:
        """A user runs ``/name``; ``"group sub"`` names a subcommand, ``options`` its option values.

        Option types come from the synced command when there is one, else from the Python values
        (bool, int, float, str). Without ``guild_id``/``channel_id`` the command runs in the user's DM.
        ``permissions`` are the member's in the channel: Discord does not enforce ``default_permissions``
        on bots, so use them to test the bot's own checks.
        """
        origin = self._origin(user_id, guild_id, channel_id, permissions, roles, locale)
        root, *path = name.split()
        command, command_guild_id = self._registered_command(root, origin.guild_id)
        schema: list[JSON] = [] if command is None else command.get("options", [])
        for subcommand in path:
            schema = next((option.get("options", []) for option in schema if option["name"] == subcommand), [])
        built = [
            payloads.command_option(key, value, self._option_type(schema, key, value))
            for key, value in (options or {}).items()
        ]
        for depth in reversed(range(len(path))):
            built = [payloads.subcommand_option(path[depth], built, group=depth < len(path) - 1)]
        command_id = self._command_id(command_guild_id, root, 1) if command is None else int(command["id"])
        data = payloads.slash_command_interaction(
            origin, command_id=command_id, name=root, options=built, command_guild_id=command_guild_id
        )
        return await self._dispatch_interaction(origin, InteractionType.APPLICATION_COMMAND, data)

    async def button_click(
        self,
        custom_id: str,
        *,
        message_id: int | None = None,
        user_id: int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        permissions: int = EVERYONE_PERMISSIONS,
        locale: str = "en-US",
    ) -> InteractionRef:
        """A user clicks the button ``custom_id`` on ``message_id`` (default: the bot's latest message
        showing it). With no such message, as for a persistent view posted before a restart, the fake
        makes one in the given place."""
        message = self._component_message(custom_id, message_id)
        if message is None:
            origin = self._origin(user_id, guild_id, channel_id, permissions, (), locale)
            message = payloads.message(
                self._ids(),
                int(origin.channel["id"]),
                self._bot_user,
                "",
                components=[payloads.button_row(custom_id)],
            )
            self._messages[int(message["id"])] = message
        else:
            origin = self._origin(user_id, None, int(message["channel_id"]), permissions, (), locale)
        data = payloads.component_interaction(origin, custom_id=custom_id, message=self._as_gateway_message(message))
        return await self._dispatch_interaction(
            origin, InteractionType.MESSAGE_COMPONENT, data, component_message_id=int(message["id"])
        )

    async def modal_submit(
        self, custom_id: str, fields: Mapping[str, str], *, user_id: int | None = None, locale: str | None = None
    ) -> InteractionRef:
        """The user who was shown modal ``custom_id`` submits it with ``fields`` (text input id -> value).

        Fails the test if no such modal was shown, or a field is not one of its text inputs.
        """
        try:
            modal, opener = self._modals[custom_id]
        except KeyError:
            raise AssertionError(f"no modal {custom_id!r} was shown; shown: {sorted(self._modals)}") from None
        inputs = {
            component["custom_id"] for component in _walk_components(modal["components"]) if "custom_id" in component
        }
        if unknown := set(fields) - inputs:
            raise AssertionError(f"modal {custom_id!r} has no text inputs {sorted(unknown)}; it has {sorted(inputs)}")
        previous = opener.origin
        origin = self._origin(
            user_id or int(previous.user["id"]),
            previous.guild_id,
            int(previous.channel["id"]),
            previous.permissions,
            previous.roles,
            locale or previous.locale,
        )
        message_id = opener.component_message_id
        data = payloads.modal_submit_interaction(
            origin,
            custom_id=custom_id,
            fields=fields,
            message=None if message_id is None else self._as_gateway_message(self._messages[message_id]),
        )
        return await self._dispatch_interaction(
            origin, InteractionType.MODAL_SUBMIT, data, component_message_id=message_id
        )

    async def guild_create(self, guild: FakeGuild) -> None:
        """The bot joins ``guild`` (made with ``add_guild``) while connected: ``on_guild_join``."""
        await self.dispatch("GUILD_CREATE", payloads.joined_guild(self._guilds[guild.id]))

    async def guild_delete(self, guild_id: int) -> None:
        """The bot was removed from the guild: ``on_guild_remove``."""
        self._remove_guild(guild_id)
        await self.dispatch("GUILD_DELETE", payloads.guild_delete(guild_id))

    # --- accessors and waiting ---------------------------------------------------------------

    def calls_to(self, method: str, path_pattern: str) -> list[Call]:
        """Calls whose method (``*`` for any) and path (pattern as for ``fail``) match."""
        return list(filter(self._call_filter(method, path_pattern), self.calls))

    def sent_messages(self, channel_id: int | None = None) -> list[SentMessage]:
        """Messages the bot created or edited, in order: channel messages, interaction responses, follow-ups."""
        return [
            call.message
            for call in self.calls
            if call.message is not None and channel_id in (None, call.message.channel_id)
        ]

    def mentions_that_would_ping(self, sent: SentMessage | Call) -> Pings:
        """Who the message would notify on Discord, from its content and ``allowed_mentions``."""
        message = sent.message if isinstance(sent, Call) else sent
        if message is None:
            raise ValueError(f"{sent} sent no message")
        return would_ping(message.content, message.allowed_mentions, message.replied_user_id)

    async def wait_for(
        self, predicate_or_route: Callable[[Call], bool] | str, count: int = 1, timeout: float = 5.0
    ) -> list[Call]:
        """Wait until ``count`` calls match; a route is ``"METHOD /path/{pattern}"``. Returns them."""
        if isinstance(predicate_or_route, str):
            method, _, pattern = predicate_or_route.partition(" ")
            return await self._wait_for_calls(self._call_filter(method, pattern), count, timeout, predicate_or_route)
        return await self._wait_for_calls(predicate_or_route, count, timeout, repr(predicate_or_route))

    async def wait_for_response(self, ref: InteractionRef, timeout: float = 5.0) -> Call:
        """Wait for the bot's accepted response (callback) to the interaction."""
        path = f"/interactions/{ref.id}/{ref.token}/callback"
        calls = await self._wait_for_calls(
            lambda call: call.path == path and call.status < 300, 1, timeout, f"an accepted POST {path}"
        )
        return calls[0]

    async def _wait_for_calls(
        self, predicate: Callable[[Call], bool], count: int, timeout: float, described: str
    ) -> list[Call]:
        def explain() -> str:
            seen = "\n  ".join(str(call) for call in self.calls) or "(none)"
            return f"timed out after {timeout}s waiting for {count} x {described}; calls seen:\n  {seen}"

        return await self._wait_for_count(
            lambda: [call for call in self.calls if predicate(call)], count, timeout, explain
        )

    async def wait_for_op(self, op: int, count: int = 1, timeout: float = 5.0) -> list[ClientFrame]:
        """Wait until the client has sent ``count`` gateway frames with opcode ``op``. Returns them."""

        def explain() -> str:
            return f"timed out waiting for {count} x op {op}; the client sent ops {[f.op for f in self.client_frames]}"

        return await self._wait_for_count(
            lambda: [frame for frame in self.client_frames if frame.op == op], count, timeout, explain
        )

    async def _wait_for_count(
        self, found: Callable[[], list[T]], count: int, timeout: float, explain: Callable[[], str]
    ) -> list[T]:
        def enough() -> list[T] | None:
            matches = found()
            return matches[:count] if len(matches) >= count else None

        return await self._wait_until(enough, timeout, explain)

    async def wait_ready(self, timeout: float = 5.0) -> None:
        """Wait until the fake has sent READY and the GUILD_CREATEs of the current session."""
        await self._wait_until(lambda: True if self._ready_sent else None, timeout, lambda: "no READY was sent")

    async def wait_connected(self, timeout: float = 5.0) -> None:
        """Wait until a client is attached to the session (identified or resumed), so dispatches go live."""
        await self._wait_until(
            lambda: True if self._attached is not None else None, timeout, lambda: "no client is attached"
        )

    async def _wait_until(self, check: Callable[[], T | None], timeout: float, explain: Callable[[], str]) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (result := check()) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(explain())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return result

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    @staticmethod
    def _call_filter(method: str, path_pattern: str) -> Callable[[Call], bool]:
        regex = _path_regex(path_pattern)
        method = method.upper()
        return lambda call: method in ("*", call.method) and regex.fullmatch(call.path) is not None

    # --- gateway server ----------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        # The client asks for compress=zlib-stream; text frames are never decompressed, so it is ignored.
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connection = _Connection(ws, request, request.path)
        self._connections.append(connection)
        try:
            await self._send(connection, json.dumps(payloads.hello(self.heartbeat_interval_ms)))
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    await self._on_client_frame(connection, json.loads(frame.data))
        finally:
            self._connections.remove(connection)
            self._detach(connection)
            self._notify()
        return ws

    async def _on_client_frame(self, connection: _Connection, frame: JSON) -> None:
        op: int = frame["op"]
        self.client_frames.append(ClientFrame(op, frame.get("d"), connection.path, time.monotonic()))
        self._notify()
        if op == GatewayOp.HEARTBEAT:
            await self._send(connection, json.dumps(payloads.heartbeat_ack()))
        elif op == GatewayOp.IDENTIFY:
            await self._identify(connection, frame["d"])
        elif op == GatewayOp.RESUME:
            await self._resume(connection, frame["d"])

    async def _identify(self, connection: _Connection, data: JSON) -> None:
        if data.get("token") != self.token:
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = int(data.get("intents", 0))
        if intents & payloads.PRIVILEGED_INTENTS & ~self.privileged_intents:
            await connection.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        if data.get("shard") is not None:
            await self._identify_shard(connection, intents, data["shard"])
            return
        async with self._gateway_lock:
            self._session = _Session(uuid.uuid4().hex, intents)
            self._attached = connection
            ready = payloads.ready(
                bot_user=self._bot_user,
                guild_ids=list(self._guilds),
                session_id=self._session.id,
                resume_gateway_url=self.resume_gateway_url,
                application_id=self.application_id,
            )
            await self._dispatch_locked("READY", ready)
            for guild in self._guilds.values():
                await self._dispatch_locked("GUILD_CREATE", guild)
            self._ready_sent = True
        self._notify()

    async def _identify_shard(self, connection: _Connection, intents: int, shard: list[int]) -> None:
        shard_id, count = int(shard[0]), int(shard[1])
        if not 0 <= shard_id < count or any(other.count != count for other in self._shards.values()):
            await connection.ws.close(code=4010, message=b"Invalid shard.")
            return
        async with self._gateway_lock:
            state = _Shard(shard_id, count, _Session(uuid.uuid4().hex, intents), connection)
            self._shards[shard_id] = state
            guilds = [guild for guild_id, guild in self._guilds.items() if self.shard_of(guild_id) == shard_id]
            ready = payloads.ready(
                bot_user=self._bot_user,
                guild_ids=[int(guild["id"]) for guild in guilds],
                session_id=state.session.id,
                resume_gateway_url=self.resume_gateway_url,
                application_id=self.application_id,
            )
            ready["shard"] = [shard_id, count]
            await self._dispatch_to(state, "READY", ready)
            for guild in guilds:
                await self._dispatch_to(state, "GUILD_CREATE", guild)
            self._ready_sent = True
        self._notify()

    def _detach(self, connection: _Connection) -> None:
        if self._attached is connection:
            self._attached = None
        for shard in self._shards.values():
            if shard.connection is connection:
                shard.connection = None

    async def _dispatch_to(self, shard: _Shard, event: str, data: JSON) -> int:
        session = shard.session
        session.sequence += 1
        text = json.dumps(payloads.dispatch(session.sequence, event, data))
        session.events.append((session.sequence, text))
        if shard.connection is not None:
            await self._send(shard.connection, text)
        return session.sequence

    async def _resume(self, connection: _Connection, data: JSON) -> None:
        shard = next((s for s in self._shards.values() if s.session.id == data.get("session_id")), None)
        if shard is not None:
            async with self._gateway_lock:
                shard.connection = connection
                for sequence, text in shard.session.events:
                    if sequence > (data.get("seq") or 0):
                        await self._send(connection, text)
                await self._dispatch_to(shard, "RESUMED", payloads.resumed())
            self._notify()
            return
        async with self._gateway_lock:
            session = self._session
            if session is None or data.get("session_id") != session.id or data.get("token") != self.token:
                await self._send(connection, json.dumps(payloads.invalid_session(False)))
                return
            self._attached = connection
            after = data.get("seq") or 0
            for sequence, text in session.events:
                if sequence > after:
                    await self._send(connection, text)
            await self._dispatch_locked("RESUMED", payloads.resumed())
        self._notify()

    async def _dispatch_locked(self, event: str, data: JSON) -> int:
        if self._shards:
            guild = data.get("guild_id") or (data.get("id") if event.startswith("GUILD_") else None)
            shard = self._shards.get(self.shard_of(int(guild) if guild is not None else None))
            if shard is None:
                raise RuntimeError(f"cannot dispatch {event}: its shard has not identified")
            return await self._dispatch_to(shard, event, data)
        session = self._session
        if session is None:
            raise RuntimeError(f"cannot dispatch {event}: no gateway session (start the client, await wait_ready())")
        session.sequence += 1
        text = json.dumps(payloads.dispatch(session.sequence, event, data))
        session.events.append((session.sequence, text))
        if self._attached is not None:
            await self._send(self._attached, text)
        return session.sequence

    async def _send(self, connection: _Connection, text: str) -> None:
        try:
            await connection.ws.send_str(text)
        except ConnectionError:
            # The client is going away; what it missed is in the session log for RESUME.
            self._detach(connection)

    # --- REST server -------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        route, params = self._find_route(request.method, path)
        body, files, reply = await self._read_body(request)
        query, headers = dict(request.query), CIMultiDict(request.headers)
        if reply is None:
            reply = await self._answer(route, _Request(request.method, path, params, query, headers, body, files))
        self.calls.append(
            Call(
                method=request.method,
                path=path,
                route=None if route is None else str(route),
                query=query,
                json=body,
                headers=headers,
                status=reply.status,
                response=reply.body,
                at=time.monotonic(),
                files=files,
                message=reply.message,
            )
        )
        self._notify()
        return reply.to_response()

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, tuple[str, ...], _Reply | None]:
        """The JSON body (``payload_json`` of a multipart upload) and uploaded file names, or a 400."""
        try:
            if request.content_type == "multipart/form-data":
                form = await request.post()
                files = tuple(value.filename for value in form.values() if isinstance(value, web.FileField))
                payload_json = form.get("payload_json")
                return (json.loads(payload_json) if isinstance(payload_json, str) else None), files, None
            text = await request.text()
            return (json.loads(text) if text else None), (), None
        except json.JSONDecodeError:
            return None, (), _coded_error(400, 50109).reply

    def _find_route(self, method: str, path: str) -> tuple[_Route | None, dict[str, str]]:
        for route in self._routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None, {}

    async def _answer(self, route: _Route | None, request: _Request) -> _Reply:
        if route is None:
            return _Reply(404, payloads.http_error(404))
        if route.bot_auth:
            if request.headers.get("Authorization") != f"Bot {self.token}":
                return _Reply(401, payloads.http_error(401))
            now = time.monotonic()
            retry_after = self._global_limit.admit(now)
            if retry_after is not None:
                self.rate_limit_violations.append(
                    RateLimitViolation(request.method, request.path, now, len(self._global_limit))
                )
                return _rate_limit_reply(round(retry_after, 3), global_=True)
        failure = next((f for f in self._failures if f.matches(request.method, request.path)), None)
        if failure is not None:
            failure.remaining -= 1
            return failure.reply()
        try:
            return await route.handler(request)
        except _ApiError as error:
            return error.reply

    def _route_table(self) -> list[_Route]:
        # Literal segments before placeholders: /users/@me must not be read as /users/{user_id}.
        webhook_message = "/webhooks/{application_id}/{token}/messages/{message_id}"
        token_routes = [
            _Route(
                "POST", "/interactions/{interaction_id}/{token}/callback", self._interaction_callback, bot_auth=False
            ),
            _Route("POST", "/webhooks/{application_id}/{token}", self._create_followup, bot_auth=False),
            _Route("GET", webhook_message, self._get_webhook_message, bot_auth=False),
            _Route("PATCH", webhook_message, self._edit_webhook_message, bot_auth=False),
            _Route("DELETE", webhook_message, self._delete_webhook_message, bot_auth=False),
        ]
        bot_routes = [
            _Route("GET", "/gateway", self._get_gateway),
            _Route("GET", "/gateway/bot", self._get_gateway_bot),
            _Route("GET", "/users/@me", self._get_current_user),
            _Route("POST", "/users/@me/channels", self._create_dm),
            _Route("DELETE", "/users/@me/guilds/{guild_id}", self._leave_guild),
            _Route("GET", "/users/{user_id}", self._get_user),
            _Route("GET", "/oauth2/applications/@me", self._get_application),
            _Route("GET", "/applications/{application_id}/commands", self._get_commands),
            _Route("PUT", "/applications/{application_id}/commands", self._put_commands),
            _Route("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self._get_commands),
            _Route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self._put_commands),
            _Route("GET", "/channels/{channel_id}", self._get_channel),
            _Route("POST", "/channels/{channel_id}/typing", self._typing),
            _Route("POST", "/channels/{channel_id}/messages", self._create_message),
            _Route("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message),
            _Route("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_channel_message),
            _Route("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_channel_message),
            _Route("POST", "/channels/{channel_id}/messages/{message_id}/crosspost", self._crosspost),
            _Route("GET", "/guilds/{guild_id}", self._get_guild),
            _Route("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
        ]
        return token_routes + bot_routes

    # --- REST handlers: start-up, users, guilds ----------------------------------------------

    async def _get_gateway(self, request: _Request) -> _Reply:
        return _Reply(200, payloads.gateway(self.gateway_url))

    async def _get_gateway_bot(self, request: _Request) -> _Reply:
        return _Reply(200, payloads.gateway_bot(self.gateway_url, self.recommended_shards))

    async def _get_current_user(self, request: _Request) -> _Reply:
        return _Reply(200, payloads.current_user(self.bot_user_id, self._bot_username))

    async def _get_application(self, request: _Request) -> _Reply:
        owner = self._user(self.default_user_id)
        return _Reply(
            200, payloads.application_info(self.application_id, self._bot_username, owner=owner, bot=self._bot_user)
        )

    async def _get_user(self, request: _Request) -> _Reply:
        user_id = request.id("user_id")
        if user_id not in self._users:
            raise _coded_error(404, 10013)
        return _Reply(200, self._users[user_id])

    async def _create_dm(self, request: _Request) -> _Reply:
        recipient = request.object_body().get("recipient_id")
        if recipient is None or not str(recipient).isdigit():
            raise _ApiError(400, payloads.field_error("recipient_id", "BASE_TYPE_REQUIRED", "This field is required"))
        return _Reply(200, self._dm_channel(int(recipient)))

    async def _leave_guild(self, request: _Request) -> _Reply:
        guild_id = request.id("guild_id")
        self._guild(guild_id)
        self._remove_guild(guild_id)
        if self._has_session():
            await self.dispatch("GUILD_DELETE", payloads.guild_delete(guild_id))
        return _Reply(204)

    async def _get_guild(self, request: _Request) -> _Reply:
        return _Reply(200, payloads.rest_guild(self._guild(request.id("guild_id"))))

    async def _get_member(self, request: _Request) -> _Reply:
        guild = self._guild(request.id("guild_id"))
        user_id = request.params["user_id"]
        found = next((member for member in guild["members"] if member["user"]["id"] == user_id), None)
        if found is None:
            raise _coded_error(404, 10007)
        return _Reply(200, found)

    async def _get_channel(self, request: _Request) -> _Reply:
        return _Reply(200, self._channel(request.id("channel_id")))

    async def _typing(self, request: _Request) -> _Reply:
        self._channel(request.id("channel_id"))
        return _Reply(204)

    # --- REST handlers: application commands -------------------------------------------------

    async def _get_commands(self, request: _Request) -> _Reply:
        self._check_application(request)
        guild_id = request.id("guild_id") if "guild_id" in request.params else None
        return _Reply(200, self.commands(guild_id))

    async def _put_commands(self, request: _Request) -> _Reply:
        self._check_application(request)
        guild_id = request.id("guild_id") if "guild_id" in request.params else None
        if guild_id is not None:
            self._guild(guild_id)
        if not isinstance(request.body, list):
            raise _ApiError(400, payloads.field_error("_root", "MODEL_TYPE_CONVERT", "Expected an array."))
        version = self._ids()
        self._commands[guild_id] = [
            payloads.application_command(
                sent,
                command_id=self._command_id(guild_id, sent["name"], sent.get("type", 1)),
                application_id=self.application_id,
                guild_id=guild_id,
                version=version,
            )
            for sent in request.body
        ]
        return _Reply(200, self.commands(guild_id))

    def _check_application(self, request: _Request) -> None:
        if request.id("application_id") != self.application_id:
            raise _coded_error(403, 50001)

    def _command_id(self, guild_id: int | None, name: str, command_type: int) -> int:
        # Discord keeps a command's id across bulk overwrites as long as its name and type stay.
        return self._command_ids.setdefault((guild_id, name, command_type), self._ids())

    def _registered_command(self, name: str, guild_id: int | None) -> tuple[JSON | None, int | None]:
        scopes = ([guild_id] if guild_id is not None else []) + [None]
        for scope in scopes:
            for command in self._commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command, scope
        return None, None

    @staticmethod
    def _option_type(schema: Sequence[JSON], name: str, value: OptionValue) -> int:
        declared = next((option["type"] for option in schema if option["name"] == name), None)
        return _infer_option_type(value) if declared is None else int(declared)

    # --- REST handlers: channel messages -----------------------------------------------------

    async def _create_message(self, request: _Request) -> _Reply:
        channel = self._channel(request.id("channel_id"))
        if channel["type"] == ChannelType.DM and int(channel["recipients"][0]["id"]) in self._dms_closed:
            raise _coded_error(403, 50007)
        message, sent = await self._post_message(channel, request.object_body(), request.files, kind="channel")
        return _Reply(200, message, message=sent)

    async def _get_message(self, request: _Request) -> _Reply:
        return _Reply(200, self._channel_message(request))

    async def _edit_channel_message(self, request: _Request) -> _Reply:
        message = self._channel_message(request)
        if int(message["author"]["id"]) != self.bot_user_id:
            raise _coded_error(403, 50005)
        sent = await self._edit_message(message, request.object_body(), request.files)
        return _Reply(200, message, message=sent)

    async def _delete_channel_message(self, request: _Request) -> _Reply:
        message = self._channel_message(request)
        del self._messages[int(message["id"])]
        return _Reply(204)

    async def _crosspost(self, request: _Request) -> _Reply:
        channel = self._channel(request.id("channel_id"))
        message = self._channel_message(request)
        if channel["type"] != ChannelType.GUILD_ANNOUNCEMENT:
            raise _coded_error(400, 50024)
        if message["flags"] & payloads.CROSSPOSTED:
            raise _coded_error(400, 40033)
        message["flags"] |= payloads.CROSSPOSTED
        return _Reply(200, message)

    def _channel_message(self, request: _Request) -> JSON:
        channel_id = request.id("channel_id")
        self._channel(channel_id)
        message = self._messages.get(request.id("message_id"))
        if message is None or int(message["channel_id"]) != channel_id:
            raise _coded_error(404, 10008)
        return message

    # --- REST handlers: interactions ---------------------------------------------------------

    async def _interaction_callback(self, request: _Request) -> _Reply:
        interaction = self._interactions.get(request.id("interaction_id"))
        if interaction is None or interaction.ref.token != request.params["token"]:
            raise _coded_error(404, 10062)
        if interaction.callback_type is not None:
            raise _coded_error(400, 40060)
        if time.monotonic() - interaction.created_at > self.interaction_deadline:
            # Discord forgets interactions not answered within 3 s: the bot should have deferred.
            raise _coded_error(404, 10062)
        body = request.object_body()
        callback_type = body.get("type")
        allowed = _CALLBACKS_ALLOWED[interaction.type]
        if callback_type in _UPDATES and interaction.component_message_id is None:
            allowed = allowed - _UPDATES
        if callback_type not in allowed:
            raise _ApiError(
                400,
                payloads.field_error("type", "BASE_TYPE_CHOICES", f"Value must be one of {sorted(map(int, allowed))}."),
            )
        data = body.get("data") or {}
        message, sent = await self._perform_callback(interaction, CallbackType(callback_type), data, request.files)
        interaction.callback_type = callback_type
        if request.query.get("with_response", "false").lower() not in ("1", "true"):
            return _Reply(204, message=sent)
        answer = payloads.interaction_callback(
            interaction_id=interaction.ref.id,
            interaction_type=interaction.type,
            callback_type=callback_type,
            message=message,
        )
        return _Reply(200, answer, message=sent)

    async def _perform_callback(
        self, interaction: _Interaction, callback_type: CallbackType, data: JSON, files: tuple[str, ...]
    ) -> tuple[JSON | None, SentMessage | None]:
        """Do what the response asks; return the message it created or updated and what was sent."""
        channel = self._channel(int(interaction.origin.channel["id"]))
        if callback_type == CallbackType.CHANNEL_MESSAGE:
            message, sent = await self._post_message(
                channel, data, files, kind="interaction_response", interaction=interaction
            )
            interaction.original_message_id = int(message["id"])
            return message, sent
        if callback_type == CallbackType.DEFERRED_CHANNEL_MESSAGE:
            # The "is thinking..." placeholder, completed later by PATCH .../messages/@original.
            message = self._new_bot_message(channel, {}, (), LOADING | (data.get("flags", 0) & EPHEMERAL), interaction)
            interaction.original_message_id = int(message["id"])
            return message, None
        if callback_type == CallbackType.MODAL:
            self._check_modal(data)
            self._modals[data["custom_id"]] = (data, interaction)
            return None, None
        # Types 6 and 7 act on the component's message, which becomes the interaction's @original.
        if callback_type == CallbackType.UPDATE_MESSAGE and interaction.component_message_id is not None:
            message = self._messages[interaction.component_message_id]
            return message, await self._edit_message(message, data, files, interaction=interaction)
        return None, None

    @staticmethod
    def _check_modal(data: JSON) -> None:
        if not data.get("custom_id"):
            raise _ApiError(400, payloads.field_error("data.custom_id", "BASE_TYPE_REQUIRED", "This field is required"))
        if not data.get("title") or len(data["title"]) > 45:
            raise _ApiError(
                400, payloads.field_error("data.title", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45.")
            )
        if not 1 <= len(data.get("components") or []) <= MAX_MODAL_COMPONENTS:
            raise _ApiError(
                400,
                payloads.field_error(
                    "data.components", "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {MAX_MODAL_COMPONENTS}."
                ),
            )

    async def _create_followup(self, request: _Request) -> _Reply:
        interaction = self._webhook_interaction(request)
        body = request.object_body()
        deferred = self._messages.get(interaction.original_message_id or 0)
        if deferred is not None and deferred["flags"] & LOADING:
            # The first follow-up after a deferred response replaces the "is thinking..." placeholder,
            # keeping the defer's ephemerality.
            _validate_message(body, files=request.files, creating=True)
            message = deferred
            sent = await self._edit_message(message, body, request.files, interaction=interaction, kind="followup")
        else:
            channel = self._channel(int(interaction.origin.channel["id"]))
            message, sent = await self._post_message(
                channel, body, request.files, kind="followup", interaction=interaction
            )
            interaction.followup_ids.add(int(message["id"]))
        if request.query.get("wait", "false").lower() in ("1", "true"):
            return _Reply(200, message, message=sent)
        return _Reply(204, message=sent)

    async def _get_webhook_message(self, request: _Request) -> _Reply:
        return _Reply(200, self._webhook_message(request))

    async def _edit_webhook_message(self, request: _Request) -> _Reply:
        interaction = self._webhook_interaction(request)
        message = self._webhook_message(request)
        sent = await self._edit_message(message, request.object_body(), request.files, interaction=interaction)
        return _Reply(200, message, message=sent)

    async def _delete_webhook_message(self, request: _Request) -> _Reply:
        del self._messages[int(self._webhook_message(request)["id"])]
        return _Reply(204)

    def _webhook_interaction(self, request: _Request) -> _Interaction:
        """The interaction whose token the webhook route uses; unknown until its first response."""
        if request.id("application_id") == self.application_id:
            for interaction in self._interactions.values():
                fresh = time.monotonic() - interaction.created_at < INTERACTION_TOKEN_LIFETIME
                if interaction.ref.token == request.params["token"] and interaction.callback_type is not None and fresh:
                    return interaction
        raise _coded_error(404, 10015)

    def _webhook_message(self, request: _Request) -> JSON:
        interaction = self._webhook_interaction(request)
        if request.params["message_id"] == "@original":
            if interaction.callback_type in _UPDATES:
                message_id = interaction.component_message_id
            else:
                message_id = interaction.original_message_id
        else:
            message_id = request.id("message_id")
            if message_id not in interaction.followup_ids | {interaction.original_message_id}:
                message_id = None
        if message_id is None or message_id not in self._messages:
            raise _coded_error(404, 10008)
        return self._messages[message_id]

    # --- messages ----------------------------------------------------------------------------

    async def _post_message(
        self,
        channel: JSON,
        body: JSON,
        files: tuple[str, ...],
        *,
        kind: MessageKind,
        interaction: _Interaction | None = None,
    ) -> tuple[JSON, SentMessage]:
        _validate_message(body, files=files, creating=True)
        message = self._new_bot_message(channel, body, files, int(body.get("flags") or 0), interaction)
        await self._echo("MESSAGE_CREATE", message)
        return message, _sent_message(kind, message, body, interaction, self._replied_user_id(body))

    def _new_bot_message(
        self, channel: JSON, body: JSON, files: tuple[str, ...], flags: int, interaction: _Interaction | None
    ) -> JSON:
        content = str(body.get("content") or "")
        pings = would_ping(content, body.get("allowed_mentions"), self._replied_user_id(body))
        by_interaction: dict[str, Any] = {}
        if interaction is not None:
            by_interaction = {
                "webhook_id": self.application_id,
                "application_id": self.application_id,
                "interaction_metadata": payloads.interaction_metadata(interaction.origin, interaction.type),
            }
        message = payloads.message(
            self._ids(),
            int(channel["id"]),
            self._bot_user,
            content,
            mentions=[self._user(user_id) for user_id in sorted(pings.users)],
            mention_roles=sorted(pings.roles),
            mention_everyone=pings.everyone or pings.here,
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            attachments=[payloads.attachment(self._ids(), name, 0) for name in files],
            flags=flags,
            message_reference=body.get("message_reference"),
            **by_interaction,
        )
        self._messages[int(message["id"])] = message
        return message

    async def _edit_message(
        self,
        message: JSON,
        body: JSON,
        files: tuple[str, ...],
        *,
        interaction: _Interaction | None = None,
        kind: MessageKind = "edit",
    ) -> SentMessage:
        _validate_message(body, files=files, creating=False)
        for key, empty in (("content", ""), ("embeds", []), ("components", [])):
            if key in body:
                message[key] = body[key] or empty
        if files:
            message["attachments"] = [payloads.attachment(self._ids(), name, 0) for name in files]
        if message["flags"] & LOADING:
            # Completing a deferred response is its first real content, not an edit.
            message["flags"] &= ~LOADING
            event = "MESSAGE_CREATE"
        else:
            message["edited_timestamp"] = payloads.timestamp()
            event = "MESSAGE_UPDATE"
        await self._echo(event, message)
        return _sent_message(kind, message, body, interaction)

    def _replied_user_id(self, body: JSON) -> int | None:
        reference = body.get("message_reference") or {}
        replied = self._messages.get(int(reference.get("message_id") or 0))
        return None if replied is None else int(replied["author"]["id"])

    async def _echo(self, event: str, message: JSON) -> None:
        if self.echo_own_messages and self._has_session() and not message["flags"] & (EPHEMERAL | LOADING):
            await self.dispatch(event, self._as_gateway_message(message))

    def _as_gateway_message(self, message: JSON) -> JSON:
        """Messages in gateway events (and interactions) also name their guild and the author as member."""
        guild_id = self._channels.get(int(message["channel_id"]), {}).get("guild_id")
        if guild_id is None:
            return dict(message)
        return {**message, "guild_id": guild_id, "member": payloads.partial_member()}

    def _component_message(self, custom_id: str, message_id: int | None) -> JSON | None:
        if message_id is not None:
            message = self._messages.get(message_id)
            if message is None or not _has_custom_id(message, custom_id):
                raise AssertionError(f"message {message_id} shows no component {custom_id!r}")
            return message
        bots = (
            message
            for message in reversed(self._messages.values())
            if int(message["author"]["id"]) == self.bot_user_id and _has_custom_id(message, custom_id)
        )
        return next(bots, None)

    # --- interactions ------------------------------------------------------------------------

    def _origin(
        self,
        user_id: int | None,
        guild_id: int | None,
        channel_id: int | None,
        permissions: int,
        roles: Sequence[int],
        locale: str,
    ) -> InteractionOrigin:
        user = self._user(user_id or self.default_user_id)
        channel = self._place(int(user["id"]), guild_id, channel_id)
        place_guild_id = None if "guild_id" not in channel else int(channel["guild_id"])
        guild_locale = "en-US"
        if place_guild_id is not None:
            guild = self._guild(place_guild_id)
            guild_locale = guild["preferred_locale"]
            if all(member["user"]["id"] != user["id"] for member in guild["members"]):
                guild["members"].append(payloads.member(user, roles=roles))
                guild["member_count"] = len(guild["members"])
        return InteractionOrigin(
            interaction_id=self._ids(),
            application_id=self.application_id,
            token=f"fake-interaction-token-{secrets.token_hex(16)}",
            user=user,
            channel=channel,
            guild_id=place_guild_id,
            roles=tuple(roles),
            permissions=permissions,
            locale=locale,
            guild_locale=guild_locale,
        )

    async def _dispatch_interaction(
        self,
        origin: InteractionOrigin,
        interaction_type: InteractionType,
        data: JSON,
        *,
        component_message_id: int | None = None,
    ) -> InteractionRef:
        ref = InteractionRef(origin.interaction_id, origin.token)
        self._interactions[ref.id] = _Interaction(
            ref, interaction_type, origin, time.monotonic(), component_message_id=component_message_id
        )
        await self.dispatch("INTERACTION_CREATE", data)
        return ref

    # --- lookups -----------------------------------------------------------------------------

    def _user(self, user_id: int) -> JSON:
        # Discord knows every user; the fake makes up the ones a test did not add.
        if user_id not in self._users:
            self._users[user_id] = payloads.user(user_id, f"user{user_id}")
        return self._users[user_id]

    def _guild(self, guild_id: int) -> JSON:
        if guild_id not in self._guilds:
            raise _coded_error(404, 10004)
        return self._guilds[guild_id]

    def _channel(self, channel_id: int) -> JSON:
        if channel_id not in self._channels:
            raise _coded_error(404, 10003)
        return self._channels[channel_id]

    def _dm_channel(self, user_id: int) -> JSON:
        """The bot's DM channel with the user; Discord answers the same channel every time."""
        if user_id not in self._dm_channels:
            channel_id = self._ids()
            self._channels[channel_id] = payloads.dm_channel(channel_id, self._user(user_id))
            self._dm_channels[user_id] = channel_id
        return self._channels[self._dm_channels[user_id]]

    def _place(self, user_id: int, guild_id: int | None, channel_id: int | None) -> JSON:
        """Where a user acts: the channel given, else the guild's first channel, else their DM."""
        if channel_id is not None:
            if channel_id not in self._channels:
                raise ValueError(f"unknown channel {channel_id}")
            return self._channels[channel_id]
        if guild_id is not None:
            if guild_id not in self._guilds:
                raise ValueError(f"unknown guild {guild_id}")
            first: JSON = self._guilds[guild_id]["channels"][0]
            return first
        return self._dm_channel(user_id)

    def _remove_guild(self, guild_id: int) -> None:
        guild = self._guilds.pop(guild_id)
        for channel in guild["channels"]:
            self._channels.pop(int(channel["id"]), None)
