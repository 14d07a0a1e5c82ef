"""Six languages: a Russian speaker's whole bot, plural forms, the locale check, and the language of a question."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import TEST_KEY
from helpers import run_bot
from testbot import TestBot

from bot.cli import main
from bot.content import BUNDLED_CONTENT, check
from bot.content.i18n import number, plural_categories
from bot.content.model import LANGUAGES
from bot.core.app import Services
from bot.core.config import Config
from bot.features import build_router
from bot.port.clock import ManualClock
from bot.port.events import Event, ReplyKind, Text, User
from bot.port.markup import plain
from bot.port.plaintext import render


@pytest.fixture
async def boris(config: Config, services: Services) -> AsyncIterator[TestBot]:
    """Someone whose app is set to Russian and who never used /language."""
    async with TestBot.started(config, services, user_id="boris", language="ru") as bot:
        yield bot


# ---------------------------------------------------------------- a Russian speaker on the console


async def test_a_russian_speaker_gets_russian_menus_and_help(boris: TestBot) -> None:
    start = await boris.ask("/start")
    assert "Здравствуйте!" in start and "псевдонимный идентификатор" in start
    assert "[1] Темы" in start and "[3] Подписать петицию" in start
    help_text = await boris.ask("/help")
    assert "Что я умею" in help_text
    for spec in boris.core.router.visible_commands(organiser=False):
        assert f"/{spec.name} — {boris.core.locales.text('ru', spec.description)}" in help_text
    assert "/sign — подписать петицию" in help_text


async def test_a_russian_speaker_gets_the_russian_emergency_answer(boris: TestBot) -> None:
    boris.push("мой друг не дышит и не просыпается")
    reply = await boris.pop_reply()
    boris.replies.clear()
    assert reply.kind is ReplyKind.EMERGENCY
    text = render(reply)
    assert "налоксон" in text.lower() and "Экстренные номера:" in text and "103" in text


async def test_a_russian_speaker_signs_the_petition_in_russian(boris: TestBot) -> None:
    boris.push("/sign")
    intro, privacy, name = [await boris.pop() for _ in range(3)]
    assert "Декриминализировать хранение наркотиков" in intro
    assert "Кому: Генеральному секретарю ООН" in intro
    assert f"0 из {number('ru', 15000)}" in intro
    assert privacy.startswith("Конфиденциальность:")
    assert "Какое имя указать в петиции?" in name and "[1] Отмена" in name
    assert "Это необязательно" in await boris.ask("Мария Иванова")
    assert "В какой стране вы живёте?" in await boris.press("Пропустить")
    consent = await boris.ask("Казахстан")
    assert "Согласие" in consent and "Я даю согласие на то, чтобы моё имя" in consent
    thanks = await boris.press("Даю согласие")
    assert "Спасибо, Мария Иванова! Ваша подпись под петицией «Декриминализировать" in thanks
    assert f"1 из {number('ru', 15000)}" in thanks
    assert "Хотите также получать здесь новости петиций?" in thanks
    assert "отправьте СТОП" in await boris.press("Да, присылайте новости")
    assert "Подписка на новости петиций" in await boris.ask("/mydata")


@pytest.mark.parametrize(
    ("length", "said"), [(101, "В имени 101 символ,"), (102, "В имени 102 символа,"), (111, "111 символов")]
)
async def test_a_too_long_name_is_counted_in_russian_plural_forms(boris: TestBot, length: int, said: str) -> None:
    await boris.ask("/sign")
    assert said in await boris.ask("Я" * length)


def test_the_stats_heading_counts_days_in_each_language(services: Services) -> None:
    locales = services.locales
    assert "(последние 14 дней)" in plain(locales.plural("ru", "stats.per_day", 14))
    assert "(останні 2 дні)" in plain(locales.plural("uk", "stats.per_day", 2))
    assert "(last 1 day)" in plain(locales.plural("en", "stats.per_day", 1))


async def test_days_of_action_count_down_in_russian_plural_forms(boris: TestBot) -> None:
    # On 5 June the next days are 21 days away (one: "день"), 46 (many: "дней") and 53 (few: "дня").
    boris.core.clock = ManualClock(datetime(2026, 6, 5, 12, 0, tzinfo=UTC))
    days = await boris.ask("/days")
    assert "Ближайшие дни действий" in days
    assert "• 2026-06-26 — «Поддержи. Не наказывай»: Всемирный день действий (через 21 день)" in days
    assert "(через 46 дней)" in days and "(через 53 дня)" in days
    assert "[1] Напоминать об этих днях" in days


async def test_a_russian_speaker_on_telegram_gets_russian_menus_and_answers(
    tmp_path: Path, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_telegram import BORIS, running, text_of

    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)
    async with running(tmp_path, services) as bot:
        menu = {c["command"]: c["description"] for c in bot.tg.my_commands({"type": "all_private_chats"}, "ru")}
        assert menu["sign"] == "подписать петицию" and menu["language"] == "выбрать язык"
        assert "Что я умею" in text_of(await bot.say("/help", user=BORIS))
        # The emergency answer alone (the ranking is not sure of an entry beside it), before the next message.
        emergency = text_of(await bot.say("мой друг не дышит", user=BORIS))
        assert "Экстренные номера:" in emergency
        assert "Какое имя указать в петиции?" in text_of(await bot.say("/sign", user=BORIS))


@pytest.mark.parametrize(
    ("lang", "message", "done"),
    [
        ("ru", "Отпишите меня!", "Вы отписаны от всего"),
        ("uk", "відпишіть мене", "Ви відписані від усього"),
        ("es", "darme de baja", "Has cancelado todas tus suscripciones"),
        ("pt", "Descadastrar", "Todas as suas inscrições foram canceladas"),
        ("fr", "me désabonner", "Tous vos abonnements sont arrêtés"),
    ],
)
async def test_stop_in_each_language(config: Config, services: Services, lang: str, message: str, done: str) -> None:
    async with TestBot.started(config, services, language=lang) as bot:
        await bot.ask("/subscribe news")
        assert done in await bot.ask(message)
        assert await bot.core.subscriptions.topics_of(bot.core.keyring.user_id("console", "tester")) == []


@pytest.mark.parametrize(
    ("lang", "count", "people", "in_days"),
    [
        ("ru", 1, "Пока что 1 человек", "через 1 день"),
        ("ru", 3, "Пока что 3 человека", "через 3 дня"),
        ("ru", 5, "Пока что 5 человек", "через 5 дней"),
        ("ru", 11, "Пока что 11 человек", "через 11 дней"),
        ("ru", 21, "Пока что 21 человек", "через 21 день"),
        ("ru", 22, "Пока что 22 человека", "через 22 дня"),
        ("uk", 1, "Поки що 1 людина", "через 1 день"),
        ("uk", 3, "Поки що 3 людини", "через 3 дні"),
        ("uk", 5, "Поки що 5 людей", "через 5 днів"),
        ("uk", 21, "Поки що 21 людина", "через 21 день"),
        ("es", 1, "1 persona hasta ahora", "(mañana)"),
        ("es", 21, "21 personas hasta ahora", "dentro de 21 días"),
        ("fr", 0, "0 personne pour l'instant", "dans 0 jour"),
        ("fr", 5, "5 personnes pour l'instant", "dans 5 jours"),
        ("pt", 1, "1 pessoa até agora", "daqui a 1 dia"),
        ("pt", 3, "3 pessoas até agora", "daqui a 3 dias"),
    ],
)
def test_plural_forms_follow_each_language(
    services: Services, lang: str, count: int, people: str, in_days: str
) -> None:
    locales = services.locales
    assert plain(locales.plural(lang, "progress.count", count)) == people
    assert in_days in plain(locales.plural(lang, "days.line", count, name="X", date="2026-06-26"))


def test_plural_categories_come_from_cldr() -> None:
    assert plural_categories("en") == {"one", "other"}
    assert plural_categories("ru") == plural_categories("uk") == {"one", "few", "many", "other"}
    assert plural_categories("es") == plural_categories("pt") == plural_categories("fr") == {"one", "many", "other"}


# The Discord strings that describe a slash command or one of its options.
DISCORD_DESCRIPTIONS = (
    "discord.setup",
    "discord.setup.announcements",
    "discord.setup.organisers",
    "discord.setup.language",
)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_command_descriptions_fit_telegram_and_discord_menus(services: Services, lang: str) -> None:
    options = [key for key in services.content.locales["en"] if key.startswith("discord.option.")]
    keys = [spec.description for spec in build_router().commands.values()] + options + list(DISCORD_DESCRIPTIONS)
    for key in keys:
        description = services.locales.text(lang, key)
        # Telegram wants 3 to 256 characters, Discord 1 to 100.
        assert 3 <= len(description) <= 100, (key, description)


# ---------------------------------------------------------------- the content check


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(BUNDLED_CONTENT, root)
    return root


def _edit(path: Path, key: str, line: str | None) -> int:
    """Replace (or, with None, delete) the line of ``key``; its 1-based line number."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, text in enumerate(lines) if text.startswith(f"{key}:"))
    if line is None:
        del lines[index]
    else:
        lines[index] = line + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    return index + 1


def _problems(root: Path) -> list[str]:
    return [str(problem) for problem in check(root)]


def test_the_bundled_locales_are_complete() -> None:
    assert [p for p in _problems(BUNDLED_CONTENT) if "/locales/" in p] == []


def test_a_missing_key_fails_the_check_where_it_belongs(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tree / "locales" / "ru.yaml"
    line = _edit(path, "sign.ask.email", None)
    # Reported at the line of the key before it (sign.ask.name), where it is to be put back.
    expected = f"{path}:{line - 1}: sign.ask.email: missing"
    assert any(p.startswith(expected) for p in _problems(tree)), _problems(tree)
    assert main(["content", "check", str(tree)]) == 1
    assert expected in capsys.readouterr().out


def test_a_mismatched_placeholder_fails_the_check(tree: Path) -> None:
    path = tree / "locales" / "uk.yaml"
    line = _edit(path, "sign.thanks", 'sign.thanks: "**Дякую, {імʼя}!** Ваш підпис під петицією «{title}» враховано."')
    problems = _problems(tree)
    assert any(p.startswith(f"{path}:{line}: sign.thanks: placeholders ['title', 'імʼя'] differ") for p in problems)


@pytest.mark.parametrize(
    ("lang", "key", "line", "message"),
    [
        ("ru", "days.line.few", None, "days.line.few: missing (the plural forms of ru are one, few, many, other)"),
        (
            "es",
            "progress.count.other",
            'progress.count.other: "{count} personas"\nprogress.count.few: "{count} personas"',
            "progress.count.few: es has no plural category 'few' (it uses one, many, other)",
        ),
        (
            "ru",
            "reminder.in_days.one",
            'reminder.in_days.one: "**Завтра: {name}** ({date})"',
            "reminder.in_days.one: in ru this form is used for 1, 21, 31, 41...: it must show {count}",
        ),
        ("fr", "help.intro", 'help.intro: "**Ce que je sais faire"', "help.intro: unbalanced **bold**"),
        ("pt", "button.back", 'button.back: "[Voltar](voltar)"', "button.back: broken link"),
        ("uk", "button.back", 'button.back: "Назад"\nbutton.forward: "Вперед"', "button.forward: not a key of en.yaml"),
    ],
)
def test_each_locale_problem_names_file_and_line(
    tree: Path, lang: str, key: str, line: str | None, message: str
) -> None:
    path = tree / "locales" / f"{lang}.yaml"
    at = _edit(path, key, line)
    problems = _problems(tree)
    assert any(p.startswith(f"{path}:") and message in p for p in problems), problems
    assert all(p.split(":")[1] in {str(at - 1), str(at), str(at + 1)} for p in problems if message in p), problems


def test_every_language_file_is_required(tree: Path) -> None:
    (tree / "locales" / "uk.yaml").unlink()
    assert any("uk.yaml:0: missing: the interface in 'uk' is required" in p for p in _problems(tree))


# ---------------------------------------------------------------- the language of a question

TYPICAL = {
    "ru": [
        "подскажите где в алматы можно получить налоксон",
        "мой парень перебрал с метадоном что делать",
        "правда ли что в португалии разрешили наркотики",
        "можно ли принимать бупренорфин вместе с алкоголем",
        "что делать если друг не дышит",
    ],
    "uk": [
        "підкажіть де у львові можна отримати налоксон",
        "мій хлопець перебрав з метадоном що робити",
        "чи правда що в португалії дозволили наркотики",
        "чи можна приймати бупренорфін разом з алкоголем",
        "що робити якщо друг не дихає",
    ],
    "es": [
        "oye donde puedo conseguir naloxona en bogota",
        "mi novio se paso con la metadona que hago",
        "es cierto que en portugal las drogas son legales",
        "puedo tomar buprenorfina con alcohol",
        "¿cómo funciona la naloxona?",
    ],
    "pt": [
        "onde posso conseguir naloxona em são paulo",
        "meu namorado passou do ponto com metadona o que eu faço",
        "é verdade que em portugal as drogas são legais",
        "posso tomar buprenorfina com bebida",
        "quais são os sinais de uma overdose",
    ],
    "fr": ["où est ce que je peux avoir de la naloxone à abidjan", "mon copain a abusé de la méthadone je fais quoi"],
    "en": ["where can i get naloxone in london", "my boyfriend took too much methadone what do i do"],
}


@pytest.mark.parametrize(("lang", "question"), [(lang, q) for lang, questions in TYPICAL.items() for q in questions])
def test_typical_questions_get_their_language(services: Services, lang: str, question: str) -> None:
    assert services.decider.languages.detect(question) == lang


@pytest.mark.parametrize(
    "message",
    ["спасибо", "дякую", "gracias", "obrigado", "merci", "ok thanks", "naloxone", "Мария Иванова", "Portugal", "👍"],
)
def test_short_messages_are_given_no_language(services: Services, message: str) -> None:
    assert services.decider.languages.detect(message) is None


@pytest.mark.parametrize(
    "question",
    [
        "come funziona il naloxone",  # Italian
        "com funciona la naloxona",  # Catalan
        "como funciona a naloxona",  # Galician (and Portuguese too, but not reliably)
        "што рабіць калі мой сябар не дыхае",  # Belarusian
        "налоксон қалай әсер етеді",  # Kazakh
    ],
)
def test_other_languages_are_not_taken_for_ours(services: Services, question: str) -> None:
    assert services.decider.languages.detect(question) is None


async def test_the_question_language_comes_before_the_platform_but_after_a_choice(
    config: Config, services: Services
) -> None:
    async with TestBot.started(config, services, user_id="lena", language="en") as bot:
        core, user = bot.core, bot.adapter.user
        key = core.keyring.user_id(user.platform, user.id)

        async def language_of(text: str, platform_language: str | None = "en") -> str:
            event = Event(User(user.platform, user.id, platform_language), bot.adapter.chat, Text(text))
            return await core.language_for(event, key)

        # An English phone, a Ukrainian question: the answer's interface is Ukrainian.
        bot.push("як діє налоксон і де його взяти")
        reply = await bot.pop_reply()
        assert reply.entry == "naloxone" and "Джерела" in render(reply)
        # A word or two: the language of the question variants or small talk they match, when only one
        # language has them; the platform's when it fits as well as any.
        assert await language_of("дякую") == "uk"
        assert await language_of("narcan spray", "ru") == "ru"
        assert await language_of("where can i get naloxone", "ru") == "en"
        # Nothing in the knowledge base tells and the detector is unsure: its lean beats the default
        # language when the platform gives none, but not the platform's own.
        leaning = "tiras de fentanilo como se leen"
        assert core.services.decider.languages.detect(leaning) is None
        assert await language_of(leaning, None) == "es"
        assert await language_of(leaning, "pt") == "pt"
        # An explicit choice comes first.
        await bot.ask("/language es")
        assert await language_of("как работает налоксон") == "es"


async def test_a_form_answer_never_changes_the_language(boris: TestBot) -> None:
    name = "Maria Fernanda da Silva Santos"
    assert boris.core.services.decider.languages.detect(name) == "pt"
    boris.push("/sign")
    for _ in range(3):
        await boris.pop()
    # Typed into the sign-up, it is a name rather than a Portuguese question: the form stays Russian.
    assert "Это необязательно" in await boris.ask(name)


async def test_a_spanish_question_without_a_language_choice_is_answered_in_spanish(
    config: Config, services: Services
) -> None:
    async with TestBot.started(config, services, user_id="ana", language=None) as bot:
        bot.push("¿cómo funciona la naloxona?")
        reply = await bot.pop_reply()
    text = render(reply)
    assert reply.entry == "naloxone" and "Fuentes" in text
    # The entry in Spanish where the knowledge base has it translated, else in English with a Spanish note.
    shown = services.content.kb.entries["naloxone"].text_in("es")
    assert shown.title in text
    if shown.lang != "es":
        assert services.locales.text("es", "kb.english_only") in text


def test_ask_json_reports_the_language_of_each_question() -> None:
    result = run_bot("ask", "-", stdin="¿cómo funciona la naloxona?\nhow does naloxone work\n")
    assert result.returncode == 0, result.stderr
    spanish, english = (json.loads(line) for line in result.stdout.splitlines())
    assert spanish["entry"] == english["entry"] == "naloxone"
    assert "Fuentes" in spanish["text"] and "Sources" in english["text"]
    assert spanish["lang"] in ("es", "en")  # "en" only while the entry has no Spanish translation
    assert english["lang"] == "en"
