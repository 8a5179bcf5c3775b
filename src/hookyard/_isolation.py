"""Process isolation, host side: a small pool of worker processes that load and run scripts.

``HookEngine(..., isolation="process")`` hands each script file to a ``WorkerPool``: the
host reads and checks the file as in-process (``_loader.read_source``), a worker compiles
and loads it under the same RestrictedPython policy and globals (``_worker``), and the
engine publishes a ``RemoteScript`` whose ``pre``/``post``/``error`` forward each call to
that worker. The point's call path (ordering, copies, vetoes, replacement chaining,
``on_error``, status counters, audit observers) is the in-process one, unchanged.

Design choices (see docs/isolation.md for the long form):

- **subprocess, not multiprocessing.** Workers are ``python -I -S -B`` started with
  ``subprocess`` (fork+exec done in C, safe in a multi-threaded host, unlike
  multiprocessing's ``fork``), an empty environment, ``close_fds``, ``/`` as working
  directory and a session of their own. multiprocessing's pickle-based machinery (and its
  forkserver, which any local process can feed pickles to on 3.11) is avoided entirely.
- **Plain data on the wire.** Frames of MessagePack with our extension types (``_wire``);
  the host parses whatever a worker says as data only. Exceptions cross as type name +
  message.
- **One worker per script, N scripts per worker.** Each script version lives in exactly one
  worker, so its ``state`` is one dict, as in-process; a point's scripts share a worker
  (``_place``), points are spread over the workers. A call holds its script's worker for
  the duration of one hook function (calls to points in different workers run in
  parallel; calls to one worker take turns).
- **Hard limits.** Each worker has RLIMIT_AS, a per-request RLIMIT_CPU window, no file
  writes, processes, core dumps or extra fds, never above the hard limits the host itself
  inherited; the host gives each request ``Limits.seconds + grace`` of the worker's time
  (time spent in host ``api`` functions does not count) and SIGKILLs a worker past it. A
  killed or crashed worker is replaced by a fresh one (a spare is kept started) that loads
  its scripts again on demand: **their ``state`` starts empty**, as after an edit.
- **Kernel confinement** (``_confine``, Linux): namespaces, Landlock and a seccomp
  allow-list; ``confine="auto"`` applies what the kernel offers and warns once about the
  rest, ``"require"`` refuses to make the engine without all of it.
- **Checked when the engine is made.** One worker is started at once, so limits the
  machine cannot honour and missing confinement are errors from ``HookEngine(...)``,
  never scripts that silently fail to load.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from ._budget import Limits
from ._copy import arguments_to_script, to_host, to_script
from ._hookpoint import NotRun, ScriptFailure
from ._layers import Layer, check_inherited_cpu, inherited_memory_note, sandbox_table
from ._layers import layers as _layers
from ._loader import HOOK_NAMES, FileRules, LoadedScript, LoadFailure, read_source
from ._process import Gone, Retired, Timeout, Worker
from ._record import call_api, skip_api
from ._shadow import is_no_side_effects
from ._signature import Parameters, valid_parameters
from ._wire import (
    ProtocolError,
    Unsendable,
    describe_exception,
    rebuild_described,
)
from ._wire_encode import _pack, _packb, encode, encode_call, frame
from .errors import BoundaryError, HookError, LimitExceeded

__all__ = [
    "Layer",
    "ProcessIsolation",
    "RemoteScript",
    "WorkerPool",
    "process_options",
    "sandbox_check",
    "sandbox_table",
]

logger = logging.getLogger("hookyard")

# The worker needs the sandbox, not the engine: the package is registered without running
# its __init__ (which imports the engine, this module and subprocess), so workers start
# sooner. argv: [-c, sys.path as JSON, the package directory].
_BOOT = (
    "import sys,json,types;sys.path[:]=json.loads(sys.argv[1]);"
    "p=types.ModuleType('hookyard');p.__path__=[sys.argv[2]];sys.modules['hookyard']=p;"
    "from hookyard._worker import main;main()"
)
_TEXT_LIMIT = 64 * 1024  # characters of a log line or failure message taken from a worker
_MiB = 1024 * 1024
_CONFINE = ("auto", "require", "off")
# Kernel confinement exists on Linux only; elsewhere "auto" would warn at every engine.
_DEFAULT_CONFINE = "auto" if sys.platform.startswith("linux") else "off"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessIsolation:
    """How ``isolation="process"`` runs scripts; pass one as ``isolation=`` to tune it.

    - ``workers``: processes scripts are spread over (each script lives in one of them).
    - ``memory``: address space of each worker in bytes (RLIMIT_AS); 0 for no limit.
    - ``grace``: seconds past ``Limits.seconds`` the host waits for a worker before it
      kills it (the worker's own budget normally stops a script first, keeping state).
    - ``cpu_lifetime``: CPU seconds a worker may use in its life (the hard RLIMIT_CPU);
      it retires and is replaced before reaching it.
    - ``max_message``: largest message in bytes either side accepts.
    - ``spare``: keep one extra worker started, so a killed worker is replaced at once.
    - ``user``/``group``: run workers as this user/group (the host must be privileged to
      switch); recommended when the host runs as root, where RLIMIT_NPROC does not apply.
    - ``startup``: seconds a new worker may take to start.
    - ``confine``: kernel confinement of each worker (Linux: namespaces, Landlock,
      seccomp; see docs/isolation.md). ``"auto"`` (the default on Linux) applies what the
      kernel offers and logs once, at WARNING, what it could not; ``"require"`` makes
      ``HookEngine(...)`` raise ``HookError`` when a layer is missing; ``"off"`` is for
      debugging.
    """

    workers: int = 2
    memory: int = 512 * _MiB
    grace: float = 1.0
    cpu_lifetime: int = 3600
    max_message: int = 64 * _MiB
    spare: bool = True
    user: str | int | None = None
    group: str | int | None = None
    startup: float = 30.0
    confine: str = _DEFAULT_CONFINE

    def __post_init__(self) -> None:
        if self.confine not in _CONFINE:
            raise ValueError(
                f"ProcessIsolation.confine must be 'auto', 'require' or 'off', not {self.confine!r}"
            )
        # a wrong type is a TypeError, a wrong value a ValueError (issue 18)
        for name in ("workers", "cpu_lifetime", "max_message", "memory"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"ProcessIsolation.{name} must be an int, not {value!r}")
            if value < (0 if name == "memory" else 1):
                raise ValueError(
                    f"ProcessIsolation.{name} must be an int >= "
                    f"{0 if name == 'memory' else 1}, not {value!r}"
                )
        for name in ("grace", "startup"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise TypeError(
                    f"ProcessIsolation.{name} must be a number of seconds, not {value!r}"
                )
            if not value > 0:
                raise ValueError(f"ProcessIsolation.{name} must be a positive number")


def process_options(isolation: object) -> ProcessIsolation | None:
    """None for ``"inline"``; the options for ``"process"`` or a ``ProcessIsolation``."""
    if isolation == "inline":
        return None
    if isolation == "process":
        isolation = ProcessIsolation()
    if not isinstance(isolation, ProcessIsolation):
        raise ValueError(
            f"isolation must be 'inline', 'process' or a hookyard.ProcessIsolation, "
            f"not {isolation!r}"
        )
    if os.name != "posix":
        raise ValueError("isolation='process' needs a POSIX system (rlimits, pipes)")
    if not sys.executable:
        raise ValueError("isolation='process' needs sys.executable to start workers")
    return isolation


# -- what the engine publishes ------------------------------------------------------------
class _Spec:
    """What a worker needs to load one script version (again, after a replacement)."""

    __slots__ = ("key", "logger", "packed", "path", "point", "source", "threshold", "version")

    def __init__(
        self, key: int, path: str, point: str, source: str, version: str, log: logging.Logger
    ) -> None:
        self.key = key
        self.path = path
        self.point = point
        self.source = source
        self.version = version
        self.logger = log
        self.threshold = logging.NOTSET  # see _threshold
        self.packed = _packb(self.threshold)  # the threshold as it goes in a call


class _Slot:
    """One place in the pool: its worker (started on demand) and the scripts pinned to it."""

    __slots__ = ("lock", "pending", "specs", "worker")

    def __init__(self) -> None:
        # Reentrant: a host api function may call another hooked function whose script
        # lives in the same worker; the worker serves that nested call while it waits.
        self.lock = threading.RLock()
        self.worker: Worker | None = None
        self.specs: dict[int, _Spec] = {}
        # keys of RemoteScripts that are gone: unloaded at the slot's next use. A list
        # because RemoteScript.__del__ may run in any thread (list.append is atomic).
        self.pending: list[int] = []


@dataclass(slots=True, eq=False)
class RemoteScript(LoadedScript):
    """A script loaded in a worker: a LoadedScript whose hook functions forward there.

    Its ``namespace`` is empty (the real one lives in the worker). When the engine and
    every call in flight have let go of it, the worker unloads that version.
    """

    remote: ClassVar[bool] = True
    # its hook functions are _RemoteHooks: the generated call path calls their pool's
    # invoke itself (_fastpath)
    in_worker: ClassVar[bool] = True
    key: int = 0
    slot: _Slot | None = field(default=None, repr=False)

    def __del__(self) -> None:
        slot = self.slot
        if slot is not None:
            slot.pending.append(self.key)


_Shape = tuple[int | None, Parameters | None]


class _RemoteHook:
    """``script.pre`` (or post/error) of a RemoteScript: forwards one call to the worker.

    It holds no reference to the RemoteScript, so dropping the script unloads it.
    """

    __slots__ = ("head", "key", "line", "parameters", "phase", "pool", "quiet", "slot")

    def __init__(
        self,
        pool: WorkerPool,
        slot: _Slot,
        key: int,
        phase: str,
        shape: _Shape = (None, None),
        metered: bool = True,
    ) -> None:
        self.pool = pool
        self.slot = slot
        self.key = key
        self.phase = phase
        # the start of every call request, packed once: see _call_head
        self.head = _call_head(key, phase, metered)
        # the function's line and parameters as the worker read them (_signature), for
        # the engine's signature check; None where the worker did not say
        self.line, self.parameters = shape
        # The same function called unmetered: the worker does not count the budget
        # operations it used (nobody audits a call of the generated path, _fastpath), so a
        # budgeted function is called without a meter around it (issue 13 point 4).
        self.quiet: _RemoteHook | None = None
        if metered:
            self.quiet = _RemoteHook(pool, slot, key, phase, shape, metered=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _local.operations = None  # until the worker says
        return self.pool.invoke(self, args, kwargs)

    @property
    def operations(self) -> int | None:
        """Budget operations this thread's last call used in the worker (read by _Meter)."""
        return _local.operations


# -- the pool -------------------------------------------------------------------------------
class _Local(threading.local):
    depth = 0  # conversations with workers this thread is inside (nested via api calls)
    operations: int | None = None  # what the worker reported for the last call


_local = _Local()
# Pools alive in this process, so that a forked child can let go of its parent's workers.
_POOLS: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


class WorkerPool:
    """The workers of one engine, and the load/invoke protocol with them."""

    def __init__(
        self,
        options: ProcessIsolation,
        *,
        api: Mapping[str, Callable[..., Any]],
        modules: tuple[str, ...],
        limits: Limits,
        selftest: int | None = None,
    ) -> None:
        """``selftest``: a port this process listens on, for ``sandbox_check`` (which
        starts its one worker itself)."""
        self.options = options
        self.limits = limits
        self._functions = dict(api)
        self._deadline = limits.seconds + options.grace
        paths = [os.path.abspath(str(p)) if str(p) else os.getcwd() for p in sys.path]
        package = os.path.dirname(os.path.abspath(__file__))
        self.argv = [sys.executable, "-I", "-S", "-B", "-c", _BOOT, json.dumps(paths), package]
        # CPU seconds one request may need: its budget and the grace, rounded up
        cpu_floor = int(self._deadline) + 2
        check_inherited_cpu(cpu_floor)
        self.init = {
            "api": sorted(self._functions),
            "modules": list(modules),
            "limits": {f.name: getattr(limits, f.name) for f in fields(limits)},
            "memory": options.memory,
            "cpu_floor": cpu_floor,
            "cpu_lifetime": options.cpu_lifetime,
            "max_message": options.max_message,
            "confine": options.confine,
        }
        if selftest is not None:
            self.init["selftest"] = {"port": selftest, "file": os.path.realpath(sys.executable)}
        self.init_frame = frame(["init", self.init])
        self._slots = [_Slot() for _ in range(options.workers)]
        self._spare: list[Worker] = []  # zero or one started worker, waiting
        self._spare_lock = threading.Lock()
        self._keys = itertools.count(1)
        self._closed = False
        self._warned = False  # confine="auto": what it could not apply, logged once
        weakref.finalize(self, _kill_all, self._slots, self._spare)
        _POOLS.add(self)
        if selftest is not None:
            return
        # One worker now, so that a limit the machine cannot honour or a missing
        # confinement layer is an error here, not scripts failing to load later (issue 13).
        try:
            self._slots[0].worker = self._start()
        except Gone as gone:
            self.close()
            raise HookError(
                f"process isolation: a worker could not be started: it {gone.detail}"
                f"{inherited_memory_note(options.memory)}"
            ) from None

    # -- loading ----------------------------------------------------------------------------
    def load(
        self, path: Path, *, point: str, rules: FileRules, logger: logging.Logger
    ) -> LoadedScript | LoadFailure:
        """Read ``path`` here, load it in a worker: a RemoteScript, or why not. Never raises."""
        read = read_source(path, rules)
        if isinstance(read, LoadFailure):
            return read
        source, version = read
        spec = _Spec(next(self._keys), str(path), point, source, version, logger)
        slot = self._place(point)
        result: dict[str, _Shape] | LoadFailure
        if not self._acquire(slot):
            return LoadFailure(spec.path, None, "not loaded: its worker is busy", version)
        try:
            slot.specs[spec.key] = spec
            result = self._load_retrying(slot, spec)
        finally:
            self._release(slot)
        if isinstance(result, LoadFailure):
            slot.specs.pop(spec.key, None)
            return result
        hooks = {
            name: _RemoteHook(self, slot, spec.key, name, shape) for name, shape in result.items()
        }
        return RemoteScript(
            point=point,
            name=path.name,
            path=spec.path,
            version=version,
            source=source,
            pre=hooks.get("pre"),
            post=hooks.get("post"),
            error=hooks.get("error"),
            namespace={},
            limits=self.limits,
            key=spec.key,
            slot=slot,
        )

    def _place(self, point: str) -> _Slot:
        """The slot for a script of ``point``: where that point's scripts live already,
        else the least loaded one.

        A call then talks to one worker, however many scripts its point has: every other
        process woken in a call costs a round trip and cold caches (issue 13 measured a
        point's two scripts 20% slower spread over two workers than in one). Points are
        what is spread over the workers; concurrent calls to different points run in
        parallel.
        """
        for slot in self._slots:
            if any(spec.point == point for spec in slot.specs.values()):
                return slot
        return min(self._slots, key=lambda s: len({spec.point for spec in s.specs.values()}))

    def _load_retrying(self, slot: _Slot, spec: _Spec) -> dict[str, _Shape] | LoadFailure:
        for _ in range(3):
            try:
                worker = self._worker(slot)
                return self._load_into(slot, worker, spec)
            except Retired:
                continue
            except Gone as gone:
                if gone.limit:
                    message = f"LimitExceeded: {gone.detail} while loading"
                else:
                    message = f"the worker {gone.detail} while loading"
                return LoadFailure(spec.path, None, message, spec.version)
        return LoadFailure(spec.path, None, "no worker would load it", spec.version)

    def _load_into(
        self, slot: _Slot, worker: Worker, spec: _Spec
    ) -> dict[str, _Shape] | LoadFailure:
        reply = self._converse(
            slot,
            worker,
            frame(
                [
                    "load",
                    spec.key,
                    spec.path,
                    spec.point,
                    spec.source,
                    spec.version,
                    _threshold(spec),
                ]
            ),
        )
        kind = reply[0]
        if (
            kind == "loaded"
            and len(reply) == 3
            and type(reply[1]) is list
            and all(name in HOOK_NAMES for name in reply[1])
            and type(reply[2]) is list
            and len(reply[2]) == len(reply[1])
        ):
            worker.loaded.add(spec.key)
            return {name: _shape(shape) for name, shape in zip(reply[1], reply[2], strict=True)}
        if (
            kind == "failed"
            and len(reply) == 3
            and (reply[1] is None or type(reply[1]) is int)
            and type(reply[2]) is str
        ):
            return LoadFailure(spec.path, reply[1], reply[2][:_TEXT_LIMIT], spec.version)
        raise self._broken(slot, worker, f"an invalid answer to a load ({kind[:20]!r})")

    # -- calling ------------------------------------------------------------------------------
    def invoke(self, hook: _RemoteHook, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run one hook function in the worker: its plain-data result, or ScriptFailure."""
        slot = hook.slot
        key = hook.key
        phase = hook.phase
        spec = slot.specs.get(key)  # present while its RemoteScript lives, as it does now
        if spec is None:  # pragma: no cover - only a hook function kept past its script
            text = f"script {key}: {phase}: not run: no longer loaded"
            raise ScriptFailure("error", text, RuntimeError(text))
        # Encoded before taking the worker. The encoding is the script's copy of the
        # arguments (the call path hands remote scripts the host's own objects); what
        # cannot cross means the script does not run, with in-process's very message.
        try:
            # exceptions: only the error hook's first argument (the host's, rebuilt)
            arguments = _pack(encode_call(args, kwargs, exceptions=phase == "error"))
        except Unsendable:
            arguments = _pack(_converted(spec, phase, args, kwargs))
        except BoundaryError as exc:
            raise _not_run(spec, phase, exc) from None
        # _threshold's test, inlined: the logger's threshold, packed, unless logging changed
        log = spec.logger
        if log.disabled or _MARK not in getattr(log, "_cache", _NO_CACHE):
            _threshold(spec)
        # ["call", key, phase, threshold, [args, kwargs]]: a MessagePack array is its
        # header and then its items, so the parts are packed apart and joined
        head = hook.head
        level = spec.packed
        message = (
            (len(head) + len(level) + len(arguments)).to_bytes(4, "big") + head + level + arguments
        )
        # _acquire and _release, inlined (the hot path)
        depth = _local.depth
        if depth:
            # nested in an api call while holding a worker: never wait forever (two
            # threads each nesting into the other's worker would deadlock)
            if not slot.lock.acquire(timeout=self._deadline):
                text = (
                    f"{spec.path}: {phase}: LimitExceeded: its worker stayed busy for "
                    f"{self._deadline:g} s (a call nested in an api function waits at most "
                    "that)"
                )
                raise ScriptFailure("limit", text, LimitExceeded(text, limit="seconds"))
        else:
            slot.lock.acquire()
        _local.depth = depth + 1
        try:
            worker = slot.worker
            if worker is not None and not slot.pending and key in worker.loaded:
                # the usual case: a live worker that has the script, and an "ok" answer.
                # _converse's first exchange, inlined; anything else goes the same way
                # _converse would take it (_conversed)
                end = _monotonic() + self._deadline
                try:
                    worker.send(message, self._deadline)
                    reply = worker.receive(end)
                    if reply[0] not in _ANSWERS:
                        reply = self._conversed(slot, worker, reply, end)
                except BaseException as exc:  # (re-raised as _converse raises it)
                    try:
                        self._converse_failed(slot, worker, exc)
                    except Retired:
                        reply = None  # the loop below starts a fresh worker
                    except Gone as gone:
                        raise _failure(spec, phase, gone) from None
                if reply is not None:
                    ops = reply[-1]
                    if (
                        reply[0] == "ok"
                        and len(reply) == 3
                        and (ops is None or (type(ops) is int and ops >= 0))
                    ):
                        _local.operations = ops
                        return reply[1]
                    return self._outcome(slot, worker, spec, phase, reply)
            for _ in range(3):
                try:
                    worker = slot.worker
                    if worker is None or slot.pending:
                        worker = self._worker(slot)
                    if key not in worker.loaded:
                        loaded = self._load_into(slot, worker, spec)
                        if isinstance(loaded, LoadFailure):
                            text = (
                                f"{spec.path}: {phase}: not run: it did not load again in a "
                                f"fresh worker: {loaded.message}"
                            )
                            raise ScriptFailure("error", text, RuntimeError(text))
                    reply = self._converse(slot, worker, message)
                except Retired:
                    continue
                except Gone as gone:
                    raise _failure(spec, phase, gone) from None
                return self._outcome(slot, worker, spec, phase, reply)
            text = f"{spec.path}: {phase}: not run: no worker would run it"
            raise ScriptFailure("error", text, RuntimeError(text))
        finally:
            _local.depth = depth
            slot.lock.release()

    def _outcome(
        self, slot: _Slot, worker: Worker, spec: _Spec, phase: str, reply: list[Any]
    ) -> Any:
        kind = reply[0]
        try:
            # every answer to a call ends with the budget operations it used (audit trail)
            ops = reply[-1]
            if ops is not None and (type(ops) is not int or ops < 0):
                raise ProtocolError("operations must be an int >= 0 or null")
            _local.operations = ops
            if kind == "ok" and len(reply) == 3:
                return reply[1]
            if kind == "fail" and len(reply) == 9:
                raise _remote_failure(reply[:8])
            if kind == "unsendable" and len(reply) == 4:
                return _stand_in(reply[1], reply[2])
            raise ProtocolError(f"an invalid answer to a call ({kind[:20]!r})")
        except ProtocolError as exc:
            raise _failure(spec, phase, self._broken(slot, worker, str(exc))) from None

    # -- one conversation ------------------------------------------------------------------
    def _converse(self, slot: _Slot, worker: Worker, message: bytes) -> list[Any]:
        """Send a request; serve the worker's log lines and api calls until it answers.

        The worker gets ``Limits.seconds + grace`` of its own time: the clock stops while
        a host api function runs. Raises Gone (the worker is dropped) or Retired.
        """
        deadline = self._deadline
        try:
            end = time.monotonic() + deadline
            worker.send(message, deadline)
            return self._conversed(slot, worker, worker.receive(end), end)
        except BaseException as exc:
            self._converse_failed(slot, worker, exc)
            raise  # (_converse_failed always raises)

    def _conversed(self, slot: _Slot, worker: Worker, reply: list[Any], end: float) -> list[Any]:
        """The rest of a conversation from the worker's first message ``reply``: its
        answer, once its log lines and api calls are served (``end``: its deadline, moved
        on by the time host api functions take)."""
        while True:
            kind = reply[0]
            if kind in _ANSWERS:
                return reply
            if kind == "log":
                self._log(slot, reply)
            elif kind == "api":
                started = time.monotonic()
                self._api(worker, reply)
                end += time.monotonic() - started  # the worker's clock stops meanwhile
            elif kind == "retire":
                raise Retired
            else:
                return reply
            reply = worker.receive(end)

    def _converse_failed(self, slot: _Slot, worker: Worker, exc: BaseException) -> NoReturn:
        """A conversation with ``worker`` ended in ``exc``: drop the worker where it can
        no longer serve, and raise what ``_converse`` raises for it (Gone or Retired, or
        ``exc`` itself when the host was interrupted)."""
        try:
            raise exc
        except Timeout:
            self._drop(slot, worker, kill=True, why="stopped at its deadline")
            raise Gone(
                f"time limit ({self.limits.seconds:g} s) exceeded: the worker was stopped "
                f"after {self._deadline:g} s and replaced",
                "seconds",
            ) from None
        except Retired:
            self._drop(slot, worker, kill=False, why="retired (CPU lifetime)")
            raise
        except Gone as gone:
            self._drop(slot, worker, kill=True, why=gone.detail)
            raise
        except ProtocolError as protocol:
            raise self._broken(slot, worker, str(protocol)) from None
        except BaseException:
            # the host itself was interrupted mid-conversation (KeyboardInterrupt in an api
            # function...): the worker's state is unknown, so it goes
            self._drop(slot, worker, kill=True, why="stopped: the host was interrupted")
            raise

    def _log(self, slot: _Slot, reply: list[Any]) -> None:
        if len(reply) != 4 or type(reply[2]) is not int or type(reply[3]) is not str:
            raise ProtocolError("a log line is [key, level, text]")
        spec = slot.specs.get(reply[1]) if type(reply[1]) is int else None
        if spec is None:
            raise ProtocolError("a log line for no script")
        spec.logger.log(
            min(max(reply[2], logging.DEBUG), logging.CRITICAL), "%s", reply[3][:_TEXT_LIMIT]
        )

    def _api(self, worker: Worker, reply: list[Any]) -> None:
        if len(reply) not in (3, 4) or type(reply[1]) is not str:
            raise ProtocolError("an api call is [name, [args, kwargs]] (and true for a shadow)")
        shadow = len(reply) == 4 and reply[3] is True
        function = self._functions.get(reply[1])
        arguments = reply[2]
        if (
            function is None
            or type(arguments) is not list
            or len(arguments) != 2
            or type(arguments[0]) is not list
            or type(arguments[1]) is not dict
            or not all(type(k) is str for k in arguments[1])
        ):
            raise ProtocolError(f"an invalid api call ({reply[1][:40]!r})")
        try:
            # what reaches a host function is plain data within MAX_NESTING whatever a
            # compromised worker sent (an honest one sends exactly that)
            # and safe for it to print, compare and encode (the same check as in-process)
            args = to_host(arguments[0], self.limits.size)
            kwargs = to_host(arguments[1], self.limits.size)
        except BoundaryError as exc:
            raise ProtocolError(f"invalid api arguments ({exc})") from None
        answer: list[Any]
        if shadow and not is_no_side_effects(function):
            # a shadow script's call of a function with side effects: not made
            # (DESIGN.md "Safe rollout"), as in-process (_sandbox._api_call)
            skip_api(reply[1], tuple(args), kwargs)
            worker.send(frame(["ret", None]), self._deadline)
            return
        try:
            # (recorded while engine.record() records the call: _record)
            result = call_api(reply[1], function, tuple(args), kwargs)
        except Exception as exc:
            # rebuilt on the other side from type name and message: the host's object,
            # traceback and frames stay here
            answer = ["err", *describe_exception(exc)]
        else:
            try:
                answer = ["ret", encode(to_script(result))]
            except BoundaryError as exc:
                answer = ["refused", str(exc)]
        worker.send(frame(answer), self._deadline)

    # -- workers --------------------------------------------------------------------------------
    def _acquire(self, slot: _Slot) -> bool:
        depth = _local.depth
        if depth:
            # nested in an api call while holding a worker: never wait forever (two
            # threads each nesting into the other's worker would deadlock)
            if not slot.lock.acquire(timeout=self._deadline):
                return False
        else:
            slot.lock.acquire()
        _local.depth = depth + 1
        return True

    def _release(self, slot: _Slot) -> None:
        _local.depth -= 1
        slot.lock.release()

    def _worker(self, slot: _Slot) -> Worker:
        """The slot's worker, started if needed, with dropped scripts unloaded."""
        worker = slot.worker
        if worker is None:
            worker = slot.worker = self._start()
        pending = slot.pending
        if pending:
            gone = []
            while pending:
                key = pending.pop()
                slot.specs.pop(key, None)
                if key in worker.loaded:
                    worker.loaded.discard(key)
                    gone.append(key)
            if gone:
                try:
                    worker.send(frame(["unload", gone]), self._deadline)
                except (Timeout, Gone):
                    self._drop(slot, worker, kill=True)
                    return self._worker(slot)
        return worker

    def _start(self) -> Worker:
        worker = None
        with self._spare_lock:
            if self._spare:
                worker = self._spare.pop()
        try:
            if worker is None:
                worker = Worker(self)
            if self.options.spare and not self._closed:
                with self._spare_lock:
                    if not self._spare:
                        self._spare.append(Worker(self))
            reply = worker.receive(time.monotonic() + self.options.startup)
        except Timeout:
            assert worker is not None  # set before anything can time out
            worker.stop(kill=True)
            raise Gone(f"did not start within {self.options.startup:g} s") from None
        except OSError as exc:
            if worker is not None:
                worker.stop(kill=True)
            raise Gone(f"could not be started ({exc})") from None
        except ProtocolError as exc:
            assert worker is not None
            worker.stop(kill=True)
            raise Gone(f"did not start properly ({exc})") from None
        if reply[0] != "ready" or len(reply) != 4:
            worker.stop(kill=True)
            raise Gone("did not start properly")
        try:
            layers = _layers(reply[2])
        except ProtocolError as exc:
            worker.stop(kill=True)
            raise Gone(f"did not start properly ({exc})") from None
        missing = [layer for layer in layers if not layer.active]
        if missing and self.options.confine == "require":
            worker.stop(kill=True)
            raise HookError(
                "process isolation: confine='require', but this machine lacks "
                + "; ".join(f"{layer.name} ({layer.detail})" for layer in missing)
                + ". Run `hookyard sandbox-check` for details; confine='auto' runs "
                "workers with the layers the kernel offers."
            )
        if missing and self.options.confine == "auto" and not self._warned:
            self._warned = True
            logger.warning(
                "hookyard process isolation: kernel confinement incomplete here, workers "
                "run without %s (scripts stay under RestrictedPython, budgets and rlimits; "
                "confine='require' refuses to start, confine='off' silences this)",
                "; ".join(f"{layer.name}: {layer.detail}" for layer in missing),
            )
        return worker

    def _broken(self, slot: _Slot, worker: Worker, detail: str) -> Gone:
        self._drop(slot, worker, kill=True, why=f"stopped: it broke the protocol ({detail})")
        return Gone(f"broke the protocol ({detail}) and was replaced")

    def _drop(self, slot: _Slot, worker: Worker, *, kill: bool, why: str = "") -> None:
        worker.stop(kill=kill)
        if slot.worker is not worker:
            return
        slot.worker = None
        scripts = ", ".join(sorted(Path(s.path).name for s in slot.specs.values())) or "none"
        if why.startswith("retired"):
            logger.info(
                "hookyard worker %d %s; its scripts load again in a fresh one", worker.pid, why
            )
        else:
            logger.warning(
                "hookyard worker %d %s; a fresh worker serves its scripts (%s), whose state "
                "starts empty",
                worker.pid,
                why or "ended",
                scripts,
            )

    # -- ending -------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop every worker. A later call starts one again on demand (state empty)."""
        self._closed = True
        with self._spare_lock:
            spares = list(self._spare)
            self._spare.clear()
        for worker in spares:
            worker.stop(kill=False)
        for slot in self._slots:
            if _local.depth == 0 and slot.lock.acquire(timeout=self._deadline):
                try:
                    if slot.worker is not None:
                        slot.worker.stop(kill=False)
                        slot.worker = None
                finally:
                    slot.lock.release()
            elif slot.worker is not None:
                slot.worker.kill()  # in use: its holder sees it end and cleans up

    def pids(self) -> list[int]:
        """Process ids of the running workers (slots first, then the spare)."""
        workers = [slot.worker for slot in self._slots] + list(self._spare)
        return [w.pid for w in workers if w is not None and not w.dead]

    def _after_fork_in_child(self) -> None:
        for slot in self._slots:
            slot.lock = threading.RLock()
            if slot.worker is not None:
                slot.worker.forget()
                slot.worker = None
        for worker in self._spare:
            worker.forget()
        self._spare.clear()
        self._spare_lock = threading.Lock()


def _kill_all(slots: list[_Slot], spare: list[Worker]) -> None:
    """At exit (or when the pool is collected): no worker outlives its host.

    SIGKILL, then reap: a worker may be stuck in C, and an exiting host must not leave
    zombies or wait on a script.
    """
    workers = [w for w in [slot.worker for slot in slots] + spare if w is not None]
    for worker in workers:
        worker.kill()
    for worker in workers:
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            worker.proc.wait(timeout=2.0)


def _forget_workers_in_child() -> None:
    for pool in list(_POOLS):
        pool._after_fork_in_child()


os.register_at_fork(after_in_child=_forget_workers_in_child)


# A level no one logs at, asked of a script's logger once its threshold is worked out: its
# answer sits in the logger's cache until logging clears that cache, which it does for
# every logger whenever any level (or logging.disable) changes.
_MARK = 1


def _threshold(spec: _Spec) -> int:
    """The lowest level the script's logger would emit now (the worker drops the rest).

    Worked out again only after logging cleared its caches: the effective level walks
    the logger hierarchy, and this runs on every call.
    """
    log = spec.logger
    if log.disabled:
        if spec.threshold != logging.CRITICAL + 1:
            spec.threshold = logging.CRITICAL + 1
            spec.packed = _packb(spec.threshold)
        return spec.threshold
    cache = getattr(log, "_cache", None)
    if cache is not None and _MARK in cache:
        return spec.threshold
    log.isEnabledFor(_MARK)  # first: a change from here on clears it again
    threshold = max(log.getEffectiveLevel(), log.manager.disable + 1)
    if threshold != spec.threshold:
        spec.threshold = threshold
        spec.packed = _packb(threshold)
    return threshold


_NO_CACHE: dict[int, bool] = {}
_ANSWERS = frozenset({"ok", "fail"})  # the kinds that end a conversation with a worker
_monotonic = time.monotonic


def _call_head(key: int, phase: str, metered: bool) -> bytes:
    """The packed start of a ``["call", key, phase, threshold, arguments]`` request
    (``"run"`` instead of ``"call"`` where the answer need not count operations)."""
    kind = _packb("call" if metered else "run")
    return b"\x95" + kind + _packb(key) + _packb(phase)  # 0x95: an array of five


def sandbox_check(options: ProcessIsolation | None = None) -> list[Layer]:
    """Start one worker that proves each confinement layer; its layers, in order.

    The worker makes forbidden calls from its own unrestricted code as it applies each
    layer (open a file, connect to a port this process listens on, raise a hard limit,
    create a socket, fork, exec, signal this process) and reports what happened.
    """
    options = options or ProcessIsolation(spare=False, confine="auto")
    if options.confine == "off":
        options = ProcessIsolation(
            **{f.name: getattr(options, f.name) for f in fields(options)} | {"confine": "auto"}
        )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        pool = WorkerPool(options, api={}, modules=(), limits=Limits(), selftest=port)
        try:
            worker = Worker(pool)
            try:
                reply = worker.receive(time.monotonic() + options.startup)
            except (Timeout, Gone, ProtocolError) as exc:
                raise HookError(f"sandbox-check: the worker did not start ({exc!r})") from None
            finally:
                worker.stop(kill=True)
        finally:
            pool.close()
    if reply[0] != "ready" or len(reply) != 4:
        raise HookError("sandbox-check: the worker did not start properly")
    return _layers(reply[2])


def _converted(spec: _Spec, phase: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Arguments with host conveniences (dataclasses, enums, subclasses of plain types)
    made plain, as ``_copy`` does for in-process scripts, then encoded."""
    try:
        plain_args, plain_kwargs = arguments_to_script(args, kwargs)
        return encode_call(plain_args, plain_kwargs, exceptions=phase == "error")
    except BoundaryError as exc:
        raise _not_run(spec, phase, exc) from None


def _not_run(spec: _Spec, phase: str, exc: BoundaryError) -> NotRun:
    message = f"{spec.path}: {phase}: not run: {exc}"
    return NotRun("error", message, BoundaryError(message))


def _failure(spec: _Spec, phase: str, gone: Gone) -> ScriptFailure:
    if gone.limit:
        message = f"{spec.path}: {phase}: LimitExceeded: {gone.detail}"
        return ScriptFailure("limit", message, LimitExceeded(message, limit=gone.limit))
    message = f"{spec.path}: {phase}: the worker {gone.detail} (its scripts' state is reset)"
    return ScriptFailure("error", message, RuntimeError(message))


_KINDS = frozenset({"error", "limit", "veto"})


def _remote_failure(reply: list[Any]) -> ScriptFailure:
    """The worker's ScriptFailure, rebuilt from plain strings."""
    _, kind, message, name, base, text, reason, limit = reply
    if (
        kind not in _KINDS
        or type(message) is not str
        or type(reason) is not str
        or type(limit) is not str
    ):
        raise ProtocolError("a failure is [kind, message, type, base, text, reason, limit]")
    message = message[:_TEXT_LIMIT]
    if kind == "limit":
        return ScriptFailure(kind, message, LimitExceeded(message, limit=limit[:20]))
    return ScriptFailure(kind, message, rebuild_described(name, base, text), reason[:_TEXT_LIMIT])


def _shape(reported: Any) -> _Shape:
    """A hook function's (line, parameters) as a worker reported them; unknown parts
    None (a worker's word is checked like any of its answers)."""
    if type(reported) is not list or len(reported) != 2:
        return None, None
    line, parameters = reported
    return (line if type(line) is int else None), valid_parameters(parameters)


def _stand_in(type_name: Any, name: Any) -> object:
    """What a post returned that is not plain data, as a host object nothing can use.

    The engine refuses it where it would replace the result, with the very message an
    in-process refusal gives ("a function (<lambda>) cannot cross..."): ``_copy``
    describes an object by its class name and, for functions and the like, ``__name__``.
    On a point that keeps its result, it is ignored as in-process.
    """
    if type(type_name) is not str or not type_name.isidentifier() or len(type_name) > 100:
        type_name = "object"
    namespace: dict[str, Any] = {"__slots__": ()}
    if type(name) is str:
        namespace["__name__"] = name[:200]
    return type(type_name, (), namespace)()
