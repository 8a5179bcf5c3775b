"""The worker channel's wire format: length-prefixed frames of JSON holding tagged plain data.

Used both ways between the host and its worker processes (``_isolation``/``_worker``).
The worker runs hostile code, so everything the host reads from it is parsed as *data
only*: ``json.loads`` (which builds str, int, float, bool, None, list and dict, nothing
else) followed by ``decode``, which accepts exactly the value types that may cross the
boundary in-process (``_copy.ATOMS`` and the plain containers) and refuses anything else
with ``ProtocolError``. No pickle, no marshal (it builds code objects and is documented as
unsafe on malicious input), no ``eval``, no class lookup by name: an exception crosses as
type name + message and is rebuilt from an allow-list of built-in bases.

Shape of a value (every JSON array is tagged by its first item):

=====================  =====================================================================
JSON ``str`` / finite  itself (str, bool, None, float, int within +-2**63)
``["I", hex]``         a bigger int (hex text: linear to parse, unlike long decimal strings)
``["l", *items]``      list (registered before its items: cycles through lists work)
``["d", k, v, ...]``   dict (registered before its items)
``["t", *items]``      tuple (registered after its items, as ``copy.deepcopy`` builds it)
``["T", ref, *items]`` a tuple reached again while it was being built (a cycle through a
                       list): decode the items, then use the copy made meanwhile
``["s"|"f", *items]``  set / frozenset (registered after their items)
``["r", n]``           the n-th registered container again (shared references, cycles)
``["b", base64]``      bytes; other atoms have their own tags (see ``_ATOM_DECODERS``)
``["X", n, b, msg]``   an exception, host-to-worker only (the ``error`` hook's argument)
=====================  =====================================================================
"""

from __future__ import annotations

import base64
import binascii
import builtins
import datetime
import decimal
import fractions
import json
import uuid
from collections.abc import Callable
from typing import Any

from ._copy import _describe
from .errors import BoundaryError

__all__ = [
    "ProtocolError",
    "Unsendable",
    "decode",
    "describe_exception",
    "encode",
    "frame",
    "parse",
    "rebuild_described",
]

_HEADER = 4  # bytes of big-endian frame length
_BIG = 1 << 63
_NAME_LIMIT = 100  # characters of an exception type name that cross
_MESSAGE_LIMIT = 2000  # as _copy.safe_message bounds messages in-process


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
_dumps = json.JSONEncoder(
    ensure_ascii=True,  # lone surrogates travel escaped, and the frame is plain ASCII
    allow_nan=True,  # NaN / Infinity are valid floats on both sides (json.loads reads them)
    separators=(",", ":"),
    check_circular=False,  # encode() has already turned every cycle into a reference
).encode


def frame(message: list[Any]) -> bytes:
    """One message as bytes on the wire: 4-byte length, then JSON."""
    data = _dumps(message).encode("ascii")
    return len(data).to_bytes(_HEADER, "big") + data


def frame_length(header: bytes | bytearray) -> int:
    return int.from_bytes(header[:_HEADER], "big")


def parse(data: bytes | bytearray) -> list[Any]:
    """A frame's payload as a message (a JSON array with a str tag first)."""
    try:
        message = json.loads(data)
    except (ValueError, RecursionError, MemoryError) as exc:
        # ValueError covers bad JSON, bad UTF-8 and ints past sys.get_int_max_str_digits()
        raise ProtocolError(f"unreadable message ({type(exc).__name__})") from None
    if type(message) is not list or not message or type(message[0]) is not str:
        raise ProtocolError("a message must be a JSON array starting with its kind")
    return message


# -- encoding -------------------------------------------------------------------------------
def encode(value: Any, *, exceptions: bool = False) -> Any:
    """``value`` as JSON-ready tagged data; BoundaryError for anything but plain data.

    ``exceptions=True`` (host to worker only) lets exception objects through as type name
    and message.
    """
    cls = type(value)
    if cls is str or cls is float or cls is bool or value is None:
        return value
    if cls is int and -_BIG < value < _BIG:
        return value
    try:
        return _Encoder(exceptions).encode(value)
    except RecursionError:
        raise BoundaryError(
            "a value nested too deeply cannot cross between script and host"
        ) from None


class _Encoder:
    __slots__ = ("count", "exceptions", "memo")

    def __init__(self, exceptions: bool) -> None:
        self.memo: dict[int, int] = {}
        self.count = 0
        self.exceptions = exceptions

    def encode(self, x: Any) -> Any:
        cls = type(x)
        if cls is str or cls is float or cls is bool or x is None:
            return x
        if cls is int:
            return x if -_BIG < x < _BIG else ["I", format(x, "x")]
        key = id(x)
        ref = self.memo.get(key)
        if ref is not None:
            return ["r", ref]
        encode = self.encode
        if cls is list:
            self._register(key)
            out: list[Any] = ["l"]
            out.extend(map(encode, x))
            return out
        if cls is dict:
            self._register(key)
            out = ["d"]
            for k, v in x.items():
                out.append(encode(k))
                out.append(encode(v))
            return out
        if cls is tuple:
            items = list(map(encode, x))
            ref = self.memo.get(key)
            if ref is not None:  # built meanwhile through a cycle: deepcopy returns that one
                return ["T", ref, *items]
            self._register(key)
            return ["t", *items]
        if cls is set or cls is frozenset:
            # members are hashable, so no cycle can lead back here before registration
            items = list(map(encode, x))
            self._register(key)
            return ["s" if cls is set else "f", *items]
        atom = _ATOM_ENCODERS.get(cls)
        if atom is not None:
            return atom(x, encode)
        if self.exceptions and isinstance(x, BaseException):
            return ["X", *describe_exception(x)]
        name = getattr(x, "__qualname__", getattr(x, "__name__", None))
        raise Unsendable(
            f"a {_describe(x)} cannot cross between script and host: only plain data "
            "(None, bool, int, float, str, bytes, dates, dict, list, tuple, set) may",
            cls.__name__,
            name if type(name) is str else None,
        )

    def _register(self, key: int) -> None:
        self.memo[key] = self.count
        self.count += 1


def _tz(tz: datetime.tzinfo | None, offset: datetime.timedelta | None) -> Any:
    if tz is None or offset is None:
        return None
    if type(tz) is datetime.timezone:
        # (offset,) or (offset, name): the constructor's own arguments
        args = tz.__getinitargs__()  # type: ignore[attr-defined]
        name = args[1] if len(args) > 1 else None
        return [offset.days, offset.seconds, offset.microseconds, name]
    # another tzinfo (zoneinfo...): its rules do not cross, the fixed offset of this instant does
    return [offset.days, offset.seconds, offset.microseconds, None]


def _encode_datetime(x: datetime.datetime, encode: Any) -> Any:
    return [
        "dt",
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


def _encode_time(x: datetime.time, encode: Any) -> Any:
    return ["tm", x.hour, x.minute, x.second, x.microsecond, x.fold, _tz(x.tzinfo, x.utcoffset())]


def _encode_timezone(x: datetime.timezone, encode: Any) -> Any:
    return ["tz", _tz(x, x.utcoffset(None))]


_ATOM_ENCODERS: dict[type, Callable[[Any, Any], Any]] = {
    bytes: lambda x, encode: ["b", base64.b64encode(x).decode("ascii")],
    complex: lambda x, encode: ["c", x.real, x.imag],
    datetime.date: lambda x, encode: ["date", x.year, x.month, x.day],
    datetime.datetime: _encode_datetime,
    datetime.time: _encode_time,
    datetime.timedelta: lambda x, encode: ["td", x.days, x.seconds, x.microseconds],
    datetime.timezone: _encode_timezone,
    decimal.Decimal: lambda x, encode: ["dec", str(x)],
    fractions.Fraction: lambda x, encode: ["frac", encode(x.numerator), encode(x.denominator)],
    uuid.UUID: lambda x, encode: ["uuid", x.hex],
    range: lambda x, encode: ["range", encode(x.start), encode(x.stop), encode(x.step)],
    type(Ellipsis): lambda x, encode: ["..."],
}


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
def decode(data: Any, *, exceptions: bool = False) -> Any:
    """The value ``encode`` described; ProtocolError for anything malformed.

    ``exceptions=False`` (what the host uses on data from a worker) refuses exceptions too.
    """
    cls = type(data)
    if cls is str or cls is int or cls is float or cls is bool or data is None:
        return data
    try:
        return _Decoder(exceptions).decode(data)
    except ProtocolError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, OverflowError) as exc:
        # unhashable keys, bad dates, wrong arities...: a malformed message, not a host bug
        raise ProtocolError(f"malformed value ({type(exc).__name__}: {exc})") from None
    except (RecursionError, MemoryError) as exc:
        raise ProtocolError(f"value too deep or too large ({type(exc).__name__})") from None


class _Decoder:
    __slots__ = ("exceptions", "memo")

    def __init__(self, exceptions: bool) -> None:
        self.memo: list[Any] = []
        self.exceptions = exceptions

    def decode(self, x: Any) -> Any:
        cls = type(x)
        if cls is str or cls is int or cls is float or cls is bool or x is None:
            return x
        if cls is not list or not x:
            raise ProtocolError(f"unexpected JSON {cls.__name__}")
        tag = x[0]
        decode = self.decode
        if tag == "l":
            new: list[Any] = []
            self.memo.append(new)
            new.extend(map(decode, x[1:]))
            return new
        if tag == "d":
            if len(x) % 2 != 1:
                raise ProtocolError("a dict needs key/value pairs")
            mapping: dict[Any, Any] = {}
            self.memo.append(mapping)
            for i in range(1, len(x), 2):
                key = decode(x[i])
                mapping[key] = decode(x[i + 1])
            return mapping
        if tag == "t":
            made = tuple(map(decode, x[1:]))
            self.memo.append(made)
            return made
        if tag == "T":
            ref = x[1]
            for item in x[2:]:
                decode(item)
            return self._ref(ref)
        if tag in ("s", "f"):
            items = list(map(decode, x[1:]))
            made_set: Any = set(items) if tag == "s" else frozenset(items)
            self.memo.append(made_set)
            return made_set
        if tag == "r":
            if len(x) != 2:
                raise ProtocolError("a reference has one index")
            return self._ref(x[1])
        if tag == "I":
            if len(x) != 2 or type(x[1]) is not str or len(x[1]) > 1 << 24:
                raise ProtocolError("a big int is one hex string")
            return int(x[1], 16)
        if tag == "X" and self.exceptions and len(x) == 4:
            return rebuild_described(x[1], x[2], x[3])
        atom = _ATOM_DECODERS.get(tag) if type(tag) is str else None
        if atom is None:
            raise ProtocolError(f"unknown tag {str(tag)[:20]!r}")
        return atom(self, x)

    def _ref(self, ref: Any) -> Any:
        if type(ref) is not int or not 0 <= ref < len(self.memo):
            raise ProtocolError("a reference to nothing")
        return self.memo[ref]

    def integer(self, x: Any) -> int:
        value = self.decode(x)
        if type(value) is not int:
            raise ProtocolError("an int was expected")
        return value


def _plain_int(x: Any) -> int:
    if type(x) is not int:
        raise ProtocolError("an int was expected")
    return x


def _plain_float(x: Any) -> float:
    if type(x) is int:
        return float(x)
    if type(x) is not float:
        raise ProtocolError("a float was expected")
    return x


def _decode_tz(x: Any) -> datetime.timezone | None:
    if x is None:
        return None
    if type(x) is not list or len(x) != 4:
        raise ProtocolError("a timezone is [days, seconds, microseconds, name]")
    offset = datetime.timedelta(_plain_int(x[0]), _plain_int(x[1]), _plain_int(x[2]))
    name = x[3]
    if name is None:
        return datetime.timezone(offset)
    if type(name) is not str:
        raise ProtocolError("a timezone name is a str")
    return datetime.timezone(offset, name)


def _arity(x: list[Any], n: int) -> list[Any]:
    if len(x) != n:
        raise ProtocolError(f"{x[0]!r} takes {n - 1} fields")
    return x


def _decode_bytes(d: _Decoder, x: list[Any]) -> bytes:
    text = _arity(x, 2)[1]
    if type(text) is not str:
        raise ProtocolError("bytes travel as base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ProtocolError("bad base64") from None


def _decode_complex(d: _Decoder, x: list[Any]) -> complex:
    _arity(x, 3)
    return complex(_plain_float(x[1]), _plain_float(x[2]))


def _decode_date(d: _Decoder, x: list[Any]) -> datetime.date:
    _arity(x, 4)
    return datetime.date(_plain_int(x[1]), _plain_int(x[2]), _plain_int(x[3]))


def _decode_datetime(d: _Decoder, x: list[Any]) -> datetime.datetime:
    _arity(x, 10)
    year, month, day, hour, minute, second, micro, fold = (_plain_int(v) for v in x[1:9])
    return datetime.datetime(
        year, month, day, hour, minute, second, micro, tzinfo=_decode_tz(x[9]), fold=fold
    )


def _decode_time(d: _Decoder, x: list[Any]) -> datetime.time:
    _arity(x, 7)
    h, mi, s, us, fold = (_plain_int(v) for v in x[1:6])
    return datetime.time(h, mi, s, us, tzinfo=_decode_tz(x[6]), fold=fold)


def _decode_timedelta(d: _Decoder, x: list[Any]) -> datetime.timedelta:
    _arity(x, 4)
    return datetime.timedelta(_plain_int(x[1]), _plain_int(x[2]), _plain_int(x[3]))


def _decode_timezone(d: _Decoder, x: list[Any]) -> datetime.timezone:
    tz = _decode_tz(_arity(x, 2)[1])
    if tz is None:
        raise ProtocolError("a timezone needs an offset")
    return tz


def _decode_decimal(d: _Decoder, x: list[Any]) -> decimal.Decimal:
    text = _arity(x, 2)[1]
    if type(text) is not str or len(text) > 1 << 20:
        raise ProtocolError("a decimal travels as its text")
    try:
        return decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise ProtocolError("bad decimal") from None


def _decode_fraction(d: _Decoder, x: list[Any]) -> fractions.Fraction:
    _arity(x, 3)
    numerator, denominator = d.integer(x[1]), d.integer(x[2])
    if denominator <= 0:
        raise ProtocolError("a fraction's denominator is positive")
    return fractions.Fraction(numerator, denominator)


def _decode_uuid(d: _Decoder, x: list[Any]) -> uuid.UUID:
    text = _arity(x, 2)[1]
    if type(text) is not str:
        raise ProtocolError("a uuid travels as hex")
    return uuid.UUID(hex=text)


def _decode_range(d: _Decoder, x: list[Any]) -> range:
    _arity(x, 4)
    return range(d.integer(x[1]), d.integer(x[2]), d.integer(x[3]))


def _decode_ellipsis(d: _Decoder, x: list[Any]) -> Any:
    _arity(x, 1)
    return Ellipsis


_ATOM_DECODERS: dict[str, Callable[[_Decoder, list[Any]], Any]] = {
    "b": _decode_bytes,
    "c": _decode_complex,
    "date": _decode_date,
    "dt": _decode_datetime,
    "tm": _decode_time,
    "td": _decode_timedelta,
    "tz": _decode_timezone,
    "dec": _decode_decimal,
    "frac": _decode_fraction,
    "uuid": _decode_uuid,
    "range": _decode_range,
    "...": _decode_ellipsis,
}
