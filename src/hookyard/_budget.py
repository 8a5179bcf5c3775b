"""Per-invocation budgets: operations, wall-clock seconds, depth, size and output.

Design (measured, see docs/performance.md): nothing here runs per bytecode. The policy
(``_policy.py``) plants a C-level ``tick`` (``range_iterator.__next__``) at the top of every
``while`` body and every script function, charges sized ``for`` loops once up front
(``_getiter_``), and counts script-function depth with a pre-filled list whose C-level
``pop``/``append`` do the bookkeeping. The wall clock is watched by one monitor thread,
which never raises into a running thread (that could land inside host code): it exhausts
the invocation's tick iterator, so the script stops at its next tick.

Exhaustion is sticky: once the iterator is empty every later tick raises, and the
``_check_()`` the policy plants at the top of every ``except`` and ``finally`` block
re-raises, so a script cannot catch and swallow its own limit.
"""

from __future__ import annotations

import itertools
import operator
import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from operator import length_hint
from typing import Any

__all__ = ["Budget", "BudgetExhausted", "Limits", "current_budget", "running"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Budget for one script function call, and for one module body at load.

    - ``operations``: loop iterations plus script-function calls; a ``for`` over a sized
      value is charged its length up front; building a value charges one operation per
      16 items, so the total a script may allocate per call is bounded too.
    - ``seconds``: wall-clock time, enforced at the script's next loop iteration or call.
    - ``depth``: nesting of script function calls.
    - ``size``: the largest str, bytes, list, tuple, dict or set a script may build (items
      or characters), and the largest int (in bits); checked *before* the memory is taken.
    - ``output``: characters a script may send through ``print`` and ``log`` per call.
    - ``memory``: bytes the process may grow (resident size) while a call runs, checked
      by the monitor thread every few milliseconds: a backstop behind the size checks for
      allocations they do not see. Concurrent calls share the process, so growth is
      charged to every call running while it happens.
    - ``kept``: items a script may keep *between* calls (in ``state``, module-level
      containers, closures): one per container slot, one per 8 characters of text.
      Measured every so often (see ``_retained.py``); past it the script's kept data is
      dropped and that call fails with ``LimitExceeded``.
    """

    operations: int = 1_000_000
    seconds: float = 1.0
    depth: int = 64
    size: int = 1_000_000
    output: int = 65_536
    memory: int = 512 * 1024 * 1024
    kept: int = 2_000_000

    def __post_init__(self) -> None:
        for name in ("operations", "depth", "size", "output", "memory", "kept"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive int, not {value!r}")
        if not isinstance(self.seconds, int | float) or not self.seconds > 0:
            raise ValueError(f"Limits.seconds must be a positive number, not {self.seconds!r}")


class BudgetExhausted(BaseException):
    """Internal: raised inside the sandbox when a budget runs out.

    A ``BaseException`` so that ``except Exception`` in a script does not even see it; the
    ``_check_()`` planted in every handler re-raises it from ``except BaseException`` too.
    The engine turns it into the public ``LimitExceeded`` at the boundary.
    """

    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(detail)
        self.limit = limit
        self.detail = detail


class _Local(threading.local):
    budget: Budget | None = None
    handle: tuple[Any, Any, Any] | None = None


_local = _Local()
# Budgets whose deadline the monitor watches: id(budget) -> budget.
_active: dict[int, Budget] = {}
_monitor_lock = threading.Lock()
_monitor_wake = threading.Event()
_monitor_state = {"started": False, "idle": False}
_MONITOR_PERIOD = 0.002  # seconds between deadline scans while something runs


class Budget:
    """The budget of one invocation. Created per script call; never shared by threads."""

    __slots__ = (
        "_depth_slots",
        "_ticks",
        "deadline",
        "handle",
        "limits",
        "loops",
        "output_left",
        "reason",
        "rss_start",
    )

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        # Any: typeshed does not know range_iterator.__setstate__
        self._ticks: Any = iter(range(limits.operations))
        # depth slots: the bottom one is a truthy marker; popping it means "too deep".
        self._depth_slots: list[object] = [True] + [None] * (limits.depth - 1)
        self.handle = (self._ticks.__next__, self._depth_slots.pop, self._depth_slots.append)
        self.deadline = time.monotonic() + limits.seconds
        self.output_left = limits.output
        self.reason: BudgetExhausted | None = None
        # the C iterators of the loops running now (charged up front, so they do not tick
        # per item): exhausting the budget exhausts them too, so a loop stops at its next
        # iteration. The newest few are enough: an older loop that is still running
        # starts its inner loops through _getiter_, which checks the budget.
        self.loops: deque[Any] = deque(maxlen=32)
        self.rss_start = -1  # resident size when the monitor first saw this call

    # -- state ------------------------------------------------------------------------
    def exhaust(self, limit: str, detail: str) -> BudgetExhausted:
        """Mark the budget spent (first reason wins) and return the exception to raise."""
        if self.reason is None:
            self.reason = BudgetExhausted(limit, detail)
        self._ticks.__setstate__(self.limits.operations)
        for iterator in list(self.loops):
            iterator.__setstate__(sys.maxsize)
        return self.reason

    def failure(self) -> BudgetExhausted | None:
        """Why this budget is spent, or None while it is not."""
        if self.reason is not None:
            return self.reason
        if length_hint(self._ticks) == 0:
            return self.exhaust(
                "operations", f"operations limit ({self.limits.operations:,}) exceeded"
            )
        return None

    # -- charges ----------------------------------------------------------------------
    def charge(self, count: int) -> None:
        """Spend ``count`` operations at once (a sized loop, a large value)."""
        left = length_hint(self._ticks)
        if count > left:
            raise self.exhaust(
                "operations", f"operations limit ({self.limits.operations:,}) exceeded"
            )
        self._ticks.__setstate__(self.limits.operations - left + count)

    def charge_size(self, size: int, what: str) -> None:
        """Refuse to build a value of ``size`` items; charge its building otherwise."""
        if size > self.limits.size:
            raise self.exhaust(
                "size", f"size limit ({self.limits.size:,}) exceeded: {what} of {size:,} items"
            )
        if size >= 16:
            self.charge(size >> 4)

    def charge_bits(self, bits: int, what: str) -> None:
        """Refuse to build an int of ``bits`` bits."""
        if bits > self.limits.size:
            raise self.exhaust(
                "size", f"size limit ({self.limits.size:,} bits) exceeded: {what} of ~{bits:,} bits"
            )
        if bits >= 1024:
            self.charge(bits >> 10)

    def charge_output(self, chars: int) -> None:
        self.output_left -= chars
        if self.output_left < 0:
            raise self.exhaust(
                "output", f"output limit ({self.limits.output:,} characters) exceeded"
            )

    def used(self) -> int:
        """Operations spent so far."""
        return int(self.limits.operations - length_hint(self._ticks))

    def check_deadline(self, now: float) -> None:
        if now > self.deadline:
            self.exhaust("seconds", f"time limit ({self.limits.seconds:g} s) exceeded")


def current_budget() -> Budget:
    """The budget of the invocation running in this thread (guards charge it)."""
    budget = _local.budget
    if budget is None:
        raise RuntimeError("script code ran outside a hookyard invocation")
    return budget


class running:  # noqa: N801 - used as a context manager, reads as a verb
    """Make ``budget`` the current one for this thread and watch its deadline."""

    __slots__ = ("budget", "previous", "previous_handle")

    def __init__(self, budget: Budget) -> None:
        self.budget = budget

    def __enter__(self) -> Budget:
        budget = self.budget
        self.previous = _local.budget
        self.previous_handle = _local.handle
        _local.budget = budget
        _local.handle = budget.handle
        _active[id(budget)] = budget
        if _monitor_state["idle"] or not _monitor_state["started"]:
            _wake_monitor()
        return budget

    def __exit__(self, *exc: object) -> None:
        _active.pop(id(self.budget), None)
        _local.budget = self.previous
        _local.handle = self.previous_handle


def handle() -> tuple[Any, Any, Any]:
    """What a script function's prologue unpacks: (tick, enter, leave)."""
    current = _local.handle
    if current is None:
        raise RuntimeError("script code ran outside a hookyard invocation")
    return current


def too_deep() -> None:
    """Called by a prologue that popped the bottom depth slot."""
    budget = current_budget()
    raise budget.exhaust("depth", f"depth limit ({budget.limits.depth}) exceeded")


_FATAL = (BudgetExhausted, RecursionError, MemoryError)


def check() -> None:
    """Planted first in every script ``except`` and ``finally`` block.

    Re-raises a spent budget, and treats a caught RecursionError or MemoryError as one:
    a script may not catch its way past the interpreter's own limits either.
    """
    budget = current_budget()
    spent = budget.failure()
    if spent is not None:
        raise spent
    caught = sys.exception()
    if isinstance(caught, _FATAL):
        if isinstance(caught, BudgetExhausted):
            raise budget.exhaust(caught.limit, caught.detail)
        if isinstance(caught, RecursionError):
            raise budget.exhaust("depth", "recursion too deep (RecursionError)")
        raise budget.exhaust("size", "out of memory (MemoryError)")


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_statm: list[int] = []


def _resident_size() -> int:
    """This process's resident size in bytes (Linux /proc), or -1 where unknown."""
    if not _statm:
        try:
            _statm.append(os.open("/proc/self/statm", os.O_RDONLY))
        except OSError:
            _statm.append(-1)
    fd = _statm[0]
    if fd < 0:
        return -1
    try:
        return int(os.pread(fd, 64, 0).split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return -1


def _wake_monitor() -> None:
    with _monitor_lock:
        if not _monitor_state["started"]:
            _monitor_state["started"] = True
            threading.Thread(target=_monitor, name="hookyard-deadlines", daemon=True).start()
    _monitor_wake.set()


def _monitor() -> None:
    # One thread for the whole process. It never raises into another thread: it only
    # exhausts tick iterators, which the script trips over at its next loop or call.
    while True:
        if not _active:
            _monitor_state["idle"] = True
            if not _active:  # re-check after publishing idle: a new budget may have missed it
                _monitor_wake.wait()
            _monitor_wake.clear()
            _monitor_state["idle"] = False
            continue
        time.sleep(_MONITOR_PERIOD)
        now = time.monotonic()
        rss = _resident_size()
        for budget in list(_active.values()):
            budget.check_deadline(now)
            if rss >= 0:
                if budget.rss_start < 0:
                    budget.rss_start = rss
                elif rss - budget.rss_start > budget.limits.memory:
                    budget.exhaust(
                        "memory",
                        f"memory limit ({budget.limits.memory:,} bytes) exceeded: the process "
                        f"grew by {rss - budget.rss_start:,} bytes during the call",
                    )


def bounded(iterable: Any, budget: Budget) -> Any:
    """An iterator over ``iterable`` that charges one operation per item, in C.

    ``zip`` pulls an item, then a tick; when the ticks run out zip stops and the tail
    generator reports the spent budget, so a C-level consumer (``sum``, ``sorted``...)
    can never run past the budget.
    """
    return itertools.chain(
        map(_first, zip(iterable, budget._ticks, strict=False)),
        _raise_if_spent(budget),
    )


_first = operator.itemgetter(0)


def _raise_if_spent(budget: Budget) -> Any:
    spent = budget.failure()
    if spent is not None:
        raise spent
    yield from ()
