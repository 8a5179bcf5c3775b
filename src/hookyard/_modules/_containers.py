"""The ``collections`` facade.

The containers are subclasses of the standard ones whose every method that takes an
iterable, or builds a container, checks sizes (and hash spread, like ``set()``) first;
arithmetic that the standard library writes as ``Counter()`` returns these classes again.
Every iterator handed to a script charges one operation per item (more when each item is
a large tuple), so no C loop over it (``x in it``, ``sorted(it)``) outlives the budget.
Values of these classes stay on the script's side: only plain ``dict``, ``list`` and
``tuple`` cross to the host (``dict(counter)``, ``list(deque)``, ``tuple(point)``).
"""

from __future__ import annotations

import collections
import keyword
from collections.abc import ItemsView, Iterator, Mapping
from typing import Any

from .._budget import current_budget
from .._guards import NAMED_TUPLES, check_hash_spread, getiter, materialize
from .._nesting import check_items, check_tuple
from ._common import bounded_output, int_arg, public, public_class

__all__ = ["collections_facade"]


def _named(cls: type) -> None:
    public_class(cls, cls.__name__.lstrip("_"), "collections")


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
        # each row is a tuple the C code builds around a key: depth-checked like a
        # display (a chain of them otherwise crashes hash(), red team, issue 12)
        return [check_items(row) for row in super().most_common(n)]

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
class _CheckedMerges:
    """``update``, ``fromkeys`` and ``|=`` of a dict subclass, size- and spread-checked
    before the C merge runs (named by the class: ``OrderedDict.fromkeys``)."""

    def update(self, other: Any = (), /, **kwds: Any) -> None:
        what = type(self).__name__
        checked = _pairs_checked(other, len(self) + len(kwds), what)  # type: ignore[arg-type]
        super().update(checked, **kwds)  # type: ignore[misc]

    @classmethod
    def fromkeys(cls, iterable: Any, value: Any = None) -> Any:
        keys = materialize(iterable, f"{cls.__name__}.fromkeys")
        check_hash_spread(keys, f"{cls.__name__}.fromkeys")
        return super().fromkeys(keys, value)  # type: ignore[misc]

    def __ior__(self, other: Any) -> Any:
        self.update(other)
        return self


class _OrderedDict(_CheckedMerges, collections.OrderedDict):  # type: ignore[type-arg]
    def __init__(self, other: Any = (), /, **kwds: Any) -> None:
        super().__init__()
        self.update(other, **kwds)

    def __or__(self, other: Any) -> Any:
        current_budget().charge_size(len(self) + len(other), "OrderedDict")
        return super().__or__(other)


_named(_OrderedDict)


class _defaultdict(_CheckedMerges, collections.defaultdict):  # type: ignore[type-arg]  # noqa: N801
    def __init__(self, default_factory: Any = None, other: Any = (), /, **kwds: Any) -> None:
        if default_factory is not None and not callable(default_factory):
            raise TypeError("first argument must be callable or None")
        super().__init__(default_factory)
        self.update(other, **kwds)

    def copy(self) -> Any:
        current_budget().charge_size(len(self), "defaultdict copy")
        return type(self)(self.default_factory, self)

    def __or__(self, other: Any) -> Any:
        current_budget().charge_size(len(self) + len(other), "defaultdict")
        new = self.copy()
        new.update(other)
        return new


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

    def items(self) -> Any:
        return _CheckedItems(self)

    def popitem(self) -> Any:
        # the standard library pops from maps[0] in Python code, around the guards
        return check_items(super().popitem())

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


class _CheckedItems(ItemsView):  # type: ignore[type-arg]
    """``ChainMap.items()``: the standard library's view builds each ``(key, value)`` in
    Python code the guards never see; each row is depth-checked like a tuple display
    (``t = next(iter(ChainMap({0: t}).items()))`` in a loop otherwise nests deep enough
    to crash hash(), red team, issue 12)."""

    def __iter__(self) -> Iterator[Any]:
        for row in super().__iter__():
            yield check_items(row)


_CheckedItems.__module__ = "collections"


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
    make: Any = collections.namedtuple
    base: type = make(typename, checked, rename=rename, defaults=defaults, module="collections")
    namespace = {
        "__slots__": (),
        "__new__": _checked_new(base),
        "__module__": "collections",
        "_make": classmethod(_checked_make(base)),  # _replace makes through it too
    }
    made = type(typename, (base,), namespace)
    NAMED_TUPLES.add(made)
    return made


def _checked_new(base: Any) -> Any:
    """A named tuple nests what it is given one level deeper, like any tuple a script
    makes: depth-checked (a chain of them crashes hash(), issue 12)."""

    def checked_new(cls: Any, *args: Any, **kwargs: Any) -> Any:
        return check_tuple(base.__new__(cls, *args, **kwargs))

    return checked_new


def _checked_make(base: Any) -> Any:
    """``Row._make(iterable)``: the items taken under the size limit first (an endless
    iterator would fill a tuple in one C call), the result depth-checked like ``Row(...)``."""
    make = base._make.__func__

    def checked_make(cls: Any, iterable: Any) -> Any:
        return check_tuple(make(cls, materialize(iterable, "namedtuple _make")))

    return checked_make


def collections_facade() -> dict[str, Any]:
    return {
        "Counter": _Counter,
        "OrderedDict": _OrderedDict,
        "defaultdict": _defaultdict,
        "deque": _deque,
        "ChainMap": _ChainMap,
        "namedtuple": namedtuple,
    }
