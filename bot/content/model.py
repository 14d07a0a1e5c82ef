"""The typed content the bot serves, built from validated YAML."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.port.languages import LANGUAGES
from bot.port.markup import RichText, plain

__all__ = ["LANGUAGES"]


@dataclass(frozen=True, slots=True)
class Source:
    organisation: str
    title: str
    # None for an undated page: rendered "n.d.", as citation styles do.
    year: int | None = None
    url: str | None = None


class ReviewStatus(StrEnum):
    REVIEWED = "reviewed"
    # Served, but with a note inviting a native speaker to check it.
    UNREVIEWED = "unreviewed"


@dataclass(frozen=True, slots=True)
class Translation:
    """An entry in another language. The sources and tags are the English entry's."""

    title: str
    # Written natively for the language (how people there ask), not translated variant by variant.
    questions: tuple[str, ...]
    answer: RichText
    status: ReviewStatus
    reviewed: date | None = None


@dataclass(frozen=True, slots=True)
class EntryText:
    """What is shown of an entry in one language."""

    lang: str
    title: str
    answer: RichText
    status: ReviewStatus


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    group: str
    title: str
    questions: tuple[str, ...]
    answer: RichText
    sources: tuple[Source, ...]
    tags: tuple[str, ...]
    reviewed: date
    related: tuple[str, ...] = ()
    # language -> translation; English is the entry itself and never appears here.
    translations: dict[str, Translation] = field(default_factory=dict)

    def text_in(self, lang: str) -> EntryText:
        """The entry in ``lang`` when translated, otherwise in English (``EntryText.lang`` says which)."""
        translation = self.translations.get(lang)
        if translation is None:
            return EntryText("en", self.title, self.answer, ReviewStatus.REVIEWED)
        return EntryText(lang, translation.title, translation.answer, translation.status)

    def texts(self) -> list[str]:
        """Every text of the entry in all its languages: titles, question variants, answers made plain."""
        texts = [self.title, *self.questions, plain(self.answer)]
        for translation in self.translations.values():
            texts += [translation.title, *translation.questions, plain(translation.answer)]
        return texts


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    title: str
    entry_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OutsideTopic:
    """Questions near the knowledge base's topics that it does not answer (``outside.yaml``): other
    awareness days, hepatitis B, the weather in Lisbon. They are indexed beside the entries; a question
    most like one of them gets the fallback, not the entry it shares a word or two with."""

    id: str
    about: str
    # language -> example questions
    questions: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Aspect:
    """A side of a subject the knowledge base answers only where an entry speaks of it
    (``aspects.yaml``): what something costs, driving on it, taking it while pregnant."""

    id: str
    about: str
    # language -> phrases that ask about it in a question, and that speak of it in an entry
    asks: dict[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    groups: tuple[Group, ...]
    entries: dict[str, Entry]
    outside: tuple[OutsideTopic, ...] = ()
    aspects: tuple[Aspect, ...] = ()

    def group(self, group_id: str) -> Group | None:
        return next((g for g in self.groups if g.id == group_id), None)


@dataclass(frozen=True, slots=True)
class EmergencyNumber:
    number: str
    where: dict[str, str]
    countries: tuple[str, ...] = ()


# The concepts emergency detection reasons over (bot/qa/emergency.py has the rules, emergency.yaml the words).
EMERGENCY_CONCEPTS = (
    "sign",
    "sign_weak",
    "body",
    "unwell",
    "unresponsive",
    "overdose",
    "overdose_word",
    "naloxone_given",
    "stimulant",
    "stimulant_severe",
    "stimulant_use",
    "substance",
    "person",
    "pronoun",
    "self",
    "now",
    "still",
    "about",
    "hypothetical",
    "past",
    "object",
    "animal",
    "fiction",
    "joke",
    "figurative",
)

# A concept table: concept -> language -> phrases.
ConceptTable = dict[str, dict[str, tuple[str, ...]]]


@dataclass(frozen=True, slots=True)
class EmergencyContent:
    texts: dict[str, RichText]
    numbers: tuple[EmergencyNumber, ...]
    concepts: ConceptTable


# The concepts crisis detection reasons over (bot/qa/crisis.py has the rules, crisis.yaml the words).
CRISIS_CONCEPTS = (
    "intent",
    "other",
    "mention",
    "about",
    "fiction",
    "figurative",
    "hopeless",
    "life",
    "everything",
    "better",
    "absent",
    "tired",
    "farewell",
    "final",
    "all_at_once",
    "no_waking",
    "wish",
)


@dataclass(frozen=True, slots=True)
class CrisisLine:
    """A crisis line, or only the emergency number where no line could be confirmed."""

    country: str
    emergency: str
    # Where the facts come from: a line without a source is refused by the content check.
    source: str
    reviewed: date
    # "verified" (the service's own or a government page) or "secondary" (quoted elsewhere).
    confidence: str
    name: str | None = None
    phone: str | None = None
    text: str | None = None
    chat: str | None = None
    always: bool = False
    free: bool = False


@dataclass(frozen=True, slots=True)
class Directory:
    """The international directory of crisis lines, for every country and as a fallback."""

    name: str
    url: str
    # A country's page is this followed by the ISO code.
    country_url: str
    source: str
    reviewed: date


@dataclass(frozen=True, slots=True)
class CrisisContent:
    texts: dict[str, RichText]
    concepts: ConceptTable
    lines: dict[str, CrisisLine]
    directory: Directory | None


@dataclass(frozen=True, slots=True)
class Calibration:
    """When to answer (bot/qa/calibration.py): P(best entry right) = logistic(bias + weights . features),
    the features being the ranking's confidence, coverage, focus and the entry model's belief in its
    best entry; fitted on the tuning set."""

    bias: float
    weights: tuple[float, ...]
    # Answer outright at or above this probability; offer "did you mean" at or above ``clarify``: in a
    # language without thresholds of its own in ``languages``.
    answer: float
    clarify: float
    fitted: date
    # language -> (answer, clarify): each fitted on that language's tuning questions.
    languages: dict[str, tuple[float, float]] = field(default_factory=dict)

    def thresholds(self, lang: str) -> tuple[float, float]:
        """The probabilities at which to answer and to offer "did you mean" a question in ``lang``."""
        return self.languages.get(lang, (self.answer, self.clarify))


# A calibration for content that has none yet (a deployment's own folder without tuning cases): the
# first release's thresholds, on confidence alone (answer from 0.55, "did you mean" from 0.45).
UNCALIBRATED = Calibration(-5.5, (10.0, 0.0, 0.0, 0.0, 0.0), 0.5, 0.2689, date(2026, 11, 21))


# The kinds of small talk (bot/qa/smalltalk.py), each with its reply in the interface strings; in order
# of precedence: "hi, who are you?" is answered as a question about the bot.
SMALLTALK_INTENTS = ("identity", "abilities", "thanks", "bye", "greeting", "ok")
# The words people call the bot by ("bot", "бот"), read with the intents' phrases (``smalltalk.yaml``'s
# ``names``), never an intent themselves.
SMALLTALK_NAME = "name"


@dataclass(frozen=True, slots=True)
class RefusalRule:
    id: str
    entry: str
    all_of: tuple[tuple[str, ...], ...]
    none_of: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Lexicon:
    # language -> variant (folded) -> canonical term
    synonyms: dict[str, dict[str, str]]
    stopwords: dict[str, frozenset[str]]


# A text in several languages: language -> text. English is always present.
Translations = dict[str, str]


def localized(texts: Translations, lang: str) -> str:
    return texts.get(lang) or texts["en"]


@dataclass(frozen=True, slots=True)
class CrmSync:
    """Where a petition's signatures (of those who agree) go: a destination named in the configuration."""

    destination: str
    # The petition's id in that CRM (Action Network's petition identifier); webhooks need none.
    remote_id: str | None = None
    # Where ``sync:`` is in petitions.yaml, to point at it when the configuration lacks the destination.
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Pledge:
    id: str
    title: Translations
    # Light markup, like the knowledge base.
    text: Translations
    open: bool = True
    goal: int | None = None
    # A webhook destination told of pledges taken and withdrawn (no personal data; see bot/sync).
    sync: CrmSync | None = None


@dataclass(frozen=True, slots=True)
class PetitionField:
    # "name", "email" or "country"
    name: str
    required: bool


@dataclass(frozen=True, slots=True)
class Petition:
    id: str
    title: Translations
    addressee: Translations
    text: Translations
    goal: int
    fields: tuple[PetitionField, ...]
    consent_version: int
    consent: Translations
    privacy: Translations
    open: bool = True
    # The last day signatures are accepted (inclusive); None: until closed.
    deadline: date | None = None
    # None: nothing is asked about sharing, and nothing leaves the bot.
    sync: CrmSync | None = None

    def accepts_on(self, day: date) -> bool:
        return self.open and (self.deadline is None or day <= self.deadline)


@dataclass(frozen=True, slots=True)
class ActionDay:
    """A day of action that comes back every year on the same date."""

    id: str
    month: int
    day: int
    name: Translations
    # Light markup.
    message: Translations
    # Days before the date to remind subscribers (0: on the day).
    remind: tuple[int, ...]
    link: str | None = None

    def in_year(self, year: int) -> date:
        # 29 February falls on the 28th in other years.
        try:
            return date(year, self.month, self.day)
        except ValueError:
            return date(year, self.month, self.day - 1)

    def next_on_or_after(self, today: date) -> date:
        this_year = self.in_year(today.year)
        return this_year if this_year >= today else self.in_year(today.year + 1)


@dataclass(frozen=True, slots=True)
class Campaigns:
    pledges: dict[str, Pledge] = field(default_factory=dict)
    petitions: dict[str, Petition] = field(default_factory=dict)
    calendar: dict[str, ActionDay] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlarmWeights:
    """The learned alarm detector (bot/qa/alarm_model.py), as ``advocacy-bot kb calibrate`` wrote it to
    ``alarms.npz``: a linear model over hashed character n-grams, and the threshold it alarms at."""

    # (classes, buckets): no alarm, emergency, crisis.
    weights: npt.NDArray[np.float32]
    bias: npt.NDArray[np.float32]
    # Inverse document frequency per bucket.
    idf: npt.NDArray[np.float32]
    threshold: float
    # What it was trained on (a hash): a test says when the tuning set or the variants changed since.
    digest: str


@dataclass(frozen=True, slots=True)
class EntryWeights:
    """The learned entry model (bot/qa/entry_model.py), as ``advocacy-bot kb calibrate`` wrote it to
    ``entries.npz``: a linear model over hashed character n-grams, one class per entry."""

    entries: tuple[str, ...]
    # (entries, buckets), half precision as written (float32 once trained).
    weights: npt.NDArray[np.floating[Any]]
    bias: npt.NDArray[np.float32]
    idf: npt.NDArray[np.float32]
    # What it was trained on (a hash of the question variants and titles).
    digest: str


@dataclass(frozen=True, slots=True)
class Content:
    kb: KnowledgeBase
    emergency: EmergencyContent
    refusals: tuple[RefusalRule, ...]
    lexicon: Lexicon
    # language -> key -> template (light markup, ``{placeholders}``)
    locales: dict[str, dict[str, str]] = field(default_factory=dict)
    campaigns: Campaigns = field(default_factory=Campaigns)
    crisis: CrisisContent = field(default_factory=lambda: CrisisContent({}, {}, {}, None))
    # intent -> language -> phrases: a message made only of these is small talk.
    smalltalk: ConceptTable = field(default_factory=dict)
    calibration: Calibration = UNCALIBRATED
    # None where a deployment's own content has no trained detector: the rules alone raise alarms.
    alarms: AlarmWeights | None = None
    # None where a deployment's own content has no trained entry model: the lexical ranking alone.
    entry_model: EntryWeights | None = None
