"""Container facades: ``collections``, ``itertools``, ``heapq``, ``bisect``.

The containers are subclasses of the standard ones whose every method that takes an
iterable, or builds a container, checks sizes (and hash spread, like ``set()``) first;
arithmetic that the standard library writes as ``Counter()`` returns these classes again.
Every iterator handed to a script charges one operation per item (more when each item is
a large tuple), so no C loop over it (``x in it``, ``sorted(it)``) outlives the budget.
Values of these classes stay on the script's side: only plain ``dict``, ``list`` and
``tuple`` cross to the host (``dict(counter)``, ``list(deque)``, ``tuple(point)``).
"""

from __future__ import annotations

import bisect
import collections
import heapq
import itertools
import keyword
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .._budget import current_budget
from .._guards import check_hash_spread, getiter, materialize
from ._common import bounded_output, check_count, int_arg, metered, public

__all__ = ["bisect_facade", "collections_facade", "heapq_facade", "itertools_facade"]


def _named(cls: type, module: str = "collections") -> None:
    cls.__module__ = module
    cls.__qualname__ = cls.__name__ = cls.__name__.lstrip("_")


def _keys_checked(source: Any, size: int, what: str) -> Any:
    """A mapping or iterable about to be merged into a container of ``size`` items:
    refused past the size limit or with colliding hashes; a list when it was an iterator."""
    budget = current_budget()
    if isinstance(source, Mapping):
        budget.charge_size(size + len(source), what)
        check_hash_spread(list(source.keys()) if len(source) > 1024 else (), what)
        return source
    items = materialize(source, what)
    budget.charge_size(size + len(items), what)
    return items


def _pairs_checked(source: Any, size: int, what: str) -> Any:
    if isinstance(source, Mapping):
        return _keys_checked(source, size, what)
    items = _keys_checked(source, size, what)
    check_hash_spread([p[0] for p in items if type(p) in (tuple, list) and len(p) == 2], what)
    return items


# -- Counter ---------------------------------------------------------------------------------
class _Counter(collections.Counter):  # type: ignore[type-arg]
    def __init__(self, iterable: Any = None, /, **kwds: Any) -> None:
        super().__init__()
        self.update(iterable, **kwds)

    def update(self, iterable: Any = None, /, **kwds: Any) -> None:
        if iterable is not None:
            iterable = _keys_checked(iterable, len(self), "Counter")
            if not isinstance(iterable, Mapping):
                check_hash_spread(iterable, "Counter")
        super().update(iterable, **kwds)

    def subtract(self, iterable: Any = None, /, **kwds: Any) -> None:
        if iterable is not None:
            iterable = _keys_checked(iterable, len(self), "Counter")
            if not isinstance(iterable, Mapping):
                check_hash_spread(iterable, "Counter")
        super().subtract(iterable, **kwds)

    def elements(self) -> Iterator[Any]:
        # counts can be 10**18: one operation per element produced
        return bounded_output(super().elements())  # type: ignore[no-any-return]

    def most_common(self, n: int | None = None) -> list[tuple[Any, int]]:
        current_budget().charge_size(len(self), "Counter.most_common")
        return super().most_common(n)

    def _arith(self, other: Any, name: str) -> Any:
        size = len(self) + (len(other) if isinstance(other, Mapping) else 0)
        current_budget().charge_size(size, f"Counter {name}")
        result = getattr(collections.Counter, name)(self, other)
        return _as_counter(result)

    def __add__(self, other: Any) -> Any:
        return self._arith(other, "__add__")

    def __sub__(self, other: Any) -> Any:
        return self._arith(other, "__sub__")

    def __or__(self, other: Any) -> Any:
        return self._arith(other, "__or__")

    def __and__(self, other: Any) -> Any:
        return self._arith(other, "__and__")

    def __pos__(self) -> Any:
        current_budget().charge_size(len(self), "Counter")
        return _as_counter(super().__pos__())

    def __neg__(self) -> Any:
        current_budget().charge_size(len(self), "Counter")
        return _as_counter(super().__neg__())

    def __iadd__(self, other: Any) -> Any:
        current_budget().charge_size(len(self) + len(other), "Counter")
        return super().__iadd__(other)

    def __isub__(self, other: Any) -> Any:
        current_budget().charge_size(len(self) + len(other), "Counter")
        return super().__isub__(other)

    def __ior__(self, other: Any) -> Any:
        current_budget().charge_size(len(self) + len(other), "Counter")
        return super().__ior__(other)

    def __iand__(self, other: Any) -> Any:
        current_budget().charge_size(len(self) + len(other), "Counter")
        return super().__iand__(other)


def _as_counter(result: Any) -> Any:
    if type(result) is collections.Counter:
        counter = _Counter()
        dict.update(counter, result)
        return counter
    return result


_named(_Counter)


# -- OrderedDict and defaultdict --------------------------------------------------------------
class _OrderedDict(collections.OrderedDict):  # type: ignore[type-arg]
    def __init__(self, other: Any = (), /, **kwds: Any) -> None:
        super().__init__()
        self.update(other, **kwds)

    def update(self, other: Any = (), /, **kwds: Any) -> None:
        super().update(_pairs_checked(other, len(self) + len(kwds), "OrderedDict"), **kwds)

    @classmethod
    def fromkeys(cls, iterable: Any, value: Any = None) -> Any:
        keys = materialize(iterable, "OrderedDict.fromkeys")
        check_hash_spread(keys, "OrderedDict.fromkeys")
        return super().fromkeys(keys, value)

    def __or__(self, other: Any) -> Any:
        current_budget().charge_size(len(self) + len(other), "OrderedDict")
        return super().__or__(other)

    def __ior__(self, other: Any) -> Any:
        self.update(other)
        return self


_named(_OrderedDict)


class _defaultdict(collections.defaultdict):  # type: ignore[type-arg]  # noqa: N801
    def __init__(self, default_factory: Any = None, other: Any = (), /, **kwds: Any) -> None:
        if default_factory is not None and not callable(default_factory):
            raise TypeError("first argument must be callable or None")
        super().__init__(default_factory)
        self.update(other, **kwds)

    def update(self, other: Any = (), /, **kwds: Any) -> None:
        super().update(_pairs_checked(other, len(self) + len(kwds), "defaultdict"), **kwds)

    @classmethod
    def fromkeys(cls, iterable: Any, value: Any = None) -> Any:
        keys = materialize(iterable, "defaultdict.fromkeys")
        check_hash_spread(keys, "defaultdict.fromkeys")
        return super().fromkeys(keys, value)

    def copy(self) -> Any:
        current_budget().charge_size(len(self), "defaultdict copy")
        return type(self)(self.default_factory, self)

    def __or__(self, other: Any) -> Any:
        current_budget().charge_size(len(self) + len(other), "defaultdict")
        new = self.copy()
        new.update(other)
        return new

    def __ior__(self, other: Any) -> Any:
        self.update(other)
        return self


_named(_defaultdict)


# -- deque -----------------------------------------------------------------------------------
class _deque(collections.deque):  # type: ignore[type-arg]  # noqa: N801
    def __init__(self, iterable: Any = (), maxlen: Any = None) -> None:
        if maxlen is not None:
            maxlen = int_arg(maxlen)
        super().__init__((), maxlen)
        self.extend(iterable)

    def _items(self, iterable: Any) -> Any:
        if self.maxlen is not None:
            return getiter(iterable)  # only the last maxlen items are kept
        items = materialize(iterable, "deque")
        current_budget().charge_size(len(self) + len(items), "deque")
        return items

    def extend(self, iterable: Any) -> None:
        super().extend(self._items(iterable))

    def extendleft(self, iterable: Any) -> None:
        super().extendleft(self._items(iterable))

    def __iadd__(self, other: Any) -> Any:
        self.extend(other)
        return self

    def __add__(self, other: Any) -> Any:
        if not isinstance(other, collections.deque):
            return NotImplemented
        new = self.copy()
        new.extend(other)
        return new

    def _times(self, n: Any) -> int:
        n = int_arg(n)
        size = len(self) * max(n, 0)
        if self.maxlen is not None:
            size = min(size, self.maxlen)
        current_budget().charge_size(size, "deque repetition")
        return int(n)

    def __mul__(self, n: Any) -> Any:
        return super().__mul__(self._times(n))

    def __rmul__(self, n: Any) -> Any:
        return super().__rmul__(self._times(n))

    def __imul__(self, n: Any) -> Any:
        return super().__imul__(self._times(n))

    def copy(self) -> Any:
        current_budget().charge_size(len(self), "deque copy")
        return type(self)(self, self.maxlen)


_named(_deque)


# -- ChainMap --------------------------------------------------------------------------------
class _ChainMap(collections.ChainMap):  # type: ignore[type-arg]
    """Its maps can share one large dict many times: whole-view operations charge the sum
    of the maps' sizes (len, iteration, repr, copies)."""

    def _charge_all(self, what: str) -> None:
        budget = current_budget()
        budget.charge_size(len(self.maps), what)
        total = sum(len(m) for m in self.maps)
        budget.charge(total >> 4)

    def __len__(self) -> int:
        self._charge_all("ChainMap")
        return super().__len__()

    def __iter__(self) -> Iterator[Any]:
        self._charge_all("ChainMap")
        return super().__iter__()

    def __repr__(self) -> str:
        self._charge_all("ChainMap")
        return super().__repr__()

    def __getitem__(self, key: Any) -> Any:
        if len(self.maps) > 16:
            current_budget().charge(len(self.maps) >> 4)
        return super().__getitem__(key)

    def __contains__(self, key: Any) -> bool:
        if len(self.maps) > 16:
            current_budget().charge(len(self.maps) >> 4)
        return super().__contains__(key)

    def new_child(self, m: Any = None, **kwargs: Any) -> Any:
        current_budget().charge_size(len(self.maps) + 1, "ChainMap")
        return super().new_child(m, **kwargs)

    def copy(self) -> Any:
        current_budget().charge_size(len(self.maps[0]) + len(self.maps), "ChainMap copy")
        return super().copy()

    @classmethod
    def fromkeys(cls, iterable: Any, *args: Any) -> Any:
        keys = materialize(iterable, "ChainMap.fromkeys")
        check_hash_spread(keys, "ChainMap.fromkeys")
        return cls(dict.fromkeys(keys, *args))

    def update(self, other: Any = (), /, **kwds: Any) -> None:
        self.maps[0].update(_pairs_checked(other, len(self.maps[0]), "ChainMap"), **kwds)

    def __or__(self, other: Any) -> Any:
        new = self.copy()
        new.update(other)
        return new

    def __ior__(self, other: Any) -> Any:
        self.update(other)
        return self


_named(_ChainMap)


# -- namedtuple ------------------------------------------------------------------------------
_MAX_FIELDS = 256


def _identifier(name: Any, what: str) -> str:
    # ASCII only: the standard library evaluates generated code holding these names, and
    # NFKC normalisation would make distinct non-ASCII names collide
    if not isinstance(name, str) or not name.isascii() or not name.isidentifier():
        raise ValueError(f"{what} must be ASCII identifiers: {name!r}")
    if keyword.iskeyword(name):
        raise ValueError(f"{what} cannot be a keyword: {name!r}")
    return name


@public("collections.namedtuple")
def namedtuple(
    typename: Any, field_names: Any, *, rename: bool = False, defaults: Any = None
) -> type:
    if isinstance(field_names, str):
        current_budget().charge_size(len(field_names), "namedtuple fields")
        field_names = field_names.replace(",", " ").split()
    fields = materialize(field_names, "namedtuple fields")
    if len(fields) > _MAX_FIELDS:
        raise ValueError(f"namedtuple: at most {_MAX_FIELDS} fields")
    _identifier(typename, "Type names")
    checked = []
    for index, name in enumerate(fields):
        try:
            if isinstance(name, str) and name.startswith("_") and not rename:
                raise ValueError(f"Field names cannot start with an underscore: {name!r}")
            checked.append(_identifier(name, "Field names"))
        except ValueError:
            if not rename:
                raise
            checked.append(f"_{index}")
    if defaults is not None:
        defaults = materialize(defaults, "namedtuple defaults")
    current_budget().charge(len(checked) * 64)  # code generation and a compile
    return collections.namedtuple(
        typename, checked, rename=rename, defaults=defaults, module="collections"
    )


def collections_facade() -> dict[str, Any]:
    return {
        "Counter": _Counter,
        "OrderedDict": _OrderedDict,
        "defaultdict": _defaultdict,
        "deque": _deque,
        "ChainMap": _ChainMap,
        "namedtuple": namedtuple,
    }


# -- itertools -------------------------------------------------------------------------------
def _out(function: Callable[..., Iterator[Any]], name: str) -> Callable[..., Any]:
    """An itertools function over bounded inputs whose iterator is bounded too."""

    def made(*args: Any, **kwargs: Any) -> Any:
        return bounded_output(function(*args, **kwargs))

    return public(f"itertools.{name}")(made)


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
    return ((k, bounded_output(group)) for k, group in itertools.groupby(getiter(iterable), key))


def _islice(iterable: Any, *args: Any) -> Iterator[Any]:
    return itertools.islice(getiter(iterable), *args)


def _pairwise(iterable: Any) -> Iterator[Any]:
    return itertools.pairwise(getiter(iterable))


def _starmap(function: Any, iterable: Any) -> Iterator[Any]:
    return itertools.starmap(function, getiter(iterable))


def _zip_longest(*iterables: Any, fillvalue: Any = None) -> Iterator[Any]:
    return itertools.zip_longest(*(getiter(it) for it in iterables), fillvalue=fillvalue)


def _batched(iterable: Any, n: Any, *, strict: bool = False) -> Iterator[tuple[Any, ...]]:
    # written out (3.11 has no batched; 3.12's allocates a tuple of n before filling it)
    size = check_count(n, "itertools.batched batch")
    if size < 1:
        raise ValueError("n must be at least one")
    it = getiter(iterable)
    while batch := tuple(itertools.islice(it, size)):
        if strict and len(batch) != size:
            raise ValueError("batched(): incomplete batch")
        yield batch


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
    return metered(itertools.product(*pools, repeat=times), 1 + width // 16)


def _permutations(iterable: Any, r: Any = None) -> Iterator[tuple[Any, ...]]:
    pool = materialize(iterable, "itertools.permutations")
    width = len(pool) if r is None else check_count(r, "itertools.permutations item")
    return metered(itertools.permutations(pool, r), 1 + width // 16)


def _combinations(iterable: Any, r: Any) -> Iterator[tuple[Any, ...]]:
    pool = materialize(iterable, "itertools.combinations")
    width = check_count(r, "itertools.combinations item")
    return metered(itertools.combinations(pool, r), 1 + width // 16)


def _combinations_with_replacement(iterable: Any, r: Any) -> Iterator[tuple[Any, ...]]:
    pool = materialize(iterable, "itertools.combinations_with_replacement")
    # the C code allocates r indices at once, whatever the pool
    width = check_count(r, "itertools.combinations_with_replacement item")
    return metered(itertools.combinations_with_replacement(pool, r), 1 + width // 16)


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
