"""Red-team harness: run one hook script in a host of its own, a child process.

An attack that gets through may crash the interpreter (SIGSEGV) or take gigabytes; the
child keeps the test run alive either way. The child's address space is capped, so an
allocation the guards let through fails there instead of exhausting the machine.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.conftest import write_scripts

_HOST = r"""
import json, pathlib, sys
import hookyard

root, mode, limits = pathlib.Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
leaked = []
engine = hookyard.HookEngine(
    root,
    api={"leak": leaked.append},
    modules=("itertools", "collections", "string", "re"),
    limits=hookyard.Limits(**limits),
    isolation=hookyard.ProcessIsolation(spare=False) if mode == "process" else "inline",
)

@engine.hook("p", on_error="raise")
def host():
    return "served"

report = {"leaked": None, "cause": None, "message": None}
try:
    report["result"] = host()
except hookyard.HookFailed as failed:
    report["cause"] = type(failed.__cause__).__name__
    report["message"] = str(failed.__cause__)
(status,) = engine.status()
report.update(ok=status.ok, error=status.error, leaked=repr(leaked))
engine.close()
print(json.dumps(report))
"""

# generous budgets: an attack must be stopped by construction, not by running out of time
GENEROUS = {"seconds": 30.0, "operations": 10**8}


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def run_host(tmp_path: Path, source: str, mode: str, **limits: Any) -> dict[str, Any]:
    """Run ``source`` as the only script of point ``p`` in a child host (``mode`` is
    "inline" or "process"); the child's report. Fails the test if the child died."""
    root = write_scripts(tmp_path / "hooks", {"p/10-attack.py": textwrap.dedent(source)})
    child = subprocess.run(
        [sys.executable, "-c", _HOST, str(root), mode, json.dumps({**GENEROUS, **limits})],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
        preexec_fn=_cap_memory,
    )
    assert child.returncode == 0, f"the host died ({child.returncode}): {child.stderr[-2000:]}"
    report: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return report


MODES = ["inline", "process"]
