"""The generated call path (issue 17): a point's hooked functions run generated code for
its plan, with the same semantics as the general path for every call shape and failure."""

from __future__ import annotations

import decimal
import logging
import traceback
from pathlib import Path
from typing import Any

import pytest

import hookyard
from tests.conftest import BOTH_MODES, MakeEngine

COUNT = """
def pre(x, y):
    state["calls"] = state.get("calls", 0) + 1

def post(rv, x, y):
    if rv == "replace me":
        return f"replaced after {state['calls']} calls"
"""
FAIL_PRE = """
def pre(x, y):
    if x == "fail":
        raise ValueError("pre failed")
    if x == "veto":
        raise Veto("no")
"""
FAIL_POST = """
def post(rv, x, y):
    if x == "post-fail":
        raise ValueError("post failed")
"""


@BOTH_MODES
def test_atoms_and_containers_give_the_same_results(make_engine: MakeEngine) -> None:
    """Calls with atom arguments, with containers, by keyword and with a missing argument
    all run the same scripts, keep the same state and count the same calls (the pre
    given one argument fails, as the host function then does)."""
    engine = make_engine({"p/10-count.py": COUNT})

    @engine.hook("p", result="replace")
    def host(x: Any, y: Any) -> Any:
        return x

    assert host("a", 1) == "a"
    assert host(["a"], {"b": 1}) == ["a"]
    assert host(x="a", y=2) == "a"
    assert host("replace me", 3) == "replaced after 4 calls"
    with pytest.raises(TypeError, match="missing 1 required positional argument"):
        host("a")  # the host function's own error, as without hooks
    (status,) = engine.status()
    assert (status.calls, status.failures) == (9, 1)


def test_a_host_exception_passes_one_hookyard_frame(make_engine: MakeEngine) -> None:
    """Between the caller and the host function there is one frame, the hooked function's
    (in-process, a point whose scripts are budget-free, called with atoms)."""
    engine = make_engine({"p/10-count.py": COUNT})

    @engine.hook("p")
    def host(x: str, y: int) -> None:
        raise KeyError(x)

    host_line = host.__wrapped__.__code__.co_firstlineno  # type: ignore[attr-defined]
    with pytest.raises(KeyError) as raised:
        host("a", 1)
    frames = traceback.extract_tb(raised.value.__traceback__)
    assert [f.name for f in frames][-2:] == ["hooked", "host"]
    assert frames[-3].name == "test_a_host_exception_passes_one_hookyard_frame"
    assert frames[-1].lineno > host_line


@BOTH_MODES
@pytest.mark.parametrize("on_error", ["isolate", "raise"])
def test_failures_part_way_through(
    make_engine: MakeEngine, on_error: Any, hook_log: pytest.LogCaptureFixture
) -> None:
    """A pre or post that fails in the middle of a call is handled as ever: on an isolate
    point logged with file:line while the call goes on (the scripts after it run); on a
    raise point HookFailed with the sanitised cause and nothing after it runs; a veto
    vetoes."""
    ran: list[str] = []
    engine = make_engine(
        {
            "p/10-pre.py": FAIL_PRE,
            "p/20-after.py": "def pre(x, y):\n    api.ran('20-pre')\n",
            "p/30-post.py": FAIL_POST,
            "p/40-after.py": "def post(rv, x, y):\n    api.ran('40-post')\n",
        },
        api={"ran": ran.append},
    )

    @engine.hook("p", on_error=on_error, veto=True)
    def host(x: str, y: int) -> str:
        ran.append("host")
        return x

    with pytest.raises(hookyard.HookVetoed):
        host("veto", 1)
    assert ran == []
    if on_error == "raise":
        with pytest.raises(hookyard.HookFailed, match=r"10-pre\.py:4: pre: ValueError") as failed:
            host("fail", 1)
        assert isinstance(failed.value.__cause__, ValueError)
        assert failed.value.__cause__.__context__ is None
        assert ran == []
        with pytest.raises(hookyard.HookFailed, match=r"30-post\.py:4: post: ValueError"):
            host("post-fail", 1)
        assert ran == ["20-pre", "host"]
    else:
        assert host("fail", 1) == "fail"
        assert host("post-fail", 1) == "post-fail"
        assert ran == ["20-pre", "host", "40-post"] * 2
        warned = [r.getMessage() for r in hook_log.records if r.levelno == logging.WARNING]
        assert any("10-pre.py:4: pre: ValueError: pre failed" in m for m in warned)
        assert any("30-post.py:4: post: ValueError: post failed" in m for m in warned)
    status = {Path(s.file).name: (s.calls, s.failures, s.vetoes) for s in engine.status()}
    assert status["10-pre.py"][1:] == (1, 1)


def test_kept_data_is_measured_on_the_generated_path(make_engine: MakeEngine) -> None:
    """A budget-free script that keeps a value per call is still measured against
    Limits.kept on the generated path (in-process): past it the state is dropped and the
    call reports the limit."""
    engine = make_engine(
        {"p/10-keep.py": "def pre(x, y):\n    state[x] = y\n"},
        limits=hookyard.Limits(kept=100),
        breaker=hookyard.Breaker(failures=0),
    )

    @engine.hook("p", on_error="raise")
    def host(x: int, y: int) -> int:
        return x

    failures = []
    for n in range(2_000):
        try:
            host(n, n)
        except hookyard.HookFailed as exc:
            failures.append(str(exc))
    assert failures
    assert all("kept limit (100 items kept between calls) exceeded" in f for f in failures)


@BOTH_MODES
def test_methods_take_the_generated_path(make_engine: MakeEngine) -> None:
    """A hooked method: the bound object reaches the host function, never the scripts."""
    engine = make_engine({"p/10-count.py": COUNT})

    class Service:
        def __init__(self) -> None:
            self.name = "svc"

        @engine.hook("p", result="replace")
        def host(self, x: Any, y: Any) -> Any:
            return x if x == "replace me" else f"{self.name}:{x}"

    service = Service()
    assert service.host("a", 1) == "svc:a"
    assert Service.host(service, "b", 2) == "svc:b"
    assert service.host("replace me", 3) == "replaced after 3 calls"


@BOTH_MODES
def test_a_run_of_failures_ends_with_a_success(make_engine: MakeEngine) -> None:
    """After failures, successes are counted again (the breaker's run ends), in either
    path."""
    engine = make_engine(
        {"p/10-pre.py": FAIL_PRE}, breaker=hookyard.Breaker(failures=3, cooldown=600)
    )

    @engine.hook("p")
    def host(x: str, y: int) -> str:
        return x

    for x in ["fail", "fail", "ok", "fail", "fail", "ok", "fail", "fail"]:
        host(x, 1)
    (status,) = engine.status()
    assert (status.calls, status.failures, status.tripped) == (8, 6, False)
    host("fail", 1)
    assert engine.status()[0].tripped is True


DECIMAL_COMPARE = """
import decimal

def post(rv, x):
    return x < 1
"""


@BOTH_MODES
def test_a_decimal_script_compares_in_its_own_context(make_engine: MakeEngine) -> None:
    """A script that imported decimal runs in a decimal context of its own on every path:
    comparing NaN raises InvalidOperation there (the script fails, the host's result
    stands) even while the host's own context has that trap off."""
    engine = make_engine(
        {"p/10-compare.py": DECIMAL_COMPARE}, modules=[*hookyard.DEFAULT_MODULES, "decimal"]
    )

    @engine.hook("p", result="replace")
    def host(x: Any) -> Any:
        return "host"

    assert host(decimal.Decimal(0)) is True
    with decimal.localcontext() as context:
        context.traps[decimal.InvalidOperation] = False
        assert host(decimal.Decimal("NaN")) == "host"
        assert host(decimal.Decimal(0)) is True
    (status,) = engine.status()
    assert (status.calls, status.failures) == (3, 1)
