"""Typed answers to buttons: a label typed out ("i agree"), or a common word for it ("yes", "skip").

People type rather than press, above all on the console and in apps that hide buttons. Whenever
buttons are on offer, a typed reply that names one of them presses it: its label in any case and
without accents, or a word from the locale files' ``typed.*`` lists (yes, no, skip, cancel) for the
button whose label means the same. Nothing is pressed on a guess: a reply that fits two buttons
with different actions, or none, is handled as typed text.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from bot.content.i18n import Locales
from bot.content.text import words
from bot.port.events import Button

MEANINGS = ("yes", "no", "skip", "cancel")
# A typed answer to a button is a few words; longer text is a question or a form's answer.
MAX_TYPED_CHARS = 80
# "yes please", "no thank you": a meaning word leads a reply this short.
MAX_LED_WORDS = 3
# Label heads end here: "Yes, send me updates" means what "Yes" means.
_HEAD_ENDS = ",:;—(."


def key(text: str) -> str:
    """``text`` as compared: folded words, single spaces ("Yes, send me updates" -> "yes send me updates")."""
    return " ".join(words(text[:MAX_TYPED_CHARS]))


@cache
def vocabulary(locales: Locales, lang: str) -> dict[str, str]:
    """Phrase (as :func:`key` gives it) -> what it means, from ``typed.<meaning>`` in ``lang``.

    Cached: checked on every typed reply while buttons are on offer.
    """
    found: dict[str, str] = {}
    for meaning in MEANINGS:
        if not locales.has(lang, f"typed.{meaning}"):
            continue
        for phrase in locales.text(lang, f"typed.{meaning}").split(","):
            folded = key(phrase)
            if folded:
                found.setdefault(folded, meaning)
    return found


@cache
def shared_vocabulary(locales: Locales, languages: tuple[str, ...]) -> dict[str, str]:
    """Phrases of every language that mean one thing in all that have them ("sí", "da", "non")."""
    meanings: dict[str, set[str]] = {}
    for lang in languages:
        for phrase, meaning in vocabulary(locales, lang).items():
            meanings.setdefault(phrase, set()).add(meaning)
    return {phrase: found.pop() for phrase, found in meanings.items() if len(found) == 1}


def typed_meaning(locales: Locales, lang: str, languages: tuple[str, ...], typed: str) -> str | None:
    """What a typed reply (a :func:`key`) means: in ``lang`` first, else in any language."""
    own, shared = vocabulary(locales, lang), shared_vocabulary(locales, languages)
    meaning = own.get(typed) or shared.get(typed)
    if meaning is None:
        first, _, rest = typed.partition(" ")
        if rest and typed.count(" ") < MAX_LED_WORDS:
            meaning = own.get(first) or shared.get(first)
    return meaning


def label_meaning(locales: Locales, lang: str, label: str) -> str | None:
    """What a button means by its label in ``lang``: the whole label, its head or its first word."""
    own = vocabulary(locales, lang)
    cut = min((at for at in map(label.find, _HEAD_ENDS) if at > 0), default=len(label))
    whole = key(label)
    for candidate in (whole, key(label[:cut]), whole.partition(" ")[0]):
        if candidate in own:
            return own[candidate]
    return None


def _label_keys(label: str) -> tuple[str, ...]:
    """A label as it may be typed: whole, or without a trailing count ("Carry naloxone (12)")."""
    whole = key(label)
    parts = whole.split(" ")
    while parts and parts[-1].isdigit():
        parts.pop()
    return (whole, " ".join(parts))


def _one(buttons: Sequence[Button]) -> Button | None:
    """The button meant, when the candidates all do the same thing."""
    return buttons[0] if buttons and len({button.action for button in buttons}) == 1 else None


def typed_choice(
    locales: Locales, lang: str, languages: tuple[str, ...], text: str, offered: Sequence[Button]
) -> Button | None:
    """The button among ``offered`` (labelled in ``lang``) that ``text`` names, if exactly one does."""
    if not offered or len(text) > MAX_TYPED_CHARS:
        return None
    typed = key(text)
    if not typed:
        return None
    by_label = [button for button in offered if typed in _label_keys(button.label)]
    if by_label:
        return _one(by_label)
    meaning = typed_meaning(locales, lang, languages, typed)
    if meaning is None:
        return None
    return _one([button for button in offered if label_meaning(locales, lang, button.label) == meaning])
