"""Stand-ins for a sandbox escape, offered to scripts in the isolation tests only.

A test engine lists this module in ``modules=``, so a script in a *worker process* can
call real process-level functions here: exactly what hostile code could do after escaping
RestrictedPython. Never importable by scripts in-process in those tests (inline engines
there do not list it).
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import socket

# Offered to scripts on purpose (a host module declaring its facade: see hookyard._modules)
__hookyard_facade__ = (
    "segfault",
    "exit_now",
    "oom_kill",
    "collide",
    "spin",
    "pid",
    "send_message",
    "send_frame",
    "try_fork",
    "attempt",
)


def segfault() -> None:
    """Die of SIGSEGV, as a C-level crash would."""
    os.kill(os.getpid(), signal.SIGSEGV)


def exit_now() -> None:
    """Leave the process at once, as ``os._exit`` reached by an escape would."""
    os._exit(3)


def oom_kill() -> None:
    """Die of SIGKILL, as the kernel's OOM killer would."""
    os.kill(os.getpid(), signal.SIGKILL)


def spin() -> None:
    """Hold the GIL for hours in one C call: ``sum`` over a range adds in C and never
    reaches the interpreter's eval loop, so no other Python thread of the process runs."""
    sum(range(1 << 62))


def collide(n: int) -> None:
    """Spend minutes in one C call: ``dict.fromkeys`` of ``n`` keys that share one hash
    (ints hash to themselves modulo 2**61 - 1), n**2 / 2 comparisons. Scripts' own
    ``dict.fromkeys`` refuses such input; this stands for any long C call the in-process
    checks miss."""
    dict.fromkeys([i * ((1 << 61) - 1) for i in range(1, n)])


def pid() -> int:
    """The worker's process id."""
    return os.getpid()


def send_message(message: list[object], then_exit: bool = True) -> None:
    """Send ``message`` on the worker's channel to the host (a compromised worker lying)."""
    from hookyard._wire_encode import frame

    send_frame(frame(list(message)), then_exit)


def send_frame(data: bytes, then_exit: bool = True) -> None:
    """Write ``data`` as it is to the host's end of the channel (a forged frame).

    The channel's write end is the first fd past 0-2 that takes a write: the others are
    its read end and /proc/self/statm, both read-only (fcntl and fstat are refused under
    the seccomp filter, so this cannot ask).
    """
    for fd in range(3, 16):
        try:
            os.write(fd, data)
        except OSError:
            continue
        break
    if then_exit:
        os._exit(0)


def try_fork() -> str:
    """What happens when a worker tries to start a process."""
    try:
        child = os.fork()
    except OSError as exc:
        return f"refused: {exc.strerror}"
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)
    return "forked"


_libc = ctypes.CDLL(None, use_errno=True)
_PTRACE_SEIZE = 0x4206
_PTRACE_DETACH = 17


def _ptrace_host() -> None:
    # SEIZE, not ATTACH: were it allowed, the host would not be stopped (then detach)
    if _libc.ptrace(_PTRACE_SEIZE, os.getppid(), None, None) != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))
    _libc.ptrace(_PTRACE_DETACH, os.getppid(), None, None)


def _fork() -> None:
    child = os.fork()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)


def _connect(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(5.0)
        sock.connect(("127.0.0.1", port))


def attempt(what: str, port: int = 0) -> str:
    """Make one forbidden call from unrestricted code, as an escaped script could:
    "refused: ERRNO" or "done"."""
    calls = {
        "open": lambda: os.close(os.open(os.__file__, os.O_RDONLY)),
        "write": lambda: os.close(os.open("/tmp/hookyard-escape", os.O_WRONLY | os.O_CREAT)),
        "socket": lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close(),
        "connect": lambda: _connect(port),
        "fork": _fork,
        "exec": lambda: os.execv("/bin/true", ["true"]),
        "signal host": lambda: os.kill(os.getppid(), 0),
        "ptrace host": _ptrace_host,
        "raise a hard limit": lambda: resource.setrlimit(
            resource.RLIMIT_NOFILE, (16, resource.RLIM_INFINITY)
        ),
    }
    try:
        calls[what]()
    except OSError as exc:
        return f"refused: {errno.errorcode.get(exc.errno or 0, exc.errno)}"
    except ValueError:  # how the resource module reports EPERM
        return "refused: EPERM"
    return "done"
