"""Helpers every facade shares: public names, size accounting, bounded iterators.

Facade functions run in the script's thread under the script's budget, like the guards in
``_guards.py``; they charge or refuse *before* the C work wherever the work or the result
can grow faster than the input (issue 12, family 2).
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from .._budget import Budget, bounded, current_budget
from .._guards import getiter, materialize

__all__ = [
    "Output",
    "bounded_output",
    "check_count",
    "int_arg",
    "items_of",
    "metered",
    "public",
    "public_class",
    "stream",
    "text_size",
]

F = TypeVar("F", bound=Callable[..., Any])


def public(name: str) -> Callable[[F], F]:
    """Name a facade function as scripts know it (``json.dumps``), never by its internal
    name: Python's own argument errors (``... got an unexpected keyword argument``) use
    ``__qualname__`` (issue 18, item 9)."""

    def rename(function: F) -> F:
        function.__qualname__ = name
        function.__name__ = name.rpartition(".")[2]
        function.__module__ = name.rpartition(".")[0] or name
        return function

    return rename


def int_arg(value: Any) -> int:
    """An int argument (``operator.index``: ints and what stands for one, never floats)."""
    return operator.index(value)


def public_class(cls: type, name: str, module: str) -> None:
    """Name a facade class and its methods as scripts know them (``Counter.update``), so
    argument errors never show an internal name (issue 18, item 9)."""
    cls.__module__ = module
    cls.__name__ = cls.__qualname__ = name
    for attribute, value in vars(cls).items():
        function = value.__func__ if isinstance(value, classmethod | staticmethod) else value
        if isinstance(function, property):
            function = function.fget
        if callable(function) and hasattr(function, "__qualname__"):
            # a builtin's name is its own and cannot be set
            with contextlib.suppress(AttributeError, TypeError):
                function.__qualname__ = f"{name}.{attribute}"


def check_count(value: Any, what: str) -> int:
    """``value`` as an int count, refused past the size limit (a count of items the call
    is about to build or allocate)."""
    n = operator.index(value)
    current_budget().charge_size(max(n, 0), what)
    return n


def text_size(value: Any) -> int:
    """Characters (or bytes) of a str or bytes-like value; 0 for anything else."""
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    return 0


class Output:
    """A result built piece by piece (``re.sub``, ``textwrap.fill``...): every piece is
    charged as it is added, and the whole is refused past the size limit *before* the
    piece that would cross it is built."""

    __slots__ = ("budget", "total", "what")

    def __init__(self, what: str, budget: Budget | None = None) -> None:
        self.budget = budget if budget is not None else current_budget()
        self.total = 0
        self.what = what

    def add(self, size: int) -> None:
        self.total += size
        budget = self.budget
        if self.total > budget.limits.size:
            raise budget.exhaust(
                "size",
                f"size limit ({budget.limits.size:,}) exceeded: {self.what} of more than "
                f"{budget.limits.size:,} items",
            )
        budget.charge((size >> 4) + 1)


def stream(iterable: Any) -> Iterator[Any]:
    """An iterable argument a facade consumes item by item (in C or in the standard
    library's Python code): sized values charged up front, the rest one operation per
    item, so no consumer can run past the budget (``_guards.getiter``)."""
    return getiter(iterable)


def items_of(iterable: Any, what: str) -> list[Any]:
    """An iterable argument a facade needs whole: a list, refused past the size limit."""
    return materialize(iterable, what)


def bounded_output(iterator: Iterable[Any]) -> Any:
    """An iterator handed to a script: one operation per item, in C, so a C consumer
    (``x in it``, ``sorted(it)``) stops when the budget does."""
    return bounded(iterator, current_budget())


def metered(iterator: Iterable[Any], cost: int) -> Iterator[Any]:
    """An iterator handed to a script whose items each cost ``cost`` operations to build
    (the tuples of ``itertools.product``): charged before each item is made."""
    it = iter(iterator)
    while True:
        current_budget().charge(cost)
        try:
            item = next(it)
        except StopIteration:
            return
        yield item
