"""The public namespaces (DESIGN.md "Namespaces"): ``hookyard`` holds what a host needs to
run hooks, at most 20 names; the static audit and the trail's sinks live in
``hookyard.audit``; the path rules in a module the engine, watcher and audit all import.
"""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

import hookyard
import hookyard.audit

SRC = Path(hookyard.__file__).parent

# what DESIGN.md lists for the top level
HOST_NAMES = {
    "HookEngine",
    "add_hook",
    "configure",
    "Limits",
    "Breaker",
    "ProcessIsolation",
    "PointOptions",
    "no_side_effects",
    "ScriptStatus",
    "HookError",
    "HookVetoed",
    "HookFailed",
    "LimitExceeded",
    "ScriptError",
}
AUDIT_NAMES = {
    "AuditEvent",
    "AuditLog",
    "DirectoryAudit",
    "Finding",
    "HostConfig",
    "ReachChange",
    "ScriptAudit",
    "Site",
    "audit_directory",
    "audit_source",
    "reach_change",
}
# built by issue 16 (helper rollout); present once that work is merged
ROLLOUT = {"Breaker", "no_side_effects"}


def public(module: object) -> set[str]:
    return {name for name in dir(module) if not name.startswith("_")}


def test_the_top_level_holds_at_most_20_names() -> None:
    """``hookyard.__all__`` has at most 20 names and every one exists."""
    assert len(hookyard.__all__) <= 20
    assert all(hasattr(hookyard, name) for name in hookyard.__all__)
    assert hookyard.__all__ == sorted(hookyard.__all__, key=lambda n: (not n.isupper(), n))


def test_a_fresh_import_shows_only_the_namespace() -> None:
    """``import hookyard`` alone shows ``__all__`` and the errors module, nothing else."""
    code = "import hookyard; print(sorted(n for n in dir(hookyard) if not n.startswith('_')))"
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert set(ast.literal_eval(shown)) == {*hookyard.__all__, "errors"}


@pytest.mark.xfail(
    not public(hookyard) >= ROLLOUT,
    reason="Breaker and no_side_effects arrive with issue 16 (helper rollout)",
    strict=True,
)
def test_the_names_design_lists_are_at_the_top() -> None:
    """The engine, add_hook/configure, Limits, Breaker, ProcessIsolation, PointOptions,
    no_side_effects, ScriptStatus and the errors."""
    assert set(hookyard.__all__) >= HOST_NAMES


def test_the_names_there_now_are_at_the_top() -> None:
    """Every DESIGN name but the two issue 16 adds is already there."""
    assert set(hookyard.__all__) >= HOST_NAMES - ROLLOUT


def test_the_audit_api_lives_in_hookyard_audit() -> None:
    """The static audit and the trail's sinks moved out of the top level."""
    assert set(hookyard.audit.__all__) == AUDIT_NAMES
    assert not AUDIT_NAMES & set(hookyard.__all__)
    with pytest.raises(AttributeError):
        hookyard.audit_directory  # type: ignore[attr-defined]  # noqa: B018


def test_the_version_is_the_installed_one() -> None:
    """``hookyard.__version__`` is the distribution's version."""
    assert hookyard.__version__ == importlib.metadata.version("hookyard")


def _imports(module: str) -> set[str]:
    """Our modules ``module`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse((SRC / f"{module}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def _reaches(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for name in _imports(todo.pop()) - seen:
            if (SRC / f"{name}.py").exists():
                seen.add(name)
                todo.append(name)
    return seen


def test_the_path_rules_break_the_import_circle() -> None:
    """``_paths`` imports nothing of ours; neither ``_audit`` nor ``_watcher`` reaches
    ``_engine`` (the circle ``_audit`` -> ``_engine`` -> ``_watcher`` -> ``_engine``)."""
    assert _imports("_paths") == set()
    assert "_engine" not in _reaches("_audit")
    assert "_engine" not in _reaches("_watcher")
    for module in ("_audit", "_engine", "_watcher"):
        assert "_paths" in _imports(module)
