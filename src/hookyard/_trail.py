"""The run-time audit trail: one event per script invocation (and per load), and its sinks.

Sinks are the ``hookyard.audit`` logger, an optional JSON-lines file and listener
callables. Nothing here runs on the hot path unless a sink listens: the engine sets
``Point.observer`` to its ``AuditTrail`` only while one does, and the call path tests that
attribute once per phase (see ``_hookpoint``).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple, get_args

__all__ = ["OUTCOMES", "PHASES", "AuditEvent", "AuditLog", "AuditTrail", "FanOut", "fan_out"]

logger = logging.getLogger("hookyard.audit")
_engine_logger = logging.getLogger("hookyard")

Phase = Literal["pre", "post", "error", "load"]
Outcome = Literal[
    "ok",
    "error",
    "veto",
    "replaced",
    "limit",
    "skipped",
    "shadow-veto",
    "shadow-replace",
    "shadow-error",
    "tripped",
]
PHASES: Final = ("pre", "post", "error", "load")
# shadow-*: what a shadow script would have done (_shadow); tripped: its breaker opened
OUTCOMES: Final = get_args(Outcome)


class AuditEvent(NamedTuple):
    """One recorded invocation of a script's hook function, or one load of a script.

    ``time`` is the wall clock (seconds since the epoch) when it ended; ``duration_ms``
    how long the script ran; ``operations`` the budget operations it used (None where not
    measured: loads, skipped scripts).

    A NamedTuple rather than the house's frozen dataclass: one is built per audited
    invocation, and a frozen dataclass's ``__init__`` (one ``object.__setattr__`` per
    field) costs ~1.7 us against ~0.3 us for a tuple. It is just as immutable.
    """

    time: float
    point: str
    script: str
    version: str | None
    phase: Phase
    outcome: Outcome
    duration_ms: float
    message: str | None = None
    operations: int | None = None
    # load events: the engine's fingerprint once this load was serving (docs/fleet.md)
    fingerprint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON-lines record: plain values, keys in a fixed order (``fingerprint``
        on load events only)."""
        record = {
            "time": _timestamp(self.time),
            "point": self.point,
            "script": self.script,
            "version": self.version,
            "phase": self.phase,
            "outcome": self.outcome,
            "duration_ms": round(self.duration_ms, 3),
            "operations": self.operations,
            "message": self.message,
        }
        if self.phase == "load":
            record["fingerprint"] = self.fingerprint
        return record


@dataclass(frozen=True, slots=True)
class AuditLog:
    """Where and how the JSON-lines audit file is kept.

    Each event is one ``os.write`` of one complete line to a file opened with
    ``O_APPEND``: a line is in the kernel once the call returns, so it survives the
    process crashing or being killed (not a power cut: there is no fsync, which would
    cost milliseconds per call). When the file passes ``max_bytes`` it is rotated:
    ``audit.jsonl`` -> ``audit.jsonl.1`` -> ... -> ``audit.jsonl.<backups>`` (the oldest
    is dropped); ``backups=0`` truncates instead.
    """

    path: str | Path
    max_bytes: int = 10 * 1024 * 1024
    backups: int = 3

    def __post_init__(self) -> None:
        if not isinstance(self.max_bytes, int) or self.max_bytes < 1024:
            raise ValueError(f"AuditLog.max_bytes must be an int >= 1024, not {self.max_bytes!r}")
        if not isinstance(self.backups, int) or self.backups < 0:
            raise ValueError(f"AuditLog.backups must be an int >= 0, not {self.backups!r}")


@functools.lru_cache(maxsize=4)
def _second_text(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def _timestamp(when: float) -> str:
    """``2024-05-01T12:00:00.123456Z`` (UTC); the seconds part is formatted once a second."""
    second = int(when)
    return f"{_second_text(second)}.{int((when - second) * 1_000_000):06d}Z"


# C: a JSON string literal, all non-ASCII escaped, so a file name with undecodable bytes
# (surrogate escapes) still makes a valid line
_quote = json.encoder.encode_basestring_ascii


def _json_line(event: AuditEvent) -> bytes:
    """``event.as_dict()`` as one compact JSON line, formatted by hand: the generic
    encoder took ~4 us per event, this ~1.5 us. Keys and order as in as_dict()."""
    version = _quote(event.version) if event.version is not None else "null"
    operations = str(event.operations) if event.operations is not None else "null"
    message = _quote(event.message) if event.message is not None else "null"
    tail = ""
    if event.phase == "load":
        fingerprint = _quote(event.fingerprint) if event.fingerprint is not None else "null"
        tail = f',"fingerprint":{fingerprint}'
    return (
        f'{{"time":"{_timestamp(event.time)}","point":{_quote(event.point)},'
        f'"script":{_quote(event.script)},"version":{version},"phase":"{event.phase}",'
        f'"outcome":"{event.outcome}","duration_ms":{event.duration_ms:.3f},'
        f'"operations":{operations},"message":{message}{tail}}}\n'
    ).encode("ascii")


class _JsonLinesFile:
    """Appends one JSON line per event; rotates by size. Thread-safe; never raises."""

    def __init__(self, options: AuditLog) -> None:
        self.options = options
        self.path = Path(options.path)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0
        self._closer: weakref.finalize[Any, Any] | None = None
        self._failed = False

    def _open(self) -> int:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._fd = fd
        self._size = os.fstat(fd).st_size
        # an engine dropped without close() must not leak the descriptor
        self._closer = weakref.finalize(self, os.close, fd)
        return fd

    def write(self, event: AuditEvent) -> None:
        line = _json_line(event)
        with self._lock:
            try:
                fd = self._fd if self._fd is not None else self._open()
                if self._size and self._size + len(line) > self.options.max_bytes:
                    fd = self._rotate()
                os.write(fd, line)
                self._size += len(line)
                self._failed = False
            except OSError as exc:
                # the audit file must never break a host call; say so once per outage
                if not self._failed:
                    self._failed = True
                    _engine_logger.error("hookyard audit log %s: cannot write: %s", self.path, exc)

    def _rotate(self) -> int:
        self._close_fd()
        backups = self.options.backups
        if backups == 0:
            os.truncate(self.path, 0)
        else:
            for number in range(backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{number}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{number + 1}"))
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        return self._open()

    def _close_fd(self) -> None:
        if self._closer is not None:
            self._closer()  # closes the descriptor, once
            self._closer = None
        self._fd = None

    def close(self) -> None:
        """Close the file; a later event opens it again (hooked functions keep running)."""
        with self._lock:
            self._close_fd()


class AuditTrail:
    """The engine's observer: turns invocations into ``AuditEvent``s for every sink."""

    __slots__ = ("_file", "_listeners")
    metered = True  # events carry durations and operations

    def __init__(self, audit_log: str | Path | AuditLog | None) -> None:
        if audit_log is not None and not isinstance(audit_log, AuditLog):
            audit_log = AuditLog(audit_log)
        self._file = _JsonLinesFile(audit_log) if audit_log is not None else None
        self._listeners: list[Callable[[AuditEvent], None]] = []

    @property
    def path(self) -> Path | None:
        return self._file.path if self._file is not None else None

    def listening(self) -> bool:
        """True when some sink would record an event (decides whether points are armed)."""
        return (
            self._file is not None
            or bool(self._listeners)
            or (logger.isEnabledFor(logging.INFO) and logger.hasHandlers())
        )

    def add_listener(self, listener: Callable[[AuditEvent], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[AuditEvent], None]) -> None:
        self._listeners.remove(listener)

    # -- the Observer protocol (called by the call path, only while armed) ----------------
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
        """One script function call ended; ``started`` is its ``time.perf_counter()``."""
        duration = (time.perf_counter() - started) * 1000.0 if started else 0.0
        self.emit(
            AuditEvent(
                time.time(),
                point,
                script.path,
                script.version,
                phase,  # type: ignore[arg-type]  # the call path passes a Phase
                outcome,  # type: ignore[arg-type]  # ... and an Outcome
                duration,
                message,
                operations,
            )
        )

    def emit(self, event: AuditEvent) -> None:
        """Hand ``event`` to every sink. A failing sink is reported, never raised: the
        trail runs inside host calls."""
        try:
            if logger.isEnabledFor(logging.INFO):
                # makeRecord + handle is logger.info() without findCaller's stack walk
                # (half the cost; the caller is always this line). Formatting stays lazy.
                logger.handle(
                    logger.makeRecord(
                        logger.name,
                        logging.INFO,
                        __file__,
                        0,
                        "%s %s %s %s (%.3f ms)%s",
                        (
                            event.point,
                            event.phase,
                            event.script,
                            event.outcome,
                            event.duration_ms,
                            _suffix(event.message),
                        ),
                        None,
                        "emit",
                        {"hookyard_event": event},
                    )
                )
            if self._file is not None:
                self._file.write(event)
        except Exception:
            _engine_logger.exception("hookyard audit sink failed")
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                _engine_logger.exception("audit listener %r failed", listener)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class FanOut:
    """Hands each invocation to several observers (the trail, metrics, tracing)."""

    __slots__ = ("metered", "observers")

    def __init__(self, observers: tuple[Any, ...]) -> None:
        self.observers = observers
        self.metered = any(observer.metered for observer in observers)

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
        for observer in self.observers:
            observer.invocation(point, script, phase, outcome, started, message, operations)


def fan_out(observers: list[Any]) -> Any:
    """The observer to set on points: None for none, the one itself, or a ``FanOut``.

    One observer is set as it is: a host with only metrics pays for nothing else.
    """
    if not observers:
        return None
    if len(observers) == 1:
        return observers[0]
    return FanOut(tuple(observers))


def _suffix(message: str | None) -> str:
    return f": {message}" if message else ""
