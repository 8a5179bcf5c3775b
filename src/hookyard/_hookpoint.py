"""The decorator and the call path (the hot path: keep it tiny).

Call: wrapper reads ``point.plan`` once (the scripts with a ``pre``, a ``post``, an
``error``, and a recording session: immutable, swapped whole on reload) -> each ``pre`` on
its own copies -> host body -> each ``post`` (or ``error``) -> result. A point with no
scripts costs one attribute read and a test against None.

The wrapper the host holds is a function whose code follows its point's plan
(``_fastpath``): for a plain plan called with atom arguments, generated code calls the
scripts, the host function and the post scripts itself (one wrapper frame); for every
other call, the general path here (``general_call`` -> ``run_call``). A failure on the
generated path is handed to the general path where it happened (``resume``).

Each script invocation reuses this thread's budget (``_budget``: one C call refills it)
instead of building one, and arguments that are all immutable atoms are handed to every
script as they are: there is nothing to copy. Measured in docs/performance.md.
"""

from __future__ import annotations

import decimal
import functools
import inspect
import logging
import threading
import time
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, Protocol

from ._budget import (
    _TICKS,
    MONITOR,
    Budget,
    BudgetExhausted,
    enter_nested,
    exhaust_ticks,
    interpreter_limit,
    leave_nested,
    thread_budget,
    wake_monitor,
)
from ._budget import _local as _thread_state
from ._copy import ATOMS, arguments_to_script, rebuild_exception, safe_message, to_host
from ._fastpath import NO_ARGUMENT, HookedCall, fast_ready
from ._loader import LoadedScript, script_line
from ._retained import clear_kept, kept_size
from ._sandbox import SCRIPT_DECIMAL, Veto
from ._shadow import NOTES, describe_value
from ._trail import fan_out
from .errors import BoundaryError, HookFailed, HookVetoed, LimitExceeded

__all__ = ["Plan", "Point", "PointOptions", "ScriptFailure", "make_hooked", "run_call"]

logger = logging.getLogger("hookyard")

Phase = Literal["pre", "post", "error"]


@dataclass(frozen=True, slots=True)
class PointOptions:
    """How a hook point treats its scripts (declared by the host, per decorated function)."""

    result: Literal["keep", "replace"] = "keep"
    on_error: Literal["isolate", "raise"] = "isolate"
    veto: bool = False

    def __post_init__(self) -> None:
        if self.result not in ("keep", "replace"):
            raise ValueError(f"result must be 'keep' or 'replace', not {self.result!r}")
        if self.on_error not in ("isolate", "raise"):
            raise ValueError(f"on_error must be 'isolate' or 'raise', not {self.on_error!r}")
        if not isinstance(self.veto, bool):
            raise TypeError(f"veto must be a bool, not {self.veto!r}")


class Observer(Protocol):
    """Who hears about invocations (the engine's audit trail, ``_trail.AuditTrail``).

    Set on ``Point.observer`` only while some audit sink listens, so an unaudited call
    pays one attribute read per phase. ``started`` is the ``time.perf_counter()`` at which
    the script function was entered (0.0 if it never was, or nobody ``metered`` it);
    ``operations`` the budget operations it used, where measured. ``metered``: whether it
    wants the timing and operations (a recording does not: its calls pay for no meter).
    """

    metered: bool

    def invocation(
        self,
        point: str,
        script: LoadedScript,
        phase: str,
        outcome: str,
        started: float,
        message: str | None,
        operations: int | None = None,
    ) -> None: ...


_LOCAL: Any = object()  # _Meter: a hook function run in this process


class _Meter:
    """Stands in for a hook function while audited: times it and reads its budget use.

    Runs inside ``call_script``, so the thread's current budget is the invocation's.
    Made only when ``point.observer`` is set: the unaudited path never sees it. For a
    shadow script it also collects the ``api`` calls the shadow was not let make
    (``_shadow.not_made``), which end up in ``note``, the audit event's message.
    """

    __slots__ = ("function", "note", "operations", "shadow", "started")

    def __init__(self, function: Callable[..., Any], shadow: bool = False) -> None:
        self.function = function
        self.shadow = shadow
        self.started = 0.0
        self.operations: int | None = None
        self.note: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        function = self.function
        if self.shadow:
            NOTES.stack.append([])
        self.started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            # process isolation: the worker counted them (_isolation._RemoteHook);
            # in process, the thread's budget is the invocation's (call_script set it)
            remote = getattr(function, "operations", _LOCAL)
            if remote is _LOCAL:
                self.operations = _thread_state.budget.used()
            else:
                self.operations = remote
                self.note = getattr(function, "note", None)  # _breaker: closed by this call
            if self.shadow:
                calls = NOTES.stack.pop()
                if calls:
                    self.note = "api calls not made: " + ", ".join(calls)


# What a call of a point runs, read once per call: ``(pre, post, error, session)``, the
# scripts defining each phase in run order (a tripped script as its
# ``_breaker.TrippedScript``), and the recording session (``_record``) while one records
# the point. A plain tuple: the wrapper unpacks it on every call, and unpacking a tuple
# subclass (a NamedTuple) costs ~0.2 us more.
Plan = tuple[tuple[LoadedScript, ...], tuple[LoadedScript, ...], tuple[LoadedScript, ...], Any]


class Point:
    """One hook point: its name and the current scripts, swapped atomically on reload."""

    __slots__ = ("_calls", "_lock", "_scripts", "name", "observer", "plan", "session", "watchers")

    def __init__(self, name: str) -> None:
        self.name = name
        self._scripts: tuple[LoadedScript, ...] = ()
        # None when there is nothing to run: no scripts and no recording
        self.plan: Plan | None = None
        # who hears each invocation: the engine's observers (``watchers``) and the
        # recording session; None when nobody does
        self.observer: Observer | None = None
        self.watchers: Observer | None = None
        self.session: Any = None
        # Publishing is done by the engine (a reload) and by a tripping breaker, which
        # runs on a calling thread without the engine's lock: each builds the plan from
        # the latest state under this lock, so the last one to publish is never stale.
        self._lock = threading.Lock()
        # the hooked functions of this point, whose code follows the plan (_fastpath)
        self._calls: weakref.WeakSet[HookedCall] = weakref.WeakSet()

    @property
    def scripts(self) -> tuple[LoadedScript, ...]:
        return self._scripts

    @scripts.setter
    def scripts(self, scripts: tuple[LoadedScript, ...]) -> None:
        with self._lock:
            self._scripts = scripts
            self._publish()

    def watch(self, observer: Observer | None) -> None:
        """The engine's observers changed (an audit sink, metrics, tracing)."""
        with self._lock:
            self.watchers = observer
            self._publish()

    def record(self, session: Any) -> None:
        """Start (a session) or stop (None) recording the calls of this point."""
        with self._lock:
            self.session = session
            self._publish()

    def refresh(self) -> None:
        """Publish again: a script's breaker tripped or closed (``_breaker``), or a run of
        failures began or ended (no generated code while one lasts: ``_fastpath``)."""
        with self._lock:
            self._publish()

    def attach(self, call: HookedCall) -> None:
        """A hooked function of this point: its code follows every plan published."""
        with self._lock:
            self._calls.add(call)
            call.install(self.plan, fast_ready(self.plan, self.observer))

    def _publish(self) -> None:
        # The wrapper reads `plan` once per call, so the phase tuples change together in
        # one reference swap. A plan with a session needs the session among the observers
        # (it hears the outcomes): the observer is set first when a session starts, last
        # when it stops.
        scripts = tuple(_serving(script) for script in self._scripts)
        session = self.session
        plan: Plan | None = (
            (
                tuple(s for s in scripts if s.pre is not None),
                tuple(s for s in scripts if s.post is not None),
                tuple(s for s in scripts if s.error is not None),
                session,
            )
            if scripts or session is not None
            else None
        )
        if session is None:
            self.plan = plan
            self.observer = self.watchers
        else:
            self.observer = fan_out([o for o in (self.watchers, session) if o is not None])
            self.plan = plan
        # after the plan: until its code is installed a call runs the generic code, or
        # the previous fast code, which finds its plan gone and takes the general path
        fast = fast_ready(plan, self.observer)
        for call in list(self._calls):
            call.install(plan, fast)


def _serving(script: LoadedScript) -> LoadedScript:
    """What runs for ``script``: its breaker's stand-in while it is tripped."""
    tripped = getattr(script.record, "tripped", None)
    if tripped is not None and tripped.real is script:
        stand_in: LoadedScript = tripped
        return stand_in
    return script


class ScriptFailure(Exception):  # internal; becomes HookFailed/HookVetoed
    """Internal: how one script invocation failed, already sanitised."""

    def __init__(
        self,
        kind: Literal["error", "limit", "veto", "tripped"],
        message: str,
        cause: BaseException,
        reason: str = "",
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.cause = cause
        self.reason = reason


class NotRun(ScriptFailure):
    """Internal: the script did not run (its arguments cannot cross): neither a call nor a
    failure in its counters, in-process (``_boundary_failure``) as in a worker
    (``_isolation``, which copies while it encodes, issue 13)."""


_FREE_CALL = 16  # operations a budget-free call counts towards re-measuring kept data


def raise_clean(error: BaseException, cause: BaseException | None = None) -> NoReturn:
    """Raise ``error`` with ``cause`` (or none) as its only chained exception.

    Raised inside an ``except`` block, Python would set ``__context__`` to the exception
    being handled -- the script's own, with its traceback, frames and globals -- even
    under ``raise ... from None`` (issue 12). Cleared as the raise leaves this frame.
    """
    error.__cause__ = cause
    error.__suppress_context__ = True
    try:
        raise error
    finally:
        error.__context__ = None


def call_script(
    script: LoadedScript,
    function: Callable[..., Any],
    phase: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    in_script_decimal: bool = False,
) -> Any:
    """Run one hook function under a full budget; raise ScriptFailure on any failure."""
    if script.remote:
        # process isolation: the worker ran it under its own budget and answered with a
        # plain-data copy or an already sanitised ScriptFailure (see _isolation.py)
        return _call_remote(script, function, args, kwargs)
    if script.flags.decimal and not in_script_decimal:
        return _call_in_script_decimal(script, function, phase, args, kwargs)
    record = script.record
    if function in script.free:
        record.calls += 1
        # It cannot spend a budget (_loader.budget_free): none is started. It still
        # counts towards measuring what the script keeps: _FREE_CALL operations, since
        # one such call can keep a whole argument (`state[k] = v`).
        try:
            value = function(*args, **kwargs) if kwargs else function(*args)
            account = script.kept_account
            account.due -= _FREE_CALL
            if account.due <= 0:
                _measure_kept(script)
            if record.streak:
                record.cleared()  # a run of failures ended (the breaker, _fastpath)
            return value
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # nothing a script raises reaches the host raw
            # (counted where it is handled: _failed knows a veto from a failure)
            # a throwaway budget: the thread's may hold another invocation's failure
            raise_clean(_failure(script, phase, exc, Budget(script.limits)))
    try:
        budget: Budget = _thread_state.budget
    except AttributeError:
        budget = thread_budget()
    serial = budget.serial
    if serial & 1:
        # this thread is inside a script already (script -> api -> hooked host function)
        return _call_nested(budget, script, function, phase, args, kwargs)
    record.calls += 1
    # Budget.begin, inlined (this is the hot path): refill the ticks, mark running.
    limits = script.limits
    slots = budget._depth_slots
    if (
        budget.limits is limits
        and budget.reason is None
        and len(slots) == limits.depth
        and slots[0] is True
    ):
        if budget.refill:
            budget._ticks.__setstate__(budget._start)
        else:
            # a fresh iterator, published as this thread's tick (_budget.Budget.renew)
            ticks: Any = iter(budget._range)
            budget._ticks = ticks
            _thread_state.handle = budget.handle = (ticks.__next__, budget._enter, budget._leave)
        budget.output_left = limits.output
    else:
        # other limits, a failure, or depth slots a suspended generator still holds
        budget.reset(limits)
    budget.serial = serial + 1
    # Marked running first, then the idle test: the monitor publishes idle first, then
    # looks for running budgets, so one of the two always sees the other.
    if MONITOR.idle:
        wake_monitor()
    try:
        # (without ** when there are no keywords: a third cheaper)
        value = function(*args, **kwargs) if kwargs else function(*args)
        # C-level consumers such as next(it, default) swallow the StopIteration a spent
        # tick raises: a call that returns with its budget spent is still a limit failure.
        # (The iterator's own __length_hint__: operator.length_hint costs ~4x as much.)
        # Every way a budget is spent (exhaust, the monitor's expire) empties the ticks,
        # so no ticks left is the one test.
        left = budget._ticks.__length_hint__()
        if not left:
            spent = budget.failure()
            if spent is not None:
                raise spent
        # KeptAccount.spend, inlined: what the script keeps between calls is measured
        # again once its calls have spent as many operations as it last kept
        account = script.kept_account
        account.due -= limits.operations - left + 1  # a call spends one at least
        if account.due <= 0:
            _measure_kept(script)
        if record.streak:
            record.cleared()  # a run of failures ended (the breaker, _fastpath)
        return value
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # nothing a script raises reaches the host raw
        # (counted where it is handled: _failed knows a veto from a failure)
        raise_clean(_failure(script, phase, exc, budget))
    finally:
        # Budget.end, inlined: not running, every later tick fails, no loop kept alive
        budget.serial = serial + 2
        if budget.setstate_ends:
            budget._ticks.__setstate__(_TICKS)
        else:
            exhaust_ticks(budget._ticks)
        if budget.loops:
            budget.loops.clear()
        if budget.depths:
            budget.depths.clear()


def _call_in_script_decimal(
    script: LoadedScript,
    function: Callable[..., Any],
    phase: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """A decimal-using script's call runs in a fresh decimal context of its own: decimal's
    context belongs to the thread -- the host's -- and a script's ``localcontext()`` left
    open in a suspended generator would otherwise change the host's arithmetic after the
    call (issue 12: shared process state)."""
    saved = decimal.getcontext()
    decimal.setcontext(SCRIPT_DECIMAL.copy())
    try:
        return call_script(script, function, phase, args, kwargs, True)
    finally:
        decimal.setcontext(saved)


def _call_remote(
    script: LoadedScript,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    record = script.record
    record.calls += 1
    try:
        value = function(*args, **kwargs)
    except NotRun:
        record.calls -= 1
        raise
    if record.streak:
        record.cleared()  # a run of failures ended (the breaker, _fastpath)
    return value


def _call_nested(
    outer: Budget,
    script: LoadedScript,
    function: Callable[..., Any],
    phase: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    enter_nested(outer)
    try:
        return call_script(script, function, phase, args, kwargs)
    finally:
        leave_nested(outer)


def _measure_kept(script: LoadedScript) -> None:
    """Measure what the script keeps between calls; drop it past ``Limits.kept``."""
    limit = script.limits.kept
    size = kept_size(script.namespace, limit)
    script.kept_account.measured(size)
    if size > limit:
        clear_kept(script.namespace)
        raise BudgetExhausted(
            "kept", f"kept limit ({limit:,} items kept between calls) exceeded; state dropped"
        )


def _failure(script: LoadedScript, phase: str, exc: BaseException, budget: Budget) -> ScriptFailure:
    line = script_line(exc, script.path)
    where = f"{script.path}:{line}" if line else script.path
    spent: BudgetExhausted | None
    limit = interpreter_limit(exc)
    if isinstance(exc, BudgetExhausted):
        spent = budget.reason or exc
    elif limit is not None:
        spent = budget.exhaust(limit.limit, limit.detail)
    else:
        spent = budget.failure()
    if spent is not None:
        message = f"{where}: {phase}: LimitExceeded: {spent.detail}"
        return ScriptFailure("limit", message, LimitExceeded(message, limit=spent.limit))
    if isinstance(exc, Veto):
        reason = safe_message(exc)
        return ScriptFailure(
            "veto", f"{where}: {phase}: Veto: {reason}", rebuild_exception(exc), reason
        )
    text = safe_message(exc)
    message = (
        f"{where}: {phase}: {type(exc).__name__}: {text}"
        if text
        else f"{where}: {phase}: {type(exc).__name__}"
    )
    return ScriptFailure("error", message, rebuild_exception(exc))


def _boundary_failure(script: LoadedScript, phase: str, exc: BoundaryError) -> ScriptFailure:
    """The host handed a script a value that cannot cross: the script does not run."""
    message = f"{script.path}: {phase}: not run: {exc}"
    return NotRun("error", message, BoundaryError(message))


def _failed(
    point: Point,
    options: PointOptions,
    script: LoadedScript,
    phase: str,
    failure: ScriptFailure,
    meter: _Meter | None = None,
    scripts: tuple[LoadedScript, ...] = (),
    *,
    may_raise: bool = True,
) -> None:
    """Apply the point's on_error policy to one failure, and count it (a veto the point
    honours never comes here: ``_pre_failed``)."""
    if script.shadow:
        _shadow_failed(point, options, script, phase, failure, meter)
        return
    raises = may_raise and options.on_error == "raise"
    observer = point.observer
    if failure.kind == "tripped":
        # its breaker is open: nothing ran, nothing is counted, the trip was logged
        if observer is not None:
            observer.invocation(point.name, script, phase, "skipped", 0.0, failure.message)
        if not raises:
            return
    elif observer is not None:
        # a Veto that is not honoured (wrong phase, or the point allows none) is an error
        outcome = "error" if failure.kind == "veto" else failure.kind
        observer.invocation(
            point.name,
            script,
            phase,
            outcome,
            meter.started if meter is not None else 0.0,
            failure.message,
            meter.operations if meter is not None else None,
        )
    if not isinstance(failure, NotRun):
        # after its own event: a trip this failure causes is logged and audited next
        script.record.failed(script, phase)
    if raises:
        if observer is not None:
            _skip_rest(
                observer,
                point,
                scripts,
                script,
                phase,
                f"not run: {script.name} failed and the point raises",
            )
        raise_clean(
            HookFailed(
                f"hook point {point.name!r}: {failure.message}",
                point=point.name,
                script=script.path,
                phase=phase,
            ),
            None if failure.kind == "tripped" else failure.cause,
        )
    logger.warning("hook point %r: %s", point.name, failure.message)


def _shadow_failed(
    point: Point,
    options: PointOptions,
    script: LoadedScript,
    phase: str,
    failure: ScriptFailure,
    meter: _Meter | None,
) -> None:
    """A shadow script vetoed, failed or was not run: record what would have happened,
    apply none of it (DESIGN.md "Safe rollout")."""
    kind = failure.kind
    vetoed = kind == "veto" and phase == "pre" and options.veto
    if kind == "tripped":
        outcome, message = "skipped", failure.message
    elif vetoed:
        outcome, message = "shadow-veto", f"would have vetoed the call: {failure.reason}"
    else:
        text = failure.message
        if kind == "veto" and phase == "pre":
            text += f" (point {point.name!r} does not allow vetoes)"
        raises = options.on_error == "raise" and phase != "error"
        consequence = "raised HookFailed in the host" if raises else "been logged"
        outcome, message = "shadow-error", f"{text}; would have {consequence}"
    _shadow_event(point, script, phase, outcome, message, meter)
    if vetoed:
        script.record.vetoed()
    elif kind != "tripped" and not isinstance(failure, NotRun):
        script.record.failed(script, phase)  # a shadow that keeps failing trips too


def _shadow_event(
    point: Point,
    script: LoadedScript,
    phase: str,
    outcome: str,
    message: str,
    meter: _Meter | None,
) -> None:
    """Log a shadow's would-be effect (INFO: nothing happened) and audit it."""
    if meter is not None and meter.note:
        message += f"; {meter.note}"
    if outcome != "skipped":
        logger.info("hook point %r: shadow %s: %s: %s", point.name, script.path, phase, message)
    observer = point.observer
    if observer is not None:
        observer.invocation(
            point.name,
            script,
            phase,
            outcome,
            meter.started if meter is not None else 0.0,
            message,
            meter.operations if meter is not None else None,
        )


def _heard(
    observer: Observer,
    point: Point,
    script: LoadedScript,
    phase: str,
    outcome: str,
    meter: _Meter | None,
    message: str | None = None,
) -> None:
    """Tell ``observer`` a script function returned: ``message`` (``""``: none) before
    what the meter noted (api calls a shadow did not make, a breaker closing)."""
    if meter is None:
        observer.invocation(point.name, script, phase, outcome, 0.0, message or None)
        return
    note = meter.note
    if message is None:
        message = note
    elif note and message:
        message += f"; {note}"
    observer.invocation(
        point.name, script, phase, outcome, meter.started, message or None, meter.operations
    )


def _skip_rest(
    observer: Observer,
    point: Point,
    scripts: tuple[LoadedScript, ...],
    after: LoadedScript,
    phase: str,
    message: str,
) -> None:
    """Record ``skipped`` for the scripts of ``phase`` that will not run after ``after``,
    and, when a ``pre`` ends the call, for every ``post`` of the point."""
    seen = False
    for script in scripts:
        if seen and getattr(script, phase) is not None:
            observer.invocation(point.name, script, phase, "skipped", 0.0, message)
        seen = seen or script is after
    plan = point.plan
    if phase == "pre" and plan is not None:
        for script in plan[1]:
            observer.invocation(point.name, script, "post", "skipped", 0.0, message)


def atoms_only(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """True when no argument needs a copy: all immutable atoms (DESIGN, guarantee 1)."""
    for item in args:
        if type(item) not in ATOMS:
            return False
    return not kwargs or all(type(item) in ATOMS for item in kwargs.values())


def run_pre(
    point: Point,
    options: PointOptions,
    scripts: tuple[LoadedScript, ...],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    shared: bool,
) -> None:
    """Run the ``pre`` of ``scripts`` (the point's scripts that define one), in order.

    ``shared``: the arguments are immutable atoms only (``atoms_only``), so every script
    gets them as they are (DESIGN, guarantee 1; ``**kwargs`` unpacks into a fresh dict
    per call anyway). The wrapper tests that once per hooked call.
    """
    observer = point.observer  # once per phase; unaudited, a script costs one None test
    metered = observer is not None and observer.metered
    for script in scripts:
        function = script.pre
        meter = None
        if metered or (observer is not None and (script.shadow or script.remote)):
            function = meter = _Meter(function, script.shadow)
        try:
            if shared or script.remote:
                # (a worker's copy is the one its wire encoding makes: _isolation)
                call_script(script, function, "pre", args, kwargs)
            else:
                try:
                    call_args, call_kwargs = arguments_to_script(args, kwargs)
                except BoundaryError as exc:
                    raise_clean(_boundary_failure(script, "pre", exc))
                call_script(script, function, "pre", call_args, call_kwargs)
        except ScriptFailure as failure:
            _pre_failed(point, options, scripts, script, failure, meter)
            continue
        if observer is not None:
            _heard(observer, point, script, "pre", "ok", meter)


def _pre_failed(
    point: Point,
    options: PointOptions,
    scripts: tuple[LoadedScript, ...],
    script: LoadedScript,
    failure: ScriptFailure,
    meter: _Meter | None,
) -> None:
    """A ``pre`` failed or vetoed: raise HookVetoed, or apply the on_error policy."""
    if failure.kind == "veto" and not script.shadow:
        if options.veto:
            script.record.vetoed()  # never a failure (DESIGN.md "Safe rollout")
            observer = point.observer
            if observer is not None:
                _heard(observer, point, script, "pre", "veto", meter, failure.reason or "")
                _skip_rest(
                    observer, point, scripts, script, "pre", f"not run: vetoed by {script.name}"
                )
            raise_clean(
                HookVetoed(
                    f"hook point {point.name!r}: vetoed by {script.path}: {failure.reason}",
                    point=point.name,
                    script=script.path,
                    reason=failure.reason,
                )
            )
        failure.message += f" (point {point.name!r} does not allow vetoes)"
    _failed(point, options, script, "pre", failure, meter, scripts)


def run_post(
    point: Point,
    options: PointOptions,
    scripts: tuple[LoadedScript, ...],
    result: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    shared: bool,
) -> Any:
    """Run the ``post`` of ``scripts`` in order; the result, replaced where allowed.

    ``shared`` as for ``run_pre``; the result is tested before each script (a replaced
    result may need copying where the host's did not).
    """
    replace = options.result == "replace"
    observer = point.observer  # once per phase; unaudited, a script costs one None test
    metered = observer is not None and observer.metered
    for script in scripts:
        function = script.post
        if function is None:
            continue
        meter = None
        if metered or (observer is not None and (script.shadow or script.remote)):
            function = meter = _Meter(function, script.shadow)
        try:
            # result and arguments are copied together, so a result that is (or holds)
            # one of the arguments keeps that shape in the script's copy too
            if script.remote or (shared and type(result) in ATOMS):
                value = call_script(script, function, "post", (result, *args), kwargs)
            else:
                try:
                    call_args, call_kwargs = arguments_to_script((result, *args), kwargs)
                except BoundaryError as exc:
                    raise_clean(_boundary_failure(script, "post", exc))
                value = call_script(script, function, "post", call_args, call_kwargs)
        except ScriptFailure as failure:
            _failed(point, options, script, "post", failure, meter, scripts)
            continue
        if replace and value is not None:
            replacement = _replacement(point, options, script, value, meter, scripts)
            if replacement is _KEPT:
                continue
            result = replacement
        if observer is not None:
            if value is None:
                _heard(observer, point, script, "post", "ok", meter)
            elif replace:
                _heard(observer, point, script, "post", "replaced", meter, "")
            else:
                kept = f"returned a value; point {point.name!r} keeps its result"
                _heard(observer, point, script, "post", "ok", meter, kept)
    return result


_KEPT: Any = object()  # _replacement: the result stays (already reported)


def _replacement(
    point: Point,
    options: PointOptions,
    script: LoadedScript,
    value: Any,
    meter: _Meter | None,
    scripts: tuple[LoadedScript, ...],
) -> Any:
    """What a ``post``'s ``value`` replaces the result with on a replace point: a host
    copy, or ``_KEPT`` (it cannot cross: a failure; a shadow's: reported, not applied)."""
    try:
        replacement = to_host(value, script.limits.size)
    except BoundaryError as exc:
        message = f"{script.path}: post: returned a value that cannot replace the result: {exc}"
        failure = ScriptFailure("error", message, BoundaryError(message))
        _failed(point, options, script, "post", failure, meter, scripts)
        return _KEPT
    if script.shadow:
        shown = describe_value(replacement)
        message = f"would have replaced the result with {shown}"
        _shadow_event(point, script, "post", "shadow-replace", message, meter)
        return _KEPT
    return replacement


def run_error(
    point: Point,
    options: PointOptions,
    scripts: tuple[LoadedScript, ...],
    exc: BaseException,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    """Run the ``error`` of ``scripts`` in order; their failures are only logged."""
    observer = point.observer  # once per phase; unaudited, a script costs one None test
    metered = observer is not None and observer.metered
    for script in scripts:
        function = script.error
        if function is None:
            continue
        meter = None
        if metered or (observer is not None and (script.shadow or script.remote)):
            function = meter = _Meter(function, script.shadow)
        try:
            try:
                call_args, call_kwargs = arguments_to_script(args, kwargs)
            except BoundaryError as boundary:
                raise_clean(_boundary_failure(script, "error", boundary))
            call_script(
                script, function, "error", (rebuild_exception(exc), *call_args), call_kwargs
            )
        except ScriptFailure as failure:
            # an error hook cannot replace the host's exception: its own failure is logged
            _failed(point, options, script, "error", failure, meter, may_raise=False)
            continue
        if observer is not None:
            _heard(observer, point, script, "error", "ok", meter)


def run_call(
    point: Point,
    options: PointOptions,
    plan: Plan,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    seen: tuple[Any, ...],
) -> Any:
    """One hooked call by ``plan``: pre scripts, the host function, post or error scripts.

    ``seen``: the arguments scripts see (``args`` less a bound object).
    """
    shared = atoms_only(seen, kwargs)
    if plan[0]:
        run_pre(point, options, plan[0], seen, kwargs, shared)
    return _from_host(point, options, plan, fn, args, kwargs, seen, shared)


def _from_host(
    point: Point,
    options: PointOptions,
    plan: Plan,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    seen: tuple[Any, ...],
    shared: bool,
) -> Any:
    """The rest of ``run_call`` once the pre scripts ran: the host function, then the
    error or post scripts."""
    _, post, error, _ = plan
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:
        if error:
            run_error(point, options, error, exc, seen, kwargs)
        raise
    if post:
        return run_post(point, options, post, result, seen, kwargs, shared)
    return result


async def run_call_async(
    point: Point,
    options: PointOptions,
    plan: Plan,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    seen: tuple[Any, ...],
) -> Any:
    """``run_call`` around an ``async def`` host function (scripts run synchronously)."""
    pre, post, error, _ = plan
    shared = atoms_only(seen, kwargs)
    if pre:
        run_pre(point, options, pre, seen, kwargs, shared)
    try:
        result = await fn(*args, **kwargs)
    except Exception as exc:
        if error:
            run_error(point, options, error, exc, seen, kwargs)
        raise
    if post:
        return run_post(point, options, post, result, seen, kwargs, shared)
    return result


def general_call(
    call: HookedCall, plan: Plan, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """A hooked call by the general path (the generic code's, for a plan not run fast)."""
    skip = call.skip
    seen = args[skip:] if skip else args
    session = plan[3]
    if session is not None:
        # recorded (_record): run_call under the session, which writes the call down
        return session.call(run_call, call.point, call.options, plan, call.fn, args, kwargs, seen)
    return run_call(call.point, call.options, plan, call.fn, args, kwargs, seen)


def _slow(
    call: HookedCall, given: tuple[Any, ...], rest: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """A call the fast code does not take (keywords, another arity, a plan since replaced,
    an argument that is not an atom): as the generic code would run it."""
    if given[-1] is NO_ARGUMENT:  # fewer arguments than parameters (they come last)
        given = tuple(arg for arg in given if arg is not NO_ARGUMENT)
    args = given + rest if rest else given
    plan = call.point.plan
    if plan is None:
        return call.fn(*args, **kwargs)
    return general_call(call, plan, args, kwargs)


def resume(
    call: HookedCall,
    plan: Plan,
    args: tuple[Any, ...],
    phase: str,
    index: int,
    failure: ScriptFailure,
    result: Any,
) -> Any:
    """The fast code's script ``index`` of ``phase`` failed: handle ``failure`` as the
    general path does, and finish the call by it (the fast code's arguments are atoms,
    passed by position)."""
    point, options = call.point, call.options
    pre, post, _, _ = plan
    seen = args[call.skip :]
    if phase == "pre":
        _pre_failed(point, options, pre, pre[index], failure, None)
        if index + 1 < len(pre):
            run_pre(point, options, pre[index + 1 :], seen, {}, True)
        return _from_host(point, options, plan, call.fn, args, {}, seen, True)
    _failed(point, options, post[index], "post", failure, None, post)
    return run_post(point, options, post[index + 1 :], result, seen, {}, True)


def replaced(
    call: HookedCall, plan: Plan, args: tuple[Any, ...], index: int, value: Any, result: Any
) -> Any:
    """The fast code's post script ``index`` returned ``value`` on a replace point: the
    replacement and the rest of the post scripts by the general path."""
    post = plan[1]
    replacement = _replacement(call.point, call.options, post[index], value, None, post)
    if replacement is not _KEPT:
        result = replacement
    seen = args[call.skip :]
    return run_post(call.point, call.options, post[index + 1 :], result, seen, {}, True)


def _free_failure(script: LoadedScript, phase: str, exc: BaseException) -> ScriptFailure:
    """``call_script``'s free-path failure (a throwaway budget: the thread's may hold
    another invocation's failure)."""
    return _failure(script, phase, exc, Budget(script.limits))


# What the generated code calls (_fastpath); each generated function holds them as
# constants.
_PARTS: dict[str, Any] = {
    "GENERAL": general_call,
    "SLOW": _slow,
    "RESUME": resume,
    "REPLACED": replaced,
    "RUN_POST": run_post,
    "RUN_ERROR": run_error,
    "CALL_SCRIPT": call_script,
    "SCRIPT_FAILURE": ScriptFailure,
    "NOT_RUN": NotRun,
    "FREE_FAILURE": _free_failure,
    "MEASURE": _measure_kept,
    "FREE_CALL": _FREE_CALL,
    "EMPTY": {},  # call_script's kwargs: only ever read
    "TYPE": type,
    "ATOMS": ATOMS,
    "NONE": NO_ARGUMENT,
    "KEYBOARD_INTERRUPT": KeyboardInterrupt,
    "BASE_EXCEPTION": BaseException,
    "EXCEPTION": Exception,
}


def _plain_wrapper(
    fn: Callable[..., Any], point: Point, options: PointOptions, skip: int
) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(fn):

        async def hooked_async(*args: Any, **kwargs: Any) -> Any:
            plan = point.plan
            if plan is None:
                return await fn(*args, **kwargs)
            seen = args[skip:]
            session = plan[3]
            if session is not None:
                return await session.call_async(
                    run_call_async, point, options, plan, fn, args, kwargs, seen
                )
            return await run_call_async(point, options, plan, fn, args, kwargs, seen)

        return hooked_async
    # a function whose code follows its point's plans (_fastpath)
    call = HookedCall(point, fn, options, skip, _PARTS)
    point.attach(call)
    return call.function


class HookedMethod:
    """A hooked function defined in a class body.

    Binding is the descriptor protocol's: reached through an instance (or, for a
    classmethod, the class) the bound object is passed to the host function but never to
    scripts; reached through the class, the first argument is the instance and is skipped
    too. A ``staticmethod`` around it never binds, so nothing is skipped.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        point: Point,
        options: PointOptions,
        declare: Callable[[int], None] | None = None,
    ) -> None:
        self._bound = functools.wraps(fn)(_plain_wrapper(fn, point, options, skip=1))
        self._unbound = functools.wraps(fn)(_plain_wrapper(fn, point, options, skip=0))
        functools.update_wrapper(self, fn)
        # Told how many leading arguments scripts do not see, once binding shows it (the
        # engine checks scripts against the signature then): a method learns it when its
        # class is made; a staticmethod or classmethod around it hides that, so those
        # learn it at their first use.
        self._declare = declare

    def _declared(self, skip: int) -> None:
        declare, self._declare = self._declare, None
        if declare is not None:
            declare(skip)

    def __set_name__(self, owner: type, name: str) -> None:
        self._declared(1)  # a method of `owner`: the bound object is never a script's

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if self._declare is not None:
            self._declared(1)  # bound (or a classmethod on CPython < 3.13)
        if instance is None:
            return self._bound  # through the class: the first argument is the instance
        return types.MethodType(self._bound, instance)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], type) and self._classmethod_of(args[0]):
            # CPython 3.13 no longer chains classmethod.__get__ through our __get__: it
            # binds this object to the class itself (issue 11), so the class arrives as
            # the first argument and is skipped like any bound object
            if self._declare is not None:
                self._declared(1)
            return self._bound(*args, **kwargs)
        if self._declare is not None:
            self._declared(0)  # a staticmethod: every argument is the scripts'
        return self._unbound(*args, **kwargs)

    def _classmethod_of(self, cls: type) -> bool:
        """True when a ``classmethod`` in ``cls``'s MRO wraps this object."""
        for klass in cls.__mro__:
            for value in vars(klass).values():
                if isinstance(value, classmethod) and value.__func__ is self:
                    return True
        return False


def _defined_in_class_body(fn: Callable[..., Any]) -> bool:
    parts = getattr(fn, "__qualname__", "").split(".")
    return len(parts) > 1 and parts[-2] != "<locals>"


def make_hooked(
    fn: Callable[..., Any],
    point: Point,
    options: PointOptions,
    declare: Callable[[int], None] | None = None,
) -> Any:
    """Wrap ``fn`` for ``point``: a plain function, or a descriptor for class bodies.

    ``declare(skip)`` is called once it is known how many leading arguments of ``fn``
    scripts never see (0, or 1 for a bound object): at once for a plain function.
    """
    if not callable(fn):
        raise TypeError(f"@hook needs a function, not {fn!r}")
    if isinstance(fn, staticmethod | classmethod):
        raise TypeError("put @hook below @staticmethod/@classmethod, next to the function")
    if _defined_in_class_body(fn):
        return HookedMethod(fn, point, options, declare)
    hooked = functools.wraps(fn)(_plain_wrapper(fn, point, options, skip=0))
    if declare is not None:
        declare(0)
    return hooked
