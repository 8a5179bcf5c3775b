"""A worker process: loads scripts and runs their hook functions for the host.

Started by ``_isolation`` as ``python -I -S -B -c BOOT <sys.path as JSON>`` with an empty
environment, ``/`` as its working directory, in a session of its own, with only its
channel open (stdin/stdout pipes; stderr carries start-up errors). It then:

1. moves the channel off fds 0/1 (so a stray write to ``sys.stdout`` cannot corrupt it),
2. reads its ``init`` message and, unless confinement is off, enters a user and network
   namespace of its own while it still has one thread (``_confine``),
3. builds the same ``SandboxPolicy`` the host would (the same guarded builtins, module
   facades and budgets: defence in depth, RestrictedPython still compiles every script),
   with ``api`` functions that forward to the host; every allowed module is imported now,
4. locks itself down (``lock_down``): every other fd closed, what would be loaded from
   disk later loaded now, Landlock, its two threads started (the budget monitor and the
   host watch), rlimits never above the ones it inherited, stderr to /dev/null, and the
   seccomp filter last; then says ``ready`` with what it could apply, and serves.

It runs requests one at a time, on one thread (plus the budget monitor and the host
watch, which ends the worker when its host is gone). While a hook function waits for an
``api`` answer it also serves requests nested inside that api call (an api function that
calls another hooked function), exactly as in-process calls nest. The worker trusts the
host; everything it sends back is parsed by the host as plain data.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import math
import os
import resource
import select
import signal
import socket
import threading
import time
from typing import Any

from . import _budget, _confine
from ._budget import Limits
from ._budget import _local as _thread_state
from ._hookpoint import ScriptFailure, call_script
from ._loader import HOOK_NAMES, LoadedScript, LoadFailure, load_source
from ._modules import facade_factories
from ._sandbox import SandboxPolicy
from ._shadow import no_side_effects
from ._signature import first_line, parameters_of
from ._wire import (
    ProtocolError,
    Unsendable,
    describe_exception,
    frame_length,
    parse,
    rebuild_described,
)
from ._wire_encode import encode, encode_call, frame
from .errors import BoundaryError

__all__ = ["main"]

_monotonic = time.monotonic
_read = os.read

_OPEN_FILES = 16  # RLIMIT_NOFILE: the channel plus what a lazy stdlib import may need
_HOST_CHECK = 1.0  # seconds between the host watch's getppid() checks


class _Channel:
    """Blocking frames over two fds (the host enforces every deadline)."""

    __slots__ = ("buffer", "rfd", "wfd")

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd = rfd
        self.wfd = wfd
        self.buffer = bytearray()

    def send(self, message: list[Any]) -> None:
        self.send_frame(frame(message))

    def send_frame(self, data: bytes) -> None:
        written = os.write(self.wfd, data)
        if written < len(data):
            view = memoryview(data)[written:]
            while view:
                view = view[os.write(self.wfd, view) :]

    def receive(self) -> list[Any]:
        if not self.buffer:
            # the usual case (every call): one read, one whole message
            chunk = _read(self.rfd, 1 << 16)
            if int.from_bytes(chunk[:4], "big") == len(chunk) - 4:
                return parse(memoryview(chunk)[4:], exceptions=True)
            if not chunk:
                os._exit(0)  # the host closed the channel: nothing left to do
            self.buffer += chunk
        return self._receive()

    def _receive(self) -> list[Any]:
        buffer = self.buffer
        while True:
            have = len(buffer)
            if have >= 4:
                size = frame_length(buffer)
                if have >= 4 + size:
                    payload = bytes(buffer[4 : 4 + size])
                    del buffer[: 4 + size]
                    return parse(payload, exceptions=True)
                want = 4 + size - have
            else:
                want = 4 - have
            chunk = os.read(self.rfd, min(max(want, 1 << 16), 1 << 22))
            if not chunk:
                os._exit(0)  # the host closed the channel: nothing left to do
            if not buffer and int.from_bytes(chunk[:4], "big") == len(chunk) - 4:
                return parse(memoryview(chunk)[4:], exceptions=True)  # one whole message
            buffer += chunk


class _Hook:
    """One hook function of a loaded script, as calls find it (made once, at load).

    Stands in for the function in ``call_script`` to read the budget operations the call
    used (for the host's audit trail), as ``_hookpoint._Meter`` does in process; a
    budget-free function (``_loader.budget_free``) is called as itself, unbudgeted as in
    process, and used none.
    """

    __slots__ = ("free", "function", "logger", "operations", "phase", "script")

    def __init__(self, script: LoadedScript, phase: str, logger: _ForwardLogger) -> None:
        self.script = script
        self.phase = phase
        self.logger = logger
        self.function = getattr(script, phase)
        self.free = self.function in script.free
        self.operations: int | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.function(*args, **kwargs)
        finally:
            # the last word on a nested call of the same hook is the outer call's own
            self.operations = _thread_state.budget.used()


class _Counts:
    """Stands in for the engine's per-file record: the host keeps the real counters."""

    __slots__ = ("calls", "streak")

    def __init__(self) -> None:
        self.calls = 0
        self.streak = 0


class _ForwardLogger(logging.Logger):
    """A script's logger: finished lines go to the host, which logs them on its own tree.

    Not registered with ``logging``'s manager; its threshold is the host logger's
    effective level, sent with every request, so lines nobody listens to never travel.
    """

    def __init__(self, name: str, key: int, channel: _Channel) -> None:
        super().__init__(name)
        self.key = key
        self.channel = channel
        self.threshold = logging.WARNING

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name
        return level >= self.threshold

    def handle(self, record: logging.LogRecord) -> None:
        self.channel.send(["log", self.key, record.levelno, record.getMessage()])


class _Server:
    def __init__(self, channel: _Channel, init: dict[str, Any]) -> None:
        self.channel = channel
        limits = Limits(**init["limits"])
        self.policy = SandboxPolicy(
            api={name: self._forwarder(name) for name in init["api"]},
            module_factories=facade_factories(init["modules"]),
            limits=limits,
            # shadow scripts' calls all go to the host, marked: it knows which functions
            # have no side effects (DESIGN.md "Safe rollout")
            shadow_api={
                name: no_side_effects(self._forwarder(name, shadow=True)) for name in init["api"]
            },
        )
        self.scripts: dict[int, LoadedScript] = {}
        self.loggers: dict[int, _ForwardLogger] = {}
        self.hooks: dict[tuple[int, str], _Hook] = {}  # (key, phase): what a call runs
        self.depth = 0  # requests in progress (more than one when nested in an api call)
        self.max_message = int(init["max_message"])
        self.memory = int(init["memory"])
        self.confine = str(init["confine"])
        # CPU seconds one request may need (its budget plus the host's grace), and the
        # hard cap for the worker's life; see _arm_cpu.
        self.cpu_floor = int(init["cpu_floor"])
        self.cpu_hard = math.ceil(time.process_time()) + int(init["cpu_lifetime"])
        self.cpu_soft = 0
        # the monotonic time until which the armed CPU window needs no look (see _arm_cpu)
        self.cpu_checked_until = 0.0
        self.parent = os.getppid()

    # -- set-up -----------------------------------------------------------------------------
    def lock_down(self, report: _confine.Report, proofs: _Proofs | None) -> dict[str, int]:
        """Drop what the worker does not need before any script runs.

        Fills ``report`` with the confinement layers it applied (or why not); returns the
        limits in force. The order matters: see the module docstring and ``_confine``.
        """
        # subprocess already closed every inherited fd but 0-2; close anything opened since
        low, high = sorted((self.channel.rfd, self.channel.wfd))
        os.closerange(3, low)
        os.closerange(low + 1, high)
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        os.closerange(high + 1, soft if 0 < soft < 1 << 20 else 1 << 20)
        # the memory watchdog's /proc/self/statm, libgcc_s, codecs, lazy imports: now
        _confine.prepare([_budget._resident_size])
        confined = self.confine != "off"
        if confined:
            if proofs is not None:
                proofs.before_landlock()
            layers, _ = _confine.apply_landlock()
            report.update(layers)
            if proofs is not None:
                proofs.after_landlock()
        # The threads, after Landlock (its domain covers threads started later) and before
        # RLIMIT_NPROC forbids new ones.
        _budget.wake_monitor()
        threading.Thread(target=self._watch_host, name="hookyard-host", daemon=True).start()
        limits = self._limit()
        _die_with_host()
        os.dup2(0, 2)  # stderr carried start-up errors to the host; from here on, /dev/null
        if confined:
            report["seccomp"] = list(_confine.apply_seccomp())
            if proofs is not None:
                proofs.after_seccomp()
        return limits

    def _limit(self) -> dict[str, int]:
        """Set the worker's rlimits, never above the hard limits it inherited (issue 13)."""
        lower = _lower
        lower(resource.RLIMIT_CORE, 0)  # a crash leaves no core file behind
        lower(resource.RLIMIT_FSIZE, 0)  # no file writes (Python ignores SIGXFSZ: EFBIG)
        lower(resource.RLIMIT_NOFILE, _OPEN_FILES)
        # No new processes or threads. Not enforced for root (or CAP_SYS_RESOURCE): run
        # the host, or the workers (ProcessIsolation.user), as an unprivileged user; the
        # seccomp filter refuses them anyway where the kernel has it.
        lower(resource.RLIMIT_NPROC, 0)
        memory = lower(resource.RLIMIT_AS, self.memory) if self.memory else 0
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        if hard != resource.RLIM_INFINITY:
            self.cpu_hard = min(self.cpu_hard, hard)
        self._arm_cpu()
        return {"memory": memory, "cpu": self.cpu_hard}

    def _arm_cpu(self) -> bool:
        """Give the coming request its CPU window; False when the worker must retire.

        RLIMIT_CPU counts the whole life of the process, so the soft limit is moved up
        before a request whenever less than ``cpu_floor`` seconds are left under it: no
        request can use more than ``2 * cpu_floor`` CPU seconds (SIGXCPU ends the worker).
        The hard limit never moves (a process cannot raise it again); a worker near it
        retires and the host starts a fresh one.

        Reading the process's CPU time costs a system call, so it is read only once the
        wall clock says it may matter: the worker's three threads cannot use more than
        three CPU seconds per second, so for ``cpu_floor / 3`` seconds after a look at
        least ``cpu_floor`` are still left under the soft limit.
        """
        now = time.monotonic()
        if now < self.cpu_checked_until:
            return True
        used = time.process_time()
        left = self.cpu_soft - used
        if left < self.cpu_floor:
            soft = math.ceil(used) + 2 * self.cpu_floor
            if soft > self.cpu_hard:
                if self.depth == 0:
                    return False
                soft = self.cpu_hard  # nested inside a request: never retire half-way
            resource.setrlimit(resource.RLIMIT_CPU, (soft, self.cpu_hard))
            self.cpu_soft = soft
            left = soft - used
        self.cpu_checked_until = now + max(left - self.cpu_floor, 0) / 3
        return True

    def _watch_host(self) -> None:
        """End the worker once its host is gone, even while a script runs (issue 13).

        The host holds the write end of the worker's request pipe, so the kernel reports a
        hang-up on the read end the moment the host exits, however it died; a changed
        parent (the worker was re-parented) is the backstop.
        """
        poller = select.poll()
        poller.register(self.channel.rfd, 0)  # POLLHUP and POLLERR are always reported
        while True:
            if poller.poll(_HOST_CHECK * 1000) or os.getppid() != self.parent:
                os._exit(0)

    # -- serving ----------------------------------------------------------------------------
    def serve(self, report: _confine.Report, limits: dict[str, int]) -> None:
        self.channel.send(["ready", os.getpid(), report, limits])
        receive = self.channel.receive
        call = self._call
        dispatch = self.dispatch
        while True:
            message = receive()
            if message[0] in _CALLS:
                call(message)
            else:
                dispatch(message)

    def dispatch(self, message: list[Any]) -> None:
        kind = message[0]
        if kind in _CALLS:
            self._call(message)
        elif kind == "load":
            self._load(message)
        elif kind == "unload":
            for key in message[1]:
                self.scripts.pop(key, None)
                self.loggers.pop(key, None)
                for name in HOOK_NAMES:
                    self.hooks.pop((key, name), None)
        elif kind == "exit":
            os._exit(0)
        else:
            raise ProtocolError(f"unknown request {kind!r}")

    def _call(self, message: list[Any]) -> None:
        """A "call" request (a "run" needs no count of the operations used: the budgeted
        function is called without the meter, and the answer says null)."""
        kind, key, phase, level, arguments = message
        if _monotonic() >= self.cpu_checked_until and not self._arm_cpu():
            self.channel.send(["retire"])
            os._exit(0)
        hook = self.hooks.get((key, phase))
        if hook is None:
            reply: list[Any] = [
                "fail",
                "error",
                f"worker has no {phase} hook for script {key}",
                "RuntimeError",
                "RuntimeError",
                "not loaded",
                "",
                None,
            ]
            self.channel.send(reply)
            return
        hook.logger.threshold = level
        args, kwargs = arguments
        script = hook.script
        self.depth += 1
        try:
            if hook.free:
                ops: int | None = 0
                value = call_script(script, hook.function, phase, args, kwargs)
            elif kind == "run":
                ops = None
                value = call_script(script, hook.function, phase, args, kwargs)
            else:
                ops = hook.operations = None
                value = call_script(script, hook, phase, args, kwargs)
                ops = hook.operations
        except ScriptFailure as failure:
            reply = [
                "fail",
                failure.kind,
                failure.message,
                *describe_exception(failure.cause),
                failure.reason,
                getattr(failure.cause, "limit", ""),
                0 if hook.free else None if kind == "run" else hook.operations,
            ]
        else:
            if value is None or phase != "post":
                # only a post's return value can matter to the host
                data = _OK_NONE if ops is None else _OK[ops] if ops < _OK_CACHED else _ok(ops)
            else:
                data = self._result(script, phase, value, ops)
            self.channel.send_frame(data)
            return
        finally:
            self.depth -= 1
        self.channel.send(reply)

    def _result(self, script: LoadedScript, phase: str, value: Any, ops: int | None) -> bytes:
        """The reply to a post that returned ``value``; ``ops`` ends every reply."""
        try:
            data = frame(["ok", encode(value), ops])
        except Unsendable as exc:
            return frame(["unsendable", exc.type_name, exc.name, ops])
        except BoundaryError as exc:
            message = f"{script.path}: {phase}: returned a value that cannot cross: {exc}"
            return frame(
                ["fail", "error", message, "BoundaryError", "TypeError", message, "", "", ops]
            )
        if len(data) > self.max_message:
            detail = f"size limit exceeded: the returned value is over {self.max_message:,} bytes"
            message = f"{script.path}: {phase}: LimitExceeded: {detail}"
            return frame(
                ["fail", "limit", message, "LimitExceeded", "Exception", message, "", "size", ops]
            )
        return data

    def _load(self, message: list[Any]) -> None:
        _, key, path, point, source, version, level = message
        if not self._arm_cpu():
            self.channel.send(["retire"])
            os._exit(0)
        logger = _ForwardLogger(f"hookyard.script.{point}.{_stem(path)}", key, self.channel)
        logger.threshold = level
        self.depth += 1
        try:
            result = load_source(
                source, version, path=path, point=point, policy=self.policy, logger=logger
            )
        finally:
            self.depth -= 1
        if isinstance(result, LoadFailure):
            self.channel.send(["failed", result.line, result.message])
            return
        result.record = _Counts()
        self.scripts[key] = result
        self.loggers[key] = logger
        hooks = [name for name in HOOK_NAMES if getattr(result, name)]
        for name in hooks:
            self.hooks[(key, name)] = _Hook(result, name, logger)
        # each hook function's line and parameters, for the host's signature check
        # (_signature: read from the code object, as the host would in process)
        shapes = [
            [first_line(getattr(result, name)), parameters_of(getattr(result, name))]
            for name in hooks
        ]
        self.channel.send(["loaded", hooks, shapes])

    # -- api ----------------------------------------------------------------------------------
    def _forwarder(self, name: str, *, shadow: bool = False) -> Any:
        channel = self.channel
        request = ["api", name, None, True] if shadow else ["api", name, None]

        def forward(*args: Any, **kwargs: Any) -> Any:
            # _sandbox's api wrapper has already copied the arguments to plain data and
            # will copy the answer again; this only carries them.
            request[2] = encode_call(args, kwargs)
            channel.send(request)
            while True:
                message = channel.receive()
                kind = message[0]
                if kind == "ret":
                    return message[1]
                if kind == "err":
                    raise rebuild_described(message[1], message[2], message[3])
                if kind == "refused":
                    raise TypeError(
                        f"api.{name} returned a value scripts cannot hold: {message[1]}"
                    )
                self.dispatch(message)  # the host's api function called a hooked function

        forward.__name__ = name
        return forward


def _ok(ops: int | None) -> bytes:
    """The reply to a call that returned nothing the host needs: ["ok", None, ops]."""
    return frame(["ok", None, ops])


_OK_CACHED = 4096
_OK = [_ok(ops) for ops in range(_OK_CACHED)]  # the usual replies, framed once
_OK_NONE = _ok(None)
_CALLS = frozenset({"call", "run"})  # requests to run a hook function


def _lower(which: int, wanted: int) -> int:
    """Set rlimit ``which`` to ``wanted``, or to the inherited hard limit if that is lower.

    A process may lower its hard limits but never raise them (issue 13: a host started
    under ``ulimit -v`` or systemd's ``LimitAS=`` made every worker fail to start).
    """
    hard = resource.getrlimit(which)[1]
    if hard != resource.RLIM_INFINITY and wanted > hard:
        wanted = hard
    resource.setrlimit(which, (wanted, wanted))
    return wanted


def _stem(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name[:-3] if name.endswith(".py") else name


class _Proofs:
    """``hookyard sandbox-check``: forbidden calls from this (unrestricted) worker code.

    Each layer is proved by calls that it alone refuses, made right after it is applied
    (and, where that shows something, right before): the host compares the outcomes.
    Every entry is [what was tried, what happened, refused?].
    """

    def __init__(self, options: dict[str, Any]) -> None:
        self.port = int(options["port"])  # the host listens on 127.0.0.1:port
        self.file = str(options["file"])  # a file the worker could read unconfined
        self.proofs: dict[str, list[list[Any]]] = {}

    def _record(self, layer: str, what: str, attempt: Any) -> None:
        try:
            outcome = attempt()
        except OSError as exc:
            name = errno.errorcode.get(exc.errno or 0, "?")
            self.proofs.setdefault(layer, []).append([what, f"{exc.strerror} ({name})", True])
        else:
            self.proofs.setdefault(layer, []).append([what, str(outcome), False])

    def _connect(self) -> str:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(5.0)
            sock.connect(("127.0.0.1", self.port))
        return "connected"

    def _open(self) -> str:
        os.close(os.open(self.file, os.O_RDONLY))
        return "opened"

    def after_namespaces(self) -> None:
        def raise_hard() -> str:
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard + 1))
            except ValueError:  # how the resource module reports EPERM
                raise PermissionError(errno.EPERM, os.strerror(errno.EPERM)) from None
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            return "raised (a capability of the host's namespace)"

        self._record("namespaces", "raise the hard RLIMIT_NOFILE", raise_hard)
        self._record("namespaces", f"connect to 127.0.0.1:{self.port} (host)", self._connect)

    def before_landlock(self) -> None:
        self._record("landlock-fs", f"before: open {self.file}", self._open)

    def after_landlock(self) -> None:
        self._record("landlock-fs", f"open {self.file}", self._open)
        self._record("landlock-net", f"connect to 127.0.0.1:{self.port}", self._connect)

    def after_seccomp(self) -> None:
        def make_socket() -> str:
            socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
            return "created"

        def fork() -> str:
            child = os.fork()
            if child == 0:  # pragma: no cover - only where the filter is missing
                os._exit(0)
            os.waitpid(child, 0)
            return "forked"

        def execute() -> str:
            # a path that does not exist: the filter refuses before the kernel looks, and
            # where nothing refuses, ENOENT shows the call reached it (and the worker stays)
            os.execv("/nonexistent/hookyard-sandbox-check", ["hookyard-sandbox-check"])
            return "executed"  # pragma: no cover - execv does not return

        def signal_parent() -> str:
            os.kill(os.getppid(), 0)
            return "signalled"

        layer = "seccomp"
        self._record(layer, f"open {self.file}", self._open)
        self._record(layer, "socket(AF_INET, SOCK_STREAM)", make_socket)
        self._record(layer, "fork()", fork)
        self._record(layer, "execve(...)", execute)
        self._record(layer, "kill(host, 0)", signal_parent)


def _die_with_host() -> None:
    """Let the kernel end the worker the moment its host is gone, even while a script is
    stuck in one C call that never lets the host watch thread run (issue 13 point 3).

    The host holds the read end of the worker's stderr pipe for the worker's whole life
    and the worker writes nothing to it once up. With O_ASYNC on a copy of the write end,
    Linux's pipe_release() sends SIGIO to the writers when the last reader closes, however
    the host died; SIGIO's default action ends the process, and no script can change it
    (no signal module). Nothing else raises SIGIO on that pipe: a writer only hears of
    room made in a full pipe, and nothing is written to it.
    """
    try:
        lifeline = os.dup(2)
        fcntl.fcntl(lifeline, fcntl.F_SETOWN, os.getpid())
        fcntl.fcntl(lifeline, fcntl.F_SETFL, fcntl.fcntl(lifeline, fcntl.F_GETFL) | os.O_ASYNC)
    except OSError:  # not a pipe (a host that gave no stderr): the watch thread still ends it
        return
    signal.signal(signal.SIGIO, signal.SIG_DFL)
    if not _host_reads(lifeline):
        os._exit(0)  # the host went before O_ASYNC was set


def _host_reads(write_end: int) -> bool:
    """Whether someone still reads the pipe ``write_end`` writes to (POLLERR: nobody)."""
    poller = select.poll()
    poller.register(write_end, 0)  # POLLERR and POLLHUP are always reported
    return not poller.poll(0)


def main() -> None:
    """The worker's entry point (see the module docstring)."""
    # SIGINT from a terminal belongs to the host; the worker is in its own session anyway.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    rfd, wfd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    channel = _Channel(rfd, wfd)
    message = channel.receive()
    if message[0] != "init" or type(message[1]) is not dict:
        raise SystemExit("hookyard worker: expected an init message")
    init = message[1]
    selftest = init.get("selftest")
    proofs = _Proofs(selftest) if type(selftest) is dict else None
    report: _confine.Report = {}
    if init["confine"] != "off":
        # first, while this is the only thread (CLONE_NEWUSER refuses a threaded process)
        report["namespaces"] = list(_confine.unshare_namespaces())
        if proofs is not None:
            proofs.after_namespaces()
    server = _Server(channel, init)
    limits = server.lock_down(report, proofs)
    if proofs is not None:
        for layer, entries in proofs.proofs.items():
            report.setdefault(layer, [False, "not applied"]).append(entries)
    server.serve(report, limits)
