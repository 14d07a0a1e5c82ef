"""/start, /help and /language."""

from __future__ import annotations

from dataclasses import replace

from bot.content.model import LANGUAGES
from bot.content.text import echo
from bot.core.capabilities import Capabilities
from bot.core.context import Context
from bot.core.feature import Feature, command, pressed
from bot.core.router import ArgumentSpec
from bot.features.petitions import Petitions
from bot.features.pledges import Pledges
from bot.port import markup
from bot.port.actions import DISMISS, HELP, TOPICS, Action
from bot.port.events import HANDOFF, Button, Reply, ReplyKind
from bot.port.services import ArgumentChoice

CONSOLE = "console"
# Not reachable through a link: /start itself, and leaving a form (a link must not end one).
NOT_FROM_LINKS = frozenset({"start", "cancel"})


def languages(core: Capabilities, lang: str) -> list[ArgumentChoice]:
    """Each language by its own name."""
    return [ArgumentChoice(core.locales.text(code, "language.name"), code) for code in LANGUAGES]


LANGUAGE = ArgumentSpec("language", choices=languages)


class General(Feature):
    # Sets the presser's own language and says only which: nothing personal.
    CHOOSE_LANGUAGE = Action("language", ("language",), public=True)

    @command("start", "command.start")
    async def start(self, ctx: Context, args: str) -> list[Reply]:
        if HANDOFF.fullmatch(args):
            # Arrived through a link ("/start sign-un-decriminalise", from a group or a shared pledge):
            # carry on, but as a link, which anyone can send anyone: it may open a form, never change
            # a setting without a tap (see Context.via_link).
            name, _, argument = args.partition("-")
            if name in self.router.commands and name not in NOT_FROM_LINKS:
                return await self.router.run_command(replace(ctx, via_link=True), name, argument)
        campaigns = ctx.core.content.campaigns
        buttons = (
            (Button(ctx.text("button.topics"), TOPICS.build()), Button(ctx.text("button.help"), HELP.build())),
            (
                *((Button(ctx.text("button.sign"), Petitions.SIGN.build()),) if campaigns.petitions else ()),
                *((Button(ctx.text("button.pledges"), Pledges.SHOW.build()),) if campaigns.pledges else ()),
            ),
            (Button(ctx.text("button.language"), self.CHOOSE_LANGUAGE.build()),),
        )
        text = markup.join(ctx.t("start.welcome"), ctx.t("start.privacy"))
        return [Reply(text, buttons)]

    @command("help", "command.help")
    @pressed(HELP)
    async def show_help(self, ctx: Context, args: str = "") -> list[Reply]:
        lines = [ctx.t("help.intro")]
        entries = [(spec.name, spec.description) for spec in self.router.visible_commands(ctx.is_organiser)]
        if ctx.event.user.platform == CONSOLE:
            # The console's own command (the adapter ends the session on it).
            entries.append(("quit", "command.quit"))
        for name, description in entries:
            lines.append(markup.join((markup.Bold(f"/{name}"),), ctx.t(description), sep=" — "))
        lines.append(ctx.t("help.free_text"))
        return [Reply(markup.join(*lines, sep="\n"))]

    @pressed(DISMISS)
    async def dismiss(self, ctx: Context) -> list[Reply]:
        return [ctx.reply("confirm.declined")]

    @command("language", "command.language", argument=LANGUAGE)
    @pressed(CHOOSE_LANGUAGE)
    async def language(self, ctx: Context, args: str) -> list[Reply]:
        code = args.strip().lower()
        if not code:
            buttons = tuple(
                (Button(ctx.core.locales.text(lang, "language.name"), self.CHOOSE_LANGUAGE.build(lang)),)
                for lang in LANGUAGES
            )
            return [Reply(ctx.t("language.choose", current=ctx.text("language.name")), buttons)]
        if code not in LANGUAGES:
            return [ctx.reply("language.unknown", ReplyKind.ERROR, code=echo(code), supported=", ".join(LANGUAGES))]
        if ctx.via_link:
            name = ctx.core.locales.text(code, "language.name")
            return [ctx.confirm(ctx.t("language.confirm", name=name), self.CHOOSE_LANGUAGE.build(code))]
        await ctx.core.people.set_language(ctx.user_key, ctx.event.user.platform, code)
        return [Reply(ctx.core.locales.rich(code, "language.set", name=ctx.core.locales.text(code, "language.name")))]
