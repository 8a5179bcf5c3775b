"""Text facades: ``json``, ``string`` (with a safe ``Template``), ``textwrap``, ``base64``,
``hashlib``.

Each function charges its output before building it: ``json.dumps`` walks the value first
(indent and separators multiply the size, issue 12), ``textwrap`` charges the quadratic
cost of breaking very long runs, the base64 family charges the expansion of its encoding,
hash objects charge the data they digest and the length of extendable-output digests.
"""

from __future__ import annotations

import re as _stdlib_re  # textwrap's run lengths only; never handed to scripts
import string
import textwrap
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from .._budget import current_budget
from .._guards import safe_str
from ._common import public, text_size
from ._re import IGNORECASE, VERBOSE, Pattern, make_re_facade

__all__ = ["string_facade", "textwrap_facade"]


# -- string --------------------------------------------------------------------------------
_TEMPLATE_PATTERNS: weakref.WeakKeyDictionary[type, Pattern] = weakref.WeakKeyDictionary()
_compile_for_templates = make_re_facade()["compile"]


def _template_pattern(cls: type) -> Pattern:
    """The pattern of a Template class, compiled with RE2 (the stdlib compiles a subclass's
    pattern with the backtracking ``re``: a script-chosen ``idpattern`` could hang it)."""
    found = _TEMPLATE_PATTERNS.get(cls)
    if found is not None:
        return found
    custom = next((vars(k)["pattern"] for k in cls.__mro__ if "pattern" in vars(k)), None)
    flags = getattr(cls, "flags", IGNORECASE)
    if isinstance(custom, str):
        source = custom
    else:
        delimiter = _stdlib_re.escape(str(cls.delimiter))  # type: ignore[attr-defined]
        idpattern = cls.idpattern  # type: ignore[attr-defined]
        braced = cls.braceidpattern or idpattern  # type: ignore[attr-defined]
        source = (
            rf"{delimiter}(?:(?P<escaped>{delimiter})|(?P<named>{idpattern})"
            rf"|{{(?P<braced>{braced})}}|(?P<invalid>))"
        )
    compiled = _compile_for_templates(source, flags | VERBOSE if isinstance(custom, str) else flags)
    _TEMPLATE_PATTERNS[cls] = compiled
    return compiled  # type: ignore[no-any-return]


class Template:
    """``string.Template``, matching with RE2; subclasses may set ``delimiter``,
    ``idpattern``, ``braceidpattern``, ``flags`` or ``pattern`` as with the stdlib."""

    delimiter = "$"
    idpattern = r"(?a:[_a-z][_a-z0-9]*)"
    braceidpattern: str | None = None
    flags = IGNORECASE
    pattern: Any = None

    def __init__(self, template: str) -> None:
        if not isinstance(template, str):
            raise TypeError(f"Template() takes a str, not {type(template).__name__}")
        self.template = template

    def _invalid(self, match: Any) -> None:
        i = match.start("invalid")
        lines = self.template[:i].splitlines(keepends=True)
        colno = i - len("".join(lines[:-1])) + 1 if lines else 1
        lineno = len(lines) if lines else 1
        raise ValueError(f"Invalid placeholder in string: line {lineno}, col {colno}")

    def _replace(self, mapping: Any, kws: Mapping[str, Any], safe: bool) -> str:
        if mapping is None:
            values: Any = kws
        elif kws:
            values = {**mapping, **kws} if isinstance(mapping, dict) else _Chain(kws, mapping)
        else:
            values = mapping
        pattern = _template_pattern(type(self))
        delimiter = type(self).delimiter

        def convert(match: Any) -> str:
            named = match.group("named") or match.group("braced")
            if named is not None:
                try:
                    return str(safe_str(values[named]))
                except KeyError:
                    if safe:
                        return str(match.group())
                    raise
            if match.group("escaped") is not None:
                return str(delimiter)
            if match.group("invalid") is not None:
                if safe:
                    return str(match.group())
                self._invalid(match)
            raise ValueError("Unrecognized named group in pattern", pattern.pattern)

        return pattern.sub(convert, self.template)  # type: ignore[no-any-return]

    def substitute(self, mapping: Any = None, /, **kws: Any) -> str:
        return self._replace(mapping, kws, safe=False)

    def safe_substitute(self, mapping: Any = None, /, **kws: Any) -> str:
        return self._replace(mapping, kws, safe=True)

    def get_identifiers(self) -> list[str]:
        ids: list[str] = []
        for match in _template_pattern(type(self)).finditer(self.template):
            named = match.group("named") or match.group("braced")
            if named is not None and named not in ids:
                ids.append(named)
            elif (
                named is None and match.group("invalid") is None and match.group("escaped") is None
            ):
                raise ValueError("Unrecognized named group in pattern")
        return ids

    def is_valid(self) -> bool:
        return all(
            match.group("invalid") is None
            for match in _template_pattern(type(self)).finditer(self.template)
        )


Template.__module__ = "string"


class _Chain:
    """Keyword arguments first, then the mapping (``substitute(mapping, **kws)``)."""

    __slots__ = ("__first__", "__second__")

    def __init__(self, first: Mapping[str, Any], second: Any) -> None:
        self.__first__ = first
        self.__second__ = second

    def __getitem__(self, key: str) -> Any:
        if key in self.__first__:
            return self.__first__[key]
        return self.__second__[key]


@public("string.capwords")
def capwords(s: str, sep: str | None = None) -> str:
    current_budget().charge_size(text_size(s) * 3, "string.capwords result")
    return string.capwords(s, sep)


def string_facade() -> dict[str, Any]:
    # string.Formatter walks attributes (CVE-2024-47532): not offered
    constants = {
        name: getattr(string, name)
        for name in (
            "ascii_letters",
            "ascii_lowercase",
            "ascii_uppercase",
            "digits",
            "hexdigits",
            "octdigits",
            "punctuation",
            "printable",
            "whitespace",
        )
    }
    return {**constants, "capwords": capwords, "Template": Template}


# -- textwrap ------------------------------------------------------------------------------
_RUN = _stdlib_re.compile(r"\s+|\S+")


def _check_wrap(text: Any, width: Any, options: dict[str, Any], what: str) -> None:
    """Charge ``textwrap.wrap``'s work and output before it runs.

    Breaking a run of L characters into lines of ``width`` slices the rest of the run once
    per line: L*L/width work (measured: 200,000 tabs take over a minute). The output is the
    text plus an indent per line.
    """
    if not isinstance(text, str):
        raise TypeError(f"{what} takes a str, not {type(text).__name__}")
    if not isinstance(width, int) or isinstance(width, bool):
        raise TypeError(f"{what}: width must be an int")
    budget = current_budget()
    tabsize = options.get("tabsize", 8)
    if not isinstance(tabsize, int):
        raise TypeError(f"{what}: tabsize must be an int")
    expanded = len(text) + text.count("\t") * max(tabsize, 0)
    budget.charge_size(expanded, f"{what} text")
    indents = [options.get(k, "") for k in ("initial_indent", "subsequent_indent", "placeholder")]
    if not all(isinstance(i, str) for i in indents):
        raise TypeError(f"{what}: indents and placeholder must be str")
    lines = expanded + 1
    budget.charge_size(expanded + lines * (max(len(i) for i in indents) + 1), f"{what} result")
    longest = max(
        (len(run) + run.count("\t") * max(tabsize, 0) for run in _RUN.findall(text)), default=0
    )
    budget.charge((longest * expanded // max(width, 1)) >> 12)


_WRAP_OPTIONS = frozenset(
    {
        "initial_indent",
        "subsequent_indent",
        "expand_tabs",
        "replace_whitespace",
        "fix_sentence_endings",
        "break_long_words",
        "drop_whitespace",
        "break_on_hyphens",
        "tabsize",
        "max_lines",
        "placeholder",
    }
)


def _options(what: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    unknown = set(kwargs) - _WRAP_OPTIONS
    if unknown:
        raise TypeError(f"{what}() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    return kwargs


@public("textwrap.wrap")
def wrap(text: str, width: int = 70, **kwargs: Any) -> list[str]:
    _check_wrap(text, width, _options("textwrap.wrap", kwargs), "textwrap.wrap")
    return textwrap.wrap(text, width, **kwargs)


@public("textwrap.fill")
def fill(text: str, width: int = 70, **kwargs: Any) -> str:
    _check_wrap(text, width, _options("textwrap.fill", kwargs), "textwrap.fill")
    return textwrap.fill(text, width, **kwargs)


@public("textwrap.shorten")
def shorten(text: str, width: int, **kwargs: Any) -> str:
    # whitespace is collapsed first, then one line is filled: linear in the text
    options = _options("textwrap.shorten", kwargs)
    if not isinstance(text, str):
        raise TypeError("textwrap.shorten takes a str")
    placeholder = options.get("placeholder", " [...]")
    current_budget().charge_size(len(text) + text_size(placeholder), "textwrap.shorten text")
    return textwrap.shorten(text, width, **kwargs)


@public("textwrap.dedent")
def dedent(text: str) -> str:
    if not isinstance(text, str):
        raise TypeError("textwrap.dedent takes a str")
    current_budget().charge_size(len(text), "textwrap.dedent text")
    return textwrap.dedent(text)


@public("textwrap.indent")
def indent(text: str, prefix: str, predicate: Callable[[str], bool] | None = None) -> str:
    if not isinstance(text, str) or not isinstance(prefix, str):
        raise TypeError("textwrap.indent takes a str text and a str prefix")
    lines = text.count("\n") + 1
    current_budget().charge_size(len(text) + lines * len(prefix), "textwrap.indent result")
    return textwrap.indent(text, prefix, predicate)


def textwrap_facade() -> dict[str, Any]:
    return {"wrap": wrap, "fill": fill, "shorten": shorten, "dedent": dedent, "indent": indent}
