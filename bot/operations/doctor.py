"""``advocacy-bot doctor``: could this installation run? One line per check, exit 1 on any failure.

It checks the configuration, the content, the secret key, the database (that it opens, is whole,
has a schema this program knows, and opens with the key) and, for each enabled platform, that the
token is set and the platform accepts it. It reads and asks; it never writes or creates anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bot.content import check as check_content
from bot.core import registry as adapters
from bot.core.config import Config, ConfigError, load_config
from bot.port.platform import AdapterError
from bot.privacy.crypto import unwrap_keys
from bot.privacy.secret_key import ENV_VAR, KEY_FILE, SecretKeyError, parse_key
from bot.storage.migrations import MIGRATIONS
from bot.sync.settings import WEBHOOK, Destination

# A platform that does not answer within this long fails its check.
PLATFORM_TIMEOUT = 30.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok' if self.ok else 'FAIL':<5} {self.name:<13} {self.detail}"


async def diagnose(config_path: Path | None = None) -> list[Check]:
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        return [Check("configuration", False, str(exc))]
    checks = [Check("configuration", True, str(config.source) if config.source else "no file: the defaults")]
    checks.append(_content(config))
    key, key_check = _key(config)
    checks.append(key_check)
    checks.append(await _server_database(config, key) if config.server_url else _database(config, key))
    for platform in _servers(config):
        checks.append(await _platform(platform, config))
    if config.metrics.enabled:
        checks.append(_metrics(config))
    checks += [_crm(name, destination) for name, destination in config.sync.destinations.items()]
    return checks


def _crm(name: str, destination: Destination) -> Check:
    """A CRM destination's secret is in the environment (the CRM itself is not called: a check sends nothing)."""
    where = destination.url if destination.kind == WEBHOOK else destination.base_url
    if not os.environ.get(destination.secret_env):
        return Check(f"crm {name}", False, f"{destination.secret_env} is not set: nothing can be sent to {where}")
    return Check(f"crm {name}", True, f"{destination.kind} at {where}, secret from {destination.secret_env}")


def _content(config: Config) -> Check:
    root = config.content_path
    problems = check_content(root)
    if problems:
        return Check("content", False, f"{len(problems)} problem(s) in {root}: see advocacy-bot content check")
    return Check("content", True, str(root))


def _key(config: Config) -> tuple[bytes | None, Check]:
    value = os.environ.get(ENV_VAR)
    path = config.data_dir / KEY_FILE
    try:
        if value:
            return parse_key(value), Check("secret key", True, f"from {ENV_VAR}")
        if path.exists():
            if path.stat().st_mode & 0o077:
                return None, Check("secret key", False, f"{path} can be read by others: chmod 600 {path}")
            return parse_key(path.read_text(encoding="ascii")), Check("secret key", True, f"from {path}")
    except (SecretKeyError, OSError, UnicodeDecodeError) as exc:
        return None, Check("secret key", False, str(exc))
    servers = _servers(config)
    if servers:
        return None, Check(
            "secret key",
            False,
            f"{ENV_VAR} is not set and there is no key file at {path}: the {' and '.join(servers)} adapter "
            "refuses to start without one (advocacy-bot init makes one)",
        )
    return None, Check("secret key", True, f"none yet: the console creates {path} at its first start")


def _database(config: Config, key: bytes | None) -> Check:
    path = config.store_path
    if not path.exists():
        place = next((p for p in (path.parent, *path.parent.parents) if p.exists()), path.parent)
        if not os.access(place, os.W_OK):
            return Check("database", False, f"{path} does not exist and {place} is not writable")
        return Check("database", True, f"{path} does not exist yet: the first run creates it")
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            damage = [str(row[0]) for row in db.execute("PRAGMA integrity_check")]
            if damage != ["ok"]:
                return Check("database", False, f"{path} is damaged: {'; '.join(damage[:3])}")
            tables = {str(row[0]) for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = (
                int(db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0])
                if "schema_migrations" in tables
                else 0
            )
            wrapped = (
                {str(row[0]): bytes(row[1]) for row in db.execute("SELECT purpose, wrapped FROM keyring")}
                if "keyring" in tables
                else {}
            )
    except sqlite3.Error as exc:
        return Check("database", False, f"{path} cannot be read as a database ({exc})")
    return _schema_and_key(str(path), version, wrapped, key)


def _schema_and_key(where: str, version: int, wrapped: dict[str, bytes], key: bytes | None) -> Check:
    latest = MIGRATIONS[-1].version
    if version > latest:
        return Check("database", False, f"{where} is at schema {version}, newer than this program ({latest})")
    if key is not None and wrapped:
        try:
            unwrap_keys(key, wrapped)
        except SecretKeyError as exc:
            return Check("database", False, f"{where}: {exc}")
    pending = f"; {latest - version} migration(s) to apply at the next start" if version < latest else ""
    return Check("database", True, f"{where}: intact, schema {version}{pending}")


async def _server_database(config: Config, key: bytes | None) -> Check:
    from bot.storage.database import without_password

    url = config.server_url or ""
    where = without_password(url)
    try:
        from bot.storage.postgres import inspect
    except ImportError:
        return Check("database", False, f"{where}: PostgreSQL needs the postgresql extra (asyncpg)")
    try:
        version, wrapped = await inspect(url)
    except Exception as exc:
        return Check("database", False, f"{where} cannot be reached ({type(exc).__name__}): check the server and URL")
    return _schema_and_key(where, version, wrapped, key)


def _servers(config: Config) -> list[str]:
    """The enabled platforms that serve people over a network (with a token to check)."""
    return [name for name in config.enabled() if adapters.platform(name).server]


async def _platform(name: str, config: Config) -> Check:
    try:
        found = await asyncio.wait_for(adapters.check(name, config.section(name)), PLATFORM_TIMEOUT)
    except AdapterError as exc:
        return Check(name, False, str(exc))
    except TimeoutError:
        return Check(name, False, f"no answer within {PLATFORM_TIMEOUT:g} s")
    return Check(name, True, found)


def _metrics(config: Config) -> Check:
    if importlib.util.find_spec("aiohttp") is None:
        return Check("metrics", False, "metrics.enabled needs the metrics extra: pip install 'advocacy-bot[metrics]'")
    settings = config.metrics
    return Check("metrics", True, f"http://{settings.listen}:{settings.port}/healthz and /metrics once running")


def report(checks: list[Check]) -> tuple[str, bool]:
    """The lines to print, and whether every check passed."""
    failed = sum(not check.ok for check in checks)
    summary = f"{failed} of {len(checks)} checks failed" if failed else f"all {len(checks)} checks passed"
    return "\n".join([*(check.line() for check in checks), summary]), not failed
