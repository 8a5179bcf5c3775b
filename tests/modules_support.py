"""Running a script body against the module facades, as a host would (tests/test_modules_*)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from typing import Any

import hookyard
from tests.conftest import MakeEngine, limit_exceeded

# A small budget: each exploding call is refused (or stops) quickly.
SMALL = hookyard.Limits(operations=200_000, seconds=5.0, size=200_000)


def module_point(
    make_engine: MakeEngine,
    body: str,
    modules: Iterable[str],
    *,
    limits: hookyard.Limits = SMALL,
) -> Callable[[str], Any]:
    """A hooked function ``f(mode)`` whose post hook imports ``modules`` and returns what
    ``body`` returns (the result replaces the host's); ``f("ok")`` answers "served" without
    running ``body``, to show the host keeps serving."""
    imports = "".join(f"import {name}\n" for name in modules)
    source = (
        f"{imports}\ndef post(rv, mode):\n    if mode == 'ok':\n        return 'served'\n"
        + textwrap.indent(textwrap.dedent(body).strip() + "\n", "    ")
    )
    engine = make_engine({"p/10-x.py": source}, modules=tuple(modules), limits=limits)
    assert all(s.ok for s in engine.status()), engine.status()

    @engine.hook("p", result="replace", on_error="raise")
    def f(mode: str) -> Any:
        return None

    return f


def run(make_engine: MakeEngine, body: str, *modules: str) -> Any:
    """What ``body`` returns in a script that imported ``modules``."""
    return module_point(make_engine, body, modules)("run")


def explodes(make_engine: MakeEngine, body: str, *modules: str) -> hookyard.LimitExceeded:
    """``body`` stops with LimitExceeded, and the host's next call is served."""
    f = module_point(make_engine, body, modules)
    exceeded = limit_exceeded(f, "run")
    assert f("ok") == "served"
    return exceeded


def fails(make_engine: MakeEngine, body: str, *modules: str) -> str:
    """``body`` raises an ordinary exception in the script: its rebuilt message."""
    f = module_point(make_engine, body, modules)
    try:
        f("run")
    except hookyard.HookFailed as failed:
        cause = failed.__cause__
        assert cause is not None and not isinstance(cause, hookyard.LimitExceeded), failed
        return f"{type(cause).__name__}: {cause}"
    raise AssertionError("the script did not fail")
