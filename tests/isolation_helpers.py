"""Stand-ins for a sandbox escape, offered to scripts in the isolation tests only.

A test engine lists this module in ``modules=``, so a script in a *worker process* can
call real process-level functions here: exactly what hostile code could do after escaping
RestrictedPython. Never importable by scripts in-process in those tests (inline engines
there do not list it).
"""

from __future__ import annotations

import fcntl
import os
import signal
import stat

# Offered to scripts on purpose (a host module declaring its facade: see hookyard._modules)
__hookyard_facade__ = (
    "segfault",
    "exit_now",
    "oom_kill",
    "collide",
    "pid",
    "send_message",
    "try_fork",
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
    from hookyard._wire import frame

    data = frame(list(message))
    for fd in range(3, 16):
        try:
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        except OSError:
            continue
        if flags & os.O_ACCMODE == os.O_WRONLY and stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.write(fd, data)
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
