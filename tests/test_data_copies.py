"""Copies, both ways: nothing a script does changes host objects, and vice versa."""

from __future__ import annotations

import dataclasses
import datetime
import enum

import pytest

import hookyard
from tests.conftest import MakeEngine

MUTATE = """
def pre(instance, tags):
    instance["flavor"] = "hacked"
    instance["disks"][0]["size"] = 0
    instance["disks"].append({"size": 1})
    tags.append("evil")
    del instance["name"]
"""


def test_script_mutating_nested_arguments_leaves_host_data_unchanged(
    make_engine: MakeEngine,
) -> None:
    """A script mutating a nested dict/list argument changes only its own copy."""
    engine = make_engine({"p/10-mutate.py": MUTATE})
    instance = {"name": "web-1", "flavor": "small", "disks": [{"size": 10}]}
    tags = ["a"]
    seen: list[object] = []

    @engine.hook("p")
    def host(instance: dict[str, object], tags: list[str]) -> None:
        seen.append((dict(instance), list(tags)))

    host(instance, tags)
    assert instance == {"name": "web-1", "flavor": "small", "disks": [{"size": 10}]}
    assert tags == ["a"]
    assert seen == [(instance, tags)]


def test_each_script_gets_its_own_copy(make_engine: MakeEngine) -> None:
    """One script cannot change what the next one sees."""
    seen: list[object] = []
    engine = make_engine(
        {
            "p/10-mutate.py": "def pre(d):\n    d['x'] = 'changed'\n",
            "p/20-read.py": "def pre(d):\n    api.record(d['x'])\n",
        },
        api={"record": seen.append},
    )

    @engine.hook("p")
    def host(d: dict[str, str]) -> None: ...

    host({"x": "original"})
    assert seen == ["original"]


def test_post_mutating_the_result_does_not_touch_the_host_result(make_engine: MakeEngine) -> None:
    """post gets a copy of the return value; mutating it leaves what the host returns alone."""
    engine = make_engine({"p/10-x.py": "def post(rv):\n    rv['items'].append(666)\n"})
    result = {"items": [1]}

    @engine.hook("p")
    def host() -> dict[str, list[int]]:
        return result

    assert host() is result
    assert result == {"items": [1]}


def test_what_a_script_kept_does_not_change_when_the_host_mutates_later(
    make_engine: MakeEngine,
) -> None:
    """A script keeping an argument in `state` keeps its own copy."""
    engine = make_engine(
        {
            "p/10-keep.py": """
                def pre(d):
                    if "first" not in state:
                        state["first"] = d
                def post(rv, d):
                    return state["first"]
            """
        }
    )

    @engine.hook("p", result="replace")
    def host(d: dict[str, list[int]]) -> None:
        return None

    data = {"items": [1]}
    host(data)
    data["items"].append(2)
    assert host(data) == {"items": [1]}


def test_copies_keep_shared_references_and_cycles(make_engine: MakeEngine) -> None:
    """Copies keep the shape of the original: shared references stay shared, cycles stay cycles."""
    engine = make_engine(
        {
            "p/10-shape.py": """
                def post(rv, pair, loop):
                    return [pair[0] is pair[1], loop[0] is loop]
            """
        }
    )

    @engine.hook("p", result="replace")
    def host(pair: list[object], loop: list[object]) -> object:
        return None

    shared: list[int] = [1]
    loop: list[object] = []
    loop.append(loop)
    assert host([shared, shared], loop) == [True, True]


def test_values_passed_to_api_are_copies_both_ways(make_engine: MakeEngine) -> None:
    """Values a script passes to api are copies, and so are the values api returns."""
    host_store: dict[str, object] = {"config": {"limit": 5}}
    received: list[object] = []

    def remember(value: object) -> None:
        received.append(value)

    def config() -> object:
        return host_store["config"]

    engine = make_engine(
        {
            "p/10-x.py": """
                def pre():
                    mine = {"n": [1]}
                    api.remember(mine)
                    mine["n"].append(2)
                    got = api.config()
                    got["limit"] = 999
            """
        },
        api={"remember": remember, "config": config},
    )

    @engine.hook("p")
    def host() -> None: ...

    host()
    assert received == [{"n": [1]}]
    assert host_store == {"config": {"limit": 5}}


def test_script_made_function_cannot_reach_the_host(
    make_engine: MakeEngine,
) -> None:
    """A post returning a function on a replace point is refused with a clear error naming the type."""
    engine = make_engine({"p/10-x.py": "def post(rv):\n    return lambda: 1\n"})

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> int:
        return 1

    with pytest.raises(hookyard.HookFailed, match="function"):
        host()


def test_script_made_function_cannot_be_passed_to_api(make_engine: MakeEngine) -> None:
    """Passing a script function to an api function fails inside the script; the host never receives it."""
    received: list[object] = []
    engine = make_engine(
        {
            "p/10-x.py": """
                def pre():
                    def sneaky():
                        return 1
                    try:
                        api.take(sneaky)
                    except TypeError as exc:
                        api.take(str(exc))
            """
        },
        api={"take": received.append},
    )

    @engine.hook("p")
    def host() -> None: ...

    host()
    assert len(received) == 1
    assert isinstance(received[0], str)
    assert "function" in received[0]


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Instance:
    name: str
    tags: list[str]


def test_host_conveniences_become_plain_data(make_engine: MakeEngine) -> None:
    """Dataclasses reach scripts as dicts, enums as their value, dates as themselves."""
    engine = make_engine(
        {"p/10-x.py": "def post(rv, inst, color, when):\n    return [inst, color, when.year]\n"}
    )

    @engine.hook("p", result="replace")
    def host(inst: Instance, color: Color, when: datetime.date) -> object:
        return None

    assert host(Instance("a", ["x"]), Color.RED, datetime.date(2024, 5, 1)) == [
        {"name": "a", "tags": ["x"]},
        "red",
        2024,
    ]


def test_host_object_argument_is_refused_not_handed_over(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """An arbitrary host object never reaches a script: that script does not run, the failure names the type."""

    class Secret:
        password = "hunter2"

    leaked: list[object] = []
    engine = make_engine(
        {"p/10-x.py": "def pre(obj):\n    api.leak(obj.password)\n"}, api={"leak": leaked.append}
    )

    @engine.hook("p")
    def host(obj: object) -> str:
        return "done"

    @engine.hook("p", on_error="raise")
    def strict(obj: object) -> str:
        return "done"

    assert host(Secret()) == "done"
    assert leaked == []
    assert any("Secret" in r.getMessage() for r in hook_log.records)
    with pytest.raises(hookyard.HookFailed, match="Secret"):
        strict(Secret())
