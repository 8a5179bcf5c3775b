"""The circuit breaker: a script that keeps failing stops running (DESIGN.md "Safe rollout").

A script whose calls fail ``Breaker.failures`` times in a row (an exception, a blown
budget, a value that cannot cross; never a veto, and never a call the host's arguments
kept from running) is *tripped*: its point publishes a ``TrippedScript`` in its place,
whose hook functions do not run the script. On an ``on_error="isolate"`` point the call
goes on without it (audited ``skipped``); on an ``on_error="raise"`` point each call
raises ``HookFailed`` naming it at once, without spending its budget. After
``cooldown`` seconds one call runs the real script again: success closes the breaker (the
script is published again), failure trips it for another cooldown. A new version of the
file resets it.

Nothing here is on the call path of a script that is not tripped: failures are counted
where they are handled (``_hookpoint._failed``), a success clears the count where
``call_script`` already holds the script's record, and a trip swaps what the point
publishes, as a reload does. The state lives in the engine's per-file record, so it
survives reloads of other files.
"""

from __future__ import annotations

import datetime
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._copy import arguments_to_script
from ._hookpoint import NotRun, atoms_only, call_script, raise_clean
from ._loader import HOOK_NAMES, LoadedScript
from .errors import BoundaryError

__all__ = ["Breaker", "Circuit", "Tripped", "TrippedScript"]

logger = logging.getLogger("hookyard")


@dataclass(frozen=True, slots=True)
class Breaker:
    """When a failing script stops running: ``HookEngine(..., breaker=Breaker(...))``.

    ``failures``: failed calls in a row that trip a script (0 turns the breaker off);
    ``cooldown``: seconds before a tripped script is tried again by one call.
    """

    failures: int = 5
    cooldown: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.failures, int) or isinstance(self.failures, bool):
            raise TypeError(f"Breaker.failures must be an int, not {self.failures!r}")
        if self.failures < 0:
            raise ValueError(f"Breaker.failures must be >= 0 (0: off), not {self.failures!r}")
        if (
            isinstance(self.cooldown, bool)
            or not isinstance(self.cooldown, int | float)
            or not math.isfinite(self.cooldown)
            or self.cooldown <= 0
        ):
            raise ValueError(f"Breaker.cooldown must be seconds > 0, not {self.cooldown!r}")


class Tripped(NotRun):
    """Internal: a tripped script was not run (neither a call nor a failure)."""


class Circuit:
    """One tripped script version: when it may be tried again, and by which call."""

    __slots__ = ("closed", "failures", "lock", "retry_at", "retry_note", "when")

    def __init__(self, failures: int, cooldown: float) -> None:
        self.failures = failures  # in a row, when it tripped
        self.closed = False
        self.lock = threading.Lock()  # held by the one call trying it again
        self.when = time.time() + cooldown  # wall clock, for messages
        self.retry_at = time.monotonic() + cooldown
        self.retry_note = threading.local()

    def rearm(self, failures: int, cooldown: float) -> None:
        """The try after the cooldown failed: another cooldown."""
        self.failures = failures
        self.when = time.time() + cooldown
        self.retry_at = time.monotonic() + cooldown

    def describe(self) -> str:
        return f"tripped after {self.failures} failures in a row; tried again at {self.retry()}"

    def retry(self) -> str:
        """When it is tried again: local wall-clock time, to the millisecond."""
        return datetime.datetime.fromtimestamp(self.when).strftime("%H:%M:%S.%f")[:-3]


@dataclass(slots=True, eq=False)
class TrippedScript(LoadedScript):
    """What a point publishes for a tripped script: its hook functions do not run it.

    ``remote`` routes it through ``_hookpoint._call_remote``: no budget is begun for it,
    and its ``Tripped`` failure (a ``NotRun``) leaves the counters alone.
    """

    remote: ClassVar[bool] = True
    # always given (stand_in); defaults only because LoadedScript's last fields have them
    real: LoadedScript = field(default=None, repr=False)  # type: ignore[assignment]
    circuit: Circuit = field(default=None, repr=False)  # type: ignore[assignment]


def stand_in(real: LoadedScript, circuit: Circuit, on_close: Any) -> TrippedScript:
    """A ``TrippedScript`` for ``real``; ``on_close()`` when a try after the cooldown works."""
    tripped = TrippedScript(
        point=real.point,
        name=real.name,
        path=real.path,
        version=real.version,
        source=real.source,
        pre=None,
        post=None,
        error=None,
        namespace={},
        limits=real.limits,
        flags=real.flags,
        real=real,
        circuit=circuit,
    )
    tripped.record = _Counts(real.record)
    for phase in HOOK_NAMES:
        if getattr(real, phase) is not None:
            setattr(tripped, phase, _TrippedHook(real, circuit, phase, on_close))
    return tripped


class _Counts:
    """A tripped script's record: its calls are not calls of the script (the try after
    the cooldown counts itself on the real record); its failures and vetoes are."""

    __slots__ = ("calls", "real")

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = 0

    @property
    def streak(self) -> int:
        return 0  # the real record's, reset by the try itself

    def failed(self, script: Any, phase: str) -> None:
        self.real.failed(script, phase)

    def vetoed(self) -> None:
        self.real.vetoed()


class _TrippedHook:
    """``pre``/``post``/``error`` of a TrippedScript."""

    __slots__ = ("circuit", "on_close", "phase", "real")

    def __init__(self, real: LoadedScript, circuit: Circuit, phase: str, on_close: Any) -> None:
        self.real = real
        self.circuit = circuit
        self.phase = phase
        self.on_close = on_close

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        circuit = self.circuit
        if circuit.closed:
            # closed since this call read its point's plan: the script runs again
            return self._run(args, kwargs)
        if time.monotonic() >= circuit.retry_at and circuit.lock.acquire(blocking=False):
            try:
                value = self._run(args, kwargs)
            finally:
                circuit.lock.release()
            circuit.closed = True
            circuit.retry_note.text = "breaker closed: ran again after its cooldown"
            self.on_close()
            return value
        real = self.real
        message = f"{real.path}: {self.phase}: not run: {circuit.describe()}"
        raise_clean(Tripped("tripped", message, RuntimeError(message)))

    def _run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        real = self.real
        phase = self.phase
        function = getattr(real, phase)
        # the call path handed a stand-in (remote) the host's own arguments; the real
        # script gets its copies, as it would have (an error hook's are copies already)
        if not real.remote and phase != "error" and not atoms_only(args, kwargs):
            try:
                args, kwargs = arguments_to_script(args, kwargs)
            except BoundaryError as exc:
                message = f"{real.path}: {phase}: not run: {exc}"
                raise_clean(NotRun("error", message, BoundaryError(message)))
        return call_script(real, function, phase, args, kwargs)  # ScriptFailure: it failed

    @property
    def operations(self) -> int | None:
        return None  # read by _hookpoint._Meter: the try's own use is not measured here

    @property
    def note(self) -> str | None:
        """``breaker closed: ...`` once, for the audit event of the call that closed it."""
        note: str | None = self.circuit.retry_note.__dict__.pop("text", None)
        return note
