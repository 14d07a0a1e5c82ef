"""``advocacy-bot init``: a new installation's configuration, data directory and secret key.

Nothing that exists is overwritten: every target is checked before anything is written. The key
goes to exactly one place, which the output names: a key file in the data directory (the default),
an environment file for a service manager (``--env-file``), or the terminal as an ``export`` line
(``--print-key``, on stdout alone, so that it can be redirected; everything else goes to stderr).
"""

from __future__ import annotations

import os
import secrets
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bot.core import registry
from bot.core.config import CONFIG_ENV, MetricsConfig
from bot.port.platform import Installing
from bot.privacy.secret_key import ENV_VAR, KEY_BYTES, KEY_FILE

CONFIG_FILE = "config.yaml"
DATABASE_FILE = "advocacy-bot.sqlite3"


class InitError(Exception):
    pass


def installable() -> tuple[str, ...]:
    """The platforms a new installation may enable (init --<name>), in their order."""
    return tuple(name for name, declared in registry.platforms().items() if declared.installing is not None)


def installing(name: str) -> Installing:
    """What init writes for the platform ``name`` (one of :func:`installable`)."""
    declared = registry.platform(name).installing
    if declared is None:
        raise InitError(f"init cannot enable the {name} platform; enable it in the configuration")
    return declared


@dataclass(frozen=True)
class Plan:
    directory: Path
    data: Path
    platforms: tuple[str, ...]
    metrics: bool
    # Where the key goes: None for the key file in the data directory.
    env_file: Path | None = None
    print_key: bool = False

    @property
    def config(self) -> Path:
        return self.directory / CONFIG_FILE

    @property
    def key_file(self) -> Path | None:
        return None if self.env_file is not None or self.print_key else self.data / KEY_FILE


def config_text(plan: Plan) -> str:
    """The configuration file: what this installation needs, each option explained."""
    data = plan.data / DATABASE_FILE
    try:
        database = data.relative_to(plan.directory).as_posix()
    except ValueError:
        database = str(data)
    console = not plan.platforms
    lines = [
        "# advocacy-bot configuration, written by `advocacy-bot init`.",
        "# Every option and its default: config.example.yaml in the source. Relative paths are resolved",
        "# against the folder of this file. Check it all with: advocacy-bot --config THIS_FILE doctor",
        "#",
        "# Secrets never go in this file; they come from the environment:",
        f"#   {ENV_VAR}  protects the stored personal data (else the key file beside the database)",
        *(f"#   {installing(p).token_env:<23}  the {p} bot's token" for p in plan.platforms),
        "",
        "# The interface language for people whose app gives none: en, es, pt, ru, uk or fr.",
        "default_language: en",
        "",
        "# Who may use /broadcast, /stats and /export, as platform:user_id.",
        "organisers: []",
        *(
            f"#  - {example}"
            for example in [installing(p).organiser_example for p in plan.platforms] or ["console:local"]
        ),
        "",
        "# ISO 3166 code of the country this bot serves: its emergency number is shown first (e.g. UA).",
        "emergency_country: null",
        "",
        "storage:",
        "  # The database (SQLite). Back it up with `advocacy-bot backup DIR`.",
        f"  path: {database}",
        "",
        "console:",
        f"  enabled: {'true' if console else 'false'}",
    ]
    for platform in plan.platforms:
        lines += ["", f"{platform}:", "  enabled: true", *installing(platform).options]
    defaults = MetricsConfig()
    lines += [
        "",
        "metrics:",
        "  # /healthz and /metrics (Prometheus) while the bot runs; needs: pip install 'advocacy-bot[metrics]'.",
        f"  enabled: {'true' if plan.metrics else 'false'}",
        f"  listen: {defaults.listen}",
        f"  port: {defaults.port}",
        "",
        "logging:",
        "  # null: warnings only in a terminal, INFO for a server run. json: one object per line.",
        "  level: null",
        "  format: text",
    ]
    return "\n".join(lines) + "\n"


def _refuse_existing(plan: Plan) -> None:
    """Every reason not to write, before anything is written."""
    taken = [path for path in (plan.config, plan.key_file, plan.env_file) if path is not None and path.exists()]
    if taken:
        names = ", ".join(str(path) for path in taken)
        raise InitError(f"{names} already exist(s): init never overwrites; choose another directory or remove it")
    if (plan.data / DATABASE_FILE).exists():
        raise InitError(f"{plan.data} already holds a database: init is for a new installation")


def _create_private(path: Path, text: str) -> None:
    """A new file, owner-only from the start (O_EXCL: never one that appeared meanwhile)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _env_file_text(key: str, platforms: tuple[str, ...]) -> str:
    lines = [
        "# Secrets of advocacy-bot, read by its systemd unit (EnvironmentFile=). Owner-only; keep a copy",
        "# of the key in a password manager, never beside the database backups.",
        f"{ENV_VAR}={key}",
        *(f"{installing(p).token_env}=" for p in platforms),
    ]
    return "\n".join(lines) + "\n"


def init(plan: Plan, out: IO[str] | None = None, err: IO[str] | None = None) -> None:
    """Write the installation; the key (with --print-key) goes to ``out`` (stdout), what was done and
    what comes next to ``err`` (stderr)."""
    out, err = out or sys.stdout, err or sys.stderr
    _refuse_existing(plan)
    key = secrets.token_hex(KEY_BYTES)
    plan.directory.mkdir(parents=True, exist_ok=True)
    plan.data.mkdir(mode=0o700, parents=True, exist_ok=True)
    plan.data.chmod(0o700)
    _create_private(plan.config, config_text(plan))
    os.chmod(plan.config, 0o644)
    if plan.key_file is not None:
        _create_private(plan.key_file, key + "\n")
        where_key = f"The secret key is in {plan.key_file} (owner-only)."
    elif plan.env_file is not None:
        _create_private(plan.env_file, _env_file_text(key, plan.platforms))
        where_key = f"The secret key is in {plan.env_file} (owner-only), with the tokens to fill in."
    else:
        print(f"export {ENV_VAR}={key}", file=out, flush=True)
        where_key = "The secret key was printed on stdout and written nowhere: set it wherever the bot runs."
    say = [
        f"Wrote {plan.config} and created {plan.data} (owner-only).",
        where_key + " Keep a copy apart from the database backups: without it the signatures cannot be read.",
    ]
    if os.environ.get(ENV_VAR) and plan.key_file is not None:
        say.append(f"Note: {ENV_VAR} is set in this shell; the bot uses it rather than the new key file.")
    say += ["", "Next:", *_next_steps(plan)]
    print("\n".join(say), file=err, flush=True)


def _next_steps(plan: Plan) -> list[str]:
    config = shlex.quote(str(plan.config))
    if plan.env_file is not None:
        env = shlex.quote(str(plan.env_file))
        tokens = " and ".join(installing(p).token_env for p in plan.platforms) or "nothing else"
        prefix = f"(set -a; . {env}; advocacy-bot --config {config}"
        return [
            f"  1. Put {tokens} into {plan.env_file}; add your organisers to {plan.config}.",
            f"  2. {prefix} doctor)",
            f"  3. {prefix} run)   (or the systemd unit in deploy/, which reads {plan.env_file})",
        ]
    if plan.platforms:
        first = [
            "  1. Set the tokens in the environment (never in a file you commit):",
            *(f"       export {installing(p).token_env}='…'   # {installing(p).token_source}" for p in plan.platforms),
            f"     and list your organisers in {plan.config}.",
        ]
    else:
        first = [f"  1. To try the organiser commands, put console:local in organisers in {plan.config}."]
    return [
        *first,
        f"  2. advocacy-bot --config {config} doctor",
        f"  3. advocacy-bot --config {config} run   (or export {CONFIG_ENV}={config} and leave --config out)",
    ]
