"""A worker process: loads scripts and runs their hook functions for the host.

Started by ``_isolation`` as ``python -I -S -B -c BOOT <sys.path as JSON>`` with an empty
environment, ``/`` as its working directory, in a session of its own, with only its
channel open (stdin/stdout pipes; stderr is /dev/null). It then:

1. moves the channel off fds 0/1 (so a stray write to ``sys.stdout`` cannot corrupt it),
2. reads its ``init`` message, builds the same ``SandboxPolicy`` the host would (the same
   guarded builtins, module facades and budgets: defence in depth, RestrictedPython still
   compiles every script), with ``api`` functions that forward to the host,
3. locks itself down (``lock_down``: rlimits on address space, CPU, file size, processes,
   open files and core dumps; every other fd closed), says ``ready``, and serves.

It runs requests one at a time, on one thread (plus the budget monitor). While a hook
function waits for an ``api`` answer it also serves requests nested inside that api call
(an api function that calls another hooked function), exactly as in-process calls nest.
The worker trusts the host; everything it sends back is parsed by the host as plain data.
"""

from __future__ import annotations

import logging
import math
import os
import resource
import signal
import time
from typing import Any

from . import _budget
from ._budget import Limits
from ._hookpoint import ScriptFailure, _Meter, call_script
from ._loader import HOOK_NAMES, LoadedScript, LoadFailure, load_source
from ._modules import facade_factories
from ._sandbox import SandboxPolicy
from ._wire import (
    ProtocolError,
    Unsendable,
    decode,
    describe_exception,
    encode,
    frame,
    frame_length,
    parse,
    rebuild_described,
)
from .errors import BoundaryError

__all__ = ["main"]

_OPEN_FILES = 16  # RLIMIT_NOFILE: the channel plus what a lazy stdlib import may need


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
        view = memoryview(data)
        while view:
            view = view[os.write(self.wfd, view) :]

    def receive(self) -> list[Any]:
        buffer = self.buffer
        while True:
            if len(buffer) >= 4:
                size = frame_length(buffer)
                if len(buffer) >= 4 + size:
                    payload = bytes(buffer[4 : 4 + size])
                    del buffer[: 4 + size]
                    return parse(payload)
                want = 4 + size - len(buffer)
            else:
                want = 4 - len(buffer)
            chunk = os.read(self.rfd, min(max(want, 1 << 16), 1 << 22))
            if not chunk:
                raise SystemExit(0)  # the host closed the channel: nothing left to do
            buffer += chunk


class _Counts:
    """Stands in for the engine's per-file record: the host keeps the real counters."""

    __slots__ = ("calls", "failures")

    def __init__(self) -> None:
        self.calls = 0
        self.failures = 0


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
        )
        self.scripts: dict[int, LoadedScript] = {}
        self.loggers: dict[int, _ForwardLogger] = {}
        self.depth = 0  # requests in progress (more than one when nested in an api call)
        self.max_message = int(init["max_message"])
        self.memory = int(init["memory"])
        # CPU seconds one request may need (its budget plus the host's grace), and the
        # hard cap for the worker's life; see _arm_cpu.
        self.cpu_floor = int(init["cpu_floor"])
        self.cpu_hard = math.ceil(time.process_time()) + int(init["cpu_lifetime"])
        self.cpu_soft = 0

    # -- set-up -----------------------------------------------------------------------------
    def lock_down(self) -> None:
        """Drop what the worker does not need before any script runs."""
        # The budget monitor must exist before RLIMIT_NPROC forbids new threads.
        _budget.wake_monitor()
        # subprocess already closed every inherited fd but 0-2; close anything opened since
        low, high = sorted((self.channel.rfd, self.channel.wfd))
        os.closerange(3, low)
        os.closerange(low + 1, high)
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        os.closerange(high + 1, soft if 0 < soft < 1 << 20 else 1 << 20)
        limit = resource.setrlimit
        limit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file behind
        limit(resource.RLIMIT_FSIZE, (0, 0))  # no file writes (Python ignores SIGXFSZ: EFBIG)
        limit(resource.RLIMIT_NOFILE, (_OPEN_FILES, _OPEN_FILES))
        # No new processes or threads. Not enforced for root (or CAP_SYS_RESOURCE): run
        # the host, or the workers (ProcessIsolation.user), as an unprivileged user.
        limit(resource.RLIMIT_NPROC, (0, 0))
        if self.memory:
            limit(resource.RLIMIT_AS, (self.memory, self.memory))
        self._arm_cpu()

    def _arm_cpu(self) -> bool:
        """Give the coming request its CPU window; False when the worker must retire.

        RLIMIT_CPU counts the whole life of the process, so the soft limit is moved up
        before a request whenever less than ``cpu_floor`` seconds are left under it: no
        request can use more than ``2 * cpu_floor`` CPU seconds (SIGXCPU ends the worker).
        The hard limit never moves (a process cannot raise it again); a worker near it
        retires and the host starts a fresh one.
        """
        used = time.process_time()
        if self.cpu_soft - used >= self.cpu_floor:
            return True
        soft = math.ceil(used) + 2 * self.cpu_floor
        if soft > self.cpu_hard:
            if self.depth == 0:
                return False
            soft = self.cpu_hard  # nested inside a request: never retire half-way
        resource.setrlimit(resource.RLIMIT_CPU, (soft, self.cpu_hard))
        self.cpu_soft = soft
        return True

    # -- serving ----------------------------------------------------------------------------
    def serve(self) -> None:
        self.channel.send(["ready", os.getpid()])
        while True:
            self.dispatch(self.channel.receive())

    def dispatch(self, message: list[Any]) -> None:
        kind = message[0]
        if kind == "call":
            self._call(message)
        elif kind == "load":
            self._load(message)
        elif kind == "unload":
            for key in message[1]:
                self.scripts.pop(key, None)
                self.loggers.pop(key, None)
        elif kind == "exit":
            raise SystemExit(0)
        else:
            raise ProtocolError(f"unknown request {kind!r}")

    def _call(self, message: list[Any]) -> None:
        _, key, phase, args, kwargs, level = message
        if not self._arm_cpu():
            self.channel.send(["retire"])
            raise SystemExit(0)
        script = self.scripts.get(key)
        function = getattr(script, phase, None) if phase in HOOK_NAMES else None
        if script is None or function is None:
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
        self.loggers[key].threshold = level
        arguments = decode(args, exceptions=True)
        keywords = decode(kwargs)
        # the meter counts the budget operations the call used, for the host's audit trail
        meter = _Meter(function)
        self.depth += 1
        try:
            value = call_script(script, meter, phase, arguments, keywords)
        except ScriptFailure as failure:
            reply = [
                "fail",
                failure.kind,
                failure.message,
                *describe_exception(failure.cause),
                failure.reason,
                getattr(failure.cause, "limit", ""),
                meter.operations,
            ]
        else:
            self.channel.send_frame(self._result(script, phase, value, meter.operations))
            return
        finally:
            self.depth -= 1
        self.channel.send(reply)

    def _result(self, script: LoadedScript, phase: str, value: Any, ops: int | None) -> bytes:
        """The reply to a call that returned ``value``; ``ops`` ends every reply."""
        if phase != "post" or value is None:
            return frame(["ok", None, ops])  # only a post's return value can matter to the host
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
            raise SystemExit(0)
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
        self.channel.send(["loaded", [name for name in HOOK_NAMES if getattr(result, name)]])

    # -- api ----------------------------------------------------------------------------------
    def _forwarder(self, name: str) -> Any:
        channel = self.channel

        def forward(*args: Any, **kwargs: Any) -> Any:
            # _sandbox's api wrapper has already copied the arguments to plain data and
            # will copy the answer again; this only carries them.
            channel.send(["api", name, encode(args), encode(kwargs)])
            while True:
                message = channel.receive()
                kind = message[0]
                if kind == "ret":
                    return decode(message[1])
                if kind == "err":
                    raise rebuild_described(message[1], message[2], message[3])
                if kind == "refused":
                    raise TypeError(
                        f"api.{name} returned a value scripts cannot hold: {message[1]}"
                    )
                self.dispatch(message)  # the host's api function called a hooked function

        forward.__name__ = name
        return forward


def _stem(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name[:-3] if name.endswith(".py") else name


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
    server = _Server(channel, message[1])
    server.lock_down()
    os.dup2(0, 2)  # stderr carried startup errors to the host; from here on, /dev/null
    server.serve()
