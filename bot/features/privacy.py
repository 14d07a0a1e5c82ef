"""/mydata shows a person everything stored about them; /forget erases all of it."""

from __future__ import annotations

import logging

from bot.campaigns.forms import country_name
from bot.campaigns.personal import PersonalData
from bot.content.model import localized
from bot.core.context import Context
from bot.core.feature import Feature, command, pressed
from bot.port import markup
from bot.port.actions import Action
from bot.port.events import Button, Reply
from bot.port.markup import RichText

log = logging.getLogger(__name__)


def describe(ctx: Context, data: PersonalData) -> RichText:
    campaigns = ctx.core.content.campaigns
    lines: list[RichText] = [ctx.t("mydata.heading")]
    if data.created_at is not None:
        language = (
            ctx.core.locales.text(data.language, "language.name") if data.language else ctx.text("mydata.language_auto")
        )
        lines.append(ctx.t("mydata.account", date=data.created_at.date().isoformat(), language=language))
        if data.timezone:
            lines.append(ctx.t("mydata.timezone", zone=data.timezone))
    for pledge_id, taken in data.pledges.items():
        pledge = campaigns.pledges.get(pledge_id)
        title = localized(pledge.title, ctx.lang) if pledge else pledge_id
        lines.append(ctx.t("mydata.pledge", title=title, date=taken.date().isoformat()))
    for signature in data.signatures:
        petition = campaigns.petitions.get(signature.petition_id)
        signer = signature.signer
        lines.append(
            ctx.t(
                "mydata.signature",
                title=localized(petition.title, ctx.lang) if petition else signature.petition_id,
                date=signature.signed_at.date().isoformat(),
                name=signer.name,
                email=signer.email or "—",
                country=country_name(signer.country, ctx.lang) if signer.country else "—",
                version=signature.consent_version,
            )
        )
    for subscription in data.subscriptions:
        topic = ctx.text(f"topic.{subscription.topic}")
        lines.append(ctx.t("mydata.subscription", topic=topic, date=subscription.created_at.date().isoformat()))
    if data.conversation is not None:
        state = data.conversation.state
        typed_in = {**state.get("answers", {}), **({"text": state["body"]} if "body" in state else {})}
        offer = state.get("offer") or {}
        if offer.get("options"):
            # A value typed (or suggested) and not yet confirmed is stored too, until it is.
            typed_in[f"{offer['step']}?"] = " / ".join(str(option) for option in offer["options"])
        typed = ", ".join(f"{key}: {value}" for key, value in typed_in.items()) or "—"
        lines.append(ctx.t("mydata.conversation", flow=data.conversation.flow, answers=typed))
    if len(lines) == 1:
        return ctx.t("mydata.nothing")
    lines.append(ctx.t("mydata.footer"))
    return markup.join(*lines, sep="\n")


class Privacy(Feature):
    # "confirm" erases everything; anything else keeps it.
    FORGET = Action("forget", ("choice",), handoff="forget")

    @command("mydata", "command.mydata", personal=True)
    async def mydata(self, ctx: Context, args: str) -> list[Reply]:
        data = await ctx.core.personal.personal_data(ctx.user_key)
        return [Reply(describe(ctx, data), private=True)]

    @command("forget", "command.forget", personal=True)
    async def forget(self, ctx: Context, args: str) -> list[Reply]:
        buttons = (
            (
                Button(ctx.text("button.forget_confirm"), self.FORGET.build("confirm")),
                Button(ctx.text("button.keep"), self.FORGET.build("keep")),
            ),
        )
        return [Reply(ctx.t("forget.confirm"), buttons, private=True)]

    @pressed(FORGET)
    async def confirm(self, ctx: Context, choice: str) -> list[Reply]:
        if choice != "confirm":
            return [ctx.reply("forget.kept")]
        erased = await ctx.core.personal.forget(ctx.user_key)
        log.info("erased one person's data on %s at their request", ctx.event.user.platform)
        return [
            ctx.reply(
                "forget.done",
                pledges=erased.pledges,
                signatures=erased.signatures,
                subscriptions=erased.subscriptions,
            )
        ]
