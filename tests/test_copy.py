"""The boundary copier (``_copy``): deepcopy's semantics, plain data only, fast paths kept honest.

The property test builds random graphs of plain data (dicts, lists, tuples, sets with shared
references and cycles) and checks the copier against ``copy.deepcopy``: the same structure,
the same sharing, no mutable container of the original in the copy, the original untouched.

Every test here runs against each copier this interpreter has: the C extension
(``_ccopy``, where it is built) and the pure-Python fallback (issue 17).
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import datetime
import decimal
import enum
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookyard import BoundaryError, _copy
from hookyard._copy import (
    IMMUTABLE,
    MAX_NESTING,
    args_to_script,
    arguments_to_script,
    kwargs_to_script,
    to_host,
    to_script,
)

COPIERS: dict[str, Callable[[Any], Any]] = {"to_script": to_script, "to_host": to_host}
MUTABLE = (dict, list, set)

# the copiers built here: the fallback always, the extension where it is built
IMPLEMENTATIONS = ["python", *(["c"] if _copy._compiled() is not None else [])]


@pytest.fixture(scope="module", autouse=True, params=IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test of this file once per copier (module scope: hypothesis runs inside it)."""
    previous = _copy._select(request.param)
    try:
        yield request.param
    finally:
        _copy._select(previous)


# -- shape comparison ---------------------------------------------------------------------


def assert_same_shape(original: Any, copied: Any) -> None:
    """``copied`` is ``original`` again: same types and values, sharing and cycles alike.

    Walks both in step, building the map original node -> copied node; it must be a
    bijection (no sharing lost, none invented), and no mutable node may be the original.
    """
    pairs: dict[int, int] = {}
    back: dict[int, int] = {}
    keep: list[Any] = []  # ids stay unique while the walk runs

    def walk(a: Any, b: Any) -> None:
        assert type(a) is type(b), (a, b)
        if type(a) in IMMUTABLE:
            assert a == b or (a != a and b != b), (a, b)  # noqa: PLR0124 - NaN is NaN
            return
        if id(a) in pairs:
            assert pairs[id(a)] == id(b), "a shared node was copied twice"
            return
        assert id(b) not in back, "two nodes were merged into one"
        pairs[id(a)] = id(b)
        back[id(b)] = id(a)
        keep.extend((a, b))
        if isinstance(a, MUTABLE):
            assert a is not b, f"the copy holds the original {type(a).__name__}"
        if type(a) is dict:
            assert len(a) == len(b)
            for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True):
                walk(ka, kb)
                walk(va, vb)
        elif type(a) in (list, tuple):
            assert len(a) == len(b)
            for x, y in zip(a, b, strict=True):
                walk(x, y)
        elif type(a) in (set, frozenset):
            assert a == b  # members are hashable: atoms, tuples and frozensets of them
        else:  # pragma: no cover - the strategies make plain data only
            raise AssertionError(f"unexpected {type(a)}")

    walk(original, copied)


# -- strategies ----------------------------------------------------------------------------

atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.complex_numbers(allow_nan=False),
    st.dates(),
    st.datetimes(),
    st.decimals(allow_nan=False),
)
hashables = st.recursive(
    atoms,
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=6,
)


@st.composite
def graphs(draw: st.DrawFn) -> Any:
    """Dicts and lists referring to each other (sharing, self-reference, cycles), plus
    tuples (some holding containers), sets and frozensets; the root is node 0."""
    count = draw(st.integers(1, 7))
    nodes: list[Any] = [{} if draw(st.booleans()) else [] for _ in range(count)]

    def value() -> Any:
        kind = draw(st.sampled_from(["atom", "ref", "ref", "tuple", "set", "frozenset"]))
        if kind == "atom":
            return draw(atoms)
        if kind == "ref":
            return nodes[draw(st.integers(0, count - 1))]
        if kind == "tuple":
            return (draw(atoms), nodes[draw(st.integers(0, count - 1))])
        if kind == "set":
            return draw(st.sets(hashables, max_size=3))
        return draw(st.frozensets(hashables, max_size=3))

    for node in nodes:
        for _ in range(draw(st.integers(0, 4))):
            if type(node) is dict:
                node[draw(hashables)] = value()
            else:
                node.append(value())
    return nodes[0]


# -- the property ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COPIERS))
@settings(max_examples=300, deadline=None)
@given(value=graphs())
def test_copier_matches_deepcopy(name: str, value: Any) -> None:
    """Any plain-data graph copies like copy.deepcopy: same shape, sharing and cycles; original untouched."""
    before = copy.deepcopy(value)
    copied = COPIERS[name](value)
    assert_same_shape(value, copied)
    assert_same_shape(copy.deepcopy(value), copied)
    assert_same_shape(before, value)  # the copier did not touch the original


@pytest.mark.parametrize("name", sorted(COPIERS))
@settings(max_examples=100, deadline=None)
@given(value=graphs())
def test_changing_the_copy_leaves_the_original_alone(name: str, value: Any) -> None:
    """Mutating every container of the copy changes nothing in the original."""
    before = copy.deepcopy(value)
    copied = COPIERS[name](value)
    seen: set[int] = set()

    def scribble(node: Any) -> None:
        if id(node) in seen or type(node) in IMMUTABLE:
            return
        seen.add(id(node))
        if type(node) is dict:
            children = list(node.values())
            node["scribbled"] = True
        elif type(node) is list:
            children = list(node)
            node.append("scribbled")
        elif type(node) is set:
            children = []
            node.add("scribbled")
        else:
            children = list(node)
        for child in children:
            scribble(child)

    scribble(copied)
    assert_same_shape(before, value)


# -- fast paths, one by one ------------------------------------------------------------------


def test_atoms_are_handed_over_as_they_are() -> None:
    """Immutable atoms are never copied (as deepcopy does)."""
    for value in (10**30, "text", b"raw", 1.5, datetime.date(2024, 1, 1), decimal.Decimal(1)):
        assert to_script(value) is value
        assert to_host(value) is value


def test_tuples_and_frozensets_of_atoms_are_not_copied() -> None:
    """A tuple or frozenset holding only atoms is immutable all the way down: the same object."""
    value = {"t": (1, "a", None), "f": frozenset({1, 2})}
    copied = to_script(value)
    assert copied["t"] is value["t"]
    assert copied["f"] is value["f"]


def test_tuple_holding_a_list_is_copied_and_keeps_its_sharing() -> None:
    """A tuple with a mutable inside is a new tuple around a copy; reached twice, it is one."""
    inner = [1]
    pair = (inner, inner)
    copied = to_script({"a": pair, "b": pair})
    assert copied["a"] is copied["b"]
    assert copied["a"][0] is copied["a"][1]
    assert copied["a"][0] is not inner


def test_tuple_reached_again_through_a_cycle() -> None:
    """A cycle through a tuple (tuple -> list -> tuple) comes out as the same cycle."""
    holder: list[Any] = []
    pair = (holder, 1)
    holder.append(pair)
    copied = to_script(pair)
    assert copied[0][0] is copied
    assert copied[0] is not holder


def test_sets_are_copied_and_their_members_kept() -> None:
    """A set is a new set (mutable); its hashable members are equal."""
    value = {1, (2, 3), frozenset({4})}
    copied = to_script(value)
    assert copied == value
    assert copied is not value


def test_dict_with_non_atom_keys_keeps_its_order() -> None:
    """Tuple and frozenset keys go through the slow path and keep the dict's order."""
    value = {"a": 1, (1, 2): [2], frozenset({3}): 3, "z": {"n": (4, [5])}}
    copied = to_host(value)
    assert list(copied) == list(value)
    assert_same_shape(value, copied)


def test_nested_too_deeply_is_a_boundary_error() -> None:
    """A structure nested past the recursion limit is refused with BoundaryError, both ways."""
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    for copier in (to_script, to_host):
        with pytest.raises(BoundaryError, match="nested too deeply"):
            copier(deep)
    with pytest.raises(BoundaryError, match="nested too deeply"):
        arguments_to_script((deep,), {})


def test_atom_only_arguments_are_returned_as_they_are() -> None:
    """Arguments holding only atoms are not copied: the same tuple and dict come back."""
    args, kwargs = (1, "a", (2, 3)), {"k": None}
    assert arguments_to_script(args, kwargs) == (args, kwargs)
    assert arguments_to_script(args, kwargs)[0] is args
    assert arguments_to_script(args, kwargs)[1] is kwargs
    assert args_to_script(args) is args
    assert kwargs_to_script(kwargs) is kwargs


def test_arguments_share_one_memo() -> None:
    """A list passed positionally and by keyword is one list in the copies."""
    shared: list[int] = [1]
    args, kwargs = arguments_to_script((shared, [shared]), {"again": shared})
    assert args[0] is args[1][0] is kwargs["again"]
    assert args[0] is not shared


# -- host conveniences (to_script) and refusals (to_host) ------------------------------------


@dataclasses.dataclass
class Flavor:
    name: str
    tags: list[str]


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Point(NamedTuple):
    x: int
    y: list[int]


class Name(str):
    pass


def test_host_conveniences_become_plain_data() -> None:
    """Dataclasses become dicts, enums their value, subclasses of plain types their base."""
    ordered = collections.OrderedDict(a=[1])
    counts = collections.defaultdict(list, {"k": [2]})
    value = {
        "flavor": Flavor("m1", ["x"]),
        "color": Color.RED,
        "level": Level.HIGH,
        "ordered": ordered,
        "counts": counts,
        "point": Point(1, [2]),
        "name": Name("web"),
    }
    copied = to_script(value)
    assert copied == {
        "flavor": {"name": "m1", "tags": ["x"]},
        "color": "red",
        "level": 3,
        "ordered": {"a": [1]},
        "counts": {"k": [2]},
        "point": (1, [2]),
        "name": "web",
    }
    for key in ("ordered", "counts"):
        assert type(copied[key]) is dict
    assert type(copied["point"]) is tuple
    assert type(copied["name"]) is str
    assert type(copied["level"]) is int
    assert copied["ordered"]["a"] is not ordered["a"]


def test_shared_and_cyclic_host_conveniences_keep_their_shape() -> None:
    """A dict subclass reached twice is one dict; one that contains itself stays a cycle."""
    loop = collections.OrderedDict()
    loop["self"] = loop
    twice = collections.OrderedDict(a=1)
    copied = to_script([loop, twice, twice, collections.OrderedDict(a=1)])
    assert copied[0]["self"] is copied[0]
    assert copied[1] is copied[2]
    assert copied[3] is not copied[1]
    assert copied[3] == copied[1]


class Secret:
    password = "hunter2"


def _generator() -> Any:
    yield 1


REFUSED: dict[str, Any] = {
    "object": Secret(),
    "class": Secret,
    "function": _generator,
    "generator": _generator(),
    "builtin": len,
    "bytearray": bytearray(b"x"),
    "nested in a list": [1, {"a": Secret()}],
    "as a dict key": {Secret(): 1},
    "in a tuple key": {(1, Secret()): 1},
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_non_plain_values_are_refused_with_their_type(name: str) -> None:
    """Anything that is not plain data is refused with BoundaryError, both ways."""
    with pytest.raises(BoundaryError, match="cannot cross"):
        to_host(REFUSED[name])
    with pytest.raises(BoundaryError, match="cannot cross"):
        to_script(REFUSED[name])


@pytest.mark.parametrize(
    "value",
    [collections.OrderedDict(a=1), Point(1, [2]), Name("x"), Color.RED, Flavor("a", [])],
    ids=["dict subclass", "namedtuple", "str subclass", "enum", "dataclass"],
)
def test_to_host_refuses_what_to_script_converts(value: Any) -> None:
    """Values coming out of a script must be exactly plain: no subclass, enum or dataclass."""
    with pytest.raises(BoundaryError, match="cannot cross"):
        to_host(value)


def test_refusal_names_the_type() -> None:
    """The error names what was refused."""
    with pytest.raises(BoundaryError, match="Secret object"):
        to_script({"deep": [Secret()]})
    with pytest.raises(BoundaryError, match=r"function \(_generator\)"):
        to_host([_generator])


# -- both copiers, and which one runs ----------------------------------------------------------


def _nested(containers: int) -> Any:
    value: Any = []
    for _ in range(containers - 1):
        value = [value]
    return value


def test_nesting_bound_is_exact(implementation: str) -> None:
    """MAX_NESTING containers cross, one more is refused; a tuple or frozenset of atoms
    only at the last level is no level of its own (it is handed over as it is)."""
    assert implementation == _copy.IMPLEMENTATION
    for copier in (to_script, to_host):
        ok = _nested(MAX_NESTING)
        assert copier(ok) == ok
        with pytest.raises(BoundaryError, match="nested too deeply"):
            copier(_nested(MAX_NESTING + 1))
        innermost: Any = _nested(MAX_NESTING)
        leaf = innermost
        while leaf:
            leaf = leaf[0]
        leaf.extend([(1, 2), frozenset({3})])
        assert copier(innermost) == innermost
        leaf.append({"a": 1})
        with pytest.raises(BoundaryError, match="nested too deeply"):
            copier(innermost)
    dicts: Any = {}
    for _ in range(MAX_NESTING):
        dicts = {"d": dicts}
    with pytest.raises(BoundaryError, match="nested too deeply"):
        to_script(dicts)


def test_a_dict_changed_while_copied_raises_as_python_does() -> None:
    """Host code run by a conversion (a dataclass property) that grows the dict being
    copied: RuntimeError, as iterating a changed dict raises; no crash, original kept."""

    @dataclasses.dataclass
    class Holder:
        parent: dict[str, Any]

        def __getattribute__(self, name: str) -> Any:
            if name == "parent":
                object.__getattribute__(self, "parent")["added"] = 1
            return object.__getattribute__(self, name)

    parent: dict[str, Any] = {"a": [1]}
    parent["h"] = Holder(parent)
    with pytest.raises(RuntimeError, match="changed size during iteration"):
        to_script(parent)
    assert parent["added"] == 1


def test_container_subclasses_are_read_through_their_base_types() -> None:
    """A list subclass whose __iter__ lies, and a dict subclass whose items() lies: the
    copies are plain and both copiers read them alike."""

    class Shouting(list[str]):
        def __iter__(self) -> Iterator[str]:
            return iter([item.upper() for item in list.__iter__(self)])

    copied = to_script({"l": Shouting(["a", "b"]), "t": Point(1, [2])})
    assert type(copied["l"]) is list
    assert type(copied["t"]) is tuple
    assert copied["t"] == (1, [2])
    assert copied["l"] == ["a", "b"]


def test_both_copiers_make_the_same_copies() -> None:
    """The extension and the fallback agree on a value with every kind of entry."""
    shared = [1]
    value = {
        "l": [shared, shared, (shared, 2)],
        (1, "k"): frozenset({(1, 2)}),
        "s": {1, (2, 3)},
        "d": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
        "n": collections.OrderedDict(x=[1]),
    }
    value["self"] = value
    results = []
    for implementation in IMPLEMENTATIONS:
        previous = _copy._select(implementation)
        try:
            results.append(to_script(value))
        finally:
            _copy._select(previous)
    for copied in results:
        assert copied["self"] is copied
        assert copied["l"][0] is copied["l"][1] is copied["l"][2][0]
        assert copied["n"] == {"x": [1]} and type(copied["n"]) is dict
        assert repr(copied) == repr(results[0])


def _compiler_here() -> bool:
    """A C compiler and the Python headers, as hatch_build.py looks for them."""
    ldshared = sysconfig.get_config_var("LDSHARED")
    include = sysconfig.get_paths().get("include")
    return bool(
        ldshared
        and shutil.which(ldshared.split()[0])
        and include
        and Path(include, "Python.h").is_file()
    )


def test_the_compiled_copier_is_used_where_it_can_be_built() -> None:
    """Where a C compiler and the headers exist, installing hookyard built the extension
    and the engine runs it (a failed or stale build would fail here: reinstall)."""
    if os.environ.get("HOOKYARD_PURE_PYTHON", "") not in ("", "0"):
        assert _copy._compiled() is None
        return
    if not _compiler_here():
        assert _copy.IMPLEMENTATION == "python" or _copy._compiled() is not None
        return
    assert _copy._compiled() is not None, "hookyard._ccopy is not built: pip install -e ."
    assert "c" in IMPLEMENTATIONS


def test_pure_python_fallback_can_be_forced() -> None:
    """HOOKYARD_PURE_PYTHON=1 runs the pure-Python copier; copies still work."""
    code = (
        "from hookyard import _copy; "
        "v = {'a': [1]}; c = _copy.to_script(v); "
        "assert c == v and c['a'] is not v['a']; "
        "print(_copy.IMPLEMENTATION)"
    )
    env = {**os.environ, "HOOKYARD_PURE_PYTHON": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "python"


@pytest.mark.skipif("c" not in IMPLEMENTATIONS, reason="needs the built extension")
def test_a_build_of_other_c_source_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An extension built from another edit of _ccopy.c (an editable install whose C
    source changed since) is refused with a warning saying how to rebuild it."""
    from hookyard import _ccopy  # type: ignore[attr-defined]

    source = Path(_copy.__file__).with_name("_ccopy.c")
    assert _copy._built_from(_ccopy, str(source))
    edited = tmp_path / "_ccopy.c"
    edited.write_bytes(source.read_bytes() + b"\n/* edited */\n")
    with caplog.at_level("WARNING", logger="hookyard"):
        assert not _copy._built_from(_ccopy, str(edited))
    assert "pip install -e ." in caplog.text and "another _ccopy.c" in caplog.text


def test_no_compiler_builds_pure_python() -> None:
    """Where the compiler CC names does not exist, the build hook gives the reason instead
    of a command line (the package then installs with the pure-Python copier)."""
    # hatchling is only present in pip's build environment: a stand-in for its base class
    code = (
        "import sys, types, pathlib\n"
        "for name in ('hatchling', 'hatchling.builders', 'hatchling.builders.hooks',\n"
        "             'hatchling.builders.hooks.plugin',\n"
        "             'hatchling.builders.hooks.plugin.interface'):\n"
        "    sys.modules[name] = types.ModuleType(name)\n"
        "sys.modules[name].BuildHookInterface = object\n"
        "import hatch_build\n"
        "print(hatch_build.compile_command(pathlib.Path('src/hookyard/_ccopy.c'), "
        "pathlib.Path('x.so')))\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "LDSHARED"}
    env["CC"] = "/nonexistent/cc"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    assert out.stdout.strip() == "no C compiler '/nonexistent/cc' on PATH"
