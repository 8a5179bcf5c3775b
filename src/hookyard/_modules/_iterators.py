"""Iterator facades: ``itertools``, ``heapq``, ``bisect``.

Every iterator handed to a script charges one operation per item (more when each item is
a large tuple), so no C loop over it (``x in it``, ``sorted(it)``) outlives the budget;
every iterable argument is consumed through the same guards as a script's own ``for``;
sizes the C code allocates at once (``product``'s pools, ``combinations_with_replacement``'s
``r`` indices, ``tee``'s ``n`` copies) are checked before the call.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Callable, Iterator
from typing import Any

from .._budget import current_budget
from .._guards import getiter, materialize
from .._nesting import check_items
from ._common import bounded_output, check_count, int_arg, metered, public

__all__ = ["bisect_facade", "heapq_facade", "itertools_facade"]


# -- itertools -------------------------------------------------------------------------------
def _out(function: Callable[..., Iterator[Any]], name: str) -> Callable[..., Any]:
    """An itertools function over bounded inputs whose iterator is bounded too."""

    def made(*args: Any, **kwargs: Any) -> Any:
        return bounded_output(function(*args, **kwargs))

    # the inner function reports argument errors: it carries the public name too
    function.__qualname__ = f"itertools.{name}"

    return public(f"itertools.{name}")(made)


def _rows(iterator: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """The tuples a C iterator builds around the script's items (``pairwise``,
    ``product``, ``zip_longest``...), each depth-checked like a tuple display: they nest
    one level deeper than their deepest item, and ``t = next(pairwise([t, 1]))`` in a
    loop otherwise builds a tuple deep enough that ``hash(t)`` overflows the C stack
    (SIGSEGV on 3.11, 3.12 and 3.13; found by the red team, issue 12's nesting rule)."""
    return map(check_items, iterator)


def _count(start: Any = 0, step: Any = 1) -> Iterator[Any]:
    return itertools.count(start, step)


def _cycle(iterable: Any) -> Iterator[Any]:
    return itertools.cycle(getiter(iterable))


def _repeat(obj: Any, *times: Any) -> Iterator[Any]:
    return itertools.repeat(obj, *(int_arg(t) for t in times))


def _accumulate(iterable: Any, func: Any = None, *, initial: Any = None) -> Iterator[Any]:
    from .._guards import add  # the size-checked "+": sums of strings or lists grow

    return itertools.accumulate(getiter(iterable), func or add, initial=initial)


def _chain(*iterables: Any) -> Iterator[Any]:
    return itertools.chain(*(getiter(it) for it in iterables))


def _from_iterable(iterable: Any) -> Iterator[Any]:
    return itertools.chain.from_iterable(getiter(iterable))


def _compress(data: Any, selectors: Any) -> Iterator[Any]:
    return itertools.compress(getiter(data), getiter(selectors))


def _dropwhile(predicate: Any, iterable: Any) -> Iterator[Any]:
    return itertools.dropwhile(predicate, getiter(iterable))


def _takewhile(predicate: Any, iterable: Any) -> Iterator[Any]:
    return itertools.takewhile(predicate, getiter(iterable))


def _filterfalse(predicate: Any, iterable: Any) -> Iterator[Any]:
    return itertools.filterfalse(predicate, getiter(iterable))


def _groupby(iterable: Any, key: Any = None) -> Iterator[Any]:
    for k, group in itertools.groupby(getiter(iterable), key):
        yield check_items((k, bounded_output(group)))  # the key may be a nested tuple


def _islice(iterable: Any, *args: Any) -> Iterator[Any]:
    return itertools.islice(getiter(iterable), *args)


def _pairwise(iterable: Any) -> Iterator[Any]:
    return _rows(itertools.pairwise(getiter(iterable)))


def _starmap(function: Any, iterable: Any) -> Iterator[Any]:
    return itertools.starmap(function, getiter(iterable))


def _zip_longest(*iterables: Any, fillvalue: Any = None) -> Iterator[Any]:
    return _rows(itertools.zip_longest(*(getiter(it) for it in iterables), fillvalue=fillvalue))


def _batched(iterable: Any, n: Any, *, strict: bool = False) -> Iterator[tuple[Any, ...]]:
    # written out (3.11 has no batched; 3.12's allocates a tuple of n before filling it)
    size = check_count(n, "itertools.batched batch")
    if size < 1:
        raise ValueError("n must be at least one")
    it = getiter(iterable)
    while batch := tuple(itertools.islice(it, size)):
        if strict and len(batch) != size:
            raise ValueError("batched(): incomplete batch")
        yield check_items(batch)


def _tee(iterable: Any, n: Any = 2) -> tuple[Any, ...]:
    copies = itertools.tee(getiter(iterable), check_count(n, "itertools.tee"))
    return tuple(bounded_output(c) for c in copies)


def _pools(iterables: tuple[Any, ...], repeat: int, what: str) -> list[list[Any]]:
    pools = [materialize(it, what) for it in iterables]
    current_budget().charge_size(sum(len(p) for p in pools) * max(repeat, 0), what)
    return pools


def _product(*iterables: Any, repeat: Any = 1) -> Iterator[tuple[Any, ...]]:
    times = int_arg(repeat)
    pools = _pools(iterables, times, "itertools.product")
    width = check_count(len(pools) * max(times, 0), "itertools.product item")
    return metered(_rows(itertools.product(*pools, repeat=times)), 1 + width // 16)


def _permutations(iterable: Any, r: Any = None) -> Iterator[tuple[Any, ...]]:
    pool = materialize(iterable, "itertools.permutations")
    width = len(pool) if r is None else check_count(r, "itertools.permutations item")
    return metered(_rows(itertools.permutations(pool, r)), 1 + width // 16)


def _combinations(iterable: Any, r: Any) -> Iterator[tuple[Any, ...]]:
    pool = materialize(iterable, "itertools.combinations")
    width = check_count(r, "itertools.combinations item")
    return metered(_rows(itertools.combinations(pool, r)), 1 + width // 16)


def _combinations_with_replacement(iterable: Any, r: Any) -> Iterator[tuple[Any, ...]]:
    pool = materialize(iterable, "itertools.combinations_with_replacement")
    # the C code allocates r indices at once, whatever the pool
    width = check_count(r, "itertools.combinations_with_replacement item")
    return metered(_rows(itertools.combinations_with_replacement(pool, r)), 1 + width // 16)


def itertools_facade() -> dict[str, Any]:
    lazy: dict[str, Callable[..., Iterator[Any]]] = {
        "count": _count,
        "cycle": _cycle,
        "repeat": _repeat,
        "accumulate": _accumulate,
        "chain": _chain,
        "compress": _compress,
        "dropwhile": _dropwhile,
        "takewhile": _takewhile,
        "filterfalse": _filterfalse,
        "groupby": _groupby,
        "islice": _islice,
        "pairwise": _pairwise,
        "starmap": _starmap,
        "zip_longest": _zip_longest,
        "batched": _batched,
    }
    attributes: dict[str, Any] = {name: _out(f, name) for name, f in lazy.items()}
    attributes["chain"].from_iterable = _out(_from_iterable, "chain.from_iterable")
    for name, function in (
        ("tee", _tee),
        ("product", _product),
        ("permutations", _permutations),
        ("combinations", _combinations),
        ("combinations_with_replacement", _combinations_with_replacement),
    ):
        attributes[name] = public(f"itertools.{name}")(function)
    return attributes


# -- heapq and bisect ------------------------------------------------------------------------
@public("heapq.nlargest")
def nlargest(n: Any, iterable: Any, key: Any = None) -> list[Any]:
    return heapq.nlargest(int_arg(n), materialize(iterable, "heapq.nlargest"), key=key)


@public("heapq.nsmallest")
def nsmallest(n: Any, iterable: Any, key: Any = None) -> list[Any]:
    return heapq.nsmallest(int_arg(n), materialize(iterable, "heapq.nsmallest"), key=key)


@public("heapq.merge")
def merge(*iterables: Any, key: Any = None, reverse: bool = False) -> Iterator[Any]:
    merged = heapq.merge(*(getiter(it) for it in iterables), key=key, reverse=reverse)
    return bounded_output(merged)  # type: ignore[no-any-return]


def heapq_facade() -> dict[str, Any]:
    # the in-place functions work on a list the script built (its size already bounded),
    # O(log n) each, heapify O(n)
    plain = ("heappush", "heappop", "heapify", "heappushpop", "heapreplace")
    attributes: dict[str, Any] = {name: getattr(heapq, name) for name in plain}
    attributes.update(nlargest=nlargest, nsmallest=nsmallest, merge=merge)
    return attributes


def bisect_facade() -> dict[str, Any]:
    # O(log n) comparisons each; insort's list.insert is a memmove of a bounded list
    names = ("bisect", "bisect_left", "bisect_right", "insort", "insort_left", "insort_right")
    return {name: getattr(bisect, name) for name in names}
