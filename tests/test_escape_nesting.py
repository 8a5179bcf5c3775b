"""Values and iterators nested deep enough to crash C recursion (issue 12, family 3).

``hash()`` of a tuple, and ``next()`` of a map over a map, recurse in C without the
interpreter's recursion guard: a few hundred thousand levels kill CPython with SIGSEGV on
3.11, 3.12 and 3.13 alike. Every way a script nests tuples, slices and iterators is bounded
where it builds them; each payload builds 300,000 levels and must stop inside its budget.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import hookyard
from tests.conftest import BOTH_MODES, MakeEngine
from tests.escapes import assert_contained, run_payload

LOOP = (
    "def pre(*a):\n    {setup}\n    for i in range(300_000):\n        {step}\n    api.leak({use})\n"
)

PAYLOADS = {
    # tuples (hash recurses)
    "tuple display": ("t = ()", "t = (t,)", "hash(t)"),
    "bare tuple": ("t = ()", "t = t, 1", "{t: 1}"),
    "star-args": ("f = lambda *x: x", "t = f(t) if i else ()", "hash(t)"),
    "def star-args": ("t = ()", "t = wrap(t)", "hash(t)"),
    "tuple()": ("t = ()", "t = tuple([t])", "hash(t)"),
    "zip rows": ("t = ()", "t = next(zip([t]))", "hash(t)"),
    "enumerate rows": ("t = ()", "t = next(enumerate([t]))", "hash(t)"),
    "dict.items()": ("t = ()", "t = list({0: t}.items())[0]", "hash(t)"),
    "exception args": ("t = ()", "t = ValueError(t).args", "hash(t)"),
    "slice": ("t = None", "t = slice(t)", "hash(t)"),
    "tuple subclass": ("t = ()", "t = Pair((t,))", "hash(t)"),
    "typing.NamedTuple class": ("t = ()", "t = Row(t)", "hash(t)"),
    "NamedTuple _make": ("t = ()", "t = Row._make([t])", "hash(t)"),
    "NamedTuple _replace": ("t = Row(())", "t = t._replace(a=t)", "hash(t)"),
    # iterators (next recurses)
    "map chain": ("it = iter([1])", "it = map(int, it)", "next(it)"),
    "filter chain": ("it = iter([1])", "it = filter(None, it)", "next(it)"),
    "zip chain": ("it = iter([1])", "it = zip(it)", "next(it)"),
    "enumerate chain": ("it = iter([1])", "it = enumerate(it)", "next(it)"),
    "iter of a chain": ("it = iter([1])", "it = iter(map(int, it))", "next(it)"),
    "reversed chain": (
        "it = [1]",
        "it = reversed(list(it)) if i < 3 else map(int, it)",
        "next(it)",
    ),
    "generator expression chain": ("g = iter([1])", "g = (v for v in g)", "next(g)"),
    "generator chain": ("g = iter([1])", "g = passing(g)", "next(g)"),
    "delegating generator chain": ("g = iter([1])", "g = delegating(g)", "next(g)"),
    "mixed chain": ("g = iter([1])", "g = map(int, passing(g))", "next(g)"),
}
HELPERS = (
    "from typing import NamedTuple\n"
    "class Row(NamedTuple):\n    a: object\n"
    "def wrap(*x):\n    return x\n"
    "class Pair(tuple):\n    pass\n"
    "def passing(it):\n    for v in it:\n        yield v\n"
    "def delegating(it):\n    yield from it\n"
)


@BOTH_MODES
@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_deep_nesting_is_refused_where_it_is_built(
    tmp_path: Path, name: str, isolation: object
) -> None:
    """300,000 levels of one nesting construct: refused long before C recursion could reach
    the stack, and the host keeps serving."""
    setup, step, use = PAYLOADS[name]
    source = HELPERS + LOOP.format(setup=setup, step=step, use=use)
    outcome = run_payload(tmp_path, source, isolation=isolation)
    assert_contained(outcome)


@BOTH_MODES
def test_a_chain_kept_across_calls_stays_bounded(make_engine: MakeEngine) -> None:
    """An iterator chain grown a little on every call, kept in state, is refused once it
    passes the limit; the host serves every call."""
    engine = make_engine(
        {
            "p/10-x.py": (
                "def pre():\n    it = state.get('it') or iter([1])\n"
                "    for i in range(40):\n        it = map(int, it)\n    state['it'] = it\n"
            )
        }
    )

    @engine.hook("p")
    def host() -> str:
        return "served"

    assert all(host() == "served" for _ in range(5))
    (status,) = engine.status()
    assert status.calls == 5 and status.failures >= 2


@BOTH_MODES
def test_ordinary_nesting_works(make_engine: MakeEngine) -> None:
    """Tuples of tuples, zipped rows, items, generators over generators at ordinary depths
    work as in Python."""
    engine = make_engine(
        {
            "p/10-x.py": (
                "def evens(it):\n    for v in it:\n        if v % 2 == 0:\n            yield v\n"
                "def post(rv):\n    t = ()\n    for i in range(50):\n        t = (t, i)\n"
                "    depth = 0\n    while t:\n        t = t[0]\n        depth += 1\n"
                "    chain = iter(range(10))\n    for _ in range(30):\n        chain = map(int, chain)\n"
                "    g = evens(evens(evens(range(10))))\n"
                "    return [depth, sum(chain), list(g), sorted({1: (2, 3)}.items()),\n"
                "            list(zip([(1,)], 'a')), hash(((1, 2), (3,))) == hash(((1, 2), (3,)))]\n"
            )
        }
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> object:
        return None

    assert host() == [50, 45, [0, 2, 4, 6, 8], [(1, (2, 3))], [((1,), "a")], True]


@BOTH_MODES
def test_many_suspended_generators_hold_no_depth(make_engine: MakeEngine) -> None:
    """Generators started and suspended side by side are not nested: a hundred of them at
    once is ordinary, whatever Limits.depth says."""
    engine = make_engine(
        {
            "p/10-x.py": (
                "def count(n):\n    while True:\n        yield n\n        n += 1\n"
                "def post(rv):\n    gens = [count(i) for i in range(100)]\n"
                "    firsts = [next(g) for g in gens]\n    return sum(firsts) + sum(next(g) for g in gens)\n"
            )
        },
        limits=hookyard.Limits(depth=10),
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> object:
        return None

    assert host() == sum(range(100)) + sum(range(1, 101))
