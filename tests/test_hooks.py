"""Hook semantics: pre/post/error, ordering, result replacement, vetoes, error policies, state."""

from __future__ import annotations

import pytest

import hookyard
from tests.conftest import MakeEngine


def test_pre_and_post_run_around_the_call_in_order(make_engine: MakeEngine) -> None:
    """pre runs before the host body, post after it, each seeing the call's arguments."""
    seen: list[str] = []
    engine = make_engine(
        {
            "create/10-trace.py": """
                def pre(x, y, z=1):
                    api.record(f"pre {x} {y} {z}")
                def post(rv, x, y, z=1):
                    api.record(f"post {rv} {x} {y} {z}")
            """
        },
        api={"record": seen.append},
    )

    @engine.hook("create")
    def create(x: int, y: int, z: int = 1) -> int:
        seen.append("body")
        return x + y + z

    assert create(1, 2, z=3) == 6
    assert seen == ["pre 1 2 3", "body", "post 6 1 2 3"]


def test_scripts_run_in_file_name_order(make_engine: MakeEngine) -> None:
    """Within a point, scripts run in file-name order (like run-parts), whatever their creation order."""
    seen: list[str] = []
    engine = make_engine(
        {
            "p/50-middle.py": "def pre():\n    api.record('50')\n",
            "p/90-last.py": "def pre():\n    api.record('90')\n",
            "p/10-first.py": "def pre():\n    api.record('10')\n",
        },
        api={"record": seen.append},
    )

    @engine.hook("p")
    def host() -> None:
        seen.append("body")

    host()
    assert seen == ["10", "50", "90", "body"]
    assert engine.points()["p"] == ("10-first.py", "50-middle.py", "90-last.py")


def test_post_return_value_is_ignored_on_a_read_only_point(make_engine: MakeEngine) -> None:
    """A post returning a value changes nothing unless the point says result='replace'."""
    engine = make_engine({"p/10-x.py": "def post(rv):\n    return 'hijacked'\n"})

    @engine.hook("p")
    def host() -> str:
        return "original"

    assert host() == "original"


def test_post_replaces_result_where_allowed_and_replacements_chain(make_engine: MakeEngine) -> None:
    """With result='replace', each post sees the previous replacement; None leaves it alone."""
    engine = make_engine(
        {
            "p/10-double.py": "def post(rv):\n    return rv * 2\n",
            "p/20-none.py": "def post(rv):\n    return None\n",
            "p/30-add.py": "def post(rv):\n    return rv + 1\n",
        }
    )

    @engine.hook("p", result="replace")
    def host() -> int:
        return 5

    assert host() == 11


def test_replaced_result_is_a_copy(make_engine: MakeEngine) -> None:
    """A replacement reaches the host as a copy: the script's later changes do not show."""
    engine = make_engine(
        {
            "p/10-keep.py": """
                def post(rv):
                    state["kept"] = {"items": [1, 2]}
                    return state["kept"]
                def pre():
                    if "kept" in state:
                        state["kept"]["items"].append(99)
            """
        }
    )

    @engine.hook("p", result="replace")
    def host() -> dict[str, list[int]]:
        return {}

    first = host()
    assert first == {"items": [1, 2]}
    host()
    assert first == {"items": [1, 2]}


def test_veto_stops_the_call_where_allowed(make_engine: MakeEngine) -> None:
    """On a veto=True point, Veto('reason') in pre raises HookVetoed and the body never runs."""
    ran: list[str] = []
    engine = make_engine({"p/10-no.py": "def pre(name):\n    raise Veto(f'{name} is taken')\n"})

    @engine.hook("p", veto=True)
    def host(name: str) -> None:
        ran.append(name)

    with pytest.raises(hookyard.HookVetoed) as caught:
        host("web-1")
    assert caught.value.reason == "web-1 is taken"
    assert caught.value.point == "p"
    assert caught.value.script.endswith("10-no.py")
    assert ran == []


def test_veto_where_not_allowed_is_an_isolated_error(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """Without veto=True a Veto is just a script error: logged, and the call goes on."""
    engine = make_engine({"p/10-no.py": "def pre():\n    raise Veto('nope')\n"})

    @engine.hook("p")
    def host() -> str:
        return "ran"

    assert host() == "ran"
    assert any("does not allow vetoes" in r.getMessage() for r in hook_log.records)


def test_veto_stops_later_scripts(make_engine: MakeEngine) -> None:
    """A veto ends the call at once: later pre hooks do not run either."""
    seen: list[str] = []
    engine = make_engine(
        {
            "p/10-veto.py": "def pre():\n    raise Veto('stop')\n",
            "p/20-after.py": "def pre():\n    api.record('after')\n",
        },
        api={"record": seen.append},
    )

    @engine.hook("p", veto=True)
    def host() -> None: ...

    with pytest.raises(hookyard.HookVetoed):
        host()
    assert seen == []


def test_veto_in_post_is_an_ordinary_error(make_engine: MakeEngine) -> None:
    """Veto means something only in pre; raised in post it follows on_error."""
    engine = make_engine({"p/10-x.py": "def post(rv):\n    raise Veto('late')\n"})

    @engine.hook("p", veto=True, on_error="raise")
    def host() -> int:
        return 1

    with pytest.raises(hookyard.HookFailed) as caught:
        host()
    assert "late" in str(caught.value)


def test_isolate_logs_with_file_and_line_and_the_call_goes_on(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """on_error='isolate' (the default): a failing script is logged with file:line; later scripts and the body run."""
    seen: list[str] = []
    engine = make_engine(
        {
            "p/10-bad.py": "def pre():\n    x = 1\n    return 1 / 0\n",
            "p/20-good.py": "def pre():\n    api.record('good')\n",
        },
        api={"record": seen.append},
    )

    @engine.hook("p")
    def host() -> str:
        return "ok"

    assert host() == "ok"
    assert seen == ["good"]
    messages = [r.getMessage() for r in hook_log.records]
    assert any("10-bad.py:3" in m and "ZeroDivisionError" in m for m in messages)


def test_raise_policy_raises_hook_failed_with_cause(make_engine: MakeEngine) -> None:
    """on_error='raise': HookFailed names file:line and chains a sanitised copy of the cause."""
    ran: list[str] = []
    engine = make_engine({"p/10-bad.py": "def pre():\n    raise KeyError('missing')\n"})

    @engine.hook("p", on_error="raise")
    def host() -> None:
        ran.append("body")

    with pytest.raises(hookyard.HookFailed) as caught:
        host()
    assert "10-bad.py:2" in str(caught.value)
    assert caught.value.phase == "pre"
    cause = caught.value.__cause__
    assert isinstance(cause, KeyError)
    assert cause.__traceback__ is None
    assert ran == []


def test_error_hook_sees_a_copy_of_the_exception_and_cannot_swallow_it(
    make_engine: MakeEngine,
) -> None:
    """error(exc, ...) runs after the body raised, sees its type and message, and the host exception still propagates."""
    seen: list[str] = []
    engine = make_engine(
        {
            "p/10-err.py": """
                def error(exc, name):
                    api.record(f"{type_name(exc)}: {exc} for {name}")
                    return "swallowed?"
                def type_name(exc):
                    if isinstance(exc, ValueError):
                        return "ValueError"
                    return "other"
            """
        },
        api={"record": seen.append},
    )
    original = ValueError("bad flavor")

    @engine.hook("p", result="replace")
    def host(name: str) -> None:
        raise original

    with pytest.raises(ValueError) as caught:
        host("web-1")
    assert caught.value is original
    assert seen == ["ValueError: bad flavor for web-1"]


def test_failing_error_hook_is_logged_and_host_exception_propagates(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """An error hook that fails itself is logged; the host's exception (not HookFailed) propagates."""
    engine = make_engine({"p/10-err.py": "def error(exc):\n    raise RuntimeError('oops')\n"})

    @engine.hook("p", on_error="raise")
    def host() -> None:
        raise LookupError("host")

    with pytest.raises(LookupError, match="host"):
        host()
    assert any("RuntimeError: oops" in r.getMessage() for r in hook_log.records)


def test_post_is_skipped_when_the_body_raises(make_engine: MakeEngine) -> None:
    """post runs only after a successful call; error runs only after a failed one."""
    seen: list[str] = []
    engine = make_engine(
        {
            "p/10-x.py": """
                def post(rv, fail):
                    api.record("post")
                def error(exc, fail):
                    api.record("error")
            """
        },
        api={"record": seen.append},
    )

    @engine.hook("p")
    def host(fail: bool) -> int:
        if fail:
            raise ValueError("x")
        return 1

    host(False)
    with pytest.raises(ValueError):
        host(True)
    assert seen == ["post", "error"]


def test_state_persists_across_calls(make_engine: MakeEngine) -> None:
    """`state` is a dict kept between calls of the same script."""
    engine = make_engine(
        {
            "p/10-count.py": "def post(rv):\n    state['n'] = state.get('n', 0) + 1\n    return state['n']\n"
        }
    )

    @engine.hook("p", result="replace")
    def host() -> int:
        return 0

    assert [host() for _ in range(3)] == [1, 2, 3]


def test_state_is_per_script(make_engine: MakeEngine) -> None:
    """Two scripts of one point each have their own `state`."""
    engine = make_engine(
        {
            "p/10-a.py": "def post(rv):\n    state['n'] = state.get('n', 0) + 1\n    return rv + [state['n']]\n",
            "p/20-b.py": "def post(rv):\n    state['n'] = state.get('n', 0) + 10\n    return rv + [state['n']]\n",
        }
    )

    @engine.hook("p", result="replace")
    def host() -> list[int]:
        return []

    assert host() == [1, 10]
    assert host() == [2, 20]


def test_print_goes_to_the_script_log(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """print() in a script writes an INFO line to the script's logger, never to stdout."""
    engine = make_engine(
        {"p/10-x.py": "def pre(x):\n    print('seen', x)\n    log.warning('w %s', x)\n"}
    )

    @engine.hook("p")
    def host(x: int) -> None: ...

    host(7)
    records = [(r.name, r.levelname, r.getMessage()) for r in hook_log.records]
    assert ("hookyard.script.p.10-x", "INFO", "seen 7") in records
    assert ("hookyard.script.p.10-x", "WARNING", "w 7") in records


def test_keyword_arguments_reach_scripts(make_engine: MakeEngine) -> None:
    """Keyword arguments are handed to scripts as keywords."""
    engine = make_engine({"p/10-x.py": "def post(rv, **kw):\n    return sorted(kw.items())\n"})

    @engine.hook("p", result="replace")
    def host(**kw: object) -> object:
        return None

    assert host(b=2, a=1) == [("a", 1), ("b", 2)]


def test_invalid_point_options_are_refused(make_engine: MakeEngine) -> None:
    """Misspelt point options fail at decoration time, not at the first call."""
    engine = make_engine()
    with pytest.raises(ValueError):
        engine.hook("p", result="replaced")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        engine.hook("p", on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        engine.hook("../etc")


def test_hooked_function_keeps_its_metadata(make_engine: MakeEngine) -> None:
    """The decorator keeps the host function's name, docstring and signature."""
    import inspect

    engine = make_engine()

    def create(name: str, flavor: str = "small") -> str:
        """Create an instance."""
        return name

    hooked = engine.hook("p")(create)
    assert hooked.__name__ == "create"
    assert hooked.__doc__ == "Create an instance."
    assert inspect.signature(hooked) == inspect.signature(create)
    assert hooked.__wrapped__ is create


def test_point_without_scripts_just_calls_the_function(make_engine: MakeEngine) -> None:
    """A point with no folder runs the host function as is."""
    engine = make_engine()

    @engine.hook("nothing-here")
    def host(x: list[int]) -> list[int]:
        x.append(1)
        return x

    data: list[int] = []
    assert host(data) is data
    assert data == [1]
