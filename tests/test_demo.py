"""`hookyard demo` runs the example host from any directory: against ./hook_scripts, a
given --dir, or a temporary copy of the examples shipped in the package (issue 18)."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from hookyard._demo import EXAMPLES

REPO = Path(__file__).resolve().parent.parent
DEADLINE = 60.0


def demo(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hookyard.cli", "demo", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def test_demo_runs_the_example_hooks() -> None:
    """The demo creates, resizes and deletes instances; the example hooks veto, notify and cap."""
    result = demo("--dir", REPO / "hook_scripts", "--iterations", "6", "--interval", "0", cwd=REPO)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "vetoed: instance name 'db_primary' must be letters, digits and dashes" in out
    assert "[api.notify] created web-1 (m1.small)" in out
    assert "capped web-1 from m1.xlarge to m1.large" in out
    assert "vetoed: batch-7 is protected" in out


def test_demo_without_directory_is_a_usage_error(tmp_path: Path) -> None:
    """Pointing the demo at a missing directory exits 2 with a message."""
    result = demo("--dir", tmp_path / "missing", "--iterations", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert "no hook directory" in result.stderr


def test_demo_works_from_a_directory_without_hook_scripts(tmp_path: Path) -> None:
    """From anywhere else, the shipped examples are copied to a temporary directory whose
    path is printed; it is gone after the demo, and the current directory is untouched."""
    result = demo("--iterations", "2", "--interval", "0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    match = re.fullmatch(
        r"hookyard demo: no hook_scripts here; the example hooks are copied to (\S+) "
        r"\(removed when the demo stops\)",
        first,
    )
    assert match is not None, first
    assert Path(match.group(1)).name == "hook_scripts"
    assert not Path(match.group(1)).exists()
    assert "vetoed: instance name 'db_primary'" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_demo_uses_hook_scripts_in_the_current_directory(tmp_path: Path) -> None:
    """A ./hook_scripts is the one the demo serves (the repository's, for one)."""
    result = demo("--iterations", "1", "--interval", "0", cwd=REPO)
    assert result.stdout.splitlines()[0] == "hookyard demo: hooks from hook_scripts"


def test_demo_is_quiet_unless_verbose(tmp_path: Path) -> None:
    """By default a round shows what the hooks did, not the audit trail; --verbose adds
    the engine's load lines and an audit line per invocation."""
    quiet = demo("--iterations", "1", "--interval", "0", cwd=tmp_path).stdout
    assert "[hookyard.audit]" not in quiet and "[hookyard]" not in quiet
    assert "[api.notify] created web-1 (m1.small)" in quiet
    assert "[resize.10-cap] capped web-1 from m1.xlarge to m1.large" in quiet
    verbose = demo("--iterations", "1", "--interval", "0", "--verbose", cwd=tmp_path).stdout
    assert "[hookyard] hook script loaded:" in verbose
    assert "[hookyard.audit] create pre " in verbose
    assert "[api.notify] created web-1 (m1.small)" in verbose


def test_the_copy_can_be_edited_while_the_demo_runs(tmp_path: Path) -> None:
    """Adding a script to the printed directory changes the next rounds."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hookyard.cli", "demo", "--interval", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or ()])
    reader.start()
    copy = None
    try:
        first = lines.get(timeout=DEADLINE)
        copy = Path(first.split(" copied to ")[1].split(" (removed")[0])
        script = copy / "create" / "20-edited.py"
        staged = copy / "create" / ".20-edited.py.tmp"
        staged.write_text("def pre(name, flavor, **options):\n    log.info('edited %s', name)\n")
        staged.replace(script)
        while not (line := lines.get(timeout=DEADLINE).strip()).startswith("[create.20-edited]"):
            pass
        assert line.startswith("[create.20-edited] edited ")
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C: the demo stops and cleans up
        assert process.wait(timeout=DEADLINE) == 0
        reader.join(timeout=DEADLINE)
    assert copy is not None and not copy.exists()


def test_the_examples_ship_in_the_package() -> None:
    """The package holds the example scripts; the repository's hook_scripts is them."""
    assert sorted(p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.py")) == [
        "create/10-validate.py",
        "create/50-notify.py",
        "delete/10-protect.py",
        "delete/50-audit.py",
        "resize/10-cap.py",
    ]
    assert (REPO / "hook_scripts").resolve() == EXAMPLES.resolve()
