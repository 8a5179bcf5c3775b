"""The seed's spelling: hookyard.configure(directory) + @hookyard.add_hook(name)."""

from __future__ import annotations

from pathlib import Path

import hookyard
from tests.conftest import write_scripts


def test_add_hook_before_configure_runs_nothing_then_scripts(tmp_path: Path) -> None:
    """add_hook works at import time, before configure; configure then loads the scripts."""

    @hookyard.add_hook("seed-create", result="replace")
    def create(x: int, y: int, z: int = 1) -> int:
        return x + y + z

    assert create(1, 2) == 4
    root = write_scripts(
        tmp_path / "hooks",
        {"seed-create/10-x.py": "def post(rv, x, y, z=1):\n    return rv * 100\n"},
    )
    engine = hookyard.configure(root)
    try:
        assert hookyard.default_engine() is engine
        assert create(1, 2) == 400
    finally:
        engine.close()


def test_configure_again_replaces_the_default_engine(tmp_path: Path) -> None:
    """A second configure() points the same decorated functions at the new directory."""

    @hookyard.add_hook("seed-point", result="replace")
    def host() -> str:
        return "body"

    first = write_scripts(
        tmp_path / "one", {"seed-point/10-x.py": "def post(rv):\n    return 'one'\n"}
    )
    second = write_scripts(
        tmp_path / "two", {"seed-point/10-x.py": "def post(rv):\n    return 'two'\n"}
    )
    hookyard.configure(first)
    assert host() == "one"
    engine = hookyard.configure(second)
    try:
        assert host() == "two"
    finally:
        engine.close()
