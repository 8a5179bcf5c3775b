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


def test_a_module_body_is_stopped_at_its_deadline_while_the_monitor_dozes(
    make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spinning module body fails to load with the seconds limit: a dozing monitor
    wakes at the nearest body's deadline, not at the end of its doze."""
    monkeypatch.setattr(_budget, "_MONITOR_DOZE", 600.0)
    limits = hookyard.Limits(operations=2**40, seconds=0.1)
    engine = _in_thread(lambda: make_engine({"p/10-x.py": SPIN_BODY}, limits=limits))
    (status,) = engine.status()
    assert not status.ok
    assert "LimitExceeded" in (status.error or "") and "while loading" in (status.error or "")


def test_a_call_wakes_a_dozing_monitor(
    make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a timed invocation (a module body) keeps the monitor dozing, a spinning call
    is still stopped by its own seconds limit: the call wakes the monitor."""
    monkeypatch.setattr(_budget, "_MONITOR_DOZE", 600.0)
    engine = make_engine(
        {"p/10-x.py": SPIN_CALL}, limits=hookyard.Limits(operations=2**40, seconds=0.1)
    )

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return "served"

    release = threading.Event()
    opened = threading.Event()

    def long_body() -> None:
        with _budget.running(_budget.Budget(hookyard.Limits(seconds=3600.0))):
            opened.set()
            release.wait(WAIT * 2)

    holder = threading.Thread(target=long_body, daemon=True)
    holder.start()
    try:
        assert opened.wait(WAIT)
        pause = threading.Event()
        for _ in range(int(WAIT / 0.01)):  # calls of earlier tests keep it watching a while
            if _budget.MONITOR.idle and not _budget.MONITOR.asleep:
                break
            pause.wait(0.01)
        assert _budget.MONITOR.idle and not _budget.MONITOR.asleep, "the monitor never dozed"
        exceeded = _in_thread(lambda: limit_exceeded(host))
        assert exceeded.limit == "seconds"
    finally:
        release.set()
        holder.join(WAIT)
