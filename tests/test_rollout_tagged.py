"""The values of a recording: plain data written as JSON and read back with its types
(``hookyard._tagged``, what ``engine.record`` writes and ``hookyard replay`` reads)."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import json
import math
import os
import uuid
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookyard._copy import to_script
from hookyard._hookpoint import PointOptions
from hookyard._record import CallRecord, Recorder, _json_line
from hookyard._tagged import Redactor, TaggedError, decode, encode, encode_host
from hookyard.errors import BoundaryError
from tests.test_wire import atoms as wire_atoms
from tests.test_wire import hashable
from tests.test_wire import plain as wire_plain

NAMED_ZONES = st.builds(
    datetime.timezone,
    st.timedeltas(min_value=datetime.timedelta(hours=-23), max_value=datetime.timedelta(hours=23)),
    st.text(),
)
# the wire's plain data (tests/test_wire.py), and what only a recording adds: str-keyed
# dicts as JSON objects, named fixed zones, non-finite floats, huge ints, ranges, Ellipsis
ATOMS = wire_atoms | st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.just(float("inf")),
    st.datetimes(timezones=NAMED_ZONES, allow_imaginary=False),
    st.times(timezones=st.none() | NAMED_ZONES),
    NAMED_ZONES,
    st.builds(range, st.integers(-5, 5), st.integers(-5, 5), st.integers(1, 3)),
    st.just(Ellipsis),
)
VALUES = wire_plain | st.recursive(
    ATOMS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(), inner, max_size=4)
        | st.dictionaries(hashable, inner, max_size=3)
    ),
    max_leaves=12,
)


def shape(value: Any) -> Any:
    """What must survive: types, and values (NaN compared by its text)."""
    if isinstance(value, dict):
        return ("dict", sorted((repr(shape(k)), shape(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (type(value).__name__, [shape(item) for item in value])
    if isinstance(value, set | frozenset):
        return (type(value).__name__, sorted(repr(shape(item)) for item in value))
    if isinstance(value, datetime.datetime | datetime.time):
        return (type(value).__name__, repr(value), value.fold, repr(value.tzinfo))
    return (type(value).__name__, repr(value))


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_plain_data_reads_back_as_written(value: Any) -> None:
    """Whatever plain data a call carries reads back with the same types and values."""
    text = json.dumps(encode(value), allow_nan=False)
    assert shape(decode(json.loads(text))) == shape(value)


# lone low surrogates only: a high one before a low one reads back as one astral
# character (JSON has no way to keep such a pair apart; json.dumps does the same)
ODD_TEXT = st.text(st.sampled_from('a"\\\x00\x1f\x7fé€\u2028\u2029\udc80\udfff\U0001f600'))


@settings(max_examples=300, deadline=None)
@given(st.lists(VALUES | ODD_TEXT, max_size=4))
def test_a_recording_line_reads_back_as_written(value: Any) -> None:
    """A call's values written as a recording's line (lone surrogates, line separators,
    huge ints and NaN included) are one line that reads back with the same types."""
    line = _json_line({"args": encode(value)})
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    text = line.decode("utf-8")
    assert len(text.splitlines()) == 1
    assert shape(decode(json.loads(text)["args"])) == shape(value)


def test_shared_references_and_cycles_survive() -> None:
    """A value that reaches a container twice keeps that shape (and a cycle its cycle)."""
    shared = [1, 2]
    value: list[Any] = [shared, shared, {"k": shared}]
    value.append(value)
    back = decode(json.loads(json.dumps(encode(value))))
    assert back[0] is back[1] is back[2]["k"]
    assert back[3] is back


def test_redaction_reaches_every_depth_and_case() -> None:
    """Any dict key containing a redacted word, in any case, at any depth, in plain and
    tagged dicts and in shared values alike."""
    secret = Redactor(("token",))
    value = {"a": [{"X-Auth-TOKEN": "s1"}], 1: {"token": "s2"}, "Tokens": ("s3",)}
    assert "s1" not in json.dumps(encode(value, secret))
    shared = {"apiToken": "s4"}
    assert "s4" not in json.dumps(encode([shared, shared], secret))
    assert decode(json.loads(json.dumps(encode([shared, shared], secret))))[0] == {
        "apiToken": "***"
    }


@pytest.mark.parametrize(
    "data",
    [
        {"$tuple": 1},
        {"$set": [[1]]},
        {"$date": "not a date"},
        {"$fraction": [1, 0]},
        {"$datetime": ["2024-01-01T00:00:00+01:00", 0, None]},
        {"$wire": "AAAA"},
        {"$tuple": [], "x": 1},
        {"$what": None},
        {"$int": "zz"},
        {"$float": "NaN!"},
    ],
)
def test_malformed_values_are_refused(data: Any) -> None:
    """Anything that is not what encode writes is a TaggedError, never a host object."""
    with pytest.raises(TaggedError):
        decode(data)


def test_deep_nesting_is_refused() -> None:
    """A hand-made value nested past the boundary's limit is refused, not recursed into."""
    data: Any = 1
    for _ in range(500):
        data = [data]
    with pytest.raises(TaggedError, match="too deeply"):
        decode(data)


def test_every_special_value_has_a_tag() -> None:
    """Values JSON cannot hold as themselves are written as tags (never as lossy JSON)."""
    for value in (
        float("nan"),
        10**500,
        b"x",
        (1,),
        {1: 2},
        {"$x": 1},
        decimal.Decimal("1.5"),
        fractions.Fraction(1, 3),
        uuid.UUID(int=1),
        Ellipsis,
    ):
        encoded = encode(value)
        assert isinstance(encoded, dict) and next(iter(encoded)).startswith("$"), value
        back = decode(json.loads(json.dumps(encoded)))
        assert type(back) is type(value)
        assert (back == value) or (isinstance(value, float) and math.isnan(back))


@dataclasses.dataclass
class _Order:
    id: int
    tags: list[str]


class _Colour(enum.Enum):
    RED = "red"


class _Counts(dict[str, int]):
    pass


# what to_script converts (a host's conveniences), and values that reach a container twice
HOST_ONLY = st.one_of(
    st.builds(_Order, st.integers(), st.lists(st.text(), max_size=2)),
    st.just(_Colour.RED),
    st.builds(_Counts, st.dictionaries(st.text(), st.integers(), max_size=2)),
    st.builds(lambda zone: datetime.datetime(2024, 5, 1, 12, tzinfo=zone), st.none()),
    st.builds(lambda xs: [xs, xs], st.lists(st.integers(), max_size=2)),
    st.builds(lambda xs: (xs, {"k": xs}), st.sets(st.integers(), max_size=2)),
)
HOST_VALUES = st.recursive(
    ATOMS | HOST_ONLY,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.sampled_from("ab$Token")), inner, max_size=4)
        | st.tuples(inner, inner)
    ),
    max_leaves=10,
)


def _containers(value: Any, found: set[int]) -> set[int]:
    if isinstance(value, list | dict | set):
        if id(value) not in found:
            found.add(id(value))
            for item in value.items() if isinstance(value, dict) else value:
                _containers(item, found)
    elif isinstance(value, tuple):
        for item in value:
            _containers(item, found)
    return found


@settings(max_examples=300, deadline=None)
@given(VALUES | HOST_VALUES)
def test_host_values_encode_as_the_scripts_copy(value: Any) -> None:
    """encode_host (the recording's arguments and results, with no copy first) writes
    exactly what encoding the scripts' copy writes, redaction included, and the result
    shares no mutable container with the host's value (the host may change it later)."""
    secret = Redactor(("token",))
    fast = encode_host(value, secret)
    text, copied = json.dumps(fast), json.dumps(encode(to_script(value), secret))
    # a set's copy may iterate in another order: the same set, other text
    if "$set" not in copied and "$frozenset" not in copied:
        assert text == copied
    assert shape(decode(json.loads(text))) == shape(decode(json.loads(copied)))
    assert not _containers(fast, set()) & _containers(value, set())


def test_host_values_that_cannot_cross_are_refused() -> None:
    """encode_host refuses what to_script refuses (a function), as a BoundaryError."""
    with pytest.raises(BoundaryError):
        encode_host([1, print])


@dataclasses.dataclass(frozen=True)
class _Script:
    name: str
    version: str | None


SCRIPT_OUTCOMES = st.lists(
    st.tuples(
        st.builds(
            _Script,
            st.sampled_from(["10-a.py", "20-b.shadow.py", "x\udc80.py"]),
            st.none() | st.text(max_size=3),
        ),
        st.sampled_from(["pre", "post", "error"]),
        st.sampled_from(["ok", "veto", "error", "skipped"]),
        st.none() | ODD_TEXT,
    ),
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(VALUES | ODD_TEXT, max_size=3),
    st.dictionaries(st.text(max_size=3), VALUES | ODD_TEXT, max_size=2),
    VALUES | ODD_TEXT,
    SCRIPT_OUTCOMES,
    st.sampled_from(["create", "re\u2028name"]),
    st.booleans(),
)
def test_the_recorders_line_is_the_general_line(
    args: list[Any], kwargs: dict[str, Any], result: Any, scripts: Any, point: str, veto: bool
) -> None:
    """The Recorder's line (its constant parts encoded once, per point options and per
    script outcome) is byte for byte the line of the general encoding of the same call
    (the same data where a lone surrogate sends the general line through json)."""
    recorder = Recorder(point, os.devnull, limit=10, redact=("token",), on_limit=lambda: None)
    try:
        options = PointOptions(veto=veto)
        for _ in range(2):  # the second time from the recorder's caches
            record = CallRecord(recorder, options, encode_host(args), encode_host(kwargs))
            record.hosted(result)
            record.returned(result)
            record.scripts.extend(scripts)
            when = 1_717_000_000.25
            line = record.as_line(point, recorder.redact, when)
            fast, expected = recorder.line(record, when), _json_line(line)
            assert json.loads(fast) == json.loads(expected)
            try:
                msgspec.json.encode(line)
            except UnicodeEncodeError:
                continue  # a lone surrogate: the general line is json's, escaped otherwise
            assert fast == expected
    finally:
        recorder.close()
