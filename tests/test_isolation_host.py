"""A worker never outlives its host (issue 13), however the host ends.

The host is a real process here; the test kills it with SIGKILL while one of its workers
is busy in a long C call (no Python-level check could run in it), and waits for every
worker to be gone, through pidfds: no sleeps, a generous timeout as a hang guard only.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_scripts

pytestmark = pytest.mark.skipif(
    not hasattr(os, "pidfd_open"), reason="waits on pidfds (Linux 5.3+)"
)

ROOT = Path(__file__).resolve().parent.parent
STUCK = 200_000  # tests.isolation_helpers.collide: minutes in one C call

BUSY_HOST = """
import sys, threading, hookyard

entered = threading.Event()
engine = hookyard.HookEngine(
    sys.argv[1],
    api={"entered": entered.set},
    modules=(*hookyard.DEFAULT_MODULES, "tests.isolation_helpers"),
    # a CPU window (2 x (30 + 30 + 2) s) far past the test's wait: only the worker's
    # watch on its host can end it in time
    limits=hookyard.Limits(seconds=30),
    isolation=hookyard.ProcessIsolation(workers=2, grace=30, confine=sys.argv[2]),
)

@engine.hook("idle", result="replace")
def idle():
    return None

@engine.hook("stuck")
def stuck():
    return None

idle()
threading.Thread(target=stuck, daemon=True).start()
entered.wait()  # the stuck script is now inside a C-level loop in its worker
print(*engine._pool.pids(), flush=True)
sys.stdin.read()  # until the test kills this process
"""


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until every process in ``pids`` has exited; those still running at the end."""
    fds = {}
    for pid in pids:
        try:
            fds[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            continue  # gone already
    try:
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)  # readable once the process has exited
        waiting = set(fds)
        deadline = time.monotonic() + timeout
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for fd, _ in poller.poll(left * 1000):
                waiting.discard(fd)
                poller.unregister(fd)
        return sorted(fds[fd] for fd in waiting)
    finally:
        for fd in fds:
            os.close(fd)


@pytest.mark.parametrize("stuck", ["collide", "spin"])
@pytest.mark.parametrize("confine", ["auto", "off"])
def test_a_busy_worker_ends_when_its_host_is_killed(
    tmp_path: Path, confine: str, stuck: str
) -> None:
    """A host SIGKILLed while a script is stuck in C (spin: holding the GIL, so no watch
    thread of the worker can run): the busy worker, the idle one and the spare all exit
    on their own."""
    root = write_scripts(
        tmp_path / "hooks",
        {
            "idle/10-pid.py": "def post(rv):\n    return 'served'\n",
            "stuck/10-stuck.py": (
                "from tests.isolation_helpers import collide, spin\n"
                "def pre():\n"
                "    api.entered()\n"
                + (f"    collide({STUCK})\n" if stuck == "collide" else "    spin()\n")
            ),
        },
    )
    host = subprocess.Popen(
        [sys.executable, "-c", BUSY_HOST, str(root), confine],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert host.stdout is not None
        line = host.stdout.readline()
        workers = [int(pid) for pid in line.split()]
        assert len(workers) == 3, host.stderr.read() if host.stderr else line  # 2 + spare
        host.kill()  # SIGKILL: no atexit, no finalizers, nothing of the host runs
        assert host.wait(timeout=60) == -signal.SIGKILL
        # the workers see their host's end of the pipe close at once; 20 s is a hang guard
        # (without the watch the busy one would run on for its whole CPU window)
        assert _wait_gone(workers, timeout=20.0) == []
    finally:
        if host.poll() is None:
            host.kill()
        host.communicate(timeout=60)
