"""Writing the worker channel (``_wire`` defines the format and reads it).

``encode``/``encode_call`` make a value ready to send and are its copy: they check that it
is plain data (``Unsendable``, a ``BoundaryError``, for anything else; too deep a value
too), keep tuples, sets, dates and the other plain types as our extension types, and find
shared references and cycles, which then go as one ``GRAPH``. ``frame`` packs a message.
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import uuid
from collections.abc import Callable
from typing import Any

from msgspec.msgpack import Encoder, Ext

from ._copy import MAX_NESTING, _describe
from ._wire import (
    _HEADER,
    _HIGH,
    _LOW,
    BIGINT,
    COMPLEX,
    DATE,
    DATETIME,
    DECIMAL,
    ELLIPSIS,
    EXCEPTION,
    FRACTION,
    FROZENSET,
    GRAPH,
    PAIRS,
    RANGE,
    SET,
    SURROGATES,
    TIME,
    TIMEDELTA,
    TIMEZONE,
    TUPLE,
    UUID,
    Unsendable,
    describe_exception,
)
from .errors import BoundaryError

__all__ = ["encode", "encode_call", "frame"]

_NESTED_TOO_DEEPLY = (
    f"a value nested too deeply (more than {MAX_NESTING} containers within each other) "
    "cannot cross between script and host"
)


class _TooDeep(Exception):
    pass


class _Shared(Exception):
    """A container was reached twice: the value goes as a GRAPH."""


_packb = Encoder().encode


# -- frames ---------------------------------------------------------------------------------
def frame(message: list[Any]) -> bytes:
    """One message (its values already ``encode``d) as bytes on the wire: length, payload."""
    return len(data := _pack(message)).to_bytes(_HEADER, "big") + data


def _pack(x: Any) -> bytes:
    try:
        return _packb(x)
    except (UnicodeEncodeError, OverflowError):
        # ``encode`` checks types only, at C speed; a str with lone surrogates or an int
        # past 64 bits (rare) is found here, and the value sent the careful way
        return _packb(_careful(x))


def _careful(x: Any) -> Any:
    """``x`` (plain data, already prepared) with every str and int made sendable."""
    cls = type(x)
    if cls is str:
        return _text(x)
    if cls is int:
        return _int(x)
    if cls is list or cls is tuple:
        return [_careful(item) for item in x]
    if cls is dict:
        if all(_careful(key) is key for key in x):
            return {key: _careful(item) for key, item in x.items()}
        return Ext(PAIRS, _packb([_careful(y) for pair in x.items() for y in pair]))
    return x  # float, bool, None, bytes, an Ext


# -- encoding -------------------------------------------------------------------------------
def encode(value: Any, *, exceptions: bool = False) -> Any:
    """``value`` made ready for ``frame``; BoundaryError for anything but plain data.

    ``exceptions=True`` (host to worker only) lets exception objects through as type name
    and message.
    """
    if type(value) in _SCALARS:
        return value  # (frame packs a surrogate str or a big int the careful way)
    if (type(value) is list or type(value) is dict) and _plain(value, 0, set()):
        return value
    prepare = _Prepare(exceptions)
    try:
        return prepare.value(value, 0)
    except _TooDeep:
        raise BoundaryError(_NESTED_TOO_DEEPLY) from None
    except _Shared:
        pass
    try:
        return Ext(GRAPH, _pack(_Graph(exceptions).value(value, 0)))
    except _TooDeep:
        raise BoundaryError(_NESTED_TOO_DEEPLY) from None


def encode_call(
    args: tuple[Any, ...] | list[Any], kwargs: dict[str, Any], *, exceptions: bool = False
) -> Any:
    """A call's arguments made ready for ``frame``, as ``[args, kwargs]`` on arrival.

    One preparation for both, so a value shared between arguments stays shared; the
    argument list itself is not one of a value's levels (as ``_copy.arguments_to_script``).
    """
    # the usual case first: lists, dicts and scalars (keyword names are str: Python
    # checked them)
    seen: set[int] = set()
    scalars = _SCALARS
    for item in (*args, *kwargs.values()) if kwargs else args:
        cls = type(item)
        if cls in scalars:
            continue
        if (cls is list or cls is dict) and _plain(item, 0, seen):
            continue
        break
    else:
        return [args, kwargs]
    try:
        prepare = _Prepare(exceptions)
        # (msgspec sends a tuple as an array, which arrives as a list)
        return [prepare.listed(args, -1), prepare.mapped(kwargs, -1) if kwargs else kwargs]
    except _TooDeep:
        raise BoundaryError(_NESTED_TOO_DEEPLY) from None
    except _Shared:
        pass
    try:
        return Ext(GRAPH, _pack(_Graph(exceptions).value([list(args), kwargs], -2)))
    except _TooDeep:
        raise BoundaryError(_NESTED_TOO_DEEPLY) from None


def _text(x: str) -> Any:
    try:
        x.encode("utf-8")
    except UnicodeEncodeError:
        return Ext(SURROGATES, x.encode("utf-8", "surrogatepass"))
    return x


def _tz(tz: datetime.tzinfo | None, offset: datetime.timedelta | None, when: Any = None) -> Any:
    if tz is None or offset is None:
        return None
    name = None
    if type(tz) is datetime.timezone:
        # (offset,) or (offset, name): the constructor's own arguments
        args = tz.__getinitargs__()  # type: ignore[attr-defined]
        name = args[1] if len(args) > 1 else None
    else:
        # another tzinfo (a host's zoneinfo...): its rules do not cross, the fixed offset
        # and name of this instant do (as _copy.to_script makes them in-process)
        shown = when.tzname() if when is not None else None
        name = shown if isinstance(shown, str) else None
    return [offset.days, offset.seconds, offset.microseconds, name]


def _int(x: int) -> Any:
    if _LOW <= x < _HIGH:
        return x
    return Ext(BIGINT, x.to_bytes((x.bit_length() + 8) // 8, "big", signed=True))


def _atom(x: Any) -> Any:
    """An immutable plain value as msgpack-ready data; _NOT_ATOM if it is none."""
    cls = type(x)
    if cls is str:
        return x if x.isascii() else _text(x)
    if cls is int:
        return _int(x)
    if cls is float or cls is bool or cls is bytes or x is None:
        return x
    pack = _ATOM_PACKERS.get(cls)
    if pack is None:
        return _NOT_ATOM
    return pack(x)


_NOT_ATOM: Any = object()

_ATOM_PACKERS: dict[type, Callable[[Any], Any]] = {
    complex: lambda x: Ext(COMPLEX, _packb([x.real, x.imag])),
    datetime.date: lambda x: Ext(DATE, _packb([x.year, x.month, x.day])),
    datetime.datetime: lambda x: Ext(
        DATETIME,
        _packb(
            [
                x.year,
                x.month,
                x.day,
                x.hour,
                x.minute,
                x.second,
                x.microsecond,
                x.fold,
                _tz(x.tzinfo, x.utcoffset(), x),
            ]
        ),
    ),
    datetime.time: lambda x: Ext(
        TIME,
        _packb(
            [x.hour, x.minute, x.second, x.microsecond, x.fold, _tz(x.tzinfo, x.utcoffset(), x)]
        ),
    ),
    datetime.timedelta: lambda x: Ext(TIMEDELTA, _packb([x.days, x.seconds, x.microseconds])),
    datetime.timezone: lambda x: Ext(TIMEZONE, _packb(_tz(x, x.utcoffset(None)))),
    decimal.Decimal: lambda x: Ext(DECIMAL, str(x).encode("ascii")),
    fractions.Fraction: lambda x: Ext(FRACTION, _packb([_int(x.numerator), _int(x.denominator)])),
    uuid.UUID: lambda x: Ext(UUID, x.bytes),
    range: lambda x: Ext(RANGE, _packb([_int(x.start), _int(x.stop), _int(x.step)])),
    type(Ellipsis): lambda x: Ext(ELLIPSIS, b""),
}


# Types msgspec sends natively and the reader rebuilds as the same type. Containers of only
# these are handed over as they are, after one C-level scan of their items' types (a str
# with lone surrogates or an int past 64 bits then fails to pack, and ``_pack`` goes the
# careful way).
_SCALARS = frozenset({str, int, float, bool, bytes, type(None)})


_SCAN = 8  # items past which a container's types are scanned in C (set(map(type, ...)))


def _plain(x: list[Any] | dict[Any, Any], depth: int, seen: set[int]) -> bool:
    """True when ``x`` (a list or dict) is a tree of lists, dicts with scalar keys and
    scalars only, no container reached twice, none deeper than ``_copy.MAX_NESTING``:
    msgspec packs it as it is, and the other side rebuilds the same tree.

    The common case of every worker call (issue 13), about half the cost of
    ``_Prepare``'s walk for the small values calls usually carry. False means only "not
    this simple": ``_Prepare`` then walks the value and rules on it (a tuple to keep, a
    shared list, an object that cannot cross, too deep).
    """
    if depth >= MAX_NESTING:
        return False
    count = len(seen)
    seen.add(id(x))  # the value stays alive meanwhile: ids are not reused
    if len(seen) == count:
        return False  # a shared reference or a cycle: it goes as a GRAPH
    scalars = _SCALARS
    items: Any = x
    if type(x) is dict:
        if len(x) > _SCAN:
            if not set(map(type, x)) <= scalars:
                return False
        else:
            for key in x:
                if type(key) not in scalars:
                    return False  # a key msgpack cannot carry as itself
        items = x.values()
    if len(items) > _SCAN and set(map(type, items)) <= scalars:
        return True
    depth += 1
    for item in items:
        cls = type(item)
        if cls in scalars:
            continue
        if (cls is list or cls is dict) and _plain(item, depth, seen):
            continue
        return False
    return True


class _Prepare:
    """A tree of plain data as msgpack-ready data; _Shared when a container recurs.

    The hot path of every worker call (issue 13): a list or dict whose items (and keys)
    are all scalars is handed to msgspec as it is, checked by ``set(map(type, x))`` in C;
    only containers holding something else are walked here, and copied only where an
    item must be replaced (a tuple, a date...).
    """

    __slots__ = ("exceptions", "seen")

    def __init__(self, exceptions: bool) -> None:
        self.seen: set[int] = set()
        self.exceptions = exceptions

    def value(self, x: Any, depth: int) -> Any:
        cls = type(x)
        if cls is list:
            return self.listed(x, depth)
        if cls is dict:
            return self.mapped(x, depth)
        if cls is tuple or cls is set or cls is frozenset:
            if depth >= MAX_NESTING:
                raise _TooDeep
            key = id(x)
            if key in self.seen:
                raise _Shared
            self.seen.add(key)
            code = TUPLE if cls is tuple else SET if cls is set else FROZENSET
            return Ext(code, _pack(self.listed_items(x, depth + 1)))
        atom = _atom(x)
        if atom is not _NOT_ATOM:
            return atom
        return _foreign(x, self.exceptions)

    def listed_items(self, x: Any, depth: int) -> Any:
        """The items of a tuple or set, prepared (as a list, or ``x`` itself)."""
        if set(map(type, x)) <= _SCALARS:
            return x if type(x) is tuple else list(x)
        return [item if type(item) in _SCALARS else self.value(item, depth) for item in x]

    def listed(self, x: list[Any] | tuple[Any, ...], depth: int) -> Any:
        if depth >= MAX_NESTING:
            raise _TooDeep
        key = id(x)
        seen = self.seen
        if key in seen:
            raise _Shared
        seen.add(key)
        if set(map(type, x)) <= _SCALARS:
            return x
        depth += 1
        scalars = _SCALARS
        out = None
        index = -1
        for item in x:
            index += 1
            cls = type(item)
            if cls in scalars:
                continue
            if cls is dict:
                new = self.mapped(item, depth)
            elif cls is list:
                new = self.listed(item, depth)
            else:
                new = self.value(item, depth)
            if new is not item:
                if out is None:
                    out = list(x)
                out[index] = new
        return x if out is None else out

    def mapped(self, x: dict[Any, Any], depth: int) -> Any:
        if depth >= MAX_NESTING:
            raise _TooDeep
        key = id(x)
        seen = self.seen
        if key in seen:
            raise _Shared
        seen.add(key)
        depth += 1
        scalars = _SCALARS
        if not set(map(type, x)) <= scalars:
            return self.pairs(x, depth)  # a key msgpack cannot carry as itself
        if set(map(type, x.values())) <= scalars:
            return x
        out = None
        for key, item in x.items():
            cls = type(item)
            if cls in scalars:
                continue
            if cls is dict:
                new = self.mapped(item, depth)
            elif cls is list:
                new = self.listed(item, depth)
            else:
                new = self.value(item, depth)
            if new is not item:
                if out is None:
                    out = x.copy()
                out[key] = new
        return x if out is None else out

    def pairs(self, x: dict[Any, Any], depth: int) -> Any:
        """``x`` as alternating keys and values (a tuple, frozenset or date key...)."""
        value = self.value
        flat = [value(y, depth) for pair in x.items() for y in pair]
        return Ext(PAIRS, _pack(flat))


def _foreign(x: Any, exceptions: bool) -> Any:
    if exceptions and isinstance(x, BaseException):
        return Ext(EXCEPTION, _packb(describe_exception(x)))
    name = getattr(x, "__qualname__", getattr(x, "__name__", None))
    raise Unsendable(
        f"a {_describe(x)} cannot cross between script and host: only plain data "
        "(None, bool, int, float, str, bytes, dates, dict, list, tuple, set) may",
        type(x).__name__,
        name if type(name) is str else None,
    )


_CONTAINERS = frozenset({list, dict, tuple, set, frozenset})


class _Graph:
    """A value with shared references or cycles, as tagged containers.

    ``["l", *items]`` and ``["d", k, v, ...]`` are registered before their items (cycles
    through them work); ``["t"|"s"|"f", *items]`` after theirs, as ``copy.deepcopy`` builds
    them; ``["T", n, *items]`` is a tuple reached again while it was being built (a cycle
    through a list inside it): its items, then the copy made meanwhile; ``["r", n]`` is
    the n-th registered container again. Atoms are as ``_atom`` makes them.
    """

    __slots__ = ("count", "exceptions", "memo")

    def __init__(self, exceptions: bool) -> None:
        self.memo: dict[int, int] = {}
        self.count = 0
        self.exceptions = exceptions

    def value(self, x: Any, depth: int) -> Any:
        cls = type(x)
        if cls not in _CONTAINERS:
            atom = _atom(x)
            return atom if atom is not _NOT_ATOM else _foreign(x, self.exceptions)
        key = id(x)
        ref = self.memo.get(key)
        if ref is not None:
            return ["r", ref]
        if depth >= MAX_NESTING:
            raise _TooDeep
        depth += 1
        if cls is list:
            self._register(key)
            return ["l", *[self.value(item, depth) for item in x]]
        if cls is dict:
            self._register(key)
            out = ["d"]
            for k, v in x.items():
                out.append(self.value(k, depth))
                out.append(self.value(v, depth))
            return out
        items = [self.value(item, depth) for item in x]
        if cls is tuple:
            ref = self.memo.get(key)
            if ref is not None:  # built meanwhile through a cycle: deepcopy returns that one
                return ["T", ref, *items]
            self._register(key)
            return ["t", *items]
        # members are hashable, so no cycle can lead back here before registration
        self._register(key)
        return ["s" if cls is set else "f", *items]

    def _register(self, key: int) -> None:
        self.memo[key] = self.count
        self.count += 1
