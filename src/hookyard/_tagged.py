"""Plain data as JSON that keeps its types: the values of a recording (``_record``).

JSON's own types stand for themselves: str, int, finite float, bool, None, list, and a
dict whose keys are all str and none starts with ``$``. Every other plain type is an
object with one ``$``-key naming it, readable and editable by hand::

    {"$tuple": [1, 2]}                {"$set": [...]}          {"$frozenset": [...]}
    {"$dict": [[key, value], ...]}    {"$bytes": "base64"}     {"$float": "nan"}
    {"$int": "-0x1f..."}              {"$complex": [re, im]}   {"$decimal": "1.10"}
    {"$fraction": [1, 3]}             {"$uuid": "..."}         {"$range": [0, 10, 2]}
    {"$date": "2024-05-01"}           {"$timedelta": [days, seconds, microseconds]}
    {"$datetime": ["2024-05-01T12:00:00.000001", fold, zone]}  {"$ellipsis": null}
    {"$time": ["12:00:00", fold, zone]}  {"$timezone": zone}

(a zone is ``null`` or ``[days, seconds, microseconds, name]``, as on the worker wire).
A value in which some container is reached twice (a shared reference, a cycle) is kept
whole as ``{"$wire": "base64"}``: the worker wire's encoding (``_wire``), which keeps
sharing and cycles as ``copy.deepcopy`` does. Trees, the common case, never pay for it.

Redaction: the value under any dict key that contains one of the redacted words, in any
case and at any depth, is stored as ``"***"``.

``decode`` reads what ``encode`` wrote, or a hand-edited variant of it, as data only: any
other shape is a ``TaggedError`` saying what is wrong, never a host object.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import fractions
import math
import uuid
from collections.abc import Callable
from typing import Any

from ._copy import MAX_NESTING, to_script
from ._wire import ProtocolError, parse
from ._wire_encode import encode as wire_encode
from ._wire_encode import frame
from .errors import BoundaryError

__all__ = ["REDACTED", "Redactor", "TaggedError", "decode", "encode", "encode_host"]

REDACTED = "***"
_DEEPEST = MAX_NESTING + 8  # what decode accepts: what encode can write, with room
_BIG = 1 << 1000  # ints past this go as hex: decimal text is capped (int_max_str_digits)
_TEXT = 1 << 20  # characters of a decimal, an int's hex or a date a decoder takes


class TaggedError(ValueError):
    """A value in a recording is not what ``encode`` writes."""


class _Shared(Exception):
    """A container was reached twice: the value goes whole as the wire's encoding."""


class Redactor:
    """Which dict keys hold secrets: any key containing one of ``words``, in any case.

    Answers are cached per key (keys repeat call after call: field names), so a recorded
    call pays a dictionary lookup per key, not a lower-casing and a search per word.
    """

    __slots__ = ("_cache", "words")

    def __init__(self, words: tuple[str, ...]) -> None:
        self.words = tuple(word.lower() for word in words)
        self._cache: dict[str, bool] = {}

    def __call__(self, key: Any) -> bool:
        if type(key) is not str or not self.words:
            return False
        found = self._cache.get(key)
        if found is None:
            lowered = key.lower()
            found = any(word in lowered for word in self.words)
            if len(self._cache) >= 4096:
                self._cache.clear()  # bounded: keys could be data, not field names
            self._cache[key] = found
        return found


_NO_SECRETS = Redactor(())
_TEXT_TYPES = frozenset({str, bool, type(None)})
_JSON_TYPES = _TEXT_TYPES | {int, float}


def _fits(x: Any) -> bool:
    """A JSON scalar written as itself: no int past ``_BIG``, no NaN or infinity."""
    cls = type(x)
    if cls is int:
        return bool(-_BIG < x < _BIG)
    return cls is not float or math.isfinite(x)


# -- encoding -----------------------------------------------------------------------------
def _untagged(value: Any) -> bool:
    """A JSON scalar, or a list of them: written as itself (C-level tests for a list)."""
    cls = type(value)
    if cls is str or cls is bool or value is None or (cls is int and -_BIG < value < _BIG):
        return True
    if cls is list:
        kinds = set(map(type, value))
        return kinds <= _TEXT_TYPES or (kinds <= _JSON_TYPES and all(map(_fits, value)))
    return False


def encode(value: Any, secret: Redactor = _NO_SECRETS) -> Any:
    """``value`` (plain data) as JSON-ready data; BoundaryError for anything else.

    What needs no change may come back as itself: ``value`` must be a copy no one changes
    before it is written (a recording encodes copies made for it alone).
    """
    if _untagged(value):
        return value  # a call's arguments, often: nothing to tag (and a copy already)
    try:
        return _Encoder(secret).value(value, 0)
    except _Shared:
        pass
    copy = _redacted(value, secret, {})
    payload = frame(["value", wire_encode(copy)])[4:]
    return {"$wire": base64.b64encode(payload).decode("ascii")}


def encode_host(value: Any, secret: Redactor = _NO_SECRETS) -> Any:
    """``encode(to_script(value), secret)`` without the copy where it changes nothing.

    The encoding is itself a copy: it builds new containers all the way down, so the
    host's value is encoded as it is when it is plain data throughout: exact plain types
    (no subclass, dataclass or enum, which ``to_script`` converts), dates whose zone is a
    ``datetime.timezone`` or none, and no container reached twice (``to_script`` keeps
    sharing, which the wire's encoding records). Anything else takes the copy first, so
    the result is the same either way (tests/test_rollout_tagged.py checks it).
    """
    if _untagged(value):
        # the host's list: the line gets a copy of its own
        return value.copy() if type(value) is list else value
    if type(value) is dict and not value:
        return {}
    try:
        return _Encoder(secret, _HOST_ATOMS).value(value, 0)
    except (_Shared, BoundaryError):
        pass  # shared, or converted for scripts: as the scripts' copy is
    return encode(to_script(value), secret)


def _zone(zone: datetime.tzinfo | None, when: Any) -> Any:
    """``[days, seconds, microseconds, name]`` of ``when``'s zone (a datetime or time),
    or of ``zone`` itself (``when`` None); None for a naive value. A ``timezone`` gives
    its constructor's own arguments (a name only where one was given), as on the wire."""
    if zone is None:
        return None
    offset = zone.utcoffset(None) if when is None else when.utcoffset()
    if offset is None:
        return None
    if type(zone) is datetime.timezone:
        given = zone.__getinitargs__()  # type: ignore[attr-defined]  # (offset[, name])
        name = given[1] if len(given) > 1 else None
    else:
        shown = zone.tzname(None) if when is None else when.tzname()
        name = shown if type(shown) is str else None
    return [offset.days, offset.seconds, offset.microseconds, name]


def _float(x: float) -> Any:
    return x if math.isfinite(x) else {"$float": repr(x)}


def _int(x: int) -> Any:
    return x if -_BIG < x < _BIG else {"$int": hex(x)}


_ATOMS: dict[type, Callable[[Any], Any]] = {
    float: _float,
    int: _int,
    bytes: lambda x: {"$bytes": base64.b64encode(x).decode("ascii")},
    complex: lambda x: {"$complex": [_float(x.real), _float(x.imag)]},
    decimal.Decimal: lambda x: {"$decimal": str(x)},
    fractions.Fraction: lambda x: {"$fraction": [_int(x.numerator), _int(x.denominator)]},
    uuid.UUID: lambda x: {"$uuid": str(x)},
    range: lambda x: {"$range": [_int(x.start), _int(x.stop), _int(x.step)]},
    type(Ellipsis): lambda x: {"$ellipsis": None},
    datetime.date: lambda x: {"$date": x.isoformat()},
    datetime.datetime: lambda x: {
        "$datetime": [x.replace(tzinfo=None).isoformat(), x.fold, _zone(x.tzinfo, x)]
    },
    datetime.time: lambda x: {
        "$time": [x.replace(tzinfo=None).isoformat(), x.fold, _zone(x.tzinfo, x)]
    },
    datetime.timedelta: lambda x: {"$timedelta": [x.days, x.seconds, x.microseconds]},
    datetime.timezone: lambda x: {"$timezone": _zone(x, None)},
}


def _plain_zone(encode: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``encode`` for a datetime or time whose zone ``to_script`` keeps as it is."""

    def plain(x: Any) -> Any:
        zone = x.tzinfo
        if zone is not None and type(zone) is not datetime.timezone:
            raise BoundaryError("a zone other than datetime.timezone: to_script fixes it")
        return encode(x)

    return plain


# what encode_host encodes straight from the host's value: to_script keeps these as they are
_HOST_ATOMS = {
    **_ATOMS,
    datetime.datetime: _plain_zone(_ATOMS[datetime.datetime]),
    datetime.time: _plain_zone(_ATOMS[datetime.time]),
}


class _Encoder:
    __slots__ = ("atoms", "secret", "seen")

    def __init__(self, secret: Redactor, atoms: dict[type, Callable[[Any], Any]] = _ATOMS) -> None:
        self.secret = secret
        self.atoms = atoms
        self.seen: set[int] = set()

    def value(self, x: Any, depth: int) -> Any:
        cls = type(x)
        if cls is str or cls is bool or x is None:
            return x
        atom = self.atoms.get(cls)
        if atom is not None:
            return atom(x)
        if cls not in _CONTAINERS:
            raise BoundaryError(f"a {cls.__name__} is not plain data and cannot be recorded")
        if depth >= MAX_NESTING:
            raise BoundaryError("a value nested too deeply to record")
        key = id(x)
        if key in self.seen:
            raise _Shared
        self.seen.add(key)
        depth += 1
        value = self.value
        if cls is list:
            return [value(item, depth) for item in x]
        if cls is dict:
            secret = self.secret
            if all(type(k) is str and not k.startswith("$") for k in x):
                return {k: REDACTED if secret(k) else value(v, depth) for k, v in x.items()}
            return {
                "$dict": [
                    [value(k, depth), REDACTED if secret(k) else value(v, depth)]
                    for k, v in x.items()
                ]
            }
        items = [value(item, depth) for item in x]
        return {"$tuple" if cls is tuple else "$set" if cls is set else "$frozenset": items}


_CONTAINERS = frozenset({list, dict, tuple, set, frozenset})


def _redacted(x: Any, secret: Redactor, memo: dict[int, Any]) -> Any:
    """A copy of ``x`` with secrets replaced, keeping shared references and cycles."""
    cls = type(x)
    if cls not in _CONTAINERS:
        return x
    done = memo.get(id(x))
    if done is not None:
        return done
    if cls is list:
        new_list: list[Any] = []
        memo[id(x)] = new_list
        new_list.extend(_redacted(item, secret, memo) for item in x)
        return new_list
    if cls is dict:
        new_dict: dict[Any, Any] = {}
        memo[id(x)] = new_dict
        for k, v in x.items():
            new_dict[_redacted(k, secret, memo)] = (
                REDACTED if secret(k) else _redacted(v, secret, memo)
            )
        return new_dict
    items = [_redacted(item, secret, memo) for item in x]
    made = memo.get(id(x))  # built meanwhile through a cycle: that one, as deepcopy does
    if made is None:
        made = memo[id(x)] = cls(items)
    return made


# -- decoding -----------------------------------------------------------------------------
def decode(data: Any, depth: int = 0) -> Any:
    """What ``encode`` made of a value, back as that value; TaggedError for other shapes."""
    cls = type(data)
    if cls is str or cls is int or cls is float or cls is bool or data is None:
        return data
    if depth >= _DEEPEST:
        raise TaggedError("a value nested too deeply")
    depth += 1
    if cls is list:
        return [decode(item, depth) for item in data]
    if cls is not dict:
        raise TaggedError(f"unexpected {cls.__name__}")
    tags = [key for key in data if key.startswith("$")]
    if not tags:
        return {key: decode(item, depth) for key, item in data.items()}
    if len(data) != 1:
        raise TaggedError(f"a tagged value has one key, not {sorted(data)[:4]}")
    tag = tags[0]
    reader = _READERS.get(tag)
    if reader is None:
        raise TaggedError(f"unknown tag {tag[:40]!r}")
    try:
        return reader(data[tag], depth)
    except TaggedError:
        raise
    except (ArithmeticError, ValueError, TypeError, decimal.InvalidOperation) as exc:
        raise TaggedError(f"bad {tag}: {exc}") from None


def _items(data: Any, depth: int) -> list[Any]:
    if type(data) is not list:
        raise TaggedError("a list was expected")
    return [decode(item, depth) for item in data]


def _text(data: Any) -> str:
    if type(data) is not str or len(data) > _TEXT:
        raise TaggedError("a string was expected")
    return data


def _whole(data: Any) -> int:
    if type(data) is int:
        return data
    if type(data) is dict and set(data) == {"$int"}:
        return _hex(data["$int"], 0)
    raise TaggedError("an int was expected")


def _hex(data: Any, depth: int) -> int:
    return int(_text(data), 16)


def _real(data: Any) -> float:
    if type(data) is float or type(data) is int:
        return float(data)
    if type(data) is dict and set(data) == {"$float"}:
        return _special_float(data["$float"], 0)
    raise TaggedError("a float was expected")


def _special_float(data: Any, depth: int) -> float:
    if data not in ("nan", "inf", "-inf"):
        raise TaggedError("$float is 'nan', 'inf' or '-inf'")
    return float(data)


def _fields(data: Any, count: int) -> list[Any]:
    if type(data) is not list or len(data) != count:
        raise TaggedError(f"a list of {count} was expected")
    return data


def _zone_of(data: Any) -> datetime.timezone | None:
    if data is None:
        return None
    days, seconds, microseconds, name = _fields(data, 4)
    offset = datetime.timedelta(_whole(days), _whole(seconds), _whole(microseconds))
    if name is None:
        return datetime.timezone(offset)
    return datetime.timezone(offset, _text(name))


def _moment(kind: type[Any]) -> Callable[[Any, int], Any]:
    def read(data: Any, depth: int) -> Any:
        text, fold, zone = _fields(data, 3)
        value = kind.fromisoformat(_text(text))
        if value.tzinfo is not None:
            raise TaggedError("the zone goes apart from the ISO text")
        return value.replace(tzinfo=_zone_of(zone), fold=_whole(fold))

    return read


def _timezone(data: Any, depth: int) -> datetime.timezone:
    zone = _zone_of(data)
    if zone is None:
        raise TaggedError("$timezone needs an offset")
    return zone


def _pairs(data: Any, depth: int) -> dict[Any, Any]:
    if type(data) is not list:
        raise TaggedError("$dict holds [key, value] pairs")
    made: dict[Any, Any] = {}
    for pair in data:
        key, value = _fields(pair, 2)
        made[decode(key, depth)] = decode(value, depth)
    return made


def _fraction(data: Any, depth: int) -> fractions.Fraction:
    numerator, denominator = _fields(data, 2)
    return fractions.Fraction(_whole(numerator), _whole(denominator))


def _wire(data: Any, depth: int) -> Any:
    try:
        payload = base64.b64decode(_text(data), validate=True)
        message = parse(payload)
    except (binascii.Error, ProtocolError) as exc:
        raise TaggedError(f"$wire is not a wire-encoded value ({exc})") from None
    if len(message) != 2 or message[0] != "value":
        raise TaggedError("$wire is not a wire-encoded value")
    return message[1]


_READERS: dict[str, Callable[[Any, int], Any]] = {
    "$tuple": lambda data, depth: tuple(_items(data, depth)),
    "$set": lambda data, depth: set(_items(data, depth)),
    "$frozenset": lambda data, depth: frozenset(_items(data, depth)),
    "$dict": _pairs,
    "$bytes": lambda data, depth: base64.b64decode(_text(data), validate=True),
    "$float": _special_float,
    "$int": _hex,
    "$complex": lambda data, depth: complex(*(_real(part) for part in _fields(data, 2))),
    "$decimal": lambda data, depth: decimal.Decimal(_text(data)),
    "$fraction": _fraction,
    "$uuid": lambda data, depth: uuid.UUID(_text(data)),
    "$range": lambda data, depth: range(*(_whole(part) for part in _fields(data, 3))),
    "$ellipsis": lambda data, depth: Ellipsis,
    "$date": lambda data, depth: datetime.date.fromisoformat(_text(data)),
    "$datetime": _moment(datetime.datetime),
    "$time": _moment(datetime.time),
    "$timedelta": lambda data, depth: datetime.timedelta(
        *(_whole(part) for part in _fields(data, 3))
    ),
    "$timezone": _timezone,
    "$wire": _wire,
}
