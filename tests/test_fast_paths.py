"""Correctness of the performance fast paths (issue 6): reused budgets and the call path.

Each fast path keeps the guarantee it speeds up; these tests pin the behaviour, never the
speed (no timing assertions here: see benchmarks/run.py for the figures).
"""

from __future__ import annotations

import ast
import builtins
import logging
import textwrap
import threading
from operator import length_hint
from typing import Any

import pytest

import hookyard
from hookyard import _budget, _static
from hookyard._guards import GuardedType
from hookyard._hookpoint import Point
from hookyard._policy import HookPolicy
from hookyard._sandbox import SandboxPolicy, script_globals
from tests.conftest import MakeEngine, limit_exceeded

SPIN = """
def pre(n=0):
    while True:
        pass
"""


# -- budget reuse --------------------------------------------------------------------------


def test_budget_is_full_again_after_a_spent_invocation(make_engine: MakeEngine) -> None:
    """A call that spends its whole operations budget does not shorten the next call's."""
    engine = make_engine(
        {
            "p/10-x.py": """
                def pre(spin):
                    n = 0
                    while spin or n < 900:
                        n += 1
            """
        },
        limits=hookyard.Limits(operations=1_000),
    )

    @engine.hook("p", on_error="raise")
    def host(spin: bool) -> str:
        return "served"

    for _ in range(3):
        assert limit_exceeded(host, True).limit == "operations"
        assert host(False) == "served"  # 900 iterations fit in a refilled budget of 1,000


def test_depth_is_full_again_after_a_depthlimit_exceeded(make_engine: MakeEngine) -> None:
    """Blowing the depth limit once leaves the full depth for the next call."""
    engine = make_engine(
        {
            "p/10-x.py": """
                def down(n):
                    if n:
                        down(n - 1)
                def pre(n):
                    down(n)
            """
        },
        limits=hookyard.Limits(depth=20),
    )

    @engine.hook("p", on_error="raise")
    def host(n: int) -> str:
        return "served"

    for _ in range(3):
        assert limit_exceeded(host, 100).limit == "depth"
        assert host(17) == "served"  # pre + down(17..0): 19 of the 20 levels


def test_generators_left_suspended_do_not_change_later_depth(make_engine: MakeEngine) -> None:
    """A started generator kept in state holds a depth slot; later calls still get full depth."""
    engine = make_engine(
        {
            "p/10-x.py": """
                def gen():
                    yield 1
                    yield 2
                def down(n):
                    if n:
                        down(n - 1)
                def pre(n):
                    g = gen()
                    next(g)
                    state.setdefault("kept", []).append(g)
                    down(n)
            """
        },
        limits=hookyard.Limits(depth=20),
    )

    @engine.hook("p", on_error="raise")
    def host(n: int) -> str:
        return "served"

    for _ in range(30):  # more calls than there are depth slots
        assert host(16) == "served"  # pre + the generator + down(16..0): 19 of 20 levels
    assert limit_exceeded(host, 18).limit == "depth"


def test_kept_generator_ticks_the_budget_of_the_call_that_resumes_it(
    make_engine: MakeEngine,
) -> None:
    """A generator kept from an earlier call cannot run on that call's leftover budget."""
    engine = make_engine(
        {
            "p/10-x.py": """
                def forever():
                    while True:
                        yield 1
                def pre(make):
                    if make:
                        state["g"] = forever()
                        return
                    for _ in range(10):
                        next(state["g"])
                    while True:
                        next(state["g"])
            """
        },
        limits=hookyard.Limits(operations=5_000),
    )

    @engine.hook("p", on_error="raise")
    def host(make: bool) -> str:
        return "served"

    assert host(True) == "served"
    assert limit_exceeded(host, False).limit == "operations"
    assert limit_exceeded(host, False).limit == "operations"


def test_budget_is_exhausted_between_invocations(make_engine: MakeEngine) -> None:
    """After an invocation ends, this thread's budget cannot be ticked any more."""
    engine = make_engine({"p/10-x.py": "def pre():\n    pass\n"})

    @engine.hook("p")
    def host() -> str:
        return "served"

    assert host() == "served"
    budget = _budget.thread_budget()
    assert not budget.serial & 1
    assert length_hint(budget._ticks) == 0
    with pytest.raises(StopIteration):
        budget.handle[0]()
    with pytest.raises(_budget.OutsideInvocation, match="outside a hookyard invocation"):
        _budget.current_budget()


def test_each_engine_keeps_its_own_limits_on_a_shared_thread_budget(
    make_engine: MakeEngine, tmp_path: Any
) -> None:
    """Two engines with different limits, called alternately in one thread, each apply theirs."""
    small = make_engine(
        {"p/10-x.py": "def pre(n):\n    for i in range(n):\n        pass\n"},
        limits=hookyard.Limits(operations=100),
    )
    big = hookyard.HookEngine(small.directory, limits=hookyard.Limits(operations=10_000))

    @small.hook("p", on_error="raise")
    def small_host(n: int) -> str:
        return "served"

    @big.hook("p", on_error="raise")
    def big_host(n: int) -> str:
        return "served"

    for _ in range(2):
        assert big_host(5_000) == "served"
        assert limit_exceeded(small_host, 5_000).limit == "operations"
        assert small_host(50) == "served"


# -- nesting -------------------------------------------------------------------------------


def test_nested_invocation_gets_its_own_budget_and_leaves_the_outer_one_alone(
    make_engine: MakeEngine,
) -> None:
    """A script -> api -> hooked function -> script chain: each level has its own budget."""
    calls: dict[str, Any] = {}

    def inner_api(n: int) -> int:
        return int(calls["inner"](n))

    engine = make_engine(
        {
            "outer/10-x.py": """
                def pre(before, after):
                    for i in range(before):
                        pass
                    api.inner(600)
                    for i in range(after):
                        pass
            """,
            "inner/10-x.py": """
                def pre(n):
                    for i in range(n):
                        pass
            """,
        },
        api={"inner": inner_api},
        limits=hookyard.Limits(operations=1_000),
    )

    @engine.hook("inner", on_error="raise")
    def inner(n: int) -> int:
        return n

    @engine.hook("outer", on_error="raise")
    def outer(before: int, after: int) -> str:
        return "served"

    calls["inner"] = inner
    # the inner script spends 600 of its own 1,000; the outer's 900 are its own
    assert outer(450, 450) == "served"
    # the nested call does not refill the outer budget: 700 + 700 > 1,000
    assert limit_exceeded(outer, 700, 700).limit == "operations"
    # and the thread is back at the top level, with a usable budget
    assert outer(10, 10) == "served"


def test_nested_invocation_that_fails_does_not_spend_the_outer_budget(
    make_engine: MakeEngine,
) -> None:
    """An inner script's blown budget is the inner call's failure; the outer goes on."""
    calls: dict[str, Any] = {}

    def inner_api() -> str:
        try:
            return str(calls["inner"]())
        except hookyard.HookFailed:
            return "inner failed"

    engine = make_engine(
        {
            "outer/10-x.py": """
                def post(rv):
                    seen = api.inner()
                    for i in range(500):
                        pass
                    return seen
            """,
            "inner/10-x.py": SPIN,
        },
        api={"inner": inner_api},
        limits=hookyard.Limits(operations=1_000),
    )

    @engine.hook("inner", on_error="raise")
    def inner() -> str:
        return "inner served"

    @engine.hook("outer", on_error="raise", result="replace")
    def outer() -> str:
        return "outer served"

    calls["inner"] = inner
    assert outer() == "inner failed"


def test_nesting_deeper_than_one_level(make_engine: MakeEngine) -> None:
    """Three hooked levels deep, every level runs and the outermost budget still counts."""
    seen: list[int] = []
    calls: dict[str, Any] = {}

    def down(level: int) -> int:
        seen.append(level)
        return int(calls["hooked"](level - 1)) if level else 0

    engine = make_engine(
        {
            "p/10-x.py": """
                def pre(level):
                    for i in range(100):
                        pass
                    api.down(level)
            """
        },
        api={"down": down},
    )

    @engine.hook("p", on_error="raise")
    def hooked(level: int) -> int:
        return level

    calls["hooked"] = hooked
    assert hooked(3) == 3
    assert seen == [3, 2, 1, 0]
    assert _budget.thread_budget().inner is not None  # levels are reused, not remade


# -- threads -------------------------------------------------------------------------------


def test_threads_use_their_own_budgets(make_engine: MakeEngine) -> None:
    """A runaway in one thread is stopped while many normal calls in others keep working."""
    engine = make_engine(
        {
            "p/10-x.py": """
                def pre(spin):
                    n = 0
                    while spin or n < 500:
                        n += 1
            """
        },
        limits=hookyard.Limits(operations=50_000, seconds=5),
        # every spinning call must run and fail (the breaker would trip it after 5)
        breaker=hookyard.Breaker(failures=0),
    )

    @engine.hook("p", on_error="raise")
    def host(spin: bool) -> str:
        return "served"

    results: dict[str, list[str]] = {"spin": [], "fine": []}

    def worker(kind: str) -> None:
        for _ in range(50):
            try:
                results[kind].append(host(kind == "spin"))
            except hookyard.HookFailed as exc:
                assert isinstance(exc.__cause__, hookyard.LimitExceeded)
                results[kind].append(exc.__cause__.limit)

    threads = [threading.Thread(target=worker, args=(k,)) for k in ("spin", "fine", "fine")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert results["spin"] == ["operations"] * 50
    assert results["fine"] == ["served"] * 100


def assert_spinning_calls_time_out(make_engine: MakeEngine) -> None:
    """Three calls of a spinning script each stop at their 0.05 s time limit."""
    engine = make_engine(
        {"p/10-x.py": SPIN}, limits=hookyard.Limits(operations=2**40, seconds=0.05)
    )

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return "served"

    for _ in range(3):
        assert limit_exceeded(host).limit == "seconds"


def test_time_limit_applies_to_a_reused_budget(make_engine: MakeEngine) -> None:
    """The monitor stops a runaway on a reused budget by time, call after call."""
    assert_spinning_calls_time_out(make_engine)


def test_time_limit_after_the_monitor_went_idle(
    make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call made after the monitor fell asleep wakes it, and its time limit holds."""
    monkeypatch.setattr(_budget, "_MONITOR_GRACE", 0.01)
    engine = make_engine(
        {"p/10-x.py": SPIN}, limits=hookyard.Limits(operations=2**40, seconds=0.05)
    )

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return "served"

    assert limit_exceeded(host).limit == "seconds"
    # wait for the monitor to publish that it sleeps
    event = threading.Event()
    for _ in range(500):
        if _budget.MONITOR.idle:
            break
        event.wait(0.01)
    assert _budget.MONITOR.idle
    assert limit_exceeded(host).limit == "seconds"


class _ChangingWhileCopied(set[Any]):
    """Stands in for the monitor's set of budgets: the first copies fail as a WeakSet's
    copy does when another thread makes a budget meanwhile (RuntimeError)."""

    failures = 3

    def __iter__(self) -> Any:
        if _ChangingWhileCopied.failures:
            _ChangingWhileCopied.failures -= 1
            raise RuntimeError("Set changed size during iteration")
        return super().__iter__()


def test_time_limit_holds_when_budgets_are_made_while_the_monitor_scans(
    make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A budget made on another thread while the deadline monitor copies the set of
    budgets does not end the monitor: time limits keep holding."""
    budgets = _ChangingWhileCopied(_budget._live_budgets())
    monkeypatch.setattr(_budget, "_budgets", budgets)
    assert_spinning_calls_time_out(make_engine)
    assert _ChangingWhileCopied.failures == 0


def test_time_limit_holds_after_a_scan_of_the_monitor_failed(
    make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever fails in one scan of the deadline monitor is logged and the monitor goes
    on: the next calls' time limits hold."""
    failed = threading.Event()
    resident_size = _budget._resident_size

    def fails_once() -> int:
        if not failed.is_set():
            failed.set()
            raise OSError("statm is gone")
        return resident_size()

    monkeypatch.setattr(_budget, "_resident_size", fails_once)
    assert_spinning_calls_time_out(make_engine)
    assert failed.is_set()
    assert any("deadline monitor (restarted)" in r.getMessage() for r in caplog.records)


def test_expire_leaves_a_later_invocation_alone() -> None:
    """The monitor's verdict on one invocation never lands on the budget's next one."""
    budget = _budget.Budget(hookyard.Limits())
    budget.begin(budget.limits)
    running = budget.serial
    budget.end()
    budget.begin(budget.limits)
    budget.expire(running)  # late: that invocation is over
    assert budget.failure() is None
    budget.expire(budget.serial)
    failure = budget.failure()
    assert failure is not None and failure.limit == "seconds"
    budget.end()


def test_limits_refuse_more_operations_than_a_tick_iterator_holds() -> None:
    """Limits.operations is capped at 2**62 (the length of every tick iterator)."""
    assert hookyard.Limits(operations=2**62).operations == 2**62
    with pytest.raises(ValueError, match="operations"):
        hookyard.Limits(operations=2**62 + 1)


# -- the call path -------------------------------------------------------------------------


def test_point_plan_follows_the_published_scripts(make_engine: MakeEngine) -> None:
    """The per-phase plan the wrapper reads is rebuilt whenever a point's scripts change."""
    engine = make_engine(
        {
            "p/10-pre.py": "def pre():\n    pass\n",
            "p/20-both.py": "def pre():\n    pass\ndef post(rv):\n    pass\n",
            "p/30-error.py": "def error(exc):\n    pass\n",
        }
    )
    point = engine._points["p"]
    assert point.plan is not None
    pre, post, error, session = point.plan
    assert session is None  # not recorded
    assert [s.name for s in pre] == ["10-pre.py", "20-both.py"]
    assert [s.name for s in post] == ["20-both.py"]
    assert [s.name for s in error] == ["30-error.py"]
    point.scripts = ()
    assert point.plan is None
    assert Point("fresh").plan is None


def test_atom_arguments_reach_every_script_and_containers_are_copied_per_script(
    make_engine: MakeEngine,
) -> None:
    """Atoms are handed over as they are; a list argument is a fresh copy for each script."""
    seen: list[Any] = []
    engine = make_engine(
        {
            "p/10-a.py": "def pre(n, items):\n    api.see([n, list(items)])\n    items.append(1)\n",
            "p/20-b.py": "def pre(n, items):\n    api.see([n, list(items)])\n    items.append(2)\n",
        },
        api={"see": seen.append},
    )

    @engine.hook("p")
    def host(n: int, items: list[int]) -> list[int]:
        return items

    items = [0]
    assert host(7, items) == [0]
    assert items == [0]
    assert seen == [[7, [0]], [7, [0]]]


def test_post_sees_result_and_arguments_with_the_hosts_sharing(make_engine: MakeEngine) -> None:
    """A host returning one of its arguments: the post script's copies are one object too."""
    seen: list[Any] = []
    engine = make_engine(
        {"p/10-x.py": "def post(rv, record):\n    api.see(rv is record)\n"},
        api={"see": seen.append},
    )

    @engine.hook("p")
    def host(record: dict[str, int]) -> dict[str, int]:
        return record

    host({"a": 1})
    assert seen == [True]


def test_keyword_arguments_are_copied_with_the_positional_ones(make_engine: MakeEngine) -> None:
    """One memo for args and kwargs: a list passed both ways is one list in the script."""
    seen: list[Any] = []
    engine = make_engine(
        {"p/10-x.py": "def pre(a, b=None):\n    a.append(1)\n    api.see([a is b, b])\n"},
        api={"see": seen.append},
    )

    @engine.hook("p")
    def host(a: list[int], b: list[int] | None = None) -> None:
        return None

    shared: list[int] = []
    host(shared, b=shared)
    assert seen == [[True, [1]]]
    assert shared == []


# -- static proofs (_static): native operators -----------------------------------------------


def _transformed(source: str) -> str:
    """The script as the policy rewrites it (guards appear as _mul_(...), _inplacevar_...)."""
    tree = ast.parse(textwrap.dedent(source))
    policy = HookPolicy([], [], {})
    new = policy.visit(tree)
    assert policy.errors == []
    return ast.unparse(new)


NATIVE = {
    "range counter squared": ("for i in range(n):\n    x = i * i", "i * i"),
    "counter plus anything": ("for i in range(n):\n    t = i + n", "i + n"),
    "accumulator": ("t = 0\nfor i in range(n):\n    t += i * i", "t += i * i"),
    "counter modulo": ("for i in range(n):\n    k = i % 64", "i % 64"),
    "len product": ("m = len(s) * len(s)", "len(s) * len(s)"),
    "enumerate index": ("for j, w in enumerate(s):\n    t = j * len(w)", "j * len(w)"),
    "assigned once from bounded": (
        "for i in range(n):\n    sq = i * i\n    cube = sq * i",
        "sq * i",
    ),
    "small power": ("for i in range(n):\n    p = i ** 2", "i ** 2"),
    "small shift": ("for i in range(n):\n    p = i << 8", "i << 8"),
    "comprehension": ("v = [q * q for q in range(n)]", "q * q"),
    "closure over a counter": (
        "for i in range(3):\n    pass\ndef inner():\n    return i * i",
        "i * i",
    ),
    "item accumulator": ("d = {}\nd['k'] += 1", "d['k'] += 1"),
    "accumulator of a counter": ("t = 0\nfor i in range(n):\n    t += i", "t += i"),
    "minus or over a proven int": ("for i in range(n):\n    z = n - i\n    w = n / i", "n - i"),
}

GUARDED = {
    # an accumulator of unknown values: a script's exact Fraction grows crosswise with
    # every + - / (issue 12), so only a proven int or float on one side runs natively
    "accumulator of unknown values": ("t = 0\nt += n", "_inplacevar_('+=', t, n)"),
    "difference of unknowns": ("z = n - s", "_sub_(n, s)"),
    "string doubled": ("x = 'a'\nfor i in range(40):\n    x = x * 2", "_mul_(x, 2)"),
    "square of itself": ("y = 3\nfor i in range(n):\n    y = y * y", "_mul_(y, y)"),
    "parameter product": ("z = n * n", "_mul_(n, n)"),
    "counter rebound": (
        "for i in range(n):\n    i = 'ab' * 9\n    z = i * i",
        "_mul_(i, i)",
    ),
    "range shadowed anywhere": (
        "def f():\n    range = list\nfor i in range(3):\n    z = i * i",
        "_mul_(i, i)",
    ),
    "len shadowed": ("len = abs\nm = len(s) * len(s)", "_mul_(len(s), len(s))"),
    "huge start": ("for i in range(10 ** 2000, 10 ** 2000 + 2):\n    z = i * i", "_mul_(i, i)"),
    "huge enumerate start": (
        "for j, w in enumerate(s, 10 ** 2000):\n    z = j * j",
        "_mul_(j, j)",
    ),
    "unknown step": ("for i in range(0, n, s):\n    z = i * i", "_mul_(i, i)"),
    "walrus rebinding": (
        "for i in range(3):\n    pass\nv = [(i := s) for _ in range(1)]\nz = i * i",
        "_mul_(i, i)",
    ),
    "except rebinding": (
        "for i in range(3):\n    pass\ntry:\n    pass\nexcept Exception as i:\n    pass\nz = i * i",
        "_mul_(i, i)",
    ),
    "augmented doubling": ("t = 1\nfor i in range(n):\n    t *= 2", "_inplacevar_('*=', t, 2)"),
    "string accumulator": ("t = 'x'\nfor i in range(n):\n    t += t", "_inplacevar_('+=', t, t)"),
    "format string": ("f = s\nr = f % n", "_mod_(f, n)"),
    "item string accumulator": ("d = {}\nd['k'] += s", "_inplacevar_('+=', _tmp0[_tmp1], s)"),
    "big power": ("for i in range(n):\n    p = i ** 100", "_pow_(i, 100)"),
    "computed shift": ("for i in range(n):\n    p = 1 << i", "_lshift_(1, i)"),
    "class body": ("class A:\n    i = 3\n    z = i * i", "_mul_(i, i)"),
    "string in another branch": (
        "if s:\n    k = 'ab'\nelse:\n    k = 3\nz = k * k",
        "_mul_(k, k)",
    ),
    "list in another branch, added": (
        "if s:\n    k = [1]\nelse:\n    k = 3\nz = k + k",
        "_add_(k, k)",
    ),
    "closure over a string": ("x = 'ab'\ndef g():\n    return x * 3", "_mul_(x, 3)"),
    "closure over a counter rebound later": (
        "for i in range(3):\n    pass\ndef g():\n    return i * i\ni = s",
        "_mul_(i, i)",
    ),
    "global name": ("global acc\nacc = 3\nz = acc * acc", "_mul_(acc, acc)"),
    "state": ("z = state['n'] * state['n']", "_mul_(state['n'], state['n'])"),
    "state plus": ("z = state['n'] + s", "_add_(state['n'], s)"),
    "comprehension over non-range": ("v = [q * q for q in s]", "_mul_(q, q)"),
    "loop over non-range": ("for i in s:\n    z = i * i", "_mul_(i, i)"),
    "loop over a list of a range": ("for i in list(range(3)):\n    z = i * i", "_mul_(i, i)"),
    "parameter with a default": ("def g(k=3):\n    return k * k", "_mul_(k, k)"),
    "lambda parameter": ("g = lambda k: k * k", "_mul_(k, k)"),
    "with target": ("with s as w:\n    z = w * w", "_mul_(w, w)"),
    "tuple unpacking": ("a, b = 3, 4\nz = a * b", "_mul_(a, b)"),
    "counter augmented by a string": (
        "for i in range(3):\n    i += s\nz = i * i",
        "_mul_(i, i)",
    ),
    "negated unknown added": ("x = -s\nr = x + s", "_add_(x, s)"),
    "enumerate shadowed anywhere": (
        "def g():\n    enumerate = zip\nfor j, w in enumerate(s):\n    z = j * j",
        "_mul_(j, j)",
    ),
    "method does not see the class body": (
        "class A:\n    i = 3\n    def m(self):\n        return i * i",
        "_mul_(i, i)",
    ),
    "product just past the free bits": (
        "for i in range(n):\n    p = i * (1 << 4040)",
        "_mul_(i, 1 << 4040)",
    ),
}


@pytest.mark.parametrize("name", sorted(NATIVE))
def test_proven_operators_run_natively(name: str) -> None:
    """Operators whose operands are proven small numbers are left without a guard."""
    body, expected = NATIVE[name]
    code = _transformed("def f(n, s):\n" + textwrap.indent(body, "    ") + "\n")
    assert expected in code, code


@pytest.mark.parametrize("name", sorted(GUARDED))
def test_unproven_operators_keep_their_guard(name: str) -> None:
    """Anything not proven (strings, self-feeding values, shadowed built-ins...) stays guarded."""
    body, expected = GUARDED[name]
    code = _transformed("def f(n, s):\n" + textwrap.indent(body, "    ") + "\n")
    assert expected in code, code


ADVERSARIAL = {
    "string doubling in a range loop": "x = 'a'\nfor i in range(40):\n    x = x * 2",
    "string growing by augmented addition": "t = 'ab'\nfor i in range(40):\n    t += t",
    "int squaring in a range loop": "y = 3\nfor i in range(40):\n    y = y * y",
    "fake range": ("def range(n):\n    return [10 ** 5000] * n\nfor i in range(2):\n    z = i * i"),
    "fake len": "def len(x):\n    return 10 ** 5000\nm = len('a') * len('b')",
    "huge enumerate start": "for j, w in enumerate('ab', 10 ** 5000):\n    z = j * j",
    "counter rebound to a big int": ("for i in range(2):\n    pass\ni = 10 ** 5000\nz = i * i"),
    "walrus rebinding in a comprehension": (
        "for i in range(2):\n    pass\nv = [(i := 10 ** 5000) for _ in range(1)]\nz = i * i"
    ),
    "item accumulator of strings": "d = {'k': 'ab'}\nfor i in range(40):\n    d['k'] += d['k']",
    "printf width": "f = '%0*d'\nr = f % (10 ** 7, 1)",
    "string in another branch": ("if len('x') > 0:\n    k = 'ab'\nelse:\n    k = 3\nz = k * 20000"),
    "closure over a string": "x = 'ab'\ndef g():\n    return x * 20000\nz = g()",
    "parameter": "def g(k):\n    return k * 20000\nz = g('ab')",
    "state": "state['k'] = 'ab'\nz = state['k'] * 20000",
    "global": "global acc\nacc = 'ab'\nz = acc * 20000",
    "loop over a list": "for w in ['ab']:\n    z = w * 20000",
    "comprehension variable": "z = [w * 20000 for w in ['ab']]",
    "name augmented then rebound": "t = 3\nt += 1\nt = 'ab'\nz = t * 20000",
    "counter rebound to a string": "for i in range(2):\n    i = 'ab'\n    z = i * 20000",
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_growth_still_stops_at_the_size_limit(
    make_engine: MakeEngine, name: str
) -> None:
    """Values built to defeat the static proof are still refused by the guards."""
    source = "def pre():\n" + textwrap.indent(ADVERSARIAL[name], "    ") + "\n"
    engine = make_engine({"p/10-x.py": source}, limits=hookyard.Limits(size=30_000))

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return "served"

    assert limit_exceeded(host).limit == "size"


def test_native_loop_computes_what_cpython_computes(make_engine: MakeEngine) -> None:
    """The loop benchmark's body gives the same result sandboxed (native operators) and native."""
    body = textwrap.dedent(
        """
        def post(rv, n, words):
            total = 0
            squares = {}
            for i in range(n):
                sq = i * i
                total += sq % 7
                squares[i % 64] = sq + total
            for j, word in enumerate(words):
                total += j * len(word) + j ** 2 - (j << 3)
            k = 0
            while k < n:
                k += 4
                total -= 1
            return [total, squares[5], sum(squares.values())]
        """
    )
    engine = make_engine({"p/10-x.py": body})

    @engine.hook("p", result="replace", on_error="raise")
    def host(n: int, words: list[str]) -> object:
        return None

    namespace: dict[str, Any] = {}
    exec(compile(body, "<native>", "exec"), namespace)
    args = (1000, [f"w{i}" for i in range(50)])
    assert host(*args) == namespace["post"](None, *args)


def test_static_proof_relies_on_the_real_builtins() -> None:
    """The built-ins _static trusts are the real ones in a script's namespace.

    If the sandbox ever replaces one of them, this fails and _static must be reviewed.
    """
    policy = SandboxPolicy(api={}, module_factories={}, limits=hookyard.Limits())
    names = script_globals(policy, module_name="t", logger=logging.getLogger("t"), state={})
    script_builtins = names["__builtins__"]
    for name in sorted(_static._TRUSTED):
        assert name not in names, f"{name} shadowed by a script global"
    for name in sorted(_static._TRUSTED - {"enumerate"}):
        given = script_builtins[name]
        if given is not getattr(builtins, name):
            # a guarded stand-in of the type: it builds through the real type, so its
            # results are of that type (what _static relies on)
            assert isinstance(given, GuardedType) and given._real is getattr(builtins, name)
    budget = _budget.Budget(hookyard.Limits())
    with _budget.running(budget):
        counted = list(script_builtins["enumerate"]("abc", 5))
    assert counted == [(5, "a"), (6, "b"), (7, "c")]


# -- cold load: lazy facades, cheap locations ---------------------------------------------


def test_module_facades_are_made_on_first_import_and_shared_after(make_engine: MakeEngine) -> None:
    """A script's facade for a module is made when it first imports it, then reused."""
    source = textwrap.dedent(
        """
        import math
        def post(rv):
            import math as again
            import json
            return [again is math, json.dumps([1])]
        """
    )
    engine = make_engine({"p/10-x.py": source})

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> object:
        return None

    assert host() == [True, "[1]"]


def test_a_module_off_the_list_is_still_refused_lazily(make_engine: MakeEngine) -> None:
    """Making facades lazily does not widen imports: a module off the list fails at import."""
    engine = make_engine({"p/10-x.py": "def pre():\n    import os\n"})

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return "served"

    with pytest.raises(hookyard.HookFailed, match="import of 'os' is not allowed"):
        host()


def test_policy_output_is_fully_located() -> None:
    """Every node of a transformed script carries a location (copy_locations stops early)."""
    source = textwrap.dedent(
        """
        def pre(x, d):
            t = 0
            while t < 3:
                t += 1
            try:
                d['k'] += x
            finally:
                pass
            g = {**d, "k": [*d]}
            h = max(*[1, 2], **{})
            return f"{x:>{t}}" + str(d[1:2]) + str(g) + str(h)
        """
    )
    policy = HookPolicy([], [], {})
    tree = policy.visit(ast.parse(source))
    assert policy.errors == []
    for node in ast.walk(tree):
        if "lineno" in node._attributes:
            assert getattr(node, "lineno", None) is not None, ast.dump(node)
    compile(tree, "<t>", "exec")


# -- budget-free hook functions (_loader.budget_free) ---------------------------------------
BUDGET_FREE = {
    "no-op": "def pre(x):\n    pass\n",
    "comparisons and returns": (
        "def post(rv, x):\n    if x == 'a' or x in ('b', 'c'):\n        return rv\n    return None\n"
    ),
    "item writes to state": "def pre(x):\n    state[x] = 1\n",
    "plain attribute read": "def pre(x):\n    return x.real\n",
}
BUDGETED = {
    "a call": "def pre(x):\n    raise Veto('no')\n",
    "a while loop": "def pre(x):\n    while x:\n        x = x - 1\n",
    "a for loop": "def pre(x):\n    for i in x:\n        pass\n",
    "a comprehension": "def pre(x):\n    return [i for i in x]\n",
    "a guarded operator": "def pre(x):\n    return x * 2\n",
    "an f-string": "def pre(x):\n    return f'{x}'\n",
    "a slice": "def pre(x):\n    return x[1:]\n",
    "a guarded attribute": "def pre(x):\n    return x.join\n",
    "a nested function": "def pre(x):\n    def inner():\n        pass\n    return inner\n",
    "a lambda": "def pre(x):\n    return lambda: x\n",
    "an except handler": "def pre(x):\n    try:\n        pass\n    except ValueError:\n        pass\n",
    "an attribute write": "def pre(x):\n    x.y = 1\n",
    "a decorator": "def deco(f):\n    return f\n@deco\ndef pre(x):\n    pass\n",
}


def _loaded(make_engine: MakeEngine, source: str) -> Any:
    engine = make_engine({"p/10-x.py": source}, api={"wrap": lambda f: f})
    (status,) = engine.status()
    assert status.ok, status.error
    (script,) = engine._points["p"].scripts
    return script


@pytest.mark.parametrize("name", sorted(BUDGET_FREE))
def test_straight_line_code_without_guards_runs_without_a_budget(
    make_engine: MakeEngine, name: str
) -> None:
    """A hook function that calls nothing, loops nowhere and needs no guard is compiled
    without the budget prologue and run without starting a budget."""
    script = _loaded(make_engine, BUDGET_FREE[name])
    function = script.pre or script.post
    assert function in script.free
    assert "_budget_" not in function.__code__.co_names


@pytest.mark.parametrize("name", sorted(BUDGETED))
def test_code_that_calls_loops_or_needs_a_guard_keeps_its_budget(
    make_engine: MakeEngine, name: str
) -> None:
    """Anything that could run longer than its length, or reaches a guard, runs under a
    budget as before."""
    script = _loaded(make_engine, BUDGETED[name])
    assert not script.free


def test_a_generator_hook_is_refused_with_the_reason(make_engine: MakeEngine) -> None:
    """A pre that yields would never run its body when the engine calls it: the script is
    refused at load with file:line and what to do instead."""
    engine = make_engine({"p/10-x.py": "import math\n\ndef pre(x):\n    yield x\n"})
    (status,) = engine.status()
    assert not status.ok
    assert status.error is not None
    assert "10-x.py:3: pre is a generator function" in status.error
    assert "return a value instead of yielding" in status.error


def test_budget_free_hooks_keep_every_semantic(make_engine: MakeEngine) -> None:
    """Budget-free hooks still count calls and failures, fail with file:line, replace
    results and keep state."""
    engine = make_engine(
        {
            "p/10-count.py": "def pre(x):\n    state[x] = x\n",
            "p/20-fail.py": "def pre(x):\n    return {}[x]\n",
            "p/30-replace.py": "def post(rv, x):\n    if x == 'k':\n        return 'replaced'\n",
        }
    )

    @engine.hook("p", result="replace")
    def host(x: str) -> str:
        return "body"

    assert host("a") == "body"
    assert host("k") == "replaced"
    count, fail, _ = engine.status()
    assert (count.calls, count.failures) == (2, 0)
    assert (fail.calls, fail.failures) == (2, 2)
    scripts = engine._points["p"].scripts
    assert all(script.free for script in scripts)


def test_budget_free_hook_failure_names_file_and_line(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """A budget-free hook that raises is isolated and logged with its file and line."""
    engine = make_engine({"p/10-fail.py": "def pre(x):\n\n    return {}[x]\n"})

    @engine.hook("p")
    def host(x: str) -> str:
        return "body"

    assert host("missing") == "body"
    assert "10-fail.py:3: pre: KeyError" in hook_log.text


def test_budget_free_hook_cannot_run_budgeted_code_without_a_budget(
    make_engine: MakeEngine,
) -> None:
    """Budgeted code reached from a budget-free hook (a generator kept in state, run by
    ``in``) finds no running budget and fails: it never runs unbounded."""
    engine = make_engine(
        {
            "p/10-x.py": (
                "def spin():\n"
                "    while True:\n"
                "        yield 1\n"
                "state['g'] = spin()\n"
                "def pre(x):\n"
                "    return x in state['g']\n"
            )
        }
    )
    (script,) = engine._points["p"].scripts
    assert script.pre in script.free

    @engine.hook("p", on_error="raise")
    def host(x: int) -> int:
        return x

    with pytest.raises(hookyard.HookFailed):
        host(1)
    assert engine.status()[0].failures == 1


def test_straight_line_hook_with_guards_is_still_charged(make_engine: MakeEngine) -> None:
    """A straight-line hook without the prologue still has its guards charge a running
    budget: a size bomb in one line stops at the size limit."""
    engine = make_engine({"p/10-x.py": "def pre(s):\n    return s * 10**10\n"})
    (script,) = engine._points["p"].scripts
    assert not script.free
    assert "_budget_" not in script.pre.__code__.co_names  # no prologue: straight-line

    @engine.hook("p", on_error="raise")
    def host(s: str) -> str:
        return s

    cause = limit_exceeded(host, "ab")
    assert cause.limit == "size"


def test_budget_free_hooks_still_have_what_they_keep_measured(make_engine: MakeEngine) -> None:
    """Each budget-free call counts towards measuring what the script keeps, so state
    grown by plain item writes is still bounded by Limits.kept."""
    engine = make_engine(
        {"p/10-x.py": "def pre(k, v):\n    state[k] = v\n"},
        limits=hookyard.Limits(kept=50_000),
    )
    (script,) = engine._points["p"].scripts
    assert script.pre in script.free

    @engine.hook("p", on_error="raise")
    def host(k: int, v: list[int]) -> None: ...

    payload = list(range(100))
    key = -1
    with pytest.raises(hookyard.HookFailed) as caught:
        for key in range(100_000):
            host(key, payload)
    cause = caught.value.__cause__
    assert isinstance(cause, hookyard.LimitExceeded)
    assert cause.limit == "kept", (key, caught.value)


def test_budget_free_failure_is_not_taken_for_an_earlier_limit(make_engine: MakeEngine) -> None:
    """After a budgeted hook ran out of budget on this thread, a budget-free hook's own
    error is reported as that error, not as the earlier limit."""
    engine = make_engine(
        {
            "p/10-bomb.py": "def pre(s):\n    return s * 10**10\n",
            "q/10-key.py": "def pre(x):\n    return {}[x]\n",
        }
    )

    @engine.hook("p", on_error="raise")
    def bomb(s: str) -> None: ...

    @engine.hook("q", on_error="raise")
    def lookup(x: str) -> None: ...

    assert limit_exceeded(bomb, "ab").limit == "size"
    with pytest.raises(hookyard.HookFailed, match=r"10-key\.py:2: pre: KeyError"):
        lookup("missing")


def test_an_unlocated_node_falls_back_to_locating_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Should the policy ever leave a node without a location, the loader compiles the
    script again with the pass that locates every node, instead of failing the load."""
    from hookyard._loader import compile_source
    from hookyard._policy import _call

    def unlocated(self: HookPolicy, node: ast.Starred) -> Any:
        node = self.node_contents_visit(node)
        node.value = _call("_getiter_", node.value)  # no copy_locations
        return node

    monkeypatch.setattr(HookPolicy, "visit_Starred", unlocated)
    code = compile_source("def pre(x):\n    return [*x]\n", "<fallback>")
    assert not isinstance(code, list), code
