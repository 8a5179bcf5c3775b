"""Shadow scripts (DESIGN.md "Safe rollout"): ``*.shadow.py`` runs like any script, on its
own copies, in file order, and changes nothing; what it would have done is audited."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

import hookyard
from tests.conftest import BOTH_MODES, MakeEngine

pytestmark = BOTH_MODES

VETOING = """
def pre(name, size):
    if size > 10:
        raise Veto(f"{name} is too big")
"""
REPLACING = """
def post(rv, name, size):
    return {**rv, "size": size * 2}
"""
FAILING = """
def pre(name, size):
    raise ValueError("shadow broke")
"""
SPINNING = """
def pre(name, size):
    while True:
        pass
"""
CALLING = """
def pre(name, size):
    answer = api.quota(name)
    api.notify(f"{name} would get {answer}")
    state["answer"] = answer
    if size > answer:
        raise Veto(f"over quota {answer}")
"""


def trail(engine: hookyard.HookEngine) -> list[tuple[str, str, str, str | None]]:
    """Every invocation's (file name, phase, outcome, message), as the audit trail has it."""
    events: list[tuple[str, str, str, str | None]] = []
    engine.add_audit_listener(
        lambda e: (
            events.append((Path(e.script).name, e.phase, e.outcome, e.message))
            if e.phase != "load"
            else None
        )
    )
    return events


def status_of(engine: hookyard.HookEngine, name: str) -> hookyard.ScriptStatus:
    (found,) = [s for s in engine.status() if Path(s.file).name == name]
    return found


def test_a_shadow_veto_is_recorded_never_applied(make_engine: MakeEngine) -> None:
    """A shadow's Veto does not stop the call: it is audited as shadow-veto with what
    would have happened, counted in vetoes, and the host body runs."""
    engine = make_engine({"create/50-limit.shadow.py": VETOING})
    events = trail(engine)

    @engine.hook("create", veto=True)
    def create(name: str, size: int) -> str:
        return f"created {name}"

    assert create("big", 99) == "created big"
    assert events == [
        ("50-limit.shadow.py", "pre", "shadow-veto", "would have vetoed the call: big is too big")
    ]
    status = status_of(engine, "50-limit.shadow.py")
    assert (status.mode, status.calls, status.vetoes, status.failures) == ("shadow", 1, 1, 0)


def test_a_shadow_replacement_is_recorded_never_applied(make_engine: MakeEngine) -> None:
    """On a result="replace" point a shadow's return value is audited as shadow-replace
    (with the value) and does not reach the host or the scripts after it."""
    engine = make_engine(
        {
            "p/10-double.shadow.py": REPLACING,
            "p/20-tag.py": "def post(rv, name, size):\n    return {**rv, 'seen': rv['size']}\n",
        }
    )
    events = trail(engine)

    @engine.hook("p", result="replace")
    def host(name: str, size: int) -> dict[str, Any]:
        return {"name": name, "size": size}

    assert host("a", 3) == {"name": "a", "size": 3, "seen": 3}
    assert events[0] == (
        "10-double.shadow.py",
        "post",
        "shadow-replace",
        "would have replaced the result with {'name': 'a', 'size': 6}",
    )
    assert events[1][:3] == ("20-tag.py", "post", "replaced")


def test_a_shadow_failure_never_raises_even_on_a_raising_point(make_engine: MakeEngine) -> None:
    """A shadow that raises or blows its budget on an on_error="raise" point does not make
    the call raise: shadow-error, saying the call would have raised, counted as a failure."""
    engine = make_engine(
        {"p/10-broken.shadow.py": FAILING, "p/20-spin.shadow.py": SPINNING},
        limits=hookyard.Limits(operations=10_000),
    )
    events = trail(engine)

    @engine.hook("p", on_error="raise")
    def host(name: str, size: int) -> str:
        return "served"

    assert host("a", 1) == "served"
    (broken, spin) = events
    assert broken[:3] == ("10-broken.shadow.py", "pre", "shadow-error")
    assert broken[3] is not None
    assert "ValueError: shadow broke" in broken[3]
    assert broken[3].endswith("would have raised HookFailed in the host")
    assert spin[:3] == ("20-spin.shadow.py", "pre", "shadow-error")
    assert spin[3] is not None and "LimitExceeded" in spin[3]
    assert [s.failures for s in engine.status()] == [1, 1]


def test_shadow_api_calls_do_not_reach_the_host(make_engine: MakeEngine) -> None:
    """A shadow's api calls return None without calling the host, and are named in its
    audit event; a function marked no_side_effects is called and its answer returned."""
    calls: list[tuple[str, Any]] = []

    def notify(message: str) -> None:
        calls.append(("notify", message))

    @hookyard.no_side_effects
    def quota(name: str) -> int:
        calls.append(("quota", name))
        return 5

    engine = make_engine(
        {"create/50-quota.shadow.py": CALLING}, api={"notify": notify, "quota": quota}
    )
    events = trail(engine)

    @engine.hook("create", veto=True)
    def create(name: str, size: int) -> str:
        return "created"

    assert create("web", 7) == "created"
    assert calls == [("quota", "web")]  # notify never ran
    ((name, phase, outcome, message),) = events
    assert (name, phase, outcome) == ("50-quota.shadow.py", "pre", "shadow-veto")
    assert message == (
        "would have vetoed the call: over quota 5; "
        "api calls not made: api.notify('web would get 5')"
    )


def test_an_unmarked_api_function_returns_none_to_a_shadow(make_engine: MakeEngine) -> None:
    """Without no_side_effects, a shadow's call returns None: its script sees None and
    the host function is never called (nobody listening to the audit trail either)."""
    calls: list[str] = []

    def quota(name: str) -> int:
        calls.append(name)
        return 5

    engine = make_engine(
        {
            "p/50-probe.shadow.py": """
                def pre(name, size):
                    if api.quota(name) is not None:
                        raise ValueError("the host answered a shadow")
            """
        },
        api={"quota": quota},
    )

    @engine.hook("p", on_error="raise")
    def host(name: str, size: int) -> str:
        return "ok"

    assert host("a", 1) == "ok"
    assert calls == []
    assert status_of(engine, "50-probe.shadow.py").failures == 0


def test_shadows_run_in_file_order_on_their_own_copies(make_engine: MakeEngine) -> None:
    """A shadow runs between its neighbours in file-name order; what it does to its copy
    of the arguments is not seen by the host or the next script."""
    order: list[str] = []
    engine = make_engine(
        {
            "p/10-first.py": "def pre(d):\n    api.saw('10', d['n'])\n",
            "p/50-mutate.shadow.py": "def pre(d):\n    d['n'] = 99\n    api.saw('50', d['n'])\n",
            "p/90-last.py": "def pre(d):\n    api.saw('90', d['n'])\n",
        },
        api={"saw": hookyard.no_side_effects(lambda who, n: order.append(f"{who}:{n}"))},
    )

    @engine.hook("p")
    def host(d: dict[str, int]) -> int:
        return d["n"]

    record = {"n": 1}
    assert host(record) == 1
    assert record == {"n": 1}
    assert order == ["10:1", "50:99", "90:1"]


def test_a_shadow_veto_where_vetoes_are_not_allowed_is_a_shadow_error(
    make_engine: MakeEngine,
) -> None:
    """What would have happened on a point without vetoes: an error, not a veto."""
    engine = make_engine({"p/50-limit.shadow.py": VETOING})
    events = trail(engine)

    @engine.hook("p")
    def host(name: str, size: int) -> str:
        return "ok"

    assert host("big", 99) == "ok"
    ((_, _, outcome, message),) = events
    assert outcome == "shadow-error"
    assert message is not None and "does not allow vetoes" in message
    assert message.endswith("would have been logged")


def test_renaming_a_shadow_enforces_it(make_engine: MakeEngine, tmp_path: Path) -> None:
    """Renaming 50-limit.shadow.py to 50-limit.py makes its veto real; status() shows
    each file's mode."""
    engine = make_engine({"create/50-limit.shadow.py": VETOING})

    @engine.hook("create", veto=True)
    def create(name: str, size: int) -> str:
        return "created"

    assert [s.mode for s in engine.status()] == ["shadow"]
    assert create("big", 99) == "created"
    folder = tmp_path / "hooks" / "create"
    os.rename(folder / "50-limit.shadow.py", folder / "50-limit.py")
    engine.reload()
    assert [(Path(s.file).name, s.mode) for s in engine.status()] == [("50-limit.py", "enforce")]
    with pytest.raises(hookyard.HookVetoed, match="big is too big"):
        create("big", 99)


def test_shadow_outcomes_are_logged_at_info(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """Without any audit sink, what a shadow would have done is logged (INFO: nothing
    happened), never as a warning."""
    engine = make_engine({"create/50-limit.shadow.py": VETOING})

    @engine.hook("create", veto=True)
    def create(name: str, size: int) -> str:
        return "created"

    hook_log.clear()
    assert create("big", 99) == "created"
    lines = [(r.levelno, r.getMessage()) for r in hook_log.records if r.name == "hookyard"]
    assert [level for level, _ in lines] == [logging.INFO]
    assert "would have vetoed the call: big is too big" in lines[0][1]


def test_metrics_count_shadow_outcomes_and_label_the_mode(make_engine: MakeEngine) -> None:
    """hookyard_invocations_total counts shadow-veto; hookyard_script_info has mode."""
    from prometheus_client import CollectorRegistry, generate_latest

    import hookyard.prometheus

    engine = make_engine(
        {
            "create/10-ok.py": "def pre(name, size):\n    pass\n",
            "create/50-limit.shadow.py": VETOING,
        }
    )
    registry = CollectorRegistry()
    hookyard.prometheus.register(engine, registry)

    @engine.hook("create", veto=True)
    def create(name: str, size: int) -> str:
        return "created"

    create("big", 99)
    text = generate_latest(registry).decode()
    assert (
        'hookyard_invocations_total{outcome="shadow-veto",phase="pre",point="create",'
        'script="50-limit.shadow.py"} 1.0'
    ) in text
    assert 'mode="shadow",point="create",script="50-limit.shadow.py"' in text
    assert 'mode="enforce",point="create",script="10-ok.py"' in text
