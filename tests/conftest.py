"""Shared fixtures: build a hook directory from source strings and an engine over it."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import hookyard

# Property tests check what they generate, not how fast: on a loaded CI machine generating
# deep values takes seconds, and Hypothesis' wall-clock health check and deadline then fail
# runs whose every example passed.
settings.register_profile("hookyard", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hookyard")


def write_scripts(root: Path, scripts: dict[str, str]) -> Path:
    """Write ``{"point/name.py": source}`` under ``root`` (dedented); return ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for relative, source in scripts.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return root


MakeEngine = Callable[..., hookyard.HookEngine]


def limit_exceeded(call: Callable[..., Any], *args: Any) -> hookyard.LimitExceeded:
    """Call a hooked function on an ``on_error="raise"`` point; the LimitExceeded that
    its HookFailed carries (the test fails if it raises anything else)."""
    with pytest.raises(hookyard.HookFailed) as caught:
        call(*args)
    cause = caught.value.__cause__
    assert isinstance(cause, hookyard.LimitExceeded), caught.value
    return cause


# Semantic test modules say ``pytestmark = BOTH_MODES``: each test runs in-process and with
# process isolation (no spare worker: the semantics are the same, and starting fewer
# processes keeps the suite quick on a small machine).
PROCESS = hookyard.ProcessIsolation(spare=False)
BOTH_MODES = pytest.mark.parametrize("isolation", ["inline", pytest.param(PROCESS, id="process")])


@pytest.fixture
def isolation() -> object:
    """The ``isolation=`` make_engine uses unless told: inline, or what BOTH_MODES gives."""
    return "inline"


@pytest.fixture
def make_engine(tmp_path: Path, isolation: object) -> Iterator[MakeEngine]:
    """``make_engine({"point/10-x.py": "def pre(x): ..."}, **engine_options)``."""
    engines: list[hookyard.HookEngine] = []

    def make(scripts: dict[str, str] | None = None, **options: Any) -> hookyard.HookEngine:
        root = write_scripts(tmp_path / "hooks", scripts or {})
        options.setdefault("isolation", isolation)
        engine = hookyard.HookEngine(root, **options)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


@pytest.fixture
def hook_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog capturing everything hookyard and its scripts log."""
    caplog.set_level(logging.DEBUG, logger="hookyard")
    return caplog
