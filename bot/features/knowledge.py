"""Questions and the knowledge base: free text, /ask, /topics and /sources."""

from __future__ import annotations

from rapidfuzz import process

from bot.content.text import echo
from bot.core.context import Context
from bot.core.feature import Feature, command, free_text, pressed
from bot.core.router import ArgumentSpec
from bot.port import markup
from bot.port.actions import KB, TOPICS
from bot.port.events import Button, Reply, ReplyKind


class Knowledge(Feature):
    @command("ask", "command.ask", argument=ArgumentSpec("question", required=True, max_length=None))
    @free_text
    async def ask(self, ctx: Context, question: str) -> list[Reply]:
        if not question.strip():
            return [ctx.reply("ask.usage")]
        return await ctx.answer(question)

    @command("helpline", "command.helpline", personal=True)
    async def helpline(self, ctx: Context, args: str) -> list[Reply]:
        # Personal, so that asked in a group it moves to a private chat: the crisis answer is shown there.
        return ctx.core.replies.crisis_replies(ctx.lang, await ctx.country())

    @command("topics", "command.topics")
    @pressed(TOPICS)
    async def topics(self, ctx: Context, group_id: str) -> list[Reply]:
        kb = ctx.core.content.kb
        group = kb.group(group_id.strip().upper()) if group_id.strip() else None
        if group is None:
            buttons = tuple((Button(g.title, TOPICS.build(g.id)),) for g in kb.groups)
            return [Reply(ctx.t("topics.intro"), buttons)]
        buttons = tuple((Button(kb.entries[i].text_in(ctx.lang).title, KB.build(i)),) for i in group.entry_ids)
        back = ((Button(ctx.text("button.back"), TOPICS.build()),),)
        return [Reply(markup.join((markup.Bold(group.title),), ctx.t("topics.pick")), buttons + back)]

    @pressed(KB)
    async def entry(self, ctx: Context, entry_id: str) -> list[Reply]:
        if entry_id not in ctx.core.content.kb.entries:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        return [ctx.core.replies.entry_reply(entry_id, ctx.lang)]

    @command("sources", "command.sources", argument=ArgumentSpec("answer"))
    async def sources(self, ctx: Context, args: str) -> list[Reply]:
        entries = ctx.core.content.kb.entries
        entry_id = args.strip().lower()
        if not entry_id:
            return [ctx.reply("sources.usage")]
        if entry_id not in entries:
            # Matched and quoted back as far as an id could reach: the cost stays that of a short id.
            close = [match for match, _, _ in process.extract(echo(entry_id), list(entries), limit=3)]
            buttons = tuple((Button(entries[i].title, KB.build(i)),) for i in close)
            return [Reply(ctx.t("sources.unknown", id=echo(entry_id)), buttons, kind=ReplyKind.ERROR)]
        found = entries[entry_id]
        text = markup.join((markup.Bold(found.title),), ctx.core.replies.sources_text(found, ctx.lang))
        return [Reply(text, entry=found.id)]
