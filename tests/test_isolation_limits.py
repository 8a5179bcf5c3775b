"""Hosts under inherited resource limits (issue 13): ``ulimit -t``/``-v``, systemd's
``LimitCPU=``/``LimitAS=``, a container's rlimits.

Each host here is a real process started by ``bash -c 'ulimit ...; exec python ...'``, so
the hard limits are lowered before the interpreter even starts, exactly as an operator's
shell or a service manager would. Before the fix, every script failed to load under such a
host ("not allowed to raise maximum limit") and it served unhooked: vetoes not enforced.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_scripts

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("bash") is None,
    reason="reads /proc/PID/limits; starts hosts through bash's ulimit",
)

ROOT = Path(__file__).resolve().parent.parent

HOST = """
import json, sys, hookyard
options = hookyard.ProcessIsolation(spare=False, memory=int(sys.argv[2]))
try:
    engine = hookyard.HookEngine(
        sys.argv[1],
        modules=(*hookyard.DEFAULT_MODULES, "tests.isolation_helpers"),
        isolation=options,
    )
except hookyard.HookError as exc:
    print(json.dumps({"error": str(exc)}))
    raise SystemExit(0)

@engine.hook("create", veto=True, result="replace")
def create(name):
    return "created"

try:
    create("")
    vetoed = False
except hookyard.HookVetoed:
    vetoed = True
worker = create("web-1")
with open(f"/proc/{worker}/limits") as limits:
    table = {line[:26].strip(): line[26:].split()[:2] for line in list(limits)[1:]}
print(json.dumps({"vetoed": vetoed, "worker": worker, "limits": table}))
engine.close()
"""

SCRIPT = """
from tests.isolation_helpers import pid

def pre(name):
    if not name:
        raise Veto("a name is required")

def post(rv, name):
    return pid()
"""


def run_host(tmp_path: Path, ulimit: str, memory: int = 512 * 1024**2) -> dict[str, object]:
    """Start HOST under ``ulimit`` (bash syntax, soft and hard); its JSON report."""
    hooks = write_scripts(tmp_path / "hooks", {"create/10-name.py": SCRIPT})
    done = subprocess.run(
        [
            "bash",
            "-c",
            f'{ulimit} && exec "$0" "$@"',
            sys.executable,
            "-c",
            HOST,
            str(hooks),
            str(memory),
        ],
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard only
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def test_host_under_a_cpu_limit_serves_its_scripts(tmp_path: Path) -> None:
    """Under `ulimit -t 120` the scripts load and vetoes are enforced; the worker's CPU limits stay within 120 s."""
    report = run_host(tmp_path, "ulimit -t 120")
    assert report["vetoed"] is True
    limits = report["limits"]
    assert isinstance(limits, dict)
    soft, hard = (int(value) for value in limits["Max cpu time"])
    assert soft <= hard <= 120


def test_host_under_an_address_space_limit_serves_its_scripts(tmp_path: Path) -> None:
    """Under `ulimit -v 1000000` (KiB) with ProcessIsolation(memory=2 GiB) the worker gets the inherited limit, not more, and serves."""
    report = run_host(tmp_path, "ulimit -v 1000000", memory=2 * 1024**3)
    assert report["vetoed"] is True
    limits = report["limits"]
    assert isinstance(limits, dict)
    assert limits["Max address space"] == [str(1000000 * 1024)] * 2


def test_host_under_a_data_and_file_limit_serves_its_scripts(tmp_path: Path) -> None:
    """Under `ulimit -d` and `ulimit -n` (data segment, open files) the worker starts, within them, and serves."""
    report = run_host(tmp_path, "ulimit -d 4000000 && ulimit -n 12")
    assert report["vetoed"] is True
    limits = report["limits"]
    assert isinstance(limits, dict)
    assert limits["Max data size"] == [str(4000000 * 1024)] * 2
    assert limits["Max open files"] == ["12", "12"]


def test_a_cpu_limit_too_small_for_one_call_is_an_error_when_the_engine_is_made(
    tmp_path: Path,
) -> None:
    """Under `ulimit -t 5`, with the default 1 s budget and 1 s grace, HookEngine(...) raises HookError naming the limit and the fix."""
    report = run_host(tmp_path, "ulimit -t 5")
    error = report["error"]
    assert isinstance(error, str)
    assert "hard CPU limit is 5 s" in error
    assert "ulimit -t" in error
    assert "Limits.seconds" in error


def test_an_address_space_too_small_to_start_a_worker_is_an_error_when_the_engine_is_made(
    tmp_path: Path,
) -> None:
    """Under an address-space limit a worker cannot even start in, HookEngine(...) raises HookError with the reason and the limit."""
    # the host lowers its own hard limit after it started (it needs more than its worker)
    host = HOST.replace(
        "options = ",
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (40 * 1024**2,) * 2)\noptions = ",
        1,
    )
    hooks = write_scripts(tmp_path / "hooks", {"create/10-name.py": SCRIPT})
    done = subprocess.run(
        [sys.executable, "-c", host, str(hooks), str(512 * 1024**2)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    error = json.loads(done.stdout)["error"]
    assert "a worker could not be started" in error
    assert (
        f"hard address-space limit, which workers inherit and cannot raise, is {40 * 1024**2:,}"
        in error
    )
