"""The Discord adapter end to end: real discord.py against FakeDiscord, with a real core.

Every user flow of the earlier issues, in DMs and in a server: questions (emergencies too), topics,
pledges, the petition sign-up through a modal and a consent button, subscriptions and STOP, /mydata
and /forget, server setup by moderators, and an organiser's broadcast from preview to delivery.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fakes import discord_payloads as payloads
from fakes.discord import FakeDiscord, FakeGuild, Pings
from test_discord_support import MANAGE_SERVER, Bot, custom_ids, discord_config, eventually, running

from adapters.discord.adapter import Timings
from adapters.discord.delivery import PLATFORM
from adapters.discord.render import MAX_CONTENT, to_markdown
from adapters.discord.servers import server_scope
from bot.campaigns.subscriptions import TOPICS
from bot.content.model import localized
from bot.core.app import Services
from bot.core.config import Config
from bot.delivery import Scheduler
from bot.port.clock import ManualClock
from bot.port.events import Chat, ChatKind, Event, Reply, User, parse_text
from bot.port.markup import text
from bot.port.outcome import Outcome

# The fixtures fake and guild.
pytest_plugins = ["test_discord_support"]

ADAPTER = Path(__file__).resolve().parents[1] / "adapters"
EMERGENCY = "my friend isn't breathing and won't wake up"
# The first line of the English emergency answer (content/emergency.yaml), as Discord shows it.
EMERGENCY_FIRST_LINE = "**Call your local emergency number now.**"


def shown(bot: Bot, key: str, **params: Any) -> str:
    """An interface string (English) as the adapter shows it."""
    return to_markdown(bot.core.locales.rich("en", key, **params))


@pytest.fixture
async def bot(fake: FakeDiscord, guild: FakeGuild, config: Config, services: Services) -> Any:
    async with running(fake, discord_config(config, fake), services) as started:
        yield started


def everyone_quiet(fake: FakeDiscord, messages: list[Any]) -> None:
    for message in messages:
        assert message.allowed_mentions == {"parse": []}, message
        assert fake.mentions_that_would_ping(message) == Pings()


# --------------------------------------------------------------------------------- questions


@pytest.mark.parametrize(
    ("command", "options", "in_server", "ephemeral", "key"),
    [
        ("ask", {"question": "how does naloxone work"}, False, False, None),
        ("ask", {"question": "how does naloxone work"}, True, False, None),
        ("topics", {}, True, False, "topics.intro"),
        ("days", {}, False, False, "days.heading"),
        ("help", {}, True, False, "help.intro"),
        ("pledges", {}, True, False, "pledges.heading"),
        # Personal business in a server continues where it started, seen by the member alone.
        ("pledge", {}, True, True, "pledge.choose"),
        ("mydata", {}, True, True, "mydata.nothing"),
        ("subscribe", {}, True, True, "subscribe.choose"),
        # Organiser commands: refused to others, and not in front of the channel.
        ("stats", {}, True, True, "error.organisers_only"),
    ],
)
async def test_commands_answer_in_the_right_place(
    bot: Bot, guild: FakeGuild, command: str, options: dict[str, Any], in_server: bool, ephemeral: bool, key: str | None
) -> None:
    where = {"guild_id": guild.id} if in_server else {}
    expected = shown(bot, key, command=command) if key else "Naloxone"

    exchange = await bot.command(command, options, containing=expected, **where)

    assert {message.ephemeral for message in exchange.messages} == {ephemeral}
    assert exchange.messages[0].kind == "interaction_response"
    everyone_quiet(bot.fake, exchange.messages)


async def test_answers_come_with_buttons_that_carry_the_core_actions(bot: Bot) -> None:
    exchange = await bot.command("ask", {"question": "how does naloxone work"}, containing="Naloxone")

    related = exchange.custom_ids()
    assert related and all(custom_id.startswith("v1:a:kb:") for custom_id in related)
    followed = await bot.click(related[0].removeprefix("v1:a:"))
    assert followed.messages and not followed.messages[0].ephemeral


async def test_emergency_in_a_server_is_answered_in_the_channel(bot: Bot, guild: FakeGuild) -> None:
    first_line = EMERGENCY_FIRST_LINE
    by_command = await bot.command("ask", {"question": EMERGENCY}, containing=first_line, guild_id=guild.id)
    assert not by_command.messages[0].ephemeral

    mention = f"<@{bot.fake.bot_user_id}> {EMERGENCY}"
    (answer, *_) = await bot.dm(mention, containing=first_line, guild_id=guild.id)
    assert answer.kind == "channel" and answer.channel_id == guild.default_channel_id
    assert answer.replied_user_id is not None and answer.allowed_mentions == {"parse": []}
    assert bot.fake.mentions_that_would_ping(answer) == Pings()


async def test_a_crisis_in_a_server_is_answered_to_the_member_alone(bot: Bot, guild: FakeGuild) -> None:
    crisis = "i want to end my life"
    exchange = await bot.command("ask", {"question": crisis}, containing="findahelpline.com", guild_id=guild.id)
    # Seen by the member alone: nothing of it reaches the channel.
    assert all(message.ephemeral for message in exchange.messages)
    assert all(message.ephemeral for message in bot.fake.sent_messages(guild.default_channel_id))
    everyone_quiet(bot.fake, exchange.messages)
    # Mentioned in a channel: the crisis answer goes to the member's DMs, a pointer stays in the channel.
    await bot.fake.message_create(f"<@{bot.fake.bot_user_id}> {crisis}", guild_id=guild.id)
    await bot.fake.wait_for(lambda call: call.message is not None and "findahelpline.com" in call.message.content)
    await eventually(lambda: _public_messages(bot, guild.default_channel_id))
    private = [m for m in bot.fake.sent_messages() if "findahelpline.com" in m.content and not m.ephemeral]
    assert private and all(m.channel_id != guild.default_channel_id for m in private)
    in_channel = [m for m in bot.fake.sent_messages(guild.default_channel_id) if not m.ephemeral]
    assert in_channel and all("findahelpline" not in m.content for m in in_channel)
    everyone_quiet(bot.fake, in_channel)


async def _public_messages(bot: Bot, channel_id: int) -> bool:
    return any(not m.ephemeral for m in bot.fake.sent_messages(channel_id))


async def test_free_text_in_a_dm_and_when_mentioned_only(bot: Bot, guild: FakeGuild) -> None:
    (answer, *_) = await bot.dm("what is naloxone", containing="Naloxone")
    assert answer.kind == "channel"

    await bot.fake.message_create("chatter that does not mention the bot", guild_id=guild.id)
    mentioned = await bot.dm(f"<@{bot.fake.bot_user_id}> what is naloxone", containing="Naloxone", guild_id=guild.id)
    assert [message.channel_id for message in mentioned] == [guild.default_channel_id]
    # The chatter got nothing: the only message in the channel is the answer to the mention.
    assert len(bot.fake.sent_messages(guild.default_channel_id)) == len(mentioned)


async def test_topics_are_browsed_with_buttons(bot: Bot) -> None:
    topics = await bot.command("topics", containing=shown(bot, "topics.intro"))
    group = next(custom_id for custom_id in topics.custom_ids() if custom_id.startswith("v1:a:topics:"))

    entries = await bot.click(group.removeprefix("v1:a:"), containing=shown(bot, "topics.pick"))
    entry = next(custom_id for custom_id in entries.custom_ids() if custom_id.startswith("v1:a:kb:"))
    answer = await bot.click(entry.removeprefix("v1:a:"))

    assert answer.messages and answer.messages[0].content


async def test_stale_and_unknown_buttons_are_answered_politely(bot: Bot, guild: FakeGuild) -> None:
    expired = shown(bot, "error.button_expired")
    # A button from before the custom-id format was versioned, and one of the current format for an
    # action the core no longer has.
    for custom_id in ("kb:naloxone", "v1:a:retired-action:x"):
        ref = await bot.fake.button_click(custom_id, guild_id=guild.id)
        (answer,) = (await bot.answer(ref, expired)).messages
        assert answer.ephemeral


# --------------------------------------------------------------------------------- personal business


async def test_pledge_in_a_server_is_taken_privately(bot: Bot, guild: FakeGuild) -> None:
    pledge = next(iter(bot.core.content.campaigns.pledges.values()))
    await bot.command("pledge", guild_id=guild.id, containing=shown(bot, "pledge.choose"))

    shown_pledge = await bot.click(f"pledge:{pledge.id}", containing=shown(bot, "pledge.confirm"))
    taken = await bot.click(f"pledge-take:{pledge.id}", containing="Thank you")

    assert all(message.ephemeral for message in shown_pledge.messages + taken.messages)
    assert (await bot.core.pledges.pledge_counts())[pledge.id] == 1


async def test_sign_through_the_modal_and_the_consent_button(bot: Bot, guild: FakeGuild) -> None:
    petition = next(iter(bot.core.content.campaigns.petitions.values()))
    form_id = f"v1:f:sign:{petition.id}"

    started = await bot.command("sign", guild_id=guild.id, containing=shown(bot, "sign.ask.name"))
    assert all(message.ephemeral for message in started.messages)
    assert custom_ids(started.messages[-1])[0] == form_id

    modal = await bot.modal(await bot.fake.button_click(form_id))
    assert modal["custom_id"] == form_id
    fields = [label["component"]["custom_id"] for label in modal["components"]]
    assert fields == [field.name for field in petition.fields]

    # A wrong e-mail: the name is kept, the e-mail asked again with the reason, the form offered again.
    wrong = await bot.answer(
        await bot.fake.modal_submit(form_id, {"name": "Ana Lima", "email": "not-an-email", "country": "PT"}),
        containing="e-mail",
    )
    assert form_id in wrong.custom_ids() and all(message.ephemeral for message in wrong.messages)
    again = await bot.modal(await bot.fake.button_click(form_id))
    assert [label["component"]["custom_id"] for label in again["components"]] == ["email", "country"]

    consent = await bot.answer(
        await bot.fake.modal_submit(form_id, {"email": "ana@example.org", "country": "Portugal"}),
        containing=shown(bot, "sign.ask.consent"),
    )
    agree = next(custom_id for custom_id in consent.custom_ids() if custom_id.startswith("v1:a:sign-consent:"))
    thanks = await bot.click(agree.removeprefix("v1:a:"), containing="Thank you, Ana Lima")

    assert thanks.messages[0].ephemeral
    assert await bot.core.signatures.signature_count(petition.id) == 1
    # The form again, sent once more from the still open dialog: nothing happens twice.
    again_sent = await bot.fake.modal_submit(form_id, {"email": "ana@example.org", "country": "Portugal"})
    await bot.answer(again_sent, to_markdown(bot.core.locales.rich("en", "discord.form.expired")))
    assert await bot.core.signatures.signature_count(petition.id) == 1
    # Campaign updates go to the member's DMs, not to the server channel.
    topic = bot.core.locales.text("en", "topic.petitions")
    await bot.click(f"updates:yes:{petition.id}", containing=shown(bot, "sign.updates_accepted", topic=topic))
    user_key = bot.core.keyring.user_id(PLATFORM, str(bot.fake.default_user_id))
    assert await bot.core.subscriptions.topics_of(user_key) != []


async def test_an_optional_field_left_empty_is_skipped(bot: Bot) -> None:
    petition = next(iter(bot.core.content.campaigns.petitions.values()))
    optional = [field.name for field in petition.fields if not field.required]
    form_id = f"v1:f:sign:{petition.id}"
    await bot.command("sign", containing=shown(bot, "sign.ask.name"))
    await bot.modal(await bot.fake.button_click(form_id))

    values = {field.name: "" if field.name in optional else "Portugal" for field in petition.fields}
    values["name"] = "Rui Costa"
    consent = await bot.answer(await bot.fake.modal_submit(form_id, values), containing=shown(bot, "sign.ask.consent"))

    assert consent.messages and optional


async def test_subscribe_unsubscribe_then_stop_in_a_dm(bot: Bot) -> None:
    user_key = bot.core.keyring.user_id(PLATFORM, str(bot.fake.default_user_id))
    for topic in ("news", "petitions"):
        name = bot.core.locales.text("en", f"topic.{topic}")
        await bot.command("subscribe", {"topic": topic}, containing=shown(bot, "subscribe.done", topic=name))
    assert await bot.core.subscriptions.topics_of(user_key) == ["news", "petitions"]

    name = bot.core.locales.text("en", "topic.news")
    await bot.command("unsubscribe", {"topic": "news"}, containing=shown(bot, "unsubscribe.done", topic=name))
    assert await bot.core.subscriptions.topics_of(user_key) == ["petitions"]

    await bot.dm("STOP", containing=shown(bot, "stop.done"))
    assert await bot.core.subscriptions.topics_of(user_key) == []


async def test_language_is_chosen_with_a_command_or_taken_from_the_app(bot: Bot) -> None:
    locales = bot.core.locales
    spanish = to_markdown(locales.rich("es", "language.set", name=locales.text("es", "language.name")))
    await bot.command("language", {"language": "es"}, containing=spanish)
    assert to_markdown(locales.rich("es", "topics.intro")) in (await bot.command("topics")).text

    # Someone else, whose Discord app is in Portuguese, chose nothing.
    other = bot.fake.add_user("leitora")
    topics = await bot.command("topics", user_id=other, locale="pt-BR")
    assert to_markdown(locales.rich("pt", "topics.intro")) in topics.text


async def test_mydata_then_forget(bot: Bot, guild: FakeGuild) -> None:
    user_key = bot.core.keyring.user_id(PLATFORM, str(bot.fake.default_user_id))
    pledge = next(iter(bot.core.content.campaigns.pledges.values()))
    await bot.core.pledges.take_pledge(user_key, PLATFORM, pledge.id, datetime.now(UTC))

    mine = await bot.command("mydata", guild_id=guild.id, containing=shown(bot, "mydata.heading"))
    assert mine.messages[0].ephemeral and "I will carry naloxone" in mine.text

    await bot.command("forget", guild_id=guild.id, containing=shown(bot, "forget.confirm"))
    await bot.click("forget:confirm", containing="Done")
    assert await bot.core.pledges.pledges_of(user_key) == {}
    after = await bot.command("mydata", guild_id=guild.id, containing=shown(bot, "mydata.nothing"))
    assert "pseudonymous id" not in after.text


async def test_a_pledge_is_shared_as_a_command_mention(bot: Bot) -> None:
    pledge = next(iter(bot.core.content.campaigns.pledges.values()))
    (registered,) = [command for command in bot.fake.commands() if command["name"] == "pledge"]
    await bot.command("pledge", {"pledge": pledge.id}, containing=shown(bot, "pledge.confirm"))
    taken = await bot.click(f"pledge-take:{pledge.id}", containing="Thank you")
    assert f"{shown(bot, 'pledge.share')}\n\n</pledge:{registered['id']}>" in taken.text


async def test_a_forged_consent_press_on_a_channel_message_is_answered_privately(bot: Bot, guild: FakeGuild) -> None:
    petition = next(iter(bot.core.content.campaigns.petitions.values()))
    member = User(PLATFORM, str(bot.fake.default_user_id))
    for typed in ("/sign", "Ana Lima", "skip", "Portugal"):
        await bot.core.handle(Event(member, Chat("dm", ChatKind.PRIVATE), parse_text(typed)))
    # The member's consent button, forged onto a message in the server's channel (it was never sent there).
    ref = await bot.fake.button_click(f"v1:a:sign-consent:{petition.id}:{petition.consent_version}", guild_id=guild.id)
    thanks = await bot.answer(ref, "Thank you, Ana Lima")
    assert all(message.ephemeral for message in thanks.messages)
    in_channel = [message for message in bot.fake.sent_messages(guild.default_channel_id) if not message.ephemeral]
    assert not any("Ana" in message.content for message in in_channel)
    assert await bot.core.signatures.signature_count(petition.id) == 1


async def test_changing_a_field_from_the_review_asks_it_alone(bot: Bot) -> None:
    petition = next(iter(bot.core.content.campaigns.petitions.values()))
    form_id = f"v1:f:sign:{petition.id}"
    await bot.command("sign", containing=shown(bot, "sign.ask.name"))
    await bot.modal(await bot.fake.button_click(form_id))
    values = {"name": "Rui Costa", "email": "rui@example.org", "country": "PT"}
    await bot.answer(await bot.fake.modal_submit(form_id, values), containing="Name: Rui Costa")
    modal = await bot.modal(await bot.fake.button_click(f"v1:a:sign-change:{petition.id}:name"))
    assert [label["component"]["custom_id"] for label in modal["components"]] == ["name"]
    review = await bot.answer(await bot.fake.modal_submit(form_id, {"name": "Rui M. Costa"}), containing="Name: Rui M")
    assert "E-mail: rui@example.org" in review.text


# --------------------------------------------------------------------------------- servers


async def test_setup_is_refused_without_manage_server(bot: Bot, guild: FakeGuild) -> None:
    channel = guild.channels["announcements"]

    refused = await bot.command(
        "setup announcements", {"channel": channel}, containing="Manage Server", guild_id=guild.id
    )

    assert refused.messages[0].ephemeral
    assert await bot.core.settings(PLATFORM).all(server_scope(guild.id)) == {}
    in_a_dm = await bot.command("setup language", {"language": "es"}, containing="only in a server")
    assert in_a_dm.messages


async def test_setup_by_a_moderator_and_forgotten_when_the_bot_leaves(bot: Bot, guild: FakeGuild) -> None:
    channel, role = guild.channels["announcements"], 7_000_000_000_000_001
    await bot.fake.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": payloads.role(role, "orga")})
    where = {"guild_id": guild.id, "permissions": MANAGE_SERVER}

    await bot.command("setup announcements", {"channel": channel}, containing=f"<#{channel}>", **where)
    await bot.command("setup organisers", {"role": role}, containing="orga", **where)
    await bot.command("setup language", {"language": "es"}, containing="Español", **where)

    settings = await bot.core.settings(PLATFORM).all(server_scope(guild.id))
    assert settings == {"announcements": str(channel), "organisers": str(role), "language": "es"}
    server = bot.core.keyring.user_id(PLATFORM, server_scope(guild.id))
    assert await bot.core.subscriptions.topics_of(server) == sorted(TOPICS)

    # Members of the role are organisers; others are not.
    member = bot.fake.add_user("member")
    stats = await bot.command("stats", guild_id=guild.id, roles=[role], user_id=member, containing="")
    assert "organisers" not in stats.text and stats.messages[0].ephemeral

    await bot.fake.guild_delete(guild.id)

    async def forgotten() -> bool:
        return await bot.core.subscriptions.topics_of(server) == []

    await eventually(forgotten)
    assert await bot.core.settings(PLATFORM).all(server_scope(guild.id)) == {}


# --------------------------------------------------------------------------------- organisers


@pytest.fixture
async def organiser_bot(fake: FakeDiscord, guild: FakeGuild, config: Config, services: Services) -> Any:
    organiser = fake.add_user("organiser", user_id=6_000_000_000_000_001)
    with_organiser = discord_config(config, fake, organisers=(f"discord:{organiser}",))
    async with running(fake, with_organiser, services) as started:
        yield started


async def test_broadcast_with_preview_and_confirm_reaches_dms_and_the_announcement_channel(
    organiser_bot: Bot, guild: FakeGuild
) -> None:
    bot, fake = organiser_bot, organiser_bot.fake
    organiser = 6_000_000_000_000_001
    reader = fake.add_user("reader")
    announcements = guild.channels["announcements"]
    await bot.command("subscribe", {"topic": "news"}, user_id=reader, containing="news")
    where = {"guild_id": guild.id, "permissions": MANAGE_SERVER}
    await bot.command("setup announcements", {"channel": announcements}, containing=f"<#{announcements}>", **where)

    opened = await fake.slash_command("broadcast", guild_id=guild.id, user_id=organiser)
    modal = await bot.modal(opened)
    body = "**Meeting** tonight @everyone <@&1234567890123456789> <@1234567890123456789> at 6"
    topics = await bot.answer(
        await fake.modal_submit(modal["custom_id"], {"text": body}), containing=shown(bot, "broadcast.ask_topic")
    )
    assert topics.messages[0].ephemeral
    await bot.click("broadcast-topic:news", user_id=organiser, containing=shown(bot, "broadcast.ask_language"))
    await bot.click("broadcast-language:all", user_id=organiser, containing=shown(bot, "broadcast.ask_platform"))
    preview = await bot.click("broadcast-platform:discord", user_id=organiser, containing="2 subscribers")
    assert "**Meeting** tonight" in preview.text
    await bot.click("broadcast-send:", user_id=organiser, containing="#1")

    await bot.deliver()

    reader_dm = [m for m in fake.sent_messages() if m.kind == "channel" and m.channel_id not in guild.channels.values()]
    in_channel = fake.sent_messages(announcements)
    delivered = [m for m in reader_dm + in_channel if "Meeting" in m.content]
    assert len(delivered) == 2
    everyone_quiet(fake, delivered)
    assert all("@\u200beveryone" in message.content for message in delivered)
    # The organiser's report comes to their DMs once the broadcast is done.
    await Scheduler(bot.core, {"discord": bot.engine}).tick()
    assert any(message.content.startswith("Broadcast #1 is done") for message in fake.sent_messages())


async def test_organiser_role_members_may_broadcast(bot: Bot, guild: FakeGuild) -> None:
    role = 7_000_000_000_000_002
    await bot.fake.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": payloads.role(role, "orga")})
    await bot.command(
        "setup organisers", {"role": role}, guild_id=guild.id, permissions=MANAGE_SERVER, containing="orga"
    )

    modal = await bot.modal(await bot.fake.slash_command("broadcast", guild_id=guild.id, roles=[role]))

    assert modal["custom_id"] == "v1:f:broadcast"
    refused = await bot.command("broadcast", guild_id=guild.id, containing="organisers only")
    assert refused.messages[0].ephemeral


async def test_the_broadcast_form_shows_the_markup_syntax_as_typed(organiser_bot: Bot) -> None:
    modal = await organiser_bot.modal(
        await organiser_bot.fake.slash_command("broadcast", user_id=6_000_000_000_000_001)
    )
    (field,) = modal["components"]
    assert "(light formatting: **bold**, [text](https://link))" in field["description"]


async def test_a_long_broadcast_is_split(organiser_bot: Bot) -> None:
    bot = organiser_bot
    reader = bot.fake.add_user("reader")
    await bot.command("subscribe", {"topic": "news"}, user_id=reader, containing="news")
    body = "\n\n".join(f"Paragraph {n}: " + "harm reduction saves lives. " * 12 for n in range(8))
    user = 6_000_000_000_000_001
    modal = await bot.modal(await bot.fake.slash_command("broadcast", user_id=user))
    await bot.answer(await bot.fake.modal_submit(modal["custom_id"], {"text": body}), containing="topic")
    for action in ("broadcast-topic:news", "broadcast-language:all", "broadcast-platform:all"):
        await bot.click(action, user_id=user)
    await bot.click("broadcast-send:", user_id=user, containing="#1")

    await bot.deliver()

    parts = [m for m in bot.fake.sent_messages() if m.kind == "channel" and "harm reduction" in m.content]
    assert len(parts) == 2 and all(len(part.content) <= MAX_CONTENT for part in parts)


# --------------------------------------------------------------------------------- reminders, deferral


async def test_action_day_reminders_reach_dms_through_the_engine(bot: Bot) -> None:
    day = next(iter(bot.core.content.campaigns.calendar.values()))
    on = day.in_year(2027)
    clock = ManualClock(datetime(on.year, on.month, on.day, 0, 0, tzinfo=UTC))
    bot.core.clock = clock
    await bot.command("subscribe", {"topic": "action-days"}, containing="action-day")

    scheduler = Scheduler(bot.core, {"discord": bot.engine})
    await scheduler.tick()
    clock.advance(hours=bot.core.config.reminders.hour)
    await scheduler.tick()
    await bot.deliver()

    name = localized(day.name, "en")
    assert any(name in message.content for message in bot.fake.sent_messages() if message.kind == "channel")


async def test_slow_work_is_deferred_then_completed(
    fake: FakeDiscord, guild: FakeGuild, config: Config, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    timings = Timings(guild_ready_timeout=0.05, wait_before_reidentify=False, defer_after=0.05)
    async with running(fake, discord_config(config, fake), services, timings) as bot:
        handle = bot.core.handle

        async def slow(event: Any) -> Outcome:
            await asyncio.sleep(0.2)
            return await handle(event)

        monkeypatch.setattr(bot.core, "handle", slow)
        ref = await fake.slash_command("ask", {"question": "how does naloxone work"}, guild_id=guild.id)
        call = await fake.wait_for_response(ref)
        assert call.json["type"] == payloads.CallbackType.DEFERRED_CHANNEL_MESSAGE
        answer = await bot.answer(ref, "Naloxone")
        assert [message.kind for message in answer.messages] == ["followup"]


async def test_personal_business_asked_by_mention_continues_privately(bot: Bot, guild: FakeGuild) -> None:
    (answer,) = await bot.dm(f"<@{bot.fake.bot_user_id}> /sign", containing="private", guild_id=guild.id)
    (continue_id,) = custom_ids(answer)
    assert continue_id.startswith("v1:h:sign") and answer.channel_id == guild.default_channel_id

    ref = await bot.fake.button_click(continue_id, message_id=answer.message_id)
    private = await bot.answer(ref, shown(bot, "sign.ask.name"))

    assert all(message.ephemeral for message in private.messages)


async def test_a_private_reply_to_a_server_message_goes_to_dms(
    bot: Bot, guild: FakeGuild, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def private_reply(event: Any) -> Outcome:
        return Outcome([Reply(text("For your eyes only"), private=True)], "en")

    monkeypatch.setattr(bot.core, "handle", private_reply)
    await bot.fake.message_create(f"<@{bot.fake.bot_user_id}> hello", guild_id=guild.id)

    (sent,) = await bot.fake.wait_for(lambda call: call.message is not None and "eyes only" in call.message.content)
    assert sent.message is not None and sent.message.channel_id not in guild.channels.values()


async def test_a_deferred_public_placeholder_never_shows_a_private_reply(
    fake: FakeDiscord, guild: FakeGuild, config: Config, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    timings = Timings(guild_ready_timeout=0.05, wait_before_reidentify=False, defer_after=0.05)
    async with running(fake, discord_config(config, fake), services, timings) as bot:

        async def slow_and_private(event: Any) -> Outcome:
            await asyncio.sleep(0.2)
            return Outcome([Reply(text("For your eyes only"), private=True)], "en")

        monkeypatch.setattr(bot.core, "handle", slow_and_private)
        ref = await fake.slash_command("ask", {"question": "anything"}, guild_id=guild.id)
        answer = await bot.answer(ref, "eyes only")

        assert [message.ephemeral for message in answer.messages] == [True]
        assert fake.calls_to("DELETE", f"/webhooks/*/{ref.token}/messages/@original")


async def test_the_server_language_applies_in_that_server(bot: Bot, guild: FakeGuild) -> None:
    await bot.command(
        "setup language", {"language": "es"}, guild_id=guild.id, permissions=MANAGE_SERVER, containing="Español"
    )

    topics = await bot.command("topics", guild_id=guild.id)
    in_a_dm = await bot.command("topics")

    assert to_markdown(bot.core.locales.rich("es", "topics.intro")) in topics.text
    assert shown(bot, "topics.intro") in in_a_dm.text


async def test_organiser_roles_count_only_in_trusted_servers(
    fake: FakeDiscord, guild: FakeGuild, config: Config, services: Services
) -> None:
    trusted = dataclasses.replace(discord_config(config, fake).section("discord"), organiser_servers=("1",))
    async with running(
        fake, dataclasses.replace(config, platforms={**config.platforms, "discord": trusted}), services
    ) as bot:
        role = 7_000_000_000_000_003
        await fake.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": payloads.role(role, "orga")})
        refused = await bot.command(
            "setup organisers", {"role": role}, guild_id=guild.id, permissions=MANAGE_SERVER, containing="organiser"
        )
        assert str(guild.id) in refused.text
        assert await bot.core.settings(PLATFORM).all(server_scope(guild.id)) == {}


async def test_an_expired_form_is_not_opened(bot: Bot) -> None:
    petition = next(iter(bot.core.content.campaigns.petitions.values()))
    ref = await bot.fake.button_click(f"v1:f:sign:{petition.id}")

    expired = await bot.answer(ref, to_markdown(bot.core.locales.rich("en", "discord.form.expired")))

    assert expired.messages[0].kind == "interaction_response"


def test_every_interface_string_the_adapter_uses_is_in_the_content(services: Services) -> None:
    sources = "".join(path.read_text() for path in ADAPTER.glob("discord*.py"))
    keys = set(re.findall(r'"((?:discord|button)\.[a-z_.]+)"', sources))
    keys |= {f"discord.field.{name}" for name in ("name", "email", "country", "text")}
    missing = sorted(key for key in keys if not services.locales.has("en", key))
    assert keys and missing == []
