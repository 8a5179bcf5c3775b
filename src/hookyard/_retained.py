"""What a script keeps between calls: ``state``, module globals, closures, defaults.

Budgets are per call, so a script could grow its ``state`` a little on every call until
the host runs out of memory. After each call the engine adds the operations the call spent
to the script's account; when the account passes the size last measured (at least
``_MIN_INTERVAL``), it measures again with an exact walk. The walk costs about one step per
item and runs only after at least that many operations, so it adds at most a constant
factor to the work the script itself did; between two walks a script can grow only by
what those operations could build (at most ~16 items per operation through the guarded
builders).
"""

from __future__ import annotations

import contextlib
import types
from collections import deque
from typing import Any

from ._guards import ScriptMeta, hash_spread_ok
from ._names import is_reserved

__all__ = ["clear_kept", "kept_size"]

_MIN_INTERVAL = 10_000
_CHARS_PER_ITEM = 8


# How to read a container subclass's items with its base type's own C methods.
_BASES: dict[type, Any] = {
    list: list.copy,
    tuple: lambda ob: tuple.__getitem__(ob, slice(None)),
    set: set.copy,
    frozenset: frozenset.copy,
    deque: lambda ob: list(deque.__iter__(ob)),
}


def kept_size(namespace: dict[str, Any], limit: int) -> int:
    """Items reachable from a script's namespace, counted up to just past ``limit``.

    Counts a slot per container entry and one item per 8 characters of text; follows the
    script's own objects (instances, classes, functions' closures and defaults, suspended
    generators' locals), never the facades, guards or builtins the engine put there.
    """
    seen: set[int] = set()
    # every name the script bound (its `_helper` names included); not the engine's
    stack: list[Any] = [v for k, v in namespace.items() if not is_reserved(k)]
    total = 0
    while stack and total <= limit:
        ob = stack.pop()
        key = id(ob)
        if key in seen:
            continue
        seen.add(key)
        cls = type(ob)
        if cls is str or cls is bytes:
            total += len(ob) // _CHARS_PER_ITEM + 1
        elif isinstance(ob, dict):
            # a dict subclass (a facade's Counter, defaultdict...) read through dict's own
            # methods: nothing the subclass overrides runs here
            total += dict.__len__(ob) + 1
            if not hash_spread_ok(dict.keys(ob)):
                # colliding keys (more than 64 distinct values sharing a hash): over the
                # limit whatever the size -- built a few per call they cost each call
                # little, but one comparison or copy of them is a single quadratic C call
                return limit + 1
            stack.extend(dict.keys(ob))
            stack.extend(dict.values(ob))
        elif isinstance(ob, list | tuple | set | frozenset | deque):
            base = _BASES[next(k for k in _BASES if isinstance(ob, k))]
            items = base(ob)
            total += len(items) + 1
            if isinstance(ob, set | frozenset) and not hash_spread_ok(items):
                return limit + 1
            stack.extend(items)
        elif cls is int:
            total += ob.bit_length() // 64 + 1
        elif isinstance(cls, ScriptMeta) or isinstance(ob, ScriptMeta):
            attributes = getattr(ob, "__dict__", None)
            if attributes is not None:
                total += len(attributes) + 1
                stack.extend(attributes.values())
        elif cls is types.FunctionType:
            stack.extend(ob.__defaults__ or ())
            stack.extend((ob.__kwdefaults__ or {}).values())
            for cell in ob.__closure__ or ():
                with contextlib.suppress(ValueError):  # an empty cell has no contents
                    stack.append(cell.cell_contents)
        elif cls is types.MethodType:
            stack.append(ob.__self__)
        elif cls is types.GeneratorType:
            frame = ob.gi_frame
            if frame is not None:
                stack.extend(frame.f_locals.values())
    return total


def clear_kept(namespace: dict[str, Any]) -> None:
    """Drop what a script kept: empty ``state`` and its module-level containers."""
    for name, value in namespace.items():
        if is_reserved(name):
            continue
        # the base type's own clear: no subclass code runs
        if isinstance(value, dict):
            dict.clear(value)
        elif isinstance(value, list):
            list.clear(value)
        elif isinstance(value, set):
            set.clear(value)
        elif isinstance(value, deque):
            deque.clear(value)


class KeptAccount:
    """Per script version: operations spent since its kept size was last measured."""

    __slots__ = ("due",)

    def __init__(self) -> None:
        self.due = _MIN_INTERVAL

    def spend(self, operations: int) -> bool:
        """Record a call's operations; True when it is time to measure again."""
        self.due -= operations
        return self.due <= 0

    def measured(self, size: int) -> None:
        self.due = max(size, _MIN_INTERVAL)
