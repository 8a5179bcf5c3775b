"""Mechanisms tied to interpreter internals, tested on whichever CPython runs the suite.

CI runs this file (with the rest) on every supported CPython (.ci/run). Each mechanism
chooses its path by probing the interpreter, never by version number, and a shape it does
not know takes the safe path: these tests pin both the paths this interpreter takes and the
fail-closed ones, by feeding the probes stand-ins (issue 11).
"""

from __future__ import annotations

import ast
import dis
import logging
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import hookyard
from hookyard import _budget, _interpreter
from hookyard._budget import Budget, BudgetExhausted, Limits
from hookyard._copy import MAX_NESTING, to_host, to_script
from hookyard._loader import _BUDGET_FREE_OPCODES, budget_free, only_budget_free_opcodes
from hookyard._policy import HookPolicy, _is_straight_line
from hookyard.errors import BoundaryError

from .conftest import MakeEngine, limit_exceeded


# -- the tick iterator ----------------------------------------------------------------------
class _Absolute:
    """A stand-in tick iterator whose __setstate__ sets the position (CPython 3.11's
    range iterator)."""

    def __init__(self, items: range | int) -> None:
        self.n = items if isinstance(items, int) else len(items)
        self.i = 0

    def __iter__(self) -> _Absolute:
        return self

    def __next__(self) -> int:
        if self.i >= self.n:
            raise StopIteration
        self.i += 1
        return self.i

    def __setstate__(self, index: int) -> None:
        self.i = max(0, min(index, self.n))

    def __length_hint__(self) -> int:
        return self.n - self.i


class _Relative(_Absolute):
    """__setstate__ moves forward from where the iterator is (CPython 3.12+'s)."""

    def __setstate__(self, index: int) -> None:
        self.i = max(0, min(self.i + index, self.n))


class _Strange(_Absolute):
    """__setstate__ does something neither known shape does."""

    def __setstate__(self, index: int) -> None:
        self.i = self.n // 2


class _NoSetstate:
    """No __setstate__ at all: items and a length hint only."""

    def __init__(self, items: range | int) -> None:
        self.inner = _Absolute(items)

    def __iter__(self) -> _NoSetstate:
        return self

    def __next__(self) -> int:
        return next(self.inner)

    def __length_hint__(self) -> int:
        return self.inner.__length_hint__()


@pytest.mark.parametrize(
    ("stand_in", "expected"),
    [
        (_Absolute, "absolute"),
        (_Relative, "relative"),
        (_Strange, "consume"),
        (_NoSetstate, "consume"),
    ],
)
def test_the_probe_tells_the_shapes_apart_and_fails_closed(stand_in: type, expected: str) -> None:
    """The probe recognises an absolute and a relative __setstate__; any other shape, or
    none, takes the path that consumes items (slower, never wrong)."""
    assert _budget._probe_setstate(stand_in) == expected


def test_the_probe_agrees_with_this_interpreter() -> None:
    """What the probe found is how this interpreter's range iterator really moves, and
    budgets refill in place exactly where it can rewind."""
    iterator: Any = iter(range(10))
    next(iterator)
    iterator.__setstate__(2)
    assert {8: "absolute", 7: "relative"}[iterator.__length_hint__()] == _budget.SETSTATE
    assert (_budget.SETSTATE == "absolute") == _budget.REFILL


STRATEGIES = [
    pytest.param(("absolute", True, _Absolute), id="absolute-refill"),
    pytest.param(("absolute", False, _Absolute), id="absolute-renew"),
    pytest.param(("relative", False, _Relative), id="relative-renew"),
    pytest.param(("consume", False, _NoSetstate), id="consume-renew"),
]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_budget_counts_exactly_under_every_strategy(
    strategy: tuple[str, bool, type], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under each way a tick iterator can move, a budget ticks and charges exactly its
    operations and then fails; a new invocation starts full; between invocations every
    tick fails. (Stand-in iterators of each shape, so every path runs on every CPython.)"""
    kind, refill, stand_in = strategy
    monkeypatch.setattr(_budget, "SETSTATE", kind)
    limits = Limits(operations=100)
    budget = Budget(limits, refill=refill, make_ticks=stand_in)
    for _ in range(3):  # three invocations on the same budget
        budget.begin(limits)
        tick = budget.handle[0]
        for _ in range(10):
            tick()
        budget.charge(80)
        assert budget.used() == 90
        for _ in range(10):
            tick()
        with pytest.raises(StopIteration):
            tick()
        assert isinstance(budget.failure(), BudgetExhausted)
        budget.end()
        with pytest.raises(StopIteration):
            budget.handle[0]()  # between invocations: nothing left
        budget.reset(limits)
    budget.begin(limits)
    try:
        with pytest.raises(BudgetExhausted):
            budget.charge(101)
    finally:
        budget.end()  # not running: the deadline monitor leaves it alone


def test_refilling_needs_an_iterator_that_can_rewind(monkeypatch: pytest.MonkeyPatch) -> None:
    """A budget is refused, not half-working, when asked to refill in place on an
    interpreter whose iterator cannot rewind."""
    for kind in ("relative", "consume"):
        monkeypatch.setattr(_budget, "SETSTATE", kind)
        with pytest.raises(ValueError, match="cannot rewind"):
            Budget(Limits(), refill=True)


def _native_strategies() -> list[Any]:
    """The strategies this interpreter's real range iterator can run end to end."""
    native = [pytest.param((_budget.SETSTATE, False), id=f"{_budget.SETSTATE}-renew")]
    if _budget.SETSTATE == "absolute":
        native.append(pytest.param(("absolute", True), id="absolute-refill"))
    native.append(pytest.param(("consume", False), id="consume-renew"))
    return native


@pytest.mark.parametrize("strategy", _native_strategies())
def test_a_script_is_bounded_under_every_native_strategy(
    strategy: tuple[str, bool], make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end with this interpreter's range iterator, in a thread whose budgets are
    made under the strategy: loops and charges count, the operations limit stops a script,
    and the next call runs on a full budget."""
    kind, refill = strategy
    monkeypatch.setattr(_budget, "SETSTATE", kind)
    monkeypatch.setattr(_budget, "REFILL", refill)
    engine = make_engine(
        {
            "p/10-x.py": """
                def pre(n):
                    k = 0
                    while k < n:
                        k += 1
                    for i in range(n):
                        pass
                    return k
            """
        },
        limits=hookyard.Limits(operations=5_000),
    )

    @engine.hook("p", on_error="raise")
    def host(n: int) -> str:
        return "served"

    outcome: dict[str, Any] = {}

    def run() -> None:  # a fresh thread: its budgets are made under the strategy
        try:
            outcome["small"] = host(1_000)
            outcome["big"] = limit_exceeded(host, 3_000).limit
            outcome["again"] = host(1_000)
        except BaseException as exc:  # pragma: no cover - shown by the assertion
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert outcome == {"small": "served", "big": "operations", "again": "served"}


def test_a_kept_iterator_is_charged_to_the_invocation_that_runs_it(
    make_engine: MakeEngine,
) -> None:
    """A map object kept in state from an earlier call zipped that call's ticks; a later
    call's iteration goes on under the later call's budget instead of ending early."""
    engine = make_engine(
        {
            "p/10-x.py": """
                def post(rv, make):
                    if make:
                        state["it"] = map(str, [1, 2, 3, 4, 5, 6])
                        return [next(state["it"])]
                    return list(state["it"])
            """
        }
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host(make: bool) -> object:
        return None

    assert host(True) == ["1"]
    assert host(False) == ["2", "3", "4", "5", "6"]


# -- budget-free bytecode: an allow-list of opcodes ---------------------------------------
def test_every_opcode_off_the_allow_list_keeps_the_budget() -> None:
    """Bytecode holding any opcode this interpreter has that is not on the budget-free
    allow-list -- or any byte that is no opcode of it at all -- is budgeted; bytecode of
    allowed opcodes only is not. (Judged on raw bytes: code objects with arbitrary
    instructions can crash the interpreter that reports them.)"""
    allowed = sorted(_BUDGET_FREE_OPCODES)
    tail = bytes(b for opcode in allowed for b in (opcode, 0))
    assert only_budget_free_opcodes(tail)
    for opcode in range(256):
        verdict = only_budget_free_opcodes(bytes([opcode, 0]) + tail)
        assert verdict == (opcode in _BUDGET_FREE_OPCODES), (opcode, dis.opname[opcode])
    real = {name: op for name, op in dis.opmap.items() if op < 256}
    assert sum(op not in _BUDGET_FREE_OPCODES for op in real.values()) > 60


def test_compiled_hooks_are_judged_on_their_real_bytecode() -> None:
    """What the compiler emits for a no-op or a comparison is budget-free on this
    interpreter; a call, a loop or a closure is not."""

    def no_op(x: Any) -> None:
        pass

    def compare(x: Any, y: Any = None) -> Any:
        if x == "a" or x in ("b", "c"):
            return x
        return y

    def calls(x: Any) -> Any:
        return len(x)

    def loops(x: Any) -> Any:
        while x:
            x -= 1

    def closure(x: Any) -> Any:
        return lambda: x

    assert budget_free(no_op.__code__) and budget_free(compare.__code__)
    assert not any(budget_free(f.__code__) for f in (calls, loops, closure))


def test_the_allow_list_names_no_call_loop_or_code() -> None:
    """No opcode on the allow-list calls, loops, makes code, imports, yields or waits."""
    forbidden = ("CALL", "JUMP_BACKWARD", "FOR_ITER", "MAKE_", "IMPORT", "YIELD", "SEND", "AWAIT")
    for opcode in _BUDGET_FREE_OPCODES:
        name = dis.opname[opcode]
        assert not any(part in name for part in forbidden), name


# -- straight-line functions: an allow-list of syntax ----------------------------------------
class _FutureStatement(ast.stmt):
    """A statement kind this policy has never seen (as a later Python could add)."""

    _fields = ()


def test_an_unknown_statement_is_not_straight_line() -> None:
    """A node type off the straight-line allow-list makes the function budgeted."""
    tree = ast.parse("def pre(x):\n    return x\n")
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    assert _is_straight_line(function)
    function.body.insert(0, _FutureStatement())
    assert not _is_straight_line(function)


def _prologued(source: str) -> set[str]:
    """The functions of ``source`` the policy gives a budget prologue."""
    policy = HookPolicy([], [], {})
    tree = policy.visit(ast.parse(source))
    assert policy.errors == []
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(n, ast.Name) and n.id == "_budget_" for n in ast.walk(node))
    }


@pytest.mark.parametrize(
    "source",
    [
        "def helper(x):\n    return x\ndef pre(x):\n    return sorted([x], key=helper)\n",
        "def helper(x):\n    return x\nstate['f'] = helper\ndef pre(x):\n    pass\n",
        "class A:\n    def m(self):\n        return 1\ndef pre(x):\n    pass\n",
        "def pre(x):\n    def inner():\n        return 1\n    return inner()\n",
    ],
    ids=["passed-as-key", "kept-in-state", "method", "nested"],
)
def test_functions_reachable_other_than_by_a_call_keep_their_prologue(source: str) -> None:
    """Only a module-level def that nothing but a direct call can reach may skip the budget
    prologue; a function used as a value, a method or a nested function keeps it."""
    names = {node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)}
    assert names - {"pre"} <= _prologued(source)


def test_a_straight_line_function_is_judged_with_its_annotations_as_text() -> None:
    """Annotations are kept as text, never evaluated: a call in one does not make an
    otherwise straight-line function budgeted, while a call in a default value does."""
    assert _prologued("def pre(x: f(1), *a: g(), **k: h()) -> f(2):\n    return x\n") == set()
    assert _prologued("def pre(x=f(1)):\n    return x\n") == {"pre"}


def test_a_function_used_as_a_value_after_its_definition_keeps_its_prologue() -> None:
    """The module's names are known before any function is judged: a use as a value
    further down the script still gives the function its prologue."""
    source = "def helper(x):\n    return x\ndef pre(x):\n    return x\nhooks = [helper]\n"
    assert _prologued(source) == {"helper"}


def test_a_generator_among_plain_functions_is_made_a_script_generator() -> None:
    """A yield anywhere in the module is seen before its functions are visited: the
    generator gets the policy's generator decorator, the plain functions do not."""
    source = "def pre(x):\n    return x\ndef later(n):\n    x = 0\n    yield x\n"
    policy = HookPolicy([], [], {})
    tree = policy.visit(ast.parse(source))
    assert policy.errors == []
    decorated = {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(d, ast.Name) and d.id == "_generator_" for d in node.decorator_list)
    }
    assert decorated == {"later"}


def test_a_node_kind_the_policy_does_not_know_is_refused() -> None:
    """The policy's own walk keeps RestrictedPython's rule: a node without a visit method
    (a statement of a later Python) is refused, wherever it stands."""
    tree = ast.parse("def pre(x):\n    return x\n")
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    function.body.insert(0, _FutureStatement())
    tree.body.append(_FutureStatement())
    policy = HookPolicy([], [], {})
    policy.visit(tree)
    assert policy.errors.count("Line None: _FutureStatement statements are not allowed.") == 2


def test_an_operator_with_a_visit_of_its_own_is_still_visited() -> None:
    """The walk skips contexts, operators and constants only while their visit method
    passes straight through: one that does anything more is called as before."""

    class Stricter(HookPolicy):
        def visit_Add(self, node: ast.Add) -> Any:  # noqa: N802 - the visitor protocol
            self.error(node, "no adding")
            return node

    assert ast.Add in HookPolicy._inert and ast.Load in HookPolicy._inert
    assert ast.Add not in Stricter._inert and ast.Sub in Stricter._inert
    policy = Stricter([], [], {})
    policy.visit(ast.parse("x = 1 + 2\n"))
    assert policy.errors == ["Line None: no adding"]


def test_a_recursive_lambda_is_budgeted(make_engine: MakeEngine) -> None:
    """A lambda has no statement to hold a prologue, yet ticks and counts depth per call:
    one that recurses and fans out stops at the operations limit."""
    engine = make_engine(
        {"p/10-x.py": "f = lambda n: f(n - 1) + f(n - 1) if n else 1\ndef pre(n):\n    f(n)\n"},
        limits=hookyard.Limits(operations=20_000),
    )

    @engine.hook("p", on_error="raise")
    def host(n: int) -> str:
        return "served"

    assert limit_exceeded(host, 60).limit == "operations"
    assert host(3) == "served"


def test_a_deep_lambda_recursion_hits_the_depth_limit(make_engine: MakeEngine) -> None:
    """A lambda recursing straight down is stopped by the depth limit, not the interpreter."""
    engine = make_engine(
        {"p/10-x.py": "f = lambda n: f(n - 1) if n else 0\ndef pre(n):\n    f(n)\n"},
        limits=hookyard.Limits(depth=20),
    )

    @engine.hook("p", on_error="raise")
    def host(n: int) -> str:
        return "served"

    assert host(10) == "served"
    assert limit_exceeded(host, 50).limit == "depth"


# -- the copier counts nesting itself ------------------------------------------------------
def _nested(containers: int) -> Any:
    """Lists within lists, ``containers`` of them."""
    value: Any = []
    for _ in range(containers - 1):
        value = [value]
    return value


def test_nesting_is_counted_not_left_to_the_recursion_limit() -> None:
    """A value exactly MAX_NESTING containers deep crosses; one more is refused, both ways,
    whatever the interpreter's recursion limit (CPython 3.13.0 does not check it on calls
    to functions with defaults)."""
    ok = _nested(MAX_NESTING)
    assert to_host(ok) == ok
    assert to_script(ok) == ok
    too_deep = _nested(MAX_NESTING + 1)
    for copier in (to_host, to_script):
        with pytest.raises(BoundaryError, match="nested too deeply"):
            copier(too_deep)
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        with pytest.raises(BoundaryError, match="nested too deeply"):
            to_host(_nested(5_000))
    finally:
        sys.setrecursionlimit(previous)


# -- interpreters hookyard is not tested on ----------------------------------------------
def test_untested_interpreters_are_described() -> None:
    """The tested CPythons pass silently; a newer CPython or another implementation gets
    a sentence saying what happens there."""
    for version in _interpreter.TESTED_VERSIONS:
        assert _interpreter.untested_interpreter((*version, 0), "cpython") is None
    newer = _interpreter.untested_interpreter((3, 99, 0), "cpython")
    assert newer is not None and "3.99" in newer and "safe path" in newer
    assert _interpreter.untested_interpreter((3, 12, 1), "pypy") is not None


def test_an_untested_interpreter_is_logged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """On an interpreter newer than the tested ones the engine still runs scripts, and
    says once, at WARNING, that the version is untested."""
    monkeypatch.setattr(sys, "version_info", (3, 99, 0, "final", 0))
    _interpreter.warn_if_untested.cache_clear()
    caplog.set_level(logging.WARNING, logger="hookyard")
    try:
        root = tmp_path / "hooks"
        (root / "p").mkdir(parents=True)
        (root / "p" / "10-x.py").write_text("def post(rv):\n    return rv + 1\n")
        for _ in range(2):
            engine = hookyard.HookEngine(root)

            @engine.hook("p", result="replace")
            def host() -> int:
                return 1

            assert host() == 2
            engine.close()
    finally:
        _interpreter.warn_if_untested.cache_clear()
    warnings = [r for r in caplog.records if "3.99" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
