"""Can a script's ``pre``/``post``/``error`` take every call its point's host function takes?

Checked when the point is declared and again at every reload (DESIGN.md, as pluggy checks
implementations at registration), so a mismatch is a load error with the fix, not a
``TypeError`` on every call. The engine passes a hook function the host call's own
arguments (after a bound ``self``), positional as positional and keyword as keyword;
``post`` gets the result first, ``error`` the exception.

The check binds the script function's signature to every shape of call the host function
accepts: each number of positional arguments it takes, the optional parameters left out,
given by position or by keyword, extra positional and keyword arguments where it takes
``*args``/``**kwargs``. Binding reads only the signature: no script code runs.

A script function's parameters are read from its code object (``Parameters``), never
through ``inspect.signature``: that would look up attributes of a script's object and
``repr`` its defaults, which may be script code (issue 12: no script code outside a
budget). The same plain tuples travel from a process-isolation worker, so both modes
check alike.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "Parameters",
    "first_line",
    "host_name",
    "host_parameters",
    "incompatibility",
    "parameters_of",
    "refusal",
    "valid_parameters",
]

_P = inspect.Parameter
_EXTRA_KEYWORD = "extra_keyword"
# (name, kind as inspect's int, has a default) per parameter
Parameters = tuple[tuple[str, int, bool], ...]
MAX_PARAMETERS = 255  # CPython's own limit on a call's arguments is far above any hook's


class _Default:
    """Stands in for every default value: shown as ``...``, never the script's object."""

    def __repr__(self) -> str:
        return "..."


_DEFAULT = _Default()
# inspect's kinds by their int values (the form Parameters carries)
_KIND = {
    int(kind): kind
    for kind in (
        _P.POSITIONAL_ONLY,
        _P.POSITIONAL_OR_KEYWORD,
        _P.VAR_POSITIONAL,
        _P.KEYWORD_ONLY,
        _P.VAR_KEYWORD,
    )
}


def parameters_of(function: object) -> Parameters | None:
    """A hook function's parameters, read without running or asking anything of the script.

    A script function: from its code object, defaults and keyword defaults (the function
    type's own slots: a script cannot shadow them). A process-isolation stand-in: the
    parameters its worker read the same way (``parameters`` attribute). None: unknown.
    """
    if type(function) is not types.FunctionType:
        reported = getattr(function, "parameters", None)
        return reported if isinstance(reported, tuple) else None
    code = function.__code__
    positional = code.co_argcount
    keyword_only = code.co_kwonlyargcount
    names = code.co_varnames
    defaults = len(function.__defaults__ or ())
    keyword_defaults = function.__kwdefaults__ or {}
    parameters: list[tuple[str, int, bool]] = []
    for index in range(positional):
        kind = _P.POSITIONAL_ONLY if index < code.co_posonlyargcount else _P.POSITIONAL_OR_KEYWORD
        parameters.append((names[index], int(kind), index >= positional - defaults))
    at = positional + keyword_only
    if code.co_flags & inspect.CO_VARARGS:
        parameters.append((names[at], int(_P.VAR_POSITIONAL), False))
        at += 1
    for name in names[positional : positional + keyword_only]:
        parameters.append((name, int(_P.KEYWORD_ONLY), name in keyword_defaults))
    if code.co_flags & inspect.CO_VARKEYWORDS:
        parameters.append((names[at], int(_P.VAR_KEYWORD), False))
    return tuple(parameters)


def valid_parameters(value: object) -> Parameters | None:
    """``value`` if it is a well-formed ``Parameters`` (as a worker sends it), else None."""
    if not isinstance(value, list | tuple) or len(value) > MAX_PARAMETERS:
        return None
    checked: list[tuple[str, int, bool]] = []
    for item in value:
        if not isinstance(item, list | tuple) or len(item) != 3:
            return None
        name, kind, has_default = item
        if (
            type(name) is not str
            or not name.isidentifier()
            or type(kind) is not int
            or kind not in _KIND
            or type(has_default) is not bool
        ):
            return None
        checked.append((name, kind, has_default))
    try:
        _signature(tuple(checked))
    except (TypeError, ValueError):
        return None  # out of order, or a name twice
    return tuple(checked)


def first_line(function: object) -> int | None:
    """The line a hook function starts on (its ``def``), read as ``parameters_of`` reads."""
    if type(function) is types.FunctionType:
        return function.__code__.co_firstlineno
    line = getattr(function, "line", None)
    return line if type(line) is int else None


def host_parameters(host: Callable[..., Any], skip: int = 0) -> Parameters | None:
    """The parameters of the host function that scripts see: the first ``skip`` positional
    ones (a bound ``self`` or ``cls``) left out. None: no readable signature."""
    try:
        parameters = list(inspect.signature(host).parameters.values())
    except (TypeError, ValueError):
        return None  # a callable without a readable signature: nothing to check against
    for _ in range(skip):
        # the bound object takes the first positional parameter; a leading *args
        # absorbs it and stays (def method(*args))
        if parameters and parameters[0].kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD):
            parameters.pop(0)
    return tuple((p.name, int(p.kind), p.default is not _P.empty) for p in parameters)


def _signature(parameters: Parameters) -> inspect.Signature:
    return inspect.Signature(
        [
            _P(name, _KIND[kind], default=_DEFAULT if has_default else _P.empty)
            for name, kind, has_default in parameters
        ]
    )


def _calls(parameters: Parameters) -> Iterator[tuple[list[str], list[str]]]:
    """Shapes of call: (names given by position, names given by keyword). ``*`` stands for
    one more positional argument through ``*args``, ``**`` for an unknown keyword."""
    positional = [p for p in parameters if p[1] in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)]
    keyword_only = [p for p in parameters if p[1] == _P.KEYWORD_ONLY]
    var_positional = any(p[1] == _P.VAR_POSITIONAL for p in parameters)
    var_keyword = any(p[1] == _P.VAR_KEYWORD for p in parameters)
    # a positional-only parameter the call leaves out must have a default; every other
    # may come by keyword instead, so the positional prefix can be as short as that
    shortest = max(
        (i + 1 for i, p in enumerate(positional) if p[1] == _P.POSITIONAL_ONLY and not p[2]),
        default=0,
    )
    required_keywords = [name for name, _, has_default in keyword_only if not has_default]
    optional_keywords = [name for name, _, has_default in keyword_only if has_default]
    for count in range(shortest, len(positional) + 1):
        by_position = [p[0] for p in positional[:count]]
        rest = positional[count:]
        keywordable = [p for p in rest if p[1] == _P.POSITIONAL_OR_KEYWORD]
        required_rest = [name for name, _, has_default in rest if not has_default]
        optional_rest = [name for name, _, has_default in keywordable if has_default]
        base = [*required_rest, *required_keywords]
        yield by_position, base
        yield by_position, [*base, *optional_rest, *optional_keywords]
        for name in (*optional_rest, *optional_keywords):
            yield by_position, [*base, name]
        if var_keyword:
            yield by_position, [*base, "**"]
        if var_positional and count == len(positional):
            yield [*by_position, "*"], base


def _describe(by_position: list[str], by_keyword: list[str]) -> str:
    shown = ["<more>" if name == "*" else name for name in by_position] + [
        f"{_EXTRA_KEYWORD}=..." if name == "**" else f"{name}=..." for name in by_keyword
    ]
    return ", ".join(shown)


_AFTER = {"pre": "", "post": " after the result", "error": " after the exception"}
_LEADING: dict[str, list[str]] = {"pre": [], "post": ["rv"], "error": ["exc"]}


def refusal(script: Parameters, phase: str, host: Parameters, host_name: str) -> str | None:
    """Why a hook function with parameters ``script`` cannot take every call a host
    function with parameters ``host`` accepts, with the fix; None when it can."""
    try:
        signature = _signature(script)
    except (TypeError, ValueError):
        return None
    leading = _LEADING[phase]
    for by_position, by_keyword in _calls(host):
        args = [*leading, *by_position]
        kwargs = {(_EXTRA_KEYWORD if name == "**" else name): None for name in by_keyword}
        try:
            signature.bind(*args, **kwargs)
        except TypeError as problem:
            call = _describe(by_position, by_keyword)
            return (
                f"{phase}{signature} cannot take the call {host_name}({call}) its point "
                f"accepts ({problem}); give {phase}{_AFTER[phase]} the host function's "
                "parameters, with their defaults, or *args/**kwargs"
            )
    return None


def host_name(host: Callable[..., Any]) -> str:
    """How messages name a host function: its qualified name."""
    name = getattr(host, "__qualname__", None) or getattr(host, "__name__", None)
    if not isinstance(name, str):
        return "the host function"
    return name.rpartition("<locals>.")[2]  # Service.create, not make.<locals>.Service.create


def incompatibility(
    function: Callable[..., Any], phase: str, host: Callable[..., Any], skip: int = 0
) -> str | None:
    """Why ``function`` (a script's ``phase`` function) cannot take every call ``host``
    accepts, with the fix; None when it can."""
    script = parameters_of(function)
    declared = host_parameters(host, skip)
    if script is None or declared is None:
        return None
    return refusal(script, phase, declared, host_name(host))
