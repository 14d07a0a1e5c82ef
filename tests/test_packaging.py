"""The wheel, installed as a user would install it: a fresh venv, used from outside the checkout.

The wheel is built offline (no build isolation: setuptools comes from the test extra) and installed
without an index. Its dependencies come from this venv through a .pth line in the fresh one: only
the directory is added to sys.path, so this venv's editable install (a finder its own .pth files
install) stays out, and the bot's code and content can come from nowhere but the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Build by-products and tools' state: never part of what is packaged.
NOT_SOURCES = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis")


@dataclass
class Installed:
    wheel: Path
    venv: Path
    # A directory outside the checkout to run the command from.
    home: Path

    @property
    def command(self) -> Path:
        return self.venv / "bin" / "advocacy-bot"

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("ADVOCACY_BOT_", "PYTHON"))}
        # The per-user data directory (platformdirs) inside the test's own folder.
        env.update(HOME=str(self.home), XDG_DATA_HOME=str(self.home / "data"))
        return subprocess.run(
            [str(self.command), *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=self.home,
            env=env,
            timeout=60,
        )


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], check=True, timeout=180)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    work = tmp_path_factory.mktemp("wheel")
    # Built from a copy, so the checkout gets no build/ or egg-info and a parallel editable install
    # does not race with this build.
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    _pip("wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", str(work), str(source))
    (wheel,) = work.glob("advocacy_bot-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    _pip("--python", str(venv / "bin" / "python"), "install", "--quiet", "--no-deps", "--no-index", str(wheel))
    fresh_site = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(fresh_site) / "dependencies-from-the-test-venv.pth").write_text("\n".join(sorted(ours)) + "\n")
    home = work / "elsewhere"
    home.mkdir()
    yield Installed(wheel, venv, home)


def test_the_wheel_holds_every_module_the_content_and_the_metadata(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    sources = {
        path.relative_to(ROOT).as_posix()
        for package in ("bot", "adapters")
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert sources <= names, f"missing from the wheel: {sorted(sources - names)}"
    content = {
        "bot/bundled_content/" + path.relative_to(ROOT / "content").as_posix()
        for pattern in ("*.yaml", "kb/*.yaml", "locales/*.yaml")
        for path in (ROOT / "content").glob(pattern)
    }
    assert content and content <= names
    assert {"bot/py.typed", "adapters/py.typed"} <= names
    # Nothing but the named content folders ships (an evaluation set kept beside them stays out).
    folders = {name.split("/")[2] for name in names if name.startswith("bot/bundled_content/") and name.count("/") > 2}
    assert folders == {"kb", "locales"}
    info = next(name for name in names if name.endswith(".dist-info/METADATA"))
    metadata = zipfile.ZipFile(installed.wheel).read(info).decode()
    assert "License-Expression: AGPL-3.0-or-later" in metadata
    assert "Classifier: Typing :: Typed" in metadata
    assert "Project-URL: Source" in metadata
    assert any(name.endswith("licenses/LICENSE") for name in names)


def test_the_installed_command_runs_from_anywhere(installed: Installed) -> None:
    version = installed.run("--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("advocacy-bot ")

    checked = installed.run("content", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The bundled content, from the fresh venv: not from the checkout.
    assert str(installed.venv) in checked.stdout and str(ROOT) not in checked.stdout


def test_a_fresh_install_answers_a_question_in_the_console(installed: Installed) -> None:
    chat = installed.run(stdin="/start\nwhat is naloxone\n")
    assert chat.returncode == 0, chat.stderr
    assert "harm reduction" in chat.stdout
    assert "Naloxone" in chat.stdout
    # First run: the console made a key of its own, in the per-user data directory.
    key = installed.home / "data" / "advocacy-bot" / "secret.key"
    assert key.stat().st_mode & 0o777 == 0o600


def test_the_code_comes_from_the_wheel_only(installed: Installed) -> None:
    where = subprocess.run(
        [
            str(installed.venv / "bin" / "python"),
            "-c",
            "import adapters, bot, bot.content; print(bot.__file__, adapters.__file__, bot.content.BUNDLED_CONTENT)",
        ],
        capture_output=True,
        text=True,
        cwd=installed.home,
        check=True,
    )
    paths = where.stdout.split()
    assert len(paths) == 3
    assert all(path.startswith(str(installed.venv)) for path in paths), paths
