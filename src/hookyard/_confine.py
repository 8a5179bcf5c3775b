"""Kernel confinement of a worker process (Linux): namespaces, Landlock, seccomp-bpf.

A script that escapes RestrictedPython inside a worker is still a Python program in a
process the host started: without this it could read any file the host can, open
sockets, fork, and ``ptrace`` its parent (issue 13: a root worker's ``PTRACE_ATTACH``
froze the host). So each worker confines itself with what the kernel offers, in this
order (each step needs the one before it, see ``_worker.main``):

1. **namespaces** — ``unshare(CLONE_NEWUSER | CLONE_NEWNET)`` first thing, while the
   worker has one thread (``CLONE_NEWUSER`` fails with EINVAL once a second one runs):
   no capability in the host's namespaces (a root worker cannot raise its rlimits or
   override file permissions), and a network namespace with only a loopback that is down.
2. **Landlock** — a ruleset that handles every file-system access right the kernel knows
   and grants none, TCP bind/connect (ABI >= 4) likewise, and scopes abstract unix
   sockets and signals to the worker itself (ABI >= 6). Applied before any thread starts
   (a Landlock domain covers the calling thread and threads it starts later).
3. **seccomp-bpf** — an allow-list of the system calls a serving worker makes (measured
   with strace over the whole process-mode test suite on CPython 3.11-3.13); anything
   else fails with EPERM (not a kill: one refused call must not reset every other
   script's state in that worker); another architecture's calling convention kills;
   ``SECCOMP_FILTER_FLAG_TSYNC`` puts every thread under it. Applied last.

Raw system calls through ``ctypes``: no dependency (the maintained Python bindings are
stale, run ``ldconfig`` on import or cannot be imported from a venv). Nothing here runs
in the host except ``filter_program`` in tests; ``_worker`` calls the rest.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import struct
import sys
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "LAYERS",
    "Report",
    "apply_landlock",
    "apply_seccomp",
    "filter_program",
    "prepare",
    "unshare_namespaces",
]

# The layers, in the order they are applied and reported.
LAYERS = ("namespaces", "landlock-fs", "landlock-net", "seccomp")

# layer -> [active, detail]: what a worker reports to the host in its ready message
Report = dict[str, list[Any]]

_LINUX = sys.platform.startswith("linux")

# -- system calls ---------------------------------------------------------------------------
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000
_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1

# Landlock (include/uapi/linux/landlock.h); the syscall numbers are the same on every arch.
_LANDLOCK_CREATE_RULESET = 444
_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
# handled_access_fs bits known at each ABI: 1 (5.13) thirteen rights, 2 (5.19) REFER,
# 3 (6.2) TRUNCATE, 5 (6.10) IOCTL_DEV; ABI 4 (6.7) adds TCP, 6 (6.12) scopes, 7 (6.15)
# logging only.
_FS_RIGHTS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_NET_BIND_TCP = 1
_NET_CONNECT_TCP = 2
_SCOPE_ABSTRACT_UNIX_SOCKET = 1
_SCOPE_SIGNAL = 2

# Per architecture: the AUDIT_ARCH value seccomp reports, the seccomp syscall's number, and
# the numbers of every call the filter names (arch/x86/entry/syscalls/syscall_64.tbl and
# include/uapi/asm-generic/unistd.h for aarch64, which has no poll, only ppoll).
_ARCHES: dict[str, tuple[int, int, dict[str, int]]] = {
    "x86_64": (
        0xC000003E,
        317,
        {
            "read": 0,
            "write": 1,
            "close": 3,
            "poll": 7,
            "mmap": 9,
            "mprotect": 10,
            "munmap": 11,
            "brk": 12,
            "rt_sigprocmask": 14,
            "rt_sigreturn": 15,
            "pread64": 17,
            "sched_yield": 24,
            "mremap": 25,
            "madvise": 28,
            "getpid": 39,
            "exit": 60,
            "kill": 62,
            "getppid": 110,
            "gettid": 186,
            "futex": 202,
            "restart_syscall": 219,
            "clock_gettime": 228,
            "clock_nanosleep": 230,
            "exit_group": 231,
            "tgkill": 234,
            "ppoll": 271,
            "prlimit64": 302,
            "getrandom": 318,
        },
    ),
    "aarch64": (
        0xC00000B7,
        277,
        {
            "read": 63,
            "write": 64,
            "close": 57,
            "mmap": 222,
            "mprotect": 226,
            "munmap": 215,
            "brk": 214,
            "rt_sigprocmask": 135,
            "rt_sigreturn": 139,
            "pread64": 67,
            "sched_yield": 124,
            "mremap": 216,
            "madvise": 233,
            "getpid": 172,
            "exit": 93,
            "kill": 129,
            "getppid": 173,
            "gettid": 178,
            "futex": 98,
            "restart_syscall": 128,
            "clock_gettime": 113,
            "clock_nanosleep": 115,
            "exit_group": 94,
            "tgkill": 131,
            "ppoll": 73,
            "prlimit64": 261,
            "getrandom": 278,
        },
    ),
}
_ARCHES["arm64"] = _ARCHES["aarch64"]

# Allowed outright, most frequent first (the filter tests them in this order).
ALLOWED = (
    "read",
    "write",
    "futex",
    "poll",
    "ppoll",
    "clock_gettime",
    "clock_nanosleep",
    "getpid",
    "gettid",
    "getppid",
    "pread64",
    "brk",
    "munmap",
    "mremap",
    "madvise",
    "close",
    "sched_yield",
    "getrandom",
    "rt_sigprocmask",
    "rt_sigreturn",
    "restart_syscall",
    "exit",
    "exit_group",
)
# Allowed with a condition on their arguments (see filter_program).
CONDITIONAL = ("mmap", "mprotect", "kill", "tgkill", "prlimit64")

_PROT_EXEC = 4
_RLIMIT_CPU = 0

# classic BPF, as seccomp runs it (include/uapi/linux/filter.h, seccomp.h)
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
# offsets in struct seccomp_data: nr, arch, instruction_pointer, args[6] (little-endian
# 64-bit values: the low half of argument i is at 16 + 8 * i)
_NR = 0
_ARCH = 4
_X32_BIT = 0x40000000  # x86_64's x32 ABI: another calling convention, killed like one


def _arg(index: int) -> int:
    return 16 + 8 * index


Instruction = tuple[int, int, int, int]  # code, jt, jf, k


class _Assembler:
    """A classic BPF program with forward jumps to labels."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str | None, str | None, int]] = []
        self.labels: dict[str, int] = {}

    def load(self, offset: int) -> None:
        self.lines.append((_LD_W_ABS, None, None, offset))

    def jump(self, code: int, k: int, true: str | None, false: str | None) -> None:
        self.lines.append((code, true, false, k))

    def ret(self, value: int) -> None:
        self.lines.append((_RET_K, None, None, value))

    def label(self, name: str) -> None:
        if name in self.labels:  # pragma: no cover - a mistake in filter_program
            raise ValueError(f"BPF label {name} defined twice")
        self.labels[name] = len(self.lines)

    def program(self) -> list[Instruction]:
        out = []
        for index, (code, true, false, k) in enumerate(self.lines):
            out.append((code, self._offset(index, true), self._offset(index, false), k))
        return out

    def _offset(self, index: int, label: str | None) -> int:
        if label is None:
            return 0  # the next instruction
        offset = self.labels[label] - index - 1
        if not 0 <= offset <= 255:  # pragma: no cover - the program is small and fixed
            raise ValueError(f"BPF jump to {label} out of range")
        return offset


def filter_program(machine: str, pid: int) -> list[Instruction]:
    """The seccomp filter for a worker with process id ``pid`` on ``machine``.

    Raises KeyError for an architecture without a table here.
    """
    audit_arch, _, numbers = _ARCHES[machine]
    denied = RET_ERRNO | errno.EPERM
    asm = _Assembler()
    asm.load(_ARCH)
    asm.jump(_JEQ_K, audit_arch, None, "foreign")
    asm.load(_NR)
    if machine == "x86_64":
        asm.jump(_JGE_K, _X32_BIT, "foreign", None)
    for name in ALLOWED:
        if name in numbers:  # (aarch64 has no poll: glibc calls ppoll there)
            asm.jump(_JEQ_K, numbers[name], "allow", None)
    for name in CONDITIONAL:
        asm.jump(_JEQ_K, numbers[name], f"check {name}", None)
    asm.ret(denied)
    # (the blocks for the conditional calls; classic BPF only jumps forward, so the
    # verdicts they share come last)
    # mmap/mprotect: never executable memory (no code is loaded once a worker serves)
    for name in ("mmap", "mprotect"):
        asm.label(f"check {name}")
        asm.load(_arg(2))
        asm.jump(_JSET_K, _PROT_EXEC, "deny", "allow")
    # kill(pid, sig) and tgkill(tgid, tid, sig): only to itself (a crash helper's
    # SIGSEGV, os.abort); never to the host or anything else. pid_t is the low 32 bits.
    for name in ("kill", "tgkill"):
        asm.label(f"check {name}")
        asm.load(_arg(0))
        asm.jump(_JEQ_K, pid, "allow", "deny")
    # prlimit64(0, RLIMIT_CPU, ...): moving its own CPU window (_worker._arm_cpu)
    asm.label("check prlimit64")
    asm.load(_arg(0))
    asm.jump(_JEQ_K, 0, None, "deny")
    asm.load(_arg(1))
    asm.jump(_JEQ_K, _RLIMIT_CPU, "allow", "deny")
    asm.label("allow")
    asm.ret(RET_ALLOW)
    asm.label("deny")
    asm.ret(denied)
    asm.label("foreign")
    asm.ret(RET_KILL_PROCESS)
    return asm.program()


# -- applying the layers --------------------------------------------------------------------
def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _failed(what: str) -> str:
    number = ctypes.get_errno()
    return f"{what}: {os.strerror(number)} ({errno.errorcode.get(number, number)})"


def unshare_namespaces() -> tuple[bool, str]:
    """A fresh user and network namespace for this (still single-threaded) process."""
    if not _LINUX:
        return False, f"not available on {platform.system()} (Linux namespaces)"
    libc = _libc()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0:
        return True, "user + network namespace of its own"
    number = ctypes.get_errno()
    reason = _failed("unshare(CLONE_NEWUSER|CLONE_NEWNET)")
    if number in (errno.EPERM, errno.ENOSPC, errno.EUSERS):
        reason += (
            ": user namespaces are not allowed here (a container's seccomp profile, "
            "user.max_user_namespaces, kernel.unprivileged_userns_clone or AppArmor)"
        )
    elif number == errno.EINVAL:
        reason += ": the kernel lacks CONFIG_USER_NS or CONFIG_NET_NS"
    return False, reason


def apply_landlock() -> tuple[Report, int]:
    """Deny this thread (and threads it starts) every file-system access, and TCP.

    Returns the report for ``landlock-fs`` and ``landlock-net``, and the ABI (0: none).
    """
    if not _LINUX:
        missing = f"not available on {platform.system()} (Landlock is Linux 5.13+)"
        return {"landlock-fs": [False, missing], "landlock-net": [False, missing]}, 0
    libc = _libc()
    abi = libc.syscall(
        _LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), _LANDLOCK_CREATE_RULESET_VERSION
    )
    if abi < 0:
        number = ctypes.get_errno()
        if number == errno.EOPNOTSUPP:
            why = "not enabled in this kernel (add landlock to its lsm= boot parameter)"
        elif number == errno.ENOSYS:
            why = "not in this kernel (Landlock needs Linux 5.13+ with CONFIG_SECURITY_LANDLOCK)"
        else:
            why = _failed("landlock_create_ruleset")
        return {"landlock-fs": [False, why], "landlock-net": [False, why]}, 0
    fs = _FS_RIGHTS[max(v for v in _FS_RIGHTS if v <= abi)]
    net = _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0
    scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    attr = ctypes.create_string_buffer(struct.pack("=QQQ", fs, net, scoped)[:size], size)
    ruleset = libc.syscall(_LANDLOCK_CREATE_RULESET, attr, ctypes.c_size_t(size), 0)
    if ruleset < 0:
        why = _failed("landlock_create_ruleset")
        return {"landlock-fs": [False, why], "landlock-net": [False, why]}, abi
    try:
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            why = _failed("prctl(PR_SET_NO_NEW_PRIVS)")
            return {"landlock-fs": [False, why], "landlock-net": [False, why]}, abi
        if libc.syscall(_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            why = _failed("landlock_restrict_self")
            return {"landlock-fs": [False, why], "landlock-net": [False, why]}, abi
    finally:
        os.close(ruleset)
    extra = ", abstract unix sockets and signals scoped" if scoped else ""
    report: Report = {"landlock-fs": [True, f"ABI {abi}: no file access{extra}"]}
    if net:
        report["landlock-net"] = [True, f"ABI {abi}: no TCP bind or connect"]
    else:
        report["landlock-net"] = [
            False,
            f"Landlock ABI {abi} has no network rules (TCP needs ABI 4, Linux 6.7+)",
        ]
    return report, abi


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter)))


def apply_seccomp() -> tuple[bool, str]:
    """Put every thread of this process under the allow-list filter."""
    if not _LINUX:
        return False, f"not available on {platform.system()} (seccomp is Linux 3.17+)"
    machine = platform.machine()
    if machine not in _ARCHES:
        return False, f"no system call table for {machine} here (x86_64 and aarch64 only)"
    program = filter_program(machine, os.getpid())
    instructions = (_SockFilter * len(program))(*(_SockFilter(*line) for line in program))
    fprog = _SockFprog(len(program), instructions)
    libc = _libc()
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False, _failed("prctl(PR_SET_NO_NEW_PRIVS)")
    result = libc.syscall(
        _ARCHES[machine][1],
        _SECCOMP_SET_MODE_FILTER,
        _SECCOMP_FILTER_FLAG_TSYNC,
        ctypes.byref(fprog),
    )
    if result != 0:
        if result > 0:  # TSYNC: the id of a thread that could not be synchronised
            return False, f"seccomp: thread {result} could not be put under the filter"
        number = ctypes.get_errno()
        why = _failed("seccomp(SECCOMP_SET_MODE_FILTER)")
        if number == errno.EINVAL:
            why += ": the kernel lacks CONFIG_SECCOMP_FILTER or TSYNC (Linux 3.17+)"
        return False, why
    return True, f"{len(ALLOWED) + len(CONDITIONAL)} system calls allowed, others EPERM"


# -- what must happen before the doors close -----------------------------------------------
# Codecs a script may name (str.encode / bytes.decode import encodings.* lazily, which
# needs the file system): the common ones are imported while it is still there.
_CODECS = (
    "utf_8",
    "utf_8_sig",
    "ascii",
    "latin_1",
    "utf_16",
    "utf_16_le",
    "utf_16_be",
    "utf_32",
    "utf_32_le",
    "utf_32_be",
    "cp1252",
    "cp437",
    "iso8859_15",
    "unicode_escape",
    "raw_unicode_escape",
    "idna",
    "punycode",
    "hex_codec",
    "base64_codec",
)
# Imported lazily by the standard library on first use (strptime, \N{...} escapes in
# compile, the time zone): done now, while files can still be opened.
_LAZY_MODULES = ("_strptime", "unicodedata", "encodings.idna")


def prepare(warm: Iterable[Callable[[], object]] = ()) -> None:
    """Load now what a serving worker would otherwise load from disk later.

    ``pthread_exit`` loads libgcc_s when a thread ends (a thread ending under the filter
    would find mmap of it refused); lazy imports and codecs read files; glibc reads the
    time zone file on first use. ``warm`` holds the caller's own steps (the memory
    watchdog's /proc/self/statm, opened now).
    """
    if _LINUX:
        # (OSError: musl, or a static build: nothing to load)
        with contextlib.suppress(OSError):
            ctypes.CDLL("libgcc_s.so.1")
    import codecs
    import importlib
    import time

    for codec in _CODECS:
        with contextlib.suppress(LookupError):  # a trimmed standard library
            codecs.lookup(codec)
    for module in _LAZY_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    time.localtime()
    for step in warm:
        step()
