"""Shadow scripts: ``*.shadow.py`` runs like any script but changes nothing (DESIGN.md
"Safe rollout").

What is decided here: which file names are shadows (``script_mode``), which host ``api``
functions a shadow may really call (``no_side_effects``), and the notes a shadow's
invocation leaves (the ``api`` calls it was not let make). The call path
(``_hookpoint``) turns a shadow's veto, replacement and failure into the audit outcomes
``shadow-veto``, ``shadow-replace`` and ``shadow-error``; the sandbox hands a shadow an
``api`` whose calls do not reach the host (``_sandbox.SandboxPolicy.shadow_api``).

Being a shadow is a property of the file name, not of a setting, so that renaming
``50-quota.shadow.py`` to ``50-quota.py`` is the whole of enforcing it, and so that a
shadow can never reach the host through a race with a reload: its ``api`` is fixed when
its version is loaded.
"""

from __future__ import annotations

import logging
import reprlib
import threading
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar

__all__ = [
    "SHADOW_SUFFIX",
    "ShadowNotes",
    "describe_call",
    "describe_value",
    "is_no_side_effects",
    "is_shadow",
    "no_side_effects",
    "not_made",
    "script_mode",
]

logger = logging.getLogger("hookyard")

SHADOW_SUFFIX: Final = ".shadow.py"
_MARK = "__hookyard_no_side_effects__"
_SHOWN = 200  # characters of a call not made, as shown in an audit message

F = TypeVar("F", bound=Callable[..., Any])


def is_shadow(name: str) -> bool:
    """True for a script file name that runs as a shadow (``50-quota.shadow.py``)."""
    return name.endswith(SHADOW_SUFFIX)


def script_mode(name: str) -> Literal["enforce", "shadow"]:
    """How a script file's outcomes are applied: ``"shadow"`` for ``*.shadow.py``, else
    ``"enforce"`` (``status()``'s ``mode``, ``hookyard list``, metrics' ``mode`` label)."""
    return "shadow" if is_shadow(name) else "enforce"


def no_side_effects(function: F) -> F:
    """Mark a host ``api`` function as safe for shadow scripts to really call.

    ``api={"quota": hookyard.no_side_effects(quota)}`` (or ``@hookyard.no_side_effects``
    on its definition): a shadow script's call of it reaches the host and returns its
    answer; every other ``api`` function a shadow calls is recorded and returns None.
    Returns the function itself, marked; a callable that cannot carry the mark (a bound
    method, a builtin) comes back wrapped in a function that can.
    """
    if not callable(function):
        raise TypeError(f"no_side_effects needs a callable, not {function!r}")
    try:
        setattr(function, _MARK, True)
    except (AttributeError, TypeError):
        target = function

        def call(*args: Any, **kwargs: Any) -> Any:
            return target(*args, **kwargs)

        call.__name__ = getattr(function, "__name__", "api_function")
        call.__qualname__ = getattr(function, "__qualname__", call.__name__)
        call.__doc__ = getattr(function, "__doc__", None)
        call.__wrapped__ = function  # type: ignore[attr-defined]  # as functools.wraps
        setattr(call, _MARK, True)
        return call  # type: ignore[return-value]  # a callable like the one given
    return function


def is_no_side_effects(function: Any) -> bool:
    """True for a function ``no_side_effects`` marked."""
    return getattr(function, _MARK, False) is True


class ShadowNotes(threading.local):
    """The ``api`` calls shadow invocations on this thread were not let make.

    A stack: the call path pushes a list around each shadow invocation and takes it back
    for the invocation's audit message, so a shadow's ``no_side_effects`` call into a
    hooked function that runs shadows of its own keeps each one's notes apart.
    """

    def __init__(self) -> None:
        self.stack: list[list[str]] = []


NOTES = ShadowNotes()


def not_made(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """A shadow called ``api.<name>`` (a function with side effects): note it, skip it.

    ``args``/``kwargs`` are already plain host data (``_copy.to_host``), safe to render.
    """
    stack = NOTES.stack
    if stack:
        stack[-1].append(describe_call(name, args, kwargs))  # the invocation reports it
    elif logger.isEnabledFor(logging.INFO):
        shown = describe_call(name, args, kwargs)
        logger.info("shadow script: %s not called (shadow scripts change nothing)", shown)


def _shortener() -> reprlib.Repr:
    short = reprlib.Repr()
    short.maxlevel = 3
    short.maxstring = short.maxother = 60
    short.maxlong = 40
    short.maxlist = short.maxtuple = short.maxdict = short.maxset = short.maxfrozenset = 8
    return short


# reprlib: rendering a call stays cheap however large its arguments are
_short = _shortener().repr


def describe_value(value: Any) -> str:
    """``value`` (plain host data) as a short ``repr``, for a shadow's audit message."""
    return _short(value)


def describe_call(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """``api.notify('web-1', level=2)``, cut to a readable length."""
    parts = [_short(arg) for arg in args] + [
        f"{key}={_short(value)}" for key, value in kwargs.items()
    ]
    text = f"api.{name}({', '.join(parts)})"
    return text if len(text) <= _SHOWN else text[: _SHOWN - 4] + "...)"
