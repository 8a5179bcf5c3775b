"""OpenTelemetry spans for hooked calls: ``pip install 'hookyard[otel]'``.

Where the host has set a tracer provider (``opentelemetry.trace.set_tracer_provider``),
each hooked call that ran scripts gets one span, ``hookyard <point>``, a child of whatever
span is current in the host, with one event per script function (its phase, outcome,
version and duration). The engine looks for a provider only when the host has imported
``opentelemetry.trace`` (DESIGN.md "Observability": nothing is imported or paid
otherwise), when it is made, started, reloaded or ``refresh_audit()`` is called.

The span is built from the invocations the call path reports (``Point.observer``): it
starts when the first script function of the call started and ends when the last one the
point's scripts lead to ended (the last ``post``, or ``error``, or the ``pre`` that
vetoed). A call whose host function raised on a point with ``post`` scripts but no
``error`` script reports nothing more: its span ends with the call's next script (the
next hooked call on that thread) or, at the latest, when another span starts a second
after its last script ran.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

if TYPE_CHECKING:
    from ._engine import HookEngine

__all__ = ["IDLE", "tracing_observer"]

IDLE = 1.0  # seconds after its last script a span left open is ended by the next one
_RANK = {"pre": 0, "post": 1, "error": 1}  # a call runs pre, then post or error
_PHASE = {"pre": 0, "post": 1, "error": 2}  # index in Point.plan
_MESSAGE = 200  # characters of a failure message kept on an event


def tracing_observer(engine: HookEngine) -> Tracing | None:
    """An observer making spans, or None while the host has set no tracer provider."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    from importlib.metadata import version

    return Tracing(engine, provider.get_tracer("hookyard", version("hookyard")))


class _Call:
    """The span of one hooked call, while its scripts are still to report."""

    __slots__ = ("failed", "last", "plan", "position", "span")

    def __init__(self, span: Any, plan: Any) -> None:
        self.span = span
        self.plan = plan
        self.position = (-1, -1)  # (phase rank, script index) of the last event
        self.last = 0  # ns: when the last script ended
        self.failed = False

    def follows(self, phase: str, script: Any) -> bool:
        """True if ``script``'s ``phase`` can come next in this call."""
        return (_RANK[phase], self._index(phase, script)) > self.position

    def _index(self, phase: str, script: Any) -> int:
        scripts = self._scripts(phase)
        return scripts.index(script) if script in scripts else -1

    def _scripts(self, phase: str) -> tuple[Any, ...]:
        if self.plan is None:
            return ()
        scripts: tuple[Any, ...] = self.plan[_PHASE[phase]]
        return scripts

    def done(self, phase: str, script: Any) -> bool:
        """True when nothing more can come after ``script``'s ``phase``."""
        scripts = self._scripts(phase)
        last = bool(scripts) and scripts[-1] is script
        if phase == "pre":
            return last and self.plan is not None and not self.plan[1] and not self.plan[2]
        return last

    def end(self) -> None:
        if self.failed:
            self.span.set_status(Status(StatusCode.ERROR, "a hook script failed"))
        self.span.end(end_time=self.last)


class Tracing:
    """The engine's tracing observer (see the module docstring)."""

    metered = True  # events carry their scripts' durations

    def __init__(self, engine: HookEngine, tracer: Any) -> None:
        self._points = engine._points
        self._tracer = tracer
        self._local = threading.local()
        self._open: dict[int, _Call] = {}  # every call not yet ended, by id
        self._lock = threading.Lock()

    def invocation(
        self,
        point: str,
        script: Any,
        phase: str,
        outcome: str,
        started: float,
        message: str | None,
        operations: int | None = None,
    ) -> None:
        now = time.time_ns()
        ran = int((time.perf_counter() - started) * 1e9) if started else 0
        calls: dict[str, _Call] = self._local.__dict__.setdefault("calls", {})
        call = calls.get(point)
        if call is not None and not call.follows(phase, script):
            self._end(calls.pop(point))
            call = None
        if call is None:
            found = self._points.get(point)
            call = calls[point] = self._start(point, found.plan if found else None, now - ran)
        call.position = (_RANK[phase], call._index(phase, script))
        call.last = now
        attributes: dict[str, Any] = {
            "hookyard.script": script.name,
            "hookyard.phase": phase,
            "hookyard.outcome": outcome,
            "hookyard.version": script.version,
            "hookyard.duration_ms": ran / 1e6,
        }
        if message:
            attributes["hookyard.message"] = message[:_MESSAGE]
        if operations is not None:
            attributes["hookyard.operations"] = operations
        call.span.add_event(f"{phase} {script.name}", attributes, timestamp=now)
        if outcome in ("error", "limit"):
            call.failed = True
        elif outcome == "veto":
            call.span.set_attribute("hookyard.vetoed", True)
        if call.done(phase, script):
            self._end(calls.pop(point))

    def _start(self, point: str, plan: Any, start: int) -> _Call:
        stale = []
        with self._lock:
            for key, call in list(self._open.items()):
                if start - call.last > IDLE * 1e9:
                    stale.append(self._open.pop(key))
        for call in stale:
            call.end()  # a call whose host function raised: ended with its last script
        span = self._tracer.start_span(
            f"hookyard {point}", start_time=start, attributes={"hookyard.point": point}
        )
        call = _Call(span, plan)
        with self._lock:
            self._open[id(call)] = call
        return call

    def _end(self, call: _Call) -> None:
        with self._lock:
            if self._open.pop(id(call), None) is None:
                return  # ended by a sweep already
        call.end()
