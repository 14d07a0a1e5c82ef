"""Slash commands: one per core command, and /setup for server moderators.

Descriptions come from the interface strings, in the configured default language with localisations
for the other languages Discord clients speak. Commands are registered with Discord (a rate-limited
call) only when what would be registered changed: a digest of it is kept in the store.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import discord
from discord import app_commands
from discord.app_commands import Choice, locale_str

from adapters.discord_render import MAX_CONTENT, fit
from bot.content.model import LANGUAGES, localized
from bot.core import Core
from bot.delivery.messages import TOPICS
from bot.i18n import Locales
from bot.text import ECHO_CHARS

MAX_DESCRIPTION = 100
MAX_CHOICES = 25
# The languages of Discord's client locales that the bot speaks.
LOCALE_LANGUAGES: Mapping[discord.Locale, str] = {
    discord.Locale.american_english: "en",
    discord.Locale.british_english: "en",
    discord.Locale.spain_spanish: "es",
    discord.Locale.latin_american_spanish: "es",
    discord.Locale.brazil_portuguese: "pt",
    discord.Locale.russian: "ru",
    discord.Locale.ukrainian: "uk",
    discord.Locale.french: "fr",
}

RunCommand = Callable[[discord.Interaction[Any], str, str], Awaitable[None]]
ChoiceList = list[Choice[str]]


def text(locales: Locales, lang: str, key: str, **params: Any) -> locale_str:
    """An interface string for Discord's command data: the text in ``lang``, its key for translation."""
    return locale_str(fit(locales.text(lang, key, **params), MAX_DESCRIPTION), key=key)


class CoreTranslator(app_commands.Translator):
    """Localises command descriptions and choices from the interface strings, where a language has them."""

    def __init__(self, locales: Locales, default_language: str) -> None:
        self.locales = locales
        self.default_language = default_language

    async def translate(
        self, string: locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        key = string.extras.get("key")
        lang = LOCALE_LANGUAGES.get(locale)
        # Strings without a key (command names) and the default language are left as they are.
        if key is None or lang is None or lang == self.default_language or not self.locales.has(lang, key):
            return None
        return fit(self.locales.text(lang, key), MAX_DESCRIPTION)


@dataclass(frozen=True)
class Option:
    """The one option of a core command: its argument."""

    name: str
    # Interface-string key of its description.
    description: str
    required: bool = False
    choices: Callable[[Core, str], ChoiceList] | None = None
    # Discord refuses longer values before they reach the bot. Ids, topics and zones are short; a
    # question may take a whole message.
    max_length: int = ECHO_CHARS


def _languages(core: Core, lang: str) -> ChoiceList:
    return [Choice(name=core.locales.text(code, "language.name"), value=code) for code in LANGUAGES]


def _petitions(core: Core, lang: str) -> ChoiceList:
    open_ones = [p for p in core.content.campaigns.petitions.values() if p.open]
    return [Choice(name=fit(localized(p.title, lang), MAX_DESCRIPTION), value=p.id) for p in open_ones]


def _pledges(core: Core, lang: str) -> ChoiceList:
    open_ones = [p for p in core.content.campaigns.pledges.values() if p.open]
    return [Choice(name=fit(localized(p.title, lang), MAX_DESCRIPTION), value=p.id) for p in open_ones]


def _topics(core: Core, lang: str) -> ChoiceList:
    return [Choice(name=text(core.locales, lang, f"topic.{topic}"), value=topic) for topic in TOPICS]


def _topics_or_all(core: Core, lang: str) -> ChoiceList:
    return [*_topics(core, lang), Choice(name=text(core.locales, lang, "button.unsubscribe_all"), value="all")]


OPTIONS: Mapping[str, Option] = {
    "ask": Option("question", "discord.option.question", required=True, max_length=MAX_CONTENT),
    "sources": Option("answer", "discord.option.answer"),
    "language": Option("language", "discord.option.language", choices=_languages),
    "sign": Option("petition", "discord.option.petition", choices=_petitions),
    "export": Option("petition", "discord.option.petition", choices=_petitions),
    "pledge": Option("pledge", "discord.option.pledge", choices=_pledges),
    "subscribe": Option("topic", "discord.option.topic", choices=_topics),
    "unsubscribe": Option("topic", "discord.option.topic", choices=_topics_or_all),
    "timezone": Option("zone", "discord.option.zone"),
}


def core_commands(core: Core, run: RunCommand) -> list[app_commands.Command[Any, ..., None]]:
    """A slash command for every command of the core; ``run(interaction, name, args)`` runs one."""
    lang = core.config.default_language
    return [
        _core_command(core, lang, name, spec.description, OPTIONS.get(name), run)
        for name, spec in core.router.commands.items()
    ]


def _core_command(
    core: Core, lang: str, name: str, description: str, option: Option | None, run: RunCommand
) -> app_commands.Command[Any, ..., None]:
    async def bare(interaction: discord.Interaction[Any]) -> None:
        await run(interaction, name, "")

    async def required(interaction: discord.Interaction[Any], value: str) -> None:
        await run(interaction, name, value)

    async def optional(interaction: discord.Interaction[Any], value: str | None = None) -> None:
        await run(interaction, name, value or "")

    callback: Callable[..., Coroutine[Any, Any, None]] = bare
    if option is not None:
        callback = required if option.required else optional
        callback.__annotations__["value"] = app_commands.Range[str, 1, option.max_length]
        app_commands.rename(value=option.name)(callback)
        app_commands.describe(value=text(core.locales, lang, option.description))(callback)
        if option.choices is not None:
            app_commands.choices(value=option.choices(core, lang)[:MAX_CHOICES])(callback)
    return app_commands.Command(name=name, description=text(core.locales, lang, description), callback=callback)


# --------------------------------------------------------------------------------- /setup


class ServerSetup(Protocol):
    """What /setup changes (the adapter checks the permission and stores the setting)."""

    async def setup_announcements(self, interaction: discord.Interaction[Any], channel_id: int | None) -> None: ...

    async def setup_organisers(self, interaction: discord.Interaction[Any], role_id: int | None) -> None: ...

    async def setup_language(self, interaction: discord.Interaction[Any], language: str) -> None: ...


class ChannelId(app_commands.Transformer):
    """A text or announcement channel option, as the channel's id.

    Only the id is needed: the channel (and the bot's permissions in it) is looked up in the server's
    cache, whether or not Discord sent the channel's data along with the option.
    """

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return [discord.ChannelType.text, discord.ChannelType.news]

    async def transform(self, interaction: discord.Interaction[Any], value: Any, /) -> int:
        return int(value.id)


class RoleId(app_commands.Transformer):
    """A role option, as the role's id (looked up in the server's cache like channels)."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.role

    async def transform(self, interaction: discord.Interaction[Any], value: Any, /) -> int:
        return int(value.id)


def setup_group(core: Core, handler: ServerSetup) -> app_commands.Group:
    """/setup announcements|organisers|language: server-only, shown to members with Manage Server.

    Discord's client hides it from other members but does not stop them: the handler checks too.
    """
    locales, lang = core.locales, core.config.default_language
    group = app_commands.Group(
        name="setup",
        description=text(locales, lang, "discord.setup"),
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    @group.command(name="announcements", description=text(locales, lang, "discord.setup.announcements"))
    @app_commands.describe(channel=text(locales, lang, "discord.option.channel"))
    async def announcements(
        interaction: discord.Interaction[Any], channel: app_commands.Transform[int, ChannelId] | None = None
    ) -> None:
        await handler.setup_announcements(interaction, channel)

    @group.command(name="organisers", description=text(locales, lang, "discord.setup.organisers"))
    @app_commands.describe(role=text(locales, lang, "discord.option.role"))
    async def organisers(
        interaction: discord.Interaction[Any], role: app_commands.Transform[int, RoleId] | None = None
    ) -> None:
        await handler.setup_organisers(interaction, role)

    @group.command(name="language", description=text(locales, lang, "discord.setup.language"))
    @app_commands.describe(language=text(locales, lang, "discord.option.language"))
    @app_commands.choices(language=_languages(core, lang))
    async def language(interaction: discord.Interaction[Any], language: str) -> None:
        await handler.setup_language(interaction, language)

    return group


async def digest(tree: app_commands.CommandTree[Any], translator: CoreTranslator, application_id: int) -> str:
    """A digest of exactly what ``tree.sync()`` registers for this application, translations included."""
    payload = [await command.get_translated_payload(tree, translator) for command in tree.get_commands()]
    serialised = json.dumps([application_id, payload], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(serialised.encode()).hexdigest()
