"""The worker channel's wire format: plain data round-trips with its shape; anything else is refused."""

from __future__ import annotations

import datetime
import decimal
import fractions
import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookyard import BoundaryError
from hookyard._wire import (
    ProtocolError,
    Unsendable,
    decode,
    encode,
    frame,
    frame_length,
    parse,
    rebuild_described,
)


def through_the_wire(value: Any, *, exceptions: bool = False) -> Any:
    """What the other side gets for ``value``: encode, frame, parse, decode."""
    data = frame(["ok", encode(value, exceptions=exceptions)])
    assert frame_length(data) == len(data) - 4
    message = parse(data[4:])
    return decode(message[1], exceptions=exceptions)


fixed_offsets = st.builds(
    datetime.timezone,
    st.timedeltas(
        min_value=datetime.timedelta(hours=-23, minutes=-59),
        max_value=datetime.timedelta(hours=23, minutes=59),
    ),
)
atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=False),
    st.complex_numbers(allow_nan=False),
    st.text(),
    st.binary(),
    st.dates(),
    # fixed offsets: a zone's rules do not cross (see test_zone_rules_cross_as_the_offset...)
    st.datetimes(timezones=st.none() | fixed_offsets),
    st.times(),
    st.timedeltas(),
    st.decimals(allow_nan=False),
    st.fractions(),
    st.uuids(),
)
hashable = st.recursive(
    atoms, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=4
)
plain = st.recursive(
    atoms,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.dictionaries(hashable, inner, max_size=4)
        | st.sets(hashable, max_size=4)
        | st.frozensets(hashable, max_size=4)
    ),
    max_leaves=20,
)


@given(plain)
def test_plain_data_round_trips_equal(value: Any) -> None:
    """Every kind of plain data comes back equal and of the same type."""
    back = through_the_wire(value)
    assert back == value
    assert type(back) is type(value)


def test_zone_rules_cross_as_the_offset_of_that_instant() -> None:
    """A datetime in a named zone (zoneinfo) comes back at the same instant, with that instant's fixed offset."""
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        zone = zoneinfo.ZoneInfo("Europe/Amsterdam")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no time zone database here")
    moment = datetime.datetime(2024, 7, 1, 12, 0, tzinfo=zone)
    back = through_the_wire(moment)
    assert back == moment
    assert back.tzinfo == datetime.timezone(datetime.timedelta(hours=2))


def test_special_floats_and_big_ints_round_trip() -> None:
    """NaN, infinities, -0.0 and ints far past 64 bits cross exactly."""
    back = through_the_wire([math.inf, -math.inf, -0.0, 10**5000, -(2**64)])
    assert back[:2] == [math.inf, -math.inf]
    assert math.copysign(1.0, back[2]) == -1.0
    assert back[3:] == [10**5000, -(2**64)]
    assert math.isnan(through_the_wire(math.nan))


def test_atoms_keep_their_details() -> None:
    """Timezones keep offset and name, decimals their exponent, ranges their step, strings their lone surrogates."""
    tz = datetime.timezone(datetime.timedelta(hours=-3, minutes=-30), "NST")
    moment = datetime.datetime(2024, 11, 3, 1, 30, tzinfo=tz, fold=1)
    values = [
        moment,
        decimal.Decimal("1.500"),
        range(10, -5, -3),
        "\ud800 lone",
        fractions.Fraction(-7, 3),
        uuid.UUID(int=5),
        ...,
    ]
    back = through_the_wire(values)
    assert back == values
    assert back[0].tzinfo.tzname(None) == "NST"
    assert back[0].fold == 1
    assert str(back[1]) == "1.500"


def test_shared_references_and_cycles_keep_their_shape() -> None:
    """Shared sub-values stay shared and cycles stay cycles, as copy.deepcopy keeps them."""
    shared = [1, 2]
    loop: list[Any] = []
    loop.append(loop)
    d: dict[str, Any] = {}
    d["self"] = d
    back = through_the_wire([shared, shared, loop, d, (shared, shared)])
    assert back[0] is back[1]
    assert back[2][0] is back[2]
    assert back[3]["self"] is back[3]
    assert back[4][0] is back[4][1] is back[0]


def test_a_tuple_inside_its_own_cycle_comes_back_as_one_object() -> None:
    """A tuple reached again through a list inside it is rebuilt once, as deepcopy does."""
    holder: list[Any] = []
    t = (holder,)
    holder.append(t)
    back = through_the_wire(t)
    assert back[0][0] is back


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (lambda: 1, "function"),
        (object(), "object object"),
        (iter([]), "list_iterator object"),
        ([1, {"a": print}], "built-in function"),
        (ValueError("x"), "ValueError object"),
    ],
)
def test_anything_but_plain_data_is_refused(value: Any, named: str) -> None:
    """Functions, objects, iterators and exceptions do not cross (exceptions only host-to-worker)."""
    with pytest.raises(Unsendable, match=named) as caught:
        encode(value)
    assert isinstance(caught.value, BoundaryError)


def test_exceptions_cross_host_to_worker_as_name_and_message() -> None:
    """With exceptions=True an exception arrives rebuilt: same type name and message, nothing else."""

    class QuotaError(LookupError):
        def __init__(self, message: str) -> None:
            super().__init__(message)
            self.secret = "host object"

    back = through_the_wire(QuotaError("over quota"), exceptions=True)
    assert type(back).__name__ == "QuotaError"
    assert isinstance(back, LookupError)
    assert str(back) == "over quota"
    assert not hasattr(back, "secret")
    assert back.__traceback__ is None


def test_too_deep_a_value_is_a_boundary_error() -> None:
    """A value nested past the interpreter's recursion limit is refused, not a RecursionError."""
    value: list[Any] = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(BoundaryError, match="nested too deeply"):
        encode(value)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"\xff\xfe",
        b'{"ok": 1}',
        b"[]",
        b"[1, 2]",
        b"[" * 100_000 + b"]" * 100_000,
        b'["ok", ' + b"9" * 5000 + b"]",
    ],
)
def test_unreadable_messages_are_protocol_errors(payload: bytes) -> None:
    """Bad JSON, bad UTF-8, objects, untagged or absurdly deep arrays, over-long numbers: ProtocolError."""
    with pytest.raises(ProtocolError):
        parse(payload)


@pytest.mark.parametrize(
    "data",
    [
        {"a": 1},
        [],
        ["pickle", "cos\nsystem"],
        ["X", "SystemExit", "SystemExit", ""],
        ["r", 0],
        ["l", ["r", 5]],
        ["d", "odd"],
        ["d", ["l"], 1],
        ["s", ["l"]],
        ["I", "zz"],
        ["b", "***"],
        ["date", 2024, 13, 1],
        ["dt", 1, 2],
        ["frac", 1, 0],
        ["range", 0, 1, 0],
        ["dec", "twelve"],
        ["tz", [0, 99999999, 0, None]],
        ["uuid", "nope"],
        ["c", "1", 2],
        [7],
    ],
)
def test_malformed_values_are_protocol_errors(data: Any) -> None:
    """Whatever the other side sends, decode builds plain data or raises ProtocolError."""
    with pytest.raises(ProtocolError):
        decode(json.loads(json.dumps(data)))


@pytest.mark.parametrize(
    ("name", "base", "expected_base"),
    [
        ("ValueError", "ValueError", ValueError),
        ("QuotaError", "LookupError", LookupError),
        ("KeyboardInterrupt", "KeyboardInterrupt", Exception),
        ("SystemExit", "BaseException", Exception),
        ("Weird", "NoSuchBase", Exception),
        ("not an identifier!", "TypeError", TypeError),
    ],
)
def test_rebuilt_exceptions_are_always_ordinary_exceptions(
    name: str, base: str, expected_base: type[Exception]
) -> None:
    """A described exception is rebuilt on an allowed built-in base; never an interpreter signal."""
    rebuilt = rebuild_described(name, base, "message")
    assert isinstance(rebuilt, expected_base)
    assert isinstance(rebuilt, Exception)
    assert not isinstance(rebuilt, KeyboardInterrupt | SystemExit | GeneratorExit)
    assert str(rebuilt) == "message"
