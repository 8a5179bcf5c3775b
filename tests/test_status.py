"""engine.status(): one record per script with point, file, version, ok, error, calls, failures."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import hookyard
from tests.conftest import BOTH_MODES, MakeEngine, write_scripts

pytestmark = BOTH_MODES

GOOD = "def pre(x):\n    if x == 'fail':\n        raise ValueError('asked to')\n"
BROKEN = "def pre(x):\n    return x +\n"


def test_status_for_a_good_and_a_broken_file(make_engine: MakeEngine) -> None:
    """A good file reports its sha256 and ok; a broken one reports ok=False with file:line."""
    engine = make_engine({"p/10-good.py": GOOD, "p/20-broken.py": BROKEN})
    good, broken = engine.status()
    assert good.point == "p"
    assert good.file.endswith("p/10-good.py")
    assert good.version == hashlib.sha256(GOOD.encode()).hexdigest()
    assert good.ok is True
    assert good.error is None
    assert broken.file.endswith("p/20-broken.py")
    assert broken.ok is False
    assert broken.version is None
    assert broken.error is not None
    assert "20-broken.py:2" in broken.error
    assert "SyntaxError" in broken.error


def test_status_counts_calls_and_failures(make_engine: MakeEngine) -> None:
    """calls counts hook function invocations; failures those that failed."""
    engine = make_engine({"p/10-good.py": GOOD})

    @engine.hook("p")
    def host(x: str) -> None: ...

    host("a")
    host("fail")
    host("b")
    (record,) = engine.status()
    assert (record.calls, record.failures) == (3, 1)


def test_broken_script_does_not_stop_the_others(make_engine: MakeEngine) -> None:
    """A script that fails to compile is not run; the point's other scripts still are."""
    engine = make_engine(
        {"p/10-broken.py": BROKEN, "p/20-good.py": "def post(rv, x):\n    return 'good ran'\n"}
    )

    @engine.hook("p", result="replace")
    def host(x: str) -> str:
        return "body"

    assert host("a") == "good ran"


def test_script_with_denied_name_reports_line(make_engine: MakeEngine) -> None:
    """A RestrictedPython refusal is a load error naming file and line."""
    engine = make_engine(
        {"p/10-x.py": "def pre():\n    pass\n\ndef post(rv):\n    return rv.__dict__\n"}
    )
    (record,) = engine.status()
    assert record.ok is False
    assert record.error is not None
    assert "10-x.py:5" in record.error
    assert "__dict__" in record.error


def test_script_without_hook_functions_is_reported(make_engine: MakeEngine) -> None:
    """A script defining none of pre/post/error, or an empty file, is reported as not loaded."""
    engine = make_engine({"p/10-none.py": "x = 1\n", "p/20-empty.py": ""})
    none, empty = engine.status()
    assert not none.ok and "none of pre, post, error" in (none.error or "")
    assert not empty.ok and "20-empty.py:1" in (empty.error or "")


def test_module_body_error_names_the_line(make_engine: MakeEngine) -> None:
    """A module body that raises is a load failure with file:line."""
    engine = make_engine({"p/10-x.py": "def pre():\n    pass\n\nraise ValueError('at load')\n"})
    (record,) = engine.status()
    assert not record.ok
    assert "10-x.py:4" in (record.error or "")
    assert "ValueError: at load" in (record.error or "")


def test_reload_by_hand_picks_up_changes(make_engine: MakeEngine) -> None:
    """engine.reload() loads new files, reloads changed ones and drops deleted ones."""
    engine = make_engine({"p/10-a.py": "def post(rv):\n    return 'a'\n"})
    root = engine.directory

    @engine.hook("p", result="replace")
    def host() -> str:
        return "body"

    assert host() == "a"
    (root / "p" / "10-a.py").write_text("def post(rv):\n    return 'a2'\n")
    (root / "q").mkdir()
    (root / "q" / "10-q.py").write_text("def pre():\n    pass\n")
    engine.reload()
    assert host() == "a2"
    assert [s.point for s in engine.status()] == ["p", "q"]
    (root / "p" / "10-a.py").unlink()
    engine.reload()
    assert host() == "body"
    assert [s.point for s in engine.status()] == ["q"]


def test_failed_edit_keeps_last_good_version(make_engine: MakeEngine) -> None:
    """A file that stops compiling keeps its last good version serving, with the error reported."""
    engine = make_engine({"p/10-a.py": "def post(rv):\n    return 'v1'\n"})

    @engine.hook("p", result="replace")
    def host() -> str:
        return "body"

    (engine.directory / "p" / "10-a.py").write_text("def post(rv):\n    return (\n")
    engine.reload()
    assert host() == "v1"
    (record,) = engine.status()
    assert record.ok is False
    assert record.version is not None
    assert "10-a.py:" in (record.error or "")


def test_check_raises_script_error_naming_file_and_line(tmp_path: Path, isolation: object) -> None:
    """engine.check() raises ScriptError listing each broken script as file:line, with the
    first one's file and line as attributes; it returns quietly once every script loads."""
    write_scripts(
        tmp_path,
        {
            "p/10-ok.py": "def pre():\n    pass\n",
            "p/20-bad.py": "def pre():\n    pass\n\ndef post(rv:\n",
            "q/10-import.py": "import os\n",
        },
    )
    engine = hookyard.HookEngine(tmp_path, isolation=isolation)  # type: ignore[arg-type]
    with pytest.raises(hookyard.ScriptError) as caught:
        engine.check()
    error = caught.value
    assert isinstance(error, hookyard.HookError)
    assert error.file == str(tmp_path / "p" / "20-bad.py")
    assert error.line == 4
    assert f"{tmp_path / 'p' / '20-bad.py'}:4:" in str(error)
    assert "q/10-import.py:1:" in str(error)
    assert "10-ok.py" not in str(error)
    (tmp_path / "p" / "20-bad.py").write_text("def post(rv):\n    return None\n")
    (tmp_path / "q" / "10-import.py").unlink()
    engine.reload()
    engine.check()
    engine.close()
