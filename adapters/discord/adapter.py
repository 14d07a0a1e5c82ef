"""The Discord adapter, on discord.py 2.7: slash commands, buttons and modals in; markdown replies out.

- Every core command is a slash command; free text works in DMs and when the bot is mentioned.
- In a server, answers to personal business (and everything that follows from it: buttons, forms)
  are ephemeral, shown to that member alone; everything else is answered in the channel.
- Buttons carry versioned custom ids dispatched by discord.py's dynamic items, so they work after a
  restart; the core's forms (petition sign-up, broadcast text) are modals.
- /setup (Manage Server, checked here) chooses a server's announcement channel, organiser role and
  language; they are forgotten when the bot leaves the server.
- Broadcasts and reminders go out through :class:`DiscordSender`, to DMs and announcement channels.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands

from adapters.discord import TOKEN_ENV, DiscordConfig, forms
from adapters.discord.commands import CoreTranslator, core_commands, digest, setup_group
from adapters.discord.delivery import MAX_RATELIMIT_SLEEP, PLATFORM, DiscordSender, group_chat_id
from adapters.discord.render import (
    FORM,
    HANDOFF,
    VERSION,
    Choice,
    ChoiceButton,
    Outgoing,
    StaleButton,
    compact,
    escape,
    render,
)
from adapters.discord.servers import Servers
from bot.port.delivery import PlatformLimits
from bot.port.events import (
    ButtonPress,
    Chat,
    ChatKind,
    Command,
    Event,
    Input,
    Reply,
    ReplyKind,
    Share,
    Text,
    User,
    parse_text,
)
from bot.port.markup import RichText
from bot.port.mechanics import KeyedLocks
from bot.port.outcome import OpenForm, Outcome
from bot.port.platform import AdapterError, Setup
from bot.port.redaction import register_secret, secret_env
from bot.port.services import Port

log = logging.getLogger(__name__)

# Where the digest of the registered commands is kept (adapter settings).
GLOBAL_SCOPE = "global"
COMMANDS_HASH = "commands_hash"
# The ids Discord gave the registered commands (for command mentions, </pledge:ID>), as JSON.
COMMAND_IDS = "command_ids"
Handle = Callable[[Event], Awaitable[Outcome]]


@dataclass(frozen=True)
class Timings:
    # Seconds on_ready waits for the servers after the last one arrived (discord.py's default).
    guild_ready_timeout: float = 2.0
    # Discord allows one IDENTIFY per 5 s: discord.py waits that long before every one but the first.
    wait_before_reidentify: bool = True
    # Work on an interaction longer than this is acknowledged first ("thinking…"): Discord forgets an
    # interaction not answered within 3 s.
    defer_after: float = 2.0


@dataclass(frozen=True)
class Place:
    """Where an interaction's answers go: the chat the core sees, and whether only the member sees them."""

    chat: Chat
    ephemeral: bool = False


@dataclass(frozen=True)
class Answer:
    replies: list[Reply]
    place: Place
    # The form under way after these replies, if one is (its questions can be answered in a modal).
    form: OpenForm | None = None
    lang: str = ""


class DiscordAdapter:
    name = PLATFORM

    def __init__(
        self, settings: DiscordConfig, limits: PlatformLimits, token: str, timings: Timings | None = None
    ) -> None:
        self.settings = settings
        self.limits = limits
        self.token = token
        register_secret(token)
        self.timings = timings or Timings()
        # Set while a gateway session is up (after on_ready).
        self.ready = asyncio.Event()
        self.client: DiscordClient | None = None
        # Whether the gateway connection is up now (it drops and resumes; ready stays set meanwhile).
        self.online = False

    def sender(self) -> DiscordSender:
        return DiscordSender(self.connected, self.limits)

    def health(self) -> str | None:
        if not self.ready.is_set():
            return "discord: not connected yet"
        if not self.online:
            return "discord: the gateway connection is down (reconnecting)"
        return None

    async def connected(self) -> DiscordClient:
        """The client, once its session is up."""
        await self.ready.wait()
        if self.client is None:
            raise RuntimeError("the Discord client stopped")
        return self.client

    async def run(self, core: Port, stop: asyncio.Event) -> None:
        # Applied here, never at import: discord.py reads both from class attributes.
        discord.http.Route.BASE = self.settings.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.settings.gateway_url)
        settings = self.settings
        if settings.shard_count is None:
            client = DiscordClient(self, core)
        else:
            client = ShardedDiscordClient(
                self,
                core,
                shard_count=settings.shard_count,
                shard_ids=[int(shard) for shard in settings.shard_ids] or None,
            )
        self.client = client
        running = asyncio.ensure_future(client.start(self.token))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            self.ready.clear()
            await client.close()
            self.client = None
        try:
            await running
        except discord.LoginFailure as exc:
            raise _refused(exc) from exc


def _refused(exc: discord.LoginFailure) -> AdapterError:
    return AdapterError(f"Discord refused the bot token in {TOKEN_ENV} ({exc})")


def _counting_429s(core: Port) -> aiohttp.TraceConfig:
    """Every 429 Discord answers, for the metrics: discord.py waits most of them out by itself."""

    async def ended(session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestEndParams) -> None:
        if params.response.status == 429:
            core.rate_limited(PLATFORM)

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(ended)
    return trace


class DiscordClient(discord.Client):
    def __init__(self, adapter: DiscordAdapter, core: Port, **sharding: Any) -> None:
        # No privileged intent: servers (for their channels and roles), and the messages of DMs and of
        # server channels, whose text Discord only shows the bot when it is mentioned.
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.dm_messages = True
        super().__init__(
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=adapter.timings.guild_ready_timeout,
            max_ratelimit_timeout=MAX_RATELIMIT_SLEEP,
            http_trace=_counting_429s(core),
            **sharding,
        )
        self.adapter = adapter
        self.core = core
        self.tree: app_commands.CommandTree[DiscordClient] = app_commands.CommandTree(self)
        self.servers = Servers(core, adapter.settings.organiser_servers)
        # One person's events are handled one after the other (Discord dispatches each in its own task):
        # two quick clicks must not both act on the same stored form.
        self._turns: KeyedLocks[int] = KeyedLocks()
        # The core's commands by name (whether each is personal, for organisers).
        self.commands = {command.name: command for command in core.commands()}
        # Command name -> the id Discord gave it: known once the commands are registered.
        self.command_ids: dict[str, int] = {}

    # ----------------------------------------------------------------------------- start-up

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if self.adapter.timings.wait_before_reidentify:
            await super().before_identify_hook(shard_id, initial=initial)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ChoiceButton, StaleButton)
        for command in core_commands(self.core, self._run_command):
            self.tree.add_command(command)
        self.tree.add_command(setup_group(self.core, self))
        translator = CoreTranslator(self.core.strings, self.core.default_language)
        await self.tree.set_translator(translator)
        await self._sync_commands(translator)
        application = self.application
        if application is not None and application.bot_public and not self.adapter.settings.organiser_servers:
            log.warning(
                "this Discord application is public: anyone can add the bot to a server and make a role of it "
                "organisers. Turn off Public Bot in the developer portal, or list the servers you trust in the "
                "configuration (discord.organiser_servers)"
            )

    async def _sync_commands(self, translator: CoreTranslator) -> None:
        """Register the commands with Discord, only if they differ from the last registered ones."""
        if self.application_id is None:
            raise RuntimeError("setup_hook runs after login, which sets the application id")
        wanted = await digest(self.tree, translator, self.application_id)
        store = self.core.settings(PLATFORM)
        known = await store.get(GLOBAL_SCOPE, COMMAND_IDS)
        if await store.get(GLOBAL_SCOPE, COMMANDS_HASH) == wanted:
            log.info("the slash commands are registered already")
            if known is not None:
                self.command_ids = {str(name): int(value) for name, value in json.loads(known).items()}
                return
            try:
                registered = await self.tree.fetch_commands()
            except discord.HTTPException:
                log.warning("could not read the registered commands' ids: command mentions show as text")
                return
        else:
            try:
                registered = await self.tree.sync()
            except discord.HTTPException:
                log.exception("could not register the slash commands; the ones registered before stay")
                return
            await store.set(GLOBAL_SCOPE, COMMANDS_HASH, wanted)
            log.info("registered %d slash commands", len(self.tree.get_commands()))
        self.command_ids = {command.name: command.id for command in registered}
        await store.set(GLOBAL_SCOPE, COMMAND_IDS, json.dumps(self.command_ids))

    async def on_ready(self) -> None:
        self.adapter.online = True
        self.adapter.ready.set()
        log.info("connected to Discord, in %d server(s)", len(self.guilds))

    async def on_resumed(self) -> None:
        self.adapter.online = True

    async def on_disconnect(self) -> None:
        self.adapter.online = False

    # ----------------------------------------------------------------------------- people and places

    async def _language(self, guild: discord.Guild | None, reported: str | None) -> str | None:
        """The language to assume: the server's /setup language there, else what the person's app reports."""
        chosen = None if guild is None else await self.servers.language(guild.id)
        return chosen or reported

    async def _is_organiser(self, guild: discord.Guild | None, user: discord.abc.User) -> bool:
        """Whether the member holds the server's organiser role (and the server may grant it)."""
        if guild is None or not isinstance(user, discord.Member):
            return False
        role_id = await self.servers.organiser_role(guild.id)
        return role_id is not None and user.get_role(role_id) is not None

    async def _event(self, interaction: discord.Interaction[Any], content: Input, place: Place) -> Event:
        language = await self._language(interaction.guild, interaction.locale.value)
        user = User(PLATFORM, str(interaction.user.id), language)
        organiser = await self._is_organiser(interaction.guild, interaction.user)
        return Event(user, place.chat, content, organiser=organiser)

    async def _lang(self, event: Event) -> str:
        return (await self.core.current(event)).lang

    @staticmethod
    def _public_place(interaction: discord.Interaction[Any], *, ephemeral: bool) -> Place:
        """Where the interaction happened: a DM (private), or a server channel."""
        if interaction.guild_id is None:
            return Place(Chat(str(interaction.channel_id), ChatKind.PRIVATE))
        return Place(Chat(group_chat_id(interaction.channel_id or 0), ChatKind.GROUP), ephemeral)

    async def _private_place(self, interaction: discord.Interaction[Any]) -> Place:
        """The member's private chat with the bot: their DM channel, shown ephemerally in a server.

        Ephemeral answers are seen by the member alone, so a server's personal business goes on right
        where it started, as privately as in a DM, and also for members who accept no DMs; what is
        stored for later (subscriptions, broadcast reports) is addressed to the DM channel.
        """
        if interaction.guild_id is None:
            return self._public_place(interaction, ephemeral=False)
        user = interaction.user
        dm = user.dm_channel or await user.create_dm()
        return Place(Chat(str(dm.id), ChatKind.PRIVATE), ephemeral=True)

    async def _clicked_place(self, interaction: discord.Interaction[Any]) -> Place:
        """A click's place: an ephemeral message is private; a channel message is answered to the clicker."""
        message = interaction.message
        if interaction.guild_id is not None and message is not None and message.flags.ephemeral:
            return await self._private_place(interaction)
        return self._public_place(interaction, ephemeral=True)

    # ----------------------------------------------------------------------------- interactions

    async def _run_command(self, interaction: discord.Interaction[Any], name: str, args: str) -> None:
        command = self.commands[name]
        place = self._public_place(interaction, ephemeral=command.personal or command.organiser_only)
        await self._answer(interaction, Command(name, args), place)

    async def on_button(self, interaction: discord.Interaction[Any], kind: str, value: str) -> None:
        if kind == FORM:
            await self._open_form(interaction, value)
        elif kind == HANDOFF:
            await self._answer(interaction, Command("start", value), await self._private_place(interaction))
        else:
            await self._answer(interaction, ButtonPress(value), await self._clicked_place(interaction))

    async def on_stale_button(self, interaction: discord.Interaction[Any]) -> None:
        place = self._public_place(interaction, ephemeral=True)
        lang = await self._lang(await self._event(interaction, ButtonPress(""), place))
        reply = Reply(self.core.strings.rich(lang, "error.button_expired"), kind=ReplyKind.ERROR)
        await self._respond(interaction, Answer([reply], place), deferred=None)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        # Modals are handled from their custom id alone, so a form sent before a restart still works.
        if interaction.type is not discord.InteractionType.modal_submit or interaction.data is None:
            return
        found = re.fullmatch(rf"{VERSION}:{FORM}:(.+)", str(interaction.data.get("custom_id", "")))
        if found is not None:
            await self._form_submitted(interaction, found[1], forms.submitted_values(interaction.data))

    async def _open_form(self, interaction: discord.Interaction[Any], key: str) -> None:
        place = await self._clicked_place(interaction)
        event = await self._event(interaction, ButtonPress(""), place)
        now = await self.core.current(event)
        lang, form = now.lang, now.form
        if form is not None and form.key == key:
            await interaction.response.send_modal(forms.modal(self.core, form, lang))
            return
        reply = Reply(self.core.strings.rich(lang, "discord.form.expired"), kind=ReplyKind.ERROR)
        await self._respond(interaction, Answer([reply], place), deferred=None)

    async def _form_submitted(self, interaction: discord.Interaction[Any], key: str, values: dict[str, str]) -> None:
        place = await self._private_place(interaction)

        async def submit(event: Event) -> Outcome:
            now = await self.core.current(event)
            if now.form is None or not forms.answers(now.form, key, values):
                expired = Reply(self.core.strings.rich(now.lang, "discord.form.expired"), kind=ReplyKind.ERROR)
                return Outcome([expired], now.lang)
            return await forms.submit(self.core, event, now.form, values)

        await self._answer(interaction, Text(""), place, handle=submit)

    async def _answer(
        self, interaction: discord.Interaction[Any], content: Input, place: Place, *, handle: Handle | None = None
    ) -> None:
        """Handle one interaction and answer it, acknowledging it first if the work runs long."""
        event = await self._event(interaction, content, place)
        deferring: asyncio.Future[Any] | None = None

        def defer() -> None:
            nonlocal deferring
            deferring = asyncio.ensure_future(interaction.response.defer(ephemeral=place.ephemeral, thinking=True))

        timer = asyncio.get_running_loop().call_later(self.adapter.timings.defer_after, defer)
        try:
            answer = await self._work(interaction, event, place, handle or self.core.handle)
        finally:
            timer.cancel()
        if deferring is not None:
            await deferring
        # A form's question on its own opens the form at once; after an introduction (a petition's text
        # and privacy notice, which come first) the form waits for its button.
        opens_form = interaction.type is not discord.InteractionType.modal_submit and len(answer.replies) == 1
        if answer.form is not None and opens_form and deferring is None:
            await interaction.response.send_modal(forms.modal(self.core, answer.form, answer.lang))
            return
        await self._respond(interaction, answer, deferred=None if deferring is None else place.ephemeral)

    async def _work(self, interaction: discord.Interaction[Any], event: Event, place: Place, handle: Handle) -> Answer:
        async with self._turns.of(interaction.user.id):
            outcome = await handle(event)
            if any(reply.handoff for reply in outcome.replies) and interaction.guild_id is not None:
                # The core moves personal business to a private chat: here, the member's ephemeral one.
                # What they did themselves (a command, a click) is done there as they did it, not as a
                # link anyone could have sent them (which would ask them to confirm any change).
                place = await self._private_place(interaction)
                event = replace(event, chat=place.chat)
                outcome = await handle(event)
            return Answer(outcome.replies, place, outcome.form, outcome.lang)

    def _outgoing(self, answer: Answer) -> list[Outgoing]:
        messages: list[Outgoing] = []
        for index, reply in enumerate(answer.replies):
            extra: list[Choice] = []
            if answer.form is not None and index == len(answer.replies) - 1:
                extra.append(forms.choice(answer.form, self.core.strings.text(answer.lang, "discord.form.open")))
            if reply.handoff:
                label = self.core.strings.text(answer.lang, "button.continue_privately")
                extra.append(Choice(label, HANDOFF, reply.handoff))
            in_server = answer.place.chat.kind is ChatKind.GROUP
            ephemeral = answer.place.ephemeral or (reply.private and in_server)
            messages.extend(render(reply, extra=extra, ephemeral=ephemeral))
            if reply.share is not None:
                messages.append(Outgoing(self.share_mention(reply.share), ephemeral=ephemeral))
        return compact(messages)

    def share_mention(self, share: Share) -> str:
        """The shared command as a mention people can click (</pledge:ID>), or as text until its id is known."""
        command_id = self.command_ids.get(share.command)
        if command_id is None:
            return escape(f"/{share.command} {share.argument}".rstrip(), line_start=True)
        return f"</{share.command}:{command_id}>"

    async def _respond(self, interaction: discord.Interaction[Any], answer: Answer, *, deferred: bool | None) -> None:
        """Send the answer: the interaction's response, then follow-ups.

        ``deferred`` is the visibility of the "thinking…" message of a deferred interaction, which the
        first follow-up replaces and whose visibility it keeps: if that would show a private message
        in the channel, the placeholder is deleted instead.
        """
        for index, message in enumerate(self._outgoing(answer)):
            if index == 0 and deferred is False and message.ephemeral:
                await interaction.delete_original_response()
            if interaction.response.is_done():
                await interaction.followup.send(**message.kwargs(), ephemeral=message.ephemeral)
            else:
                await interaction.response.send_message(**message.kwargs(), ephemeral=message.ephemeral)

    # ----------------------------------------------------------------------------- messages

    async def on_message(self, message: discord.Message) -> None:
        me = self.user
        if message.author.bot or me is None:
            return
        if message.guild is None:
            chat, text = Chat(str(message.channel.id), ChatKind.PRIVATE), message.content
        elif me in message.mentions:
            chat = Chat(group_chat_id(message.channel.id), ChatKind.GROUP)
            text = re.sub(rf"<@!?{me.id}>", "", message.content).strip()
        else:
            # Discord only shows the bot the text of server messages that mention it.
            return
        language = await self._language(message.guild, None)
        organiser = await self._is_organiser(message.guild, message.author)
        event = Event(User(PLATFORM, str(message.author.id), language), chat, parse_text(text), organiser=organiser)
        async with self._turns.of(message.author.id):
            outcome = await self.core.handle(event)
            answer = Answer(outcome.replies, Place(chat), outcome.form, outcome.lang)
        reference: discord.Message | None = message if message.guild is not None else None
        for outgoing in self._outgoing(answer):
            target: discord.abc.Messageable = message.channel
            if outgoing.ephemeral:
                # A private reply to a server message goes to the author's DMs, never to the channel.
                target = message.author.dm_channel or await message.author.create_dm()
            elif reference is not None:
                await reference.reply(**outgoing.kwargs())
                reference = None
                continue
            await target.send(**outgoing.kwargs())

    # ----------------------------------------------------------------------------- servers

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        await self.servers.forget(guild.id)
        log.info("left a server: its settings are forgotten")

    async def _setup(
        self,
        interaction: discord.Interaction[Any],
        change: Callable[[discord.Guild, str], Awaitable[RichText]],
    ) -> None:
        """Run a /setup change for a member with Manage Server, in a server; answer ephemerally."""
        place = self._public_place(interaction, ephemeral=True)
        event = await self._event(interaction, Command("setup"), place)
        lang = await self._lang(event)
        guild = interaction.guild
        if guild is None:
            text = self.core.strings.rich(lang, "discord.setup.guild_only")
        elif not interaction.permissions.manage_guild:
            # Discord's client hides /setup from other members, but it does not stop them.
            log.warning("refused /setup to a member without Manage Server")
            text = self.core.strings.rich(lang, "discord.setup.refused")
        else:
            text = await change(guild, lang)
        kind = ReplyKind.INFO if guild is not None and interaction.permissions.manage_guild else ReplyKind.REFUSAL
        await self._respond(interaction, Answer([Reply(text, kind=kind)], place), deferred=None)

    async def setup_announcements(self, interaction: discord.Interaction[Any], channel_id: int | None) -> None:
        await self._setup(interaction, lambda guild, lang: self.servers.announce_in(guild, channel_id, lang))

    async def setup_organisers(self, interaction: discord.Interaction[Any], role_id: int | None) -> None:
        await self._setup(interaction, lambda guild, lang: self.servers.appoint(guild, role_id, lang))

    async def setup_language(self, interaction: discord.Interaction[Any], language: str) -> None:
        await self._setup(interaction, lambda guild, lang: self.servers.speak(guild, language))


class ShardedDiscordClient(DiscordClient, discord.AutoShardedClient):
    """The same client over several gateway connections (``discord.shard_count``, ``discord.shard_ids``):
    Discord sends each server's events to one shard only, so processes serving different shards
    split the servers between them."""


def _token() -> str:
    token = secret_env(TOKEN_ENV)
    if not token:
        raise AdapterError(
            f"the discord adapter needs the bot's token in the {TOKEN_ENV} environment variable "
            "(Discord developer portal > your application > Bot > Reset Token)"
        )
    return token


def create(setup: Setup[DiscordConfig]) -> DiscordAdapter:
    return DiscordAdapter(setup.settings, setup.limits, _token())


async def check(settings: DiscordConfig) -> str:
    """The token is set and Discord accepts it (GET /users/@me): for ``advocacy-bot doctor``."""
    token = _token()
    discord.http.Route.BASE = settings.api_base
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    try:
        me = await http.static_login(token)
    except discord.LoginFailure as exc:
        raise _refused(exc) from exc
    except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
        raise AdapterError(f"cannot reach Discord at {settings.api_base}: {exc}") from exc
    finally:
        await http.close()
    return f"{me['username']} accepts the token"
