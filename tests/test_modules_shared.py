"""Facades that hold no state (``math``, ``heapq``...) are made once per engine and shared by
its scripts (issue 17, figure E); nothing one script does to such a module changes what
another script sees, and facades that keep a script's state (``random``) stay its own."""

from __future__ import annotations

import math
from typing import Any

from hookyard._modules import facade_factories
from tests.conftest import BOTH_MODES, MakeEngine

SHARED = ("math", "heapq", "itertools", "bisect", "textwrap")

# Each attempt runs at load (module body) and again in a call; every one must fail.
ATTEMPTS = """
import math, heapq, itertools, bisect, textwrap

def _replacement(x):
    return 42

def _attempts():
    outcomes = []
    for attempt in (
        lambda: setattr(math, "floor", _replacement),
        lambda: delattr(math, "floor"),
        lambda: setattr(math, "pi", 3),
        lambda: setattr(math.floor, "marker", 1),
        lambda: setattr(math.fsum, "marker", 1),
        lambda: setattr(heapq, "heappush", _replacement),
        lambda: setattr(type(math), "floor", _replacement),
        lambda: setattr(textwrap.fill, "marker", 1),
    ):
        try:
            attempt()
            outcomes.append("changed")
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    try:
        math.floor = _replacement
        outcomes.append("changed")
    except Exception as exc:
        outcomes.append(type(exc).__name__)
    try:
        del math.ceil
        outcomes.append("changed")
    except Exception as exc:
        outcomes.append(type(exc).__name__)
    return outcomes

AT_LOAD = _attempts()

def post(rv, who):
    if who != "a":
        return rv
    return {"load": AT_LOAD, "call": _attempts()}
"""

OBSERVER = """
import math, heapq, itertools, bisect, textwrap

def post(rv, who):
    if who != "b":
        return rv
    h = []
    heapq.heappush(h, 3)
    heapq.heappush(h, 1)
    return {
        "floor": math.floor(2.5),
        "ceil": math.ceil(2.5),
        "pi": math.pi,
        "heap": h,
        "fill": textwrap.fill("a b", width=10),
        "marker": [hasattr(math.floor, "marker"), hasattr(math.fsum, "marker")],
    }
"""


def _point(make_engine: MakeEngine) -> Any:
    engine = make_engine(
        {"p/10-a.py": ATTEMPTS, "p/20-b.py": OBSERVER},
        modules=SHARED,
    )
    assert all(s.ok for s in engine.status()), engine.status()

    @engine.hook("p", result="replace", on_error="raise")
    def f(who: str) -> Any:
        return None

    return f


@BOTH_MODES
def test_one_script_cannot_change_a_shared_facade_for_another(make_engine: MakeEngine) -> None:
    """Every write to a shared module or to its functions fails, at load and in a call, and
    the other script still sees the real functions and constants."""
    f = _point(make_engine)
    tried = f("a")
    assert len(tried["load"]) == 10
    assert "changed" not in tried["load"], tried["load"]
    assert "changed" not in tried["call"], tried["call"]
    seen = f("b")
    assert seen["floor"] == 2 and seen["ceil"] == 3 and seen["pi"] == math.pi
    assert seen["heap"] == [1, 3] and seen["fill"] == "a b"
    assert seen["marker"] == [False, False]


def test_stateless_facades_are_made_once_per_engine() -> None:
    """An engine's factories hand its scripts one facade of each stateless module, and
    each script its own ``random`` (its generator is script state) and ``re`` (its pattern
    cache); another engine makes its own."""
    one, other = facade_factories(("random", "re", *SHARED)), facade_factories(SHARED)
    for name in SHARED:
        assert one[name]() is one[name](), name
        assert one[name]() is not other[name](), name
    assert one["random"]() is not one["random"]()
    assert one["re"]() is not one["re"]()
