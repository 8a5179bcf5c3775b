"""Boundary values: what a post may hand back as a replacement result."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

import hookyard
from tests.conftest import BOTH_MODES, MakeEngine, write_scripts

REFUSED_RESULTS = {
    "function": "def post(rv, *a):\n    return post\n",
    "lambda": "def post(rv, *a):\n    return lambda: 1\n",
    "class": "class A:\n    pass\ndef post(rv, *a):\n    return A\n",
    "instance": "class A:\n    pass\ndef post(rv, *a):\n    return A()\n",
    "generator": "def post(rv, *a):\n    return (x for x in [1])\n",
    "module facade": "import math\ndef post(rv, *a):\n    return math\n",
    "log": "def post(rv, *a):\n    return log\n",
    "api": "def post(rv, *a):\n    return api\n",
    "exception": "def post(rv, *a):\n    return ValueError('x')\n",
    "function in a dict": "def post(rv, *a):\n    return {'ok': [1, {'f': post}]}\n",
    "builtin": "def post(rv, *a):\n    return len\n",
    "type": "def post(rv, *a):\n    return int\n",
}


@pytest.mark.parametrize("name", sorted(REFUSED_RESULTS))
def test_non_plain_result_is_refused_by_name(tmp_path: Path, name: str) -> None:
    """A replacement that is not plain data fails with HookFailed naming the type; the host result stands on isolate."""
    root = write_scripts(tmp_path / "hooks", {"p/10-x.py": REFUSED_RESULTS[name]})
    engine = hookyard.HookEngine(root)

    @engine.hook("p", result="replace", on_error="raise")
    def strict() -> str:
        return "host result"

    @engine.hook("p", result="replace")
    def lenient() -> str:
        return "host result"

    with pytest.raises(hookyard.HookFailed, match="cannot cross") as caught:
        strict()
    assert isinstance(caught.value.__cause__, hookyard.BoundaryError)
    assert lenient() == "host result"


def test_plain_results_cross_with_their_shape(tmp_path: Path) -> None:
    """Plain data crosses intact: nested containers, shared references and cycles."""
    root = write_scripts(
        tmp_path / "hooks",
        {
            "p/10-x.py": """
                def post(rv, *a):
                    shared = [1, 2]
                    loop = []
                    loop.append(loop)
                    return {"pair": [shared, shared], "loop": loop, "t": (1, "x", None),
                            "s": {1, 2}, "f": 1.5, "b": b"raw"}
            """
        },
    )
    engine = hookyard.HookEngine(root)

    @engine.hook("p", result="replace")
    def host() -> object:
        return None

    result = host()
    assert isinstance(result, dict)
    assert result["pair"][0] is result["pair"][1]
    assert result["loop"][0] is result["loop"]
    assert result["t"] == (1, "x", None)
    assert result["s"] == {1, 2}
    assert result["b"] == b"raw"


def test_deeply_nested_result_fails_the_crossing_not_the_host(tmp_path: Path) -> None:
    """A script returning a structure nested 100,000 deep gets a BoundaryError; the host call survives."""
    root = write_scripts(
        tmp_path / "hooks",
        {
            "p/10-x.py": "def post(rv, *a):\n    x = []\n    for i in range(100000):\n        x = [x]\n    return x\n"
        },
    )
    # a generous wall clock: on a loaded machine building the value must not hit the
    # time limit before the crossing is what fails
    engine = hookyard.HookEngine(root, limits=hookyard.Limits(seconds=60))

    @engine.hook("p", result="replace")
    def lenient() -> str:
        return "host result"

    @engine.hook("p", result="replace", on_error="raise")
    def strict() -> str:
        return "host result"

    assert lenient() == "host result"
    with pytest.raises(hookyard.HookFailed, match="nested too deeply"):
        strict()


def test_deeply_nested_host_argument_does_not_break_the_call(tmp_path: Path) -> None:
    """A host argument nested too deeply to copy skips the scripts (isolate) instead of raising RecursionError."""
    root = write_scripts(tmp_path / "hooks", {"p/10-x.py": "def pre(x):\n    pass\n"})
    engine = hookyard.HookEngine(root)

    @engine.hook("p")
    def host(x: object) -> str:
        return "served"

    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert host(deep) == "served"


# -- issue 12, family 4: what crosses to the host is sanitised and safe for it ---------------
def _chain(exc: BaseException | None) -> list[BaseException]:
    """Every exception reachable from ``exc`` through __cause__ and __context__."""
    seen: list[BaseException] = []
    stack = [exc]
    while stack:
        current = stack.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        stack.extend((current.__cause__, current.__context__))
    return seen


def _script_frames(exc: BaseException, script_dir: Path) -> list[str]:
    """Files of frames under ``script_dir`` in the tracebacks of ``exc``'s chain."""
    found = []
    for item in _chain(exc):
        tb = item.__traceback__
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if filename.startswith(str(script_dir)):
                found.append(filename)
            tb = tb.tb_next
    return found


RAISES_IN_HANDLER = """
def pre(kind):
    try:
        {}[kind]
    except KeyError:
        if kind == "veto":
            raise Veto("refused") from None
        raise ValueError("sanitised") from None
"""


@BOTH_MODES
def test_a_failure_reaches_the_host_without_the_scripts_exceptions(
    make_engine: MakeEngine, tmp_path: Path
) -> None:
    """`raise X from None` inside a script's except block still sets __context__ in
    Python: neither HookFailed nor HookVetoed carries it, and nothing in their chains has a
    traceback through the script."""
    engine = make_engine({"p/10-x.py": RAISES_IN_HANDLER})

    @engine.hook("p", on_error="raise", veto=True)
    def host(kind: str) -> str:
        return "served"

    with pytest.raises(hookyard.HookFailed) as failed:
        host("error")
    with pytest.raises(hookyard.HookVetoed) as vetoed:
        host("veto")
    for caught in (failed.value, vetoed.value):
        assert caught.__context__ is None
        assert _script_frames(caught, tmp_path / "hooks") == []
    chain = _chain(failed.value)
    assert [type(e).__name__ for e in chain] == ["HookFailed", "ValueError"]
    cause = failed.value.__cause__
    assert cause is not None and cause.__traceback__ is None and cause.__context__ is None
    assert vetoed.value.__cause__ is None and vetoed.value.reason == "refused"


UNRENDERABLE = """
def pre(kind):
    if kind == "int":
        raise ValueError(10 ** 5000)
    if kind == "generator":
        raise ValueError((x for x in [1]), pre)
    raise Veto(10 ** 5000)
"""


@BOTH_MODES
@pytest.mark.parametrize("kind", ["int", "generator", "veto"])
def test_an_exception_that_cannot_be_rendered_is_still_isolated(
    make_engine: MakeEngine, kind: str
) -> None:
    """On an isolating point a script's exception never makes the host call raise, even
    when its message cannot be rendered (an int past the digit limit) or holds a
    generator or a function; on a raising point HookFailed says what it could."""
    engine = make_engine({"p/10-x.py": UNRENDERABLE})

    @engine.hook("p")
    def lenient(kind: str) -> str:
        return "served"

    @engine.hook("p", on_error="raise")
    def strict(kind: str) -> str:
        return "served"

    assert lenient(kind) == "served"
    with pytest.raises(hookyard.HookFailed) as caught:
        strict(kind)
    message = str(caught.value)
    assert "<int of" in message or "<generator>" in message
    cause = caught.value.__cause__
    assert cause is not None
    assert all(type(arg) is str for arg in cause.args)


HANDS_OVER = """
def post(rv, kind):
    if kind == "int":
        return 10 ** 5000
    if kind == "laughs":
        a = ["x"] * 1000
        b = [a] * 1000
        return [b] * 1000
    if kind == "shared":
        a = ["x"] * 100
        return [a] * 100
    if kind == "api":
        api.notify(10 ** 5000)
    return None
"""


@BOTH_MODES
@pytest.mark.parametrize("kind", ["int", "laughs"])
def test_values_the_host_could_not_handle_are_refused(make_engine: MakeEngine, kind: str) -> None:
    """A replacement the host could not print or encode -- an int past the digit limit, a
    "billion laughs" value of 3,000 slots that expands to 10**9 -- is refused at the
    boundary: the host's result stands on isolate, HookFailed names it on raise."""
    engine = make_engine({"p/10-x.py": HANDS_OVER})

    @engine.hook("p", result="replace")
    def lenient(kind: str) -> str:
        return "host result"

    @engine.hook("p", result="replace", on_error="raise")
    def strict(kind: str) -> str:
        return "host result"

    assert lenient(kind) == "host result"
    with pytest.raises(hookyard.HookFailed, match="cannot cross") as caught:
        strict(kind)
    assert isinstance(caught.value.__cause__, hookyard.BoundaryError)


@BOTH_MODES
def test_shared_values_within_the_size_limit_cross(make_engine: MakeEngine) -> None:
    """A value whose shared parts expand to no more than Limits.size crosses with its
    sharing kept; the host can print and JSON-encode it."""
    engine = make_engine({"p/10-x.py": HANDS_OVER})

    @engine.hook("p", result="replace", on_error="raise")
    def host(kind: str) -> object:
        return None

    result = host("shared")
    assert isinstance(result, list) and len(result) == 100
    assert result[0] is result[99]
    assert json.loads(json.dumps(result)) == [["x"] * 100] * 100


@BOTH_MODES
def test_api_arguments_the_host_could_not_handle_are_refused(make_engine: MakeEngine) -> None:
    """An api call with an int the host could not print is refused before the host's
    function runs; the script sees a TypeError naming the function."""
    received: list[object] = []
    engine = make_engine({"p/10-x.py": HANDS_OVER}, api={"notify": received.append})

    @engine.hook("p", result="replace", on_error="raise")
    def host(kind: str) -> object:
        return None

    with pytest.raises(hookyard.HookFailed, match=r"api\.notify") as caught:
        host("api")
    assert isinstance(caught.value.__cause__, TypeError)
    assert received == []


class _HostZone(datetime.tzinfo):
    """A host-side tzinfo with code of its own (like zoneinfo.ZoneInfo)."""

    def utcoffset(self, dt: datetime.datetime | None) -> datetime.timedelta:
        return datetime.timedelta(hours=2)

    def tzname(self, dt: datetime.datetime | None) -> str:
        return "HOST"

    def dst(self, dt: datetime.datetime | None) -> datetime.timedelta:
        return datetime.timedelta(0)


@BOTH_MODES
def test_dates_carry_only_the_standard_timezone(make_engine: MakeEngine) -> None:
    """A host datetime with its own tzinfo reaches the script with a fixed timezone of the
    same offset and name (the host's tzinfo object is never handed over), and what comes
    back carries only datetime.timezone."""
    engine = make_engine(
        {
            "p/10-x.py": "def post(rv, when):\n    return [when, when.tzname(), str(when.utcoffset())]\n"
        }
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host(when: datetime.datetime) -> object:
        return None

    when = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=_HostZone())
    back, name, offset = host(when)
    assert type(back.tzinfo) is datetime.timezone
    assert back == when and (name, offset) == ("HOST", "2:00:00")
