"""The worker channel's wire format: length-prefixed MessagePack frames of plain data.

Used both ways between the host and its worker processes (``_isolation``/``_worker``).
The worker runs hostile code, so everything the host reads from it is parsed as *data
only*: msgspec's MessagePack decoder builds str, int, float, bool, None, bytes, list,
dict and (for array keys) tuple, nothing else, and the only extension types it accepts
are ours (``_Ext``), each rebuilt here from plain fields by the one constructor its code
names. No pickle, no marshal, no ``eval``, no class lookup by name: an exception crosses
as type name + message and is rebuilt from an allow-list of built-in bases (issue 13
replaced the tagged JSON of the first version: ~20 times faster, same guarantees).

Shape of a value:

- str, bytes, bool, None, float and ints within msgpack's 64 bits travel natively; so do
  lists, and dicts whose keys are all of those types;
- every other plain type is an extension (``_Ext``): tuple, set, frozenset, a dict with
  other keys (as alternating keys and values), a bigger int, complex, the ``datetime``
  types (fields, with a fixed-offset zone), Decimal (its text), Fraction, UUID, range,
  Ellipsis, a str holding lone surrogates, and (host to worker only) an exception;
- a value in which some container is reached twice (a shared reference or a cycle) is
  found while it is prepared and sent whole as one ``GRAPH`` extension: tagged containers
  (``["l", ...]``, ``["d", k, v, ...]``, ``["t", ...]``, ``["r", n]`` for the n-th
  container again...) rebuilt with ``copy.deepcopy``'s sharing. Trees, the common case,
  never pay for it.

Bounds: a value nests at most ``_copy.MAX_NESTING`` containers deep to be sent (deeper is
a ``BoundaryError``, as in-process); a frame is at most ``max_message`` bytes (the
readers check the length first); the decoder counts extension nesting itself (never
relying on RecursionError, issue 11) and msgspec bounds its own native nesting.
"""

from __future__ import annotations

import builtins
import datetime
import decimal
import fractions
import threading
import uuid
from collections.abc import Callable
from typing import Any

from msgspec import DecodeError
from msgspec.msgpack import Decoder, Encoder, Ext

from ._copy import MAX_NESTING, _describe
from .errors import BoundaryError

__all__ = [
    "ProtocolError",
    "Unsendable",
    "describe_exception",
    "encode",
    "encode_call",
    "frame",
    "frame_length",
    "parse",
    "rebuild_described",
]

_HEADER = 4  # bytes of big-endian frame length
_LOW = -(1 << 63)  # msgpack ints: [-2**63, 2**64)
_HIGH = 1 << 64
_NAME_LIMIT = 100  # characters of an exception type name that cross
_MESSAGE_LIMIT = 2000  # as _copy.safe_message bounds messages in-process
# Extension nesting a reader accepts: what an honest sender can make (MAX_NESTING levels
# of values inside a message's own few levels), with room to spare.
_EXT_DEPTH = MAX_NESTING + 8

_BIGINT_BYTES = 1 << 23  # 64 Mbit, far past any Limits.size a script can build under
_DECIMAL_CHARS = 1 << 20

# extension codes (MessagePack reserves the negative ones)
TUPLE = 1
SET = 2
FROZENSET = 3
PAIRS = 4  # a dict whose keys are not all native
BIGINT = 5
COMPLEX = 6
DATE = 7
DATETIME = 8
TIME = 9
TIMEDELTA = 10
TIMEZONE = 11
DECIMAL = 12
FRACTION = 13
UUID = 14
RANGE = 15
ELLIPSIS = 16
SURROGATES = 17
EXCEPTION = 18
GRAPH = 19


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message."""


class Unsendable(BoundaryError):
    """A value that is not plain data; names the offending item for the other side.

    ``type_name`` and ``name`` are what ``_copy._describe`` reads, so the host can refuse a
    stand-in with the very message an in-process check gives (see ``_isolation``).
    """

    def __init__(self, message: str, type_name: str, name: str | None) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.name = name


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


def frame_length(header: bytes | bytearray) -> int:
    return int.from_bytes(header[:_HEADER], "big")


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


def _tz(tz: datetime.tzinfo | None, offset: datetime.timedelta | None) -> Any:
    if tz is None or offset is None:
        return None
    name = None
    if type(tz) is datetime.timezone:
        # (offset,) or (offset, name): the constructor's own arguments
        args = tz.__getinitargs__()  # type: ignore[attr-defined]
        name = args[1] if len(args) > 1 else None
    # another tzinfo (zoneinfo...): its rules do not cross, the fixed offset of this instant does
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
                _tz(x.tzinfo, x.utcoffset()),
            ]
        ),
    ),
    datetime.time: lambda x: Ext(
        TIME,
        _packb([x.hour, x.minute, x.second, x.microsecond, x.fold, _tz(x.tzinfo, x.utcoffset())]),
    ),
    datetime.timedelta: lambda x: Ext(TIMEDELTA, _packb([x.days, x.seconds, x.microseconds])),
    datetime.timezone: lambda x: Ext(TIMEZONE, _packb(_tz(x, x.utcoffset(None)))),
    decimal.Decimal: lambda x: Ext(DECIMAL, str(x).encode("ascii")),
    fractions.Fraction: lambda x: Ext(FRACTION, _packb([_int(x.numerator), _int(x.denominator)])),
    uuid.UUID: lambda x: Ext(UUID, x.bytes),
    range: lambda x: Ext(RANGE, _packb([_int(x.start), _int(x.stop), _int(x.step)])),
    type(Ellipsis): lambda x: Ext(ELLIPSIS, b""),
}
# Values of these types never need preparing; str does when it is not ASCII (surrogates).
_AS_IS = frozenset({float, bool, bytes, type(None)})
# Dict keys that travel natively (msgpack map keys msgspec decodes to the same type).
_NATIVE_KEYS = frozenset({str, float, bool, bytes, type(None)})


# Types msgspec sends natively and the reader rebuilds as the same type. Containers of only
# these are handed over as they are, after one C-level scan of their items' types (a str
# with lone surrogates or an int past 64 bits then fails to pack, and ``_pack`` goes the
# careful way).
_SCALARS = frozenset({str, int, float, bool, bytes, type(None)})


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


# -- exceptions -----------------------------------------------------------------------------
# The bases a rebuilt exception may have: built-in Exception subclasses that take a message.
# BaseException-only types (SystemExit, KeyboardInterrupt, GeneratorExit) are not among
# them: nothing the worker says can make the host raise an interpreter signal.
_BASES: dict[str, type[Exception]] = {}
for _name, _value in vars(builtins).items():
    if isinstance(_value, type) and issubclass(_value, Exception):
        try:
            _value("probe")
        except TypeError:  # UnicodeDecodeError and friends need five arguments
            continue
        _BASES[_name] = _value
_REBUILT: dict[tuple[str, str], type[Exception]] = {}
_REBUILT_LIMIT = 512  # classes cached; past that each rebuild makes its own (names are hostile)


def describe_exception(exc: BaseException) -> list[str]:
    """[type name, nearest built-in base name, message] of ``exc``."""
    base = "Exception"
    for ancestor in type(exc).__mro__:
        name = ancestor.__name__
        if _BASES.get(name) is ancestor:
            base = name
            break
    args = exc.args
    if len(args) == 1 and type(args[0]) is str:
        message = args[0]
    elif not args:
        message = ""
    else:
        message = ", ".join(
            repr(a) if type(a) in _PLAIN_REPR else f"<{type(a).__name__}>" for a in args[:8]
        )
    return [type(exc).__name__[:_NAME_LIMIT], base, message[:_MESSAGE_LIMIT]]


_PLAIN_REPR = frozenset({str, int, float, bool, type(None), bytes})


def rebuild_described(name: Any, base: Any, message: Any) -> Exception:
    """A fresh exception from ``describe_exception``'s parts, whatever they hold.

    Built-in types come back as themselves; another name becomes a class of that name
    deriving from the named built-in base (``except ValueError`` still works), made here:
    no lookup of the name anywhere.
    """
    if type(name) is not str or type(base) is not str or type(message) is not str:
        raise ProtocolError("an exception must be described by three strings")
    name = name[:_NAME_LIMIT] if name.isidentifier() else "Exception"
    message = message[:_MESSAGE_LIMIT]
    cls = _BASES.get(base, Exception)
    if name == cls.__name__:
        return cls(message)
    rebuilt = _REBUILT.get((name, cls.__name__))
    if rebuilt is None:
        rebuilt = type(name, (cls,), {"__module__": "hookyard.rebuilt"})
        if len(_REBUILT) < _REBUILT_LIMIT:
            _REBUILT[(name, cls.__name__)] = rebuilt
    return rebuilt(message)


# -- decoding -------------------------------------------------------------------------------
def parse(data: bytes | bytearray | memoryview, *, exceptions: bool = False) -> list[Any]:
    """A frame's payload as a message: a list whose first item is its kind (a str).

    ``exceptions=False`` (what the host uses on data from a worker) refuses exceptions.
    Whatever ``data`` holds, the result is plain data or ProtocolError.
    """
    try:
        message = (_WORKER_SIDE if exceptions else _HOST_SIDE).decode(data)
    except ProtocolError:
        raise
    except (DecodeError, TypeError, ValueError, IndexError, KeyError, OverflowError) as exc:
        # unhashable keys, bad dates, wrong arities...: a malformed message, not a host bug
        raise ProtocolError(f"unreadable message ({type(exc).__name__}: {exc})") from None
    except (RecursionError, MemoryError) as exc:
        raise ProtocolError(f"value too deep or too large ({type(exc).__name__})") from None
    if type(message) is not list or not message or type(message[0]) is not str:
        raise ProtocolError("a message must be an array starting with its kind")
    return message


class _Depth(threading.local):
    value = 0


_depth = _Depth()  # extension nesting of the decode running in this thread


def _ext_hook(exceptions: bool) -> Callable[[int, memoryview], Any]:
    def hook(code: int, data: memoryview) -> Any:
        unpack = _WORKER_SIDE.decode if exceptions else _HOST_SIDE.decode
        depth = _depth.value
        if depth >= _EXT_DEPTH:
            raise ProtocolError("a value nested too deeply")
        _depth.value = depth + 1
        try:
            return _unpack_ext(code, data, unpack, exceptions)
        finally:
            _depth.value = depth

    return hook


def _fields(unpack: Callable[[Any], Any], data: memoryview, n: int) -> list[Any]:
    fields = unpack(data)
    if type(fields) is not list or len(fields) != n:
        raise ProtocolError(f"an extension of {n} fields was expected")
    return fields


def _ints(values: list[Any]) -> list[int]:
    for value in values:
        if type(value) is not int:
            raise ProtocolError("an int was expected")
    return values


def _unpack_ext(code: int, data: memoryview, unpack: Callable[[Any], Any], exceptions: bool) -> Any:
    if code in (TUPLE, SET, FROZENSET):
        items = unpack(data)
        if type(items) is not list:
            raise ProtocolError("a tuple or set is an array")
        return tuple(items) if code == TUPLE else set(items) if code == SET else frozenset(items)
    if code == PAIRS:
        flat = unpack(data)
        if type(flat) is not list or len(flat) % 2:
            raise ProtocolError("a dict needs key/value pairs")
        return dict(zip(flat[::2], flat[1::2], strict=True))
    if code == BIGINT:
        if len(data) > _BIGINT_BYTES:
            raise ProtocolError("an int too large to cross")
        return int.from_bytes(data, "big", signed=True)
    if code == COMPLEX:
        real, imag = _fields(unpack, data, 2)
        return complex(_float(real), _float(imag))
    if code == DATE:
        return datetime.date(*_ints(_fields(unpack, data, 3)))
    if code == DATETIME:
        fields = _fields(unpack, data, 9)
        y, mo, d, h, mi, s, us, fold = _ints(fields[:8])
        return datetime.datetime(y, mo, d, h, mi, s, us, tzinfo=_zone(fields[8]), fold=fold)
    if code == TIME:
        fields = _fields(unpack, data, 6)
        h, mi, s, us, fold = _ints(fields[:5])
        return datetime.time(h, mi, s, us, tzinfo=_zone(fields[5]), fold=fold)
    if code == TIMEDELTA:
        return datetime.timedelta(*_ints(_fields(unpack, data, 3)))
    if code == TIMEZONE:
        zone = _zone(unpack(data))
        if zone is None:
            raise ProtocolError("a timezone needs an offset")
        return zone
    if code == DECIMAL:
        if len(data) > _DECIMAL_CHARS:
            raise ProtocolError("a decimal too long to cross")
        try:
            return decimal.Decimal(bytes(data).decode("ascii"))
        except (decimal.InvalidOperation, UnicodeDecodeError):
            raise ProtocolError("bad decimal") from None
    if code == FRACTION:
        numerator, denominator = _ints(_fields(unpack, data, 2))
        if denominator <= 0:
            raise ProtocolError("a fraction's denominator is positive")
        return fractions.Fraction(numerator, denominator)
    if code == UUID:
        return uuid.UUID(bytes=bytes(data))
    if code == RANGE:
        return range(*_ints(_fields(unpack, data, 3)))
    if code == ELLIPSIS:
        return Ellipsis
    if code == SURROGATES:
        return bytes(data).decode("utf-8", "surrogatepass")
    if code == EXCEPTION and exceptions:
        return rebuild_described(*_fields(unpack, data, 3))
    if code == GRAPH:
        return _Rebuild().value(unpack(data), 0)
    raise ProtocolError(f"unknown extension {code}")


def _float(x: Any) -> float:
    if type(x) is int:
        return float(x)
    if type(x) is not float:
        raise ProtocolError("a float was expected")
    return x


def _zone(x: Any) -> datetime.timezone | None:
    if x is None:
        return None
    if type(x) is not list or len(x) != 4:
        raise ProtocolError("a timezone is [days, seconds, microseconds, name]")
    offset = datetime.timedelta(*_ints(x[:3]))
    name = x[3]
    if name is None:
        return datetime.timezone(offset)
    if type(name) is not str:
        raise ProtocolError("a timezone name is a str")
    return datetime.timezone(offset, name)


# What may stand as an atom inside a GRAPH: what msgspec and _unpack_ext build, except
# containers (a graph's containers are its tagged arrays).
_GRAPH_ATOMS = frozenset(
    {
        str,
        int,
        float,
        bool,
        bytes,
        type(None),
        complex,
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


class _Rebuild:
    """A GRAPH's tagged containers as the value, shared references and cycles included."""

    __slots__ = ("memo",)

    def __init__(self) -> None:
        self.memo: list[Any] = []

    def value(self, x: Any, depth: int) -> Any:
        cls = type(x)
        if cls is not list:
            if cls in _GRAPH_ATOMS:
                return x
            raise ProtocolError(f"unexpected {cls.__name__} in a graph")
        if not x:
            raise ProtocolError("an untagged array in a graph")
        if depth >= _EXT_DEPTH:
            raise ProtocolError("a value nested too deeply")
        depth += 1
        tag = x[0]
        if tag == "l":
            new: list[Any] = []
            self.memo.append(new)
            new.extend([self.value(item, depth) for item in x[1:]])
            return new
        if tag == "d":
            if len(x) % 2 != 1:
                raise ProtocolError("a dict needs key/value pairs")
            mapping: dict[Any, Any] = {}
            self.memo.append(mapping)
            for i in range(1, len(x), 2):
                key = self.value(x[i], depth)
                mapping[key] = self.value(x[i + 1], depth)
            return mapping
        if tag == "t":
            made = tuple([self.value(item, depth) for item in x[1:]])
            self.memo.append(made)
            return made
        if tag == "T":
            for item in x[2:]:
                self.value(item, depth)
            return self._ref(x[1] if len(x) > 1 else None)
        if tag in ("s", "f"):
            items = [self.value(item, depth) for item in x[1:]]
            made_set: Any = set(items) if tag == "s" else frozenset(items)
            self.memo.append(made_set)
            return made_set
        if tag == "r":
            if len(x) != 2:
                raise ProtocolError("a reference has one index")
            return self._ref(x[1])
        raise ProtocolError(f"unknown tag {str(tag)[:20]!r}")

    def _ref(self, ref: Any) -> Any:
        if type(ref) is not int or not 0 <= ref < len(self.memo):
            raise ProtocolError("a reference to nothing")
        return self.memo[ref]


# The host's reader refuses exceptions; the worker's (reading the trusted host) takes them.
_HOST_SIDE = Decoder(ext_hook=_ext_hook(False))
_WORKER_SIDE = Decoder(ext_hook=_ext_hook(True))
