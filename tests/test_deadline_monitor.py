"""The deadline monitor dozes while only module bodies run (issue 17, figure E): a body's
time limit still holds, timed from its start, and a call made meanwhile wakes it at once.

The doze is stretched to a minute here, so a limit that waited for the doze to end would
not be seen within the tests' generous waits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

import hookyard
from hookyard import _budget
from tests.conftest import MakeEngine, limit_exceeded

SPIN_BODY = "while True:\n    pass\n\ndef pre():\n    pass\n"
SPIN_CALL = "def pre():\n    while True:\n        pass\n"
WAIT = 60.0  # generous: a limit of 0.1 s is seen in far less on any machine


def _in_thread(action: Callable[[], Any]) -> Any:
    """``action()`` on another thread; its result, or the test fails if it does not finish."""
    done = threading.Event()
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(action())
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(WAIT), "the time limit was not enforced while the monitor dozed"
    assert result, "the action raised"
    return result[0]


def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait (polling, bounded) until ``condition()`` holds; the test fails if it never does."""
    pause = threading.Event()
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return
        pause.wait(0.01)
    raise AssertionError(what)


def _timed_invocation(seconds: float) -> Callable[[], None]:
    """Start a timed invocation (as a module body is) on another thread; what ends it."""
    release = threading.Event()
    opened = threading.Event()

    def body() -> None:
        with _budget.running(_budget.Budget(hookyard.Limits(seconds=seconds))):
            opened.set()
            release.wait(WAIT * 2)

    holder = threading.Thread(target=body, daemon=True)
    holder.start()
    assert opened.wait(WAIT)

    def end() -> None:
        release.set()
        holder.join(WAIT)

    return end


def _monitor_asleep(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """The monitor started once and now waits without a timeout; then the doze is
    stretched (a stretched doze would keep it from ever falling asleep)."""
    _timed_invocation(1.0)()  # starts it, should no earlier test have
    _until(lambda: _budget.MONITOR.asleep, "the monitor never fell asleep")
    monkeypatch.setattr(_budget, "_MONITOR_DOZE", 600.0)
    return lambda: None


def _monitor_dozing(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """The monitor dozes, a whole stretched doze ahead of it, for a long body that runs
    meanwhile (CI's failure: a body that began then went unseen for the whole doze)."""
    monkeypatch.setattr(_budget, "_MONITOR_DOZE", 600.0)
    end = _timed_invocation(3600.0)
    _until(lambda: _budget.MONITOR.idle and not _budget.MONITOR.asleep, "the monitor never dozed")
    return end


@pytest.mark.parametrize("monitor", [_monitor_asleep, _monitor_dozing], ids=["asleep", "dozing"])
def test_a_module_body_is_stopped_at_its_deadline_while_the_monitor_dozes(
    make_engine: MakeEngine,
    monkeypatch: pytest.MonkeyPatch,
    monitor: Callable[[pytest.MonkeyPatch], Callable[[], None]],
) -> None:
    """A spinning module body fails to load with the seconds limit, whatever the monitor
    was doing when the body began: a monitor asleep or dozing wakes at the body's
    deadline, not at the end of its doze."""
    end = monitor(monkeypatch)
    try:
        limits = hookyard.Limits(operations=2**40, seconds=0.1)
        engine = _in_thread(lambda: make_engine({"p/10-x.py": SPIN_BODY}, limits=limits))
    finally:
        end()
    (status,) = engine.status()
    assert not status.ok
    assert "LimitExceeded" in (status.error or "") and "while loading" in (status.error or "")


def test_a_call_wakes_a_dozing_monitor(
    make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a timed invocation (a module body) keeps the monitor dozing, a spinning call
    is still stopped by its own seconds limit: the call wakes the monitor."""
    engine = make_engine(
        {"p/10-x.py": SPIN_CALL}, limits=hookyard.Limits(operations=2**40, seconds=0.1)
    )

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return "served"

    end = _monitor_dozing(monkeypatch)  # (calls of earlier tests keep it watching a while)
    try:
        exceeded = _in_thread(lambda: limit_exceeded(host))
        assert exceeded.limit == "seconds"
    finally:
        end()
