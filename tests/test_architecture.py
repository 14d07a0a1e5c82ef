"""The architecture holds (docs/architecture.md): the import contracts in pyproject.toml, and a platform
added from outside the bot, through the registry's entry points, with no file under bot/ touched."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

import pytest
import yaml
from helpers import ROOT

from bot.core import registry
from bot.core.app import Core, Services
from bot.core.config import Config, from_mapping
from bot.core.registry import broadcast_platforms
from bot.operations.init import Plan, config_text, installable
from bot.port.events import ButtonPress, Chat, Command, Event, User
from bot.port.markup import plain
from bot.port.platform import Setup
from bot.port.services import Port


def test_the_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# The recipe of docs/architecture.md, "How to add a platform": a package with a declaration and an
# adapter module, and an entry point. Here in a temporary folder, as another distribution would be.
DECLARATION = """
from dataclasses import dataclass
from bot.port.delivery import PlatformLimits
from bot.port.platform import Installing, Platform


@dataclass(frozen=True)
class EchoConfig:
    enabled: bool = False
    greeting: str = "hello"


PLATFORM = Platform(
    name="echo",
    settings=EchoConfig,
    limits=PlatformLimits(5.0),
    implementation="echo_platform.adapter",
    server=False,
    installing=Installing("ECHO_TOKEN", "the echo service", "echo:someone", ("  greeting: hello",)),
)
"""
ADAPTER = """
import asyncio
from bot.port.events import Chat, Event, Text, User
from bot.port.platform import Setup
from bot.port.plaintext import render
from bot.port.services import Port


class EchoAdapter:
    name = "echo"

    def __init__(self, setup: Setup) -> None:
        self.greeting = setup.settings.greeting
        self.said: list[str] = []

    async def say(self, core: Port, text: str) -> list[str]:
        outcome = await core.handle(Event(User("echo", "someone"), Chat("echo:someone"), Text(text)))
        self.said = [render(reply) for reply in outcome.replies]
        return self.said

    async def run(self, core: Port, stop: asyncio.Event) -> None:
        await self.say(core, self.greeting)


def create(setup: Setup) -> EchoAdapter:
    return EchoAdapter(setup)


async def check(settings: object) -> str:
    return "nothing to check"
"""


@runtime_checkable
class Saying(Protocol):
    """What the echo adapter adds to an adapter: one message through the core, and the replies."""

    async def say(self, core: Port, text: str) -> list[str]: ...


@contextmanager
def installed(root: Path, package: str, files: dict[str, str], group: str, entry: str) -> Iterator[Path]:
    """``package`` (its files' texts by name) installed under ``root`` as a distribution registering
    ``entry`` in the entry-point ``group``, the way pip would; gone again afterwards."""
    folder = root / package
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    info = root / f"{package}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package.replace('_', '-')}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{entry}\n")
    sys.path.insert(0, str(root))
    registry.reload()
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.startswith(package)]:
            del sys.modules[name]
        registry.reload()
        shutil.rmtree(folder)


@pytest.fixture
def echo_platform(tmp_path: Path) -> Iterator[Path]:
    files = {"__init__.py": DECLARATION, "adapter.py": ADAPTER}
    with installed(tmp_path, "echo_platform", files, "advocacy_bot.platforms", "echo = echo_platform:PLATFORM") as root:
        yield root


async def test_a_platform_added_from_outside_answers_a_message(
    echo_platform: Path, config: Config, services: Services
) -> None:
    # The project's own platforms first, in the order they declare; then others'.
    assert registry.names() == ("console", "telegram", "discord", "echo")
    # Its section of the configuration, and its pace, come from its declaration.
    configured = from_mapping({"echo": {"enabled": True, "greeting": "what is naloxone"}, "organisers": ["echo:1"]})
    assert configured.section("echo").greeting == "what is naloxone"
    assert "echo" in configured.enabled() and configured.limits("echo").per_second == 5.0
    setup = Setup(configured.section("echo"), configured.limits("echo"), config.data_dir)
    adapter = registry.create("echo", setup)
    core = await Core.open(config, services=services)
    try:
        assert isinstance(adapter, Saying)
        said = await adapter.say(core, "what is naloxone")
        assert "Naloxone" in said[0]
    finally:
        await core.close()
    # Broadcasts may be limited to it, like every platform.
    assert "echo" in broadcast_platforms()


def test_init_writes_the_platform_from_its_declaration(echo_platform: Path, tmp_path: Path) -> None:
    assert installable() == ("telegram", "discord", "echo")
    text = config_text(Plan(tmp_path, tmp_path / "data", ("echo",), False))
    assert "#   ECHO_TOKEN               the echo bot's token" in text
    assert "#  - echo:someone" in text
    assert "\necho:\n  enabled: true\n  greeting: hello\n" in text
    assert from_mapping(yaml.safe_load(text)).section("echo").greeting == "hello"


def test_the_platform_needed_no_file_under_bot(echo_platform: Path) -> None:
    added = sorted(path.relative_to(echo_platform).as_posix() for path in echo_platform.rglob("*") if path.is_file())
    assert added == [
        "echo_platform-1.0.dist-info/METADATA",
        "echo_platform-1.0.dist-info/entry_points.txt",
        "echo_platform/__init__.py",
        "echo_platform/adapter.py",
    ]
    changed = subprocess.run(["git", "status", "--porcelain", "bot"], capture_output=True, text=True, cwd=ROOT)
    assert all("echo" not in line for line in changed.stdout.splitlines())


# The recipe of docs/architecture.md, "How to add a command": a Feature class with a command and a
# declared button action, registered through the advocacy_bot.features entry points, from outside.
FEATURE = """
from bot.core.context import Context
from bot.core.feature import Feature, command, pressed
from bot.port import markup
from bot.port.actions import Action
from bot.port.events import Button, Reply


class Shout(Feature):
    AGAIN = Action("shout-again", ("text",), public=True)

    @command("shout", "command.help")
    async def shout(self, ctx: Context, args: str) -> list[Reply]:
        return [Reply(markup.text(args.upper()), ((Button("Again", self.AGAIN.build(args)),),))]

    @pressed(AGAIN)
    async def again(self, ctx: Context, text: str) -> list[Reply]:
        return [Reply(markup.text(text.upper() + "!"))]


FEATURES = (Shout,)
"""


@pytest.fixture
def shout_feature(tmp_path: Path) -> Iterator[Path]:
    files = {"__init__.py": FEATURE}
    with installed(tmp_path, "shout_feature", files, "advocacy_bot.features", "shout = shout_feature:FEATURES") as root:
        yield root


async def test_a_command_added_from_outside_runs_and_its_button_works(
    shout_feature: Path, config: Config, services: Services
) -> None:
    core = await Core.open(config, services=services)
    try:
        someone = User("console", "someone")
        (reply,) = (await core.handle(Event(someone, Chat("console:someone"), Command("shout", "hello")))).replies
        assert plain(reply.text) == "HELLO" and reply.buttons[0][0].action == "shout-again:hello"
        pressed = await core.handle(Event(someone, Chat("console:someone"), ButtonPress(reply.buttons[0][0].action)))
        assert plain(pressed.replies[0].text) == "HELLO!"
        # It joins the project's own commands, after them, in /help and every platform's menu.
        assert [info.name for info in core.commands()][-2:] == ["dashboard", "shout"]
    finally:
        await core.close()
