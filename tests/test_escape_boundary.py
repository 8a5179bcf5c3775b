"""Boundary values: what a post may hand back as a replacement result."""

from __future__ import annotations

from pathlib import Path

import pytest

import hookyard
from tests.conftest import write_scripts

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
    engine = hookyard.HookEngine(root)

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
