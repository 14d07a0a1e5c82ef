"""/sign: the petition sign-up form, kept in the store so that it survives a restart.

Steps: the petition and its privacy notice -> each field in turn (validated, re-asked with the
reason; a likely slip offered back as buttons: "Did you mean …@gmail.com?", "Brazil?") -> a review
of what will be signed, each field changeable -> explicit consent (I agree) -> the signature,
recorded once -> a separate, unticked opt-in for petition updates. /cancel (or Cancel) leaves at
any step.

The form's state is a :class:`SignUp`: the petition, the step (a field's name, or CONSENT for the
review), the answers so far, whether a field is being changed from the review (then the review comes
next), and an :class:`Offer` of likely values for the current field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
from bot.core.feature import Feature, command, pressed
from bot.core.router import ArgumentSpec
from bot.features.pledges import progress
from bot.port import markup
from bot.port.actions import CANCEL, Action
from bot.port.events import Button, Reply, ReplyKind
from bot.port.markup import RichText
from bot.port.outcome import FormField, OpenForm
from bot.port.services import ArgumentChoice

FLOW = "sign"
CONSENT = "consent"
# Country names are short; a form needs some limit.
MAX_COUNTRY_CHARS = 100
MAX_LENGTHS = {"name": forms.MAX_NAME_CHARS, "email": forms.MAX_EMAIL_CHARS, "country": MAX_COUNTRY_CHARS}


def open_petitions(core: Capabilities, lang: str) -> list[ArgumentChoice]:
    petitions = core.content.campaigns.petitions.values()
    return [ArgumentChoice(localized(p.title, lang), p.id) for p in petitions if p.open]


PETITION = ArgumentSpec("petition", choices=open_petitions)


@dataclass(frozen=True)
class Offer:
    """Likely values for a field, offered as buttons, and the interface string that says why."""

    step: str
    options: tuple[str, ...]
    why: str
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SignUp:
    """A sign-up under way, as it is stored with the conversation."""

    petition: str
    step: str
    answers: Mapping[str, str] = field(default_factory=dict)
    # A field changed from the review: the review comes next.
    reviewing: bool = False
    offer: Offer | None = None

    @classmethod
    def stored(cls, state: Mapping[str, Any]) -> SignUp:
        offer = state.get("offer")
        return cls(
            str(state.get("petition", "")),
            str(state.get("step", "")),
            {str(key): str(value) for key, value in dict(state.get("answers", {})).items()},
            bool(state.get("reviewing")),
            Offer(
                str(offer["step"]),
                tuple(str(option) for option in offer["options"]),
                str(offer["why"]),
                {str(key): str(value) for key, value in dict(offer.get("params", {})).items()},
            )
            if offer
            else None,
        )

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"petition": self.petition, "step": self.step, "answers": dict(self.answers)}
        if self.reviewing:
            state["reviewing"] = True
        if self.offer is not None:
            offer = self.offer
            state["offer"] = {
                "step": offer.step,
                "options": list(offer.options),
                "why": offer.why,
                "params": dict(offer.params),
            }
        return state

    @property
    def offered(self) -> tuple[str, ...]:
        """The values offered for the current field, if any."""
        return self.offer.options if self.offer is not None and self.offer.step == self.step else ()


def shown(ctx: Context, name: str, value: str | None) -> str:
    """An answer as the person reads it: a country by its name in their language."""
    if value is None:
        return ctx.text("sign.review.none")
    return country_name(value, ctx.lang) if name == "country" else value


def next_step(petition: Petition, step: str | None) -> str:
    names = [f.name for f in petition.fields]
    index = names.index(step) + 1 if step in names else 0
    return names[index] if index < len(names) else CONSENT


class Petitions(Feature):
    flow = FLOW

    # A petition to sign (none: the list of open ones).
    SIGN = Action("sign", ("petition",), handoff="sign")
    # One of the values offered for a field.
    PICK = Action("sign-pick", ("petition", "step", "index"), handoff="sign")
    SKIP = Action("sign-skip", ("petition", "step"), handoff="sign")
    # Change a field from the review.
    CHANGE = Action("sign-change", ("petition", "field"), handoff="sign")
    # "I agree" to the consent text of this version.
    AGREE = Action("sign-consent", ("petition", "version"), handoff="sign")
    # The opt-in for the petition's updates: "yes" or "no".
    UPDATES = Action("updates", ("choice", "petition"), handoff="sign")

    @staticmethod
    def petitions(ctx: Context) -> dict[str, Petition]:
        return ctx.core.content.campaigns.petitions

    @staticmethod
    def cancel_button(ctx: Context) -> Button:
        return Button(ctx.text("button.cancel"), CANCEL.build())

    # ------------------------------------------------------------------ questions

    def review(self, ctx: Context, petition: Petition, answers: Mapping[str, str]) -> Reply:
        summary: list[RichText] = [(markup.Bold(ctx.text("sign.review_heading")),)]
        summary += [
            ctx.t(f"sign.review.{field.name}", value=shown(ctx, field.name, answers.get(field.name)))
            for field in petition.fields
        ]
        consent = markup.join(
            (markup.Bold(ctx.text("sign.consent_heading")),),
            markup.text(localized(petition.consent, ctx.lang)),
        )
        agree = Button(ctx.text("button.agree"), self.AGREE.build(petition.id, petition.consent_version))
        changes = tuple(
            Button(ctx.text(f"button.change.{field.name}"), self.CHANGE.build(petition.id, field.name))
            for field in petition.fields
        )
        text = markup.join(markup.join(*summary, sep="\n"), consent, ctx.t("sign.ask.consent"))
        return Reply(text, ((agree,), changes, (self.cancel_button(ctx),)), asks_form=True)

    def offer_buttons(
        self, ctx: Context, petition: Petition, step: str, options: tuple[str, ...]
    ) -> tuple[Button, ...]:
        def pick(index: int, label: str) -> Button:
            return Button(label, self.PICK.build(petition.id, step, index))

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

    def question(self, ctx: Context, petition: Petition, signup: SignUp) -> Reply:
        """The question the sign-up is at: a field (with the values offered for it, if any), or the review."""
        step = signup.step
        if step == CONSENT:
            return self.review(ctx, petition, signup.answers)
        asked = next(f for f in petition.fields if f.name == step)
        key = f"sign.ask.{step}"
        extra: tuple[Button, ...] = ()
        if not asked.required:
            extra = (Button(ctx.text("button.skip"), self.SKIP.build(petition.id, step)),)
            key += "_optional"
        offer = signup.offer
        if offer is not None and offer.step == step:
            why = ctx.t(offer.why, **offer.params)
            options = self.offer_buttons(ctx, petition, step, offer.options)
            return Reply(markup.join(why, ctx.t(key)), (options, (*extra, self.cancel_button(ctx))), asks_form=True)
        return Reply(ctx.t(key), ((*extra, self.cancel_button(ctx)),), asks_form=True)

    def form_buttons(self, ctx: Context, conversation: Conversation) -> tuple[Button, ...]:
        signup = SignUp.stored(conversation.state)
        petition = self.petitions(ctx).get(signup.petition)
        if petition is None:
            return ()
        return tuple(button for row in self.question(ctx, petition, signup).buttons for button in row)

    def open_form(self, ctx: Context, conversation: Conversation) -> OpenForm | None:
        """The fields still to type, from the one asked now (alone, when changed from the review)."""
        signup = SignUp.stored(conversation.state)
        petition = self.petitions(ctx).get(signup.petition)
        names = [field.name for field in petition.fields] if petition is not None else []
        if petition is None or signup.step not in names:
            return None
        first = names.index(signup.step)
        # A field changed from the review is asked alone: the review follows it.
        last = first + 1 if signup.reviewing else len(names)
        # The questions' plain wording: "press Skip" does not apply in a form, where one leaves a field empty.
        fields = tuple(
            FormField(
                field.name,
                field.required,
                ctx.text(f"sign.ask.{field.name}"),
                MAX_LENGTHS.get(field.name, MAX_COUNTRY_CHARS),
                skip=None if field.required else self.SKIP.build(petition.id, field.name),
            )
            for field in petition.fields[first:last]
        )
        return OpenForm(f"{FLOW}:{petition.id}", localized(petition.title, ctx.lang), fields)

    # ------------------------------------------------------------------ the form's steps

    @staticmethod
    async def save(ctx: Context, signup: SignUp) -> None:
        await ctx.core.conversations.save_conversation(
            ctx.user_key, ctx.event.user.platform, FLOW, signup.state(), ctx.core.clock()
        )

    @staticmethod
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

    @command("sign", "command.sign", personal=True, argument=PETITION)
    @pressed(SIGN)
    async def start(self, ctx: Context, args: str) -> list[Reply]:
        wanted = args.strip().lower()
        available = self.petitions(ctx)
        petition = available.get(wanted)
        if petition is None:
            open_ones = [p for p in available.values() if p.accepts_on(ctx.core.clock().date())]
            if not wanted and len(open_ones) == 1:
                petition = open_ones[0]
            else:
                buttons = tuple((Button(localized(p.title, ctx.lang), self.SIGN.build(p.id)),) for p in open_ones)
                if not buttons:
                    return [ctx.reply("sign.none_open")]
                key = "sign.unknown" if wanted else "sign.choose"
                return [Reply(ctx.t(key, id=echo(wanted)), buttons, kind=ReplyKind.ERROR if wanted else ReplyKind.INFO)]
        refusal = await self.unavailable(ctx, petition)
        if refusal is not None:
            return [refusal]
        conversation = await ctx.core.conversations.conversation(ctx.user_key)
        if conversation is not None and conversation.flow == FLOW:
            under_way = SignUp.stored(conversation.state)
            if under_way.petition == petition.id:
                # Already under way (asked again, or back from a group's hand-off): go on, losing nothing.
                return [ctx.reply("sign.resume"), self.question(ctx, petition, under_way)]
        count = await ctx.core.signatures.signature_count(petition.id)
        intro = markup.join(
            (markup.Bold(localized(petition.title, ctx.lang)),),
            ctx.t("sign.addressee", addressee=localized(petition.addressee, ctx.lang)),
            markup.parse(localized(petition.text, ctx.lang)),
            progress(ctx, count, petition.goal),
        )
        privacy = markup.parse(localized(petition.privacy, ctx.lang))
        signup = SignUp(petition.id, next_step(petition, None))
        await self.save(ctx, signup)
        return [Reply(intro), Reply(privacy), self.question(ctx, petition, signup)]

    async def current(self, ctx: Context, petition_id: str, step: str) -> tuple[Petition, SignUp] | None:
        """The sign-up under way, if it is for ``petition_id`` and at ``step``: else the button is stale."""
        conversation = await ctx.core.conversations.conversation(ctx.user_key)
        if conversation is None or conversation.flow != FLOW:
            return None
        signup = SignUp.stored(conversation.state)
        petition = self.petitions(ctx).get(signup.petition)
        if petition is None or petition.id != petition_id or signup.step != step:
            return None
        return petition, signup

    async def accept(
        self, ctx: Context, petition: Petition, signup: SignUp, value: str | None, note: RichText = ()
    ) -> list[Reply]:
        """Record the current field's answer (None: left out) and ask what comes next."""
        step = signup.step
        if step == "email" and value is not None and await ctx.core.signatures.email_signed(petition.id, value):
            return self.reask(ctx, petition, signup, ctx.t("sign.email_taken"))
        answers = {key: answer for key, answer in signup.answers.items() if key != step}
        if value is not None:
            answers[step] = value
        # A field changed from the review goes back to the review.
        following = CONSENT if signup.reviewing else next_step(petition, step)
        signup = SignUp(petition.id, following, answers)
        await self.save(ctx, signup)
        following_question = self.question(ctx, petition, signup)
        return [replace(following_question, text=markup.join(note, following_question.text))]

    async def offer(self, ctx: Context, petition: Petition, signup: SignUp, error: forms.FieldError) -> list[Reply]:
        """Ask about a likely value (or a doubtful one) with buttons, keeping it in the form meanwhile."""
        params = {key: str(value) for key, value in error.params.items()}
        signup = replace(signup, offer=Offer(signup.step, tuple(error.options), error.reason, params))
        await self.save(ctx, signup)
        return [self.question(ctx, petition, signup)]

    def reask(self, ctx: Context, petition: Petition, signup: SignUp, reason: RichText) -> list[Reply]:
        prompt = self.question(ctx, petition, replace(signup, offer=None))
        return [replace(prompt, text=markup.join(reason, prompt.text), kind=ReplyKind.ERROR)]

    async def form_text(self, ctx: Context, text: str, conversation: Conversation) -> list[Reply]:
        signup = SignUp.stored(conversation.state)
        petition = self.petitions(ctx).get(signup.petition)
        if petition is None:
            await ctx.core.conversations.end_conversation(ctx.user_key)
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        if ctx.core.decider.is_alarm(text):
            # Someone in danger comes before any form: answer, then keep the sign-up where it was.
            return [*await ctx.answer(text), self.question(ctx, petition, signup)]
        if signup.step == CONSENT:
            return self.reask(ctx, petition, signup, ctx.t("sign.press_agree"))
        try:
            return await self.typed(ctx, petition, signup, text)
        except forms.FieldError as error:
            if error.options:
                return await self.offer(ctx, petition, signup, error)
            return self.reask(ctx, petition, signup, ctx.t(error.reason, **error.params))

    async def typed(self, ctx: Context, petition: Petition, signup: SignUp, text: str) -> list[Reply]:
        """The current field's answer, checked: raises FieldError with the reason, or values to offer."""
        if signup.step == "name":
            stop_words = ctx.core.content.lexicon.stopwords
            doubt = forms.doubtful_name(
                text, [stop_words.get(ctx.lang, frozenset()), stop_words.get("en", frozenset())]
            )
            if doubt == "form.name.question":
                raise forms.FieldError(doubt, {"text": echo(text)})
            name = forms.clean_name(text)
            if doubt is not None:
                raise forms.FieldError(doubt, {"text": name}, [name])
            return await self.accept(ctx, petition, signup, name)
        if signup.step == "email":
            email = forms.clean_email(text)
            suggestion = forms.email_suggestion(email)
            if suggestion is not None:
                raise forms.FieldError("form.email.suggest", {"suggestion": suggestion}, [suggestion, email])
            return await self.accept(ctx, petition, signup, email)
        # Off the event loop: the first look-up in a language reads CLDR's names for ~1 s.
        country = await asyncio.to_thread(forms.resolve_country, text, ctx.lang)
        note: RichText = ()
        if forms.is_shorthand(text, country, ctx.lang):
            # "usa", "Deutschland": say which country it became, before it goes on the petition.
            note = ctx.t("form.country.understood", text=echo(text), country=country.name(ctx.lang))
        return await self.accept(ctx, petition, signup, country.code, note)

    # ------------------------------------------------------------------ buttons

    @pressed(PICK)
    async def pick(self, ctx: Context, petition_id: str, step: str, index: str) -> list[Reply]:
        found = await self.current(ctx, petition_id, step)
        options = found[1].offered if found is not None else ()
        if found is None or not index.isdigit() or int(index) >= len(options):
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        petition, signup = found
        return await self.accept(ctx, petition, signup, options[int(index)])

    @pressed(SKIP)
    async def skip(self, ctx: Context, petition_id: str, step: str) -> list[Reply]:
        found = await self.current(ctx, petition_id, step)
        if found is None or next(f for f in found[0].fields if f.name == step).required:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        petition, signup = found
        return await self.accept(ctx, petition, signup, None)

    @pressed(CHANGE)
    async def change(self, ctx: Context, petition_id: str, name: str) -> list[Reply]:
        found = await self.current(ctx, petition_id, CONSENT)
        if found is None or name not in {f.name for f in found[0].fields}:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        petition, signup = found
        signup = replace(signup, step=name, reviewing=True, offer=None)
        await self.save(ctx, signup)
        return [self.question(ctx, petition, signup)]

    @pressed(AGREE)
    async def consent(self, ctx: Context, petition_id: str, version: str) -> list[Reply]:
        found = await self.current(ctx, petition_id, CONSENT)
        if found is None:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        petition, signup = found
        if version != str(petition.consent_version):
            # The consent text changed since it was shown: show the new one.
            return [self.question(ctx, petition, signup)]
        # Signing twice is caught by the store itself, in the same statement that records it.
        refusal = await self.unavailable(ctx, petition, check_signed=False)
        if refusal is not None:
            await ctx.core.conversations.end_conversation(ctx.user_key)
            return [refusal]
        answers = signup.answers
        signer = Signer(answers["name"], answers.get("email"), answers.get("country"))
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
                Button(ctx.text("button.updates_yes"), self.UPDATES.build("yes", petition.id)),
                Button(ctx.text("button.updates_no"), self.UPDATES.build("no", petition.id)),
            ),
        )
        return [Reply(markup.join(thanks, progress(ctx, signed.count, petition.goal), opt_in), buttons)]

    @pressed(UPDATES)
    async def updates(self, ctx: Context, choice: str, petition_id: str) -> list[Reply]:
        if choice != "yes":
            return [ctx.reply("sign.updates_declined")]
        await ctx.core.subscriptions.subscribe(
            ctx.user_key, ctx.event.user.platform, UPDATES_TOPIC, ctx.event.chat.id, ctx.lang, ctx.core.clock()
        )
        return [ctx.reply("sign.updates_accepted", topic=ctx.text(f"topic.{UPDATES_TOPIC}"))]

    @command("cancel", "command.cancel")
    @pressed(CANCEL)
    async def cancel(self, ctx: Context, args: str = "") -> list[Reply]:
        ended = await ctx.core.conversations.end_conversation(ctx.user_key)
        return [ctx.reply("cancel.done" if ended else "cancel.nothing")]
