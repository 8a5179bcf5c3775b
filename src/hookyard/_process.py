"""The host's handle on one worker process: starting it, frames both ways, its end.

Used only by ``_isolation.WorkerPool`` (one thread at a time per worker, the one holding
its slot). Writes never block the host (the request pipe is non-blocking and a worker
that stops reading meets the deadline); reads wait in ``poll`` for an absolute deadline.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import time
from typing import TYPE_CHECKING, Any

from ._wire import ProtocolError, frame_length, parse

if TYPE_CHECKING:
    from ._isolation import WorkerPool

__all__ = ["Gone", "Retired", "Timeout", "Worker", "exit_detail"]

logger = logging.getLogger("hookyard")


class Gone(Exception):
    """The worker cannot serve any more (already stopped and reaped by whoever raises)."""

    def __init__(self, detail: str, limit: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.limit = limit  # "seconds" or "cpu" when a hard limit stopped it


class Timeout(Exception):
    """The worker did not answer in time (it is still running: kill it)."""


class Retired(Exception):
    """The worker is near its CPU lifetime and exited instead of serving the request."""


_DEVNULL = subprocess.DEVNULL
_monotonic = time.monotonic
_read = os.read
_write = os.write
_PIPE = subprocess.PIPE


class Worker:
    """The host's handle on one worker process. Used only by the thread holding its slot."""

    __slots__ = (
        "buffer",
        "dead",
        "loaded",
        "max_message",
        "pid",
        "poller",
        "proc",
        "rfd",
        "wfd",
    )

    def __init__(self, pool: WorkerPool) -> None:
        options = pool.options
        self.proc = subprocess.Popen(  # our own interpreter, fixed arguments
            pool.argv,
            stdin=_PIPE,
            stdout=_PIPE,
            stderr=_PIPE,  # startup errors only: the worker points fd 2 at /dev/null once up
            env={},  # nothing of the host's environment (secrets, proxies, PYTHON*)
            cwd="/",
            close_fds=True,
            start_new_session=True,  # no SIGINT from the host's terminal
            user=options.user,
            group=options.group,
            bufsize=0,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.pid = self.proc.pid
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        os.set_blocking(self.wfd, False)  # a worker that stops reading cannot block the host
        self.poller = select.poll()
        self.poller.register(self.rfd, select.POLLIN)
        self.buffer = bytearray()
        self.loaded: set[int] = set()
        self.max_message = options.max_message
        self.dead = False
        self.send(pool.init_frame, options.startup)

    # -- frames ---------------------------------------------------------------------------
    def send(self, data: bytes, timeout: float) -> None:
        if self.dead:
            raise Gone("was replaced while a nested call ran")
        try:
            written = _write(self.wfd, data)
        except BlockingIOError:
            written = 0
        except OSError:
            raise self._gone() from None
        if written != len(data):
            self._send_rest(data, written, timeout)

    def _send_rest(self, data: bytes, written: int, timeout: float) -> None:
        view = memoryview(data)[written:]
        end = time.monotonic() + timeout
        while view:
            left = end - time.monotonic()
            if left <= 0:
                raise Timeout
            if select.select([], [self.wfd], [], left)[1]:
                try:
                    view = view[os.write(self.wfd, view) :]
                except BlockingIOError:
                    pass
                except OSError:
                    raise self._gone() from None

    def receive(self, end: float) -> list[Any]:
        """The next message; Timeout at ``end`` (``time.monotonic()``), Gone at end of file."""
        if self.dead:
            raise Gone("was replaced while a nested call ran")
        if not self.buffer:
            # the usual case (every call's answer): one poll, one read, one whole message
            left = end - _monotonic()
            if left > 0 and self.poller.poll(left * 1000.0):
                try:
                    chunk = _read(self.rfd, 1 << 16)
                except OSError:
                    chunk = b""
                if int.from_bytes(chunk[:4], "big") == len(chunk) - 4 <= self.max_message:
                    return parse(memoryview(chunk)[4:])
                if not chunk:
                    raise self._gone()
                self.buffer += chunk
        return self._receive(end)

    def _receive(self, end: float) -> list[Any]:
        buffer = self.buffer
        while True:
            have = len(buffer)
            if have >= 4:
                size = frame_length(buffer)
                if size > self.max_message:
                    raise ProtocolError(f"a message of {size:,} bytes is over max_message")
                if have >= 4 + size:
                    payload = bytes(buffer[4 : 4 + size])
                    del buffer[: 4 + size]
                    return parse(payload)
            left = end - time.monotonic()
            if left <= 0:
                raise Timeout
            if not self.poller.poll(left * 1000.0):
                continue
            try:
                chunk = os.read(self.rfd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                raise self._gone()
            size = len(chunk) - 4
            if not buffer and int.from_bytes(chunk[:4], "big") == size <= self.max_message:
                return parse(memoryview(chunk)[4:])  # the usual case: one whole message
            buffer += chunk

    # -- ending -----------------------------------------------------------------------------
    def _gone(self) -> Gone:
        """The worker closed its end: reap it and say why it ended."""
        self.dead = True
        try:
            code = self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        detail, limit = exit_detail(code, self._stderr_tail())
        self._close_fds()
        return Gone(detail, limit)

    def _stderr_tail(self) -> str:
        stream = self.proc.stderr
        if stream is None:
            return ""
        try:
            os.set_blocking(stream.fileno(), False)
            data = stream.read(4096) or b""
        except (OSError, ValueError):
            return ""
        lines = data.decode("utf-8", "replace").strip().splitlines()
        return lines[-1][:300] if lines else ""

    def kill(self) -> None:
        """Signal only (safe from any thread); the slot's holder reaps and closes."""
        self.dead = True
        with contextlib.suppress(OSError):
            self.proc.kill()

    def stop(self, *, kill: bool) -> None:
        """End the worker and release its fds (slot holder only)."""
        self.dead = True
        if kill:
            self.kill()
        self._close_fds()  # end of file: an idle worker exits at once
        try:
            self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self.kill()
            try:
                self.proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:  # pragma: no cover - unkillable (D state)
                logger.error("hookyard worker %d does not exit", self.pid)

    def _close_fds(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def forget(self) -> None:
        """In a forked child of the host: let go of the parent's worker, touching nothing."""
        self.dead = True
        self._close_fds()


def exit_detail(code: int, stderr: str) -> tuple[str, str]:
    if code < 0:
        number = -code
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        if number == signal.SIGXCPU:
            return "CPU time limit exceeded (SIGXCPU): the worker was replaced", "cpu"
        if number == signal.SIGKILL:
            return "was killed (SIGKILL: out of memory?) and replaced", ""
        return f"crashed ({name}) and was replaced", ""
    tail = f": {stderr}" if stderr else ""
    return f"exited with status {code}{tail} and was replaced", ""
