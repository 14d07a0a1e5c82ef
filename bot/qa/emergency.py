"""Recognising someone describing an overdose or a stimulant emergency happening now.

A list of whole phrases does not generalise: people say the same thing in endless ways ("bro OD'd in
the bathroom", "i did way too much", "shes been geeking for 3 days and now shes shaking"). So the
content (``emergency.yaml``, ``concepts``) lists the words of a few concepts in six languages — a
danger sign, an overdose, a stimulant crisis, a drug, a person, urgency, a question about overdose,
a hypothetical, the past, and the look-alikes (devices, pets, stories, figures of speech) — and the
rules below reason over which concepts a message holds:

1. Look-alikes are set aside: a pet; a device, a story or a figure of speech with no drug in it;
   a story (film, series, book) unless it is happening now.
2. A message about overdose rather than in one — an informational question ("how many overdose
   deaths"), something long past ("my brother overdosed last year") — is no emergency unless a
   person or urgency is in it. A hypothetical ("what if someone ODs") is one only when it names a
   concrete person with a danger sign or an overdose ("what do i do if my friend ODs").
3. Then: a danger sign (not breathing, blue lips); a weaker sign (passed out, collapsed) with a
   person, a drug or urgency; an overdose, or the word for it with a person or urgency or typed
   alone ("OD", "sobredosis!!"), or naloxone given to someone still not responding; a severe stimulant
   state (seizure, overheating) with a person, a drug or urgency; a milder one (racing heart,
   shaking) with a drug.

Tuned for recall (a false alarm costs a few lines; a missed one can cost a life), but never on a
device, a pet or a film.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from enum import StrEnum

from bot.content.model import EmergencyContent
from bot.content.text import phrase_words
from bot.qa.phrases import ConceptReader


class Concept(StrEnum):
    # A danger sign of an overdose: not breathing, won't wake up, blue lips.
    SIGN = "sign"
    # A sign that could mean other things (passed out, collapsed): it needs a person, a drug or urgency.
    SIGN_WEAK = "sign_weak"
    # A part of the body or a vital function (lips, fingertips, chest, breathing, skin) ...
    BODY = "body"
    # ... in a state that is not right (purple, grey, cold and clammy, barely moving): together, a weak sign.
    UNWELL = "unwell"
    # Someone not responding (won't answer, no reaction, can't get him to respond): a weak sign.
    UNRESPONSIVE = "unresponsive"
    # An overdose happening or just happened: OD'd, took too much, gave him narcan.
    OVERDOSE = "overdose"
    # The word for overdose, the topic: an emergency only with a person or urgency, or typed alone.
    OVERDOSE_WORD = "overdose_word"
    # Naloxone given with nobody named (gave naloxone, дали налоксон): an overdose only beside a sign,
    # no response or urgency. Handing naloxone out is what the groups running this bot do all day.
    NALOXONE_GIVEN = "naloxone_given"
    # Distress on stimulants that needs a drug to mean an emergency: racing heart, shaking, paranoia.
    STIMULANT = "stimulant"
    # A severe state (seizure, overheating, hallucinating): an emergency with a person, a drug or urgency.
    STIMULANT_SEVERE = "stimulant_severe"
    # Stimulant use: geeking, tweaking, on coke, up for days.
    STIMULANT_USE = "stimulant_use"
    # Any drug, alcohol or way of using.
    SUBSTANCE = "substance"
    # Someone concrete: my friend, bro, this guy (not "someone" or "people").
    PERSON = "person"
    # He, she, him: someone, or the device or pet the message is about.
    PRONOUN = "pronoun"
    # The writer as the one affected: i took, i feel, my chest.
    SELF = "self"
    # Urgency: right now, please help, hurry, what do i do.
    NOW = "now"
    # The present, after something past ("had xanax last night and now i can barely rouse him").
    STILL = "still"
    # An informational question: what is, how many, statistics, awareness day, law.
    ABOUT = "about"
    # if, what if, in case.
    HYPOTHETICAL = "hypothetical"
    # Long ago, or over: last year, years ago, died.
    PAST = "past"
    # Devices, machines, apps.
    OBJECT = "object"
    # Pets and other animals: a vet's business, not this answer's.
    ANIMAL = "animal"
    # Films, series, books, games.
    FICTION = "fiction"
    # Jokes: lol, dying of laughter, killing me.
    JOKE = "joke"
    # What else people "overdose" on or overheat from: chocolate, coffee, the gym, a heatwave.
    FIGURATIVE = "figurative"


CONCEPTS = tuple(concept.value for concept in Concept)


class EmergencyKind(StrEnum):
    OPIOID = "opioid"
    STIMULANT = "stimulant"


# The entry that expands on each kind of emergency answer.
EMERGENCY_ENTRY = {EmergencyKind.OPIOID: "overdose-response", EmergencyKind.STIMULANT: "stimulant-overamping"}

STIMULANT_SIGNALS = frozenset({Concept.STIMULANT, Concept.STIMULANT_SEVERE, Concept.STIMULANT_USE})
# What can make a message an emergency.
_SIGNALS = frozenset({Concept.SIGN, Concept.SIGN_WEAK, Concept.OVERDOSE, *STIMULANT_SIGNALS})
# The concepts that say which language a message is in (look-alikes and grammar words are shared).
_TELLING = frozenset(
    {
        Concept.SIGN,
        Concept.SIGN_WEAK,
        Concept.UNRESPONSIVE,
        Concept.UNWELL,
        Concept.OVERDOSE,
        *STIMULANT_SIGNALS,
        Concept.PERSON,
        Concept.PRONOUN,
    }
)


@dataclass(frozen=True, slots=True)
class EmergencyMatch:
    kind: EmergencyKind
    # The language of the words that raised it.
    lang: str
    # The phrase that decided it (for tests and logs of the content, never of the message).
    phrase: str

    @property
    def entry(self) -> str:
        return EMERGENCY_ENTRY[self.kind]


@dataclass(frozen=True, slots=True)
class Reading:
    """The concepts a message holds, each with the languages and phrases that showed it."""

    concepts: frozenset[Concept]
    phrases: dict[Concept, str]
    languages: Counter[str]
    # How many times each concept was seen (two body parts in a bad state say more than one).
    counts: Counter[Concept] = field(default_factory=Counter)
    # Whether the message is nothing but a cry: the word for overdose, urgency, a word or two of
    # grammar ("OD", "sobredosis!!", "передоз срочно"). Typed alone, the word is a call for help.
    cry: bool = False

    def has(self, *concepts: Concept) -> bool:
        return any(c in self.concepts for c in concepts)

    @property
    def lang(self) -> str:
        """The language most of its telling words are in; English when that is one of several."""
        if not self.languages:
            return "en"
        top = max(self.languages.values())
        leaders = [lang for lang, count in self.languages.items() if count == top]
        return "en" if "en" in leaders else leaders[0]


# What a cry is made of besides the word for overdose, and the longest word taken for grammar ("an",
# "una", "se").
_CRY = frozenset({Concept.OVERDOSE_WORD, Concept.OVERDOSE, Concept.NOW})
_GRAMMAR = 3


class EmergencyDetector:
    def __init__(self, content: EmergencyContent, known: AbstractSet[str] = frozenset()) -> None:
        self._reader = ConceptReader(content.concepts, Concept, known)

    def read(self, text: str) -> Reading:
        phrases: dict[Concept, str] = {}
        languages: Counter[str] = Counter()
        counts: Counter[Concept] = Counter()
        tokens = phrase_words(text)
        everything = self._reader.read(tokens)
        # A sign inside a figure of speech is none: "to morrendo" in "to morrendo de medo" (scared to death).
        figures = [s.found for s in everything if s.concept in (Concept.FIGURATIVE, Concept.JOKE)]
        for seen in everything:
            if seen.concept in _SIGNALS and any(
                f.start <= seen.found.start and seen.found.end <= f.end for f in figures
            ):
                continue
            phrases.setdefault(seen.concept, seen.phrase)
            counts[seen.concept] += 1
            if seen.concept in _TELLING:
                languages[seen.lang] += 1
        crying = [s.found for s in everything if s.concept in _CRY]
        cry = Concept.OVERDOSE_WORD in phrases and all(
            len(token) <= _GRAMMAR or any(f.start <= at < f.end for f in crying) for at, token in enumerate(tokens)
        )
        if cry:
            # The cry's own words say its language: "sobredosis" is answered in Spanish.
            languages.update({s.lang for s in everything if s.concept in _CRY})
        return Reading(frozenset(phrases), phrases, languages, counts, cry)

    def detect(self, text: str) -> EmergencyMatch | None:
        return self.match(self.read(text))

    def match(self, reading: Reading) -> EmergencyMatch | None:
        """The emergency a message's concepts describe, if any."""
        kind = decide(reading)
        if kind is None:
            return None
        deciding = next(
            (
                reading.phrases[c]
                for c in (
                    Concept.SIGN,
                    Concept.OVERDOSE,
                    Concept.OVERDOSE_WORD,
                    Concept.NALOXONE_GIVEN,
                    *STIMULANT_SIGNALS,
                    Concept.SIGN_WEAK,
                )
                if c in reading.phrases
            ),
            "",
        )
        return EmergencyMatch(kind, reading.lang, deciding)


def looks_alike(r: Reading) -> bool:
    """Whether a pet, a device, a story or a joke explains the message away (rule 1)."""
    c = Concept
    drug = r.has(c.SUBSTANCE, c.STIMULANT_USE)
    # A pet is a vet's business ("my dog wont wake up, he's so lazy"), unless the writer is in it too.
    if r.has(c.ANIMAL) and not r.has(c.SELF):
        return True
    # A device, unless a drug, an overdose, someone, or a body in a bad state (a phone has no purple
    # fingertips) is in it too.
    body_unwell = r.has(c.BODY) and r.has(c.UNWELL)
    if r.has(c.OBJECT) and not (drug or body_unwell or r.has(c.OVERDOSE, c.OVERDOSE_WORD, c.PERSON)):
        return True
    return (r.has(c.FICTION) and not r.has(c.NOW)) or (r.has(c.JOKE) and not (drug or r.has(c.NOW)))


def explained(r: Reading) -> bool:
    """Whether the rules read a reason for the message to be no emergency: a look-alike, a figure of
    speech with no drug ("blue lips from the cold"), or something over and done ("she fainted last
    week, she's better now"). The learned detector (``alarm_model.py``) defers to them: it knows
    phrasings the rules do not, not better than the rules what a cold day or last week means. On the
    tuning set this turned 4 of its false alarms away and none of its 910 emergencies."""
    c = Concept
    figure = r.has(c.FIGURATIVE) and not r.has(c.SUBSTANCE, c.STIMULANT_USE)
    over = r.has(c.PAST) and not r.has(c.NOW)
    return looks_alike(r) or figure or over


def decide(r: Reading) -> EmergencyKind | None:
    """The rules of the module docstring, over the concepts of one message."""
    c = Concept
    drug = r.has(c.SUBSTANCE, c.STIMULANT_USE)
    human = r.has(c.PERSON, c.PRONOUN, c.SELF)
    # Someone in it now, enough to outweigh the look of a question: a person, the writer, urgency,
    # or a "he" or "she" with a danger sign ("what's wrong with him, he won't wake up").
    present = r.has(c.PERSON, c.SELF, c.NOW) or (r.has(c.PRONOUN) and r.has(c.SIGN, c.UNRESPONSIVE))
    # Someone in it at all, for the signs that need one.
    someone = human or r.has(c.NOW)
    signals = set(r.concepts & {c.SIGN, c.SIGN_WEAK, c.OVERDOSE, *STIMULANT_SIGNALS})
    if r.has(c.UNRESPONSIVE) or (r.has(c.BODY) and r.has(c.UNWELL)):
        signals.add(c.SIGN_WEAK)
    # Two parts of the body in a bad state, or one with no response: that is a danger sign.
    if r.has(c.BODY) and r.has(c.UNWELL) and (r.counts[c.BODY] >= 2 or r.has(c.UNRESPONSIVE)):
        signals.add(c.SIGN)
    # The word for overdose with someone in it, typed alone, or beside a body in a bad state
    # ("sobredosis!! no responde"): the state is someone's.
    if r.has(c.OVERDOSE_WORD) and (someone or r.cry or c.SIGN_WEAK in signals):
        signals.add(c.OVERDOSE)
    # Naloxone given, and no response or something urgent ("дала налоксон 3 хв тому, ніякої реакції"),
    # not naloxone handed out ("в аптеке дали налоксон бесплатно").
    if r.has(c.NALOXONE_GIVEN) and (r.has(c.NOW) or signals & {c.SIGN, c.SIGN_WEAK}):
        signals.add(c.OVERDOSE)
    # 1. Look-alikes.
    if looks_alike(r):
        return None
    if r.has(c.FIGURATIVE) and not drug:
        # Chocolate, a slushie or a heatwave explain the signs away ("my kid won't wake up for school"),
        # unless someone is not responding or it is urgent, and never someone's overdose.
        if not r.has(c.UNRESPONSIVE, c.NOW):
            signals -= {c.SIGN, c.SIGN_WEAK, *STIMULANT_SIGNALS}
        if not r.has(c.PERSON):
            signals.discard(c.OVERDOSE)
    # 2. About overdose rather than in one.
    if r.has(c.HYPOTHETICAL) and not (human and c.SIGN in signals):
        return None
    if r.has(c.ABOUT, c.PAST) and not present:
        return None
    # Something past is over, unless it is urgent, or a danger sign in someone is told as now.
    if r.has(c.PAST) and not (r.has(c.NOW) or (r.has(c.STILL) and human and c.SIGN in signals)):
        return None
    # 3. The signals.
    stimulant = EmergencyKind.STIMULANT if signals & STIMULANT_SIGNALS else EmergencyKind.OPIOID
    if c.SIGN in signals:
        return EmergencyKind.OPIOID
    if c.SIGN_WEAK in signals and (someone or drug):
        return stimulant
    if c.OVERDOSE in signals:
        return stimulant
    if c.STIMULANT_SEVERE in signals and (someone or drug):
        return EmergencyKind.STIMULANT
    # Two signs of distress (a racing heart and chest pain) in someone are one even with no drug named.
    if c.STIMULANT in signals and (drug or (someone and r.counts[c.STIMULANT] >= 2)):
        return EmergencyKind.STIMULANT
    return None
