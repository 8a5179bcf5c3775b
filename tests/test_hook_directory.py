"""What the hook directory itself can get wrong (issue 18): a world-writable root, and files
that look like scripts but can never run. The engine refuses or logs them; ``hookyard
check``, ``list`` and ``audit`` report them as findings.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hookyard
from tests.conftest import BOTH_MODES, write_scripts

GOOD = "def pre(name):\n    log.info('ran %s', name)\n"
STRAYS = {
    "create.py": "a script must be inside its point's folder (move it to create/10-create.py)",
    "create/sub/10-x.py": "scripts in a folder inside a point folder are not loaded "
    "(move it up to create/)",
    "create/10-x.PY": "only a lower-case .py extension loads (rename it to 10-x.py)",
}


def hookyard_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hookyard.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def strays(tmp_path: Path) -> Path:
    """A hook directory with one script that runs and the three kinds that never do."""
    root = write_scripts(tmp_path / "hooks", {"create/50-good.py": GOOD})
    for relative in STRAYS:
        write_scripts(root, {relative: GOOD})
    # never findings: hidden, private and temporary names are left alone on purpose
    write_scripts(root, {".git/hooks/x.py": GOOD, "_lib/helper.py": GOOD, "create/.10-y.py": GOOD})
    return root


# -- a world-writable hook directory ------------------------------------------------------
@BOTH_MODES
@pytest.mark.parametrize("mode", [0o777, 0o1777])
def test_world_writable_root_is_refused_by_the_engine(
    tmp_path: Path, isolation: object, mode: int, caplog: pytest.LogCaptureFixture
) -> None:
    """``chmod 777 hooks`` (sticky bit or not: anyone could add a point folder of their
    own): every script is refused, naming the directory and the fix, and it is logged."""
    caplog.set_level(logging.WARNING, logger="hookyard")
    root = write_scripts(tmp_path / "hooks", {"create/10-x.py": GOOD})
    os.chmod(root, mode)
    calls: list[str] = []
    engine = hookyard.HookEngine(root, isolation=isolation)
    try:

        @engine.hook("create")
        def create(name: str) -> None:
            calls.append(name)

        (status,) = engine.status()
        assert not status.ok
        assert f"world-writable hook directory {root}" in (status.error or "")
        assert "chmod o-w" in (status.error or "")
        with pytest.raises(hookyard.ScriptError):
            engine.check()
        assert engine.points() == {"create": ()}
        create("web-1")
        assert calls == ["web-1"]
        assert any(
            f"{root}: refused: world-writable hook directory" in r.getMessage()
            for r in caplog.records
        )
        os.chmod(root, 0o755)
        engine.reload()
        assert engine.status()[0].ok
    finally:
        engine.close()


def test_world_writable_root_is_a_finding_of_check(tmp_path: Path) -> None:
    """``chmod 777 hooks; hookyard check hooks`` exits 1 naming the directory."""
    root = write_scripts(tmp_path / "hooks", {"create/10-x.py": GOOD})
    os.chmod(root, 0o777)
    result = hookyard_cli("check", root)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{root}: refused: world-writable hook directory (chmod o-w, or strict_modes=False)",
        f"{root}/create/10-x.py: refused: world-writable hook directory {root} "
        "(chmod o-w, or strict_modes=False)",
    ]
    os.chmod(root, 0o755)
    assert hookyard_cli("check", root).returncode == 0


def test_strict_modes_off_serves_a_world_writable_root(tmp_path: Path) -> None:
    """``strict_modes=False`` is the documented way out."""
    root = write_scripts(tmp_path / "hooks", {"create/10-x.py": GOOD})
    os.chmod(root, 0o777)
    engine = hookyard.HookEngine(root, strict_modes=False)
    assert engine.status()[0].ok


# -- files that can never run ---------------------------------------------------------------
@BOTH_MODES
def test_the_engine_logs_each_file_that_never_runs_once(
    strays: Path, isolation: object, caplog: pytest.LogCaptureFixture
) -> None:
    """A flat ``create.py``, a nested ``create/sub/10-x.py`` and ``create/10-x.PY`` are each
    logged once with the fix; reloading does not repeat them; the real script serves."""
    caplog.set_level(logging.WARNING, logger="hookyard")
    engine = hookyard.HookEngine(strays, isolation=isolation)
    try:
        engine.reload()
        engine.reload()
        logged = [r.getMessage() for r in caplog.records if "never runs" in r.getMessage()]
        expected = [f"{strays / relative}: never runs: {fix}" for relative, fix in STRAYS.items()]
        assert sorted(logged) == sorted(expected)
        assert engine.points() == {"create": ("50-good.py",)}
    finally:
        engine.close()


def test_check_list_and_audit_report_files_that_never_run(strays: Path) -> None:
    """Each of ``check``, ``list`` and ``audit`` shows every such file and exits 1."""
    expected = {f"{strays / relative}: never runs: {fix}" for relative, fix in STRAYS.items()}
    check = hookyard_cli("check", strays)
    assert check.returncode == 1
    assert set(check.stdout.splitlines()) == expected
    listing = hookyard_cli("list", strays)
    assert listing.returncode == 1
    assert {line.removeprefix("! ") for line in listing.stdout.splitlines()} >= expected
    assert "  50-good.py  pre" in listing.stdout.splitlines()
    audit = hookyard_cli("audit", strays)
    assert audit.returncode == 1
    assert {line.strip() for line in audit.stdout.splitlines()} >= expected
    document = json.loads(hookyard_cli("audit", strays, "--json").stdout)
    assert {f"{p['file']}: {p['message']}" for p in document["problems"]} == expected


def test_a_clean_directory_has_no_such_findings(tmp_path: Path) -> None:
    """Hidden, private and temporary names are no findings."""
    root = write_scripts(
        tmp_path / "hooks",
        {
            "create/10-x.py": GOOD,
            "create/10-x.py~": GOOD,
            "create/.#10-x.py": GOOD,
            "_lib/helper.py": GOOD,
            "..2024_01_01/create/10-x.py": GOOD,
        },
    )
    result = hookyard_cli("check", root)
    assert (result.returncode, result.stdout) == (0, "")
