"""Slash commands: one per core command, and /setup for server moderators.

Descriptions come from the interface strings, in the configured default language with localisations
for the other languages Discord clients speak. Commands are registered with Discord (a rate-limited
call) only when what would be registered changed: a digest of it is kept in the store.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Protocol

import discord
from discord import app_commands
from discord.app_commands import Choice, locale_str

from adapters.discord.render import MAX_CONTENT, fit
from bot.port.languages import LANGUAGES
from bot.port.services import Argument, Port, Strings

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


def text(strings: Strings, lang: str, key: str, **params: Any) -> locale_str:
    """An interface string for Discord's command data: the text in ``lang``, its key for translation."""
    return locale_str(fit(strings.text(lang, key, **params), MAX_DESCRIPTION), key=key)


class CoreTranslator(app_commands.Translator):
    """Localises command descriptions and choices from the interface strings, where a language has them."""

    def __init__(self, strings: Strings, default_language: str) -> None:
        self.strings = strings
        self.default_language = default_language

    async def translate(
        self, string: locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        key = string.extras.get("key")
        lang = LOCALE_LANGUAGES.get(locale)
        # Strings without a key (command names) and the default language are left as they are.
        if key is None or lang is None or lang == self.default_language or not self.strings.has(lang, key):
            return None
        return fit(self.strings.text(lang, key), MAX_DESCRIPTION)


def _languages(core: Port) -> ChoiceList:
    return [Choice(name=core.strings.text(code, "language.name"), value=code) for code in LANGUAGES]


def core_commands(core: Port, run: RunCommand) -> list[app_commands.Command[Any, ..., None]]:
    """A slash command for every command of the core; ``run(interaction, name, args)`` runs one."""
    lang = core.default_language
    return [
        _core_command(core.strings, lang, command.name, command.description, command.argument, run)
        for command in core.commands()
    ]


def _core_command(
    strings: Strings, lang: str, name: str, description: str, argument: Argument | None, run: RunCommand
) -> app_commands.Command[Any, ..., None]:
    async def bare(interaction: discord.Interaction[Any]) -> None:
        await run(interaction, name, "")

    async def required(interaction: discord.Interaction[Any], value: str) -> None:
        await run(interaction, name, value)

    async def optional(interaction: discord.Interaction[Any], value: str | None = None) -> None:
        await run(interaction, name, value or "")

    callback: Callable[..., Coroutine[Any, Any, None]] = bare
    if argument is not None:
        callback = required if argument.required else optional
        # Discord refuses longer values before they reach the bot; a question may take a whole message.
        longest = MAX_CONTENT if argument.max_length is None else argument.max_length
        callback.__annotations__["value"] = app_commands.Range[str, 1, longest]
        app_commands.rename(value=argument.name)(callback)
        app_commands.describe(value=text(strings, lang, f"discord.option.{argument.name}"))(callback)
        if argument.choices is not None:
            offered = [
                Choice(
                    name=text(strings, lang, one.key) if one.key else fit(one.label, MAX_DESCRIPTION), value=one.value
                )
                for one in argument.choices(lang)
            ]
            app_commands.choices(value=offered[:MAX_CHOICES])(callback)
    return app_commands.Command(name=name, description=text(strings, lang, description), callback=callback)


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


def setup_group(core: Port, handler: ServerSetup) -> app_commands.Group:
    """/setup announcements|organisers|language: server-only, shown to members with Manage Server.

    Discord's client hides it from other members but does not stop them: the handler checks too.
    """
    locales, lang = core.strings, core.default_language
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
    @app_commands.choices(language=_languages(core))
    async def language(interaction: discord.Interaction[Any], language: str) -> None:
        await handler.setup_language(interaction, language)

    return group


async def digest(tree: app_commands.CommandTree[Any], translator: CoreTranslator, application_id: int) -> str:
    """A digest of exactly what ``tree.sync()`` registers for this application, translations included."""
    payload = [await command.get_translated_payload(tree, translator) for command in tree.get_commands()]
    serialised = json.dumps([application_id, payload], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(serialised.encode()).hexdigest()
