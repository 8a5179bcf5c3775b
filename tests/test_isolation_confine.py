"""Kernel confinement of workers (issue 13): the seccomp program, each layer at work, the
``confine`` modes, ``hookyard sandbox-check``, and hosts where a layer is missing.

Escapes are played by ``tests.isolation_helpers.attempt``: unrestricted code inside the
worker making the forbidden call, as a script that got out of RestrictedPython could.
A machine without a layer is played by a launcher that starts the host under a seccomp
filter refusing ``unshare`` and Landlock, as a container's profile or an old kernel does;
the worker inherits it.
"""

from __future__ import annotations

import json
import os
import platform
import pwd
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hookyard
from hookyard import _confine, cli
from hookyard._isolation import sandbox_check
from tests.conftest import MakeEngine, write_scripts

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="kernel confinement is Linux-only"
)

ROOT = Path(__file__).resolve().parent.parent
HELPERS = (*hookyard.DEFAULT_MODULES, "tests.isolation_helpers")
MACHINE = platform.machine()
LAYERS = ("namespaces", "landlock-fs", "landlock-net", "seccomp")


# -- the seccomp program, run by a small classic-BPF evaluator -----------------------------
def run_filter(
    program: list[tuple[int, int, int, int]], nr: int, arch: int, args: tuple[int, ...] = ()
) -> int:
    """What the kernel would do with system call ``nr`` under ``program`` (seccomp_data)."""
    words = (*args, 0, 0, 0, 0, 0, 0)[:6]
    data = struct.pack("<iIQ6Q", nr, arch, 0x400000, *(w & (2**64 - 1) for w in words))
    accumulator, pc = 0, 0
    for _ in range(len(program)):  # forward jumps only: at most one pass
        code, jt, jf, k = program[pc]
        if code == 0x20:  # ld [k]
            accumulator = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif code == 0x15:  # jeq #k
            pc += 1 + (jt if accumulator == k else jf)
        elif code == 0x35:  # jge #k
            pc += 1 + (jt if accumulator >= k else jf)
        elif code == 0x45:  # jset #k
            pc += 1 + (jt if accumulator & k else jf)
        elif code == 0x06:  # ret #k
            return k
        else:
            raise AssertionError(f"unexpected BPF instruction {code:#x}")
    raise AssertionError("the program ran off its end")


# syscall numbers the tests name, per architecture (beyond those _confine knows)
REFUSED = {
    "x86_64": {"openat": 257, "socket": 41, "connect": 42, "clone": 56, "clone3": 435,
               "fork": 57, "execve": 59, "ptrace": 101, "unshare": 272, "setuid": 105,
               "mount": 165, "bpf": 321, "io_uring_setup": 425, "process_vm_readv": 310},
    "aarch64": {"openat": 56, "socket": 198, "connect": 203, "clone": 220, "clone3": 435,
                "execve": 221, "ptrace": 117, "unshare": 97, "setuid": 146, "mount": 40,
                "bpf": 280, "io_uring_setup": 425, "process_vm_readv": 270},
}  # fmt: skip
EPERM = _confine.RET_ERRNO | 1


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_filter_allows_the_serving_calls_and_refuses_the_rest_with_eperm(machine: str) -> None:
    """Each allowed call passes; opening files, sockets, processes, exec, ptrace, namespaces get EPERM (not a kill)."""
    arch, _, numbers = _confine._ARCHES[machine]
    program = _confine.filter_program(machine, 4242)
    for name in _confine.ALLOWED:
        if name in numbers:  # aarch64 has no poll
            assert run_filter(program, numbers[name], arch) == _confine.RET_ALLOW, name
    for name, nr in REFUSED[machine].items():
        assert run_filter(program, nr, arch) == EPERM, name


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_filter_conditions_on_arguments(machine: str) -> None:
    """Signals only to itself, prlimit64 only for its own CPU limit, no executable memory."""
    arch, _, n = _confine._ARCHES[machine]
    program = _confine.filter_program(machine, 4242)
    allow = _confine.RET_ALLOW
    assert run_filter(program, n["kill"], arch, (4242, 11)) == allow
    assert run_filter(program, n["kill"], arch, (1, 0)) == EPERM  # init, or the host
    assert run_filter(program, n["kill"], arch, (0, 9)) == EPERM  # its process group
    assert run_filter(program, n["kill"], arch, (-1, 9)) == EPERM  # everyone
    assert run_filter(program, n["tgkill"], arch, (4242, 4243, 6)) == allow
    assert run_filter(program, n["tgkill"], arch, (4241, 4241, 6)) == EPERM
    assert run_filter(program, n["prlimit64"], arch, (0, 0, 1, 0)) == allow  # RLIMIT_CPU
    assert run_filter(program, n["prlimit64"], arch, (0, 9, 1, 0)) == EPERM  # RLIMIT_AS
    assert run_filter(program, n["prlimit64"], arch, (1, 0, 1, 0)) == EPERM  # another pid
    assert run_filter(program, n["mmap"], arch, (0, 4096, 3)) == allow  # read/write
    assert run_filter(program, n["mmap"], arch, (0, 4096, 5)) == EPERM  # read/exec
    assert run_filter(program, n["mprotect"], arch, (0, 4096, 7)) == EPERM


def test_filter_kills_another_architectures_calls() -> None:
    """A call made through another calling convention (i386 int 0x80, x32) kills the worker."""
    program = _confine.filter_program("x86_64", 4242)
    i386 = 0x40000003
    assert run_filter(program, 0, i386) == _confine.RET_KILL_PROCESS
    x86_64 = _confine._ARCHES["x86_64"][0]
    assert run_filter(program, 0x40000000 | 0, x86_64) == _confine.RET_KILL_PROCESS
    aarch64 = _confine.filter_program("aarch64", 4242)
    assert run_filter(aarch64, 63, x86_64) == _confine.RET_KILL_PROCESS


# -- the layers at work ---------------------------------------------------------------------
ESCAPES = ("open", "write", "socket", "connect", "fork", "exec", "signal host", "ptrace host")
ATTEMPTS = """
from tests.isolation_helpers import attempt, pid

def post(rv, what, port):
    state["calls"] = state.get("calls", 0) + 1
    return [pid(), state["calls"], attempt(what, port) if what else None]
"""


@pytest.fixture
def listening() -> Iterator[int]:
    """A port on 127.0.0.1 this test process listens on (what a worker must not reach)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def _escapes(engine: hookyard.HookEngine) -> Any:
    @engine.hook("p", result="replace", on_error="raise")
    def host(what: str, port: int) -> object:
        return None

    return host


@pytest.mark.skipif(MACHINE not in ("x86_64", "aarch64"), reason="no syscall table here")
def test_escaped_code_in_a_worker_is_refused_and_the_worker_keeps_serving(
    make_engine: MakeEngine, listening: int
) -> None:
    """Unrestricted code in a confined worker cannot open, write, connect, fork, exec, signal or ptrace; each refusal leaves the worker and its state alive."""
    engine = make_engine(
        {"p/10-escape.py": ATTEMPTS},
        modules=HELPERS,
        isolation=hookyard.ProcessIsolation(spare=False, confine="require"),
    )
    host = _escapes(engine)
    worker, _, _ = host("", 0)
    outcomes = {}
    for what in ESCAPES:
        pid, calls, outcome = host(what, listening)
        outcomes[what] = outcome
        assert pid == worker  # still the same process...
        assert calls == ESCAPES.index(what) + 2  # ...with its state
    assert outcomes == dict.fromkeys(ESCAPES, "refused: EPERM")
    # the host was neither signalled nor traced
    assert "TracerPid:\t0" in Path("/proc/self/status").read_text()


def test_with_confine_off_the_same_code_gets_through(
    make_engine: MakeEngine, listening: int
) -> None:
    """confine='off' (debugging) leaves the kernel open: the confinement is what refuses the calls above."""
    engine = make_engine(
        {"p/10-escape.py": ATTEMPTS},
        modules=HELPERS,
        isolation=hookyard.ProcessIsolation(spare=False, confine="off"),
    )
    host = _escapes(engine)
    assert host("open", 0)[2] == "done"
    assert host("socket", 0)[2] == "done"
    assert host("connect", listening)[2] == "done"
    assert host("signal host", 0)[2] == "done"


def test_confine_must_be_a_known_mode() -> None:
    """ProcessIsolation(confine=...) takes 'auto', 'require' or 'off'."""
    with pytest.raises(ValueError, match="confine"):
        hookyard.ProcessIsolation(confine="strict")


def test_every_stdlib_path_a_script_uses_works_under_confinement(make_engine: MakeEngine) -> None:
    """Codecs, strptime/strftime, json, random, math, big ints, string templates, exceptions: the same results in a confined worker as in-process."""
    source = """
import datetime, json, math, random, string

def post(rv):
    moment = datetime.datetime(2024, 2, 29, 13, 5)
    values = [
        "été".encode("latin-1"), "ü".encode("utf-16"), b"\\xe9t\\xe9".decode("cp1252"),
        "naïve".encode("ascii", "replace"), "bücher.example".encode("idna"),
        moment.isoformat(), moment.weekday(), datetime.date(2024, 1, 1) + datetime.timedelta(days=40),
        json.dumps({"a": [1, 2.5, None]}, sort_keys=True), json.loads('{"b": [true]}'),
        random.seed(7) or random.random(), math.factorial(30), 2 ** 200 % 97, str(10 ** 50),
        string.ascii_letters[:5], f"{3.14159:.2f}", "%05d" % 42,
        sorted({"b": 1, "a": 2}.items()), repr(ValueError("bad")),
    ]
    try:
        int("nope")
    except ValueError as exc:
        values.append(str(exc))
    return values
"""
    results = []
    for isolation in ("inline", hookyard.ProcessIsolation(spare=False, confine="require")):
        engine = make_engine({"p/10-all.py": source}, isolation=isolation)

        @engine.hook("p", result="replace", on_error="raise")
        def host() -> object:
            return None

        results.append(host())
        engine.close()
    assert results[0] == results[1]
    assert results[1][0] == "été".encode("latin-1")


# -- sandbox-check ----------------------------------------------------------------------------
def test_sandbox_check_proves_every_layer_here(capsys: pytest.CaptureFixture[str]) -> None:
    """`hookyard sandbox-check --require` proves each layer with refused calls and exits 0 where the kernel has them all."""
    code = cli.main(["sandbox-check", "--require"])
    out = capsys.readouterr().out
    assert code == 0, out
    for layer in LAYERS:
        assert any(line.startswith(layer) and " yes " in line for line in out.splitlines())
    assert "Network is unreachable (ENETUNREACH)" in out  # the namespace's loopback is down
    assert "Permission denied (EACCES)" in out  # Landlock
    for call in ("socket(AF_INET, SOCK_STREAM)", "fork()", "execve(...)", "kill(host, 0)"):
        assert f"{call}: Operation not permitted (EPERM)" in out
    assert "every layer is active" in out


def test_sandbox_check_layers_each_carry_their_own_proof() -> None:
    """Each layer is proven by calls refused right after it is applied (before it, the file opened)."""
    layers = {layer.name: layer for layer in sandbox_check()}
    assert list(layers) == list(LAYERS)
    assert all(layer.proven for layer in layers.values())
    before = [p for p in layers["landlock-fs"].proofs if p[0].startswith("before:")]
    assert before and before[0][1] == "opened" and not before[0][2]


# -- a machine that lacks layers: the host starts under a filter refusing them ----------------
LAUNCHER = """
import ctypes, os, platform, struct, sys
# seccomp filter: unshare -> EPERM, landlock_create_ruleset -> ENOSYS, the rest allowed
UNSHARE = {"x86_64": 272, "aarch64": 97}[platform.machine()]
prog = [
    (0x20, 0, 0, 0),                  # ld nr
    (0x15, 0, 1, UNSHARE), (0x06, 0, 0, 0x00050001),
    (0x15, 0, 1, 444), (0x06, 0, 0, 0x00050026),
    (0x06, 0, 0, 0x7FFF0000),
]
raw = b"".join(struct.pack("=HBBI", *line) for line in prog)
buffer = ctypes.create_string_buffer(raw)
fprog = struct.pack("=HxxxxxxQ", len(prog), ctypes.addressof(buffer))
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(38, 1, 0, 0, 0) == 0
assert libc.prctl(22, 2, ctypes.c_char_p(fprog), 0, 0) == 0, ctypes.get_errno()
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""

LACKING_HOST = """
import json, logging, sys, hookyard
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
options = hookyard.ProcessIsolation(spare=False, confine=sys.argv[2])
try:
    engine = hookyard.HookEngine(sys.argv[1], isolation=options)
except hookyard.HookError as exc:
    print(json.dumps({"error": str(exc)}))
    raise SystemExit(0)

@engine.hook("create", veto=True)
def create(name):
    return "created"

try:
    create("")
except hookyard.HookVetoed:
    print(json.dumps({"vetoed": True}))
engine.close()
"""


def _lacking(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LAUNCHER, *argv],
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard only
        check=False,
        cwd=ROOT,
    )


@pytest.fixture
def veto_dir(tmp_path: Path) -> Path:
    return write_scripts(
        tmp_path / "hooks",
        {"create/10-name.py": "def pre(name):\n    if not name:\n        raise Veto('no name')\n"},
    )


@pytest.mark.skipif(MACHINE not in ("x86_64", "aarch64"), reason="no syscall table here")
def test_auto_serves_with_the_layers_it_has_and_warns_once(veto_dir: Path) -> None:
    """confine='auto' on a machine without namespaces or Landlock: the host serves (vetoes enforced), with one WARNING naming what is missing and why."""
    done = _lacking("-c", LACKING_HOST, str(veto_dir), "auto")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"vetoed": True}
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1, done.stderr
    assert "kernel confinement incomplete" in warnings[0]
    assert "namespaces: unshare(CLONE_NEWUSER|CLONE_NEWNET): Operation not permitted" in warnings[0]
    assert "landlock-fs: not in this kernel" in warnings[0]


@pytest.mark.skipif(MACHINE not in ("x86_64", "aarch64"), reason="no syscall table here")
def test_require_refuses_to_make_the_engine_without_every_layer(veto_dir: Path) -> None:
    """confine='require' on that machine: HookEngine(...) raises HookError naming each missing layer."""
    done = _lacking("-c", LACKING_HOST, str(veto_dir), "require")
    assert done.returncode == 0, done.stderr
    error = json.loads(done.stdout)["error"]
    assert "confine='require'" in error
    for layer in ("namespaces", "landlock-fs", "landlock-net"):
        assert layer in error
    assert "seccomp (" not in error  # present, so not listed


@pytest.mark.skipif(MACHINE not in ("x86_64", "aarch64"), reason="no syscall table here")
def test_sandbox_check_says_plainly_what_the_machine_lacks() -> None:
    """sandbox-check there: 'no' with the reason for each missing layer, exit 0, and exit 1 with --require."""
    plain = _lacking("-m", "hookyard.cli", "sandbox-check")
    assert plain.returncode == 0, plain.stderr
    rows = {line.split()[0]: line for line in plain.stdout.splitlines() if line[:1].strip()}
    assert rows["namespaces"].split()[1] == "no"
    assert "Operation not permitted" in rows["namespaces"]
    assert rows["landlock-fs"].split()[1] == "no"
    assert "not in this kernel" in rows["landlock-fs"]
    assert rows["seccomp"].split()[1] == "yes"
    assert "this machine lacks: namespaces, landlock-fs, landlock-net" in plain.stdout
    required = _lacking("-m", "hookyard.cli", "sandbox-check", "--require")
    assert required.returncode == 1


# -- a worker that is not root ------------------------------------------------------------------
NOBODY_HOST = """
import json, pwd, sys, hookyard
from hookyard._isolation import sandbox_check
nobody = pwd.getpwnam("nobody")
options = hookyard.ProcessIsolation(spare=False, user=nobody.pw_uid, group=nobody.pw_gid)
print(json.dumps({layer.name: [layer.active, layer.proven, layer.detail] for layer in sandbox_check(options)}))
"""


def _open_to_others(path: Path) -> bool:
    """Whether another user can reach ``path`` (every folder above it searchable)."""
    return all(os.stat(folder).st_mode & 0o001 for folder in path.resolve().parents)


def _system_python() -> str | None:
    """An interpreter of this version that another user can run, with our packages
    importable by that user (a checkout in a private folder, as mktemp -d makes, is not)."""
    packages = [
        ROOT / "src" / "hookyard",
        *(Path(p) / "x" for p in sys.path if p.endswith("site-packages")),
    ]
    if not all(_open_to_others(path) for path in packages):
        return None
    for candidate in (f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}",):
        path = Path(candidate)
        if path.exists() and _open_to_others(path):
            return candidate
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="switching the worker's user needs root")
def test_a_worker_running_as_nobody_is_confined_too() -> None:
    """A worker switched to an unprivileged user gets every layer root's worker gets (namespaces where unprivileged ones are allowed), each proven."""
    python = _system_python()
    if python is None:
        # no interpreter of this version that user can run (a private home, as on these
        # machines for 3.12/3.13), or a checkout that user cannot read: the worker cannot
        # even start, and making the engine says so -- never a host serving without its
        # scripts
        nobody = pwd.getpwnam("nobody")
        options = hookyard.ProcessIsolation(user=nobody.pw_uid, group=nobody.pw_gid, spare=False)
        with pytest.raises(hookyard.HookError, match="a worker could not be started"):
            hookyard.HookEngine(ROOT / "hook_scripts", isolation=options)
        return
    site = [p for p in sys.path if p.endswith("site-packages")]
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *site]), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [python, "-c", NOBODY_HOST],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    as_root = {layer.name: layer for layer in sandbox_check()}
    unprivileged_userns = Path("/proc/sys/kernel/unprivileged_userns_clone")
    for name, (active, proven, detail) in report.items():
        if (
            name == "namespaces"
            and unprivileged_userns.exists()
            and unprivileged_userns.read_text().strip() == "0"
        ):
            assert not active and "not allowed" in detail
            continue
        assert active == as_root[name].active, (name, detail)
        assert proven == active, (name, detail)
    assert pwd.getpwnam("nobody")  # (the user the worker ran as)
