"""Bad input files: each gets a clear error naming the file; nothing else is affected."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import hookyard
from tests.conftest import write_scripts

GOOD = "def post(rv):\n    return 'good'\n"


def _engine_with(
    tmp_path: Path, name: str, content: bytes, **options: object
) -> hookyard.HookEngine:
    root = write_scripts(tmp_path / "hooks", {"p/50-good.py": GOOD})
    (root / "p" / name).write_bytes(content)
    return hookyard.HookEngine(root, **options)  # type: ignore[arg-type]


def _bad_and_good(engine: hookyard.HookEngine, name: str) -> tuple[hookyard.ScriptStatus, str]:
    @engine.hook("p", result="replace")
    def host() -> str:
        return "body"

    (bad,) = [s for s in engine.status() if s.file.endswith(name)]
    return bad, host()


CASES = {
    "syntax error": (b"def pre(:\n    pass\n", "10-bad.py:1", "SyntaxError"),
    "indentation error": (b"def pre():\npass\n", "10-bad.py:2", "IndentationError"),
    "non-UTF-8": (b"def pre():\n    x = '\xff\xfe'\n", "10-bad.py:2", "not UTF-8"),
    "NUL byte": (b"def pre():\n    pass\x00\n", "10-bad.py:2", "NUL"),
    "empty": (b"", "10-bad.py:1", "empty"),
    "whitespace only": (b"\n\n   \n", "10-bad.py:1", "empty"),
    "no hook functions": (b"x = 1\n", "10-bad.py", "none of pre, post, error"),
    "pre is not a function": (b"pre = 42\n", "10-bad.py", "pre must be a function"),
    "module body raises": (b"def pre():\n    pass\n{}['missing']\n", "10-bad.py:3", "KeyError"),
    "module body loops": (
        b"def pre():\n    pass\nwhile True:\n    pass\n",
        "10-bad.py:3",
        "LimitExceeded",
    ),
    "denied name": (b"def pre():\n    return __import__('os')\n", "10-bad.py:2", "__import__"),
    "deeply nested expression": (
        b"x = " + b"(" * 5000 + b"1" + b")" * 5000 + b"\n",
        "10-bad.py",
        "Error",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_is_reported_by_name_and_others_serve(tmp_path: Path, case: str) -> None:
    """Each bad file is reported with its file (and line where there is one); the good script still serves."""
    content, where, what = CASES[case]
    engine = _engine_with(tmp_path, "10-bad.py", content)
    bad, result = _bad_and_good(engine, "10-bad.py")
    assert bad.ok is False
    assert bad.error is not None
    assert where in bad.error
    assert what in bad.error
    assert result == "good"


def test_file_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    """A file over max_script_bytes is refused without being read."""
    content = b"def pre():\n    pass\n" + b"# padding\n" * 2000
    engine = _engine_with(tmp_path, "10-bad.py", content, max_script_bytes=1024)
    bad, result = _bad_and_good(engine, "10-bad.py")
    assert not bad.ok
    assert "10-bad.py" in (bad.error or "") and "limit" in (bad.error or "")
    assert result == "good"


def test_a_script_at_the_size_cap_loads_and_one_byte_more_is_refused(tmp_path: Path) -> None:
    """max_script_bytes is the largest size that loads: one byte more is refused."""
    head = b"def post(rv):\n    return 'at cap'\n"
    content = head + b"#" * (1024 - len(head) - 1) + b"\n"
    assert len(content) == 1024
    engine = _engine_with(tmp_path, "10-cap.py", content, max_script_bytes=1024)
    (status,) = [s for s in engine.status() if s.file.endswith("10-cap.py")]
    assert status.ok, status.error
    engine = _engine_with(tmp_path / "over", "10-cap.py", content + b"#", max_script_bytes=1024)
    bad, result = _bad_and_good(engine, "10-cap.py")
    assert not bad.ok and "1,025 bytes is over the 1,024-byte limit" in (bad.error or "")
    assert result == "good"


def _stat_reporting(path: Path, size: int) -> Callable[..., os.stat_result]:
    """``os.lstat`` that reports ``size`` bytes for ``path``: a file that grew after it
    was looked at, before it was read."""
    real = os.lstat

    def lstat(name: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        info = real(name, *args, **kwargs)
        if os.fspath(name) != str(path):
            return info
        fields = list(info[:10])
        fields[6] = size  # st_size
        return os.stat_result(fields)

    return lstat


def test_a_script_that_grew_after_its_stat_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read goes on past the size the file had when looked at: a script that grew
    meanwhile loads as it is now, all of it."""
    root = write_scripts(tmp_path / "hooks", {"p/50-good.py": GOOD})
    script = root / "p" / "10-grown.py"
    script.write_text("x = 1\n" + "# note\n" * 12_000 + "def post(rv):\n    return x\n")
    monkeypatch.setattr(os, "lstat", _stat_reporting(script, 10))
    engine = hookyard.HookEngine(root)

    @engine.hook("p", result="replace")
    def host() -> str:
        return "body"

    assert all(status.ok for status in engine.status())
    assert host() == "good"  # 50-good.py runs after 10-grown.py: both served


def test_a_script_that_grew_past_the_cap_after_its_stat_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file small when looked at but over max_script_bytes when read is refused,
    naming the file and the limit."""
    root = write_scripts(tmp_path / "hooks", {"p/50-good.py": GOOD})
    script = root / "p" / "10-grown.py"
    script.write_bytes(b"def pre():\n    pass\n" + b"#" * 5000)
    monkeypatch.setattr(os, "lstat", _stat_reporting(script, 100))
    engine = hookyard.HookEngine(root, max_script_bytes=1024)
    bad, result = _bad_and_good(engine, "10-grown.py")
    assert not bad.ok and "over the 1,024-byte limit" in (bad.error or "")
    assert result == "good"


def test_huge_file_default_cap(tmp_path: Path) -> None:
    """The default cap (256 KiB) refuses a multi-megabyte script."""
    engine = _engine_with(tmp_path, "10-bad.py", b"#" * (3 * 1024 * 1024))
    bad, result = _bad_and_good(engine, "10-bad.py")
    assert not bad.ok and "byte" in (bad.error or "")
    assert result == "good"


def test_symlink_leading_outside_is_refused(tmp_path: Path) -> None:
    """A symlink whose target is outside the hook directory is refused, naming the target."""
    outside = tmp_path / "outside.py"
    outside.write_text("def post(rv):\n    return 'outside'\n")
    root = write_scripts(tmp_path / "hooks", {"p/50-good.py": GOOD})
    (root / "p" / "10-link.py").symlink_to(outside)
    engine = hookyard.HookEngine(root)
    bad, result = _bad_and_good(engine, "10-link.py")
    assert not bad.ok
    assert "symlink leads outside" in (bad.error or "")
    assert result == "good"


def test_symlink_inside_the_directory_is_allowed(tmp_path: Path) -> None:
    """A symlink to another file inside the hook directory loads."""
    root = write_scripts(
        tmp_path / "hooks", {"shared/impl.txt": "def post(rv):\n    return 'linked'\n"}
    )
    (root / "p").mkdir()
    (root / "p" / "10-link.py").symlink_to(root / "shared" / "impl.txt")
    engine = hookyard.HookEngine(root)

    @engine.hook("p", result="replace")
    def host() -> str:
        return "body"

    assert host() == "linked"


def test_broken_symlink_is_reported(tmp_path: Path) -> None:
    """A dangling symlink is reported, not crashed on."""
    root = write_scripts(tmp_path / "hooks", {"p/50-good.py": GOOD})
    (root / "p" / "10-link.py").symlink_to(tmp_path / "nowhere.py")
    engine = hookyard.HookEngine(root)
    bad, result = _bad_and_good(engine, "10-link.py")
    assert not bad.ok and "symlink" in (bad.error or "")
    assert result == "good"


def test_world_writable_script_is_refused(tmp_path: Path) -> None:
    """A world-writable script is refused (like sshd's StrictModes)."""
    root = write_scripts(tmp_path / "hooks", {"p/50-good.py": GOOD, "p/10-bad.py": GOOD})
    os.chmod(root / "p" / "10-bad.py", 0o666)
    engine = hookyard.HookEngine(root)
    bad, _ = _bad_and_good(engine, "10-bad.py")
    assert not bad.ok and "world-writable" in (bad.error or "")


def test_world_writable_directory_is_refused(tmp_path: Path) -> None:
    """Scripts in a world-writable point directory (without the sticky bit) are refused."""
    root = write_scripts(tmp_path / "hooks", {"p/10-bad.py": GOOD})
    os.chmod(root / "p", 0o777)
    engine = hookyard.HookEngine(root)
    (bad,) = engine.status()
    assert not bad.ok and "world-writable directory" in (bad.error or "")


def test_strict_modes_can_be_turned_off(tmp_path: Path) -> None:
    """strict_modes=False is the documented opt-out."""
    root = write_scripts(tmp_path / "hooks", {"p/10-x.py": GOOD})
    os.chmod(root / "p" / "10-x.py", 0o666)
    engine = hookyard.HookEngine(root, strict_modes=False)
    (status,) = engine.status()
    assert status.ok


def test_editor_droppings_and_other_files_are_ignored(tmp_path: Path) -> None:
    """Swap files, backups, JetBrains temp files, hidden files and non-.py files never load."""
    root = write_scripts(
        tmp_path / "hooks",
        {
            "p/10-x.py": GOOD,
            "p/.10-x.py.swp": "garbage",
            "p/10-x.py~": "def post(rv):\n    return 'backup'\n",
            "p/4913": "probe",
            "p/10-x.py___jb_tmp___": "def post(rv):\n    return 'tmp'\n",
            "p/10-x.py___jb_old___": "def post(rv):\n    return 'old'\n",
            "p/.hidden.py": "def post(rv):\n    return 'hidden'\n",
            "p/notes.txt": "hello",
            ".git/config.py": "def post(rv):\n    return 'git'\n",
            "__pycache__/x.py": "def post(rv):\n    return 'cache'\n",
        },
    )
    engine = hookyard.HookEngine(root)
    assert [s.file for s in engine.status()] == [str(root / "p" / "10-x.py")]


def test_missing_directory_loads_nothing(tmp_path: Path) -> None:
    """An engine over a directory that does not exist yet starts empty (and logs it)."""
    engine = hookyard.HookEngine(tmp_path / "not-yet")
    assert engine.status() == []

    @engine.hook("p")
    def host() -> str:
        return "body"

    assert host() == "body"


def test_symlinked_point_folder_leading_outside_is_refused(tmp_path: Path) -> None:
    """A point folder that is a symlink to a folder outside the hook directory loads nothing."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "10-x.py").write_text("def post(rv):\n    return 'outside'\n")
    root = tmp_path / "hooks"
    root.mkdir()
    (root / "p").symlink_to(outside, target_is_directory=True)
    engine = hookyard.HookEngine(root)
    (status,) = engine.status()
    assert not status.ok
    assert "leads outside" in (status.error or "")
