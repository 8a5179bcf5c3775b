"""The circuit breaker (DESIGN.md "Safe rollout"): a script that fails ``failures`` times
in a row stops running until a new version or a successful try after ``cooldown``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import hookyard
from tests._reload_support import DEADLINE, write_inplace
from tests.conftest import BOTH_MODES, MakeEngine

# fails for "bad", counts every run in `api.ran`
FLAKY = """
def pre(x):
    api.ran(x)
    if x == "bad":
        raise ValueError("bad input")
"""
SPIN = """
def pre(x):
    api.ran(x)
    if x == "bad":
        while True:
            pass
"""
VETO = """
def pre(x):
    raise Veto("no")
"""


class Runs:
    """An api function counting the script's runs (the evidence that it ran at all)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, x: str) -> None:
        self.seen.append(x)


def outcomes(engine: hookyard.HookEngine) -> list[tuple[str, str | None]]:
    events: list[tuple[str, str | None]] = []
    engine.add_audit_listener(
        lambda e: events.append((e.outcome, e.message)) if e.phase != "load" else None
    )
    return events


def make(
    make_engine: MakeEngine, source: str, breaker: hookyard.Breaker, **options: Any
) -> tuple[hookyard.HookEngine, Runs]:
    runs = Runs()
    engine = make_engine({"p/10-x.py": source}, api={"ran": runs}, breaker=breaker, **options)
    return engine, runs


def until(condition: Callable[[], bool]) -> None:
    """Wait for ``condition`` (polled) within the tests' generous deadline."""
    end = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.01)


@BOTH_MODES
def test_a_script_failing_in_a_row_is_tripped_and_calls_go_on(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """After `failures` failures in a row the script no longer runs on an isolate point;
    the calls go on; tripping is logged at WARNING and audited (tripped, then skipped)."""
    engine, runs = make(make_engine, FLAKY, hookyard.Breaker(failures=3, cooldown=600))
    events = outcomes(engine)

    @engine.hook("p")
    def host(x: str) -> str:
        return f"served {x}"

    for _ in range(3):
        assert host("bad") == "served bad"
    assert [o for o, _ in events] == ["error", "error", "error", "tripped"]
    assert engine.status()[0].tripped is True
    warnings = [r.getMessage() for r in hook_log.records if r.levelno == logging.WARNING]
    assert any("10-x.py" in m and "tripped after 3 failures in a row" in m for m in warnings)
    events.clear()
    assert host("good") == "served good"
    assert runs.seen == ["bad"] * 3  # it did not run again
    ((outcome, message),) = events
    assert outcome == "skipped"
    assert message is not None and "not run: tripped after 3 failures in a row" in message
    status = engine.status()[0]
    assert (status.calls, status.failures) == (3, 3)


@BOTH_MODES
def test_a_tripped_script_on_a_raising_point_raises_at_once(make_engine: MakeEngine) -> None:
    """On an on_error="raise" point each call raises HookFailed naming the tripped script
    without running it (no budget spent: it does not run at all)."""
    engine, runs = make(
        make_engine,
        SPIN,
        hookyard.Breaker(failures=2, cooldown=600),
        limits=hookyard.Limits(operations=20_000),
    )

    @engine.hook("p", on_error="raise")
    def host(x: str) -> str:
        return "served"

    for _ in range(2):
        with pytest.raises(hookyard.HookFailed) as failed:
            host("bad")
        assert isinstance(failed.value.__cause__, hookyard.LimitExceeded)
    for x in ("good", "bad"):
        with pytest.raises(hookyard.HookFailed, match="not run: tripped") as tripped:
            host(x)
        assert tripped.value.script.endswith("10-x.py")
        assert tripped.value.__cause__ is None
    assert runs.seen == ["bad", "bad"]
    assert engine.status()[0].calls == 2


@BOTH_MODES
def test_vetoes_are_never_failures(make_engine: MakeEngine) -> None:
    """Vetoes are counted apart (vetoes), not as failures, and never trip the breaker."""
    engine, _ = make(make_engine, VETO, hookyard.Breaker(failures=2, cooldown=600))

    @engine.hook("p", veto=True)
    def host(x: str) -> str:
        return "served"

    for _ in range(5):
        with pytest.raises(hookyard.HookVetoed):
            host("a")
    status = engine.status()[0]
    assert (status.calls, status.vetoes, status.failures, status.tripped) == (5, 5, 0, False)


@BOTH_MODES
def test_a_success_ends_the_run_of_failures(make_engine: MakeEngine) -> None:
    """Failures must come in a row: one success in between starts the count again."""
    engine, runs = make(make_engine, FLAKY, hookyard.Breaker(failures=3, cooldown=600))

    @engine.hook("p")
    def host(x: str) -> str:
        return "served"

    for x in ["bad", "bad", "good", "bad", "bad", "good", "bad", "bad"]:
        host(x)
    assert engine.status()[0].tripped is False
    assert len(runs.seen) == 8


@BOTH_MODES
def test_a_new_version_resets_it_and_other_reloads_do_not(
    make_engine: MakeEngine, tmp_path: Path, hook_log: pytest.LogCaptureFixture
) -> None:
    """The breaker's state survives reloads of other files; a new version of its own file
    resets it (logged at WARNING)."""
    runs = Runs()
    engine = make_engine(
        {"p/10-x.py": FLAKY, "p/20-other.py": "def pre(x):\n    pass\n"},
        api={"ran": runs},
        breaker=hookyard.Breaker(failures=2, cooldown=600),
    )

    @engine.hook("p")
    def host(x: str) -> str:
        return "served"

    host("bad")
    host("bad")
    folder = tmp_path / "hooks" / "p"
    write_inplace(folder / "20-other.py", "def pre(x):\n    return None\n")
    engine.reload()
    host("good")
    assert runs.seen == ["bad", "bad"]
    assert engine.status()[0].tripped is True
    write_inplace(folder / "10-x.py", FLAKY + "\n# fixed\n")
    engine.reload()
    assert engine.status()[0].tripped is False
    host("good")
    assert runs.seen == ["bad", "bad", "good"]
    warnings = [r.getMessage() for r in hook_log.records if r.levelno == logging.WARNING]
    assert any("10-x.py" in m and "breaker reset" in m for m in warnings)


@BOTH_MODES
def test_after_the_cooldown_a_success_closes_it(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """After `cooldown` seconds a call runs the script again; its success closes the
    breaker (logged at WARNING, and the call's audit event says so)."""
    engine, runs = make(make_engine, FLAKY, hookyard.Breaker(failures=1, cooldown=0.2))
    events = outcomes(engine)

    @engine.hook("p")
    def host(x: str) -> str:
        return "served"

    host("bad")
    assert engine.status()[0].tripped is True

    def tried() -> bool:
        host("good")
        return "good" in runs.seen

    until(tried)
    assert runs.seen == ["bad", "good"]
    assert engine.status()[0].tripped is False
    assert ("ok", "breaker closed: ran again after its cooldown") in events
    host("good")
    assert runs.seen == ["bad", "good", "good"]
    warnings = [r.getMessage() for r in hook_log.records if r.levelno == logging.WARNING]
    assert any("breaker closed" in m for m in warnings)


@BOTH_MODES
def test_after_the_cooldown_a_failure_trips_it_again(make_engine: MakeEngine) -> None:
    """A failed try after the cooldown trips it for another cooldown."""
    engine, runs = make(make_engine, FLAKY, hookyard.Breaker(failures=1, cooldown=0.2))
    events = outcomes(engine)

    @engine.hook("p")
    def host(x: str) -> str:
        return "served"

    host("bad")

    def tried() -> bool:
        host("bad")
        return len(runs.seen) == 2

    until(tried)
    assert engine.status()[0].tripped is True
    assert [o for o, _ in events].count("tripped") == 2
    host("bad")  # within the new cooldown: not run
    assert len(runs.seen) == 2


@BOTH_MODES
def test_one_call_tries_it_again(make_engine: MakeEngine) -> None:
    """While the call trying a tripped script after its cooldown runs, other calls skip
    it: one call tries it, not every call that arrives."""
    inside = threading.Event()
    release = threading.Event()

    def gate(x: str) -> None:
        if x == "slow":
            inside.set()
            assert release.wait(DEADLINE)

    runs = Runs()
    engine = make_engine(
        {
            "p/10-x.py": "def pre(x):\n    api.ran(x)\n    api.gate(x)\n    if x == 'bad':\n"
            "        raise ValueError('bad')\n"
        },
        api={"ran": runs, "gate": gate},
        breaker=hookyard.Breaker(failures=1, cooldown=0.2),
    )

    @engine.hook("p")
    def host(x: str) -> str:
        return "served"

    host("bad")
    time_tripped = time.monotonic()
    until(lambda: time.monotonic() - time_tripped > 0.3)
    trying = threading.Thread(target=host, args=("slow",))
    trying.start()
    assert inside.wait(DEADLINE)
    for _ in range(5):
        assert host("other") == "served"
    release.set()
    trying.join(DEADLINE)
    assert runs.seen == ["bad", "slow"]


@BOTH_MODES
@pytest.mark.parametrize(
    ("breaker", "runs"), [({}, 5), ({"breaker": hookyard.Breaker(failures=0)}, 12)]
)
def test_on_by_default_and_off_with_failures_zero(
    make_engine: MakeEngine, breaker: dict[str, Any], runs: int
) -> None:
    """Without breaker=, five failures in a row trip a script; Breaker(failures=0) keeps
    it running however often it fails."""
    seen = Runs()
    engine = make_engine({"p/10-x.py": FLAKY}, api={"ran": seen}, **breaker)

    @engine.hook("p")
    def host(x: str) -> str:
        return "served"

    for _ in range(12):
        host("bad")
    assert len(seen.seen) == runs
    assert engine.status()[0].tripped is (runs < 12)


@BOTH_MODES
def test_a_tripped_shadow_never_raises(make_engine: MakeEngine) -> None:
    """A shadow that keeps failing is tripped too, and even on a raising point its being
    tripped changes nothing for the call."""
    runs = Runs()
    engine = make_engine(
        {"p/10-x.shadow.py": FLAKY},
        api={"ran": hookyard.no_side_effects(runs)},
        breaker=hookyard.Breaker(failures=2, cooldown=600),
    )

    @engine.hook("p", on_error="raise")
    def host(x: str) -> str:
        return "served"

    for _ in range(4):
        assert host("bad") == "served"
    assert runs.seen == ["bad", "bad"]
    assert engine.status()[0].tripped is True


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"failures": -1}, ValueError),
        ({"failures": 1.5}, TypeError),
        ({"cooldown": 0}, ValueError),
        ({"cooldown": float("nan")}, ValueError),
    ],
)
def test_bad_breaker_options_are_refused(options: dict[str, Any], error: type) -> None:
    """Breaker options are checked when made, naming the option."""
    with pytest.raises(error, match="Breaker"):
        hookyard.Breaker(**options)


@BOTH_MODES
def test_breaker_must_be_a_breaker(make_engine: MakeEngine) -> None:
    """breaker=5 is a TypeError naming the option and the expected shape."""
    with pytest.raises(TypeError, match=r"breaker must be a hookyard\.Breaker"):
        make_engine({}, breaker=5)
