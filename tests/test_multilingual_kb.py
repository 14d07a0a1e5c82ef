"""The knowledge base in six languages: translations, their checks, serving, retrieval and the eval bar."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import run_bot

from bot.content import BUNDLED_CONTENT, check
from bot.content.model import LANGUAGES, Content, Lexicon, ReviewStatus
from bot.content.schema import load_lexicon
from bot.content.text import phrase_words
from bot.core.app import Services, build_services
from bot.core.config import Config
from bot.port.events import ReplyKind
from bot.port.markup import plain
from bot.qa.deciding import Answer
from bot.qa.evaluation import Case, Outcome, evaluate, load_cases
from bot.qa.retrieval import Analyzer

ENTRY = """\
group:
  id: A
  title: Overdose
entries:
  - id: first-entry
    title: First
    questions: [one question, another question, a third question]
    answer: |
      **Key line.** Call within 2–3 minutes.
    sources:
      - organisation: WHO
        title: A document
        year: 2023
    tags: [overdose]
    reviewed: 2026-11-21
    translations:
      es:
        title: Primera
        status: unreviewed
        questions: [una pregunta, otra pregunta, una tercera pregunta]
        answer: |
          **Línea clave.** Llama en 2–3 minutos.
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(BUNDLED_CONTENT, root)
    for path in (root / "kb").glob("*.yaml"):
        path.unlink()
    (root / "kb" / "a.yaml").write_text(ENTRY)
    (root / "kb-tests.yaml").unlink()
    (root / "safety.yaml").write_text(
        "refusals:\n  - id: dosing\n    entry: first-entry\n    all_of:\n      - [how much]\n      - [take]\n"
    )
    return root


def _kb_problems(root: Path) -> list[str]:
    return [str(p) for p in check(root) if "/kb/" in str(p.path)]


# ---------------------------------------------------------------- the content check


def test_a_minimal_translation_is_clean(tree: Path) -> None:
    assert _kb_problems(tree) == []


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            "        questions: [una pregunta, otra pregunta, una tercera pregunta]\n",
            "",
            18,
            "translations.es: missing field 'questions'",
        ),
        ("        status: unreviewed\n", "", 18, "translations.es: missing field 'status'"),
        (
            "        answer: |\n          **Línea clave.** Llama en 2–3 minutos.\n",
            "",
            18,
            "translations.es: missing field 'answer'",
        ),
        ("        status: unreviewed", "        status: done", 19, "status: must be one of reviewed, unreviewed"),
        (
            "        questions: [una pregunta, otra pregunta, una tercera pregunta]",
            "        questions: [una pregunta]",
            20,
            "translations.es.questions: must list at least 3",
        ),
        ("      es:", "      de:", 17, "unsupported language 'de'"),
        ("      es:", "      en:", 17, "unsupported language 'en'"),
        # An unreviewed translation must not change a figure: here "2–3 minutes" became "5".
        ("Llama en 2–3 minutos.", "Llama en 5 minutos.", 21, "figures differ from the English answer"),
    ],
)
def test_translation_problems_are_reported_with_file_and_line(
    tree: Path, old: str, new: str, line: int, message: str
) -> None:
    path = tree / "kb" / "a.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    problems = _kb_problems(tree)
    assert any(p.startswith(f"{path}:{line}:") and message in p for p in problems), problems


def test_figures_may_be_written_the_way_each_language_writes_them(tree: Path) -> None:
    path = tree / "kb" / "a.yaml"
    text = path.read_text().replace("Call within 2–3 minutes.", "About 1,016 people, 98.5%.")
    path.write_text(text.replace("Llama en 2–3 minutos.", "Unas 1.016 personas, 98,5%."))
    assert _kb_problems(tree) == []


def test_every_entry_is_translated_into_every_language_and_unreviewed(services: Services) -> None:
    for entry in services.content.kb.entries.values():
        for lang in LANGUAGES[1:]:
            translation = entry.translations.get(lang)
            assert translation is not None, f"{entry.id} has no {lang} translation"
            # Nobody has reviewed them yet: each must be served with the note inviting a review.
            assert translation.status is ReviewStatus.UNREVIEWED
            assert len(translation.questions) >= 10, f"{entry.id}.{lang}: write more native variants"


# ---------------------------------------------------------------- serving


@pytest.mark.parametrize(
    ("lang", "question", "entry"),
    [
        ("ru", "можно ли мешать бензы с метадоном", "mixing-depressants"),
        ("ru", "где взять налоксон бесплатно", "naloxone"),
        ("es", "para qué sirve la naloxona", "naloxone"),
        ("pt", "a prep protege contra hepatite c", "prep"),
        ("fr", "c'est quoi la décriminalisation exactement", "decriminalisation-definitions"),
        ("uk", "що таке налоксон", "naloxone"),
    ],
)
def test_a_question_gets_the_translation_with_the_review_note(
    services: Services, lang: str, question: str, entry: str
) -> None:
    answer = services.decider.answer(question, lang)
    assert answer.kind is ReplyKind.ANSWER and answer.entry == entry and answer.lang == lang, answer
    [reply] = services.replies.for_answer(answer, lang)
    translation = services.content.kb.entries[entry].translations[lang]
    text = plain(reply.text)
    assert reply.entry == entry and translation.title in text
    assert plain(translation.answer).splitlines()[0] in text
    note = services.locales.text(lang, "kb.unreviewed")
    assert text.rstrip().endswith(note)
    # The buttons to related entries are in the asker's language too.
    related = services.content.kb.entries[entry].related
    labels = [button.label for row in reply.buttons for button in row]
    assert labels == [services.content.kb.entries[r].text_in(lang).title for r in related[: len(labels)]]


def test_an_untranslated_entry_comes_in_english_with_a_note_in_spanish(content: Content) -> None:
    # A deployment's own entry that nobody has translated yet.
    entries = dict(content.kb.entries)
    entries["opioid-agonist-treatment"] = replace(entries["opioid-agonist-treatment"], translations={})
    untranslated = replace(content, kb=replace(content.kb, entries=entries))
    built = build_services(Config(), untranslated)
    answer = built.decider.answer("qué es el tratamiento con metadona", "es")
    assert answer.kind is ReplyKind.ANSWER and answer.entry == "opioid-agonist-treatment"
    assert answer.lang == "en"
    text = plain(built.replies.for_answer(answer, "es")[0].text)
    note = built.locales.text("es", "kb.english_only")
    assert text.startswith(note) and note != built.locales.text("en", "kb.english_only")
    assert content.kb.entries["opioid-agonist-treatment"].title in text


def test_english_answers_carry_no_note(services: Services) -> None:
    answer = services.decider.answer("what is naloxone", "en")
    text = plain(services.replies.for_answer(answer, "en")[0].text)
    assert answer.lang == "en"
    assert services.locales.text("en", "kb.unreviewed") not in text
    assert services.locales.text("en", "kb.english_only") not in text


def test_a_refusal_quotes_the_translated_key_line(services: Services) -> None:
    answer = services.decider.answer("cuánta coca debería meterme", "es")
    assert answer.kind is ReplyKind.REFUSAL and answer.lang == "es"
    text = plain(services.replies.for_answer(answer, "es")[0].text)
    key_line = plain(services.content.kb.entries["dosing-advice"].translations["es"].answer).split("\n")[0]
    assert key_line in text
    assert not any(unit in text for unit in (" mg", " gramos", " ml"))


def test_a_question_in_another_language_than_the_client_still_finds_its_entry(services: Services) -> None:
    # A Russian speaker whose client says English: the entry is found, and served in the asker's language.
    answer = services.decider.answer("что такое налоксон", "en")
    assert answer.kind is ReplyKind.ANSWER and answer.entry == "naloxone" and answer.lang == "en"


@pytest.mark.parametrize(
    ("question", "lang"),
    [
        # The little words only one of the neighbours uses.
        ("Чи можна передознутися солями?", "uk"),
        ("як зробити мефедрон самому", "uk"),
        ("что будет если смешать", "ru"),
        # The letters only one of them writes.
        ("наркан і фентаніл", "uk"),
        ("наркан и фентанил, объясни", "ru"),
    ],
)
def test_russian_and_ukrainian_are_told_apart_by_what_only_one_of_them_writes(
    services: Services, question: str, lang: str
) -> None:
    assert services.decider.language_of(question) == lang


def test_the_emergency_answer_follows_the_askers_language_when_trigger_lists_overlap(services: Services) -> None:
    # "передоз" is in the Russian and Ukrainian triggers alike.
    decider = services.decider
    for lang in ("ru", "uk"):
        answer = decider.answer("у друга передоз", lang)
        assert answer.kind is ReplyKind.EMERGENCY and answer.lang == lang
        first = plain(services.replies.for_answer(answer, lang)[0].text)
        assert first.startswith(plain(services.content.emergency.texts[lang]).split("\n")[0])


def test_out_of_scope_questions_in_other_languages_fall_back(services: Services) -> None:
    for lang, question in (("es", "cuál es la capital de argentina"), ("ru", "какая погода в алматы")):
        # At most a "did you mean": never an answer.
        assert services.decider.answer(question, lang).kind in (ReplyKind.FALLBACK, ReplyKind.CLARIFY)


def test_ask_json_reports_the_language_served() -> None:
    russian = run_bot("ask", "--json", "--lang", "ru", "что", "такое", "налоксон")
    assert russian.returncode == 0, russian.stderr
    record = json.loads(russian.stdout)
    assert record["entry"] == "naloxone" and record["lang"] == "ru"
    assert "Налоксон" in record["text"]
    # Nobody chose a language: a short Spanish question the detector cannot place is still answered in
    # Spanish, the language of the question variants it matches.
    spanish = run_bot("ask", "--json", "naloxona", "donde")
    record = json.loads(spanish.stdout)
    assert record["entry"] == "naloxone" and record["lang"] == "es"


# ---------------------------------------------------------------- retrieval


def test_synonyms_match_inflected_forms() -> None:
    lexicon = Lexicon({"ru": {"метадон": "methadone"}}, {})
    analyzer = Analyzer(lexicon, "ru")
    assert "methadone" in analyzer.canonical(analyzer.tokens("лечение метадоном"))


def test_french_elisions_are_split_off() -> None:
    analyzer = Analyzer(Lexicon({}, {}), "fr")
    assert analyzer.tokens("L'OMS et l'héroïne, c'est quoi ?") == ["l", "oms", "et", "l", "heroine", "c", "est", "quoi"]
    # English keeps its contractions whole: "won't" is one word.
    assert Analyzer(Lexicon({}, {}), "en").tokens("won't") == ["wont"]


def test_the_safety_rules_read_texted_french_written_out() -> None:
    assert phrase_words("jveux plus vivre") == ["je", "veux", "plus", "vivre"]
    assert phrase_words("chui à bout, jsais plus") == ["je", "suis", "a", "bout", "je", "sais", "plus"]
    # A word that only starts like it is left alone.
    assert phrase_words("jsuisse jveuxx") == ["jsuisse", "jveuxx"]


def test_stop_words_are_folded_like_questions(tmp_path: Path) -> None:
    (tmp_path / "lexicon.yaml").write_text("synonyms: {}\nstopwords:\n  es: [qué, Cómo]\n")
    lexicon = load_lexicon(tmp_path, [])
    assert lexicon.stopwords["es"] == frozenset({"que", "como"})


# ---------------------------------------------------------------- the eval


def test_an_answer_in_the_wrong_language_is_a_miss() -> None:
    # Asked in Spanish, naloxone must come in Spanish: the right entry in English does not count.
    case = Case("para qué sirve la naloxona", "naloxone", 1, "es")
    english = Answer(case.question, ReplyKind.ANSWER, "naloxone", ("naloxone",), "en", 0.9)
    assert not Outcome(case, english, "es", "es").passed
    assert Outcome(case, replace(english, lang="es"), "es", "es").passed


def test_an_english_question_from_a_spanish_speaker_is_answered_in_spanish(services: Services) -> None:
    answer = services.decider.answer("what is naloxone", "es")
    assert answer.kind is ReplyKind.ANSWER and answer.entry == "naloxone" and answer.lang == "es"


def test_eval_asks_as_someone_who_chose_no_language(services: Services) -> None:
    # The eval works each question's language out, as the bot does for a chat message.
    cases = [
        Case("donde consigo naloxona gratis", "naloxone", 1, "es"),
        Case("что такое налоксон", "naloxone", 2, "ru"),
    ]
    outcomes = evaluate(services.decider, cases)
    assert [o.lang for o in outcomes] == ["es", "ru"] and all(o.passed for o in outcomes)


def test_case_languages_and_sets_are_checked(tmp_path: Path) -> None:
    from bot.content.yamlio import ContentError

    (tmp_path / "cases.yaml").write_text("cases:\n  - q: hola\n    expect: fallback\n    lang: de\n")
    with pytest.raises(ContentError, match=r"cases\.yaml:4: lang: 'de' is not one of"):
        load_cases(tmp_path / "cases.yaml", set())
    (tmp_path / "cases.yaml").write_text("cases:\n  - q: hola\n    expect: smalltalk\n    set: chat\n")
    with pytest.raises(ContentError, match=r"cases\.yaml:4: set: 'chat' is not one of"):
        load_cases(tmp_path / "cases.yaml", set())


def test_kb_eval_cli_fails_when_one_language_is_below_its_target(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    # English passes; the Spanish case gets the right entry, but asked for the wrong one it is a miss.
    cases.write_text(
        "cases:\n"
        "  - q: what is naloxone\n    expect: naloxone\n"
        "  - q: qué es la naloxona\n    expect: prep\n    lang: es\n"
    )
    result = run_bot("kb", "eval", str(cases))
    assert result.returncode == 1
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.strip().startswith("entries ")}
    assert "1/1" in lines["en"] and "(ok, target 95%)" in lines["en"]
    assert "0/1" in lines["es"] and "(BELOW TARGET, target 95%)" in lines["es"]
