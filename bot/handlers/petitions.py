"""/sign: the petition sign-up conversation, kept in the store so that it survives a restart.

Steps: the petition and its privacy notice -> each field in turn (validated, re-asked with the
reason) -> explicit consent (a button) -> the signature, recorded once -> a separate, unticked
opt-in for campaign updates. /cancel (or the Cancel button) leaves at any step.
"""

from __future__ import annotations

from typing import Any

from bot import forms, markup
from bot.content.model import Petition, localized
from bot.events import Button, Reply, ReplyKind
from bot.handlers.pledges import progress
from bot.markup import RichText
from bot.records import UPDATES_TOPIC, Conversation, Signer
from bot.router import Context, Router
from bot.text import echo
from bot.timezones import country_zone

FLOW = "sign"
CONSENT = "consent"


def register(router: Router) -> None:
    def petitions(ctx: Context) -> dict[str, Petition]:
        return ctx.core.content.campaigns.petitions

    def cancel_button(ctx: Context) -> Button:
        return Button(ctx.text("button.cancel"), "cancel:")

    def question(ctx: Context, petition: Petition, step: str) -> Reply:
        if step == CONSENT:
            consent = markup.join(
                (markup.Bold(ctx.text("sign.consent_heading")),),
                markup.text(localized(petition.consent, ctx.lang)),
            )
            agree = Button(ctx.text("button.agree"), f"sign-consent:{petition.id}:{petition.consent_version}")
            return Reply(markup.join(consent, ctx.t("sign.ask.consent")), ((agree, cancel_button(ctx)),))
        field = next(f for f in petition.fields if f.name == step)
        buttons: tuple[Button, ...] = (cancel_button(ctx),)
        key = f"sign.ask.{step}"
        if not field.required:
            buttons = (Button(ctx.text("button.skip"), f"sign-skip:{petition.id}:{step}"), *buttons)
            key += "_optional"
        return Reply(ctx.t(key), (buttons,))

    def next_step(petition: Petition, step: str | None) -> str:
        names = [f.name for f in petition.fields]
        index = names.index(step) + 1 if step in names else 0
        return names[index] if index < len(names) else CONSENT

    async def save(ctx: Context, petition: Petition, step: str, answers: dict[str, Any]) -> None:
        state = {"petition": petition.id, "step": step, "answers": answers}
        await ctx.core.records.save_conversation(ctx.user_key, ctx.event.user.platform, FLOW, state, ctx.core.clock())

    async def unavailable(ctx: Context, petition: Petition, *, check_signed: bool = True) -> Reply | None:
        """Why this person cannot sign this petition now, if they cannot."""
        title = localized(petition.title, ctx.lang)
        if not petition.open:
            return ctx.reply("sign.closed", title=title)
        if not petition.accepts_on(ctx.core.clock().date()):
            return ctx.reply("sign.deadline_passed", title=title, date=str(petition.deadline))
        signed = await ctx.core.records.signed_at(petition.id, ctx.user_key) if check_signed else None
        if signed is not None:
            return ctx.reply("sign.already", title=title, date=signed.date().isoformat())
        return None

    async def start(ctx: Context, args: str) -> list[Reply]:
        wanted = args.strip().lower()
        available = petitions(ctx)
        petition = available.get(wanted)
        if petition is None:
            open_ones = [p for p in available.values() if p.accepts_on(ctx.core.clock().date())]
            if not wanted and len(open_ones) == 1:
                petition = open_ones[0]
            else:
                buttons = tuple((Button(localized(p.title, ctx.lang), f"sign:{p.id}"),) for p in open_ones)
                if not buttons:
                    return [ctx.reply("sign.none_open")]
                key = "sign.unknown" if wanted else "sign.choose"
                return [Reply(ctx.t(key, id=echo(wanted)), buttons, kind=ReplyKind.ERROR if wanted else ReplyKind.INFO)]
        refusal = await unavailable(ctx, petition)
        if refusal is not None:
            return [refusal]
        count = await ctx.core.records.signature_count(petition.id)
        intro = markup.join(
            (markup.Bold(localized(petition.title, ctx.lang)),),
            ctx.t("sign.addressee", addressee=localized(petition.addressee, ctx.lang)),
            markup.parse(localized(petition.text, ctx.lang)),
            progress(ctx, count, petition.goal),
        )
        privacy = markup.parse(localized(petition.privacy, ctx.lang))
        first = next_step(petition, None)
        await save(ctx, petition, first, {})
        return [Reply(intro), Reply(privacy), question(ctx, petition, first)]

    router.command("sign", "command.sign", personal=True)(start)
    router.action("sign", handoff="sign")(start)

    async def current(ctx: Context, petition_id: str, step: str) -> tuple[Petition, dict[str, Any]] | None:
        """The sign-up under way, if it is for ``petition_id`` and at ``step``: else the button is stale."""
        conversation = await ctx.core.records.conversation(ctx.user_key)
        if conversation is None or conversation.flow != FLOW:
            return None
        state = conversation.state
        petition = petitions(ctx).get(state.get("petition", ""))
        if petition is None or petition.id != petition_id or state.get("step") != step:
            return None
        return petition, dict(state.get("answers", {}))

    async def advance(ctx: Context, petition: Petition, step: str, answers: dict[str, Any]) -> list[Reply]:
        following = next_step(petition, step)
        await save(ctx, petition, following, answers)
        return [question(ctx, petition, following)]

    def reask(ctx: Context, petition: Petition, step: str, reason: RichText) -> list[Reply]:
        prompt = question(ctx, petition, step)
        return [Reply(markup.join(reason, prompt.text), prompt.buttons, kind=ReplyKind.ERROR)]

    @router.flow(FLOW)
    async def answer(ctx: Context, text: str, conversation: Conversation) -> list[Reply]:
        state = conversation.state
        petition = petitions(ctx).get(state.get("petition", ""))
        step = str(state.get("step", ""))
        if petition is None:
            await ctx.core.records.end_conversation(ctx.user_key)
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        answerer = ctx.core.answerer
        if answerer.detector.detect(text) is not None:
            # Someone in danger comes before any form: answer, then keep the sign-up where it was.
            return [*answerer.replies(answerer.answer(text, ctx.lang), ctx.lang), question(ctx, petition, step)]
        answers = dict(state.get("answers", {}))
        if step == CONSENT:
            return reask(ctx, petition, step, ctx.t("sign.press_agree"))
        try:
            if step == "name":
                answers["name"] = forms.clean_name(text)
            elif step == "email":
                email = forms.clean_email(text)
                if await ctx.core.records.email_signed(petition.id, email):
                    return reask(ctx, petition, step, ctx.t("sign.email_taken"))
                answers["email"] = email
            elif step == "country":
                answers["country"] = forms.resolve_country(text, ctx.lang).code
        except forms.FieldError as error:
            return reask(ctx, petition, step, ctx.t(error.reason, **error.params))
        return await advance(ctx, petition, step, answers)

    @router.action("sign-skip")
    async def skip(ctx: Context, argument: str) -> list[Reply]:
        petition_id, _, step = argument.partition(":")
        found = await current(ctx, petition_id, step)
        if found is None or next(f for f in found[0].fields if f.name == step).required:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        petition, answers = found
        return await advance(ctx, petition, step, answers)

    @router.action("sign-consent")
    async def consent(ctx: Context, argument: str) -> list[Reply]:
        petition_id, _, version = argument.partition(":")
        found = await current(ctx, petition_id, CONSENT)
        if found is None:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        petition, answers = found
        if version != str(petition.consent_version):
            # The consent text changed since it was shown: show the new one.
            return [question(ctx, petition, CONSENT)]
        # Signing twice is caught by the store itself, in the same statement that records it.
        refusal = await unavailable(ctx, petition, check_signed=False)
        if refusal is not None:
            await ctx.core.records.end_conversation(ctx.user_key)
            return [refusal]
        signer = Signer(str(answers["name"]), answers.get("email"), answers.get("country"))
        signed = await ctx.core.records.sign(
            petition.id,
            ctx.user_key,
            ctx.event.user.platform,
            signer,
            petition.consent_version,
            ctx.core.clock(),
            # Reminders then come at a sensible local hour, unless they chose a zone themselves.
            timezone=country_zone(signer.country) if signer.country else None,
        )
        if signed.already is not None:
            title = localized(petition.title, ctx.lang)
            return [ctx.reply("sign.already", title=title, date=signed.already.date().isoformat())]
        if signed.email_taken:
            return [ctx.reply("sign.email_taken_final", ReplyKind.ERROR)]
        thanks = ctx.t("sign.thanks", name=signer.name, title=localized(petition.title, ctx.lang))
        opt_in = ctx.t("sign.updates_question")
        buttons = (
            (
                Button(ctx.text("button.updates_yes"), f"updates:yes:{petition.id}"),
                Button(ctx.text("button.updates_no"), f"updates:no:{petition.id}"),
            ),
        )
        return [Reply(markup.join(thanks, progress(ctx, signed.count, petition.goal), opt_in), buttons)]

    @router.action("updates", handoff="sign")
    async def updates(ctx: Context, argument: str) -> list[Reply]:
        choice = argument.partition(":")[0]
        if choice != "yes":
            return [ctx.reply("sign.updates_declined")]
        await ctx.core.records.subscribe(
            ctx.user_key, ctx.event.user.platform, UPDATES_TOPIC, ctx.event.chat.id, ctx.lang, ctx.core.clock()
        )
        return [ctx.reply("sign.updates_accepted")]

    async def cancel(ctx: Context, args: str) -> list[Reply]:
        ended = await ctx.core.records.end_conversation(ctx.user_key)
        return [ctx.reply("cancel.done" if ended else "cancel.nothing")]

    router.command("cancel", "command.cancel")(cancel)
    router.action("cancel")(cancel)
