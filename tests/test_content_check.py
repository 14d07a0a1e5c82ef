"""`advocacy-bot content check`: every problem with file and line; the bundled content is clean."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.cli import main
from bot.content import BUNDLED_CONTENT, check
from bot.content.yamlio import ContentError, load_yaml

ENTRY = """\
group:
  id: A
  title: Overdose
entries:
  - id: first-entry
    title: First
    questions: [one question, another question, a third question]
    answer: |
      **Key line.**
    sources:
      - organisation: WHO
        title: A document
        year: 2023
    tags: [overdose]
    reviewed: 2026-11-21
    related: [second-entry]
  - id: second-entry
    title: Second
    questions: [one question, another question, a third question]
    answer: Fine.
    sources:
      - organisation: WHO
        title: A document
        year: 2014
        url: https://www.who.int/
    tags: [overdose]
    reviewed: 2026-11-21
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


def _problems(root: Path) -> list[str]:
    return [str(p) for p in check(root)]


def test_bundled_content_is_clean() -> None:
    assert _problems(BUNDLED_CONTENT) == []


def test_bundled_content_cli_prints_one_line_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["content", "check"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("ok: ")


def test_minimal_tree_is_clean(tree: Path) -> None:
    assert _problems(tree) == []


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            "    related: [second-entry]\n",
            "    related: [second-entry]\n    colour: red\n",
            17,
            "unknown field 'colour'",
        ),
        ("    related: [second-entry]", "    related: [nowhere]", 16, "no entry with id 'nowhere'"),
        ("  - id: second-entry", "  - id: first-entry", 17, "duplicate entry id 'first-entry'"),
        ("    answer: Fine.", "    answer: ''", 20, "must not be empty"),
        ("    answer: Fine.", "    answer: " + "x" * 1201, 20, "over the limit of 1200"),
        ("        year: 2014", "        year: next year", 24, "expected a year"),
        (
            "    tags: [overdose]\n    reviewed: 2026-11-21\n",
            "    tags: overdose\n    reviewed: 2026-11-21\n",
            14,
            "expected a list",
        ),
        ("    reviewed: 2026-11-21\n    related", "    reviewed: soon\n    related", 15, "expected a date"),
        (
            "    questions: [one question, another question, a third question]\n    answer: |",
            "    questions: [one question]\n    answer: |",
            7,
            "at least 3",
        ),
    ],
)
def test_each_problem_is_reported_with_file_and_line(tree: Path, old: str, new: str, line: int, message: str) -> None:
    path = tree / "kb" / "a.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    problems = _problems(tree)
    assert any(message in p for p in problems), problems
    assert any(p.startswith(f"{path}:{line}:") and message in p for p in problems), problems


def test_missing_sources_are_reported(tree: Path) -> None:
    path = tree / "kb" / "a.yaml"
    text = path.read_text()
    start = text.index("    sources:\n      - organisation: WHO\n        title: A document\n        year: 2023\n")
    path.write_text(
        text[:start]
        + text[start:].replace(
            "    sources:\n      - organisation: WHO\n        title: A document\n        year: 2023\n",
            "    sources: []\n",
            1,
        )
    )
    assert any("at least one source" in p for p in _problems(tree))


def test_bad_indentation_is_a_yaml_error_with_a_line(tree: Path) -> None:
    path = tree / "kb" / "a.yaml"
    path.write_text(ENTRY.replace("    title: First", "      title: First"))
    problems = _problems(tree)
    assert any(p.startswith(f"{path}:") and "invalid YAML" in p for p in problems), problems


def test_duplicate_keys_are_errors_not_silently_dropped(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("a: 1\nb: 2\na: 3\n")
    with pytest.raises(ContentError) as caught:
        load_yaml(path)
    assert "dup.yaml:3: duplicate key 'a' (first at line 1)" in str(caught.value)


def test_every_problem_is_reported_not_just_the_first(tree: Path) -> None:
    path = tree / "kb" / "a.yaml"
    text = path.read_text().replace("    related: [second-entry]", "    related: [nowhere]")
    path.write_text(text.replace("    answer: Fine.", "    answer: ''"))
    assert len(_problems(tree)) >= 2


def test_emergency_languages_are_all_required(tree: Path) -> None:
    path = tree / "emergency.yaml"
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("  fr:"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("    ") and lines[i].strip())
    path.write_text("".join(lines[:start] + lines[end:]))
    assert any("emergency answer in 'fr' is missing" in p for p in _problems(tree))


def test_locale_placeholders_must_match_english(tree: Path) -> None:
    (tree / "locales" / "es.yaml").write_text("language.name: Español\nlanguage.set: 'Idioma: {nombre}'\n")
    problems = _problems(tree)
    assert any("es.yaml:2: language.set: placeholders" in p for p in problems), problems


def test_cli_reports_problems_and_exits_1(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tree / "kb" / "a.yaml"
    path.write_text(path.read_text().replace("    related: [second-entry]", "    related: [nowhere]"))
    assert main(["content", "check", str(tree)]) == 1
    assert f"{path}:16:" in capsys.readouterr().out


def test_kb_tests_with_an_unknown_id_fail_the_check(tree: Path) -> None:
    (tree / "kb-tests.yaml").write_text("cases:\n  - q: hello\n    expect: no-such-entry\n")
    assert main(["content", "check", str(tree)]) == 1


OUTSIDE = """\
topics:
  - id: other-days
    about: Awareness days the bot does not follow
    questions:
      en: [when is world mental health day, world no tobacco day date]
      es: [cuando es el dia mundial de la salud mental]
  - id: places
    about: Places asked about anything but drug policy
    questions:
      en: [capital of portugal]
"""


def test_a_valid_outside_file_has_no_problems(tree: Path) -> None:
    (tree / "outside.yaml").write_text(OUTSIDE)
    assert _problems(tree) == []
    from bot.content import load

    topics = load(tree).kb.outside
    assert [t.id for t in topics] == ["other-days", "places"]
    assert topics[0].questions["es"] == ("cuando es el dia mundial de la salud mental",)


@pytest.mark.parametrize(
    ("change", "line", "problem"),
    [
        (("  - id: places", "  - id: first-entry"), 7, "id is an entry's id too"),
        (("  - id: places", "  - id: other-days"), 7, "id 'other-days' is already used on line 2"),
        (("  - id: places", "  - id: Places!"), 7, "lowercase words joined by hyphens"),
        (("      es: [", "      de: ["), 6, "unsupported language 'de'"),
        (("    about: Places", "    topic: Places"), 8, "unknown field 'topic'"),
        (("      en: [capital of portugal]\n", "      en: []\n"), 10, "must list at least 1"),
        (("    questions:\n      en: [capital of portugal]\n", "    questions: {}\n"), 9, "at least one language"),
    ],
)
def test_outside_problems_have_file_and_line(tree: Path, change: tuple[str, str], line: int, problem: str) -> None:
    _assert_problem_at(tree / "outside.yaml", OUTSIDE, change, line, problem)


def _assert_problem_at(path: Path, valid: str, change: tuple[str, str], line: int, problem: str) -> None:
    """``valid`` with ``change`` made, written to ``path``: the check reports ``problem`` at ``line``."""
    old, new = change
    assert old in valid
    path.write_text(valid.replace(old, new, 1))
    problems = _problems(path.parent)
    assert any(p.startswith(f"{path}:{line}:") and problem in p for p in problems), problems


ASPECTS = """\
aspects:
  - id: cost
    about: What something costs
    asks:
      en: [cost, price]
      es: [cuesta]
  - id: driving
    about: Driving on a medicine
    asks:
      en: [drive, driving]
"""


def test_a_valid_aspects_file_has_no_problems(tree: Path) -> None:
    (tree / "aspects.yaml").write_text(ASPECTS)
    assert _problems(tree) == []
    from bot.content import load

    aspects = load(tree).kb.aspects
    assert [a.id for a in aspects] == ["cost", "driving"]
    assert aspects[0].asks["es"] == ("cuesta",)


@pytest.mark.parametrize(
    ("change", "line", "problem"),
    [
        (("  - id: driving", "  - id: first-entry"), 7, "id is an entry's or an outside topic's id too"),
        (("  - id: driving", "  - id: other-days"), 7, "id is an entry's or an outside topic's id too"),
        (("  - id: driving", "  - id: cost"), 7, "id 'cost' is already used on line 2"),
        (("      es: [cuesta]", "      de: [kostet]"), 6, "unsupported language 'de'"),
        (("    about: Driving", "    topic: Driving"), 8, "unknown field 'topic'"),
        (("    asks:\n      en: [drive, driving]\n", ""), 7, "missing field 'asks'"),
        (("      en: [drive, driving]\n", "      en: []\n"), 10, "must list at least 1"),
        (("    asks:\n      en: [drive, driving]\n", "    asks: {}\n"), 9, "at least one language"),
        (("      en: [drive, driving]", "      en: drive"), 10, "expected a list"),
    ],
)
def test_aspect_problems_have_file_and_line(tree: Path, change: tuple[str, str], line: int, problem: str) -> None:
    _assert_problem_at(tree / "aspects.yaml", ASPECTS, change, line, problem)


def _campaign_problems(tree: Path, name: str, text: str) -> list[str]:
    (tree / name).write_text(text)
    return [p for p in _problems(tree) if name in p]


PETITION = """\
petitions:
  - id: a-petition
    title: {en: A petition}
    addressee: {en: Someone}
    text: {en: Please.}
    goal: 100
    deadline: 2027-06-26
    fields: {name: required, email: optional, country: required}
    consent: {version: 1, text: {en: I agree.}}
    privacy: {en: Encrypted.}
"""


def test_bundled_campaigns_are_clean_and_complete() -> None:
    from bot.content import load

    campaigns = load(BUNDLED_CONTENT).campaigns
    assert len(campaigns.pledges) >= 4
    petition = campaigns.petitions["un-decriminalise"]
    assert [(f.name, f.required) for f in petition.fields] == [("name", True), ("email", False), ("country", True)]


def test_a_valid_petition_file_has_no_problems(tree: Path) -> None:
    assert _campaign_problems(tree, "petitions.yaml", PETITION) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("goal: 100", "goal: -5"), "petitions.yaml:6: petition a-petition.goal: expected a whole number above 0"),
        (("deadline: 2027-06-26", "deadline: soon"), "petitions.yaml:7: petition a-petition.deadline: expected a date"),
        (
            ("name: required", "name: optional"),
            "petitions.yaml:8: petition a-petition.fields: a signature needs the name",
        ),
        (("email: optional", "phone: optional"), "petitions.yaml:8: petition a-petition.fields: unknown field 'phone'"),
        (("country: required", "country: maybe"), "petitions.yaml:8: petition a-petition.fields.country: must be"),
        (
            ("version: 1", "version: 0"),
            "petitions.yaml:9: petition a-petition.consent.version: expected a whole number",
        ),
        (
            ("privacy: {en: Encrypted.}", "privacy: {fr: Chiffré.}"),
            "petitions.yaml:10: petition a-petition.privacy: the English",
        ),
        (
            ("title: {en: A petition}", "title: {en: A petition, xx: Nope}"),
            "petitions.yaml:3: petition a-petition.title: unsupported language 'xx'",
        ),
        (("    goal: 100\n", ""), "petitions.yaml:2: petition a-petition: missing field 'goal'"),
        (("id: a-petition", "id: A Petition"), "petitions.yaml:2: petitions[0]: id 'A Petition' must be lowercase"),
    ],
)
def test_petition_problems_have_file_and_line(tree: Path, change: tuple[str, str], problem: str) -> None:
    problems = _campaign_problems(tree, "petitions.yaml", PETITION.replace(*change))
    assert any(problem in p for p in problems), problems


def test_duplicate_pledge_ids(tree: Path) -> None:
    text = (
        "pledges:\n"
        "  - id: one\n    title: {en: One}\n    text: {en: Text}\n"
        "  - id: one\n    title: {en: Two}\n    text: {en: Text}\n"
    )
    problems = _campaign_problems(tree, "pledges.yaml", text)
    assert any("pledges.yaml:5: pledges[1]: id 'one' is already used on line 2" in p for p in problems), problems
    assert len(problems) == 1, problems


def test_a_pledge_file_without_pledges(tree: Path) -> None:
    problems = _campaign_problems(tree, "pledges.yaml", "pledges: []\n")
    assert any("pledges.yaml:1: pledges: expected a list of at least one" in p for p in problems), problems


def test_a_pledge_with_a_bad_flag_and_goal(tree: Path) -> None:
    text = "pledges:\n  - id: one\n    title: {en: One}\n    text: {en: Text}\n    open: sometimes\n    goal: many\n"
    problems = _campaign_problems(tree, "pledges.yaml", text)
    assert any("pledges.yaml:5: pledge one.open: expected true or false" in p for p in problems), problems
    assert any("pledges.yaml:6: pledge one.goal: expected a whole number above 0" in p for p in problems), problems


CALENDAR = """\
days:
  - id: a-day
    month: 6
    day: 26
    name: {en: A day}
    remind: [7, 0]
    message: {en: Join us.}
"""


def test_a_valid_calendar_has_no_problems(tree: Path) -> None:
    assert _campaign_problems(tree, "calendar.yaml", CALENDAR) == []
    assert (
        _campaign_problems(tree, "calendar.yaml", CALENDAR.replace("month: 6\n    day: 26", "month: 2\n    day: 29"))
        == []
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            ("day: 26", "day: 31"),
            "calendar.yaml:4: day a-day: month the number 6 and day the number 31 are not a calendar date",
        ),
        (("remind: [7, 0]", "remind: [7, 7]"), "calendar.yaml:6: day a-day.remind: 7 is listed twice"),
        (
            ("remind: [7, 0]", "remind: [-1]"),
            "calendar.yaml:6: day a-day.remind: the number -1 is not a whole number of days",
        ),
        (("remind: [7, 0]", "remind: []"), "calendar.yaml:6: day a-day.remind: expected a list of days before"),
        (
            ("    message: {en: Join us.}\n", "    message: {en: Join us.}\n    link: ftp://x\n"),
            "calendar.yaml:8: day a-day.link: not an http(s) address",
        ),
    ],
)
def test_calendar_problems_have_file_and_line(tree: Path, change: tuple[str, str], problem: str) -> None:
    problems = _campaign_problems(tree, "calendar.yaml", CALENDAR.replace(*change))
    assert any(problem in p for p in problems), problems


def test_the_bundled_calendar_has_every_action_day() -> None:
    from bot.content import load

    calendar = load(BUNDLED_CONTENT).campaigns.calendar
    dates = {(day.month, day.day) for day in calendar.values()}
    assert dates == {(3, 1), (5, 7), (6, 26), (7, 21), (7, 28), (8, 31), (11, 1), (12, 1), (12, 10)}
