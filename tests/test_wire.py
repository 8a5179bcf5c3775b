"""The worker channel's wire format: plain data round-trips with its shape; anything else is refused.

The reader is fed forged MessagePack too: it must build plain data or raise ProtocolError.
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import math
import uuid
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookyard import BoundaryError, _wire
from hookyard._copy import MAX_NESTING
from hookyard._wire import ProtocolError, Unsendable, frame_length, parse, rebuild_described
from hookyard._wire_encode import encode, encode_call, frame


def through_the_wire(value: Any, *, exceptions: bool = False) -> Any:
    """What the other side gets for ``value``: encode, frame, parse."""
    data = frame(["ok", encode(value, exceptions=exceptions)])
    assert frame_length(data) == len(data) - 4
    return parse(data[4:], exceptions=exceptions)[1]


def call_through_the_wire(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """What a worker gets for a call's arguments: [args, kwargs]."""
    data = frame(["call", encode_call(args, kwargs, exceptions=True)])
    return parse(data[4:], exceptions=True)[1]


def forged(message: Any) -> bytes:
    """A payload as a hostile sender may write it: any MessagePack at all."""
    return msgspec.msgpack.encode(message)


def ext(code: int, fields: Any) -> msgspec.msgpack.Ext:
    return msgspec.msgpack.Ext(code, msgspec.msgpack.encode(fields))


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
    back = through_the_wire([math.inf, -math.inf, -0.0, 10**5000, -(2**64), 2**64 - 1, -(2**63)])
    assert back[:2] == [math.inf, -math.inf]
    assert math.copysign(1.0, back[2]) == -1.0
    assert back[3:] == [10**5000, -(2**64), 2**64 - 1, -(2**63)]
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
        "naïve ✓",
        fractions.Fraction(-7, 3),
        uuid.UUID(int=5),
        ...,
        complex(1.5, -2),
        datetime.time(23, 59, 1, 5, tzinfo=tz),
    ]
    back = through_the_wire(values)
    assert back == values
    assert [type(v) for v in back] == [type(v) for v in values]
    assert back[0].tzinfo.tzname(None) == "NST"
    assert back[0].fold == 1
    assert str(back[1]) == "1.500"


def test_dict_keys_of_every_plain_type_cross() -> None:
    """Tuple, frozenset, big-int, non-ASCII, surrogate and date keys come back as the same keys."""
    value = {
        (1, "a"): 1,
        frozenset({2}): 2,
        10**30: 3,
        "clé": 4,
        "\udcff": 5,
        datetime.date(2024, 1, 2): 6,
        None: 7,
        b"raw": 8,
        2.5: 9,
    }
    back = through_the_wire(value)
    assert back == value
    assert list(back) == list(value)  # in order


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


def test_call_arguments_share_across_args_and_kwargs() -> None:
    """A value passed twice to one call, positionally and by keyword, arrives as one object."""
    shared = {"n": [1]}
    args, kwargs = call_through_the_wire((shared, shared, "x"), {"again": shared})
    assert args == [shared, shared, "x"]
    assert args[0] is args[1] is kwargs["again"]


def test_the_argument_list_is_not_a_level_of_nesting() -> None:
    """An argument nested MAX_NESTING containers deep crosses, as in-process; one more level is refused."""

    def nested(levels: int) -> Any:
        value: Any = "bottom"
        for _ in range(levels):
            value = [value]
        return value

    args, _ = call_through_the_wire((nested(MAX_NESTING),), {})
    assert args[0] == nested(MAX_NESTING)
    with pytest.raises(BoundaryError, match="nested too deeply"):
        encode_call((nested(MAX_NESTING + 1),), {})
    with pytest.raises(BoundaryError, match="nested too deeply"):
        encode(nested(MAX_NESTING + 1))


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (lambda: 1, "function"),
        (object(), "object object"),
        (iter([]), "list_iterator object"),
        ([1, {"a": print}], "built-in function"),
        (ValueError("x"), "ValueError object"),
        ({(1, object()): 1}, "object object"),
        ([[1], [1], {2: type}], "class"),
    ],
)
def test_anything_but_plain_data_is_refused(value: Any, named: str) -> None:
    """Functions, objects, iterators, classes and exceptions do not cross (exceptions only host-to-worker)."""
    with pytest.raises(Unsendable, match=named) as caught:
        encode(value)
    assert isinstance(caught.value, BoundaryError)


def test_subclasses_of_plain_types_are_refused() -> None:
    """A str or dict subclass is not plain data: its methods could run in the other process."""

    class Sneaky(str):
        pass

    with pytest.raises(Unsendable, match="Sneaky"):
        encode([Sneaky("x")])


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


def test_the_host_side_refuses_exceptions() -> None:
    """Whatever a worker sends, the host's reader never builds an exception object."""
    data = frame(["ok", encode(ValueError("x"), exceptions=True)])
    with pytest.raises(ProtocolError, match="unknown extension"):
        parse(data[4:])


def test_text_with_lone_surrogates_in_a_message_cannot_break_the_frame() -> None:
    """A script's exception message holding a lone surrogate still makes a readable frame."""
    message = parse(frame(["fail", "ValueError: \ud800"])[4:])
    assert message[0] == "fail"
    assert message[1].startswith("ValueError: ")


@pytest.mark.parametrize(
    "payload",
    [
        b"not msgpack",
        b"\xc1",
        b"",
        forged({"ok": 1}),
        forged([]),
        forged([1, 2]),
        forged("ok"),
        forged(["ok"]) + b"\xc0",
        b"\x91" * 100_000 + b"\xc0",
        b"\x92\xa2ok\xa2\xff\xfe",
        b"\xdd\xff\xff\xff\xff",
    ],
)
def test_unreadable_messages_are_protocol_errors(payload: bytes) -> None:
    """Not MessagePack, truncated, trailing bytes, no kind first, absurdly deep or long, bad UTF-8: ProtocolError."""
    with pytest.raises(ProtocolError):
        parse(payload)


def _deep_tuples(levels: int) -> msgspec.msgpack.Ext:
    value: Any = None
    for _ in range(levels):
        value = msgspec.msgpack.Ext(_wire.TUPLE, msgspec.msgpack.encode([value]))
    return value


@pytest.mark.parametrize(
    "value",
    [
        msgspec.msgpack.Ext(99, b"cos\nsystem"),
        ext(_wire.EXCEPTION, ["SystemExit", "SystemExit", ""]),
        ext(_wire.GRAPH, ["r", 0]),
        ext(_wire.GRAPH, ["l", ["r", 5]]),
        ext(_wire.GRAPH, ["d", "odd"]),
        ext(_wire.GRAPH, ["d", ["l"], 1]),
        ext(_wire.GRAPH, ["s", ["l"]]),
        ext(_wire.GRAPH, ["?", 1]),
        ext(_wire.GRAPH, [[]]),
        ext(_wire.GRAPH, {"a": 1}),
        ext(_wire.PAIRS, [1]),
        ext(_wire.PAIRS, [[1], 2]),
        ext(_wire.SET, [[1]]),
        ext(_wire.TUPLE, "not an array"),
        ext(_wire.DATE, [2024, 13, 1]),
        ext(_wire.DATETIME, [1, 2]),
        ext(_wire.DATETIME, [2024, 1, 1, 0, 0, 0, 0, 0, [0, 99999999, 0, None]]),
        ext(_wire.FRACTION, [1, 0]),
        ext(_wire.RANGE, [0, 1, 0]),
        ext(_wire.RANGE, ["0", 1, 1]),
        msgspec.msgpack.Ext(_wire.DECIMAL, b"twelve"),
        msgspec.msgpack.Ext(_wire.DECIMAL, b"1" * (1 << 21)),
        msgspec.msgpack.Ext(_wire.BIGINT, b"\x01" * (1 << 24)),
        msgspec.msgpack.Ext(_wire.UUID, b"short"),
        msgspec.msgpack.Ext(_wire.SURROGATES, b"\xff"),
        ext(_wire.COMPLEX, ["1", 2]),
        ext(_wire.TIMEZONE, None),
        _deep_tuples(MAX_NESTING + 20),
    ],
)
def test_malformed_values_are_protocol_errors(value: Any) -> None:
    """Whatever the other side sends, the reader builds plain data or raises ProtocolError."""
    with pytest.raises(ProtocolError):
        parse(forged(["ok", value, 0]))


def test_what_a_reader_builds_is_plain_data_only() -> None:
    """A forged message of every extension decodes to builtin plain types and nothing else."""
    message = parse(
        forged(
            [
                "ok",
                [
                    ext(_wire.TUPLE, [1]),
                    ext(_wire.PAIRS, [ext(_wire.FROZENSET, [1]), 2]),
                    msgspec.msgpack.Ext(-1, b"\x00\x00\x00\x00"),  # msgpack's timestamp
                    ext(_wire.GRAPH, ["l", ["t", ["r", 0]]]),
                ],
            ]
        )
    )
    tuple_, pairs, moment, graph = message[1]
    assert tuple_ == (1,)
    assert pairs == {frozenset({1}): 2}
    assert moment == datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    assert graph[0][0] is graph


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
