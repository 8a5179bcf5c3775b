"""Process isolation: hard limits, crashes, hostile workers, worker hygiene, concurrency.

The semantic tests (test_hooks, test_data_copies, test_methods_async, test_status) run in
both modes through ``BOTH_MODES``; this file covers what only process isolation can do.
Scripts here may import ``tests.isolation_helpers``: real process-level functions standing
in for what hostile code could reach after escaping RestrictedPython inside a worker.
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import msgspec
import pytest

import hookyard
from hookyard import _wire
from hookyard._process import exit_detail as _exit_detail
from tests.conftest import BOTH_MODES, MakeEngine

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process isolation is POSIX-only")

HELPERS = (*hookyard.DEFAULT_MODULES, "tests.isolation_helpers")
# Kill a stuck worker after 2 s of its time: long enough for any honest call on a loaded
# machine, short enough for the suite.
ISOLATION = hookyard.ProcessIsolation(grace=1.0)
LIMITS = hookyard.Limits(seconds=1.0)

# collide(n): a hash-collision dict.fromkeys, n**2 / 2 comparisons in one C call (minutes
# for n = 200_000) that no in-process budget can interrupt. Scripts' own builders refuse
# colliding input up front, so the tests reach the C call through the helper module.
COUNTING_COLLIDER = """
from tests.isolation_helpers import collide, pid

def pre(n):
    if n:
        collide(n)

def post(rv, n):
    state["calls"] = state.get("calls", 0) + 1
    return [pid(), state["calls"]]
"""
STUCK = 200_000


def _open_to_others(path: Path) -> bool:
    """True when users other than the owner may run ``path`` (every folder searchable)."""
    return all(os.stat(folder).st_mode & stat.S_IXOTH for folder in [path, *path.parents]) and bool(
        os.stat(path).st_mode & stat.S_IROTH
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_c_level_loop_is_killed_and_the_worker_replaced(make_engine: MakeEngine) -> None:
    """A C-level loop (hash-collision dict.fromkeys) ends in LimitExceeded; a fresh worker serves the next call, with empty state."""
    engine = make_engine(
        {"p/10-collide.py": COUNTING_COLLIDER},
        modules=HELPERS,
        limits=LIMITS,
        isolation=ISOLATION,
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host(n: int) -> object:
        return None

    first_pid, calls = host(0)
    assert host(0) == [first_pid, 2]
    with pytest.raises(hookyard.HookFailed) as caught:
        host(STUCK)  # in-process this runs for minutes
    cause = caught.value.__cause__
    assert isinstance(cause, hookyard.LimitExceeded)
    assert cause.limit == "seconds"
    assert "10-collide.py: pre: LimitExceeded: time limit" in str(caught.value)
    assert not _alive(first_pid)
    new_pid, calls = host(0)
    assert new_pid != first_pid
    assert calls == 1  # the replaced worker's state is gone: documented behaviour
    (record,) = engine.status()
    assert (record.calls, record.failures) == (7, 1)


def test_c_level_loop_under_isolate_is_logged_and_the_call_goes_on(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """With on_error='isolate' a killed worker is logged with the script's name and the host function still runs."""
    engine = make_engine(
        {"p/10-collide.py": COUNTING_COLLIDER},
        modules=HELPERS,
        limits=LIMITS,
        isolation=ISOLATION,
    )
    ran: list[int] = []

    @engine.hook("p")
    def host(n: int) -> str:
        ran.append(n)
        return "body ran"

    assert host(STUCK) == "body ran"
    assert ran == [STUCK]
    messages = [r.getMessage() for r in hook_log.records if r.levelno >= logging.WARNING]
    assert any("10-collide.py: pre: LimitExceeded" in m for m in messages)


def test_python_level_loop_is_stopped_by_the_workers_own_budget(make_engine: MakeEngine) -> None:
    """A Python-level endless loop meets the worker's budget deadline: LimitExceeded, and the same worker keeps serving with its state."""
    engine = make_engine(
        {
            "p/10-spin.py": """
                from tests.isolation_helpers import pid
                def pre(spin):
                    state["calls"] = state.get("calls", 0) + 1
                    while spin:
                        pass
                def post(rv, spin):
                    return [pid(), state["calls"]]
            """
        },
        modules=HELPERS,
        # only the wall clock can stop this loop; the host's kill comes a grace later
        limits=hookyard.Limits(seconds=0.2, operations=10**12),
        isolation=hookyard.ProcessIsolation(grace=30.0, spare=False),
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host(spin: bool) -> object:
        return None

    worker, _ = host(False)
    for _ in range(2):  # the second time, the monitor is awake from the first call
        with pytest.raises(hookyard.HookFailed) as caught:
            host(True)
        assert isinstance(caught.value.__cause__, hookyard.LimitExceeded)
        assert caught.value.__cause__.limit == "seconds"
    assert host(False) == [worker, 4]


def test_huge_allocation_hits_the_address_space_limit(make_engine: MakeEngine) -> None:
    """A 10 GB allocation the size budget lets through fails at RLIMIT_AS: LimitExceeded, and the same worker keeps serving with its state."""
    engine = make_engine(
        {
            "p/10-alloc.py": """
                from tests.isolation_helpers import pid
                def pre(big):
                    state["calls"] = state.get("calls", 0) + 1
                    if big:
                        return len("a" * (10 * 1000 ** 3))
                def post(rv, big):
                    return [pid(), state["calls"]]
            """
        },
        modules=HELPERS,
        # generous budgets, so only the worker's memory limit stands in the way
        limits=hookyard.Limits(seconds=5.0, size=20 * 1000**3, operations=2 * 1000**3),
        isolation=ISOLATION,
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host(big: bool) -> object:
        return None

    worker, _ = host(False)
    with pytest.raises(hookyard.HookFailed) as caught:
        host(True)
    cause = caught.value.__cause__
    assert isinstance(cause, hookyard.LimitExceeded)
    assert cause.limit == "size"
    assert "10-alloc.py:6: pre: LimitExceeded: out of memory" in str(caught.value)
    assert host(False) == [worker, 3]


def test_deep_recursion_ends_in_limit_exceeded(make_engine: MakeEngine) -> None:
    """Runaway recursion in a worker stops with LimitExceeded (depth) and the host keeps serving."""
    engine = make_engine(
        {
            "p/10-recurse.py": """
                def down(n):
                    return down(n + 1)
                def post(rv, go):
                    if go:
                        down(0)
                    return "fine"
            """
        },
        limits=hookyard.Limits(depth=1_000_000),
        isolation=ISOLATION,
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host(go: bool) -> str:
        return "body"

    with pytest.raises(hookyard.HookFailed) as caught:
        host(True)
    assert isinstance(caught.value.__cause__, hookyard.LimitExceeded)
    assert caught.value.__cause__.limit == "depth"
    assert host(False) == "fine"


def test_value_nested_too_deeply_to_cross_fails_the_call(make_engine: MakeEngine) -> None:
    """A result nested far too deeply to cross is refused in the worker; the host never walks it."""
    engine = make_engine(
        {
            "p/10-nest.py": """
                def post(rv):
                    value = []
                    for _ in range(100000):
                        value = [value]
                    return value
            """
        },
        isolation=ISOLATION,
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> object:
        return None

    with pytest.raises(hookyard.HookFailed, match="nested too deeply"):
        host()


@pytest.mark.parametrize(
    ("helper", "expected"),
    [
        ("segfault", "crashed (SIGSEGV)"),
        ("exit_now", "exited with status 3"),
        ("oom_kill", "killed (SIGKILL: out of memory?)"),
    ],
)
def test_worker_crash_is_reported_with_the_script_and_the_host_keeps_serving(
    make_engine: MakeEngine, helper: str, expected: str
) -> None:
    """A worker that dies (segfault, os._exit, OOM kill) fails that call with HookFailed naming the script; the next call gets a fresh worker."""
    engine = make_engine(
        {
            "p/10-crash.py": f"""
                from tests.isolation_helpers import {helper}, pid
                def pre(crash):
                    if crash:
                        {helper}()
                def post(rv, crash):
                    return pid()
            """
        },
        modules=HELPERS,
        isolation=ISOLATION,
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host(crash: bool) -> object:
        return None

    before = host(False)
    with pytest.raises(hookyard.HookFailed) as caught:
        host(True)
    message = str(caught.value)
    assert "10-crash.py: pre: the worker" in message
    assert expected in message
    assert isinstance(caught.value.__cause__, RuntimeError)
    after = host(False)
    assert after != before


def test_script_that_hangs_at_load_is_reported_and_the_others_serve(
    make_engine: MakeEngine,
) -> None:
    """A module body stuck in C is stopped at the deadline: a load failure for that file, the engine and other scripts unaffected."""
    engine = make_engine(
        {
            "p/10-stuck.py": f"""
                from tests.isolation_helpers import collide
                collide({STUCK})
                def pre():
                    pass
            """,
            "p/20-fine.py": "def post(rv):\n    return 'fine'\n",
        },
        modules=HELPERS,
        limits=LIMITS,
        isolation=ISOLATION,
    )

    @engine.hook("p", result="replace")
    def host() -> str:
        return "body"

    assert host() == "fine"
    stuck, fine = engine.status()
    assert not stuck.ok
    assert "10-stuck.py: LimitExceeded: time limit" in (stuck.error or "")
    assert "while loading" in (stuck.error or "")
    assert fine.ok


def _forged(message: list[object]) -> bytes:
    """A frame as a compromised worker would write it (any bytes it likes)."""
    data = msgspec.msgpack.encode(message)
    return len(data).to_bytes(4, "big") + data


def _ext(code: int, fields: object) -> msgspec.msgpack.Ext:
    return msgspec.msgpack.Ext(code, msgspec.msgpack.encode(fields))


@pytest.mark.parametrize(
    ("lie", "expected"),
    [
        # an exception object where only plain data may come back
        (
            _forged(["ok", _ext(_wire.EXCEPTION, ["SystemExit", "SystemExit", "bye"]), 0]),
            "unknown extension",
        ),
        # a type the decoder does not know (no lookup by name, ever)
        (_forged(["ok", msgspec.msgpack.Ext(99, b"cos\nsystem\n"), 0]), "unknown extension"),
        # an api function the host never offered
        (_forged(["api", "open", [["/etc/passwd"], {}]]), "invalid api call"),
        # a reference to nothing
        (_forged(["ok", _ext(_wire.GRAPH, ["l", ["r", 7]]), 0]), "reference to nothing"),
        # api arguments nested past what may cross
        (_forged(["api", "meet", [[[[[[]]]] * 30], {}]]), "invalid api call"),
        # not a message at all
        (b"\x00\x00\x00\x03\xc1\xc1\xc1", "broke the protocol"),
    ],
)
def test_compromised_worker_cannot_make_the_host_build_anything_but_plain_data(
    make_engine: MakeEngine, lie: bytes, expected: str
) -> None:
    """A worker that sends forged messages is stopped and replaced; the host only ever parses plain data."""
    engine = make_engine(
        {
            "p/10-liar.py": f"""
                from tests.isolation_helpers import send_frame
                def post(rv, lie):
                    if lie:
                        send_frame({lie!r})
                    return "honest"
            """
        },
        modules=HELPERS,
        isolation=ISOLATION,
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host(lie: bool) -> object:
        return None

    with pytest.raises(hookyard.HookFailed) as caught:
        host(True)
    assert "broke the protocol" in str(caught.value)
    assert expected in str(caught.value)
    assert host(False) == "honest"


def test_forged_failure_cannot_raise_an_interpreter_signal_in_the_host(
    make_engine: MakeEngine,
) -> None:
    """A worker claiming its script raised KeyboardInterrupt yields an ordinary Exception subclass as the cause."""
    engine = make_engine(
        {
            "p/10-liar.py": """
                from tests.isolation_helpers import send_message
                def pre():
                    send_message(["fail", "error", "forged", "KeyboardInterrupt",
                                  "KeyboardInterrupt", "stop the host", "", "", 0])
            """
        },
        modules=HELPERS,
        isolation=ISOLATION,
    )

    @engine.hook("p", on_error="raise")
    def host() -> None: ...

    with pytest.raises(hookyard.HookFailed) as caught:
        host()
    cause = caught.value.__cause__
    assert type(cause).__name__ == "KeyboardInterrupt"
    assert isinstance(cause, Exception)
    assert not isinstance(cause, KeyboardInterrupt)


def test_worker_runs_with_nothing_of_the_host(make_engine: MakeEngine, tmp_path: Path) -> None:
    """A worker has an empty environment, / as cwd, its own session, no inherited fds and hard rlimits."""
    secret = tmp_path / "secret.txt"
    handle = open(secret, "w")  # noqa: SIM115 - held open across the engine's start
    os.set_inheritable(handle.fileno(), True)
    os.environ["HOOKYARD_TEST_SECRET"] = "hunter2"
    try:
        engine = make_engine(
            {
                "p/10-pid.py": "from tests.isolation_helpers import pid\ndef post(rv):\n    return pid()\n"
            },
            modules=HELPERS,
            isolation=hookyard.ProcessIsolation(memory=256 * 1024 * 1024, spare=False),
        )

        @engine.hook("p", result="replace")
        def host() -> object:
            return None

        worker = host()
        assert isinstance(worker, int)
        proc = Path(f"/proc/{worker}")
        assert (proc / "environ").read_bytes() == b""
        assert os.readlink(proc / "cwd") == "/"
        assert os.getsid(worker) == worker
        targets = {int(fd): os.readlink(proc / "fd" / fd) for fd in os.listdir(proc / "fd")}
        assert str(secret) not in targets.values()
        assert {targets[0], targets[1], targets[2]} == {"/dev/null"}
        # the request and reply pipes, and the lifeline: the write end of the stderr pipe
        # the host reads no more (SIGIO when the host is gone)
        assert sorted(fd for fd, target in targets.items() if target.startswith("pipe:")) == [
            3,
            4,
            6,
        ]
        # and the memory watchdog's /proc/self/statm, opened before the file system closed
        assert targets[5] == "/proc/self/statm" or targets[5].endswith("/statm")
        assert len(targets) == 7
        limits = {
            line[:26].strip(): line[26:].split()[:2]
            for line in (proc / "limits").read_text().splitlines()[1:]
        }
        assert limits["Max address space"] == [str(256 * 1024 * 1024)] * 2
        assert limits["Max core file size"] == ["0", "0"]
        assert limits["Max file size"] == ["0", "0"]
        assert limits["Max processes"] == ["0", "0"]
        assert limits["Max open files"] == ["16", "16"]
        assert limits["Max cpu time"][0] != "unlimited"
        assert limits["Max cpu time"][1] != "unlimited"
    finally:
        handle.close()
        del os.environ["HOOKYARD_TEST_SECRET"]


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="switching users needs root"
)
def test_workers_can_run_as_an_unprivileged_user(make_engine: MakeEngine) -> None:
    """ProcessIsolation(user=...) runs workers as that user, where RLIMIT_NPROC forbids new processes."""
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' user")
    runnable = _open_to_others(Path(sys.executable).resolve())
    scripts = {
        "p/10-fork.py": """
            from tests.isolation_helpers import pid, try_fork
            def post(rv):
                return [pid(), try_fork()]
        """
    }
    options = hookyard.ProcessIsolation(user=nobody.pw_uid, group=nobody.pw_gid, spare=False)
    if not runnable:
        # this interpreter cannot be run by that user (a private home, say): making the
        # engine fails with the reason, rather than a host serving without its scripts
        # (test_isolation_confine runs an interpreter that user can run)
        with pytest.raises(hookyard.HookError, match="a worker could not be started"):
            make_engine(scripts, modules=HELPERS, isolation=options)
        return
    engine = make_engine(scripts, modules=HELPERS, isolation=options)

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> object:
        return None

    worker, forked = host()
    assert os.stat(f"/proc/{worker}").st_uid == nobody.pw_uid
    assert forked.startswith("refused")


def test_scripts_in_different_workers_run_in_parallel(make_engine: MakeEngine) -> None:
    """Two host threads calling scripts that live in different workers are served at the same time."""
    barrier = threading.Barrier(2, timeout=30)
    met: list[str] = []

    def meet(name: str) -> None:
        barrier.wait()  # both scripts must be inside their call at once to get past this
        met.append(name)

    script = "def pre(name):\n    api.meet(name)\n"
    engine = make_engine(
        {"a/10-a.py": script, "b/10-b.py": script},
        api={"meet": meet},
        isolation=hookyard.ProcessIsolation(workers=2, spare=False),
    )

    @engine.hook("a", on_error="raise")
    def call_a(name: str) -> None: ...

    @engine.hook("b", on_error="raise")
    def call_b(name: str) -> None: ...

    threads = [
        threading.Thread(target=call_a, args=("a",)),
        threading.Thread(target=call_b, args=("b",)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(met) == ["a", "b"]


def test_many_host_threads_share_one_script_state(make_engine: MakeEngine) -> None:
    """Concurrent calls from many host threads all reach the one state of a script; none is lost."""
    engine = make_engine(
        {
            "p/10-count.py": "def post(rv):\n    state['n'] = state.get('n', 0) + 1\n    return state['n']\n"
        },
        isolation=hookyard.ProcessIsolation(spare=False),
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> object:
        return None

    results: list[object] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(25):
            value = host()
            with lock:
                results.append(value)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results) == list(range(1, 201))  # type: ignore[type-var]
    (record,) = engine.status()
    assert record.calls == 200


@pytest.mark.parametrize("workers", [1, 2])
def test_api_function_may_call_another_hooked_function(
    make_engine: MakeEngine, workers: int
) -> None:
    """An api function that calls a hooked function works, whether that script shares the worker or not."""
    engine = make_engine(
        {
            "outer/10-outer.py": "def post(rv, x):\n    return api.inner(x) + 1\n",
            "inner/10-inner.py": "def post(rv, x):\n    return rv * 10\n",
        },
        api={"inner": lambda x: inner(x)},  # noqa: PLW0108 - inner is defined below
        isolation=hookyard.ProcessIsolation(workers=workers, spare=False),
    )

    @engine.hook("inner", result="replace", on_error="raise")
    def inner(x: int) -> int:
        return x + 1

    @engine.hook("outer", result="replace", on_error="raise")
    def outer(x: int) -> int:
        return 0

    assert outer(4) == 51


@BOTH_MODES
def test_call_in_flight_finishes_on_the_version_it_started_with(
    make_engine: MakeEngine,
) -> None:
    """A reload during a call (here from inside its own api call) leaves that call on its version; the next call sees the new one."""
    swapped: list[str] = []

    def swap() -> None:
        path = engine.directory / "p" / "10-v.py"
        path.write_text("def pre():\n    pass\ndef post(rv):\n    return 'v2'\n")
        engine.reload_path(path)
        swapped.append("yes")

    engine = make_engine(
        {"p/10-v.py": "def pre():\n    api.swap()\ndef post(rv):\n    return 'v1'\n"},
        api={"swap": swap},
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> str:
        return "body"

    assert host() == "v1"
    assert swapped == ["yes"]
    assert host() == "v2"


@BOTH_MODES
def test_script_log_level_follows_the_host_at_call_time(
    make_engine: MakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """A script's debug lines appear once the host enables DEBUG for its logger, and not before."""
    engine = make_engine({"p/10-x.py": "def pre(n):\n    log.debug('detail %d', n)\n"})

    @engine.hook("p")
    def host(n: int) -> None: ...

    caplog.set_level(logging.INFO, logger="hookyard.script.p.10-x")
    host(1)
    caplog.set_level(logging.DEBUG, logger="hookyard.script.p.10-x")
    host(2)
    lines = [r.getMessage() for r in caplog.records if r.name == "hookyard.script.p.10-x"]
    assert lines == ["detail 2"]


def test_close_stops_the_workers_and_a_later_call_starts_one(make_engine: MakeEngine) -> None:
    """close() ends every worker process; a hooked function called afterwards still runs its script, in a new worker with empty state."""
    engine = make_engine(
        {"p/10-x.py": COUNTING_COLLIDER}, modules=HELPERS, isolation=hookyard.ProcessIsolation()
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host(n: int) -> object:
        return None

    worker, _ = host(0)
    host(0)
    started = engine._pool.pids()  # type: ignore[union-attr]
    assert worker in started and len(started) == 2  # the worker and the spare
    engine.close()
    assert not any(_alive(pid) for pid in started)
    new_worker, calls = host(0)
    assert new_worker != worker
    assert calls == 1


EXITING_HOST = """
import sys, threading, hookyard

entered = threading.Event()
engine = hookyard.HookEngine(
    sys.argv[1],
    api={"entered": entered.set},
    modules=(*hookyard.DEFAULT_MODULES, "tests.isolation_helpers"),
    isolation=hookyard.ProcessIsolation(workers=2),
)

@engine.hook("idle", result="replace")
def idle():
    return None

@engine.hook("stuck")
def stuck():
    return None

print(idle(), flush=True)
threading.Thread(target=stuck, daemon=True).start()
entered.wait()  # the stuck script is now inside a C-level loop in its worker
print(*engine._pool.pids(), flush=True)
# no engine.close(): the interpreter exits with a worker busy
"""


def _reaped(pid: int) -> bool:
    """No such process, not even a zombie waiting for its parent."""
    return not Path(f"/proc/{pid}").exists()


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="reads /proc")
def test_workers_end_when_the_host_exits_without_close(tmp_path: Path) -> None:
    """A host that exits without engine.close(), one worker busy in C, leaves no worker process behind."""
    root = tmp_path / "hooks"
    (root / "idle").mkdir(parents=True)
    (root / "idle" / "10-pid.py").write_text("def post(rv):\n    return 'served'\n")
    (root / "stuck").mkdir()
    (root / "stuck" / "10-stuck.py").write_text(
        "from tests.isolation_helpers import collide\n"
        "def pre():\n"
        "    api.entered()\n"
        f"    collide({STUCK})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", EXITING_HOST, str(root)],
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard only: the exit itself takes well under a second
        check=False,
    )
    assert done.returncode == 0, done.stderr
    served, pids = done.stdout.splitlines()
    assert served == "served"
    workers = [int(pid) for pid in pids.split()]
    assert len(workers) == 3  # two slots and the spare
    assert all(_reaped(pid) for pid in workers)


def test_killed_worker_is_replaced_from_the_spare(make_engine: MakeEngine) -> None:
    """With a spare started, replacing a killed worker needs no interpreter start: the next call reuses the spare's process."""
    engine = make_engine(
        {"p/10-x.py": COUNTING_COLLIDER},
        modules=HELPERS,
        isolation=hookyard.ProcessIsolation(workers=1, spare=True),
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host(n: int) -> object:
        return None

    worker, _ = host(0)
    spare = [pid for pid in engine._pool.pids() if pid != worker]  # type: ignore[union-attr]
    assert len(spare) == 1
    os.kill(worker, signal.SIGKILL)
    with pytest.raises(hookyard.HookFailed, match="SIGKILL"):
        host(0)
    assert host(0)[0] == spare[0]


def test_cpu_limit_exit_is_reported_as_a_limit() -> None:
    """A worker ended by SIGXCPU (its RLIMIT_CPU) is reported as LimitExceeded(cpu), a segfault as a crash."""
    assert _exit_detail(-signal.SIGXCPU, "")[1] == "cpu"
    assert "SIGSEGV" in _exit_detail(-signal.SIGSEGV, "")[0]
    assert _exit_detail(1, "ImportError: no module x") == (
        "exited with status 1: ImportError: no module x and was replaced",
        "",
    )


@pytest.mark.parametrize(
    "bad",
    [
        "processes",
        hookyard.Limits(),
        None,
    ],
)
def test_unknown_isolation_is_refused(make_engine: MakeEngine, bad: object) -> None:
    """isolation= accepts 'inline', 'process' or a ProcessIsolation, nothing else (another
    string is a ValueError, another type a TypeError)."""
    with pytest.raises(ValueError if isinstance(bad, str) else TypeError, match="isolation"):
        make_engine(isolation=bad)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"workers": 0}, ValueError),
        ({"memory": -1}, ValueError),
        ({"grace": 0}, ValueError),
        ({"cpu_lifetime": 1.5}, TypeError),
        ({"startup": "1"}, TypeError),
    ],
)
def test_bad_process_options_are_refused(
    options: dict[str, object], error: type[Exception]
) -> None:
    """ProcessIsolation checks its numbers when it is made: a wrong type is a TypeError,
    a wrong value a ValueError, each naming the option."""
    with pytest.raises(error, match=next(iter(options))):
        hookyard.ProcessIsolation(**options)  # type: ignore[arg-type]
