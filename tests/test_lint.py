"""The tree passes ruff and mypy as configured in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_ruff() -> None:
    result = _run("ruff", "check", "bot", "adapters", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy() -> None:
    # mypy, run without arguments, checks what pyproject.toml lists: the tests and the bench scripts too.
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert mypy["strict"] is True
    assert set(mypy["files"]) == {"bot", "adapters", "tests", "bench"}
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
