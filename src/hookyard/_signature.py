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
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["incompatibility"]

_P = inspect.Parameter
_EXTRA_KEYWORD = "extra_keyword"


def _host_parameters(host: Callable[..., Any], skip: int) -> list[inspect.Parameter] | None:
    try:
        parameters = list(inspect.signature(host).parameters.values())
    except (TypeError, ValueError):
        return None  # a callable without a readable signature: nothing to check against
    return parameters[skip:]


def _calls(parameters: list[inspect.Parameter]) -> Iterator[tuple[list[str], list[str]]]:
    """Shapes of call: (names given by position, names given by keyword). ``*`` stands for
    one more positional argument through ``*args``, ``**`` for an unknown keyword."""
    positional = [p for p in parameters if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)]
    keyword_only = [p for p in parameters if p.kind is _P.KEYWORD_ONLY]
    var_positional = any(p.kind is _P.VAR_POSITIONAL for p in parameters)
    var_keyword = any(p.kind is _P.VAR_KEYWORD for p in parameters)
    # a positional-only parameter the call leaves out must have a default; every other
    # may come by keyword instead, so the positional prefix can be as short as that
    shortest = max(
        (
            i + 1
            for i, p in enumerate(positional)
            if p.kind is _P.POSITIONAL_ONLY and p.default is _P.empty
        ),
        default=0,
    )
    required_keywords = [p.name for p in keyword_only if p.default is _P.empty]
    optional_keywords = [p.name for p in keyword_only if p.default is not _P.empty]
    for count in range(shortest, len(positional) + 1):
        by_position = [p.name for p in positional[:count]]
        rest = positional[count:]
        keywordable = [p for p in rest if p.kind is _P.POSITIONAL_OR_KEYWORD]
        required_rest = [p.name for p in rest if p.default is _P.empty]
        optional_rest = [p.name for p in keywordable if p.default is not _P.empty]
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


def incompatibility(
    function: Callable[..., Any], phase: str, host: Callable[..., Any], skip: int = 0
) -> str | None:
    """Why ``function`` (a script's ``phase`` function) cannot take every call ``host``
    accepts, with the fix; None when it can."""
    parameters = _host_parameters(host, skip)
    if parameters is None:
        return None
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    leading = {"pre": [], "post": ["rv"], "error": ["exc"]}[phase]
    for by_position, by_keyword in _calls(parameters):
        args = [*leading, *by_position]
        kwargs = {(_EXTRA_KEYWORD if name == "**" else name): None for name in by_keyword}
        try:
            signature.bind(*args, **kwargs)
        except TypeError as problem:
            call = _describe(by_position, by_keyword)
            host_name = getattr(host, "__qualname__", getattr(host, "__name__", "the host"))
            first = {"pre": "", "post": " after the result", "error": " after the exception"}
            return (
                f"{phase}{signature} cannot take the call {host_name}({call}) its point "
                f"accepts ({problem}); give {phase}{first[phase]} the host function's "
                "parameters, with their defaults, or *args/**kwargs"
            )
    return None
