"""Every JSON payload the fake Discord sends, shaped as Discord sends it and discord.py 2.7 parses it.

All builders live here so that a discord.py upgrade needing a new field fails one contract test
(``test_payload_builders_parse_with_discord_py``) at one builder, instead of many adapter tests at once.
Ids are ints in the signatures and snowflake strings in the payloads, as on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, TypeAlias

JSON: TypeAlias = dict[str, Any]
OptionValue: TypeAlias = str | int | float | bool

API_VERSION = 10
# Uploads up to 10 MiB, the current default for bots.
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024

# Permission bits, https://discord.com/developers/docs/topics/permissions
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
USE_APPLICATION_COMMANDS = 1 << 31
# What @everyone may do in a new guild: enough for a member to read, write and use slash commands.
EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
)

# Gateway intents that must be switched on in the developer portal before a bot may request them.
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Message flags.
CROSSPOSTED = 1 << 0
EPHEMERAL = 1 << 6
LOADING = 1 << 7


class ChannelType(IntEnum):
    GUILD_TEXT = 0
    DM = 1
    GUILD_ANNOUNCEMENT = 5


class InteractionType(IntEnum):
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    MODAL_SUBMIT = 5


class CallbackType(IntEnum):
    """The ``type`` of an interaction response (``POST /interactions/{id}/{token}/callback``)."""

    PONG = 1
    CHANNEL_MESSAGE = 4
    DEFERRED_CHANNEL_MESSAGE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE_RESULT = 8
    MODAL = 9


class OptionType(IntEnum):
    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    NUMBER = 10


class ComponentType(IntEnum):
    ACTION_ROW = 1
    BUTTON = 2
    TEXT_INPUT = 4


class ContextType(IntEnum):
    GUILD = 0
    BOT_DM = 1


class GatewayOp(IntEnum):
    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


# Human text of the JSON error codes the fake answers with.
ERROR_MESSAGES: Mapping[int, str] = {
    10003: "Unknown Channel",
    10004: "Unknown Guild",
    10007: "Unknown Member",
    10008: "Unknown Message",
    10013: "Unknown User",
    10015: "Unknown Webhook",
    10062: "Unknown interaction",
    40033: "This message has already been crossposted.",
    40060: "Interaction has already been acknowledged.",
    50001: "Missing Access",
    50005: "Cannot edit a message authored by another user",
    50006: "Cannot send an empty message",
    50007: "Cannot send messages to this user",
    50013: "Missing Permissions",
    50024: "Cannot execute action on this channel type",
    50035: "Invalid Form Body",
    50109: "The request body contains invalid JSON.",
}
HTTP_REASONS: Mapping[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Unavailable",
}


def snowflake(value: int) -> str:
    return str(value)


def timestamp() -> str:
    """Now in ISO 8601 with an explicit UTC offset, as Discord writes every timestamp."""
    return datetime.now(UTC).isoformat()


# --- users, members, roles -------------------------------------------------------------------


def user(user_id: int, username: str, *, bot: bool = False, global_name: str | None = None) -> JSON:
    payload: JSON = {
        "id": snowflake(user_id),
        "username": username,
        # Discord dropped discriminators; migrated accounts all report "0".
        "discriminator": "0",
        "global_name": global_name,
        "avatar": None,
        "avatar_decoration_data": None,
        "banner": None,
        "accent_color": None,
        "public_flags": 0,
    }
    if bot:
        payload["bot"] = True
    return payload


def current_user(user_id: int, username: str) -> JSON:
    """``GET /users/@me`` for a bot token."""
    return {
        **user(user_id, username, bot=True),
        "flags": 0,
        "mfa_enabled": False,
        "verified": True,
        "email": None,
        "locale": "en-US",
        "premium_type": 0,
    }


def role(
    role_id: int, name: str, *, permissions: int = 0, position: int = 0, mentionable: bool = False, color: int = 0
) -> JSON:
    return {
        "id": snowflake(role_id),
        "name": name,
        "description": None,
        "color": color,
        "colors": {"primary_color": color, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(permissions),
        "managed": False,
        "mentionable": mentionable,
        "flags": 0,
    }


def everyone_role(guild_id: int) -> JSON:
    """The @everyone role shares its guild's id."""
    return role(guild_id, "@everyone", permissions=EVERYONE_PERMISSIONS)


def partial_member(*, roles: Sequence[int] = ()) -> JSON:
    """A member without ``user``, as in MESSAGE_CREATE (the user is the message's ``author``)."""
    return {
        "roles": [snowflake(role_id) for role_id in roles],
        "joined_at": timestamp(),
        "nick": None,
        "avatar": None,
        "banner": None,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
    }


def member(
    user_payload: JSON,
    *,
    roles: Sequence[int] = (),
    permissions: int | None = None,
) -> JSON:
    """A guild member; ``permissions`` (the member's total in the channel) only appears in interactions."""
    payload = {**partial_member(roles=roles), "user": user_payload}
    if permissions is not None:
        payload["permissions"] = str(permissions)
    return payload


# --- channels and guilds ---------------------------------------------------------------------


def text_channel(
    channel_id: int,
    guild_id: int,
    name: str,
    *,
    announcement: bool = False,
    position: int = 0,
    topic: str | None = None,
) -> JSON:
    """A guild text channel, or an announcement (news) channel whose messages can be published."""
    return {
        "id": snowflake(channel_id),
        "type": ChannelType.GUILD_ANNOUNCEMENT if announcement else ChannelType.GUILD_TEXT,
        "guild_id": snowflake(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "parent_id": None,
        "topic": topic,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "default_auto_archive_duration": 1440,
        "flags": 0,
    }


def dm_channel(channel_id: int, recipient: JSON) -> JSON:
    return {
        "id": snowflake(channel_id),
        "type": ChannelType.DM,
        "last_message_id": None,
        "recipients": [recipient],
        "flags": 0,
    }


# Fields that only GUILD_CREATE carries; REST ``GET /guilds/{id}`` leaves them out.
GUILD_CREATE_ONLY_FIELDS = frozenset(
    {
        "joined_at",
        "large",
        "unavailable",
        "member_count",
        "voice_states",
        "members",
        "channels",
        "threads",
        "presences",
        "stage_instances",
        "guild_scheduled_events",
        "soundboard_sounds",
    }
)


def guild_create(
    guild_id: int,
    name: str,
    *,
    owner_id: int,
    channels: Sequence[JSON],
    members: Sequence[JSON],
    roles: Sequence[JSON] = (),
    preferred_locale: str = "en-US",
) -> JSON:
    """GUILD_CREATE data: the guild with its @everyone role, channels and members (include the bot's)."""
    return {
        "id": snowflake(guild_id),
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": snowflake(owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "widget_enabled": False,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "roles": [everyone_role(guild_id), *roles],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "max_members": 500000,
        "vanity_url_code": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": preferred_locale,
        "nsfw_level": 0,
        "nsfw": False,
        "incidents_data": None,
        "joined_at": timestamp(),
        "large": False,
        "unavailable": False,
        "member_count": len(members),
        "members": list(members),
        "channels": list(channels),
        "threads": [],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def joined_guild(guild_create_data: JSON) -> JSON:
    """GUILD_CREATE for a guild the bot joins while connected: no ``unavailable`` key at all.

    discord.py tells a join (``on_guild_join``) from a guild coming back (``on_guild_available``) by it.
    """
    return {key: value for key, value in guild_create_data.items() if key != "unavailable"}


def rest_guild(guild_create_data: JSON) -> JSON:
    """``GET /guilds/{id}?with_counts=true``: the guild without its GUILD_CREATE-only state."""
    payload = {key: value for key, value in guild_create_data.items() if key not in GUILD_CREATE_ONLY_FIELDS}
    payload["approximate_member_count"] = guild_create_data["member_count"]
    payload["approximate_presence_count"] = 0
    return payload


def unavailable_guild(guild_id: int) -> JSON:
    """How READY lists each guild before its GUILD_CREATE."""
    return {"id": snowflake(guild_id), "unavailable": True}


# --- messages --------------------------------------------------------------------------------


def message(
    message_id: int,
    channel_id: int,
    author: JSON,
    content: str,
    *,
    guild_id: int | None = None,
    member: JSON | None = None,
    mentions: Sequence[JSON] = (),
    mention_roles: Sequence[int] = (),
    mention_everyone: bool = False,
    embeds: Sequence[JSON] = (),
    components: Sequence[JSON] = (),
    attachments: Sequence[JSON] = (),
    flags: int = 0,
    message_reference: JSON | None = None,
    webhook_id: int | None = None,
    application_id: int | None = None,
    interaction_metadata: JSON | None = None,
) -> JSON:
    """A message. ``guild_id`` and ``member`` belong only in gateway events, never in REST answers."""
    payload: JSON = {
        "id": snowflake(message_id),
        "type": 19 if message_reference else 0,
        "channel_id": snowflake(channel_id),
        "author": author,
        "content": content,
        "timestamp": timestamp(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": mention_everyone,
        "mentions": list(mentions),
        "mention_roles": [snowflake(role_id) for role_id in mention_roles],
        "mention_channels": [],
        "attachments": list(attachments),
        "embeds": list(embeds),
        "components": list(components),
        "pinned": False,
        "flags": flags,
    }
    optional = {
        "guild_id": None if guild_id is None else snowflake(guild_id),
        "member": member,
        "message_reference": message_reference,
        "webhook_id": None if webhook_id is None else snowflake(webhook_id),
        "application_id": None if application_id is None else snowflake(application_id),
        "interaction_metadata": interaction_metadata,
    }
    payload.update({key: value for key, value in optional.items() if value is not None})
    return payload


def attachment(attachment_id: int, filename: str, size: int) -> JSON:
    url = f"https://cdn.discordapp.com/attachments/0/{attachment_id}/{filename}"
    return {
        "id": snowflake(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
        "flags": 0,
    }


def button_row(custom_id: str, label: str = "Button") -> JSON:
    """An action row holding one button, as a message's ``components`` carries it."""
    return {
        "type": ComponentType.ACTION_ROW,
        "components": [{"type": ComponentType.BUTTON, "style": 1, "label": label, "custom_id": custom_id}],
    }


# --- application, start-up and gateway frames ------------------------------------------------


def application_info(application_id: int, name: str, *, owner: JSON, bot: JSON) -> JSON:
    """``GET /oauth2/applications/@me``, which ``Client.login`` reads after ``GET /users/@me``."""
    return {
        "id": snowflake(application_id),
        "name": name,
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "bot": bot,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": owner,
        "team": None,
        "verify_key": "0" * 64,
        "flags": 0,
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "approximate_guild_count": 0,
    }


def gateway(url: str) -> JSON:
    return {"url": url}


def gateway_bot(url: str, shards: int = 1) -> JSON:
    """``GET /gateway/bot``; only ``AutoShardedClient`` asks for it."""
    return {
        "url": url,
        "shards": shards,
        "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1},
    }


def ready(
    *,
    bot_user: JSON,
    guild_ids: Sequence[int],
    session_id: str,
    resume_gateway_url: str,
    application_id: int,
) -> JSON:
    return {
        "v": API_VERSION,
        "user": bot_user,
        "user_settings": {},
        "guilds": [unavailable_guild(guild_id) for guild_id in guild_ids],
        "relationships": [],
        "private_channels": [],
        "presences": [],
        "guild_join_requests": [],
        "geo_ordered_rtc_regions": [],
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": resume_gateway_url,
        "application": {"id": snowflake(application_id), "flags": 0},
        "_trace": ['["fake-discord-gateway",{"micros":0}]'],
    }


def resumed() -> JSON:
    return {"_trace": ['["fake-discord-gateway",{"micros":0}]']}


def guild_delete(guild_id: int) -> JSON:
    """GUILD_DELETE without ``unavailable``: the bot left or was removed (not an outage)."""
    return {"id": snowflake(guild_id)}


def hello(heartbeat_interval_ms: int) -> JSON:
    return {"op": GatewayOp.HELLO, "d": {"heartbeat_interval": heartbeat_interval_ms}, "s": None, "t": None}


def heartbeat_ack() -> JSON:
    return {"op": GatewayOp.HEARTBEAT_ACK, "d": None, "s": None, "t": None}


def dispatch(sequence: int, event: str, data: JSON) -> JSON:
    return {"op": GatewayOp.DISPATCH, "d": data, "s": sequence, "t": event}


def reconnect() -> JSON:
    return {"op": GatewayOp.RECONNECT, "d": None, "s": None, "t": None}


def invalid_session(resumable: bool) -> JSON:
    return {"op": GatewayOp.INVALID_SESSION, "d": resumable, "s": None, "t": None}


# --- application commands --------------------------------------------------------------------


def application_command(
    sent: Mapping[str, Any], *, command_id: int, application_id: int, guild_id: int | None = None, version: int
) -> JSON:
    """Discord's echo of one command from a bulk overwrite (``PUT .../commands``): what was sent plus ids.

    discord.py sends ``default_member_permissions`` as an int; Discord answers with the string form.
    """
    payload: JSON = {
        "type": 1,
        "description": "",
        "options": [],
        "default_member_permissions": None,
        "nsfw": False,
        "integration_types": [0],
        **sent,
        "id": snowflake(command_id),
        "application_id": snowflake(application_id),
        "version": snowflake(version),
    }
    if payload["default_member_permissions"] is not None:
        payload["default_member_permissions"] = str(payload["default_member_permissions"])
    if guild_id is None:
        payload.setdefault("dm_permission", True)
        payload.setdefault("contexts", None)
    else:
        payload["guild_id"] = snowflake(guild_id)
    return payload


def command_option(name: str, value: OptionValue, option_type: int) -> JSON:
    return {"name": name, "type": option_type, "value": value}


def subcommand_option(name: str, options: Sequence[JSON], *, group: bool = False) -> JSON:
    option_type = OptionType.SUB_COMMAND_GROUP if group else OptionType.SUB_COMMAND
    return {"name": name, "type": option_type, "options": list(options)}


# --- interactions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class InteractionOrigin:
    """Who triggered an interaction, and where: a guild channel (``guild_id`` set) or a DM."""

    interaction_id: int
    application_id: int
    token: str
    user: JSON
    channel: JSON
    guild_id: int | None = None
    roles: Sequence[int] = ()
    # The member's total permissions in the channel; Discord computes them, the bot only reads them.
    permissions: int = EVERYONE_PERMISSIONS
    app_permissions: int = EVERYONE_PERMISSIONS
    locale: str = "en-US"
    guild_locale: str = "en-US"


def _integration_owners(origin: InteractionOrigin) -> JSON:
    """Who installed the app where it was used: the guild, or for a DM with a guild-installed bot "0"."""
    return {"0": "0" if origin.guild_id is None else snowflake(origin.guild_id)}


def interaction_metadata(origin: InteractionOrigin, interaction_type: InteractionType) -> JSON:
    """What a message created by an interaction response says about that interaction."""
    return {
        "id": snowflake(origin.interaction_id),
        "type": interaction_type,
        "user": origin.user,
        "authorizing_integration_owners": _integration_owners(origin),
    }


def _interaction(origin: InteractionOrigin, interaction_type: InteractionType, data: JSON) -> JSON:
    payload: JSON = {
        "id": snowflake(origin.interaction_id),
        "application_id": snowflake(origin.application_id),
        "type": interaction_type,
        "data": data,
        "token": origin.token,
        "version": 1,
        "locale": origin.locale,
        "app_permissions": str(origin.app_permissions),
        "entitlements": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if origin.guild_id is None:
        payload |= {
            "channel_id": origin.channel["id"],
            "channel": origin.channel,
            "user": origin.user,
            "context": ContextType.BOT_DM,
            "authorizing_integration_owners": _integration_owners(origin),
        }
    else:
        guild_id = snowflake(origin.guild_id)
        payload |= {
            "guild_id": guild_id,
            "guild": {"id": guild_id, "locale": origin.guild_locale, "features": []},
            "guild_locale": origin.guild_locale,
            "channel_id": origin.channel["id"],
            # Interactions carry the invoking member's permissions on the channel too.
            "channel": {**origin.channel, "permissions": str(origin.permissions)},
            "member": member(origin.user, roles=origin.roles, permissions=origin.permissions),
            "context": ContextType.GUILD,
            "authorizing_integration_owners": _integration_owners(origin),
        }
    return payload


def slash_command_interaction(
    origin: InteractionOrigin,
    *,
    command_id: int,
    name: str,
    options: Sequence[JSON] = (),
    command_guild_id: int | None = None,
) -> JSON:
    """INTERACTION_CREATE for a chat-input command; ``options`` may nest ``subcommand_option``s.

    ``command_guild_id`` is set when the command was registered for one guild only: discord.py then looks
    it up among that guild's commands.
    """
    data: JSON = {"id": snowflake(command_id), "name": name, "type": 1, "options": list(options)}
    if command_guild_id is not None:
        data["guild_id"] = snowflake(command_guild_id)
    return _interaction(origin, InteractionType.APPLICATION_COMMAND, data)


def component_interaction(
    origin: InteractionOrigin, *, custom_id: str, message: JSON, component_type: int = ComponentType.BUTTON
) -> JSON:
    """INTERACTION_CREATE for a click on a component of ``message``."""
    payload = _interaction(
        origin, InteractionType.MESSAGE_COMPONENT, {"custom_id": custom_id, "component_type": component_type}
    )
    payload["message"] = message
    return payload


def modal_submit_interaction(
    origin: InteractionOrigin, *, custom_id: str, fields: Mapping[str, str], message: JSON | None = None
) -> JSON:
    """INTERACTION_CREATE for a submitted modal; ``fields`` maps each text input's custom_id to its value.

    ``message`` is the message whose component opened the modal, if a component did.
    """
    rows = [
        {
            "type": ComponentType.ACTION_ROW,
            "components": [{"type": ComponentType.TEXT_INPUT, "custom_id": key, "value": value}],
        }
        for key, value in fields.items()
    ]
    payload = _interaction(origin, InteractionType.MODAL_SUBMIT, {"custom_id": custom_id, "components": rows})
    if message is not None:
        payload["message"] = message
    return payload


def interaction_callback(
    *,
    interaction_id: int,
    interaction_type: int,
    callback_type: int,
    message: JSON | None = None,
) -> JSON:
    """The answer to ``POST /interactions/{id}/{token}/callback?with_response=true``.

    ``message`` is the message the response created or updated (types 4, 5 and 7); modals and deferred
    updates create none.
    """
    described: JSON = {"id": snowflake(interaction_id), "type": interaction_type}
    if message is None:
        return {"interaction": described}
    flags = message["flags"]
    described |= {
        "response_message_id": message["id"],
        "response_message_loading": bool(flags & LOADING),
        "response_message_ephemeral": bool(flags & EPHEMERAL),
    }
    return {"interaction": described, "resource": {"type": callback_type, "message": message}}


# --- errors ----------------------------------------------------------------------------------


def error(code: int, message: str, errors: JSON | None = None) -> JSON:
    """A JSON error body; ``errors`` details a 50035 Invalid Form Body per field."""
    payload: JSON = {"message": message, "code": code}
    if errors is not None:
        payload["errors"] = errors
    return payload


def http_error(status: int) -> JSON:
    """The body Discord sends for an error without a more specific code, e.g. ``401: Unauthorized``."""
    return error(0, f"{status}: {HTTP_REASONS.get(status, 'Error')}")


def field_error(field: str, code: str, message: str) -> JSON:
    """50035 Invalid Form Body for one field (nested fields as ``"embeds.0.title"``)."""
    errors: JSON = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(field.split(".")):
        errors = {part: errors}
    return error(50035, ERROR_MESSAGES[50035], errors)


def rate_limited(retry_after: float, *, global_: bool) -> JSON:
    return {"message": "You are being rate limited.", "retry_after": retry_after, "global": global_}
