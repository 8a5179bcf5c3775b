"""``hookyard replay DIR POINT FILE [--json]`` (DESIGN.md "Safe rollout"), through the real
command: recorded calls against today's scripts, what differs, exit codes, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import hookyard
from tests.conftest import BOTH_MODES, write_scripts

CHECK = """
def pre(name, size, **options):
    if api.quota(name) < size:
        raise Veto(f"{name}: over quota")
"""
TAG = """
def post(rv, name, size, **options):
    return {**rv, "tag": api.label(rv["id"])}
"""
STRICT = """
def pre(name, size, **options):
    if size > 2:
        raise Veto(f"{name}: size {size} is over 2")
"""


def hookyard_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hookyard.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def record_calls(directory: Path, path: Path, isolation: Any = "inline") -> None:
    """A host with quota/label api functions, recording three calls of `create`."""
    quotas = {"web": 4, "db": 1}
    engine = hookyard.HookEngine(
        directory,
        api={"quota": lambda name: quotas.get(name, 0), "label": lambda n: f"label-{n}"},
        isolation=isolation,
    )
    try:

        @engine.hook("create", veto=True, result="replace")
        def create(name: str, size: int, **options: Any) -> dict[str, Any]:
            if name == "boom":
                raise RuntimeError("host failed")
            return {"id": len(name), "name": name, "size": size, "when": options.get("when")}

        engine.record("create", path)
        create("web", 3, when=(2024, 5))
        with pytest.raises(hookyard.HookVetoed):
            create("db", 3)
        create("web", 1)
    finally:
        engine.close()


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, Path]:
    directory = write_scripts(
        tmp_path / "hooks", {"create/10-check.py": CHECK, "create/50-tag.py": TAG}
    )
    path = tmp_path / "create.jsonl"
    record_calls(directory, path)
    return directory, path


@BOTH_MODES
def test_unchanged_scripts_replay_the_same(tmp_path: Path, isolation: Any) -> None:
    """Recorded in either mode, today's unchanged scripts give every call the same
    outcome: api calls get their recorded answers, the host's recorded result stands in
    (a tuple argument is a tuple again); exit 0."""
    directory = write_scripts(
        tmp_path / "hooks",
        {
            "create/10-check.py": CHECK,
            "create/50-tag.py": TAG,
            "create/60-types.py": """
                def pre(name, size, **options):
                    when = options.get("when")
                    if when is not None and not isinstance(when, tuple):
                        raise Veto("when is no longer a tuple")
            """,
        },
    )
    path = tmp_path / "create.jsonl"
    record_calls(directory, path, isolation)
    result = hookyard_cli("replay", directory, "create", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "replayed 3 calls: 0 differ"


def test_an_edit_that_changes_outcomes_is_shown(recorded: tuple[Path, Path]) -> None:
    """A stricter script: each call whose outcome differs is printed with its line, the
    final outcome and the script outcome that changed; exit 1."""
    directory, path = recorded
    (directory / "create" / "20-strict.py").write_text(STRICT, encoding="utf-8")
    result = hookyard_cli("replay", directory, "create", path)
    assert result.returncode == 1, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == "line 1: differs"
    assert out[1].startswith("  outcome: result ")
    assert out[1].endswith(" -> vetoed by 20-strict.py: web: size 3 is over 2")
    assert out[2] == "  20-strict.py pre: absent -> veto (web: size 3 is over 2)"
    assert out[-1] == "replayed 3 calls: 1 differ"


def test_json_output(recorded: tuple[Path, Path]) -> None:
    """--json prints the same findings as one JSON document."""
    directory, path = recorded
    (directory / "create" / "20-strict.py").write_text(STRICT, encoding="utf-8")
    result = hookyard_cli("replay", directory, "create", path, "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert (report["point"], report["replayed"], report["differ"]) == ("create", 3, 1)
    (call,) = report["calls"]
    assert call["line"] == 1 and call["differs"] is True
    assert {"what": "20-strict.py pre", "recorded": "absent"}.items() <= call["differences"][
        1
    ].items()


def test_trying_a_shadow_then_enforcing_it(recorded: tuple[Path, Path]) -> None:
    """A shadow's would-be veto shows as a difference of its outcome only (the final
    outcome stands); renamed to enforce, the final outcome changes too."""
    directory, path = recorded
    folder = directory / "create"
    (folder / "20-strict.shadow.py").write_text(STRICT, encoding="utf-8")
    shadow = hookyard_cli("replay", directory, "create", path)
    assert shadow.returncode == 1
    assert shadow.stdout.splitlines()[:2] == [
        "line 1: differs",
        "  20-strict.shadow.py pre: absent -> shadow-veto "
        "(would have vetoed the call: web: size 3 is over 2)",
    ]
    os.rename(folder / "20-strict.shadow.py", folder / "20-strict.py")
    enforced = hookyard_cli("replay", directory, "create", path)
    assert "vetoed by 20-strict.py" in enforced.stdout


def test_an_unrecorded_api_call_returns_none_and_is_reported(
    recorded: tuple[Path, Path],
) -> None:
    """An api call the recording does not hold returns None and is listed."""
    directory, path = recorded
    (directory / "create" / "30-ask.py").write_text(
        "def pre(name, size, **options):\n"
        "    if api.quota(name + '-extra') is not None:\n"
        "        raise Veto('an unrecorded call got an answer')\n",
        encoding="utf-8",
    )
    result = hookyard_cli("replay", directory, "create", path)
    assert result.returncode == 0, result.stdout
    assert "  api.quota('web-extra') was not recorded: it returned None" in result.stdout
    # (the second call is vetoed before 30-ask runs)
    assert result.stdout.splitlines()[-1] == "replayed 3 calls: 0 differ, 2 api calls not recorded"


def test_a_truncated_recording_names_the_line(recorded: tuple[Path, Path]) -> None:
    """A recording cut short mid-line is refused before anything runs, naming the line."""
    directory, path = recorded
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    result = hookyard_cli("replay", directory, "create", path)
    assert result.returncode == 2
    assert f"{path}:3: not a recorded call: not JSON" in result.stderr
    assert "cut short?" in result.stderr


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda line: line.replace('"$tuple"', '"$tupel"'), "unknown tag '$tupel'"),
        (lambda line: line.replace('"on_error":"isolate"', '"on_error":"never"'), "on_error"),
        (lambda line: "{}", "engine.record() writes lines"),
        (lambda line: line.replace('"outcome":{"result"', '"outcome":{"nothing"'), "outcome"),
        (lambda line: line.replace('"args":[', '"args":{"$set":['), "not JSON"),
    ],
)
def test_a_hand_edited_recording_names_the_line(
    recorded: tuple[Path, Path], edit: Any, says: str
) -> None:
    """A line edited into something that is not a recorded call is refused, naming it."""
    directory, path = recorded
    first, *rest = path.read_text(encoding="utf-8").splitlines()
    edited = edit(first)
    assert edited != first
    path.write_text("\n".join([edited, *rest]) + "\n", encoding="utf-8")
    result = hookyard_cli("replay", directory, "create", path)
    assert result.returncode == 2
    assert f"{path}:1: " in result.stderr
    assert says in result.stderr


def test_a_recording_of_another_point_is_refused(recorded: tuple[Path, Path]) -> None:
    """Replaying a recording against the wrong point says which point it holds."""
    directory, path = recorded
    write_scripts(directory, {"delete/10-x.py": "def pre(*a, **k):\n    pass\n"})
    result = hookyard_cli("replay", directory, "delete", path)
    assert result.returncode == 2
    assert f"{path} holds calls of point 'create' (line 1), not 'delete'" in result.stderr


def test_a_missing_point_or_file_is_a_usage_error(recorded: tuple[Path, Path]) -> None:
    """An unknown point, a missing file: exit 2 with the reason."""
    directory, path = recorded
    assert hookyard_cli("replay", directory, "nope", path).returncode == 2
    missing = hookyard_cli("replay", directory, "create", path.with_name("missing.jsonl"))
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr


def test_list_shows_shadow_scripts(tmp_path: Path) -> None:
    """hookyard list marks shadow scripts."""
    directory = write_scripts(
        tmp_path / "hooks",
        {"create/10-a.py": "def pre():\n    pass\n", "create/50-b.shadow.py": STRICT},
    )
    result = hookyard_cli("list", directory)
    assert result.returncode == 0
    rows = result.stdout.splitlines()
    assert rows[1].split() == ["10-a.py", "pre"]
    assert "50-b.shadow.py" in rows[2] and "shadow" in rows[2].split("pre", 1)[1]
