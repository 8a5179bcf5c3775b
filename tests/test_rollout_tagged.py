"""The values of a recording: plain data written as JSON and read back with its types
(``hookyard._tagged``, what ``engine.record`` writes and ``hookyard replay`` reads)."""

from __future__ import annotations

import datetime
import decimal
import fractions
import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookyard._record import _json_line
from hookyard._tagged import Redactor, TaggedError, decode, encode
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
