"""A new major release of a library cannot change a deployment silently.

Every dependency has an upper bound on its major version, and constraints.txt, which CI and the
README's commands install with, pins each of them (and everything they pull in) to an exact version.
"""

from __future__ import annotations

import re
import tomllib

from helpers import ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

SELF = "advocacy-bot"


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    listed = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    return [r for r in map(Requirement, listed) if canonicalize_name(r.name) != SELF]


def pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pinned: dict[str, str] = {}
    for line in lines:
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not name==version"
            pinned[canonicalize_name(name)] = version.strip()
    return pinned


def test_every_dependency_has_an_upper_bound() -> None:
    unbounded = [str(r) for r in requirements() if not any(s.operator in ("<", "<=", "==", "~=") for s in r.specifier)]
    assert unbounded == []


def test_constraints_pin_every_dependency_within_its_bounds() -> None:
    pinned = pins()
    wrong = {
        str(r): version
        for r in requirements()
        if (version := pinned.get(canonicalize_name(r.name))) is None or version not in r.specifier
    }
    assert wrong == {}
    assert canonicalize_name(SELF) not in pinned


def test_ci_runs_the_readme_test_command_with_the_constraints() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```sh\n(python3 -m venv .venv && [^\n]+)\n```", readme)
    assert len(commands) == 2 and readme.index(commands[0]) < readme.index("---")
    assert all("pip install" in command and " -c constraints.txt " in command for command in commands)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci[-1] == commands[1]
