"""Contract tests: the real discord.py 2.7 against the fake Discord of ``tests/fakes/discord.py``.

If these pass, the fake answers as Discord does for everything the adapter relies on; if a discord.py
upgrade breaks them, ``test_payload_builders_parse_with_discord_py`` names the payload builder to fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import types
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, cast

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
import yarl
from discord import app_commands
from discord.interactions import InteractionCallbackResponse
from fakes import discord_payloads as payloads
from fakes.discord import FakeDiscord, FakeGuild, Pings, would_ping
from fakes.discord_payloads import CallbackType, GatewayOp

if TYPE_CHECKING:
    # Declarations for type checkers only: at run time these modules import each other in a cycle.
    from discord.types.appinfo import AppInfo as AppInfoPayload
    from discord.types.channel import DMChannel as DMChannelPayload
    from discord.types.channel import NewsChannel as NewsChannelPayload
    from discord.types.command import ApplicationCommand as ApplicationCommandPayload
    from discord.types.guild import Guild as GuildPayload
    from discord.types.interactions import Interaction as InteractionPayload
    from discord.types.interactions import InteractionCallback as InteractionCallbackPayload
    from discord.types.member import MemberWithUser as MemberPayload
    from discord.types.message import Message as MessagePayload
    from discord.types.role import Role as RolePayload
    from discord.types.user import User as UserPayload

TOKEN = "contract-test-token"
NO_PINGS = discord.AllowedMentions.none()
EVENT_TIMEOUT = 5.0


class Observed:
    """What the bot's handlers saw, by name, for tests to wait on."""

    def __init__(self) -> None:
        self.events: defaultdict[str, list[Any]] = defaultdict(list)
        self._condition = asyncio.Condition()

    async def record(self, name: str, value: Any = None) -> None:
        async with self._condition:
            self.events[name].append(value)
            self._condition.notify_all()

    async def wait(self, name: str, count: int = 1) -> list[Any]:
        async with self._condition:
            try:
                seen = self._condition.wait_for(lambda: len(self.events[name]) >= count)
                await asyncio.wait_for(seen, EVENT_TIMEOUT)
            except TimeoutError:
                raise AssertionError(f"{name!r} seen {len(self.events[name])} times, expected {count}") from None
        return self.events[name][:count]


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(label="Your feedback", custom_id="feedback:text")

    def __init__(self, observed: Observed) -> None:
        super().__init__(custom_id="feedback", timeout=None)
        self.observed = observed

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.observed.record("feedback", self.text.value)
        await interaction.response.send_message("Thank you", ephemeral=True)


class SubscribeView(discord.ui.View):
    """A persistent view: no timeout and a fixed custom_id, so clicks work after a restart."""

    def __init__(self, observed: Observed) -> None:
        super().__init__(timeout=None)
        self.observed = observed

    @discord.ui.button(label="Subscribe", custom_id="subscribe:toggle")
    async def toggle(self, interaction: discord.Interaction, button: discord.ui.Button[SubscribeView]) -> None:
        await self.observed.record("subscribe", interaction.user.id)
        await interaction.response.edit_message(content="Subscribed")


class MenuView(discord.ui.View):
    """An ordinary view, sent with an interaction response and bound to that message."""

    def __init__(self, observed: Observed) -> None:
        super().__init__(timeout=60)
        self.observed = observed

    @discord.ui.button(label="More", custom_id="menu:more")
    async def more(self, interaction: discord.Interaction, button: discord.ui.Button[MenuView]) -> None:
        await self.observed.record("more", interaction.message)
        await interaction.response.send_message("More about naloxone", ephemeral=True)


class ContractBot(discord.Client):
    def __init__(self) -> None:
        # No privileged intents, and on_ready 0.1 s after the last GUILD_CREATE instead of 2 s.
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.1)
        self.observed = Observed()
        self.tree = app_commands.CommandTree(self)
        self._add_commands()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """The library sleeps 5 s before every IDENTIFY but the first (Discord's identify rate limit)."""

    async def setup_hook(self) -> None:
        self.add_view(SubscribeView(self.observed))

    async def on_ready(self) -> None:
        await self.observed.record("ready")

    async def on_resumed(self) -> None:
        await self.observed.record("resumed")

    async def on_message(self, message: discord.Message) -> None:
        await self.observed.record("message", message)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.observed.record("guild_join", guild.id)

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        await self.observed.record("guild_remove", guild.id)

    def _add_commands(self) -> None:
        tree, observed = self.tree, self.observed

        @tree.command(name="ask", description="Ask a question")
        async def ask(interaction: discord.Interaction, question: str, count: int = 1) -> None:
            await observed.record("ask", (interaction.user, interaction.locale))
            await interaction.response.send_message(f"{question} x{count}", allowed_mentions=NO_PINGS)

        @tree.command(name="secret", description="An ephemeral answer")
        async def secret(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Only you can see this", ephemeral=True)

        @tree.command(name="slow", description="Deferred, then a follow-up")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send("Done thinking", allowed_mentions=NO_PINGS)
            await interaction.edit_original_response(content="Done thinking, edited")

        @tree.command(name="menu", description="A message with a button")
        async def menu(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Naloxone", view=MenuView(observed))

        @tree.command(name="feedback", description="Opens a modal")
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(FeedbackModal(observed))

        @tree.command(name="settings", description="Server settings")
        @app_commands.guild_only()
        @app_commands.default_permissions(manage_guild=True)
        @app_commands.checks.has_permissions(manage_guild=True)
        async def settings(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Settings", ephemeral=True)

        @settings.error
        async def settings_refused(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
            await interaction.response.send_message("You need Manage Server", ephemeral=True)

        admin = app_commands.Group(name="admin", description="Administration")

        @admin.command(name="broadcast", description="Send to every subscriber")
        async def broadcast(interaction: discord.Interaction, text: str) -> None:
            await interaction.response.send_message(f"Broadcast: {text}", allowed_mentions=NO_PINGS)

        tree.add_command(admin)


@contextlib.asynccontextmanager
async def running(client: ContractBot) -> AsyncIterator[ContractBot]:
    """``client.start`` as a task until on_ready; closed (and its errors raised) afterwards."""
    task = asyncio.create_task(client.start(TOKEN))
    try:
        ready = asyncio.create_task(client.observed.wait("ready"))
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            task.result()
            raise AssertionError("the client stopped before on_ready")
        ready.result()
        yield client
    finally:
        await client.close()
        await task


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=TOKEN, heartbeat_interval_ms=1000) as server:
        # Both overrides are needed: REST (including interactions and webhooks) and the gateway.
        monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url))
        yield server


@pytest.fixture
def guild(fake: FakeDiscord) -> FakeGuild:
    return fake.add_guild("Harm Reduction Hub", channels=("general",), announcement_channels=("announcements",))


@pytest.fixture
async def bot(fake: FakeDiscord, guild: FakeGuild) -> AsyncIterator[ContractBot]:
    async with running(ContractBot()) as client:
        yield client


def text_channel(bot: ContractBot, channel_id: int) -> discord.TextChannel:
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


# --- start-up --------------------------------------------------------------------------------


async def test_login_ready_and_guild(fake: FakeDiscord, guild: FakeGuild, bot: ContractBot) -> None:
    login = [f"{call.method} {call.path}" for call in fake.calls[:2]]
    assert login == ["GET /users/@me", "GET /oauth2/applications/@me"]
    assert all(call.headers["Authorization"] == f"Bot {TOKEN}" for call in fake.calls)
    assert fake.identifies[0]["token"] == TOKEN
    assert fake.intents == discord.Intents.default().value
    assert bot.user is not None and bot.user.id == fake.bot_user_id
    assert bot.application_id == fake.application_id

    connected = bot.get_guild(guild.id)
    assert connected is not None and connected.name == "Harm Reduction Hub"
    assert connected.default_role.id == guild.id
    assert connected.me is not None
    assert text_channel(bot, guild.channels["announcements"]).is_news()
    assert not text_channel(bot, guild.channels["general"]).is_news()

    await fake.wait_for_op(GatewayOp.HEARTBEAT)
    assert bot.latency < 1.0  # the heartbeat was acknowledged
    assert await bot.http.get_bot_gateway() == (1, fake.gateway_url, payloads.gateway_bot("")["session_start_limit"])


async def test_privileged_intents_must_be_enabled_for_the_bot(fake: FakeDiscord, guild: FakeGuild) -> None:
    client = discord.Client(intents=discord.Intents(guilds=True, message_content=True))
    try:
        with pytest.raises(discord.PrivilegedIntentsRequired):
            await asyncio.wait_for(client.start(TOKEN), 5)
    finally:
        await client.close()


async def test_sync_registers_commands_as_discord_serialises_them(
    fake: FakeDiscord, guild: FakeGuild, bot: ContractBot
) -> None:
    synced = await bot.tree.sync()

    (put,) = fake.calls_to("PUT", f"/applications/{fake.application_id}/commands")
    sent = {command["name"]: command for command in put.json}
    assert set(sent) == {"ask", "secret", "slow", "menu", "feedback", "settings", "admin"}
    settings = sent["settings"]
    assert settings["dm_permission"] is False
    # discord.py sends the permission bits as an int; Discord's echo (and docs) use the string "32".
    assert settings["default_member_permissions"] == 32
    assert settings["contexts"] == [0]
    echoed = next(command for command in fake.commands() if command["name"] == "settings")
    assert echoed["default_member_permissions"] == "32"
    assert [option["name"] for option in sent["ask"]["options"]] == ["question", "count"]
    assert {command.name: command.id for command in synced} == {
        command["name"]: int(command["id"]) for command in fake.commands()
    }

    assert await bot.tree.sync(guild=discord.Object(guild.id)) == []
    assert fake.calls_to("PUT", "/applications/{app}/guilds/{guild}/commands")[0].json == []


# --- interactions ----------------------------------------------------------------------------


async def test_slash_command_with_options_gets_a_message_response(
    fake: FakeDiscord, guild: FakeGuild, bot: ContractBot
) -> None:
    await bot.tree.sync()
    ref = await fake.slash_command(
        "ask", {"question": "what is naloxone", "count": 2}, channel_id=guild.default_channel_id, locale="pt-BR"
    )

    call = await fake.wait_for_response(ref)
    assert call.json["type"] == CallbackType.CHANNEL_MESSAGE
    assert call.json["data"]["content"] == "what is naloxone x2"
    assert call.response["resource"]["message"]["content"] == "what is naloxone x2"
    (sent,) = fake.sent_messages(guild.channels["general"])
    assert sent.kind == "interaction_response" and not sent.ephemeral and sent.interaction_id == ref.id
    ((user, locale),) = bot.observed.events["ask"]
    assert isinstance(user, discord.Member) and user.id == fake.default_user_id
    assert locale is discord.Locale.brazil_portuguese


async def test_ephemeral_reply_in_a_dm(fake: FakeDiscord, bot: ContractBot) -> None:
    ref = await fake.slash_command("secret")

    call = await fake.wait_for_response(ref)
    assert call.json["type"] == CallbackType.CHANNEL_MESSAGE
    assert call.json["data"]["flags"] == payloads.EPHEMERAL
    assert call.response["interaction"]["response_message_ephemeral"] is True
    (sent,) = fake.sent_messages()
    assert sent.ephemeral and sent.content == "Only you can see this"


async def test_defer_then_follow_up(fake: FakeDiscord, bot: ContractBot) -> None:
    ref = await fake.slash_command("slow")

    deferred = await fake.wait_for_response(ref)
    assert deferred.json["type"] == CallbackType.DEFERRED_CHANNEL_MESSAGE
    assert deferred.response["interaction"]["response_message_loading"] is True
    (follow_up,) = await fake.wait_for(f"POST /webhooks/{fake.application_id}/{ref.token}")
    assert follow_up.headers.get("Authorization") is None
    await fake.wait_for(f"PATCH /webhooks/{fake.application_id}/{ref.token}/messages/@original")
    sent = fake.sent_messages()
    assert [(message.kind, message.content) for message in sent] == [
        ("followup", "Done thinking"),
        ("edit", "Done thinking, edited"),
    ]
    # The first follow-up after a defer replaces the "is thinking..." message rather than adding one.
    placeholder_id = int(deferred.response["resource"]["message"]["id"])
    assert {message.message_id for message in sent} == {placeholder_id}


async def test_subcommand_in_a_group(fake: FakeDiscord, guild: FakeGuild, bot: ContractBot) -> None:
    ref = await fake.slash_command("admin broadcast", {"text": "@everyone meet at 6"}, guild_id=guild.id)

    call = await fake.wait_for_response(ref)
    assert call.json["data"]["content"] == "Broadcast: @everyone meet at 6"
    assert not fake.mentions_that_would_ping(call)


async def test_default_permissions_are_not_enforced_by_the_library(
    fake: FakeDiscord, guild: FakeGuild, bot: ContractBot
) -> None:
    refused = await fake.slash_command("settings", guild_id=guild.id)
    assert (await fake.wait_for_response(refused)).json["data"]["content"] == "You need Manage Server"

    allowed = await fake.slash_command(
        "settings", guild_id=guild.id, permissions=payloads.EVERYONE_PERMISSIONS | payloads.MANAGE_GUILD
    )
    assert (await fake.wait_for_response(allowed)).json["data"]["content"] == "Settings"


async def test_persistent_view_button_click(fake: FakeDiscord, guild: FakeGuild, bot: ContractBot) -> None:
    # The view's message predates this process: the fake makes it up, as after a bot restart.
    ref = await fake.button_click("subscribe:toggle", guild_id=guild.id)

    call = await fake.wait_for_response(ref)
    assert call.json["type"] == CallbackType.UPDATE_MESSAGE
    assert bot.observed.events["subscribe"] == [fake.default_user_id]
    (sent,) = fake.sent_messages()
    assert sent.kind == "edit" and sent.content == "Subscribed"


async def test_button_on_a_response_message(fake: FakeDiscord, guild: FakeGuild, bot: ContractBot) -> None:
    shown = await fake.wait_for_response(await fake.slash_command("menu", guild_id=guild.id))
    menu_id = int(shown.response["resource"]["message"]["id"])

    clicked = await fake.button_click("menu:more")  # finds the bot's latest message showing the button

    answer = await fake.wait_for_response(clicked)
    assert answer.json["data"]["content"] == "More about naloxone"
    (message,) = bot.observed.events["more"]
    assert message.id == menu_id


async def test_modal_is_shown_and_its_submission_handled(fake: FakeDiscord, bot: ContractBot) -> None:
    opened = await fake.slash_command("feedback")
    shown = await fake.wait_for_response(opened)
    assert shown.json["type"] == CallbackType.MODAL
    assert shown.json["data"]["custom_id"] == "feedback"

    submitted = await fake.modal_submit("feedback", {"feedback:text": "More naloxone, please"})

    assert await bot.observed.wait("feedback") == ["More naloxone, please"]
    answer = await fake.wait_for_response(submitted)
    assert answer.json["data"]["content"] == "Thank you" and answer.json["data"]["flags"] == payloads.EPHEMERAL
    with pytest.raises(AssertionError, match="no modal 'other'"):
        await fake.modal_submit("other", {})


async def test_interaction_callbacks_are_checked_like_discord(fake: FakeDiscord, bot: ContractBot) -> None:
    answered = await fake.slash_command("secret")
    await fake.wait_for_response(answered)
    unanswered = await fake.button_click("nobody:listens")  # no view has it: the bot never answers

    async with aiohttp.ClientSession() as session:

        async def callback(ref_id: int, token: str) -> tuple[int, Any]:
            url = f"{fake.api_base}/interactions/{ref_id}/{token}/callback?with_response=true"
            async with session.post(url, json={"type": 4, "data": {"content": "again"}}) as response:
                return response.status, await response.json()

        assert await callback(answered.id, answered.token) == (
            400,
            payloads.error(40060, "Interaction has already been acknowledged."),
        )
        assert (await callback(unanswered.id, "wrong-token"))[1]["code"] == 10062
        fake.interaction_deadline = 0.0
        assert (await callback(unanswered.id, unanswered.token))[1]["code"] == 10062


# --- messages, DMs, mentions -----------------------------------------------------------------


async def test_dm_with_no_pings_and_a_message_that_would_ping(
    fake: FakeDiscord, guild: FakeGuild, bot: ContractBot
) -> None:
    user_id = fake.add_user("reader")
    dm = await bot.create_dm(discord.Object(user_id))
    await dm.send(f"Hello @everyone and <@{user_id}>", allowed_mentions=NO_PINGS)

    assert [call.route for call in fake.calls[-2:]] == [
        "POST /users/@me/channels",
        "POST /channels/{channel_id}/messages",
    ]
    assert fake.calls[-2].json == {"recipient_id": user_id}
    (quiet,) = fake.sent_messages(dm.id)
    assert quiet.allowed_mentions == {"parse": []}
    assert fake.mentions_that_would_ping(quiet) == Pings()

    await text_channel(bot, guild.channels["general"]).send("@everyone meeting now")
    loud = fake.sent_messages(guild.channels["general"])[-1]
    assert loud.allowed_mentions is None
    assert fake.mentions_that_would_ping(loud).everyone


async def test_announcement_channel_message_is_published(fake: FakeDiscord, guild: FakeGuild, bot: ContractBot) -> None:
    message = await text_channel(bot, guild.channels["announcements"]).send(
        "Campaign update", allowed_mentions=NO_PINGS
    )
    await message.publish()

    (crosspost,) = fake.calls_to("POST", "/channels/{channel}/messages/{message}/crosspost")
    assert crosspost.status == 200 and crosspost.response["flags"] & payloads.CROSSPOSTED
    with pytest.raises(discord.HTTPException) as raised:
        await message.publish()
    assert raised.value.code == 40033


async def test_file_upload(fake: FakeDiscord, guild: FakeGuild, bot: ContractBot) -> None:
    upload = discord.File(io.BytesIO(b"naloxone: where to get it"), filename="naloxone.txt")

    message = await text_channel(bot, guild.channels["general"]).send("The list", file=upload)

    (call,) = fake.calls_to("POST", "/channels/*/messages")
    assert call.files == ("naloxone.txt",) and call.json["content"] == "The list"
    assert [attachment.filename for attachment in message.attachments] == ["naloxone.txt"]


async def test_overlong_content_is_rejected(fake: FakeDiscord, guild: FakeGuild, bot: ContractBot) -> None:
    with pytest.raises(discord.HTTPException) as raised:
        await text_channel(bot, guild.channels["general"]).send("x" * 2001)

    assert raised.value.status == 400 and raised.value.code == 50035
    assert "content" in raised.value.text
    assert fake.sent_messages() == []


async def test_user_messages_reach_on_message(fake: FakeDiscord, guild: FakeGuild, bot: ContractBot) -> None:
    await fake.message_create("hello from a DM")
    await fake.message_create(f"<@{fake.bot_user_id}> hello from the guild", guild_id=guild.id)
    await fake.message_create("chatter the bot may not read", guild_id=guild.id)

    dm, mention, chatter = await bot.observed.wait("message", 3)
    assert isinstance(dm.channel, discord.DMChannel) and dm.content == "hello from a DM"
    assert mention.guild is not None and mention.guild.id == guild.id
    assert bot.user in mention.mentions and mention.content.endswith("hello from the guild")
    # Without the privileged message_content intent Discord blanks guild messages that do not mention the bot.
    assert chatter.content == ""


# --- failures and rate limits ----------------------------------------------------------------


async def test_rate_limited_request_is_retried(fake: FakeDiscord, guild: FakeGuild, bot: ContractBot) -> None:
    fake.fail("POST", "/channels/{channel_id}/messages", 429, retry_after=0.05)
    fake.fail("POST", "/channels/{channel_id}/messages", 429, retry_after=0.05, global_=True)

    await text_channel(bot, guild.channels["general"]).send("after a pause", allowed_mentions=NO_PINGS)

    calls = fake.calls_to("POST", "/channels/*/messages")
    assert [call.status for call in calls] == [429, 429, 200]
    assert [call.response for call in calls[:2]] == [
        payloads.rate_limited(0.05, global_=False),
        payloads.rate_limited(0.05, global_=True),
    ]
    assert [sent.content for sent in fake.sent_messages()] == ["after a pause"]


async def test_closed_dms_raise_forbidden_50007(fake: FakeDiscord, bot: ContractBot) -> None:
    closed, scripted = fake.add_user("closed"), fake.add_user("scripted")
    fake.close_dms(closed)
    fake.fail("POST", "/channels/*/messages", 403, code=50007, times=1)

    # The scripted failure answers the first send whatever the user; close_dms answers every send to one user.
    for user_id in (scripted, closed, closed):
        with pytest.raises(discord.Forbidden) as raised:
            await (await bot.create_dm(discord.Object(user_id))).send("hi")
        assert raised.value.code == 50007
        assert raised.value.text == "Cannot send messages to this user"


async def test_server_errors_are_retried_then_raised(
    fake: FakeDiscord, guild: FakeGuild, bot: ContractBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FastAsyncio(types.ModuleType):
        """discord.http's asyncio, with its 1, 3, 5, 7 s back-off after a 5xx shrunk a hundredfold."""

        def __getattr__(self, name: str) -> Any:
            return getattr(asyncio, name)

        @staticmethod
        async def sleep(delay: float) -> None:
            await asyncio.sleep(delay / 100)

    monkeypatch.setattr(discord.http, "asyncio", FastAsyncio("asyncio"))
    fake.fail("POST", "/channels/*/messages", 500, times=5)

    with pytest.raises(discord.DiscordServerError):
        await text_channel(bot, guild.channels["general"]).send("never arrives")

    assert [call.status for call in fake.calls_to("POST", "/channels/*/messages")] == [500] * 5


async def test_flood_over_the_global_limit_is_recorded(fake: FakeDiscord) -> None:
    headers = {"Authorization": f"Bot {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def get_me() -> tuple[int, str, Any, str | None]:
            async with session.get(f"{fake.api_base}/users/@me") as response:
                return (
                    response.status,
                    response.headers["Content-Type"],
                    await response.json(),
                    response.headers.get("Via"),
                )

        answers = await asyncio.gather(*(get_me() for _ in range(60)))
        async with session.get(f"{fake.api_base}/users/@me", headers={"Authorization": "Bot wrong"}) as response:
            unauthorised = response.status, await response.json()

    assert all(content_type == "application/json" for _, content_type, _, _ in answers)
    limited = [body for status, _, body, via in answers if status == 429 and via]
    assert len(limited) == len(fake.rate_limit_violations) == 10
    assert all(body["global"] for body in limited)
    assert unauthorised == (401, {"message": "401: Unauthorized", "code": 0})


# --- gateway sessions ------------------------------------------------------------------------


async def test_reconnect_resumes_and_loses_no_event(fake: FakeDiscord, bot: ContractBot) -> None:
    await fake.message_create("before")
    await bot.observed.wait("message")

    await fake.reconnect()
    await fake.message_create("during")  # no client attached: kept for the replay
    (resume,) = await fake.wait_for_op(GatewayOp.RESUME)
    await fake.wait_connected()
    await fake.message_create("after")

    received = await bot.observed.wait("message", 3)
    assert [message.content for message in received] == ["before", "during", "after"]
    # The gateway is ordered: a duplicate from the replay would have arrived before "after".
    assert len(bot.observed.events["message"]) == 3
    assert resume.data["session_id"] == fake.session_id and resume.path == "/resume-gateway"
    assert len(fake.identifies) == 1
    await bot.observed.wait("resumed")


async def test_dropped_connection_is_resumed(fake: FakeDiscord, bot: ContractBot) -> None:
    await fake.drop_connection()
    await fake.message_create("while down")

    (message,) = await bot.observed.wait("message")
    assert message.content == "while down"
    assert len(fake.resumes) == 1 and len(fake.identifies) == 1


async def test_invalid_session_makes_the_client_identify_again(fake: FakeDiscord, bot: ContractBot) -> None:
    first_session = fake.session_id

    await fake.invalidate_session(resumable=False)

    second = (await fake.wait_for_op(GatewayOp.IDENTIFY, 2))[1]
    assert second.path == "/gateway"
    await fake.wait_ready()
    await bot.observed.wait("ready", 2)
    assert fake.session_id not in (None, first_session)
    assert fake.resumes == []


async def test_guild_join_leave_and_removal(fake: FakeDiscord, guild: FakeGuild, bot: ContractBot) -> None:
    other = fake.add_guild("Drug Policy Forum")
    await fake.guild_create(other)
    assert await bot.observed.wait("guild_join") == [other.id]

    joined = bot.get_guild(other.id)
    assert joined is not None
    await joined.leave()
    await fake.guild_delete(guild.id)

    assert await bot.observed.wait("guild_remove", 2) == [other.id, guild.id]
    assert not bot.guilds


# --- payloads --------------------------------------------------------------------------------


async def test_payload_builders_parse_with_discord_py(fake: FakeDiscord, guild: FakeGuild, bot: ContractBot) -> None:
    """Every builder's output through discord.py's own models; a failure names the builder to fix.

    READY, GUILD_CREATE, HELLO and the login answers went through the client's parsers on the way here.
    The builders return JSON as the wire carries it, which discord.py's client reads from ``json.loads``
    untyped; handed to the models here, each is cast to the payload type its model declares.
    """
    state = bot._connection
    connected, me = bot.get_guild(guild.id), bot.user
    assert connected is not None and me is not None
    user = payloads.user(901, "reader")
    channel = payloads.text_channel(902, guild.id, "general")
    message = payloads.message(904, 902, user, "hi", guild_id=guild.id, member=payloads.partial_member())
    in_guild = payloads.InteractionOrigin(905, fake.application_id, "token-1", user, channel, guild_id=guild.id)
    in_dm = payloads.InteractionOrigin(906, fake.application_id, "token-2", user, payloads.dm_channel(903, user))
    subcommand = payloads.subcommand_option("broadcast", [payloads.command_option("text", "x", 3)])
    guild_data = payloads.guild_create(911, "g", owner_id=901, channels=[channel], members=[payloads.member(user)])

    def interaction(data: payloads.JSON) -> discord.Interaction[ContractBot]:
        return discord.Interaction(data=cast("InteractionPayload", data), state=state)

    def answered_slash_command() -> InteractionCallbackResponse[ContractBot]:
        parent = interaction(payloads.slash_command_interaction(in_guild, command_id=907, name="ask"))
        answer = payloads.message(916, 902, user, "ok")
        data = payloads.interaction_callback(interaction_id=905, interaction_type=2, callback_type=4, message=answer)
        return InteractionCallbackResponse(
            data=cast("InteractionCallbackPayload", data),
            parent=parent,
            state=state,
            type=discord.InteractionResponseType.channel_message,
        )

    checks: dict[str, Callable[[], bool]] = {
        "user": lambda: discord.User(state=state, data=cast("UserPayload", user)).name == "reader",
        "current_user": lambda: (
            discord.ClientUser(state=state, data=cast("UserPayload", payloads.current_user(908, "bot"))).bot
        ),
        "role": lambda: (
            discord.Role(guild=connected, state=state, data=cast("RolePayload", payloads.role(909, "mods"))).name
            == "mods"
        ),
        "member": lambda: (
            discord.Member(data=cast("MemberPayload", payloads.member(user)), guild=connected, state=state).id == 901
        ),
        "text_channel": lambda: discord.TextChannel(
            state=state,
            guild=connected,
            data=cast("NewsChannelPayload", payloads.text_channel(910, guild.id, "news", announcement=True)),
        ).is_news(),
        "dm_channel": lambda: (
            discord.DMChannel(me=me, state=state, data=cast("DMChannelPayload", in_dm.channel)).recipient is not None
        ),
        "guild_create": lambda: (
            discord.Guild(data=cast("GuildPayload", guild_data), state=state).default_role.id == 911
        ),
        "rest_guild": lambda: (
            discord.Guild(data=cast("GuildPayload", payloads.rest_guild(guild_data)), state=state).name == "g"
        ),
        "message": lambda: (
            discord.Message(state=state, channel=connected.text_channels[0], data=cast("MessagePayload", message)).guild
            == connected
        ),
        "application_info": lambda: (
            discord.AppInfo(
                state, cast("AppInfoPayload", payloads.application_info(914, "a", owner=user, bot=user))
            ).owner.id
            == 901
        ),
        "application_command": lambda: (
            app_commands.AppCommand(
                data=cast(
                    "ApplicationCommandPayload",
                    payloads.application_command(
                        {"name": "ask", "description": "d"},
                        command_id=915,
                        application_id=fake.application_id,
                        version=1,
                    ),
                ),
                state=state,
            ).id
            == 915
        ),
        "slash_command_interaction": lambda: isinstance(
            interaction(
                payloads.slash_command_interaction(in_guild, command_id=907, name="admin", options=[subcommand])
            ).user,
            discord.Member,
        ),
        "slash_command_interaction in a DM": lambda: isinstance(
            interaction(payloads.slash_command_interaction(in_dm, command_id=907, name="ask")).channel,
            discord.DMChannel,
        ),
        "component_interaction": lambda: (
            interaction(payloads.component_interaction(in_guild, custom_id="b", message=message)).message is not None
        ),
        "modal_submit_interaction": lambda: (
            interaction(payloads.modal_submit_interaction(in_dm, custom_id="m", fields={"f": "v"})).type
            is discord.InteractionType.modal_submit
        ),
        "interaction_callback": lambda: answered_slash_command().message_id == 916,
    }

    failures = {}
    for builder, check in checks.items():
        try:
            if not check():
                failures[builder] = "parsed, but not as expected"
        except Exception as error:  # report every failing builder, not just the first
            failures[builder] = repr(error)
    assert failures == {}


async def test_rest_lookups(fake: FakeDiscord, guild: FakeGuild, bot: ContractBot) -> None:
    fetched = await bot.fetch_guild(guild.id)
    assert fetched.name == "Harm Reduction Hub" and fetched.approximate_member_count == 2
    assert (await fetched.fetch_member(fake.default_user_id)).name == "tester"
    assert (await bot.fetch_user(fake.default_user_id)).name == "tester"
    assert (await bot.fetch_channel(guild.channels["general"])).id == guild.channels["general"]
    with pytest.raises(discord.NotFound) as raised:
        await bot.fetch_channel(1)
    assert raised.value.code == 10003


def test_would_ping_follows_discord_rules() -> None:
    content = "@everyone @here <@1> <@!2> <@&3>"
    assert would_ping(content, None) == Pings(True, True, frozenset({1, 2}), frozenset({3}))
    assert would_ping(content, {"parse": []}) == Pings()
    assert would_ping(content, {"parse": ["users"]}) == Pings(users=frozenset({1, 2}))
    assert would_ping(content, {"parse": [], "users": ["2"], "roles": ["3"]}) == Pings(
        users=frozenset({2}), roles=frozenset({3})
    )
    assert would_ping(content, {"parse": ["everyone"]}) == Pings(everyone=True, here=True)
    assert would_ping("reply", None, replied_user_id=7) == Pings(users=frozenset({7}))
    assert would_ping("reply", {"parse": []}, replied_user_id=7) == Pings()
