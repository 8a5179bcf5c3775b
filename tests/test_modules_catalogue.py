"""Which modules a host can offer: the curated catalogue only, and facades that reach
nothing of the host."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any

import pytest
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

import hookyard
from hookyard._budget import Budget, Limits, running
from hookyard._modules import CATALOGUE, FORBIDDEN_MODULES, facade_factories
from tests.conftest import BOTH_MODES, MakeEngine, write_scripts

DESIGN_LIST = [
    "math",
    "json",
    "datetime",
    "random",
    "string",
    "re",
    "time",
    "collections",
    "itertools",
    "statistics",
    "decimal",
    "fractions",
    "textwrap",
    "ipaddress",
    "uuid",
    "hashlib",
    "base64",
    "bisect",
    "heapq",
]


def test_every_module_design_lists_is_in_the_catalogue() -> None:
    """DESIGN.md's "Modules on offer" and the catalogue are the same list."""
    assert sorted(DESIGN_LIST) == list(CATALOGUE)


def test_the_default_set_is_small_and_curated() -> None:
    """The default modules are a few of the catalogue."""
    assert set(hookyard.DEFAULT_MODULES) <= set(CATALOGUE)
    assert len(hookyard.DEFAULT_MODULES) <= 6


@pytest.mark.parametrize("name", ["csv", "xml.etree.ElementTree", "no_such_module_here", "zlib"])
def test_a_module_without_a_curated_facade_is_refused_listing_the_catalogue(
    tmp_path: Path, name: str
) -> None:
    """modules= naming an uncurated module fails at engine creation with the catalogue."""
    write_scripts(tmp_path, {"p/10-x.py": "def pre():\n    pass\n"})
    with pytest.raises(ValueError, match="no curated facade") as caught:
        hookyard.HookEngine(tmp_path, modules=("math", name))
    assert ", ".join(CATALOGUE) in str(caught.value)


@pytest.mark.parametrize("name", ["os", "sys", "subprocess", "operator", "os.path"])
def test_forbidden_modules_keep_their_reason(tmp_path: Path, name: str) -> None:
    """A forbidden module is refused with why."""
    write_scripts(tmp_path, {"p/10-x.py": "def pre():\n    pass\n"})
    with pytest.raises(
        ValueError, match=re.escape(FORBIDDEN_MODULES[name.split(".", maxsplit=1)[0]])
    ):
        hookyard.HookEngine(tmp_path, modules=(name,))


def _walk_public(ob: Any) -> list[tuple[str, Any]]:
    found = []
    for name in dir(ob):
        if name.startswith("_"):
            continue
        try:
            found.append((name, getattr(ob, name)))
        except Exception:  # a property refusing outside its use is fine
            continue
    return found


# objects scripts get from the facades (the names are the facades themselves)
_SAMPLES = """
samples = [
    re.compile('(a)(?P<n>b)'), re.match('(a)', 'ab'), collections.Counter('ab'),
    collections.deque('ab'), collections.defaultdict(list), collections.OrderedDict(a=1),
    collections.ChainMap({}), collections.namedtuple('P', 'x')(1), decimal.Context(),
    decimal.localcontext(), string.Template('$x'), hashlib.sha256(), random.Random(1),
    ipaddress.ip_network('10.0.0.0/30'), ipaddress.ip_interface('10.0.0.1/30'),
    itertools.count(), re.finditer('a', 'a'),
]
"""


def test_no_public_attribute_of_a_facade_or_its_objects_reaches_a_module_or_code() -> None:
    """Walking every public attribute of every facade and of the objects they hand out
    (two levels deep) finds no module, frame, code, function globals or raw re2 or stdlib
    re object."""
    factories = facade_factories(CATALOGUE)
    with running(Budget(Limits())):
        namespace: dict[str, Any] = {name: factories[name]() for name in CATALOGUE}
        exec(compile(_SAMPLES, "<samples>", "exec"), namespace)
        roots: list[Any] = [namespace[name] for name in CATALOGUE] + namespace["samples"]
        seen: set[int] = set()
        frontier = roots
        for _depth in range(2):
            following = []
            for ob in frontier:
                for name, value in _walk_public(ob):
                    if id(value) in seen or name in INSPECT_ATTRIBUTES:  # refused by the guards
                        continue
                    seen.add(id(value))
                    kind = type(value)
                    where = f"{ob!r:.60}.{name}"
                    assert not isinstance(
                        value, types.ModuleType | types.FrameType | types.CodeType
                    ), where
                    assert not kind.__module__.startswith(("re2", "_re2")), where
                    assert not isinstance(value, re.Pattern | re.Match), where
                    following.append(value)
            frontier = following


@BOTH_MODES
def test_a_declared_host_module_is_offered(make_engine: MakeEngine) -> None:
    """A host module naming its offer in __hookyard_facade__ can be imported: those
    names only."""
    engine = make_engine(
        {
            "p/10-x.py": "from tests.isolation_helpers import pid\ndef post(rv):\n    return pid() > 0\n",
            "q/10-x.py": "from tests.isolation_helpers import os\ndef post(rv):\n    pass\n",
        },
        modules=("tests.isolation_helpers",),
    )

    @engine.hook("p", result="replace", on_error="raise")
    def f() -> None:
        return None

    assert f() is True
    (refused,) = [s for s in engine.status() if s.point == "q"]
    assert not refused.ok and "os" in (refused.error or "")


WRONG_CALLS = {
    "json.dumps(1, bogus=2)": "json.dumps()",
    "itertools.count(1, 2, 3)": "itertools.count()",
    "itertools.product('a', bogus=1)": "itertools.product()",
    "collections.Counter().most_common(1, 2)": "Counter.most_common()",
    "collections.deque([], 1, 2)": "deque",
    "decimal.Decimal(1, 2, 3)": "Decimal",
    "fractions.Fraction(1, 2, 3)": "Fraction",
    "hashlib.sha256(b'x', bogus=1)": "hashlib.sha256()",
    "random.choices('a', bogus=1)": "random.choices()",
    "re.compile('a').search()": "Pattern.search()",
    "statistics.NormalDist(1, 2, 3)": "NormalDist",
    "ipaddress.ip_network('10.0.0.0/8').hosts(1)": "hosts()",
    "textwrap.wrap()": "textwrap.wrap()",
    "string.Template()": "Template",
}


@BOTH_MODES
def test_argument_errors_name_public_functions_never_internal_ones(make_engine: MakeEngine) -> None:
    """A wrong call of any facade function is reported against its public name."""
    modules = ("json", "itertools", "collections", "decimal", "fractions", "hashlib", "random")
    modules += ("re", "statistics", "ipaddress", "textwrap", "string")
    calls = "\n".join(
        f"    try:\n        {call}\n    except TypeError as exc:\n        out.append(str(exc))"
        for call in WRONG_CALLS
    )
    source = (
        "".join(f"import {m}\n" for m in modules)
        + f"def post(rv):\n    out = []\n{calls}\n    return out\n"
    )
    engine = make_engine({"p/10-x.py": source}, modules=modules)

    @engine.hook("p", result="replace", on_error="raise")
    def f() -> None:
        return None

    messages = f()
    assert len(messages) == len(WRONG_CALLS)
    for message, name in zip(messages, WRONG_CALLS.values(), strict=True):
        assert name in message, message
        assert not re.search(r"(^|[.\s'])_[a-zA-Z]", message), message  # no _internal name
        assert "Meta" not in message and "openssl" not in message, message


def test_c_level_imports_get_bounded_stand_ins() -> None:
    """datetime's C code imports time and _strptime while a script calls strftime and
    strptime: the stand-ins parse and format like the stdlib, bounded, and offer no sleep."""
    import datetime

    from hookyard._budget import BudgetExhausted
    from hookyard._modules import C_IMPORTS, c_import_facade

    assert C_IMPORTS == ("_strptime", "time")
    with running(Budget(Limits())):
        parse = c_import_facade("_strptime")._strptime_datetime
        assert parse(datetime.datetime, "2024-05-01", "%Y-%m-%d") == datetime.datetime(2024, 5, 1)
        clock = c_import_facade("time")
        assert clock.strftime("%Y", datetime.datetime(2024, 1, 1).timetuple()) == "2024"
        assert not hasattr(clock, "sleep")
        with pytest.raises(BudgetExhausted):
            parse(datetime.datetime, "1" * 100_000, "%Y")
