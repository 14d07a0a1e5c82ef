from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.core.config import Config, ConfigError, from_mapping, load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.yaml"


def test_no_file_means_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADVOCACY_BOT_CONFIG", raising=False)
    config = load_config()
    assert config.section("console").enabled and not config.section("telegram").enabled
    assert config.enabled() == ["console"]
    assert config.content_path.name == "content"
    assert config.store_path.name == "advocacy-bot.sqlite3"


def test_the_example_documents_the_defaults() -> None:
    assert load_config(EXAMPLE) == Config(base_dir=EXAMPLE.parent)


def test_the_example_names_every_option() -> None:
    text = EXAMPLE.read_text()
    for section, options in {
        "content": ["path"],
        "storage": ["path"],
        "answering": ["answer_threshold", "clarify_threshold"],
        "logging": ["level"],
        "console": ["enabled", "user_id", "language"],
        "telegram": ["enabled", "base_url"],
        "discord": ["enabled", "api_base", "gateway_url"],
    }.items():
        assert f"\n{section}:" in text
        for option in options:
            assert f"  {option}:" in text


def test_environment_variable_selects_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("default_language: ru\nstorage:\n  path: data/bot.sqlite3\n")
    monkeypatch.setenv("ADVOCACY_BOT_CONFIG", str(path))
    config = load_config()
    assert config.default_language == "ru"
    assert config.store_path == tmp_path / "data" / "bot.sqlite3"  # relative to the file


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colour": "red"}, "colour: unknown option"),
        ({"storage": {"path": ["a"]}}, "storage.path: expected a file path"),
        ({"telegram": {"enabled": "yes please"}}, "telegram.enabled: expected true or false"),
        ({"default_language": "de"}, "default_language: 'de' is not one of"),
        ({"organisers": ["12345"]}, "organisers: '12345' must be platform:user_id"),
        ({"organisers": "telegram:1"}, "organisers: expected a list of text"),
        ({"answering": {"answer_threshold": 0.1, "clarify_threshold": 0.5}}, "answering: need"),
        ({"telegram": {"base_url": "ftp://x"}}, "telegram.base_url"),
        ({"emergency_country": "Ukraine"}, "emergency_country"),
        ({"console": {"language": "xx"}}, "console.language"),
        ({"logging": {"level": "LOUD"}}, "logging.level"),
        (["a", "list"], "expected a mapping"),
    ],
)
def test_invalid_options_name_the_option_and_the_reason(data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        from_mapping(data)


def test_errors_carry_the_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("default_language: en\ntelegram:\n  enabled: maybe\n")
    assert main(["--config", str(path), "content", "check"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "line 3" in err and "telegram.enabled" in err


def test_malformed_yaml_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("telegram:\n  enabled: true\n   base_url: x\n")
    assert main(["--config", str(path), "content", "check"]) == 2
    assert "invalid YAML" in capsys.readouterr().err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "nope.yaml"), "content", "check"]) == 2
    assert "not found" in capsys.readouterr().err


def test_enabling_an_adapter_that_is_not_installed_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", "33" * 32)
    path = tmp_path / "c.yaml"
    path.write_text(
        f"storage:\n  path: {tmp_path / 'db.sqlite3'}\nconsole:\n  enabled: false\ndiscord:\n  enabled: true\n"
    )
    assert main(["--config", str(path)]) == 1
    assert "discord adapter" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("storage", "problem"),
    [
        ({"url": "postgresql://bot:hunter2@db.example.org/advocacy"}, "holds a password"),
        ({"url": "mysql://db.example.org/advocacy"}, "must be a postgresql:// URL"),
        ({"url": "postgresql://db.example.org/advocacy", "path": "bot.sqlite3"}, "cannot both be set"),
        ({"url": "postgresql://db.example.org/advocacy", "pool_size": 1}, "pool_size"),
        ({"data_dir": "/srv/bot"}, "only with storage.url"),
    ],
)
def test_a_wrong_database_setting_is_refused_with_the_reason(
    storage: dict[str, object], problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ADVOCACY_BOT_DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match=problem) as raised:
        from_mapping({"storage": storage})
    # A password never shows in the error either.
    assert "hunter2" not in str(raised.value)


def test_the_database_url_with_its_credentials_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql://bot:s3cret@db.example.org/advocacy"
    monkeypatch.setenv("ADVOCACY_BOT_DATABASE_URL", url)
    config = from_mapping({"storage": {"url": "postgresql://db.example.org/advocacy", "data_dir": str(tmp_path)}})
    assert config.server_url == config.database == url
    assert config.data_dir == tmp_path


@pytest.mark.parametrize(
    ("discord", "problem"),
    [
        ({"shard_count": 0}, "shard_count: must be at least 1"),
        ({"shard_ids": ["0"]}, "shard_ids: needs shard_count"),
        ({"shard_count": 2, "shard_ids": ["0", "2"]}, "shard_ids: 2 not among the shards 0 to 1"),
    ],
)
def test_discord_shards_must_add_up(discord: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        from_mapping({"discord": discord})
