"""`hookyard demo` runs the example host against the repository's hook_scripts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_demo_runs_the_example_hooks() -> None:
    """The demo creates, resizes and deletes instances; the example hooks veto, notify and cap."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hookyard.cli",
            "demo",
            "--dir",
            str(REPO / "hook_scripts"),
            "--iterations",
            "6",
            "--interval",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "vetoed: instance name 'db_primary' must be letters, digits and dashes" in out
    assert "[api.notify] created web-1 (m1.small)" in out
    assert "capped web-1 from m1.xlarge to m1.large" in out
    assert "vetoed: batch-7 is protected" in out
    # the shadow script's veto is reported, never applied: cache-2 is still created
    assert "would have vetoed the call: m1.xlarge is for batch instances, not 'cache-2'" in out
    assert "-> created cache-2" in out


def test_demo_without_directory_is_a_usage_error(tmp_path: Path) -> None:
    """Pointing the demo at a missing directory exits 2 with a message."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hookyard.cli",
            "demo",
            "--dir",
            str(tmp_path / "missing"),
            "--iterations",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "no hook directory" in result.stderr
