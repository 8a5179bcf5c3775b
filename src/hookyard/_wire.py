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

Writing is ``_wire_encode``'s (``frame``, ``encode``, ``encode_call``); reading, the
extension codes and the exception helpers both sides share are here.

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
from msgspec.msgpack import Decoder

from ._copy import MAX_NESTING
from .errors import BoundaryError

__all__ = [
    "ProtocolError",
    "Unsendable",
    "describe_exception",
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


# -- frames ---------------------------------------------------------------------------------
def frame_length(header: bytes | bytearray) -> int:
    return int.from_bytes(header[:_HEADER], "big")


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
