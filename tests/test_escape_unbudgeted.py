"""Script code running outside any budget (issue 12, family 1).

Any script function that can be re-entered runs under a budget, and so does every special
method of a script class, wherever it is called from: an operator, a built-in, the
engine's own formatting of a log line. Each payload spins, recurses or fans out without a
call in its text; each must stop inside its budget, in both modes, with the host serving.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import hookyard
from tests.conftest import BOTH_MODES, MakeEngine, write_scripts
from tests.escapes import assert_contained, run_payload

pytestmark = BOTH_MODES

LIMITS = hookyard.Limits(operations=200_000, seconds=5.0, depth=40)

# each leaks only if it finished: a finished fan-out means it ran unbudgeted
LAMBDA_FAN_OUT = (
    "f = lambda n: f(n - 1) + f(n - 1) if n else 1\ndef pre(*a):\n    api.leak(f(60))\n"
)
LAMBDA_RECURSION = "f = lambda n: f(n + 1)\ndef pre(*a):\n    api.leak(f(0))\n"
EQ_FAN_OUT = (
    "class N:\n    def __init__(self, d):\n        self.a = N(d - 1) if d else None\n"
    "        self.b = self.a\n"
    "    def __eq__(self, o):\n        return self.a == o.a and self.b == o.b\n"
    "def pre(*a):\n    api.leak(N(60) == N(60))\n"
)
CONTAINS_FAN_OUT = (
    "class C:\n    def __init__(self, d):\n        self.kids = [C(d - 1), C(d - 1)] if d else []\n"
    "        self.d = d\n"
    "    def __contains__(self, v):\n        return any(v in k for k in self.kids) or v in self.kids\n"
    "class Lazy:\n    def __init__(self, d):\n        self.d = d\n"
    "    def __contains__(self, v):\n        return v in Lazy(self.d + 1) or v in Lazy(self.d + 1)\n"
    "def pre(*a):\n    api.leak(1 in Lazy(0))\n"
)
HASH_SPIN = (
    "class H:\n    def __hash__(self):\n        while True:\n            pass\n"
    "def pre(*a):\n    api.leak({H(): 1})\n"
)
REPR_IN_LOG_LINE = (
    "class R:\n    def __repr__(self):\n        while True:\n            pass\n"
    "def pre(*a):\n    log.error('%r', R())\n    api.leak('logged')\n"
)
STR_IN_FORMATTING = (
    "class S:\n    def __str__(self):\n        return str(S())\n"
    "def pre(*a):\n    api.leak('%s' % S())\n"
)
FORMAT_SPIN = (
    "class F:\n    def __format__(self, spec):\n        while True:\n            pass\n"
    "def pre(*a):\n    api.leak(f'{F():>3}')\n"
)
ITER_ENDLESS = (
    "class I:\n    def __iter__(self):\n        return self\n    def __next__(self):\n        return 1\n"
    "def pre(*a):\n    api.leak(len(list(I())))\n"
)
GETITEM_PROTOCOL = (
    "class G:\n    def __getitem__(self, i):\n        return i\n"
    "def pre(*a):\n    api.leak(sum(G()))\n"
)
LEN_SPIN = (
    "class L:\n    def __len__(self):\n        while True:\n            pass\n"
    "def pre(*a):\n    api.leak(len(L()))\n"
)
BOOL_RECURSION = (
    "class B:\n    def __bool__(self):\n        return bool(B()) or bool(B())\n"
    "def pre(*a):\n    if B():\n        api.leak('true')\n"
)
INDEX_SPIN = (
    "class X:\n    def __index__(self):\n        while True:\n            pass\n"
    "def pre(*a):\n    api.leak([0][X()])\n"
)
EXIT_SPIN = (
    "class W:\n    def __enter__(self):\n        return self\n"
    "    def __exit__(self, *e):\n        while True:\n            pass\n"
    "def pre(*a):\n    with W():\n        pass\n    api.leak('left')\n"
)
PROPERTY_FAN_OUT = (
    "class P:\n    def __init__(self, d):\n        self.d = d\n"
    "    @property\n    def v(self):\n        return P(self.d + 1).v + P(self.d + 1).v\n"
    "def pre(*a):\n    api.leak(P(0).v)\n"
)
SORT_KEY_SPIN = (
    "def key(x):\n    return key(x)\ndef pre(*a):\n    api.leak(sorted([1, 2, 3], key=key))\n"
)
STRAIGHT_LINE_HELPER_AS_KEY = (
    "def key(x):\n    return x == x\n"
    "class E:\n    def __eq__(self, o):\n        return sorted([E(), E()], key=key)\n"
    "def pre(*a):\n    api.leak(key(E()))\n"
)
GENERATOR_SPIN = (
    "def g():\n    while True:\n        yield 1\ndef pre(*a):\n    api.leak(sum(g()))\n"
)
GENEXP_SPIN = (
    "class I:\n    def __iter__(self):\n        return self\n    def __next__(self):\n        return 1\n"
    "def pre(*a):\n    api.leak(sum(x for x in I()))\n"
)
MISSING_FAN_OUT = (
    "class D(dict):\n    def __missing__(self, k):\n        return self[k + 1] + self[k + 1]\n"
    "def pre(*a):\n    api.leak(D()[0])\n"
)

PAYLOADS = {
    name: value for name, value in globals().items() if name.isupper() and isinstance(value, str)
}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_reentrant_script_code_runs_under_the_budget(
    tmp_path: Path, name: str, isolation: object
) -> None:
    """Script code reached without a call in the script's text (an operator, a built-in,
    the engine formatting a log line) spends the invocation's budget and stops inside it."""
    outcome = run_payload(tmp_path, PAYLOADS[name], isolation=isolation, limits=LIMITS)
    assert_contained(outcome)


def test_special_methods_the_engine_calls_are_charged_to_the_call(
    make_engine: MakeEngine,
) -> None:
    """A __repr__ formatted for a log line spends the calling invocation's operations: the
    audit trail's count includes its loop."""
    events: list[Any] = []
    engine = make_engine(
        {
            "p/10-x.py": (
                "class R:\n    def __repr__(self):\n        n = 0\n        while n < 5000:\n"
                "            n += 1\n        return 'r'\n"
                "def pre():\n    log.error('%r', R())\n"
            )
        }
    )
    engine.add_audit_listener(events.append)

    @engine.hook("p")
    def host() -> str:
        return "served"

    assert host() == "served"
    (event,) = [e for e in events if e.phase == "pre"]
    assert event.outcome == "ok"
    assert event.operations is not None and event.operations > 5000


def test_print_of_a_runaway_str_is_budgeted(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """Where a print is heard (the script's logger at INFO), the __str__ it formats runs
    under the budget and stops inside it."""
    engine = make_engine(
        {
            "p/10-x.py": "class S:\n    def __str__(self):\n        return str(S())\ndef pre():\n    print(S())\n"
        },
        limits=LIMITS,
    )

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return "served"

    with pytest.raises(hookyard.HookFailed) as caught:
        host()
    assert isinstance(caught.value.__cause__, hookyard.LimitExceeded)


def test_a_kept_generator_cleans_up_without_running_unbudgeted(
    tmp_path: Path, isolation: object
) -> None:
    """A generator kept in state whose cleanup spins is dropped by a reload: its cleanup
    stops at the first statement (no invocation runs), and the host keeps serving."""
    root = write_scripts(
        tmp_path / "hooks",
        {
            "p/10-x.py": (
                "def g():\n    try:\n        yield 1\n    finally:\n        while True:\n"
                "            pass\n"
                "def pre():\n    state['g'] = g()\n    next(state['g'])\n"
            )
        },
    )
    engine = hookyard.HookEngine(root, isolation=isolation)  # type: ignore[arg-type]
    try:

        @engine.hook("p")
        def host() -> str:
            return "served"

        assert host() == "served"
        (root / "p" / "10-x.py").write_text("def pre():\n    state['n'] = 1\n")
        engine.reload()
        assert host() == "served"
        (status,) = engine.status()
        assert status.ok and status.failures == 0
    finally:
        engine.close()
