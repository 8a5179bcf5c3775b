"""Budgets: runaway scripts stop with LimitExceeded, inside the budget, and the host keeps serving."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

import hookyard
from tests.conftest import limit_exceeded, write_scripts

# small limits keep each runaway short; the defaults are exercised by the loops below too
SMALL = hookyard.Limits(operations=200_000, seconds=2.0, depth=40, size=100_000, output=4_096)

RUNAWAYS = {
    # operations / time
    "while True": "while True:\n    pass",
    "huge for": "for i in range(10**12):\n    pass",
    "huge comprehension": "x = [i for i in range(10**12)]",
    "endless iter(callable, sentinel)": "for x in iter(int, 1):\n    pass",
    "sum over huge range": "sum(range(10**12))",
    "max over huge range": "max(range(10**12))",
    "sorted huge range": "sorted(range(10**9))",
    "list of huge range": "list(range(10**10))",
    "set of huge range": "set(range(10**9))",
    "dict.fromkeys huge": "dict.fromkeys(range(10**9))",
    "star unpack huge": "[*range(10**10)]",
    "call star unpack huge": "print(*range(10**10))",
    "any over endless map": "any(map(abs, iter(int, 1)))",
    "deep recursion": "def f(n):\n    return f(n + 1)\nf(0)",
    "mutual recursion": "def a(n):\n    return b(n)\ndef b(n):\n    return a(n)\na(0)",
    "lambda recursion": "f = lambda n: f(n + 1)\nf(0)",
    "swallow with bare except": (
        "while True:\n    try:\n        while True:\n            pass\n    except:\n        pass"
    ),
    "swallow with BaseException": (
        "while True:\n    try:\n        for i in range(10**12):\n            pass\n"
        "    except BaseException:\n        pass"
    ),
    "swallow recursion": (
        "def f():\n    try:\n        f()\n    except RecursionError:\n        f()\nf()"
    ),
    "finally continue swallows": (
        "while True:\n    try:\n        while True:\n            pass\n    finally:\n        continue"
    ),
    "finally return recursion": (
        "def f():\n    try:\n        f()\n    finally:\n        return f()\nf()"
    ),
    # next(it, default) swallows the StopIteration of a spent tick in C
    "swallowed by next default": (
        "def spin(x):\n    while True:\n        pass\nnext(map(spin, [1]), None)"
    ),
    "list grows while iterated": "l = [1]\nfor x in l:\n    l.append(x)",
    "generator endless": "def g():\n    while True:\n        yield 1\nfor x in g():\n    pass",
    "sum endless generator": "def g():\n    n = 0\n    while True:\n        n += 1\n        yield n\nsum(g())",
    # one C call that runs long on a small result
    "modular pow, huge exponent": "pow(3, 10**10000, 10**5000 + 7)",
    "sum concatenating lists": "sum([[0] * 100] * 50000, [])",
    "set of colliding ints": "set([i * (2**61 - 1) for i in range(30000)])",
    "lcm of many ints": "math.lcm(*range(1, 10**5))",
    "dist of huge points": "math.dist(range(10**7), range(10**7))",
    "fsum of a huge range": "math.fsum(range(10**12))",
    # size
    "str repetition": '"a" * 10**10',
    "list repetition": "[0] * 10**10",
    "tuple repetition": "(0,) * 10**10",
    "int power": "10**10**10",
    "builtin pow": "pow(10, 10**10)",
    "int shift": "1 << 10**10",
    "int squaring loop": "x = 3\nfor i in range(64):\n    x = x * x",
    "fstring width": 'f"{1:>10000000000}"',
    "format builtin width": 'format(1, ">10000000000")',
    "percent width": '"%10000000000d" % 1',
    "percent star width": '"%*d" % (10**10, 1)',
    "ljust": '"x".ljust(10**10)',
    "rjust": '"x".rjust(10**10)',
    "center": '"x".center(10**10)',
    "zfill": '"1".zfill(10**10)',
    "expandtabs": '("\\t" * 1000).expandtabs(10**7)',
    "replace expansion": '("a" * 10000).replace("a", "b" * 10000)',
    "join doubling": 's = "ab"\nfor i in range(64):\n    s = "".join([s, s])',
    "str doubling": 's = "ab"\nfor i in range(64):\n    s = s + s',
    "str augmented doubling": 's = "ab"\nfor i in range(64):\n    s += s',
    "list doubling": "l = [1]\nfor i in range(64):\n    l = l + l",
    "list augmented doubling": "l = [1]\nfor i in range(64):\n    l += l",
    "list extend doubling": "l = [1]\nfor i in range(64):\n    l.extend(l)",
    "list times two": "l = [1]\nfor i in range(64):\n    l = l * 2",
    "item augmented doubling": 'd = {"k": "ab"}\nfor i in range(64):\n    d["k"] += d["k"]',
    "to_bytes": '(1).to_bytes(10**10, "big")',
    "encode growth": 's = "ab"\nfor i in range(64):\n    s = s.encode().hex()',
    "upper growth": 's = "ß"\nfor i in range(64):\n    s = s.upper() + s',
    "translate growth": 's = "a" * 1000\ns.translate({97: "b" * 100000})',
    "nested repr bomb": "a = [0] * 1000\nb = [a] * 1000\nc = [b] * 1000\nstr(c)",
    "nested fstring bomb": "a = [0] * 1000\nb = [a] * 1000\nc = [b] * 1000\nf'{c}'",
    "json dumps bomb": "import json\na = [0] * 1000\nb = [a] * 1000\njson.dumps([b] * 1000)",
    "json indent": "import json\njson.dumps([1], indent=10**9)",
    "factorial": "import math\nmath.factorial(10**7)",
    "comb": "import math\nmath.comb(10**8, 10**7)",
    "slice copies accumulate": "big = [0] * 50000\nkeep = []\nfor i in range(10**6):\n    keep.append(big[:])",
    "random sample huge": "import random\nrandom.choices([1], k=10**10)",
    "getrandbits huge": "import random\nrandom.getrandbits(10**10)",
    # output
    "print flood": 'while True:\n    print("x" * 1000)',
    "log flood": 'while True:\n    log.info("flood %s", "y" * 1000)',
}


def _engine(tmp_path: Path, body: str, *, limits: hookyard.Limits = SMALL) -> hookyard.HookEngine:
    indented = "\n".join("    " + line for line in body.splitlines())
    source = f"import math, json\n\ndef pre(*args, **kwargs):\n{indented}\n"
    root = write_scripts(tmp_path / "hooks", {"p/10-runaway.py": source})
    return hookyard.HookEngine(root, limits=limits)


@pytest.mark.parametrize("name", sorted(RUNAWAYS))
def test_runaway_stops_with_limit_exceeded_and_host_keeps_serving(
    tmp_path: Path, name: str
) -> None:
    """Each runaway stops with LimitExceeded naming the limit; a normal call works right after."""
    engine = _engine(tmp_path, RUNAWAYS[name])

    @engine.hook("p", on_error="raise")
    def strict(flag: bool = False) -> str:
        return "served"

    with pytest.raises(hookyard.HookFailed) as caught:
        strict()
    cause = caught.value.__cause__
    assert isinstance(cause, hookyard.LimitExceeded), caught.value
    assert cause.limit in ("operations", "seconds", "depth", "size", "output")
    assert "10-runaway.py" in str(caught.value)

    @engine.hook("p")
    def lenient() -> str:
        return "served"

    assert lenient() == "served"


SIZE_MESSAGES = {
    '"a" * 10**10': "str repetition",
    "[0] * 10**10": "list repetition",
    "10**10**10": "int power",
    "1 << 10**10": "int shift",
    'f"{1:>10000000000}"': "format width",
    '"x".ljust(10**10)': "padded string",
}


@pytest.mark.parametrize("body", sorted(SIZE_MESSAGES))
def test_size_limit_names_what_was_too_big(tmp_path: Path, body: str) -> None:
    """A size refusal says what was too big, before the memory is taken."""
    engine = _engine(tmp_path, body)

    @engine.hook("p", on_error="raise")
    def host() -> None: ...

    cause = limit_exceeded(host)
    assert cause.limit == "size"
    assert SIZE_MESSAGES[body] in str(cause)


COLLIDING = "[i * (2**61 - 1) for i in range(30000)]"  # every int hashes to 0

HASH_COLLISIONS = {
    "set": f"set({COLLIDING})",
    "frozenset": f"frozenset({COLLIDING})",
    "dict.fromkeys": f"dict.fromkeys({COLLIDING})",
    "dict from pairs": f"dict([(k, 0) for k in {COLLIDING}])",
    "dict.update": f"d = {{}}\nd.update([(k, 0) for k in {COLLIDING}])",
    "set.update": f"s = set()\ns.update({COLLIDING})",
    "set.union": f"set().union({COLLIDING})",
    "negative ints": "set([-i * (2**61 - 1) for i in range(30000)])",
    "tuples": "set([(i * (2**61 - 1),) for i in range(30000)])",
}


@pytest.mark.parametrize("name", sorted(HASH_COLLISIONS))
def test_hash_collision_builders_are_refused_before_the_c_call(tmp_path: Path, name: str) -> None:
    """Building a set or dict in one C call from thousands of distinct values that share a
    hash (quadratic, and no deadline can interrupt C) is refused before it starts."""
    engine = _engine(tmp_path, HASH_COLLISIONS[name])

    @engine.hook("p", on_error="raise")
    def host() -> None: ...

    cause = limit_exceeded(host)
    assert cause.limit == "operations"
    assert "colliding hashes" in str(cause)


def test_many_duplicates_are_no_hash_collision(tmp_path: Path) -> None:
    """Equal values share a hash too, but cost nothing: large sets and dicts of repeated
    values are built as usual."""
    source = (
        "def post(rv):\n"
        "    values = [1, 2, 3, (4, 5)] * 10000\n"
        "    return [len(set(values)), len(dict.fromkeys(values)), len(frozenset(values))]\n"
    )
    root = write_scripts(tmp_path / "hooks", {"p/10-dups.py": source})
    engine = hookyard.HookEngine(root, limits=SMALL)

    @engine.hook("p", on_error="raise", result="replace")
    def host() -> None: ...

    assert host() == [4, 4, 4]


def test_wall_clock_limit_stops_a_slow_loop(tmp_path: Path) -> None:
    """With a large operations budget, the seconds limit still ends the loop."""
    limits = hookyard.Limits(operations=10**12, seconds=0.05)
    engine = _engine(tmp_path, "while True:\n    pass", limits=limits)

    @engine.hook("p", on_error="raise")
    def host() -> None: ...

    cause = limit_exceeded(host)
    assert cause.limit == "seconds"


def test_depth_limit_names_depth(tmp_path: Path) -> None:
    """Runaway recursion ends with the depth limit."""
    engine = _engine(tmp_path, "def f(n):\n    return f(n + 1)\nf(0)")

    @engine.hook("p", on_error="raise")
    def host() -> None: ...

    assert limit_exceeded(host).limit == "depth"


def test_budget_is_per_invocation(tmp_path: Path) -> None:
    """Each call gets a fresh budget: work that fits once fits every time."""
    engine = _engine(tmp_path, "t = 0\nfor i in range(150_000):\n    t += i")

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return "ok"

    assert [host() for _ in range(5)] == ["ok"] * 5


def test_legitimate_work_within_budget_is_untouched(tmp_path: Path) -> None:
    """Loops, recursion and strings well inside the limits run normally."""
    root = write_scripts(
        tmp_path / "hooks",
        {
            "p/10-ok.py": """
                def fib(n):
                    return n if n < 2 else fib(n - 1) + fib(n - 2)
                def post(rv, *a):
                    words = ["w%d" % i for i in range(1000)]
                    s = ", ".join(words)
                    n = 0
                    while n < 1000:
                        n += 1
                    return [fib(15), len(s), n, 2**100 > 0, "ab" * 3, [0] * 3, f"{n:>6}"]
            """
        },
    )
    engine = hookyard.HookEngine(root, limits=SMALL)

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> object:
        return None

    assert host() == [610, 5888, 1000, True, "ababab", [0, 0, 0], "  1000"]


def test_runaway_module_body_fails_the_load_not_the_engine(tmp_path: Path) -> None:
    """A module body that loops forever fails its load with LimitExceeded; other scripts load."""
    root = write_scripts(
        tmp_path / "hooks",
        {
            "p/10-loop.py": "while True:\n    pass\n\ndef pre():\n    pass\n",
            "p/20-big.py": 'x = "a" * 10**10\n\ndef pre():\n    pass\n',
            "p/30-good.py": "def post(rv):\n    return 'good'\n",
        },
    )
    engine = hookyard.HookEngine(root, limits=SMALL)
    loop, big, good = engine.status()
    assert (
        not loop.ok
        and "LimitExceeded" in (loop.error or "")
        and "10-loop.py:1" in (loop.error or "")
    )
    assert not big.ok and "size" in (big.error or "")
    assert good.ok

    @engine.hook("p", result="replace")
    def host() -> str:
        return "body"

    assert host() == "good"


def test_budget_of_concurrent_calls_is_separate(tmp_path: Path) -> None:
    """A runaway in one thread does not spend the budget of a well-behaved call in another."""
    root = write_scripts(
        tmp_path / "hooks",
        {
            "p/10-x.py": """
                def pre(kind):
                    if kind == "runaway":
                        while True:
                            pass
                    t = 0
                    for i in range(1000):
                        t += i
            """
        },
    )
    engine = hookyard.HookEngine(root, limits=SMALL)
    results: dict[str, object] = {}

    @engine.hook("p", on_error="raise")
    def host(kind: str) -> str:
        return kind

    def call(kind: str) -> None:
        try:
            results[kind] = host(kind)
        except hookyard.HookFailed as exc:
            results[kind] = exc.__cause__

    threads = [threading.Thread(target=call, args=(kind,)) for kind in ("runaway", "fine")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results["fine"] == "fine"
    assert isinstance(results["runaway"], hookyard.LimitExceeded)


def test_invalid_limits_are_refused() -> None:
    """Limits validates its fields."""
    with pytest.raises(ValueError):
        hookyard.Limits(operations=0)
    with pytest.raises(ValueError):
        hookyard.Limits(seconds=-1)
    with pytest.raises(TypeError, match=r"Limits\.size"):
        hookyard.Limits(size=True)


KEPT_GROWTH = {
    # each value stays under Limits.size; together they grow without bound
    "state": "def pre(*a):\n    state[len(state)] = [0] * 20000\n",
    "module global": "acc = []\n\ndef pre(*a):\n    acc.append([0] * 20000)\n",
    "closure": (
        "def make():\n    box = []\n    def grow():\n        box.append([0] * 20000)\n"
        "    return grow\n\ngrow = make()\n\ndef pre(*a):\n    grow()\n"
    ),
    "text": "def pre(*a):\n    state[len(state)] = 'x' * 90000\n",
}


@pytest.mark.parametrize("name", sorted(KEPT_GROWTH))
def test_data_kept_between_calls_is_bounded(tmp_path: Path, name: str) -> None:
    """A script growing what it keeps a little per call is stopped by Limits.kept and its kept data dropped."""
    limits = hookyard.Limits(size=100_000, kept=150_000)
    root = write_scripts(tmp_path / "hooks", {"p/10-grow.py": KEPT_GROWTH[name]})
    engine = hookyard.HookEngine(root, limits=limits)

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return "served"

    failure = None
    for _ in range(500):
        try:
            host()
        except hookyard.HookFailed as exc:
            failure = exc
            break
    assert failure is not None, "kept data grew without bound"
    assert isinstance(failure.__cause__, hookyard.LimitExceeded)
    assert failure.__cause__.limit == "kept"
    assert host() == "served"  # dropped: the script starts again from empty


def test_steady_state_is_not_dropped(tmp_path: Path) -> None:
    """A script keeping a bounded amount of data across many calls is never stopped."""
    root = write_scripts(
        tmp_path / "hooks",
        {
            "p/10-cache.py": "def pre(n):\n    cache = state.setdefault('c', {})\n    cache[n % 100] = [n] * 100\n"
        },
    )
    engine = hookyard.HookEngine(root, limits=hookyard.Limits(kept=50_000))

    @engine.hook("p", on_error="raise")
    def host(n: int) -> int:
        return n

    assert [host(n) for n in range(2000)][-1] == 1999


C_HEAVY_LOOP = """
def pre(keep_them):
    big = 2 ** 900000
    keep = []
    for i in range(900000):
        copy = big + 1
        if keep_them:
            keep.append(copy)
"""


def test_deadline_stops_a_loop_charged_up_front(tmp_path: Path) -> None:
    """A for loop charged in advance still stops at the deadline, even when each iteration is slow C work."""
    root = write_scripts(tmp_path / "hooks", {"p/10-x.py": C_HEAVY_LOOP})
    engine = hookyard.HookEngine(root, limits=hookyard.Limits(seconds=0.2))

    @engine.hook("p", on_error="raise")
    def host(keep_them: bool) -> str:
        return "served"

    assert limit_exceeded(host, False).limit == "seconds"


def test_memory_watchdog_stops_growth_the_size_checks_do_not_see(tmp_path: Path) -> None:
    """Accumulating many mid-size copies is stopped by Limits.memory (resident growth during the call)."""
    root = write_scripts(tmp_path / "hooks", {"p/10-x.py": C_HEAVY_LOOP})
    engine = hookyard.HookEngine(root, limits=hookyard.Limits(seconds=60, memory=64 * 1024 * 1024))

    @engine.hook("p", on_error="raise")
    def host(keep_them: bool) -> str:
        return "served"

    assert limit_exceeded(host, True).limit == "memory"


def test_log_lines_count_against_the_output_limit_when_someone_listens(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With the script's logger enabled, a log flood stops at the output limit; with its
    level disabled, lines are neither formatted nor counted (and the flood stops at the
    operations limit instead)."""
    engine = _engine(tmp_path, 'while True:\n    log.info("flood %s", "y" * 100)')

    @engine.hook("p", on_error="raise")
    def host() -> None: ...

    caplog.set_level(logging.INFO, logger="hookyard.script")
    assert limit_exceeded(host).limit == "output"
    caplog.set_level(logging.WARNING, logger="hookyard.script")
    assert limit_exceeded(host).limit == "operations"
