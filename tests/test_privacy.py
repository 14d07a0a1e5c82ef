"""Privacy: /mydata, /forget, nothing readable in the database file, export, keys, logs."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import stat
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import TEST_KEY, query, stored
from helpers import run_bot
from testbot import TestBot

from bot.cli import main
from bot.core import registry as adapters
from bot.core.app import Core, Services
from bot.core.config import Config, StorageConfig
from bot.privacy.secret_key import SecretKeyError
from bot.storage.database import Db, Done

PETITION = "un-decriminalise"
# Distinctive values, so that finding any of them in the database file means a leak.
PLATFORM_ID = "user-8675309"
NAME = "Zofia Kwiatkowska-Ørsted"
EMAIL = "zofia.kwiatkowska@example.org"


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)


async def sign(bot: TestBot, name: str = NAME, email: str = EMAIL, country: str = "Poland") -> None:
    await bot.ask("/sign")
    await bot.ask(name)
    await bot.ask(email)
    await bot.ask(country)
    await bot.press("I agree")


async def test_mydata_shows_everything_stored(bot: TestBot) -> None:
    await bot.ask("/pledge carry-naloxone")
    await bot.press("I pledge")
    await sign(bot)
    await bot.press("Yes, send me updates")
    await bot.ask("/language es")
    await bot.ask("/language en")
    text = await bot.ask("/mydata")
    assert "Everything I store about you" in text
    assert "language: English" in text
    assert 'Pledge "I will carry naloxone", taken on 2026-' in text
    assert f"name {NAME}, e-mail {EMAIL}, country Poland (consent version 1)" in text
    assert "Subscribed to petition updates since 2026-" in text
    assert "Your time zone, for reminders: Europe/Warsaw" in text  # inferred from the country
    assert "/forget erases all of it" in text


async def test_mydata_shows_a_form_in_progress(bot: TestBot) -> None:
    await bot.ask("/sign")
    await bot.ask(NAME)
    assert f"typed so far: name: {NAME}" in await bot.ask("/mydata")


async def test_mydata_for_someone_unknown(bot: TestBot) -> None:
    assert "I store nothing about you: no id" in await bot.ask("/mydata")


async def test_forget_asks_first_and_keeping_changes_nothing(bot: TestBot) -> None:
    await bot.ask("/pledge carry-naloxone")
    await bot.press("I pledge")
    assert "This cannot be undone." in await bot.ask("/forget")
    assert "nothing was erased" in await bot.press("No, keep it")
    assert await bot.core.pledges.pledge_counts() == {"carry-naloxone": 1}


async def test_forget_erases_everything_and_the_counts_drop(bot: TestBot) -> None:
    other = TestBot(bot.core, user_id="other")
    await sign(other, name="Other Person", email="other@example.org")
    await bot.ask("/pledge carry-naloxone")
    await bot.press("I pledge")
    await sign(bot)
    await bot.press("Yes, send me updates")
    await bot.ask("/sign")  # signed already: no form; start another form-bearing state instead
    await bot.ask("/forget")
    done = await bot.press("Yes, erase everything")
    assert "pledges: 1, signatures: 1, subscriptions: 1" in done
    assert "I store nothing about you: no id" in await bot.ask("/mydata")
    assert await bot.core.pledges.pledge_counts() == {}
    assert await bot.core.signatures.signature_count(PETITION) == 1
    assert [s.signer.name for s in await bot.core.signatures.signatures(PETITION)] == ["Other Person"]
    # Erased means they can sign again, as a new person.
    await sign(bot)
    assert await bot.core.signatures.signature_count(PETITION) == 2


async def test_forget_also_erases_a_form_in_progress(bot: TestBot) -> None:
    await bot.ask("/sign")
    await bot.ask(NAME)
    await bot.ask("/forget")
    await bot.press("Yes, erase everything")
    assert [tuple(row) for row in await bot.core.store.rows("SELECT COUNT(*) FROM conversations")] == [(0,)]


async def test_forget_is_one_transaction(bot: TestBot, monkeypatch: pytest.MonkeyPatch) -> None:
    await bot.ask("/pledge carry-naloxone")
    await bot.press("I pledge")
    await sign(bot)
    # Whichever the database, its connections run statements through one class: fail one of them.
    connection = type(bot.core.store.conn)
    real_execute = connection.execute

    async def failing_execute(self: Db, sql: str, params: Sequence[object] = ()) -> Done:
        if sql.startswith("DELETE FROM subscriptions"):
            raise OSError("disk I/O error")
        return await real_execute(self, sql, params)

    monkeypatch.setattr(connection, "execute", failing_execute)
    await bot.ask("/forget")
    assert "something went wrong" in await bot.press("Yes, erase everything")
    monkeypatch.undo()
    # Nothing was erased: the pledge and signature deleted before the failure came back.
    assert await bot.core.pledges.pledge_counts() == {"carry-naloxone": 1}
    assert await bot.core.signatures.signature_count(PETITION) == 1


async def test_the_database_file_holds_no_name_email_or_platform_id(config: Config, services: Services) -> None:
    async with TestBot.started(config, services, user_id=PLATFORM_ID) as bot:
        await bot.ask("/pledge carry-naloxone")
        await bot.press("I pledge")
        await sign(bot)
        await bot.press("Yes, send me updates")
        await bot.ask("/sign")
        other = TestBot(bot.core, user_id=PLATFORM_ID + "-2")
        await other.ask("/sign")
        await other.ask(NAME + " Second")  # a half-finished form is stored too
    raw = stored(config)
    for secret in (PLATFORM_ID, NAME, EMAIL, NAME.split()[0], EMAIL.split("@")[0]):
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            assert secret.encode(encoding) not in raw, f"{secret!r} is readable in the database"
    # And the rows exist, so the search was not vacuous.
    assert await query(config, "SELECT COUNT(*) FROM signatures") == [(1,)]
    assert await query(config, "SELECT COUNT(*) FROM conversations") == [(1,)]


async def test_a_different_key_cannot_open_the_database(
    config: Config, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with TestBot.started(config, services) as bot:
        await sign(bot)
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", "22" * 32)
    with pytest.raises(SecretKeyError, match="not the one this database was created with"):
        await Core.open(config, services=services)


async def test_platform_adapters_refuse_to_start_without_a_key(
    config: Config, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADVOCACY_BOT_SECRET_KEY")
    with pytest.raises(SecretKeyError, match="refuses to start without a secret key"):
        await Core.open(config, services=services, create_key=False)
    assert not (config.data_dir / "secret.key").exists()


class _PlatformAdapter:
    """Stands in for a platform adapter: refusing to start happens before any adapter runs."""

    name = "telegram"

    async def run(self, core: Core, stop: object) -> None:
        raise AssertionError("the adapter must not run without a secret key")


def test_run_with_a_platform_adapter_and_no_key_exits_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(adapters, "create", lambda name, setup: _PlatformAdapter())
    monkeypatch.delenv("ADVOCACY_BOT_SECRET_KEY")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"storage:\n  path: {tmp_path / 'bot.sqlite3'}\nconsole:\n  enabled: false\ntelegram:\n  enabled: true\n"
    )
    assert main(["--config", str(config), "run"]) == 1
    assert (
        "ADVOCACY_BOT_SECRET_KEY is not set: this adapter refuses to start without a secret key"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "secret.key").exists()


async def test_nothing_personal_is_logged(bot: TestBot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await sign(bot)
    await bot.ask("my friend is not breathing what do i do")
    await bot.ask("/forget")
    await bot.press("Yes, erase everything")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (NAME, EMAIL, "Poland", "tester", "not breathing"):
        assert secret not in logged


# ---------------------------------------------------------------- organisers


async def test_stats_is_refused_to_non_organisers(bot: TestBot, caplog: pytest.LogCaptureFixture) -> None:
    for command in ("/stats", "/export"):
        text = await bot.ask(command)
        assert "is for the campaign's organisers only" in text
    assert "refused organiser command /stats to a non-organiser on console" in caplog.text
    assert "tester" not in caplog.text


@pytest.fixture
def organiser_config(config: Config) -> Config:
    return Config(storage=config.storage, organisers=("console:boss",))


async def test_stats_for_organisers(organiser_config: Config, services: Services) -> None:
    async with TestBot.started(organiser_config, services, user_id="boss") as boss:
        await boss.ask("/pledge carry-naloxone")
        await boss.press("I pledge")
        await sign(boss)
        text = await boss.ask("/stats")
        assert "I will carry naloxone: 1 of 1,000 — 0%" in text
        assert "Decriminalise personal drug possession worldwide: 1 of 15,000 — 0%" in text
        assert "Sign-ups per day (last 14 days)" in text
        today = boss.core.clock().date().isoformat()
        assert any(line.startswith(today) and line.endswith("1 ████████████████████") for line in text.splitlines())
        assert "advocacy-bot export signatures --petition un-decriminalise" in await boss.ask("/export")


async def test_help_advertises_organiser_commands_to_organisers_only(
    organiser_config: Config, services: Services
) -> None:
    async with TestBot.started(organiser_config, services, user_id="boss") as boss:
        assert "/stats" in await boss.ask("/help")
        assert "/stats" not in await TestBot(boss.core, user_id="member").ask("/help")


# ---------------------------------------------------------------- export and keys (the real command)


def _export(tmp_path: Path, *args: str, key: str = TEST_KEY) -> subprocess.CompletedProcess[str]:
    """``advocacy-bot export signatures --petition ARGS...`` on the database in ``tmp_path``."""
    env = {**os.environ, "ADVOCACY_BOT_SECRET_KEY": key}
    return run_bot("--config", str(_config_file(tmp_path)), "export", "signatures", "--petition", *args, env=env)


def _config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"storage:\n  path: {tmp_path / 'bot.sqlite3'}\n")
    return path


SIGNERS = [
    ("Zofia Kwiatkowska-Ørsted", "zofia@example.org", "Poland"),
    ("Олена Петренко", None, "Україна"),
    ('Jean "JJ" d\'Arc, Jr.', "jj@example.fr", "FR"),
]


async def _signed_database(tmp_path: Path, services: Services) -> Config:
    config = Config(storage=StorageConfig(tmp_path / "bot.sqlite3"))
    async with TestBot.started(config, services, user_id="s0") as bot:
        for index, (name, email, country) in enumerate(SIGNERS):
            ukrainian = country == "Україна"
            person = TestBot(bot.core, user_id=f"s{index}", language="uk" if ukrainian else None)
            await person.ask("/sign")
            await person.ask(name.replace('"', ""))
            if email is None:
                await person.press("Пропустити" if ukrainian else "Skip")
            else:
                await person.ask(email)
            await person.ask(country)
            await person.press("Даю згоду" if ukrainian else "I agree")
            if index == 0:
                await person.press("Yes, send me updates")
    return config


async def test_export_round_trips_as_json_and_csv(tmp_path: Path, services: Services) -> None:
    await _signed_database(tmp_path, services)
    out = tmp_path / "out" / "signatures.json"
    result = _export(tmp_path, PETITION, "--format", "json", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["count"] == 3
    rows = [(r["name"], r["email"], r["country"]) for r in document["signatures"]]
    assert rows == [
        ("Zofia Kwiatkowska-Ørsted", "zofia@example.org", "PL"),
        ("Олена Петренко", None, "UA"),
        ("Jean JJ d'Arc, Jr.", "jj@example.fr", "FR"),
    ]
    assert [r["wants_updates"] for r in document["signatures"]] == [True, False, False]
    assert {r["consent_version"] for r in document["signatures"]} == {1}

    as_csv = _export(tmp_path, PETITION)
    assert as_csv.returncode == 0, as_csv.stderr
    parsed = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["name"], r["email"], r["country"], r["country_name"]) for r in parsed] == [
        ("Zofia Kwiatkowska-Ørsted", "zofia@example.org", "PL", "Poland"),
        ("Олена Петренко", "", "UA", "Ukraine"),
        ("Jean JJ d'Arc, Jr.", "jj@example.fr", "FR", "France"),
    ]


async def test_export_refuses_to_overwrite_without_force(tmp_path: Path, services: Services) -> None:
    await _signed_database(tmp_path, services)
    env = {**os.environ, "ADVOCACY_BOT_SECRET_KEY": TEST_KEY}
    out = tmp_path / "signatures.csv"
    out.write_text("keep me")
    args = ["--config", str(_config_file(tmp_path)), "export", "signatures", "--petition", PETITION, "--out", str(out)]
    refused = run_bot(*args, env=env)
    assert refused.returncode == 1
    assert "already exists" in refused.stderr and "--force" in refused.stderr
    assert out.read_text() == "keep me"
    forced = run_bot(*args, "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    assert out.read_text(encoding="utf-8").startswith("petition,signed_at,name,email")


async def test_export_errors_are_clear(tmp_path: Path, services: Services) -> None:
    missing = _export(tmp_path, PETITION)
    assert missing.returncode == 1 and "there is no database" in missing.stderr
    await _signed_database(tmp_path, services)
    unknown = _export(tmp_path, "nope")
    assert unknown.returncode == 1 and "there is no petition 'nope'" in unknown.stderr
    wrong_key = _export(tmp_path, PETITION, key="33" * 32)
    assert wrong_key.returncode == 1 and "not the one this database was created with" in wrong_key.stderr
    assert "Traceback" not in wrong_key.stderr


async def test_cli_stats(tmp_path: Path, services: Services) -> None:
    await _signed_database(tmp_path, services)
    result = run_bot(
        "--config", str(_config_file(tmp_path)), "stats", env={**os.environ, "ADVOCACY_BOT_SECRET_KEY": TEST_KEY}
    )
    assert result.returncode == 0, result.stderr
    assert "Decriminalise personal drug possession worldwide: 3 of 15,000 — 0%" in result.stdout
    assert "Sign-ups per day" in result.stdout


async def test_key_rotation_keeps_the_data_and_retires_the_old_key(tmp_path: Path, services: Services) -> None:
    await _signed_database(tmp_path, services)
    config_file = _config_file(tmp_path)
    new_key = "44" * 32
    env = {**os.environ, "ADVOCACY_BOT_SECRET_KEY": TEST_KEY, "ADVOCACY_BOT_NEW_SECRET_KEY": new_key}
    rotated = run_bot("--config", str(config_file), "key", "rotate", env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert "Rotated" in rotated.stderr
    export = ["--config", str(config_file), "export", "signatures", "--petition", PETITION, "--format", "json"]
    old = run_bot(*export, env={**os.environ, "ADVOCACY_BOT_SECRET_KEY": TEST_KEY})
    assert old.returncode == 1
    new = run_bot(*export, env={**os.environ, "ADVOCACY_BOT_SECRET_KEY": new_key})
    assert new.returncode == 0, new.stderr
    assert json.loads(new.stdout)["count"] == 3


async def test_key_rotation_of_a_console_key_file(
    tmp_path: Path, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADVOCACY_BOT_SECRET_KEY")
    config = Config(storage=StorageConfig(tmp_path / "bot.sqlite3"))
    async with TestBot.started(config, services) as bot:
        await sign(bot)
    old_key = (tmp_path / "secret.key").read_text()
    env = {k: v for k, v in os.environ.items() if k != "ADVOCACY_BOT_SECRET_KEY"}
    env["ADVOCACY_BOT_NEW_SECRET_KEY"] = "55" * 32
    result = run_bot("--config", str(_config_file(tmp_path)), "key", "rotate", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret.key").read_text().strip() == "55" * 32 != old_key.strip()
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    async with TestBot.started(config, services) as bot:
        assert NAME in await bot.ask("/mydata")


async def test_csv_cells_cannot_run_as_spreadsheet_formulas(tmp_path: Path, services: Services) -> None:
    formula = "=cmd|'/Ccalc'!A1@example.org"
    config = Config(storage=StorageConfig(tmp_path / "bot.sqlite3"))
    async with TestBot.started(config, services, user_id="formula") as bot:
        await sign(bot, email=formula)
        await sign(TestBot(bot.core, user_id="plus"), name="Ana Lima", email="+351@example.org")

    as_csv = _export(tmp_path, PETITION)
    assert as_csv.returncode == 0, as_csv.stderr
    emails = [row["email"] for row in csv.DictReader(io.StringIO(as_csv.stdout))]
    assert emails == ["'" + formula, "'+351@example.org"]
    # JSON is read by programs, not spreadsheets: exact.
    as_json = json.loads(_export(tmp_path, PETITION, "--format", "json").stdout)
    assert [row["email"] for row in as_json["signatures"]] == [formula, "+351@example.org"]
