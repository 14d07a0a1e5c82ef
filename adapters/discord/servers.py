"""Servers: each one's /setup choices, and the subscriptions of its announcement channel.

A server's announcement channel is subscribed to every topic as a place of its own ("guild:<id>", known
to the store by a pseudonymous id like a person), so the delivery engine posts broadcasts and reminders there like
anywhere else. Everything about a server is forgotten when the bot leaves it.
"""

from __future__ import annotations

import discord

from adapters.discord.delivery import PLATFORM, group_chat_id
from bot.port.markup import RichText
from bot.port.services import Port

ANNOUNCEMENTS, ORGANISERS, LANGUAGE = "announcements", "organisers", "language"


def server_scope(guild_id: int) -> str:
    return f"guild:{guild_id}"


class Servers:
    def __init__(self, core: Port, trusted: tuple[str, ...]) -> None:
        self.core = core
        # Servers whose organiser role counts; empty: every server.
        self.trusted = trusted
        # Read once per server, then kept: only this process writes them.
        self._settings: dict[int, dict[str, str]] = {}

    async def settings(self, guild_id: int) -> dict[str, str]:
        if guild_id not in self._settings:
            self._settings[guild_id] = await self.core.settings(PLATFORM).all(server_scope(guild_id))
        return self._settings[guild_id]

    async def language(self, guild_id: int) -> str | None:
        return (await self.settings(guild_id)).get(LANGUAGE)

    def trusts(self, guild_id: int) -> bool:
        return not self.trusted or str(guild_id) in self.trusted

    async def organiser_role(self, guild_id: int) -> int | None:
        role_id = (await self.settings(guild_id)).get(ORGANISERS)
        return int(role_id) if role_id is not None and self.trusts(guild_id) else None

    async def announce_in(self, guild: discord.Guild, channel_id: int | None, lang: str) -> RichText:
        """/setup announcements: post broadcasts and reminders in that channel (None: nowhere)."""
        locales = self.core.strings
        if channel_id is None:
            await self._set(guild.id, ANNOUNCEMENTS, None)
            return locales.rich(lang, "discord.setup.announcements_off")
        channel = guild.get_channel(channel_id)
        if not isinstance(channel, discord.TextChannel):
            return locales.rich(lang, "discord.setup.unknown_channel")
        allowed = channel.permissions_for(guild.me)
        if not (allowed.view_channel and allowed.send_messages):
            return locales.rich(lang, "discord.setup.cannot_post", channel=channel.mention)
        await self._set(guild.id, ANNOUNCEMENTS, str(channel.id))
        return locales.rich(lang, "discord.setup.announcements_set", channel=channel.mention)

    async def appoint(self, guild: discord.Guild, role_id: int | None, lang: str) -> RichText:
        """/setup organisers: members of that role are organisers (None: no role is)."""
        locales = self.core.strings
        if not self.trusts(guild.id):
            return locales.rich(lang, "discord.setup.organisers_untrusted", server=guild.id)
        if role_id is None:
            await self._set(guild.id, ORGANISERS, None)
            return locales.rich(lang, "discord.setup.organisers_off")
        role = guild.get_role(role_id)
        if role is None:
            return locales.rich(lang, "discord.setup.unknown_role")
        await self._set(guild.id, ORGANISERS, str(role.id))
        return locales.rich(lang, "discord.setup.organisers_set", role=role.name)

    async def speak(self, guild: discord.Guild, language: str) -> RichText:
        """/setup language: the server's language (said in it)."""
        await self._set(guild.id, LANGUAGE, language)
        name = self.core.strings.text(language, "language.name")
        return self.core.strings.rich(language, "discord.setup.language_set", name=name)

    async def forget(self, guild_id: int) -> None:
        await self.core.settings(PLATFORM).forget(server_scope(guild_id))
        self._settings.pop(guild_id, None)
        # The announcement channel's subscriptions, and the messages queued for it, go too.
        await self.core.forget_place(PLATFORM, server_scope(guild_id))

    async def _set(self, guild_id: int, name: str, value: str | None) -> None:
        settings = await self.settings(guild_id)
        await self.core.settings(PLATFORM).set(server_scope(guild_id), name, value)
        if value is None:
            settings.pop(name, None)
        else:
            settings[name] = value
        if name in (ANNOUNCEMENTS, LANGUAGE):
            await self._subscribe(guild_id)

    async def _subscribe(self, guild_id: int) -> None:
        """(Re)subscribe the announcement channel to every topic, in the server's language."""
        place = server_scope(guild_id)
        await self.core.unsubscribe_place(PLATFORM, place)
        settings = await self.settings(guild_id)
        channel_id = settings.get(ANNOUNCEMENTS)
        if channel_id is None:
            return
        language = settings.get(LANGUAGE, self.core.default_language)
        await self.core.subscribe_place(PLATFORM, place, group_chat_id(int(channel_id)), language)
