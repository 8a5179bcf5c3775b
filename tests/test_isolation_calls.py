"""The generated call path for scripts in workers (issue 13 point 4): a hooked call whose
scripts all live in workers runs generated code that calls the worker pool directly, with
the semantics of the general path for arguments of any plain data, every failure, and a
worker that dies half-way through a call."""

from __future__ import annotations

import logging
import os
import signal
import traceback
from pathlib import Path
from typing import Any

import pytest

import hookyard
from tests.conftest import BOTH_MODES, MakeEngine

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process isolation is POSIX-only")

HELPERS = (*hookyard.DEFAULT_MODULES, "tests.isolation_helpers")

KEEPER = """
def pre(order, count):
    order["seen"] = True
    order["items"].append("pre")
    state["orders"] = state.get("orders", 0) + 1

def post(rv, order, count):
    rv["items"].append("post")
    if count == 2:
        return {"id": rv["id"], "orders": state["orders"], "items": rv["items"]}
"""


@BOTH_MODES
def test_container_arguments_and_results_reach_scripts_as_copies(
    make_engine: MakeEngine,
) -> None:
    """Scripts get copies of container arguments and results however the host calls (by
    position, by keyword, with a bound object): what they change never reaches the host's
    objects; their state and the point's replacement work as ever."""
    engine = make_engine({"p/10-keeper.py": KEEPER})

    @engine.hook("p", result="replace")
    def host(order: dict[str, Any], count: int) -> dict[str, Any]:
        return {"id": 7, "items": list(order["items"])}

    class Shop:
        @engine.hook("p", result="replace")
        def place(self, order: dict[str, Any], count: int) -> dict[str, Any]:
            return {"id": 8, "items": list(order["items"])}

    order = {"items": ["host"]}
    first = host(order, 1)
    assert first == {"id": 7, "items": ["host"]}
    assert order == {"items": ["host"]}  # the pre's changes stayed in its copy
    assert host(order=order, count=2) == {"id": 7, "orders": 2, "items": ["host", "post"]}
    assert Shop().place(order, 2) == {"id": 8, "orders": 3, "items": ["host", "post"]}
    assert order == {"items": ["host"]}
    (status,) = engine.status()
    assert (status.calls, status.failures) == (6, 0)


@BOTH_MODES
def test_an_argument_that_cannot_cross_runs_no_script_and_counts_no_call(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """A host object among the arguments: the scripts do not run (logged, neither a call
    nor a failure in their counters) and the host function still runs, in both modes."""
    engine = make_engine({"p/10-keeper.py": KEEPER})

    @engine.hook("p")
    def host(order: object, count: int) -> dict[str, Any]:
        return {"id": 1, "items": []}

    assert host(object(), 1) == {"id": 1, "items": []}
    (status,) = engine.status()
    assert (status.calls, status.failures) == (0, 0)
    warned = [r.getMessage() for r in hook_log.records if r.levelno == logging.WARNING]
    assert any("10-keeper.py: pre: not run" in m for m in warned), warned
    assert any("10-keeper.py: post: not run" in m for m in warned), warned


def test_a_host_exception_passes_one_hookyard_frame_in_process_mode(
    make_engine: MakeEngine,
) -> None:
    """With scripts in a worker too, a call runs the generated code: between the caller and
    the host function there is the hooked function's frame only, whatever the arguments."""
    engine = make_engine({"p/10-keeper.py": KEEPER}, isolation="process")

    @engine.hook("p")
    def host(order: dict[str, Any], count: int) -> None:
        raise KeyError(count)

    with pytest.raises(KeyError) as raised:
        host({"items": []}, 1)
    frames = [f.name for f in traceback.extract_tb(raised.value.__traceback__)]
    assert frames[-3:] == [
        "test_a_host_exception_passes_one_hookyard_frame_in_process_mode",
        "hooked",
        "host",
    ]


TWO_STEPS = """
def pre(step):
    state["calls"] = state.get("calls", 0) + 1
    api.reached("{name}", state["calls"])
"""


@pytest.mark.parametrize("on_error", ["isolate", "raise"])
def test_a_worker_killed_during_the_second_script_blames_that_script(
    make_engine: MakeEngine, on_error: Any, hook_log: pytest.LogCaptureFixture
) -> None:
    """A worker killed (from outside) while a point's second script runs fails that script,
    not the first: the failure names it, counts against it alone, the host function runs
    on an isolate point (HookFailed on a raise point), and the next call is served by a
    fresh worker whose scripts' state starts empty."""
    reached: list[tuple[str, int]] = []
    engine: hookyard.HookEngine

    def kill_during(file: str, calls: int) -> None:
        reached.append((file, calls))
        if file == "20-second.py" and calls == 2:
            (pid,) = [p for p in engine._pool.pids()]  # type: ignore[union-attr]
            os.kill(pid, signal.SIGKILL)
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # dead before we answer

    engine = make_engine(
        {f"p/{name}": TWO_STEPS.format(name=name) for name in ("10-first.py", "20-second.py")},
        api={"reached": kill_during},
        isolation=hookyard.ProcessIsolation(workers=1, spare=False),
    )
    ran: list[int] = []

    @engine.hook("p", on_error=on_error)
    def host(step: int) -> int:
        ran.append(step)
        return step

    assert host(1) == 1
    if on_error == "raise":
        with pytest.raises(hookyard.HookFailed, match=r"20-second\.py: pre: the worker") as failed:
            host(2)
        assert "SIGKILL" in str(failed.value)
        assert ran == [1]
    else:
        assert host(2) == 2
        warned = [r.getMessage() for r in hook_log.records if r.levelno == logging.WARNING]
        assert any("20-second.py: pre: the worker was killed (SIGKILL" in m for m in warned)
        assert ran == [1, 2]
    assert host(3) == 3
    assert reached == [
        ("10-first.py", 1),
        ("20-second.py", 1),
        ("10-first.py", 2),
        ("20-second.py", 2),
        ("10-first.py", 1),  # a fresh worker: state started empty
        ("20-second.py", 1),
    ]
    status = {Path(s.file).name: (s.calls, s.failures) for s in engine.status()}
    assert status == {"10-first.py": (3, 0), "20-second.py": (3, 1)}


@BOTH_MODES
def test_budget_used_is_audited_once_a_listener_listens(make_engine: MakeEngine) -> None:
    """Calls made before an audit listener is added are not metered (no one listens);
    once one is, each call reports the budget operations its script used, and after it is
    removed calls go on with the same state."""
    engine = make_engine(
        {
            "p/10-loop.py": """
                def pre(n):
                    for i in range(n):
                        state["total"] = state.get("total", 0) + 1
            """
        }
    )
    events: list[Any] = []

    @engine.hook("p")
    def host(n: int) -> int:
        return n

    assert host(10) == 10
    engine.add_audit_listener(events.append)
    assert host(60) == 60
    engine.remove_audit_listener(events.append)
    assert host(5) == 5
    (event,) = events
    assert (event.phase, event.outcome) == ("pre", "ok")
    assert event.operations is not None and event.operations >= 60
    (status,) = engine.status()
    assert (status.calls, status.failures) == (3, 0)
