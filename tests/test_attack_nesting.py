"""Red team, nesting: tuples that C code builds around a script's values.

``hash()`` of a tuple recurses in C without the interpreter's recursion guard, so a tuple
nested a few hundred thousand deep is a SIGSEGV (3.11, 3.12 and 3.13). The guards bound
the tuples a script builds itself; these attacks let C code build them instead, one
level per step (``t = next(itertools.pairwise([t, 1]))``). Before the fix every one of the
itertools rows and ``ChainMap.items()`` crashed the host under a generous budget on all
three interpreters; ``Counter.most_common`` and ``groupby`` were only slowed by re-hashing.
Each now stops at the nesting limit, in both isolation modes, and the host survives.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attack_support import MODES, run_host

WRAPPERS = {
    "pairwise": "next(itertools.pairwise([t, 1]))",
    "product": "next(itertools.product([t]))",
    "permutations": "next(itertools.permutations([t]))",
    "combinations": "next(itertools.combinations([t], 1))",
    "combinations_with_replacement": "next(itertools.combinations_with_replacement([t], 1))",
    "zip_longest": "next(itertools.zip_longest([t]))",
    "batched": "next(itertools.batched([t], 1))",
    "groupby": "next(itertools.groupby([t]))",
    "most_common": "collections.Counter({t: 1}).most_common(1)[0]",
    "chainmap_items": "next(iter(collections.ChainMap({0: t}).items()))",
    "chainmap_popitem": "collections.ChainMap({0: t}).popitem()",
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_c_built_tuples_cannot_nest_past_the_limit(tmp_path: Path, mode: str, wrapper: str) -> None:
    """A tuple C code builds around a script's value, fed back 300,000 times, stops at
    the nesting limit with LimitExceeded; the host neither crashes nor hashes it."""
    report = run_host(
        tmp_path,
        f"""
        import itertools, collections
        def pre():
            t = ()
            for i in range(300000):
                t = {WRAPPERS[wrapper]}
            api.leak(hash(t))
        """,
        mode,
    )
    assert report["leaked"] == "[]"
    assert report["cause"] == "LimitExceeded", report
    assert "nested more than 100 deep" in report["message"]


@pytest.mark.parametrize("mode", MODES)
def test_shallow_rows_still_work(tmp_path: Path, mode: str) -> None:
    """The checks refuse only depth: ordinary rows of the same functions come through."""
    report = run_host(
        tmp_path,
        """
        import itertools, collections
        def pre():
            rows = [
                list(itertools.pairwise([(1,), (2,), (3,)])),
                list(itertools.product([(1,)], "ab")),
                list(itertools.zip_longest([(1, 2)], [])),
                [k for k, _ in itertools.groupby([(1,), (1,), (2,)])],
                collections.Counter([(1,), (1,), (2,)]).most_common(1),
                sorted(collections.ChainMap({"a": (1,)}, {"b": (2,)}).items()),
            ]
            api.leak(rows)
        """,
        mode,
    )
    assert report["cause"] is None, report
    assert report["leaked"] == repr(
        [
            [
                [((1,), (2,)), ((2,), (3,))],
                [((1,), "a"), ((1,), "b")],
                [((1, 2), None)],
                [(1,), (2,)],
                [((1,), 2)],
                [("a", (1,)), ("b", (2,))],
            ]
        ]
    )
