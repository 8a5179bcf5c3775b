"""Copying values across the host/script boundary.

Only plain data crosses: ``None``, bool, int, float, complex, str, bytes, the ``datetime``
and ``decimal`` value types, and dict, list, tuple, set and frozenset of those. Containers
are copied with ``copy.deepcopy``'s semantics (shared references stay shared, cycles stay
cycles) by a copier specialised for these types; immutable values are handed over as they
are. Anything else (functions, classes, generators, instances) is refused with
``BoundaryError`` naming its type, except a few host-side conveniences going *into* a
script: dataclass instances become dicts, enums their value, and subclasses of the plain
containers their plain base.

Exceptions never cross as objects: ``rebuild_exception`` makes a fresh one from the type
name and message (no ``.obj``, ``.filename``, traceback or frames ride along).
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime
import decimal
import enum
import fractions
import uuid
from collections.abc import Callable
from typing import Any

from .errors import BoundaryError

__all__ = [
    "ATOMS",
    "args_to_script",
    "arguments_to_script",
    "kwargs_to_script",
    "rebuild_exception",
    "safe_message",
    "to_host",
    "to_script",
]

ATOMS: frozenset[type] = frozenset(
    {
        type(None),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        datetime.date,
        datetime.datetime,
        datetime.time,
        datetime.timedelta,
        datetime.timezone,
        decimal.Decimal,
        fractions.Fraction,
        uuid.UUID,
        range,
        type(Ellipsis),
    }
)


def to_script(value: Any) -> Any:
    """A copy of host data for a script (host conveniences allowed)."""
    if type(value) in ATOMS:
        return value
    return _Copier(_host_value).copy(value)


def to_host(value: Any) -> Any:
    """A copy of script data for the host (plain data only)."""
    if type(value) in ATOMS:
        return value
    return _Copier(_refuse).copy(value)


def args_to_script(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Copy a positional-argument tuple; returned as is when it holds only atoms."""
    for item in args:
        if type(item) not in ATOMS:
            return _Copier(_host_value).copy_tuple(args)  # type: ignore[no-any-return]
    return args


def kwargs_to_script(kwargs: dict[str, Any]) -> dict[str, Any]:
    for item in kwargs.values():
        if type(item) not in ATOMS:
            copier = _Copier(_host_value)
            return {key: copier.copy(value) for key, value in kwargs.items()}
    return kwargs


def arguments_to_script(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Copy a call's arguments for a script with one memo: shared values stay shared."""
    copier = _Copier(_host_value)
    new_args: tuple[Any, ...] = copier.copy_tuple(args)
    if not kwargs:
        return new_args, kwargs
    copy = copier.copy
    return new_args, {key: copy(value) for key, value in kwargs.items()}


class _Copier:
    __slots__ = ("foreign", "memo")

    def __init__(self, foreign: Callable[[_Copier, Any], Any]) -> None:
        self.memo: dict[int, Any] = {}
        self.foreign = foreign

    def copy(self, x: Any) -> Any:
        cls = type(x)
        if cls in ATOMS:
            return x
        memo = self.memo
        key = id(x)
        if key in memo:
            return memo[key]
        if cls is dict:
            new: Any = {}
            memo[key] = new
            copy = self.copy
            for k, v in x.items():
                new[copy(k)] = copy(v)
            return new
        if cls is list:
            new = []
            memo[key] = new
            new.extend(map(self.copy, x))
            return new
        if cls is tuple:
            return self.copy_tuple(x)
        if cls is set or cls is frozenset:
            items = [self.copy(v) for v in x]
            if key in memo:  # a cycle through a member (only possible via tuples)
                return memo[key]
            new = cls(items)
            memo[key] = new
            return new
        return self.foreign(self, x)

    def copy_tuple(self, x: tuple[Any, ...]) -> Any:
        key = id(x)
        items = [self.copy(v) for v in x]
        if key in self.memo:  # the tuple was reached again through a cycle
            return self.memo[key]
        if all(a is b for a, b in zip(items, x, strict=True)):
            result: tuple[Any, ...] = x
        else:
            result = tuple(items)
        self.memo[key] = result
        return result


def _refuse(copier: _Copier, x: Any) -> Any:
    raise BoundaryError(
        f"a {_describe(x)} cannot cross between script and host: only plain data "
        "(None, bool, int, float, str, bytes, dates, dict, list, tuple, set) may"
    )


def _host_value(copier: _Copier, x: Any) -> Any:
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        key = id(x)
        result: dict[str, Any] = {}
        copier.memo[key] = result
        for field in dataclasses.fields(x):
            result[field.name] = copier.copy(getattr(x, field.name))
        return result
    if isinstance(x, enum.Enum):
        return copier.copy(x.value)
    for base in (dict, list, tuple, set, frozenset):
        if isinstance(x, base):
            return copier.copy(base(x))  # type: ignore[call-overload]
    for base in (str, bytes, int, float):
        if isinstance(x, base):
            return base(x)  # type: ignore[call-overload]
    return _refuse(copier, x)


def _describe(x: Any) -> str:
    cls = type(x)
    if isinstance(x, type):
        return f"class ({x.__name__})"
    kind = {
        "function": "function",
        "builtin_function_or_method": "built-in function",
        "method": "method",
        "generator": "generator",
        "coroutine": "coroutine",
        "module": "module",
    }.get(cls.__name__)
    if kind is not None:
        return f"{kind} ({getattr(x, '__qualname__', getattr(x, '__name__', '?'))})"
    return f"{cls.__name__} object"


# -- exceptions -------------------------------------------------------------------------
_BUILTIN_EXCEPTIONS = frozenset(
    value
    for value in vars(builtins).values()
    if isinstance(value, type) and issubclass(value, BaseException)
)
_rebuilt: dict[tuple[str, str, type], type[Exception]] = {}
_MESSAGE_LIMIT = 2000


def safe_message(exc: BaseException) -> str:
    """The message of ``exc``, bounded, computed without running script code."""
    args = exc.args
    if len(args) == 1 and type(args[0]) is str:
        text = args[0]
    elif not args:
        text = ""
    else:
        parts = []
        for arg in args[:8]:
            parts.append(repr(arg) if type(arg) in ATOMS else f"<{type(arg).__name__}>")
        text = ", ".join(parts)
    if len(text) > _MESSAGE_LIMIT:
        text = text[:_MESSAGE_LIMIT] + "..."
    return text


def rebuild_exception(exc: BaseException) -> Exception:
    """A fresh exception with ``exc``'s type name and message and nothing else.

    Built-in exception types are kept; other types become a class of the same name
    deriving from the nearest built-in ancestor, so ``except ValueError`` still works.
    """
    cls = type(exc)
    message = safe_message(exc)
    if cls in _BUILTIN_EXCEPTIONS and issubclass(cls, Exception):
        try:
            return cls(message)
        except TypeError:  # e.g. UnicodeDecodeError needs five arguments
            pass
    base: type[Exception] = Exception
    for ancestor in cls.__mro__:
        if ancestor in _BUILTIN_EXCEPTIONS and issubclass(ancestor, Exception):
            try:
                ancestor(message)
            except TypeError:
                continue
            base = ancestor
            break
    key = (getattr(cls, "__module__", ""), cls.__qualname__, base)
    rebuilt = _rebuilt.get(key)
    if rebuilt is None:
        rebuilt = type(cls.__name__, (base,), {"__module__": "hookyard.rebuilt"})
        _rebuilt[key] = rebuilt
    return rebuilt(message)
