"""How deep a script's values and iterators may nest (issue 12, family 3).

Some C code recurses into nested values without asking the interpreter's recursion
guard: ``hash()`` of a tuple hashes its items (and a slice, from CPython 3.12, its
bounds), and ``next()`` of a ``map``/``filter``/``zip``/``enumerate`` asks the iterator it
wraps. A tuple nested a few hundred thousand deep (``t = (t,)`` in a loop) or as long a
chain of iterators kills CPython with SIGSEGV, on 3.11, 3.12 and 3.13 alike. So nesting is
bounded where it is built, by construction:

- **tuples and slices**: every way a script makes a tuple from values it holds -- a
  display (``(t,)``, ``return a, b``), ``*args``, ``tuple()``, ``slice()``, the rows of
  ``zip``/``enumerate``/``dict.items()``, an exception's ``args`` -- checks the new value
  nests at most ``MAX_NESTING`` tuples deep. Depths are remembered per invocation (keyed
  by id, the tuple kept alive meanwhile), so ``t = (t,)`` in a loop costs one look-up a
  step; a tuple kept from an earlier call is walked, at most ``MAX_NESTING`` levels down
  and charged per node.
- **C iterator chains**: the iterators the guards build carry their depth; one more than
  ``MAX_NESTING`` levels of ``map`` over ``map`` is refused. A script's own generators
  (``def ... yield`` and generator expressions) resume through ``ScriptGenerator``, which
  takes a depth slot of the budget for every resumption, so a chain of generators is
  bounded by ``Limits.depth`` and a chain of C iterators between two of them by
  ``MAX_NESTING``.
"""

from __future__ import annotations

from typing import Any

from ._budget import current_budget
from ._copy import MAX_NESTING

__all__ = ["MAX_NESTING", "check_items", "check_tuple", "tuple_depth"]

_NESTS = (tuple, slice)


def _children(value: Any) -> tuple[Any, ...]:
    if isinstance(value, tuple):
        return tuple(value)  # a script's tuple subclass: its items, not its __iter__
    return (value.start, value.stop, value.step)


def tuple_depth(value: Any) -> int:
    """Tuples (and slices) nested inside ``value``, itself counted; past MAX_NESTING the
    walk stops and reports ``MAX_NESTING + 1``."""
    if not isinstance(value, _NESTS):
        return 0
    budget = current_budget()
    known = budget.depths
    found = known.get(id(value))
    if found is not None and found[0] is value:
        return int(found[1])
    # an explicit stack (depth-first, children settled before their parent)
    depths: dict[int, int] = {}
    stack: list[tuple[Any, bool, int]] = [(value, False, 1)]
    visited = 0
    while stack:
        node, settle, level = stack.pop()
        key = id(node)
        if not settle:
            if key in depths:
                continue
            remembered = known.get(key)
            if remembered is not None and remembered[0] is node:
                depths[key] = remembered[1]
                if level + remembered[1] - 1 > MAX_NESTING:
                    return MAX_NESTING + 1
                continue
            if level > MAX_NESTING:
                return MAX_NESTING + 1
            visited += 1
            stack.append((node, True, level))
            stack.extend(
                (child, False, level + 1) for child in _children(node) if isinstance(child, _NESTS)
            )
        else:
            depth = 1 + max(
                (
                    depths.get(id(child), 0)
                    for child in _children(node)
                    if isinstance(child, _NESTS)
                ),
                default=0,
            )
            depths[key] = depth
            known[key] = (node, depth)
    if visited > 64:
        budget.charge(visited >> 4)
    return depths[id(value)]


def check_tuple(value: Any) -> Any:
    """``value`` (a tuple or slice just made), refused past MAX_NESTING levels."""
    if tuple_depth(value) > MAX_NESTING:
        budget = current_budget()
        raise budget.exhaust(
            "depth",
            f"depth limit: tuples nested more than {MAX_NESTING} deep "
            "(deeper nesting crashes the interpreter's hash)",
        )
    return value


def check_items(items: tuple[Any, ...]) -> tuple[Any, ...]:
    """``items`` (a new tuple): checked only when one of them nests itself."""
    for item in items:
        if isinstance(item, _NESTS):
            return check_tuple(items)  # type: ignore[no-any-return]
    return items
