"""YAML loading that remembers where every value came from.

PyYAML's safe loader forgets line numbers and silently keeps the last of two duplicate keys;
content authors need both, so every mapping loads as a :class:`Node` dict that knows its own line
and the line of each key, and a duplicate key is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a content or config file, located for its author."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ContentError(Exception):
    """Raised when files cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class Node(dict[str, Any]):
    """A YAML mapping with the 1-based line of the mapping and of each of its keys."""

    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class Seq(list[Any]):
    """A YAML sequence with the 1-based line of each item."""

    line: int
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


# libyaml's parser when PyYAML was built with it (ten times faster on the knowledge base); the
# constructors below, which keep line numbers, are Python either way.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    def __init__(self, stream: str, path: Path) -> None:
        super().__init__(stream)
        self.path = path
        self.duplicates: list[Problem] = []


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Node:
    loader.flatten_mapping(node)
    result = Node()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            # Dates and numbers as keys (``2026-06-26:``) are almost always a mistake in content.
            key = str(key)
        line = key_node.start_mark.line + 1
        if key in result:
            loader.duplicates.append(
                Problem(loader.path, line, f"duplicate key {key!r} (first at line {result.key_lines[key]})")
            )
            continue
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> Seq:
    result = Seq(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(path: Path) -> Any:
    """Parse one YAML file; syntax errors and duplicate keys raise :class:`ContentError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError([Problem(path, 0, f"cannot read: {exc}")]) from exc
    loader = _Loader(text, path)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        reason = exc.problem or str(exc)
        if exc.context:
            reason = f"{reason} ({exc.context})"
        raise ContentError([Problem(path, line, f"invalid YAML: {reason}")]) from exc
    except yaml.YAMLError as exc:
        raise ContentError([Problem(path, 0, f"invalid YAML: {exc}")]) from exc
    finally:
        loader.dispose()
    if loader.duplicates:
        raise ContentError(loader.duplicates)
    return data


def line_of(container: Any, key: str | int, default: int = 0) -> int:
    """The line of ``container[key]`` when the container came from :func:`load_yaml`."""
    if isinstance(container, Node) and isinstance(key, str):
        return container.line_of(key)
    if isinstance(container, Seq) and isinstance(key, int):
        return container.line_of(key)
    return getattr(container, "line", default)
