"""/sign: the petition sign-up conversation, kept in the store so that it survives a restart.

Steps: the petition and its privacy notice -> each field in turn (validated, re-asked with the
reason; a likely slip offered back as buttons: "Did you mean …@gmail.com?", "Brazil?") -> a review
of what will be signed, each field changeable -> explicit consent (I agree) -> the signature,
recorded once -> a separate, unticked opt-in for petition updates. /cancel (or Cancel) leaves at
any step.

The conversation's state: the petition, the step (a field's name, or CONSENT for the review), the
answers so far, whether a field is being changed from the review ("reviewing": then the review
comes next), and an offer of likely values for the current field ("offer": its options, and the
interface string that explains them).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from bot.campaigns import forms
from bot.campaigns.conversations import Conversation
from bot.campaigns.forms import country_name
from bot.campaigns.petitions import Signer
from bot.campaigns.subscriptions import UPDATES_TOPIC
from bot.campaigns.timezones import country_zone
from bot.content.model import Petition, localized
from bot.content.text import echo
from bot.core.capabilities import Capabilities
from bot.core.context import Context
from bot.core.router import ArgumentSpec, Router
from bot.features.pledges import progress
from bot.port import markup
from bot.port.events import Button, Reply, ReplyKind
from bot.port.markup import RichText
from bot.port.outcome import FormField, OpenForm
from bot.port.services import ArgumentChoice

FLOW = "sign"
CONSENT = "consent"
State = dict[str, Any]
# Country names are short; a form needs some limit.
MAX_COUNTRY_CHARS = 100
MAX_LENGTHS = {"name": forms.MAX_NAME_CHARS, "email": forms.MAX_EMAIL_CHARS, "country": MAX_COUNTRY_CHARS}


def open_petitions(core: Capabilities, lang: str) -> list[ArgumentChoice]:
    petitions = core.content.campaigns.petitions.values()
    return [ArgumentChoice(localized(p.title, lang), p.id) for p in petitions if p.open]


PETITION = ArgumentSpec("petition", choices=open_petitions)


def register(router: Router) -> None:
    def petitions(ctx: Context) -> dict[str, Petition]:
        return ctx.core.content.campaigns.petitions

    def cancel_button(ctx: Context) -> Button:
        return Button(ctx.text("button.cancel"), "cancel:")

    def shown(ctx: Context, field: str, value: str | None) -> str:
        """An answer as the person reads it: a country by its name in their language."""
        if value is None:
            return ctx.text("sign.review.none")
        return country_name(value, ctx.lang) if field == "country" else value

    def review(ctx: Context, petition: Petition, answers: dict[str, Any]) -> Reply:
        summary: list[RichText] = [(markup.Bold(ctx.text("sign.review_heading")),)]
        summary += [
            ctx.t(f"sign.review.{field.name}", value=shown(ctx, field.name, answers.get(field.name)))
            for field in petition.fields
        ]
        consent = markup.join(
            (markup.Bold(ctx.text("sign.consent_heading")),),
            markup.text(localized(petition.consent, ctx.lang)),
        )
        agree = Button(ctx.text("button.agree"), f"sign-consent:{petition.id}:{petition.consent_version}")
        changes = tuple(
            Button(ctx.text(f"button.change.{field.name}"), f"sign-change:{petition.id}:{field.name}")
            for field in petition.fields
        )
        text = markup.join(markup.join(*summary, sep="\n"), consent, ctx.t("sign.ask.consent"))
        return Reply(text, ((agree,), changes, (cancel_button(ctx),)), asks_form=True)

    def offer_buttons(ctx: Context, petition: Petition, step: str, options: list[str]) -> tuple[Button, ...]:
        def pick(index: int, label: str) -> Button:
            return Button(label, f"sign-pick:{petition.id}:{step}:{index}")

        if step == "name":
            return (pick(0, ctx.text("button.use_name")),)
        if step == "email":
            suggested, typed = options
            return (
                pick(0, ctx.text("button.yes_value", value=suggested)),
                pick(1, ctx.text("button.keep_value", value=typed)),
            )
        names = [country_name(code, ctx.lang) for code in options]
        if len(names) == 1:
            return (pick(0, ctx.text("button.yes_value", value=names[0])),)
        return tuple(pick(index, name) for index, name in enumerate(names))

    def question(ctx: Context, petition: Petition, state: State) -> Reply:
        """The question the sign-up is at: a field (with the values offered for it, if any), or the review."""
        step = str(state.get("step", ""))
        if step == CONSENT:
            return review(ctx, petition, dict(state.get("answers", {})))
        field = next(f for f in petition.fields if f.name == step)
        key = f"sign.ask.{step}"
        extra: tuple[Button, ...] = ()
        if not field.required:
            extra = (Button(ctx.text("button.skip"), f"sign-skip:{petition.id}:{step}"),)
            key += "_optional"
        offer = state.get("offer")
        if offer and offer.get("step") == step:
            why = ctx.t(str(offer["why"]), **offer.get("params", {}))
            options = offer_buttons(ctx, petition, step, list(offer["options"]))
            return Reply(markup.join(why, ctx.t(key)), (options, (*extra, cancel_button(ctx))), asks_form=True)
        return Reply(ctx.t(key), ((*extra, cancel_button(ctx)),), asks_form=True)

    def offered(ctx: Context, conversation: Conversation) -> tuple[Button, ...]:
        petition = petitions(ctx).get(conversation.state.get("petition", ""))
        if petition is None:
            return ()
        return tuple(button for row in question(ctx, petition, conversation.state).buttons for button in row)

    def form(ctx: Context, conversation: Conversation) -> OpenForm | None:
        """The fields still to type, from the one asked now (alone, when changed from the review)."""
        state = conversation.state
        petition = petitions(ctx).get(str(state.get("petition")))
        names = [field.name for field in petition.fields] if petition is not None else []
        step = str(state.get("step"))
        if petition is None or step not in names:
            return None
        first = names.index(step)
        # A field changed from the review is asked alone: the review follows it.
        last = first + 1 if state.get("reviewing") else len(names)
        # The questions' plain wording: "press Skip" does not apply in a form, where one leaves a field empty.
        fields = tuple(
            FormField(
                field.name,
                field.required,
                ctx.text(f"sign.ask.{field.name}"),
                MAX_LENGTHS.get(field.name, MAX_COUNTRY_CHARS),
                skip=None if field.required else f"sign-skip:{petition.id}:{field.name}",
            )
            for field in petition.fields[first:last]
        )
        return OpenForm(f"{FLOW}:{petition.id}", localized(petition.title, ctx.lang), fields)

    def next_step(petition: Petition, step: str | None) -> str:
        names = [f.name for f in petition.fields]
        index = names.index(step) + 1 if step in names else 0
        return names[index] if index < len(names) else CONSENT

    async def save(ctx: Context, state: State) -> None:
        await ctx.core.conversations.save_conversation(
            ctx.user_key, ctx.event.user.platform, FLOW, state, ctx.core.clock()
        )

    async def unavailable(ctx: Context, petition: Petition, *, check_signed: bool = True) -> Reply | None:
        """Why this person cannot sign this petition now, if they cannot."""
        title = localized(petition.title, ctx.lang)
        if not petition.open:
            return ctx.reply("sign.closed", title=title)
        if not petition.accepts_on(ctx.core.clock().date()):
            return ctx.reply("sign.deadline_passed", title=title, date=str(petition.deadline))
        signed = await ctx.core.signatures.signed_at(petition.id, ctx.user_key) if check_signed else None
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
        conversation = await ctx.core.conversations.conversation(ctx.user_key)
        if conversation is not None and conversation.flow == FLOW and conversation.state.get("petition") == petition.id:
            # Already under way (asked again, or back from a group's hand-off): go on, losing nothing.
            return [ctx.reply("sign.resume"), question(ctx, petition, conversation.state)]
        count = await ctx.core.signatures.signature_count(petition.id)
        intro = markup.join(
            (markup.Bold(localized(petition.title, ctx.lang)),),
            ctx.t("sign.addressee", addressee=localized(petition.addressee, ctx.lang)),
            markup.parse(localized(petition.text, ctx.lang)),
            progress(ctx, count, petition.goal),
        )
        privacy = markup.parse(localized(petition.privacy, ctx.lang))
        state: State = {"petition": petition.id, "step": next_step(petition, None), "answers": {}}
        await save(ctx, state)
        return [Reply(intro), Reply(privacy), question(ctx, petition, state)]

    router.command("sign", "command.sign", personal=True, argument=PETITION)(start)
    router.action("sign", handoff="sign")(start)

    async def current(ctx: Context, petition_id: str, step: str) -> tuple[Petition, State] | None:
        """The sign-up under way, if it is for ``petition_id`` and at ``step``: else the button is stale."""
        conversation = await ctx.core.conversations.conversation(ctx.user_key)
        if conversation is None or conversation.flow != FLOW:
            return None
        state = dict(conversation.state)
        petition = petitions(ctx).get(state.get("petition", ""))
        if petition is None or petition.id != petition_id or state.get("step") != step:
            return None
        return petition, state

    async def accept(
        ctx: Context, petition: Petition, state: State, value: str | None, note: RichText = ()
    ) -> list[Reply]:
        """Record the current field's answer (None: left out) and ask what comes next."""
        step = str(state["step"])
        if step == "email" and value is not None and await ctx.core.signatures.email_signed(petition.id, value):
            return reask(ctx, petition, {**state, "offer": None}, ctx.t("sign.email_taken"))
        answers = {key: answer for key, answer in state.get("answers", {}).items() if key != step}
        if value is not None:
            answers[step] = value
        # A field changed from the review goes back to the review.
        following = CONSENT if state.get("reviewing") else next_step(petition, step)
        state = {"petition": petition.id, "step": following, "answers": answers}
        await save(ctx, state)
        following_question = question(ctx, petition, state)
        return [replace(following_question, text=markup.join(note, following_question.text))]

    async def offer(ctx: Context, petition: Petition, state: State, error: forms.FieldError) -> list[Reply]:
        """Ask about a likely value (or a doubtful one) with buttons, keeping it in the form meanwhile."""
        params = {key: str(value) for key, value in error.params.items()}
        state = {
            **state,
            "offer": {"step": state["step"], "options": error.options, "why": error.reason, "params": params},
        }
        await save(ctx, state)
        return [question(ctx, petition, state)]

    def reask(ctx: Context, petition: Petition, state: State, reason: RichText) -> list[Reply]:
        prompt = question(ctx, petition, {**state, "offer": None})
        return [replace(prompt, text=markup.join(reason, prompt.text), kind=ReplyKind.ERROR)]

    @router.flow(FLOW, offers=offered, form=form)
    async def answer(ctx: Context, text: str, conversation: Conversation) -> list[Reply]:
        state = dict(conversation.state)
        petition = petitions(ctx).get(state.get("petition", ""))
        step = str(state.get("step", ""))
        if petition is None:
            await ctx.core.conversations.end_conversation(ctx.user_key)
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        if ctx.core.answerer.is_alarm(text):
            # Someone in danger comes before any form: answer, then keep the sign-up where it was.
            return [*await ctx.answer(text), question(ctx, petition, state)]
        if step == CONSENT:
            return reask(ctx, petition, state, ctx.t("sign.press_agree"))
        try:
            if step == "name":
                stop_words = ctx.core.content.lexicon.stopwords
                doubt = forms.doubtful_name(
                    text, [stop_words.get(ctx.lang, frozenset()), stop_words.get("en", frozenset())]
                )
                if doubt == "form.name.question":
                    raise forms.FieldError(doubt, {"text": echo(text)})
                name = forms.clean_name(text)
                if doubt is not None:
                    raise forms.FieldError(doubt, {"text": name}, [name])
                return await accept(ctx, petition, state, name)
            if step == "email":
                email = forms.clean_email(text)
                suggestion = forms.email_suggestion(email)
                if suggestion is not None:
                    raise forms.FieldError("form.email.suggest", {"suggestion": suggestion}, [suggestion, email])
                return await accept(ctx, petition, state, email)
            # Off the event loop: the first look-up in a language reads CLDR's names for ~1 s.
            country = await asyncio.to_thread(forms.resolve_country, text, ctx.lang)
            note: RichText = ()
            if forms.is_shorthand(text, country, ctx.lang):
                # "usa", "Deutschland": say which country it became, before it goes on the petition.
                note = ctx.t("form.country.understood", text=echo(text), country=country.name(ctx.lang))
            return await accept(ctx, petition, state, country.code, note)
        except forms.FieldError as error:
            if error.options:
                return await offer(ctx, petition, state, error)
            return reask(ctx, petition, state, ctx.t(error.reason, **error.params))

    @router.action("sign-pick", handoff="sign")
    async def pick(ctx: Context, argument: str) -> list[Reply]:
        petition_id, _, rest = argument.partition(":")
        step, _, index = rest.partition(":")
        found = await current(ctx, petition_id, step)
        offer_made = found[1].get("offer") if found is not None else None
        options = list(offer_made["options"]) if offer_made and offer_made.get("step") == step else []
        if found is None or not index.isdigit() or int(index) >= len(options):
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        petition, state = found
        return await accept(ctx, petition, state, str(options[int(index)]))

    @router.action("sign-skip", handoff="sign")
    async def skip(ctx: Context, argument: str) -> list[Reply]:
        petition_id, _, step = argument.partition(":")
        found = await current(ctx, petition_id, step)
        if found is None or next(f for f in found[0].fields if f.name == step).required:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        petition, state = found
        return await accept(ctx, petition, state, None)

    @router.action("sign-change", handoff="sign")
    async def change(ctx: Context, argument: str) -> list[Reply]:
        petition_id, _, field = argument.partition(":")
        found = await current(ctx, petition_id, CONSENT)
        if found is None or field not in {f.name for f in found[0].fields}:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        petition, state = found
        state = {**state, "step": field, "reviewing": True, "offer": None}
        await save(ctx, state)
        return [question(ctx, petition, state)]

    @router.action("sign-consent", handoff="sign")
    async def consent(ctx: Context, argument: str) -> list[Reply]:
        petition_id, _, version = argument.partition(":")
        found = await current(ctx, petition_id, CONSENT)
        if found is None:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        petition, state = found
        answers = dict(state.get("answers", {}))
        if version != str(petition.consent_version):
            # The consent text changed since it was shown: show the new one.
            return [question(ctx, petition, state)]
        # Signing twice is caught by the store itself, in the same statement that records it.
        refusal = await unavailable(ctx, petition, check_signed=False)
        if refusal is not None:
            await ctx.core.conversations.end_conversation(ctx.user_key)
            return [refusal]
        signer = Signer(str(answers["name"]), answers.get("email"), answers.get("country"))
        signed = await ctx.core.signatures.sign(
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
        # The opt-in names the topic it subscribes to, in the words /subscribe and /mydata use.
        opt_in = ctx.t("sign.updates_question", topic=ctx.text(f"topic.{UPDATES_TOPIC}"))
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
        await ctx.core.subscriptions.subscribe(
            ctx.user_key, ctx.event.user.platform, UPDATES_TOPIC, ctx.event.chat.id, ctx.lang, ctx.core.clock()
        )
        return [ctx.reply("sign.updates_accepted", topic=ctx.text(f"topic.{UPDATES_TOPIC}"))]

    async def cancel(ctx: Context, args: str) -> list[Reply]:
        ended = await ctx.core.conversations.end_conversation(ctx.user_key)
        return [ctx.reply("cancel.done" if ended else "cancel.nothing")]

    router.command("cancel", "command.cancel")(cancel)
    # Ends only the presser's own form, and says nothing about it: no need to move to a private chat.
    router.action("cancel", public=True)(cancel)
