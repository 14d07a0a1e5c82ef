"""Deciding what to answer: emergencies and crises first, small talk, refusals, then the knowledge base.

The result is a typed :class:`Answer` (what ``advocacy-bot ask --json`` prints): what kind of answer,
which entry, in which language. :class:`bot.qa.replies.ReplyBuilder` turns it into the replies sent.

Every entry is written in English and translated. A question is looked up in the index of the
asker's language and in the English index through the language's lexicon bridges, and, when neither
is sure, in the other languages' indexes (a Russian question from someone whose client says
English). Whichever index finds the entry, it is served in the asker's language when translated,
otherwise in English (the replies add a note in theirs). A question most like a topic the knowledge
base does not answer (``outside.yaml``: other awareness days, hepatitis B) gets the fallback,
whichever index finds that topic. Whether to answer is judged by the asker's language's thresholds.

Alarms: the concept rules (``emergency.py``, ``crisis.py``) first; when they raise none, the learned
detector (``alarm_model.py``), unless the message is small talk or the rules' look-alikes (a pet, a
device, a story, a joke) explain it away; when they raise an emergency only, the learned detector may
still hear a crisis in it (an overdose the writer means to take).

Which language is the asker's (:meth:`Decider.language_of`): the language detector's verdict when it
is sure; otherwise the language whose question variants the message matches best (a short "donde
consigo naloxona" says too little for the detector, but only the Spanish variants know all of it).
Between Russian and Ukrainian, the letters or little words only one of them writes have the last word.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from babel import Locale, UnknownLocaleError

from bot.content.model import LANGUAGES, Calibration, Content
from bot.content.text import words
from bot.port.events import ReplyKind
from bot.qa.alarm_model import AlarmModel, Label
from bot.qa.aspects import Aspects
from bot.qa.calibration import probability
from bot.qa.crisis import CRISIS_ENTRY, CrisisDetector, CrisisMatch
from bot.qa.emergency import (
    STIMULANT_SIGNALS,
    Concept,
    EmergencyDetector,
    EmergencyKind,
    EmergencyMatch,
    Reading,
    explained,
)
from bot.qa.entry_model import EntryModel
from bot.qa.language import LanguageDetector
from bot.qa.retrieval import Analyzer, Document, Ranking, Retriever
from bot.qa.safety import RefusalRules
from bot.qa.smalltalk import SmallTalk, SmallTalkDetector
from bot.qa.translit import Transliteration
from bot.qa.years import entry_years, years_in

KB_LANGUAGE = "en"
# Below this share of its information known to the knowledge base, a question is out of scope:
# "best pizza in porto" shares a word with the Portugal entries but is not about them.
MIN_COVERAGE = 0.55
# A question found only in another language's index must be almost entirely known there: a question
# really written in that language is, while "premier league table" is half known to the French one.
CROSS_LANGUAGE_COVERAGE = 0.85
# Two languages whose indexes know a question within this much of each other are a tie.
LANGUAGE_MARGIN = 0.15
# The concepts that make a question one about overdose: its answer ends with the emergency number.
OVERDOSE_TOPIC = frozenset({Concept.SIGN, Concept.SIGN_WEAK, Concept.OVERDOSE, Concept.OVERDOSE_WORD})

# What a learned alarm reports as its deciding phrase (the rules report the phrase they matched).
LEARNED = "(learned detector)"

# Decisions remembered (least recently asked forgotten first), for questions up to this long.
ANSWER_CACHE = 4096
MAX_CACHED_QUESTION = 300


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    kind: ReplyKind
    entry: str | None
    candidates: tuple[str, ...]
    # The language of what is served: an entry not translated into the asker's language is English.
    lang: str
    score: float
    emergency: EmergencyMatch | None = None
    crisis: CrisisMatch | None = None
    smalltalk: SmallTalk | None = None
    # A question about overdose (not one happening): its answer closes with the emergency number.
    about_overdose: bool = False
    # The topic the knowledge base does not answer (outside.yaml) that a fallback's question is most like.
    outside: str | None = None


# Letters only Ukrainian writes, and letters only Russian does.
UKRAINIAN_LETTERS = frozenset("іїєґ")
RUSSIAN_LETTERS = frozenset("ыэъё")


def vocabulary(content: Content, indexes: Iterable[Retriever]) -> frozenset[str]:
    """Every word the content spells (the knowledge base as its indexes read it, the interface, the
    stop words): a message word found here is meant as itself, never as a typo of a trigger word
    ("sharing" is no "shaking")."""
    found: set[str] = set()
    for index in indexes:
        found.update(index.spelled)
    for strings in content.locales.values():
        for text in strings.values():
            found.update(words(text))
    for stopwords in content.lexicon.stopwords.values():
        found.update(stopwords)
    return frozenset(found)


def words_by_language(content: Content, indexes: Mapping[str, Retriever]) -> dict[str, set[str]]:
    """The folded words the content uses in each language: its entries as that language's index reads
    them, and the phrases of the emergency, crisis and small-talk concepts."""
    found: dict[str, set[str]] = {lang: set(index.spelled) for lang, index in indexes.items()}
    for table in (content.emergency.concepts, content.crisis.concepts, content.smalltalk):
        for phrases in table.values():
            for lang, listed in phrases.items():
                found.setdefault(lang, set()).update(w for phrase in listed for w in words(phrase))
    return found


def country_names() -> frozenset[str]:
    """Every country's name in each of the bot's languages (CLDR, through babel)."""
    return frozenset(name for lang in LANGUAGES for name in Locale.parse(lang).territories.values())


def usual_country(lang: str | None) -> str | None:
    """The country a platform's language tag names ("pt-BR" -> BR), if it names one."""
    if not lang:
        return None
    try:
        locale = Locale.parse(lang.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return None
    # A bare language says nothing about where someone is (English, Spanish, French, Russian are
    # spoken in dozens of countries): guessing would show one country's numbers to everyone else.
    return str(locale.territory) if locale.territory else None


class Decider:
    """What to answer a question with, and in which language: the indexes, the detectors, the calibration."""

    def __init__(
        self,
        content: Content,
        calibration: Calibration | None = None,
        default_language: str = KB_LANGUAGE,
        languages: LanguageDetector | None = None,
    ) -> None:
        self.content = content
        self.kb = content.kb
        # When to answer: fitted on the tuning set (bot/qa/calibration.py); a deployment may override it.
        self.calibration = calibration or content.calibration
        self.default_language = default_language
        self.languages = languages or LanguageDetector()
        places = country_names()
        self.analyzers = {lang: Analyzer(content.lexicon, lang, places) for lang in LANGUAGES}
        self.indexes: dict[str, Retriever] = {}
        self._recent: OrderedDict[tuple[str, str], Answer] = OrderedDict()
        for lang, analyzer in self.analyzers.items():
            documents = [d for d in (Document.of(e, lang) for e in self.kb.entries.values()) if d is not None]
            documents += [d for d in (Document.outside_of(t, lang) for t in self.kb.outside) if d is not None]
            if documents or lang == KB_LANGUAGE:
                self.indexes[lang] = Retriever(documents, analyzer)
        known = vocabulary(content, self.indexes.values())
        spelled = words_by_language(content, self.indexes)
        self.translit = Transliteration(spelled)
        self.detector = EmergencyDetector(content.emergency, known)
        self.crises = CrisisDetector(content.crisis, known)
        self.learned = AlarmModel(content.alarms) if content.alarms is not None else None
        self.entry_model = EntryModel(content.entry_model) if content.entry_model is not None else None
        self.smalltalk = SmallTalkDetector(content.smalltalk, content.lexicon.stopwords)
        ru, uk = (content.lexicon.stopwords.get(lang, frozenset()) for lang in ("ru", "uk"))
        # The little words only one of the two uses ("чи", "як", "що"; "что", "как", "или"): listed
        # for it alone, and nowhere in the other's content ("все" is Ukrainian too).
        self._own_words = {
            "ru": frozenset(ru - uk - spelled.get("uk", set())),
            "uk": frozenset(uk - ru - spelled.get("ru", set())),
        }
        self.refusals = RefusalRules(content.refusals, known)
        self.aspects = Aspects(self.kb, known)
        # The years each entry mentions, worked out when a question naming a year first meets the entry:
        # every text of every entry in every language read at each build was a quarter of a large
        # knowledge base's build, for the few questions that name a year.
        self._years: dict[str, frozenset[str]] = {}

    # ------------------------------------------------------------------ language

    def language_of(self, question: str, prefer: str | None = None) -> str | None:
        """The language ``question`` is written in: the detector's when it is sure; else that of the
        small talk it is, or of the question variants it matches best, or of a safety phrase in it;
        else, when the platform says nothing either, the detector's lean; None when nothing tells (the
        asker's platform language is then the best guess).

        ``prefer``: the asker's platform language (None when it gives none), which wins whenever the
        question fits it as well as any other ("narcan spray" from a Russian phone).
        """
        found = self._language_of(question, prefer)
        return self._russian_or_ukrainian(question, found) if found in ("ru", "uk") else found

    def _language_of(self, question: str, prefer: str | None) -> str | None:
        spelled = self.translit.read(question)
        if spelled is not None:
            return spelled.lang
        detected = self.languages.detect(question)
        if detected is not None:
            return detected
        talk = self.smalltalk.detect(question)
        if talk is not None:
            # "hola" is Spanish; "ok" is every language's, and says nothing.
            return talk.lang
        matched = self._variant_language(question, prefer)
        if matched is not None:
            return matched
        emergency, crisis = self.alarms(question)
        alarm = crisis or emergency
        if alarm is not None:
            return alarm.lang
        # Nothing in the knowledge base or the rules tells, and neither does the platform: the
        # detector's lean, though short of sure, is a better guess than the default language.
        return self.languages.lean(question) if prefer is None else None

    def _russian_or_ukrainian(self, question: str, found: str) -> str:
        """Which of the two neighbours ``question`` is in, when its letters or its little words tell
        (the detector and the variants share most of their words and stems: "Чи можна передознутися
        солями?" read as Russian); else ``found``."""
        letters = set(question.casefold())
        ukrainian, russian = bool(letters & UKRAINIAN_LETTERS), bool(letters & RUSSIAN_LETTERS)
        if ukrainian != russian:
            return "uk" if ukrainian else "ru"
        typed = words(question)
        own = {lang: sum(word in self._own_words[lang] for word in typed) for lang in ("ru", "uk")}
        if own["ru"] != own["uk"]:
            return "ru" if own["ru"] > own["uk"] else "uk"
        return found

    def _variant_language(self, question: str, prefer: str | None) -> str | None:
        """The language whose own index knows the question best, when one clearly does."""
        scored = sorted(
            (
                (self._language_strength(index.rank(question, min_coverage=MIN_COVERAGE)), lang)
                for lang, index in self.indexes.items()
            ),
            reverse=True,
        )
        if not scored or scored[0][0] <= 0:
            return None
        best, lang = scored[0]
        tied = [other for strength, other in scored if best - strength < LANGUAGE_MARGIN]
        if prefer in tied:
            return prefer
        if len(tied) > 1:
            # Words one language spells as typed and another only knows through a typo ("alcool" is
            # French; English reads it as "alcohol"): the language that spells the most of them.
            typed = set(self.analyzers[lang].tokens(question))
            spelled = {other: len(typed & self.indexes[other].spelled) for other in tied}
            most = max(spelled.values())
            tied = [other for other in tied if spelled[other] == most]
        if len(tied) == 1:
            return tied[0]
        if KB_LANGUAGE in tied:
            # As English as anything else ("suicidal", "narcan spray"): nothing tells.
            return None
        # Words shared by neighbours ("naloxona" is Spanish and Portuguese): the detector's lean decides.
        guess = self.languages.guess(question)
        return guess.lang if guess is not None and guess.lang in tied else lang

    @staticmethod
    def _language_strength(ranking: Ranking) -> float:
        if not Decider._usable(ranking):
            return 0.0
        return ranking.coverage + ranking.confidence

    # ------------------------------------------------------------------ deciding

    def is_alarm(self, message: str) -> bool:
        """Whether ``message`` describes an emergency or a crisis: answered first, wherever it is typed."""
        return self.alarms(message) != (None, None)

    def alarms(self, question: str, reading: Reading | None = None) -> tuple[EmergencyMatch | None, CrisisMatch | None]:
        """The emergency and the crisis ``question`` describes, if any (``reading``: the emergency
        rules' reading of it as the content reads it, when already made). Russian or Ukrainian typed
        in Latin letters is read as the Cyrillic it spells, then as typed: the content has phrases
        for the commonest ("ne dyshit"), which a spelling without its soft signs can miss."""
        text = self.readable(question)
        found = self._alarms(text, reading)
        if text != question and found == (None, None) and not self.explains_away(text):
            found = self._alarms(question, None)
        return found

    def _alarms(self, question: str, reading: Reading | None) -> tuple[EmergencyMatch | None, CrisisMatch | None]:
        reading = reading or self.detector.read(question)
        emergency = self.detector.match(reading)
        crisis = self.crises.detect(question)
        if emergency is not None and crisis is not None and emergency.phrase and emergency.phrase in crisis.phrase:
            # The overdose is the wish's own words ("i keep thinking about overdosing on purpose"): a
            # crisis, not an overdose happening.
            emergency = None
        if self.learned is None or crisis is not None:
            return emergency, crisis
        if emergency is not None:
            # An overdose in the rules' words can be meant ("i think about using everything i have
            # left and just not waking up"): the learned detector may still hear the crisis in it.
            if self.learned.alarms(question) is Label.CRISIS:
                return emergency, CrisisMatch(self.languages.detect(question) or emergency.lang, LEARNED)
            return emergency, None
        if self.explains_away(question, reading):
            return None, None
        label = self.learned.alarms(question)
        if label is None:
            return None, None
        # The rules' reading still tells the language ("en" when it holds no telling word, which the
        # detector may know better) and, for an emergency, whether stimulants are in it.
        lang = self.languages.detect(question) or reading.lang
        if label is Label.CRISIS:
            return None, CrisisMatch(lang, LEARNED)
        kind = EmergencyKind.STIMULANT if reading.concepts & STIMULANT_SIGNALS else EmergencyKind.OPIOID
        return EmergencyMatch(kind, lang, LEARNED), None

    def answer(self, question: str, lang: str) -> Answer:
        """The decision for ``question``, remembered: people ask the same few things over and over,
        and the content never changes while the bot runs."""
        key = (" ".join(question.casefold().split()), lang)
        cached = self._recent.get(key)
        if cached is not None:
            self._recent.move_to_end(key)
            return cached if cached.question == question else dataclasses.replace(cached, question=question)
        decided = self.decide(question, lang)
        if len(question) <= MAX_CACHED_QUESTION:
            self._recent[key] = decided
            if len(self._recent) > ANSWER_CACHE:
                self._recent.popitem(last=False)
        return decided

    def explains_away(self, question: str, reading: Reading | None = None) -> bool:
        """Whether ``question`` is small talk or the rules read a reason for it to be no alarm (a
        look-alike, a figure of speech, something over): the learned detector is not asked about it,
        nor its threshold chosen on it."""
        text = self.readable(question)
        return (
            explained(reading or self.detector.read(text))
            or self.crises.figure_of_speech(text)
            or self.smalltalk.detect(text) is not None
        )

    def decide(self, question: str, lang: str) -> Answer:
        """The decision for ``question``, worked out afresh (benchmarks time this)."""
        text = self.readable(question)
        reading = self.detector.read(text)
        emergency, crisis = self.alarms(question, reading)
        if emergency is not None or crisis is not None:
            return self._alarm(question, lang, emergency, crisis)
        smalltalk = self.smalltalk.detect(text)
        if smalltalk is not None:
            return Answer(question, ReplyKind.SMALLTALK, None, (), lang, 1.0, smalltalk=smalltalk)
        refusal = self.refusals.check(text)
        if refusal is not None:
            served = self._served(refusal.entry, lang)
            return Answer(question, ReplyKind.REFUSAL, refusal.entry, (), served, 1.0)
        about_overdose = bool(reading.concepts & OVERDOSE_TOPIC)
        ranking = self.rank(text, lang)
        candidates = tuple(hit.entry for hit in ranking.hits)
        score = probability(self.calibration, ranking)
        answer_at, clarify_at = self.calibration.thresholds(lang)
        if candidates and score >= answer_at and not self._beside(text, candidates[0]):
            served = self._served(candidates[0], lang)
            return Answer(
                question, ReplyKind.ANSWER, candidates[0], candidates, served, score, about_overdose=about_overdose
            )
        # The clarify threshold is never above the answer's: an entry held back by ``_beside`` is offered.
        if candidates and score >= clarify_at:
            return Answer(question, ReplyKind.CLARIFY, None, candidates, lang, score)
        return Answer(question, ReplyKind.FALLBACK, None, candidates, lang, score, outside=ranking.outside)

    def _beside(self, text: str, entry: str) -> bool:
        """Whether ``text`` asks about a year or an aspect ``entry`` never speaks of: the entry is on
        the topic asked about, not the answer to it (``years.py``, ``aspects.py``)."""
        asked = years_in(text)
        return (bool(asked) and not asked <= self._years_of(entry)) or bool(self.aspects.unspoken(text, entry))

    def _years_of(self, entry: str) -> frozenset[str]:
        found = self._years.get(entry)
        if found is None:
            found = self._years[entry] = entry_years(self.kb.entries[entry])
        return found

    def _alarm(self, question: str, lang: str, emergency: EmergencyMatch | None, crisis: CrisisMatch | None) -> Answer:
        """The emergency answer, the crisis answer or both. A crisis is the answer's entry (an overdose
        someone means to take is a crisis first); otherwise a question that also clearly matches an
        entry ("will I get arrested if I call 911 for someone who ODs?") gets that entry after the
        emergency answer, unless it is the crisis entry: its words for a friend who needs help now
        ("friend overdosing, what to do now") are no reason to talk about suicide."""
        entry: str | None = CRISIS_ENTRY
        candidates: tuple[str, ...] = ()
        if emergency is not None and crisis is None:
            ranking = self.rank(question, lang)
            if self._confident(ranking, lang) and ranking.hits[0].entry != CRISIS_ENTRY:
                entry, candidates = ranking.hits[0].entry, tuple(hit.entry for hit in ranking.hits)
            else:
                entry = emergency.entry
        found_in = emergency.lang if emergency is not None else crisis.lang if crisis is not None else lang
        served = self._alarm_language(found_in, lang)
        return Answer(question, ReplyKind.EMERGENCY, entry, candidates, served, 1.0, emergency, crisis)

    def readable(self, text: str) -> str:
        """``text`` as the content reads it: Russian or Ukrainian typed in Latin letters, in Cyrillic."""
        spelled = self.translit.read(text)
        return spelled.text if spelled is not None else text

    def rank(self, question: str, lang: str) -> Ranking:
        """The best ranking of the entries for ``question`` from someone who reads ``lang``."""
        question = self.readable(question)
        english = self.indexes[KB_LANGUAGE]
        own = self.indexes.get(lang) if lang != KB_LANGUAGE else None
        beliefs = self.entry_model.beliefs(question) if self.entry_model is not None else None
        if own is None:
            primary = [english.rank(question, beliefs=beliefs)]
        else:
            analyzer = self.analyzers[lang]
            tokens = analyzer.tokens(question)
            # A word one index knows is not out of scope for the other: "día" means something to the
            # Spanish index even when the entry asked about is only in the English one.
            known_here = {t for t in tokens if own.knows([t])}
            # Through the lexicon only: a word that merely looks English ("film") says nothing.
            known_in_english = {t for t in tokens if (b := analyzer.bridge([t])) != [t] and english.knows(b)}
            primary = [
                english.rank_words(analyzer.bridge(tokens), known_elsewhere=known_here, beliefs=beliefs),
                # Last, so that on equal confidence the entry translated into the asker's language wins.
                own.rank_words(tokens, known_elsewhere=known_in_english, beliefs=beliefs),
            ]
        best = max(primary, key=self._strength)
        if self._confident(best, lang) or best.outside is not None:
            return best
        # Not found in the asker's language: the question may be written in the language the detector
        # leans to (someone who chose English writing in Russian). Only that one: a word or two of an
        # English question is a word of some other language too ("capital").
        guess = self.languages.guess(question)
        if guess is None or guess.lang in (lang, KB_LANGUAGE) or guess.lang not in self.indexes:
            return best
        found = self.indexes[guess.lang].rank(question, beliefs=beliefs)
        return found if self._confident(found, guess.lang) and found.coverage >= CROSS_LANGUAGE_COVERAGE else best

    def _confident(self, ranking: Ranking, lang: str) -> bool:
        """Whether ``ranking``'s best entry would be served to a question in ``lang``."""
        answer_at, _ = self.calibration.thresholds(lang)
        return self._usable(ranking) and probability(self.calibration, ranking) >= answer_at

    @staticmethod
    def _usable(ranking: Ranking) -> bool:
        """Whether the question is mostly known to the index that ranked it, and something (an entry,
        or a topic the knowledge base does not answer) is most like it."""
        return (bool(ranking.hits) or ranking.outside is not None) and ranking.coverage >= MIN_COVERAGE

    @staticmethod
    def _strength(ranking: Ranking) -> tuple[bool, float]:
        """How far to trust a ranking: usable ones first (the question is mostly known to that
        index), then by confidence; among unusable ones the most confident still says most."""
        return Decider._usable(ranking), ranking.confidence

    def _served(self, entry_id: str, lang: str) -> str:
        return self.kb.entries[entry_id].text_in(lang).lang

    def _alarm_language(self, found_in: str, lang: str) -> str:
        texts = self.content.emergency.texts
        # The asker's language first: trigger lists overlap (Russian "передоз" is Ukrainian slang too),
        # so the list that matched says only that the message is not in English.
        if lang != "en" and lang in texts:
            return lang
        return found_in if found_in in texts else "en"
