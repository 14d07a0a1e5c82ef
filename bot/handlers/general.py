"""/start, /help and /language."""

from __future__ import annotations

from bot import markup
from bot.content.model import LANGUAGES
from bot.events import HANDOFF, Button, Reply, ReplyKind
from bot.router import Context, Router
from bot.text import echo


def register(router: Router) -> None:
    @router.command("start", "command.start")
    async def start(ctx: Context, args: str) -> list[Reply]:
        if HANDOFF.fullmatch(args):
            # Arrived through a link from a group ("/start sign-un-decriminalise"): carry on.
            command, _, argument = args.partition("-")
            if command in router.commands and command != "start":
                return await router.run_command(ctx, command, argument)
        campaigns = ctx.core.content.campaigns
        buttons = (
            (Button(ctx.text("button.topics"), "topics:"), Button(ctx.text("button.help"), "help:")),
            (
                *((Button(ctx.text("button.sign"), "sign:"),) if campaigns.petitions else ()),
                *((Button(ctx.text("button.pledges"), "pledge:"),) if campaigns.pledges else ()),
            ),
            (Button(ctx.text("button.language"), "language:"),),
        )
        text = markup.join(ctx.t("start.welcome"), ctx.t("start.privacy"))
        return [Reply(text, buttons)]

    async def show_help(ctx: Context, args: str) -> list[Reply]:
        lines = [ctx.t("help.intro")]
        for spec in router.visible_commands(ctx.is_organiser):
            lines.append(markup.join((markup.Bold(f"/{spec.name}"),), ctx.t(spec.description), sep=" — "))
        lines.append(ctx.t("help.free_text"))
        return [Reply(markup.join(*lines, sep="\n"))]

    router.command("help", "command.help")(show_help)
    router.action("help")(show_help)

    async def language(ctx: Context, args: str) -> list[Reply]:
        code = args.strip().lower()
        if not code:
            buttons = tuple(
                (Button(ctx.core.locales.text(lang, "language.name"), f"language:{lang}"),) for lang in LANGUAGES
            )
            return [Reply(ctx.t("language.choose", current=ctx.text("language.name")), buttons)]
        if code not in LANGUAGES:
            return [ctx.reply("language.unknown", ReplyKind.ERROR, code=echo(code), supported=", ".join(LANGUAGES))]
        await ctx.core.store.set_user_language(ctx.user_key, ctx.event.user.platform, code)
        return [Reply(ctx.core.locales.rich(code, "language.set", name=ctx.core.locales.text(code, "language.name")))]

    router.command("language", "command.language")(language)
    router.action("language")(language)
