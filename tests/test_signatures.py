"""A script whose ``pre``/``post``/``error`` cannot take every call its point's host function
accepts is refused when the point is declared, like a load error, and again at every
reload (DESIGN.md, host side).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

import hookyard
from hookyard.testing import from_sources
from tests._reload_support import Events, version_of, write_inplace
from tests.conftest import BOTH_MODES, MakeEngine

pytestmark = BOTH_MODES

ONE = "def pre(name):\n    log.info('one %s', name)\n"
TWO = "def pre(name, flavor):\n    log.info('two %s %s', name, flavor)\n"
ANY = "def pre(*args, **kwargs):\n    log.info('any %s %s', args, kwargs)\n"


def refused(engine: hookyard.HookEngine, name: str) -> hookyard.ScriptStatus:
    (status,) = [s for s in engine.status() if Path(s.file).name == name]
    assert not status.ok, status
    assert status.error is not None
    return status


def test_a_script_that_cannot_take_the_calls_is_refused_at_declaration(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """Declaring ``create(name, flavor)`` refuses ``pre(name)``: status shows file:line
    and the fix, ``check()`` raises ScriptError, and the call runs without it."""
    engine = make_engine({"create/10-one.py": ONE, "create/20-two.py": TWO})
    assert all(s.ok for s in engine.status())  # nothing to check against before

    @engine.hook("create")
    def create(name: str, flavor: str) -> str:
        return f"{name}:{flavor}"

    status = refused(engine, "10-one.py")
    assert status.error.startswith(f"{engine.directory / 'create' / '10-one.py'}:1: pre(name)")
    assert "create(name=..., flavor=...)" in status.error
    assert "give pre the host function's parameters" in status.error
    assert status.version is None  # nothing of it serves
    with pytest.raises(hookyard.ScriptError) as caught:
        engine.check()
    assert caught.value.file.endswith("10-one.py") and caught.value.line == 1
    hook_log.clear()
    assert create("web-1", "m1.small") == "web-1:m1.small"
    lines = [r.getMessage() for r in hook_log.records if r.name.startswith("hookyard.script")]
    assert lines == ["two web-1 m1.small"]
    assert engine.points() == {"create": ("20-two.py",)}


def test_new_and_reloaded_scripts_are_checked_too(make_engine: MakeEngine) -> None:
    """A script added after the declaration is refused on load; editing it to take the
    calls makes it serve, editing it out again keeps the last good version serving."""
    engine = make_engine({})
    calls: list[str] = []

    @engine.hook("create")
    def create(name: str, flavor: str = "m1.small") -> None:
        calls.append(name)

    path = engine.directory / "create" / "10-x.py"
    path.parent.mkdir()
    good = "def pre(name, flavor='m1.small'):\n    return None\n"
    write_inplace(path, "def pre(name):\n    return None\n")
    engine.reload()
    assert "flavor" in (refused(engine, "10-x.py").error or "")

    write_inplace(path, good)
    engine.reload()
    (status,) = engine.status()
    assert status.ok and status.version == version_of(good)

    write_inplace(path, "def pre(name, flavor):\n    return None\n")  # drops the default
    engine.reload()
    status = refused(engine, "10-x.py")
    assert status.version == version_of(good)  # the last good version keeps serving
    assert "create(name=...)" in (status.error or "")
    create("web-1")
    assert calls == ["web-1"]


def test_a_watched_edit_into_and_out_of_compatibility(make_engine: MakeEngine) -> None:
    """While watching, each save is checked as it loads."""
    engine = make_engine({"create/10-x.py": ONE})

    @engine.hook("create")
    def create(name: str, flavor: str) -> None:
        pass

    events = Events(engine)
    path = engine.directory / "create" / "10-x.py"
    with engine:
        mark = events.mark()
        write_inplace(path, TWO)
        events.loaded(TWO, mark)
        assert engine.status()[0].ok
        mark = events.mark()
        write_inplace(path, ONE)
        event = events.wait_for(lambda e: not e.ok, "the refusal", mark)
    assert event.new_version == version_of(TWO)  # still serving
    assert "pre(name) cannot take the call" in (event.error or "")


def test_args_and_kwargs_take_every_call(make_engine: MakeEngine) -> None:
    """``pre(*args, **kwargs)`` (the seed's form) fits any host function."""
    engine = make_engine({"create/10-any.py": ANY})

    @engine.hook("create")
    def create(name: str, /, flavor: str, *more: int, tags: tuple[str, ...] = (), **x: int) -> None:
        pass

    engine.check()


@pytest.mark.parametrize(
    ("host", "source", "fits"),
    [
        # the host takes *args: the script must take any number of positional arguments
        ("def host(*names): pass", "def pre(name):\n    pass\n", False),
        ("def host(*names): pass", "def pre(*names):\n    pass\n", True),
        # the host takes **kwargs: the script must take unknown keywords
        ("def host(name, **extra): pass", "def pre(name):\n    pass\n", False),
        ("def host(name, **extra): pass", "def pre(name, **extra):\n    pass\n", True),
        # keyword-only parameters come by keyword
        ("def host(*, name): pass", "def pre(name):\n    pass\n", True),
        ("def host(*, name): pass", "def pre(n):\n    pass\n", False),
        # a positional-only host parameter never comes by keyword: its name is free
        ("def host(name, /): pass", "def pre(n):\n    pass\n", True),
        # post gets the result first, error the exception
        ("def host(name): pass", "def post(rv, name):\n    pass\n", True),
        ("def host(name): pass", "def post(name):\n    pass\n", False),
        ("def host(name): pass", "def error(exc, name):\n    pass\n", True),
        ("def host(rv): pass", "def post(rv, *args, **kwargs):\n    pass\n", False),
    ],
)
def test_what_fits_which_host(make_engine: MakeEngine, host: str, source: str, fits: bool) -> None:
    """Positional, keyword, ``*args`` and ``**kwargs`` calls are each checked."""
    engine = make_engine({"p/10-x.py": source})
    namespace: dict[str, object] = {}
    exec(host, namespace)
    engine.hook("p")(namespace["host"])  # type: ignore[arg-type]
    (status,) = engine.status()
    assert status.ok is fits, status.error


def test_methods_are_checked_without_the_bound_object(make_engine: MakeEngine) -> None:
    """For a method the script takes the arguments after ``self``: ``pre(name)`` fits,
    ``pre(self, name)`` does not."""
    engine = make_engine(
        {"create/10-plain.py": ONE, "create/20-self.py": "def pre(self, name):\n    pass\n"}
    )

    class Service:
        @engine.hook("create")
        def create(self, name: str) -> str:
            return name

    assert engine.status()[0].ok
    assert "pre(self, name) cannot take the call Service.create(name=...)" in (
        refused(engine, "20-self.py").error or ""
    )
    assert Service().create("web-1") == "web-1"


def test_static_and_class_methods_are_checked_at_first_use(make_engine: MakeEngine) -> None:
    """A staticmethod hands scripts every argument, a classmethod all after ``cls``: the
    check, made when the binding shows, refuses accordingly."""
    engine = make_engine(
        {
            "static/10-x.py": "def pre(a, b):\n    pass\n",
            "klass/10-x.py": "def pre(a, b):\n    pass\n",
        }
    )

    class Service:
        @staticmethod
        @engine.hook("static")
        def static(a: int, b: int) -> int:
            return a + b

        @classmethod
        @engine.hook("klass")
        def klass(cls, a: int) -> int:
            return a

    assert Service.static(1, 2) == 3
    assert Service.klass(1) == 1
    by_point = {s.point: s for s in engine.status()}
    assert by_point["static"].ok
    assert not by_point["klass"].ok
    assert "Service.klass(a=...)" in (by_point["klass"].error or "")


def test_async_host_functions_are_checked(make_engine: MakeEngine) -> None:
    """An ``async def`` host function is checked by its parameters like any other."""
    engine = make_engine({"fetch/10-one.py": ONE, "fetch/20-two.py": TWO})

    @engine.hook("fetch")
    async def fetch(name: str, flavor: str) -> str:
        return name

    assert next(s for s in engine.status() if s.file.endswith("20-two.py")).ok
    refused(engine, "10-one.py")
    assert asyncio.run(fetch("web-1", "m1.small")) == "web-1"


def test_the_default_engine_checks_points_declared_before_it(
    tmp_path: Path, isolation: object
) -> None:
    """``@add_hook`` before ``configure()``: the scripts are checked when it is made."""
    root = tmp_path / "hooks"
    (root / "signature_seed").mkdir(parents=True)
    (root / "signature_seed" / "10-one.py").write_text(ONE)

    @hookyard.add_hook("signature_seed")
    def seed(name: str, flavor: str) -> None:
        pass

    engine = hookyard.configure(root, isolation=isolation)
    try:
        assert "seed(name=..., flavor=...)" in (refused(engine, "10-one.py").error or "")
    finally:
        engine.close()


def test_script_defaults_are_never_shown_or_run(make_engine: MakeEngine) -> None:
    """The message shows a script's defaults as ``...``: building it runs no script code
    (a default whose ``__repr__`` never ends is never asked)."""
    source = (
        "class Loud:\n"
        "    def __repr__(self):\n"
        "        while True:\n"
        "            pass\n"
        "def pre(name, extra=Loud()):\n"
        "    pass\n"
    )
    engine = make_engine({"create/10-x.py": source})

    @engine.hook("create")
    def create(name: str, flavor: str) -> None:
        pass

    error = refused(engine, "10-x.py").error or ""
    assert "pre(name, extra=...) cannot take the call create(name=..., flavor=...)" in error


def test_harness_checks_against_the_host_it_is_given(isolation: object) -> None:
    """``harness.point(name, host=fn)`` checks scripts against ``fn`` as a host would;
    without a host any call goes."""
    with from_sources({"create/10-one.py": ONE}, isolation=isolation) as harness:
        assert harness.point("create")("web-1").ok
        assert not harness.load_errors()

        def create(name: str, flavor: str) -> None:
            pass

        harness.point("create", host=create)
        (error,) = harness.load_errors()
        assert "pre(name) cannot take the call create(name=..., flavor=...)" in error


def test_the_refusal_is_logged_once(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """Declaring and reloading again does not repeat the warning for the same content."""
    engine = make_engine({"create/10-one.py": ONE})

    @engine.hook("create")
    def create(name: str, flavor: str) -> None:
        pass

    engine.reload()
    engine.reload()
    warnings = [
        r for r in hook_log.records if r.levelno == logging.WARNING and "10-one.py" in r.message
    ]
    assert len(warnings) == 1, [r.message for r in warnings]
