"""The files in deploy/: hardened units whose commands this version of the bot accepts."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.cli import _parser

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
BINARY = "/opt/advocacy-bot/bin/advocacy-bot"


class _Unit(configparser.ConfigParser):
    """A systemd unit file, whose keys (ExecStart, ...) keep their case."""

    def optionxform(self, optionstr: str) -> str:
        return optionstr


def unit(name: str) -> configparser.ConfigParser:
    # Keys such as SystemCallFilter may repeat in a unit: the last one read is enough here.
    parser = _Unit(strict=False, interpolation=None)
    parser.read(DEPLOY / name)
    return parser


def command(service: configparser.ConfigParser) -> list[str]:
    binary, *args = shlex.split(service["Service"]["ExecStart"])
    assert binary == BINARY
    return args


def test_the_service_is_hardened_and_runs_the_bot() -> None:
    service = unit("advocacy-bot.service")["Service"]
    assert service["User"] == "advocacy-bot"
    assert service["ProtectSystem"] == "strict"
    assert service["StateDirectory"] == "advocacy-bot" and service["StateDirectoryMode"] == "0700"
    assert service["EnvironmentFile"] == "/etc/advocacy-bot/env"
    assert service["Restart"] == "on-failure"
    assert service["NoNewPrivileges"] == "true" and service["CapabilityBoundingSet"] == ""
    args = command(unit("advocacy-bot.service"))
    assert _parser().parse_args(args).command == "run"


def test_the_backup_runs_nightly_without_the_secrets() -> None:
    service = unit("advocacy-bot-backup.service")["Service"]
    assert "EnvironmentFile" not in service  # a backup needs no key, and never holds one
    assert service["PrivateNetwork"] == "true"
    parsed = _parser().parse_args(command(unit("advocacy-bot-backup.service")))
    assert parsed.command == "backup" and str(parsed.directory) in service["ReadWritePaths"]
    timer = unit("advocacy-bot-backup.timer")["Timer"]
    assert timer["OnCalendar"] and timer["Persistent"] == "true"


def test_the_admin_command_runs_as_the_service_does() -> None:
    script = (DEPLOY / "advocacy-bot-admin").read_text()
    subprocess.run(["sh", "-n", str(DEPLOY / "advocacy-bot-admin")], check=True)
    assert (DEPLOY / "advocacy-bot-admin").stat().st_mode & 0o111
    for setting in ("User=advocacy-bot", "EnvironmentFile=/etc/advocacy-bot/env", "StateDirectory=advocacy-bot"):
        assert setting in script
    assert f'{BINARY} "$@"' in script


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("name", ["advocacy-bot.service", "advocacy-bot-backup.service", "advocacy-bot-backup.timer"])
def test_systemd_accepts_the_units(name: str) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(DEPLOY / name)], capture_output=True, text=True, timeout=60
    )
    # The bot is not installed in /opt here; anything else systemd says is a mistake in the unit.
    complaints = [line for line in result.stderr.splitlines() if line and "is not executable" not in line]
    assert complaints == []
