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

Budget objects are reused, not made per call (issue 6: allocating one cost more than the
rest of an invocation). Each thread keeps one budget per nesting level (a script calling an
``api`` function that calls another hooked function runs the inner script on the next
level). An invocation starts its budget (``Budget.begin``), marks it running by making
``serial`` odd, and on the way out makes ``serial`` even and *exhausts* the ticks: a
closure or generator a script kept from an earlier call finds no ticks left until an
invocation runs it again, and between invocations every tick fails.

How a budget is refilled depends on the interpreter (issue 11), so it is chosen by a probe
of ``range_iterator.__setstate__`` when this module is imported, never by version number:

- ``refill`` (CPython 3.11): ``__setstate__(index)`` sets the position absolutely, so one
  C call puts the budget's one iterator back to its start;
- ``renew`` (CPython 3.12 and later: ``__setstate__`` only moves forward, gh-100220's
  rewrite of the range iterator): each invocation takes a fresh iterator over a range the
  budget keeps, and publishes its ``__next__`` as the thread's tick;
- and a charge of ``n`` operations moves the iterator ``n`` forward: one ``__setstate__``
  (absolute or relative, whichever the probe found) or, for a shape the probe does not
  know, by consuming ``n`` items in C (slower, never wrong: fail closed).

Loops charged up front (``_getiter_`` over a sized value) run in C without ticking; their
iterators are registered in ``Budget.loops`` so that exhausting the budget (a deadline, the
memory watchdog) exhausts them too and the loop stops at its next iteration.
"""

from __future__ import annotations

import _thread
import contextlib
import itertools
import logging
import math
import operator
import os
import sys
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol, cast

__all__ = [
    "MONITOR",
    "Budget",
    "BudgetExhausted",
    "Limits",
    "current_budget",
    "running",
    "thread_budget",
    "wake_monitor",
]

# Every budget's tick iterator walks range(_TICKS); a budget of n operations starts at
# _TICKS - n, so one C call (`__setstate__`) refills it whatever the limits. 2**62 keeps
# the iterator in CPython's fast C-long representation.
_TICKS = 1 << 62


def _probe_setstate(make: Any = None) -> str:
    """How ``range_iterator.__setstate__`` moves an iterator on this interpreter.

    ``make(n)`` makes the iterator probed (``iter(range(n))``; tests pass stand-ins).
    """
    make = make or (lambda n: iter(range(n)))
    try:
        probe: Any = make(10)
        next(probe)
        probe.__setstate__(2)
        absolute = probe.__length_hint__() == 8  # position 2 of 10: eight left
        relative = probe.__length_hint__() == 7  # two past position 1: seven left
        again: Any = make(10)
        again.__setstate__(10)
        again.__setstate__(3)
        rewinds = again.__length_hint__() == 7
    except Exception:  # an unknown shape: the safe, slow path
        return "consume"
    if absolute and rewinds:
        return "absolute"
    if relative:
        return "relative"
    return "consume"


# "absolute": __setstate__ sets the position (and can rewind an exhausted iterator);
# "relative": it moves forward from where the iterator is; "consume": neither was seen.
SETSTATE = _probe_setstate()
# Refill one iterator in place where the interpreter allows it; otherwise renew it.
REFILL = SETSTATE == "absolute"


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
        # a wrong type is a TypeError, a wrong value a ValueError (issue 18)
        for name in ("operations", "depth", "size", "output", "memory", "kept"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"Limits.{name} must be an int, e.g. {name}=1000, not {value!r}")
            if value < 1:
                raise ValueError(f"Limits.{name} must be a positive int, not {value!r}")
        if self.operations > _TICKS:
            raise ValueError(f"Limits.operations must be at most 2**62, not {self.operations!r}")
        if not isinstance(self.seconds, int | float) or isinstance(self.seconds, bool):
            raise TypeError(
                f"Limits.seconds must be a number, e.g. seconds=0.5, not {self.seconds!r}"
            )
        if not self.seconds > 0:
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


_MONITOR_PERIOD = 0.002  # seconds between deadline scans while calls run
_MONITOR_GRACE = 0.5  # seconds without any invocation before the monitor sleeps
# seconds between scans while only timed invocations (module bodies at load, `running`)
# have run lately: their clock started when they did, so a scan's period is not added to
# their time limit, and a load does not wake the monitor 500 times a second between its
# bodies (issue 17, figure E: about 5% of a first load's CPU). Also the memory watchdog's
# period for them.
_MONITOR_DOZE = 0.01


class _MonitorState:
    __slots__ = ("asleep", "called", "idle", "started", "timed", "wake_before")

    def __init__(self) -> None:
        # True while the monitor thread waits or dozes (or before it started): an
        # invocation that is not timed (a call) must wake it
        self.idle = True
        # True while it waits without a timeout
        self.asleep = True
        # When its wait ends (infinity while it sleeps, minus infinity while it scans
        # every period): a timed invocation whose deadline comes sooner must wake it
        self.wake_before = math.inf
        self.called = False  # a call woke it (not a timed invocation)
        self.timed = False  # a timed invocation started since its last scan
        self.started = False


MONITOR = _MonitorState()
# Every live budget; the monitor watches those whose serial is odd (running).
_budgets: weakref.WeakSet[Budget] = weakref.WeakSet()
_monitor_lock = threading.Lock()
_monitor_wake = threading.Event()
# This thread's innermost budget (`budget`) and its handle (what `_budget_()` returns).
# Both are set on a thread's first invocation and stay set: between invocations the
# budget is simply exhausted. A raw `_thread._local` reads faster than a subclass.
_local = _thread._local()


class _Ticks(Protocol):
    """What typeshed does not say about ``range_iterator``."""

    def __iter__(self) -> _Ticks: ...
    def __next__(self) -> int: ...
    def __setstate__(self, index: int, /) -> None: ...
    def __length_hint__(self) -> int: ...


def _depth_slots(depth: int) -> list[object]:
    # the bottom slot is a truthy marker; popping it means "too deep".
    return [True] + [None] * (depth - 1)


def _advance_absolute(budget: Budget, left: int, count: int) -> None:
    budget._ticks.__setstate__(budget._total - left + count)


def _advance_relative(budget: Budget, left: int, count: int) -> None:
    budget._ticks.__setstate__(count)


def _advance_consuming(budget: Budget, left: int, count: int) -> None:
    next(itertools.islice(budget._ticks, count - 1, count), None)


_ADVANCES = {
    "absolute": _advance_absolute,
    "relative": _advance_relative,
    "consume": _advance_consuming,
}


def exhaust_ticks(ticks: Any) -> None:
    """Leave ``ticks`` with nothing left: every later tick fails."""
    if SETSTATE == "consume":
        deque(ticks, maxlen=0)
    else:
        ticks.__setstate__(_TICKS)


class Budget:
    """The budget of one invocation at a time; reused for the next one (see module doc)."""

    __slots__ = (
        "__weakref__",
        "_depth_slots",
        "_enter",
        "_leave",
        "_make_ticks",
        "_range",
        "_start",
        "_ticks",
        "_total",
        "depths",
        "handle",
        "inner",
        "limits",
        "loops",
        "output_left",
        "reason",
        "refill",
        "serial",
        "setstate_ends",
        "stamp",
    )

    def __init__(
        self, limits: Limits, *, refill: bool | None = None, make_ticks: Any = None
    ) -> None:
        # what makes a tick iterator from a range (tests pass stand-ins); call_script's
        # inlined renewal uses iter() itself
        self._make_ticks = make_ticks or iter
        slots: list[object] = []
        self._depth_slots = slots
        self._enter = slots.pop
        self._leave = slots.append
        # refill one iterator in place (where __setstate__ can rewind), or renew it
        self.refill = REFILL if refill is None else refill
        # whether one __setstate__ empties the tick iterator (call_script's fast end)
        self.setstate_ends = SETSTATE != "consume"
        if self.refill and SETSTATE != "absolute":
            raise ValueError("this interpreter cannot rewind a range iterator: renew instead")
        if self.refill:
            ticks = cast(_Ticks, self._make_ticks(range(_TICKS)))
            self._ticks = ticks
            self._total = _TICKS
            # bound once: every invocation hands scripts the same three callables
            self.handle = (ticks.__next__, self._enter, self._leave)
        self.serial = 0  # odd while an invocation runs on this budget
        # (serial, monotonic start) of a timed invocation (`running`): the monitor times
        # that serial from its start instead of from when it first saw it
        self.stamp: tuple[int, float] = (-1, 0.0)
        self.inner: Budget | None = None  # the next nesting level in this thread
        # the C iterators of the loops running now (charged up front, so they do not tick
        # per item): exhausting the budget exhausts them too, so a loop stops at its next
        # iteration. The newest few are enough: an older loop that is still running
        # starts its inner loops through _getiter_, which checks the budget. Emptied when
        # an invocation ends (nothing of one call is kept alive into the next).
        self.loops: deque[Any] = deque(maxlen=32)
        # tuple nesting depths seen this invocation, by id, the tuple kept alive with its
        # depth (_nesting.tuple_depth); emptied when the invocation ends
        self.depths: dict[int, tuple[Any, int]] = {}
        self.reset(limits)
        _budgets.add(self)

    # -- invocations ------------------------------------------------------------------
    def reset(self, limits: Limits) -> None:
        """A full budget under ``limits``: ticks, depth slots, output, no failure."""
        self.limits = limits
        if self.refill:
            self._start = _TICKS - limits.operations
            self._ticks.__setstate__(self._start)
        else:
            self._range = range(limits.operations)
            self._total = limits.operations
            self.renew()
        self._depth_slots[:] = _depth_slots(limits.depth)
        self.output_left = limits.output
        self.reason: BudgetExhausted | None = None
        self.loops.clear()
        self.depths.clear()

    def renew(self) -> None:
        """A fresh, full tick iterator (``renew`` interpreters), published as the tick."""
        ticks = cast(_Ticks, self._make_ticks(self._range))
        self._ticks = ticks
        self.handle = (ticks.__next__, self._enter, self._leave)
        if getattr(_local, "budget", None) is self:
            _local.handle = self.handle

    def begin(self, limits: Limits) -> None:
        """Start an invocation: refill, mark running. (Inlined in ``call_script``.)"""
        slots = self._depth_slots
        if (
            self.limits is not limits
            or self.reason is not None
            or len(slots) != limits.depth
            or slots[0] is not True
        ):
            # other limits, a failure, or depth slots a suspended generator still holds
            self.reset(limits)
        else:
            if self.refill:
                self._ticks.__setstate__(self._start)
            else:
                self.renew()
            self.output_left = limits.output
        self.serial += 1

    def end(self) -> None:
        """End the invocation: not running, and every later tick fails."""
        self.serial += 1
        exhaust_ticks(self._ticks)
        if self.loops:
            self.loops.clear()
        if self.depths:
            self.depths.clear()

    # -- state ------------------------------------------------------------------------
    def exhaust(self, limit: str, detail: str) -> BudgetExhausted:
        """Mark the budget spent (first reason wins) and return the exception to raise."""
        if self.reason is None:
            self.reason = BudgetExhausted(limit, detail)
        exhaust_ticks(self._ticks)
        self._stop_loops()
        return self.reason

    def _stop_loops(self) -> None:
        for iterator in list(self.loops):
            iterator.__setstate__(sys.maxsize)

    def expire(self, serial: int, limit: str = "seconds", detail: str = "") -> None:
        """The monitor's verdict: invocation ``serial`` ran past its time (or memory) limit."""
        reason = BudgetExhausted(
            limit, detail or f"time limit ({self.limits.seconds:g} s) exceeded"
        )
        # Nothing between the serial test and the stores calls Python code, so a budget
        # that has moved on to a new invocation is not touched. (Were that ever to slip,
        # the cost would be a spurious failure of the next invocation: the reason is
        # stored before its loops are stopped, so a loop never ends early unreported.)
        if self.serial == serial:
            if self.reason is None:
                self.reason = reason
            exhaust_ticks(self._ticks)
            self._stop_loops()

    def failure(self) -> BudgetExhausted | None:
        """Why this budget is spent, or None while it is not."""
        if self.reason is not None:
            return self.reason
        if self._ticks.__length_hint__() == 0:
            return self.exhaust(
                "operations", f"operations limit ({self.limits.operations:,}) exceeded"
            )
        return None

    def used(self) -> int:
        """Operations spent so far in the running invocation."""
        return int(self.limits.operations - self._ticks.__length_hint__())

    # -- charges ----------------------------------------------------------------------
    def charge(self, count: int) -> None:
        """Spend ``count`` operations at once (a sized loop, a large value)."""
        left = self._ticks.__length_hint__()
        if count > left:
            raise self.exhaust(
                "operations", f"operations limit ({self.limits.operations:,}) exceeded"
            )
        if count > 0:
            _ADVANCES[SETSTATE](self, left, count)
        if self.reason is not None:
            # the monitor expired us between the read and the write: keep it expired
            exhaust_ticks(self._ticks)

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


def thread_budget() -> Budget:
    """This thread's innermost budget, made (exhausted, not running) on first use."""
    try:
        budget: Budget = _local.budget
    except AttributeError:
        budget = Budget(Limits())
        exhaust_ticks(budget._ticks)
        _local.budget = budget
        _local.handle = budget.handle
    return budget


class OutsideInvocation(GeneratorExit):
    """Script code was reached where no invocation runs (a kept generator closed when a
    reload drops it, a script function called by the host itself): it stops at once.

    A ``GeneratorExit``, so that a generator's cleanup code refused this way ends its
    ``close()`` quietly instead of on the host's stderr; the engine reports it like any
    other failure where one is reported.
    """

    def __init__(self) -> None:
        super().__init__("script code cannot run outside a hookyard invocation")


def current_budget() -> Budget:
    """The budget of the invocation running in this thread (guards charge it)."""
    budget = thread_budget()
    if not budget.serial & 1:
        raise OutsideInvocation
    return budget


def enter_nested(outer: Budget) -> Budget:
    """Make the next nesting level current (a script -> api -> hooked host function)."""
    inner = outer.inner
    if inner is None:
        inner = outer.inner = Budget(outer.limits)
    _local.budget = inner
    _local.handle = inner.handle
    return inner


def leave_nested(outer: Budget) -> None:
    _local.budget = outer
    _local.handle = outer.handle


class running:  # noqa: N801 - used as a context manager, reads as a verb
    """Run ``budget`` (a fresh one, e.g. a module body's at load) as this thread's current."""

    __slots__ = ("budget", "previous")

    def __init__(self, budget: Budget) -> None:
        self.budget = budget

    def __enter__(self) -> Budget:
        budget = self.budget
        self.previous = thread_budget()
        _local.budget = budget
        _local.handle = budget.handle
        serial = budget.serial | 1
        start = time.monotonic()
        budget.stamp = (serial, start)  # timed: before it is marked running
        budget.serial = serial
        MONITOR.timed = True
        # Marked running first, then the test: the monitor publishes when its wait ends
        # first, then looks for running budgets. One whose deadline comes before the
        # monitor's next scan wakes it (CI saw a body outlive its limit by the doze).
        if start + budget.limits.seconds < MONITOR.wake_before:
            wake_monitor(called=False)
        return budget

    def __exit__(self, *exc: object) -> None:
        self.budget.serial += 1
        self.budget.loops.clear()
        self.budget.depths.clear()
        _local.budget = self.previous
        _local.handle = self.previous.handle


def handle() -> tuple[Any, Any, Any]:
    """What a script function's prologue unpacks: (tick, enter, leave)."""
    try:
        if _local.budget.serial & 1:
            current: tuple[Any, Any, Any] = _local.handle
            return current
    except AttributeError:
        pass
    raise OutsideInvocation


def tick() -> None:
    """One operation on this thread's running invocation (a generator's loops)."""
    try:
        current = handle()[0]
        current()
    except StopIteration:
        # inside a generator a spent tick would become a RuntimeError (PEP 479)
        raise _no_ticks() from None


def _enter_budgeted() -> Any:
    """The prologue of a script callable the policy wraps (a lambda, a generator's
    resumption): one tick and a depth slot; returns what gives the slot back."""
    tick, enter, leave = handle()
    try:
        tick()
    except StopIteration:
        # a spent tick would read as "no more items" to a C caller (map, sorted...)
        raise _no_ticks() from None
    if enter():  # the bottom depth slot: too deep
        too_deep()
    return leave


def _no_ticks() -> BaseException:
    """Why a tick failed: this thread's invocation is spent, or none is running."""
    budget = thread_budget()
    if not budget.serial & 1:
        return OutsideInvocation()
    return budget.failure() or budget.exhaust(
        "operations", f"operations limit ({budget.limits.operations:,}) exceeded"
    )


def budgeted(function: Any) -> Any:
    """A script's ``lambda``, run like a ``def`` with the budget prologue: a tick and a
    depth slot per call (issue 12: ``f = lambda n: f(n - 1) + f(n - 1)`` has no statement
    to put a prologue in, and would otherwise recurse and fan out unbudgeted)."""

    def lambda_call(*args: Any, **kwargs: Any) -> Any:
        leave = _enter_budgeted()
        try:
            if args:
                check_args(args)
            return function(*args, **kwargs)
        finally:
            leave(None)

    # what the script sees of its lambda (a repr, an error message) names its lambda, not us
    lambda_call.__name__ = function.__name__
    lambda_call.__qualname__ = function.__qualname__
    return lambda_call


def check_args(args: tuple[Any, ...]) -> None:
    """A lambda's ``*args`` packs its arguments into a new tuple: depth-checked where one
    of them nests (see _nesting; imported late, as _nesting imports this module)."""
    for item in args:
        if isinstance(item, tuple | slice):
            from ._nesting import check_items

            check_items(args)
            return


class ScriptGenerator:
    """A script's generator, as the script sees it: every resumption ticks once and holds
    a depth slot while the generator runs (issue 12), so a chain of generators pulling from
    each other -- which CPython resumes by C recursion -- is bounded by ``Limits.depth``.
    (The generator's own prologue only ticks: a suspended generator holds no slot.)"""

    __slots__ = ("_generator",)

    def __init__(self, generator: Any) -> None:
        self._generator = generator

    def __iter__(self) -> ScriptGenerator:
        return self

    def _resume(self, method: Any, *args: Any) -> Any:
        leave = _enter_budgeted()
        try:
            return method(*args)
        finally:
            leave(None)

    def __next__(self) -> Any:
        return self._resume(self._generator.__next__)

    def send(self, value: Any) -> Any:
        return self._resume(self._generator.send, value)

    def throw(self, *args: Any) -> Any:
        return self._resume(self._generator.throw, *args)

    def close(self) -> None:
        self._generator.close()

    def __del__(self) -> None:
        # Dropped (a reload, state cleared): close the generator here, where its cleanup
        # code stops at the `_check_()` that opens every finally/except block when no
        # invocation runs -- instead of at the interpreter's own finalisation, which would
        # print that refusal on the host's stderr.
        with contextlib.suppress(BaseException):  # that refusal, or the script's own error
            self._generator.close()

    def __repr__(self) -> str:
        return "<generator object>"


# what messages and type(x).__name__ call it: the script made a generator
ScriptGenerator.__name__ = ScriptGenerator.__qualname__ = "generator"


def generator_function(function: Any) -> Any:
    """The policy's innermost decorator on a script's generator function."""

    def make_generator(*args: Any, **kwargs: Any) -> ScriptGenerator:
        return ScriptGenerator(function(*args, **kwargs))

    # what the script reads of its generator function is its own name and docstring
    make_generator.__name__ = function.__name__
    make_generator.__qualname__ = function.__qualname__
    make_generator.__doc__ = function.__doc__
    return make_generator


_GENERATOR_WRAPPER = generator_function(lambda: None).__code__


def is_generator_function(value: Any) -> bool:
    """True for a script's generator function (as ``generator_function`` made it)."""
    return getattr(value, "__code__", None) is _GENERATOR_WRAPPER


def too_deep() -> None:
    """Called by a prologue that popped the bottom depth slot."""
    budget = current_budget()
    raise budget.exhaust("depth", f"depth limit ({budget.limits.depth}) exceeded")


def interpreter_limit(exc: BaseException) -> BudgetExhausted | None:
    """The budget failure an exception stands for: a spent budget; a RecursionError or
    MemoryError the interpreter raised (a script may not catch its way past the
    interpreter's own limits either). One a script raised itself (``raise
    RecursionError("x")`` -- a standard exception class like any other) stands for none:
    the interpreter's have no arguments or its own "maximum recursion depth" message."""
    if isinstance(exc, BudgetExhausted):
        return exc
    if isinstance(exc, RecursionError):
        args = exc.args
        if not args or (type(args[0]) is str and args[0].startswith("maximum recursion depth")):
            return BudgetExhausted("depth", "recursion too deep (RecursionError)")
    elif isinstance(exc, MemoryError) and not exc.args:
        return BudgetExhausted("size", "out of memory (MemoryError)")
    return None


def check() -> None:
    """Planted first in every script ``except`` and ``finally`` block.

    Re-raises a spent budget, and treats a caught interpreter RecursionError or
    MemoryError as one (``interpreter_limit``).
    """
    budget = current_budget()
    spent = budget.failure()
    if spent is not None:
        raise spent
    caught = sys.exception()
    if caught is not None:
        limit = interpreter_limit(caught)
        if limit is not None:
            raise budget.exhaust(limit.limit, limit.detail)


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


def wake_monitor(*, called: bool = True) -> None:
    """Start the monitor thread, or wake it from its idle wait (``called``: for a call,
    which it then watches every period; a timed invocation only wakes a sleeping one)."""
    if called:
        MONITOR.called = True
    with _monitor_lock:
        if not MONITOR.started:
            MONITOR.started = True
            threading.Thread(target=_monitor, name="hookyard-deadlines", daemon=True).start()
    _monitor_wake.set()


def _monitor() -> None:
    # The one deadline thread must outlive anything that goes wrong in a scan: were it to
    # end, no time or memory limit would hold again in this process (MONITOR.started
    # stays set). A restart only restarts the clocks of what runs now.
    while True:
        try:
            _watch_deadlines()
        except Exception:
            logging.getLogger("hookyard").exception("hookyard: deadline monitor (restarted)")


def _live_budgets() -> list[Budget]:
    """A copy of every live budget. Copying a WeakSet yields between items, so a budget
    made on another thread meanwhile changes the set under the copy: copy again."""
    while True:
        try:
            return list(_budgets)
        except RuntimeError:
            continue


def _watch_deadlines() -> None:
    # One thread for the whole process. It never raises into another thread: it only
    # exhausts tick iterators, which the script trips over at its next loop or call.
    # A call's clock starts when the monitor first sees it running (at most one period
    # late), so starting one costs no clock read; it stays awake for a grace period after
    # the last call, so busy hosts never pay for waking it. A timed invocation (a module
    # body) carries its start (`Budget.stamp`): while only those have run lately the
    # monitor dozes, scanning every _MONITOR_DOZE, and any call wakes it at once.
    # The memory watchdog works the same way: the process's resident size when the
    # monitor first saw an invocation is its baseline.
    seen: dict[Budget, tuple[int, float, int]] = {}
    timed_at = time.monotonic()
    called_at = timed_at - _MONITOR_GRACE  # (a call that started us says so: .called)
    MONITOR.idle = MONITOR.asleep = False
    dozing = not MONITOR.called
    doze = _MONITOR_DOZE
    while True:
        if dozing:
            MONITOR.idle = True
            doze = _doze_length(doze)
            if doze:
                _monitor_wake.wait(doze)
            _monitor_wake.clear()
            MONITOR.idle = False
            MONITOR.wake_before = -math.inf
        else:
            time.sleep(_MONITOR_PERIOD)
        now = time.monotonic()
        if MONITOR.called:  # a call woke us
            MONITOR.called = False
            called_at = now
        if MONITOR.timed:  # a timed invocation started since the last scan
            MONITOR.timed = False
            timed_at = now
        watching: dict[Budget, tuple[int, float, int]] = {}
        rss = -2  # read once per scan, and only when something runs
        doze = _MONITOR_DOZE  # or until the nearest timed invocation's deadline
        for budget in _live_budgets():
            serial = budget.serial
            if not serial & 1:
                continue
            if rss == -2:
                rss = _resident_size()
            stamp = budget.stamp
            if stamp[0] == serial:
                timed_at = now
            else:
                called_at = now
            first = seen.get(budget)
            if first is None or first[0] != serial:
                first = (serial, stamp[1] if stamp[0] == serial else now, rss)
            if stamp[0] == serial:
                # (a period at least: one past its deadline may still be in C code)
                doze = min(doze, max(first[1] + budget.limits.seconds - now, _MONITOR_PERIOD))
            if first[1] != now:
                try:
                    _judge(budget, serial, now, first, rss)
                except Exception:  # the one deadline thread must outlive any budget
                    logging.getLogger("hookyard").exception("hookyard: deadline monitor")
            watching[budget] = first
        seen = watching
        if now - called_at < _MONITOR_GRACE:
            dozing = False
            continue
        if now - timed_at < _MONITOR_GRACE:
            dozing = True
            continue
        MONITOR.idle = MONITOR.asleep = True
        MONITOR.wake_before = math.inf
        # re-check after publishing: an invocation marks itself running *before* it
        # reads MONITOR.idle (MONITOR.wake_before), so either it wakes us or we see it here.
        if not any(budget.serial & 1 for budget in _live_budgets()):
            _monitor_wake.wait()
        _monitor_wake.clear()
        MONITOR.idle = MONITOR.asleep = False
        MONITOR.wake_before = -math.inf
        timed_at = time.monotonic()
        called_at = timed_at - _MONITOR_GRACE  # (a call that woke us says so: .called)
        dozing = not MONITOR.called  # a call woke us: watch every period


def _doze_length(doze: float) -> float:
    """How long a dozing monitor may wait before its next scan: ``doze`` at most, until
    the nearest running timed invocation's deadline, and not at all while a call runs.

    Published first, then the re-check: an invocation marks itself running *before* it
    reads MONITOR.idle (a call) or MONITOR.wake_before (a timed one), so either it wakes
    us or we see it here. After a sleep this is what makes the first scan come at a
    body's deadline rather than a whole doze later.
    """
    now = time.monotonic()
    MONITOR.wake_before = now + doze
    for budget in _live_budgets():
        serial = budget.serial
        if serial & 1:
            stamp = budget.stamp
            if stamp[0] != serial:  # a call: watched every period
                return 0.0
            # (a period at least: one past its deadline may still be in C code)
            doze = min(doze, max(stamp[1] + budget.limits.seconds - now, _MONITOR_PERIOD))
    return doze


def _judge(
    budget: Budget, serial: int, now: float, first: tuple[int, float, int], rss: int
) -> None:
    """Expire the invocation ``serial`` of ``budget`` past its time or memory limit."""
    if now - first[1] > budget.limits.seconds:
        budget.expire(serial)
    elif rss >= 0 and first[2] >= 0 and rss - first[2] > budget.limits.memory:
        budget.expire(
            serial,
            "memory",
            f"memory limit ({budget.limits.memory:,} bytes) exceeded: the process "
            f"grew by {rss - first[2]:,} bytes during the call",
        )


def bounded(iterable: Any, budget: Budget) -> Any:
    """An iterator over ``iterable`` that charges one operation per item, in C.

    ``zip`` pulls a tick, then an item; when the ticks run out zip stops before taking
    the item, and the tail generator reports the spent budget, so a C-level consumer
    (``sum``, ``sorted``...) can never run past the budget. An iterator kept from an
    earlier invocation (``state["it"] = map(...)``) zipped ticks that are gone now: the
    tail goes on with the budget of the invocation that runs it, item by item.
    """
    iterator = iter(iterable)
    ticks = budget._ticks
    return itertools.chain(
        # strict=False: the shorter side ending is the point (ticks, or items, run out)
        map(_second, zip(ticks, iterator, strict=False)),
        _continue_or_stop(budget, ticks, iterator),
    )


_second = operator.itemgetter(1)


def _continue_or_stop(budget: Budget, ticks: Any, iterator: Any) -> Any:
    if budget.serial & 1 and budget._ticks is ticks:
        # the invocation these ticks belong to is running: the ticks ran out (a spent
        # budget), or the items did
        spent = budget.failure()
        if spent is not None:
            raise spent
        return
    # the invocation whose ticks these were has ended: whatever invocation runs this now
    # pays for the rest (outside any, current_budget() refuses)
    yield from bounded(iterator, current_budget())
