"""Methods (the bound object never reaches a script) and async host functions."""

from __future__ import annotations

import asyncio
import inspect

import pytest

import hookyard
from tests.conftest import MakeEngine

ECHO = "def post(rv, *args, **kwargs):\n    return [list(args), kwargs]\n"


def test_method_called_through_instance_hides_self(make_engine: MakeEngine) -> None:
    """Reached through an instance, the script sees the arguments after self."""
    engine = make_engine({"m/10-echo.py": ECHO})

    class Service:
        def __init__(self) -> None:
            self.secret = "host object"

        @engine.hook("m", result="replace")
        def create(self, name: str, size: int = 1) -> object:
            return self.secret

    assert Service().create("web", size=2) == [["web"], {"size": 2}]


def test_method_called_through_class_hides_the_instance(make_engine: MakeEngine) -> None:
    """Service.create(svc, ...) hides svc from scripts too, and the body still gets it."""
    engine = make_engine({"m/10-echo.py": ECHO})
    bodies: list[object] = []

    class Service:
        @engine.hook("m", result="replace")
        def create(self, name: str) -> object:
            bodies.append(self)
            return None

    service = Service()
    assert Service.create(service, "web") == [["web"], {}]
    assert bodies == [service]


def test_classmethod_hides_the_class(make_engine: MakeEngine) -> None:
    """A hooked classmethod passes the class to the body but not to scripts."""
    engine = make_engine({"m/10-echo.py": ECHO})

    class Service:
        @classmethod
        @engine.hook("m", result="replace")
        def build(cls, name: str) -> object:
            return cls.__name__

    assert Service.build("web") == [["web"], {}]


def test_staticmethod_passes_every_argument(make_engine: MakeEngine) -> None:
    """A hooked staticmethod binds nothing, so scripts see all of its arguments."""
    engine = make_engine({"m/10-echo.py": ECHO})

    class Service:
        @staticmethod
        @engine.hook("m", result="replace")
        def build(name: str, size: int) -> object:
            return None

    assert Service.build("web", 3) == [["web", 3], {}]
    assert Service().build("db", 4) == [["db", 4], {}]


def test_method_keeps_the_host_object_out_of_a_mutating_script(make_engine: MakeEngine) -> None:
    """A method whose instance is not plain data still runs its scripts (self is never copied)."""
    engine = make_engine({"m/10-x.py": "def pre(items):\n    items.append('evil')\n"})

    class Service:
        def __init__(self) -> None:
            self.lock = object()  # not plain data: copying self would fail

        @engine.hook("m", on_error="raise")
        def add(self, items: list[str]) -> list[str]:
            return items

    items = ["a"]
    assert Service().add(items) == ["a"]


def test_async_function_runs_hooks_around_the_awaited_call(make_engine: MakeEngine) -> None:
    """Scripts run synchronously around an async def host function."""
    seen: list[str] = []
    engine = make_engine(
        {
            "a/10-x.py": """
                def pre(n):
                    api.record(f"pre {n}")
                def post(rv, n):
                    api.record(f"post {rv}")
                    return rv * 10
            """
        },
        api={"record": seen.append},
    )

    @engine.hook("a", result="replace")
    async def fetch(n: int) -> int:
        await asyncio.sleep(0)
        seen.append("body")
        return n + 1

    assert inspect.iscoroutinefunction(fetch)
    assert asyncio.run(fetch(1)) == 20
    assert seen == ["pre 1", "body", "post 2"]


def test_async_veto_and_error_hook(make_engine: MakeEngine) -> None:
    """Vetoes and error hooks work the same for async host functions."""
    seen: list[str] = []
    engine = make_engine(
        {
            "a/10-x.py": """
                def pre(n):
                    if n < 0:
                        raise Veto("negative")
                def error(exc, n):
                    api.record(f"error {exc}")
            """
        },
        api={"record": seen.append},
    )

    @engine.hook("a", veto=True)
    async def fetch(n: int) -> int:
        raise ValueError(f"boom {n}")

    with pytest.raises(hookyard.HookVetoed, match="negative"):
        asyncio.run(fetch(-1))
    with pytest.raises(ValueError, match="boom 1"):
        asyncio.run(fetch(1))
    assert seen == ["error boom 1"]


def test_async_method_hides_self(make_engine: MakeEngine) -> None:
    """An async method hides self from scripts like a sync one."""
    engine = make_engine({"m/10-echo.py": ECHO})

    class Service:
        @engine.hook("m", result="replace")
        async def create(self, name: str) -> object:
            return None

    assert asyncio.run(Service().create("web")) == [["web"], {}]
