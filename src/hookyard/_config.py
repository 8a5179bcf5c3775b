"""``hookyard.toml``: what the host declares, for the tools that run without it.

The engine never reads this file; ``hookyard check/list/audit/run/watch`` do (see
docs/cli.md). Every problem in it is reported at once, each with its line where the
file shows one (issue 18: an unknown key used to hide a wrong type and every finding the
declared points would have led to), and the parts that are right are still used.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from ._hookpoint import PointOptions
from ._modules import facade_factories

__all__ = ["CONFIG_NAME", "ConfigProblem", "HostConfig", "load_config"]

CONFIG_NAME: Final = "hookyard.toml"
_KEYS = ("modules", "api", "points")
_OPTIONS = tuple(f.name for f in fields(PointOptions))


@dataclass(frozen=True, slots=True)
class HostConfig:
    """What the host declares, for tools that audit a directory without the host.

    Read from ``hookyard.toml`` in the hook directory (see docs/cli.md); every part is
    optional: ``modules`` (the allow-list), ``api`` (the names the host exposes) and
    ``points`` (each point's options).
    """

    file: str | None = None
    modules: tuple[str, ...] | None = None
    api: tuple[str, ...] | None = None
    points: Mapping[str, PointOptions] | None = field(default=None)


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in ``hookyard.toml``: its line (when the file shows one) and what."""

    line: int | None
    message: str


class _Reader:
    """Walks the parsed file, keeping what is right and noting every problem."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.problems: list[ConfigProblem] = []

    def problem(self, line: int | None, message: str) -> None:
        self.problems.append(ConfigProblem(line, message))

    def line_of(self, pattern: str, after: int = 0) -> int | None:
        """The first line from ``after`` (1-based, exclusive) matching ``pattern``."""
        compiled = re.compile(pattern)
        for number, line in enumerate(self.lines[after:], start=after + 1):
            if compiled.match(line):
                return number
        return None

    def key_line(self, key: str) -> int | None:
        escaped = re.escape(key)
        return self.line_of(rf"\s*({escaped}\s*=|\[+\s*{escaped}\s*[\].])")

    def names(self, data: dict[str, Any], key: str) -> tuple[str, ...] | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(
                self.key_line(key),
                f'{key} must be a list of strings, e.g. {key} = ["notify"], '
                f"not {type(value).__name__}",
            )
            return None
        return tuple(value)

    def modules(self, data: dict[str, Any]) -> tuple[str, ...] | None:
        names = self.names(data, "modules")
        if names is None:
            return None
        offered = []
        for name in names:
            try:
                facade_factories((name,))  # refuses forbidden, private and missing modules
            except ValueError as exc:
                self.problem(self.key_line("modules"), str(exc))
            else:
                offered.append(name)
        return tuple(offered)

    def points(self, table: Any) -> dict[str, PointOptions] | None:
        if table is None:
            return None
        if not isinstance(table, dict):
            self.problem(self.key_line("points"), "points must be a table of [points.NAME] tables")
            return None
        points: dict[str, PointOptions] = {}
        for name, options in table.items():
            header = self.line_of(rf"\s*\[\s*points\.{re.escape(name)}\s*\]")
            if not isinstance(options, dict):
                self.problem(
                    header or self.line_of(rf"\s*{re.escape(name)}\s*="),
                    f"points.{name} must be a table ([points.{name}])",
                )
                continue
            given: dict[str, Any] = {}
            for option, value in options.items():
                line = self.line_of(rf"\s*{re.escape(option)}\s*=", header or 0)
                if option not in _OPTIONS:
                    self.problem(
                        line,
                        f"points.{name}: unknown option {option!r} "
                        f"(expected {', '.join(_OPTIONS)})",
                    )
                    continue
                try:
                    PointOptions(**{option: value})
                except (TypeError, ValueError) as exc:
                    self.problem(line, f"points.{name}: {exc}")
                else:
                    given[option] = value
            points[name] = PointOptions(**given)
        return points


def load_config(directory: str | Path) -> tuple[HostConfig, tuple[ConfigProblem, ...]]:
    """``DIR/hookyard.toml`` as a HostConfig (empty if absent) and every problem in it.

    What is right is kept: a wrong ``api`` still lets ``points`` be checked.
    """
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        return HostConfig(), ()
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        return HostConfig(file=shown), (ConfigProblem(None, f"cannot read: {exc}"),)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)  # 3.14 adds it; the message has it before
        return HostConfig(file=shown), (ConfigProblem(line, f"not valid TOML: {exc}"),)
    reader = _Reader(text)
    for key in sorted(set(data) - set(_KEYS)):
        reader.problem(reader.key_line(key), f"unknown key {key!r} (expected {', '.join(_KEYS)})")
    config = HostConfig(
        file=shown,
        modules=reader.modules(data),
        api=reader.names(data, "api"),
        points=reader.points(data.get("points")),
    )
    return config, tuple(reader.problems)
