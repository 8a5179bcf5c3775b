"""Recording a point's calls: ``engine.record(point, path, ...)`` (DESIGN.md "Safe rollout").

While a point is recorded its plan carries a ``Recorder`` (``_hookpoint.Plan.session``):
the wrapper hands the call to ``Session.call``, which runs the ordinary call path
(``_hookpoint.run_call``) with the host function wrapped so its result or exception is
kept, hears every script's outcome as an observer of the point, and keeps every ``api``
call a script makes (``call_api``, called by the sandbox's ``api`` wrapper and by process
isolation's host side). At the end of the call one JSON line is appended to the file
(``_tagged`` keeps the types; keys matching ``redact`` are stored as ``"***"``)::

    {"record": 1, "time": "...Z", "point": "create",
     "options": {"result": "keep", "on_error": "isolate", "veto": true},
     "redact": ["password", "secret", "token"],
     "args": [...], "kwargs": {...},            # as the scripts saw them
     "host": {"result": ...} | {"raised": [type, base, message]} | null (not called),
     "scripts": [{"script": "10-x.py", "version": "...", "mode": "enforce",
                  "phase": "pre", "outcome": "ok", "message": null}, ...],
     "api": [{"script": "50-y.py", "phase": "post", "name": "notify", "args": [...],
              "kwargs": {...}, "made": true, "no_side_effects": false,
              "result": ... | "raised": [type, base, message]}, ...],
     "outcome": {"result": ...} | {"vetoed": "reason", "script": "10-x.py"}
                | {"raised": [type, base, message]}}

A point that is not recorded pays nothing: its plan has no session. A recorded call pays
for the observer path (as when audited), one encoding of its arguments and results (the
encoding is itself the copy: plain data is encoded straight from the host's values,
``_tagged.encode_host``), a line built from parts encoded once per point options and per
script outcome (``Recorder.line``), and one ``os.write`` of one complete line to a file
opened ``O_APPEND`` (measured in benchmarks/run.py, figure R; docs/performance.md).

Why a lock around that write, when O_APPEND already appends each write whole: POSIX
says the offset is set to the end "and no intervening file modification operation shall
occur" before the write (PIPE_BUF is about pipes, not regular files), and Linux holds the
inode's lock for a regular file's write, so whole writes never interleave. But a write
may be short (a full disk, a file size limit, a signal): its rest, written next, could
land after another thread's line. And ``close`` must not close the descriptor under a
writing thread, which could then write into a file the host opened meanwhile under the
same number. An uncontended lock costs well under a microsecond; it stays.
"""

from __future__ import annotations

import contextvars
import inspect
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec

from ._shadow import is_no_side_effects, not_made, script_mode
from ._tagged import REDACTED, Redactor, encode, encode_host
from ._trail import _timestamp
from ._wire import describe_exception
from .errors import BoundaryError, HookVetoed

__all__ = [
    "CURRENT",
    "DEFAULT_REDACT",
    "FORMAT",
    "CallRecord",
    "Recorder",
    "Session",
    "call_api",
    "skip_api",
]

logger = logging.getLogger("hookyard")

FORMAT = 1  # "record": the line format's version
DEFAULT_REDACT = ("password", "secret", "token")

# The call being recorded in this context (a thread, or an asyncio task: an async host
# function's scripts run around its await, while other tasks run on the same thread).
CURRENT: contextvars.ContextVar[CallRecord | None] = contextvars.ContextVar(
    "hookyard_record", default=None
)

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def call_api(
    name: str, function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Call host ``api`` function ``name`` for a script (arguments already host copies).

    Recorded, with its result, while a recorded call runs in this context; the host
    function itself runs outside the record, so a hooked function it calls is not
    mistaken for part of this call.
    """
    record = CURRENT.get()
    if record is None:
        return function(*args, **kwargs)
    return record.session.api(record, name, function, args, kwargs)


def skip_api(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """A shadow script called ``api.<name>``, which has side effects: it is not called
    (it returns None to the script); noted for the audit trail and the recording."""
    not_made(name, args, kwargs)
    record = CURRENT.get()
    if record is not None:
        record.session.api_skipped(record, name, args, kwargs)


class CallRecord:
    """One recorded call, filled in while it runs."""

    __slots__ = (
        "api",
        "args",
        "hosted_outcome",
        "kwargs",
        "options",
        "outcome",
        "pending",
        "scripts",
        "session",
    )

    def __init__(self, session: Session, options: Any, args: Any, kwargs: Any) -> None:
        self.session = session
        self.options = options
        self.args = args  # encoded, or a str saying why the arguments cannot be recorded
        self.kwargs = kwargs
        self.hosted_outcome: dict[str, Any] | None = None  # None: the host was not called
        # (script, phase, outcome, message) per script outcome: made into the line's
        # entries at the end (``script_entry``; the Recorder writes pre-encoded ones)
        self.scripts: list[tuple[Any, str, str, str | None]] = []
        self.api: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []  # api calls of the script running now
        self.outcome: dict[str, Any] = {}

    def returned(self, value: Any) -> Any:
        """The call returned ``value`` (after the post scripts)."""
        self.outcome = self.session._value("result", value)
        return value

    def host(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn``, keeping its result or exception as the host's."""

        def host(*args: Any, **kwargs: Any) -> Any:
            try:
                value = fn(*args, **kwargs)
            except BaseException as exc:
                self.hosted_outcome = {"raised": describe_exception(exc)}
                raise
            self.hosted_outcome = self.session._value("result", value)
            return value

        return host

    def host_async(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``host`` for an ``async def`` host function."""

        async def host(*args: Any, **kwargs: Any) -> Any:
            with _Hosting(self):
                return self.hosted(await fn(*args, **kwargs))

        return host

    def hosted(self, value: Any) -> Any:
        self.hosted_outcome = self.session._value("result", value)
        return value

    def as_line(
        self, point: str, redact: tuple[str, ...], when: float | None = None
    ) -> dict[str, Any]:
        """The call as a line's data (``when``: the time it is written, default now)."""
        options = self.options
        line: dict[str, Any] = {
            "record": FORMAT,
            "time": _timestamp(time.time() if when is None else when),
            "point": point,
            "options": {
                "result": options.result,
                "on_error": options.on_error,
                "veto": options.veto,
            },
            "redact": list(redact),
        }
        if type(self.args) is str:
            line.update(args=None, kwargs=None, unrecordable=self.args)
        else:
            line.update(args=self.args, kwargs=self.kwargs)
        line.update(
            host=self.hosted_outcome,
            scripts=[script_entry(*entry) for entry in self.scripts],
            api=self.api + self.pending,
            outcome=self.outcome,
        )
        return line


def script_entry(script: Any, phase: str, outcome: str, message: str | None) -> dict[str, Any]:
    """A line's entry for one script's outcome."""
    return {
        "script": script.name,
        "version": script.version,
        "mode": script_mode(script.name),
        "phase": phase,
        "outcome": outcome,
        "message": message,
    }


class _Recording:
    """While a recorded call runs: it is this context's ``CURRENT``; its failure is kept
    as its outcome; when it ends, it is written down."""

    __slots__ = ("record", "token")

    def __init__(self, record: CallRecord) -> None:
        self.record = record

    def __enter__(self) -> None:
        self.token = CURRENT.set(self.record)

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        record = self.record
        if exc is not None:
            record.session._failed(record, exc)
        CURRENT.reset(self.token)
        record.session._end(record)


class _Hosting:
    """While the host function runs: its exception is kept as the host's outcome."""

    __slots__ = ("record",)

    def __init__(self, record: CallRecord) -> None:
        self.record = record

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None:
            self.record.hosted_outcome = {"raised": describe_exception(exc)}

    def __enter__(self) -> None:
        return None


class Session:
    """What hears a recorded point's calls: the call path begins and ends each one
    (``call``), every script outcome arrives as an observer's ``invocation``, every ``api``
    call through ``api``. ``Recorder`` writes each call as a line; the replay
    (``_replay``) keeps them and answers ``api`` calls from a recording instead."""

    metered = False  # outcomes, not timings: a recorded call pays for no meter

    def __init__(self, point: str, redact: Iterable[str]) -> None:
        self.point = point
        self.redact = tuple(redact)
        self.secret = Redactor(self.redact)
        # host function -> (the Redactor, positions of its secret parameters)
        self._names: dict[Any, tuple[Redactor, tuple[int, ...]]] = {}
        self.active = True

    # -- the call path ----------------------------------------------------------------------
    def call(
        self,
        run: Callable[..., Any],
        point: Any,
        options: Any,
        plan: Any,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        seen: tuple[Any, ...],
    ) -> Any:
        """``run(point, options, plan, fn, args, kwargs, seen)``, recorded."""
        record = self._begin(options, fn, args, kwargs, seen)
        if record is None:
            return run(point, options, plan, fn, args, kwargs, seen)
        # _Recording's work, inlined: this is every recorded call's path
        token = CURRENT.set(record)
        try:
            return record.returned(run(point, options, plan, record.host(fn), args, kwargs, seen))
        except BaseException as exc:
            self._failed(record, exc)
            raise
        finally:
            CURRENT.reset(token)
            self._end(record)

    async def call_async(
        self,
        run: Callable[..., Any],
        point: Any,
        options: Any,
        plan: Any,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        seen: tuple[Any, ...],
    ) -> Any:
        """``call`` for an ``async def`` host function (``run`` a coroutine function)."""
        record = self._begin(options, fn, args, kwargs, seen)
        if record is None:
            return await run(point, options, plan, fn, args, kwargs, seen)
        with _Recording(record):
            hosted = record.host_async(fn)
            return record.returned(await run(point, options, plan, hosted, args, kwargs, seen))

    def _failed(self, record: CallRecord, exc: BaseException) -> None:
        if isinstance(exc, HookVetoed):
            record.outcome = {"vetoed": exc.reason, "script": Path(exc.script).name}
        else:
            record.outcome = {"raised": describe_exception(exc)}

    def _begin(
        self,
        options: Any,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        seen: tuple[Any, ...],
    ) -> CallRecord | None:
        if not self.active:
            return None
        try:
            return self._record(options, fn, args, kwargs, seen)
        except Exception:  # a recording must never break the host's call
            logger.exception("hookyard: recording a call of point %r failed", self.point)
            return None

    def _record(
        self,
        options: Any,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        seen: tuple[Any, ...],
    ) -> CallRecord:
        try:
            secret = self.secret
            items = list(seen)
            hidden = self._hidden(fn)
            if hidden:
                skip = len(args) - len(seen)
                for where in hidden:
                    if 0 <= where - skip < len(items):
                        items[where - skip] = REDACTED  # a secret passed by position
            encoded = encode_host(items, secret)
            return CallRecord(self, options, encoded, encode_host(kwargs, secret))
        except BoundaryError as exc:
            return CallRecord(self, options, f"the arguments cannot be recorded: {exc}", None)

    def _hidden(self, fn: Callable[..., Any]) -> tuple[int, ...]:
        """The positions of ``fn``'s parameters whose names are secrets (cached per
        function and redaction: the replay changes ``secret`` per recorded call)."""
        secret = self.secret
        known = self._names.get(fn)
        if known is not None and known[0] is secret:
            return known[1]
        try:
            parameters = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            parameters = ()  # type: ignore[assignment]  # no signature: none to read
        names = [p.name for p in parameters if p.kind in _POSITIONAL]
        hidden = tuple(where for where, name in enumerate(names) if secret(name))
        if len(self._names) < 64 or fn in self._names:
            self._names[fn] = (secret, hidden)
        return hidden

    def _value(self, key: str, value: Any) -> dict[str, Any]:
        """``{key: value}`` encoded as the scripts would see it, or why it cannot be."""
        try:
            return {key: encode_host(value, self.secret)}
        except BoundaryError as exc:
            return {"unrecordable": str(exc)}

    def _end(self, record: CallRecord) -> None:
        try:
            self.keep(record.as_line(self.point, self.redact))
        except Exception:  # a recording must never break the host's call
            logger.exception("hookyard: recording a call of point %r failed", self.point)

    def keep(self, line: dict[str, Any]) -> None:
        """One finished call (``CallRecord.as_line``)."""
        raise NotImplementedError

    # -- api calls ------------------------------------------------------------------------------
    def api(
        self,
        record: CallRecord,
        name: str,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """Call ``function`` for a script of ``record``'s call, keeping what happened."""
        entry = self._api_entry(name, args, kwargs, made=True)
        entry["no_side_effects"] = is_no_side_effects(function)
        token = CURRENT.set(None)  # what the host function runs is not part of this call
        try:
            result = self.answer(record, entry, function, args, kwargs)
        except Exception as exc:
            entry["raised"] = describe_exception(exc)
            raise
        else:
            entry.update(self._value("result", result))
            return result
        finally:
            CURRENT.reset(token)
            record.pending.append(entry)

    def answer(
        self,
        record: CallRecord,
        entry: dict[str, Any],
        function: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """The result of an ``api`` call: the host function's own (the replay answers from
        the recording instead)."""
        return function(*args, **kwargs)

    def api_skipped(
        self, record: CallRecord, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        """A shadow's call that did not reach the host (``skip_api``)."""
        record.pending.append(self._api_entry(name, args, kwargs, made=False))

    def _api_entry(
        self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], *, made: bool
    ) -> dict[str, Any]:
        try:
            encoded_args = encode(list(args), self.secret)
            encoded_kwargs = encode(kwargs, self.secret)
        except BoundaryError:  # to_host let only plain data through: not expected
            encoded_args, encoded_kwargs = None, None
        return {
            "script": None,
            "phase": None,
            "name": name,
            "args": encoded_args,
            "kwargs": encoded_kwargs,
            "made": made,
        }

    # -- the Observer protocol ------------------------------------------------------------------
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
        """A script of the point ended: its outcome, and the api calls it made."""
        record = CURRENT.get()
        if record is None or record.session is not self:
            return  # a call that began before this session, or another point's
        record.scripts.append((script, phase, outcome, message))
        if record.pending:
            for entry in record.pending:
                entry["script"] = script.name
                entry["phase"] = phase
            record.api += record.pending
            record.pending = []


_encode_json = msgspec.json.Encoder().encode


def _json_line(line: dict[str, Any]) -> bytes:
    """``line`` as one line of JSON (UTF-8). msgspec writes it ~10 times faster than
    ``json.dumps``; a string it cannot (lone surrogates) sends the line through ``json``
    with every non-ASCII character escaped. msgspec escapes the control characters; the
    other line breaks ``str.splitlines`` knows (U+0085, U+2028, U+2029) are escaped here,
    so that a tool splitting lines that way sees one call per line. Nothing else in the
    line is a float: ``encode`` tags NaN and infinities, which msgspec would write as null.
    """
    try:
        data = _encode_json(line)
    except UnicodeEncodeError:
        return (json.dumps(line, separators=(",", ":"), allow_nan=False) + "\n").encode("ascii")
    if not data.isascii():  # one C pass; `raw in data` costs a TypeError per test
        for raw, escaped in _BREAKS:
            if raw in data:
                data = data.replace(raw, escaped)
    return data + b"\n"


_OPEN = b'{"record":%d,"time":"' % FORMAT

# their UTF-8 forms cannot occur inside another character's (no lead byte is a
# continuation byte), so a plain bytes replace finds exactly them
_BREAKS = tuple((chr(c).encode(), b"\\u%04x" % c) for c in (0x85, 0x2028, 0x2029))


class Recorder(Session):
    """``engine.record(...)``: each call of the point as one line appended to ``path``,
    until ``limit`` calls are written; ``on_limit()`` then (the engine stops it)."""

    def __init__(
        self,
        point: str,
        path: str | Path,
        *,
        limit: int,
        redact: Iterable[str],
        on_limit: Callable[[], None],
    ) -> None:
        super().__init__(point, redact)
        self.path = Path(path)
        self.limit = limit
        self.count = 0
        self._on_limit = on_limit
        self._lock = threading.Lock()
        # the last PointOptions seen, and what follows the time in its lines
        self._head: tuple[Any, bytes] = (None, b"")
        self._entries: dict[tuple[str, str | None, str, str], bytes] = {}  # script entries
        # append-only; a recording holds the host's data: readable by its owner only
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _end(self, record: CallRecord) -> None:
        try:
            data = self.line(record, time.time())
        except Exception:  # a recording must never break the host's call
            logger.exception("hookyard: recording a call of point %r failed", self.point)
            return
        self._write(data)

    def line(self, record: CallRecord, when: float) -> bytes:
        """``_json_line(record.as_line(point, redact, when))``, built from parts encoded
        once: the point's name, options and redaction (per options), each script's entry
        (per script, phase and outcome); msgspec encodes only what changes per call."""
        if type(record.args) is str:
            return _json_line(record.as_line(self.point, self.redact, when))  # unrecordable
        options, head = self._head
        if options is not record.options:  # (PointOptions hashes in Python: no dict)
            head = self._head_for(record.options)
        entries = self._entries
        parts = []
        for script, phase, outcome, message in record.scripts:
            if message is None:
                key = (script.name, script.version, phase, outcome)
                part = entries.get(key)
                if part is None:
                    part = _json_line(script_entry(script, phase, outcome, None))[:-1]
                    if len(entries) >= 1024:
                        entries.clear()  # bounded: scripts come and go with reloads
                    entries[key] = part
            else:
                part = _json_line(script_entry(script, phase, outcome, message))[:-1]
            parts.append(part)
        try:
            rest = _encode_json(
                {
                    "args": record.args,
                    "kwargs": record.kwargs,
                    "host": record.hosted_outcome,
                    "scripts": msgspec.Raw(b"[" + b",".join(parts) + b"]"),
                    "api": record.api + record.pending,
                    "outcome": record.outcome,
                }
            )
        except UnicodeEncodeError:  # a lone surrogate: json writes it escaped
            return _json_line(record.as_line(self.point, self.redact, when))
        data = b"".join((_OPEN, _timestamp(when).encode("ascii"), head, rest[1:], b"\n"))
        if not data.isascii():
            for raw, escaped in _BREAKS:
                if raw in data:
                    data = data.replace(raw, escaped)
        return data

    def _head_for(self, options: Any) -> bytes:
        """``","point":...,"options":{...},"redact":[...],``: what follows the time."""
        middle = _json_line(
            {
                "point": self.point,
                "options": {
                    "result": options.result,
                    "on_error": options.on_error,
                    "veto": options.veto,
                },
                "redact": list(self.redact),
            }
        )
        head = b'",' + middle[1:-2] + b","
        self._head = (options, head)
        return head

    def keep(self, line: dict[str, Any]) -> None:
        self._write(_json_line(line))

    def _write(self, data: bytes) -> None:
        done = False
        with self._lock:
            fd = self._fd
            if fd is None or self.count >= self.limit:
                return
            try:
                # one write of one whole line to an O_APPEND file: the kernel appends it
                # in one piece; the lock keeps this process's threads in turn besides
                written = os.write(fd, data)
                while written < len(data):
                    written += os.write(fd, data[written:])
            except OSError as exc:
                logger.error("hookyard: cannot write recording %s: %s (stopped)", self.path, exc)
                done = True
            else:
                self.count += 1
                done = self.count >= self.limit
            if done:
                self.active = False
        if done:
            self._on_limit()

    def close(self) -> None:
        """Stop: later calls are not written; the file is closed."""
        self.active = False
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
