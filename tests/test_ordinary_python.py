"""Ordinary Python works in hook scripts (issue 14; DESIGN.md "Ordinary Python works").

Each case is a small script a hook author would write, run in both modes; the result is
what plain Python gives. Where a construct adds surface, tests/test_escape_*.py holds the
attacks on it.
"""

from __future__ import annotations

import datetime
import re
import sys
from typing import Any

import pytest

import hookyard
import hookyard.audit
from tests.conftest import BOTH_MODES, MakeEngine

pytestmark = BOTH_MODES

POINT = """
class Point:
    __match_args__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self._y = y

    @property
    def y(self):
        return self._y

    def __repr__(self):
        return f"Point({self.x}, {self.y})"

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    def __hash__(self):
        return hash((self.x, self.y))

    def __lt__(self, other):
        return (self.x, self.y) < (other.x, other.y)

    def __len__(self):
        return 2

    def __iter__(self):
        yield self.x
        yield self.y

    def __contains__(self, value):
        return value in (self.x, self.y)

    def __getitem__(self, index):
        return (self.x, self.y)[index]

    def __add__(self, other):
        return Point(self.x + other.x, self.y + other.y)

    @staticmethod
    def origin():
        return Point(0, 0)

    @classmethod
    def of(cls, pair):
        return cls(*pair)
"""

# source of `post(rv)` bodies (after POINT), and what they return
CASES: dict[str, tuple[str, Any]] = {
    "private helper names": (
        "_SEEN = set()\ndef _helper(x):\n    _SEEN.add(x)\n    return x * 2\n"
        "def post(rv):\n    return [_helper(21), sorted(_SEEN)]\n",
        [42, [21]],
    ),
    "special methods": (
        POINT + "def post(rv):\n    p = Point(1, 2)\n"
        "    return [repr(p), p == Point(1, 2), p != Point(2, 1), 2 in p, list(p), len(p),\n"
        "            p[1], str(p + p), hash(p) == hash(Point(1, 2)), sorted([Point(2, 0), p])[0].x]\n",
        ["Point(1, 2)", True, True, True, [1, 2], 2, 2, "Point(2, 4)", True, 1],
    ),
    "special methods from the engine's side": (
        POINT + "def post(rv):\n    p = Point(3, 4)\n    log.info('%s and %r', p, [p])\n"
        "    return [f'{p}', '{}'.format(p), {p: 1}[Point(3, 4)], p in {Point(3, 4)}]\n",
        ["Point(3, 4)", "Point(3, 4)", 1, True],
    ),
    "staticmethod, classmethod, property": (
        POINT + "def post(rv):\n    return [Point.origin().x, Point.of((4, 5)).y, Point(1, 9).y]\n",
        [0, 5, 9],
    ),
    "super": (
        POINT + "class Point3(Point):\n    def __init__(self, x, y, z):\n"
        "        super().__init__(x, y)\n        self.z = z\n"
        "    def __repr__(self):\n        return super().__repr__() + f'+{self.z}'\n"
        "def post(rv):\n    return repr(Point3(1, 2, 3))\n",
        "Point(1, 2)+3",
    ),
    "exception subclasses": (
        "class Refused(ValueError):\n    def __init__(self, what, code):\n"
        "        super().__init__(f'{what} refused')\n        self.code = code\n"
        "def post(rv):\n    try:\n        raise Refused('size', 7)\n"
        "    except ValueError as error:\n        return [str(error), error.code, error.args]\n",
        ["size refused", 7, ("size refused",)],
    ),
    "context managers": (
        "class Ctx:\n    def __init__(self):\n        self.log = []\n"
        "    def __enter__(self):\n        self.log.append('in')\n        return self\n"
        "    def __exit__(self, *exc):\n        self.log.append('out')\n        return False\n"
        "def post(rv):\n    with Ctx() as c:\n        c.log.append('body')\n    return c.log\n",
        ["in", "body", "out"],
    ),
    "subclassing built-in types": (
        "class Tags(list):\n    def add(self, tag):\n        if tag not in self:\n"
        "            self.append(tag)\n        return self\n"
        "class Lower(dict):\n    def __setitem__(self, key, value):\n"
        "        super().__setitem__(key.lower(), value)\n"
        "    def __missing__(self, key):\n        return 0\n"
        "def post(rv):\n    d = Lower()\n    d['A'] = 1\n"
        "    return [list(Tags(['x']).add('y').add('x')), dict(d), d['zz'], isinstance(d, dict)]\n",
        [["x", "y"], {"a": 1}, 0, True],
    ),
    "match": (
        POINT
        + "def kind(v):\n    match v:\n        case Point(0, 0):\n            return 'origin'\n"
        "        case Point(x, 0):\n            return f'on x at {x}'\n"
        "        case {'k': [first, *rest]}:\n            return (first, rest)\n"
        "        case str() | bytes():\n            return 'text'\n"
        "        case int(n) if n > 9:\n            return 'big'\n"
        "        case _:\n            return 'other'\n"
        "def post(rv):\n    return [kind(Point(0, 0)), kind(Point(5, 0)), kind({'k': [1, 2]}),\n"
        "            kind('s'), kind(10), kind(1.5)]\n",
        ["origin", "on x at 5", (1, [2]), "text", "big", "other"],
    ),
    "nonlocal closures": (
        "def counter():\n    n = 0\n    def inc():\n        nonlocal n\n        n += 1\n"
        "        return n\n    return inc\n"
        "def post(rv):\n    inc = counter()\n    inc()\n    return inc()\n",
        2,
    ),
    "annotations": (
        "LIMIT: int = 3\nclass Cfg:\n    name: str = 'x'\n"
        "def double(x: int) -> int:\n    y: int = x * 2\n    return y\n"
        "def post(rv):\n    return [LIMIT, Cfg.name, double(4)]\n",
        [3, "x", 8],
    ),
    "builtins of ordinary code": (
        "def post(rv):\n    o = object()\n    return [o is not None, type('x') is str, type(1) is int,\n"
        "            type([]) == list, isinstance(b'x', bytes), bytes([65, 66]).decode(),\n"
        "            bytes(3), isinstance(type, type) or callable(type)]\n",
        [True, True, True, True, True, "AB", b"\x00\x00\x00", True],
    ),
    "standard exception classes": (
        "def post(rv):\n    out = []\n"
        "    for cls in (IndentationError, UnicodeError, StopIteration, TimeoutError,\n"
        "                ArithmeticError, LookupError, NotImplementedError, RecursionError):\n"
        "        try:\n            raise cls('x')\n        except Exception as e:\n"
        "            out.append(type(e).__name__)\n    return out\n",
        [
            "IndentationError",
            "UnicodeError",
            "StopIteration",
            "TimeoutError",
            "ArithmeticError",
            "LookupError",
            "NotImplementedError",
            "RecursionError",
        ],
    ),
    "unbound methods of built-in types": (
        "def post(rv):\n    words = ['b', 'A', 'c']\n"
        "    return [sorted(words, key=str.lower), list(map(str.upper, words)),\n"
        "            dict.fromkeys('ab', 0), str.join('-', ['x', 'y']), str.maketrans('a', 'b')]\n",
        [["A", "b", "c"], ["B", "A", "C"], {"a": 0, "b": 0}, "x-y", {97: 98}],
    ),
    "str.format": (
        "def post(rv):\n    n = 3\n    return ['{} items'.format(n), '{0}/{0}'.format('a'),\n"
        "            '{name}: {v[k]}'.format(name='x', v={'k': 1}), '{:>5}|'.format('ab'),\n"
        "            '{:.2f}'.format(2.5), '{!r}'.format('q'), '{a}'.format_map({'a': 1})]\n",
        ["3 items", "a/a", "x: 1", "   ab|", "2.50", "'q'", "1"],
    ),
    "dates": (
        "from datetime import datetime, date, timedelta\n"
        "def post(rv):\n    d = datetime(2026, 11, 30, 12, 30)\n"
        "    return [d.strftime('%Y-%m-%d %H:%M'), datetime.strptime('2026-01-02', '%Y-%m-%d').day,\n"
        "            f'{d:%H:%M}', (d + timedelta(days=1)).date().isoformat(),\n"
        "            date(2026, 1, 5).strftime('%A')]\n",
        ["2026-11-30 12:30", 2, "12:30", "2026-12-01", "Monday"],
    ),
    "module name": ("def post(rv):\n    return __name__.startswith('hookyard.scripts.')\n", True),
    "generators and comprehensions": (
        "def evens(n):\n    for i in range(n):\n        if i % 2 == 0:\n            yield i\n"
        "def post(rv):\n    g = evens(7)\n    first = next(g)\n"
        "    return [first, list(g), sum(x * x for x in range(4)), {k: v for k, v in zip('ab', [1, 2])},\n"
        "            [t for t in enumerate('xy')], any(c.isdigit() for c in 'a1')]\n",
        [0, [2, 4, 6], 14, {"a": 1, "b": 2}, [(0, "x"), (1, "y")], True],
    ),
    "lambdas as keys": (
        "def post(rv):\n    people = [('b', 2), ('a', 3), ('c', 1)]\n"
        "    return [sorted(people, key=lambda p: p[1]), max(people, key=lambda p: p[0])]\n",
        [[("c", 1), ("b", 2), ("a", 3)], ("c", 1)],
    ),
    "future import": (
        "from __future__ import annotations\n"
        "def post(rv: dict[str, int] | None) -> list[str]:\n    n: Missing = 1\n    return ['ok']\n",
        ["ok"],
    ),
    "special method aliases": (
        "class V:\n    def __init__(self, v):\n        self.v = v\n"
        "    def __mul__(self, k):\n        return V(self.v * k)\n    __rmul__ = __mul__\n"
        "    def __str__(self):\n        return f'V{self.v}'\n    __repr__ = __str__\n"
        "def post(rv):\n    return [repr(2 * V(3)), str(V(1) * 2)]\n",
        ["V6", "V2"],
    ),
    "module metadata": (
        '"""Checks names."""\n__all__ = ["post"]\n__version__ = "1.2"\n__author__ = "ops"\n'
        "def post(rv):\n    return [__version__, __all__, __author__]\n",
        ["1.2", ["post"], "ops"],
    ),
    "print and printed": (
        "def post(rv):\n    print('a', 1)\n    print('b', 'c', sep='-', end='')\n    return [printed]\n",
        ["a 1\nb-c"],
    ),
    "typing.NamedTuple classes": (
        "from typing import NamedTuple, Optional\n"
        "class Quota(NamedTuple):\n    cores: int\n    ram: int = 1024\n"
        "    note: Optional[str] = None\n"
        "    def doubled(self):\n        return self._replace(cores=self.cores * 2)\n"
        "Pair = NamedTuple('Pair', [('a', int), ('b', int)])\n"
        "def post(rv):\n    q = Quota(2)\n    a, b = Pair(1, 2)\n"
        "    return [tuple(q), tuple(q.doubled()), Quota._fields, q._asdict()['ram'], a + b,\n"
        "            q == (2, 1024, None), repr(Quota(1, 2, 'x'))]\n",
        [
            (2, 1024, None),
            (4, 1024, None),
            ("cores", "ram", "note"),
            1024,
            3,
            True,
            "Quota(cores=1, ram=2, note='x')",
        ],
    ),
    "docstrings": (
        '"""Module doc."""\ndef helper(*args):\n    """Helper doc."""\n    return len(args)\n'
        'def gen():\n    """Gen doc."""\n    yield 1\n'
        'class A:\n    """Class doc."""\n    def m(self):\n        """Method doc."""\n'
        "        return [x for x in range(3)]\n"
        'def post(rv):\n    """Post doc."""\n'
        "    return [helper.__doc__, gen.__doc__, A.__doc__, A.m.__doc__, post.__doc__,\n"
        "            helper(1, 2), list(gen())]\n",
        ["Helper doc.", "Gen doc.", "Class doc.", "Method doc.", "Post doc.", 2, [1]],
    ),
    "__class__ of any value": (
        "class A:\n    pass\n"
        "def post(rv):\n    d = {}\n"
        "    return [d.__class__.__name__, d.__class__ is type(d), A().__class__ is A,\n"
        "            (1).__class__ is int, 'x'.__class__('y'), A.__class__ is type(A)]\n",
        ["dict", True, True, True, "y", True],
    ),
    "default reprs without addresses": (
        "def helper():\n    pass\nclass A:\n    pass\n"
        "def post(rv):\n    return [repr(helper), str(A()), f'{helper}', '%s' % helper]\n",
        None,  # checked below: no addresses
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_ordinary_python_construct(make_engine: MakeEngine, name: str) -> None:
    """Each construct of ordinary Python loads and runs as in plain Python, both modes."""
    source, expected = CASES[name]
    engine = make_engine({"p/10-x.py": source})
    (status,) = engine.status()
    assert status.ok, status.error

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> object:
        return None

    result = host()
    if expected is None:
        assert isinstance(result, list) and result
        assert all(" at 0x" not in text for text in result), result
        assert result[0].startswith("<function helper")
    else:
        assert result == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def pre(x):\n    return open(x)\n", "open is not available to scripts: no direct I/O"),
        ("def pre(x):\n    return vars()\n", "vars is not available to scripts"),
        ("def pre_create(x):\n    pass\n", "did you mean pre"),
        ("def pre(x):\n    return '{0.real}'.format(x)\n", "attribute access in format strings"),
        ("class A:\n    def __del__(self):\n        pass\ndef pre():\n    pass\n", "__del__"),
        ("def pre():\n    return x.__dict__\n", "__dict__"),
        ("def pre(x):\n    yield x\n", "generator function"),
        (
            "def pre(x):\n    try:\n        pass\n    except* ValueError:\n        pass\n",
            "CVE-2025-22153",
        ),
        (
            "from typing import Any, Nope\ndef pre():\n    pass\n",
            "cannot import name 'Nope' from 'typing': scripts are not offered it",
        ),
    ],
    ids=[
        "open",
        "vars",
        "near name",
        "format attribute",
        "__del__",
        "dunder",
        "yield",
        "except*",
        "name a facade lacks",
    ],
)
def test_mistakes_are_explained_at_load(make_engine: MakeEngine, source: str, message: str) -> None:
    """A hook author's mistake is a load error naming file and line with the fix, not a
    NameError or TypeError on every call."""
    engine = make_engine({"p/10-x.py": source})
    (status,) = engine.status()
    assert not status.ok
    assert status.error is not None
    assert "10-x.py:" in status.error
    assert message in status.error


# PEP 695 syntax parses from 3.12 on; on 3.11 it is a syntax error, named as such
TYPE_PARAMETERS = "type parameters" if sys.version_info >= (3, 12) else "SyntaxError"
TYPE_STATEMENT = "type statements" if sys.version_info >= (3, 12) else "SyntaxError"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def first[T](xs: list[T]) -> T:\n    return xs[0]\n", TYPE_PARAMETERS),
        ("class Box[T]:\n    pass\n", TYPE_PARAMETERS),
        ("def f[*Ts](*a: *Ts):\n    pass\n", TYPE_PARAMETERS),
        ("def f[**P](x):\n    pass\n", TYPE_PARAMETERS),
        ("type Pair = tuple[int, int]\n", TYPE_STATEMENT),
    ],
    ids=["function", "class", "TypeVarTuple", "ParamSpec", "type statement"],
)
def test_type_parameter_syntax_is_refused_with_the_spelling_that_works(
    make_engine: MakeEngine, source: str, message: str
) -> None:
    """PEP 695's ``def f[T]`` and ``type X = ...`` (3.12+) would hand scripts real
    ``TypeVar``/``TypeAliasType`` objects whose bounds and values are evaluated lazily,
    with no budget: refused at load, naming file and line and the plain spelling."""
    engine = make_engine({"p/10-x.py": source + "def pre():\n    pass\n"})
    (status,) = engine.status()
    assert not status.ok
    assert status.error is not None
    assert "10-x.py:1" in status.error
    assert message in status.error


def test_a_plain_generic_alias_assignment_works(make_engine: MakeEngine) -> None:
    """What the refusal suggests instead works: ``Pair = tuple[int, int]`` and
    annotations with ``typing.Any``."""
    source = (
        "from typing import Any\n"
        "Pair = tuple[int, int]\n"
        "def first(xs: list[Any]) -> Any:\n"
        "    return xs[0]\n"
        "def post(rv: Any, x: Pair) -> Any:\n"
        "    return first(list(x))\n"
    )
    engine = make_engine({"p/10-x.py": source})

    @engine.hook("p", result="replace")
    def p(x: tuple[int, int]) -> int:
        return 0

    assert p((7, 8)) == 7


def test_builtin_types_make_aliases_and_unions_at_run_time(make_engine: MakeEngine) -> None:
    """Module-level aliases of builtin generics (``Vector = list[float]``) are inert
    hints, and ``int | None`` is the real union ``isinstance`` takes, in either order and
    with the script's own classes."""
    source = (
        "Vector = list[float]\n"
        "Table = dict[str, list[int]] | None\n"
        "Number = int | float\n"
        "class Mine:\n"
        "    pass\n"
        "def post(rv, x):\n"
        "    checks = [isinstance(v, int | None) for v in (1, None, 'a')]\n"
        "    checks += [isinstance(2.0, Number), isinstance(Mine(), None | Mine)]\n"
        "    checks += [isinstance('s', float | str), isinstance(b'', str | int)]\n"
        "    try:\n"
        "        Vector([1.0])\n"
        "    except TypeError as e:\n"
        "        checks.append('cannot call' in str(e))\n"
        "    return checks\n"
    )
    engine = make_engine({"p/10-x.py": source})

    @engine.hook("p", result="replace")
    def p(x: int) -> Any:
        return None

    assert p(1) == [True, True, False, True, True, True, False, True]


def test_a_union_returned_to_the_host_is_refused(make_engine: MakeEngine) -> None:
    """A union made in a script is no plain data: handing it to the host is a clear
    error, never the object."""
    engine = make_engine({"p/10-x.py": "def post(rv, x):\n    return int | None\n"})

    @engine.hook("p", result="replace", on_error="raise")
    def p(x: int) -> Any:
        return None

    with pytest.raises(hookyard.HookFailed) as caught:
        p(1)
    assert "10-x.py" in str(caught.value)


@pytest.mark.parametrize(
    "line",
    [
        "yield",
        "class A((yield)):\n        pass",
        "@(yield)\n    def f():\n        pass",
        "def f(x=(yield)):\n        pass",
        "f = lambda x=(yield): x",
        "return [x for x in (yield)]",
    ],
    ids=["statement", "class base", "decorator", "default", "lambda default", "comprehension"],
)
def test_a_hook_function_that_yields_anywhere_is_refused(
    make_engine: MakeEngine, line: str
) -> None:
    """Wherever a yield sits that makes the function a generator (a nested class's bases,
    a decorator, a default), the policy treats it as one: pre is refused at load."""
    engine = make_engine({"p/10-x.py": f"def pre():\n    {line}\n"})
    (status,) = engine.status()
    assert not status.ok
    assert status.error is not None and "pre is a generator function" in status.error


def test_host_datetimes_format_in_scripts(make_engine: MakeEngine) -> None:
    """strftime/strptime work on values the host handed over (C code importing `time`
    and `_strptime` through the script's import hook)."""
    engine = make_engine(
        {"p/10-x.py": "def post(rv, when):\n    return when.strftime('%d/%m %H:%M')\n"}
    )

    @engine.hook("p", result="replace", on_error="raise")
    def host(when: datetime.datetime) -> object:
        return None

    assert host(datetime.datetime(2026, 5, 4, 3, 2)) == "04/05 03:02"


def test_no_near_name_hint_without_a_near_name(make_engine: MakeEngine) -> None:
    """A script defining no hook function and nothing close says so plainly."""
    engine = make_engine({"p/10-x.py": "def helper():\n    pass\n"})
    (status,) = engine.status()
    assert status.error is not None
    assert "defines none of pre, post, error" in status.error
    assert "did you mean" not in status.error


def test_a_class_pattern_cannot_read_what_a_guard_must_see(make_engine: MakeEngine) -> None:
    """`case str(format=f)` would read str.format around the guard: refused at load."""
    engine = make_engine(
        {"p/10-x.py": "def pre(x):\n    match x:\n        case str(format=f):\n            pass\n"}
    )
    (status,) = engine.status()
    assert not status.ok
    assert status.error is not None and '"format" cannot be matched' in status.error


def test_limits_still_apply_inside_special_methods(make_engine: MakeEngine) -> None:
    """A special method that runs away stops at the budget, wherever it was called from."""
    engine = make_engine(
        {
            "p/10-x.py": (
                "class Spin:\n    def __eq__(self, other):\n        while True:\n"
                "            pass\ndef pre():\n    return Spin() == 1\n"
            )
        },
        limits=hookyard.Limits(operations=10_000),
    )

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return "served"

    with pytest.raises(hookyard.HookFailed) as caught:
        host()
    assert isinstance(caught.value.__cause__, hookyard.LimitExceeded)


_INTERNAL = re.compile(
    r"safe_|guarded_|lambda_call|budgeted|_call_print|Collector|ScriptLog|Facade"
)


def test_what_a_script_sees_of_the_sandbox_names_no_internals(make_engine: MakeEngine) -> None:
    """Reprs of the sandbox's own objects (every guarded builtin, `log`, `api`, `print`, a
    lambda) and the messages of wrong calls to them name what the script wrote, never a
    function or class of hookyard's (issue 18: messages to scripts show no internal names)."""
    from hookyard._sandbox import _GUARDED_BUILTINS

    names = sorted(_GUARDED_BUILTINS)
    source = f"""
def post(rv):
    seen = [repr(log), repr(api), repr(print), repr(log.info), repr(lambda n: n)]
    for name in {names!r}:
        function = {{{", ".join(f"{n!r}: {n}" for n in names)}}}[name]
        seen.append(repr(function))
        try:
            function(1, 2, 3, 4, 5, no_such_option=1)
        except Exception as exc:
            seen.append(str(exc))
    for call in (lambda: log.info(), lambda: print(file=1), lambda: (lambda: 1)(2)):
        try:
            call()
        except Exception as exc:
            seen.append(str(exc))
    return seen
"""
    engine = make_engine({"p/10-x.py": source}, api={"notify": print})
    (status,) = engine.status()
    assert status.ok, status.error

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> object:
        return None

    seen = host()
    assert isinstance(seen, list) and len(seen) > 2 * len(names)
    leaked = [text for text in seen if _INTERNAL.search(text)]
    assert not leaked, leaked
    assert seen[:2] == ["<log hookyard.script.p.10-x>", "<api: notify>"]
    assert "<lambda>" in seen[4]
    assert any(text.startswith("sorted()") for text in seen), seen


TYPED = """
from __future__ import annotations
from typing import TYPE_CHECKING, Any, Callable, Dict, Generic, List, Literal, NewType
from typing import Optional, Protocol, TypedDict, TypeVar, Union, cast, overload
if TYPE_CHECKING:
    from typing import Sequence
T = TypeVar("T")
UserId = NewType("UserId", int)
Vector = List[float]
Maybe = Optional[int] | None
Either = int | Dict[str, List[int]]
class Movie(TypedDict):
    name: str
    year: int
class Box(Generic[T]):
    def __init__(self, item: T) -> None:
        self.item: T = item
class Greeter(Protocol):
    def greet(self) -> str: ...
def shout(x: Union[int, str], cb: Callable[[int], str] = str) -> Dict[str, Any]:
    return {"x": x}
def post(rv: Any) -> List[Any]:
    mode: Literal["a", "b"] = "a"
    movie = Movie(name="Up", year=2009)
    return [movie["year"], isinstance(movie, dict), Box(3).item, cast(int, "3"), UserId(5),
            shout(1), repr(Vector), TYPE_CHECKING, mode]
"""


def test_typed_scripts_load_whatever_modules_the_host_offers(make_engine: MakeEngine) -> None:
    """A script written with type hints (`from typing import ...`, aliases, TypeVar,
    Generic and Protocol bases, TypedDict, cast, NewType) loads and runs although the host
    offers only `math`: typing is part of the language to the engine, and inert."""
    engine = make_engine({"p/10-x.py": TYPED}, modules=("math",))
    (status,) = engine.status()
    assert status.ok, status.error

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> object:
        return None

    assert host() == [2009, True, 3, "3", 5, {"x": 1}, "typing.List", False, "a"]
    assert not hookyard.audit.audit_directory(engine.directory, modules=("math",)).findings


def test_type_hints_hand_out_nothing(make_engine: MakeEngine) -> None:
    """typing's names are inert: no attribute of a hint is readable (not the real types
    behind TypedDict), a hint cannot be called or its type used, and indexing or `|` in a
    loop builds nothing that grows."""
    source = """
from typing import List, TypedDict
def post(rv):
    refused = 0
    for attempt in (lambda: TypedDict._bases, lambda: List._name, lambda: List.__getitem__,
                    lambda: type(List)("x"), lambda: List(1), lambda: List.__class__("x")):
        try:
            attempt()
        except (AttributeError, TypeError):
            refused += 1
    hint = List
    for i in range(10_000):
        hint = hint[hint, hint] | hint
    return [refused, repr(hint)]
"""
    engine = make_engine({"p/10-x.py": source})

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> object:
        return None

    assert host() == [6, "typing.Union"]


def test_what_printed_keeps_is_bounded_by_the_output_limit(make_engine: MakeEngine) -> None:
    """A function reading `printed` keeps its lines although nobody listens to them, so
    they count against Limits.output: printing without end fails with the output limit."""
    source = "def post(rv):\n    while True:\n        print('x' * 1000)\n    return printed\n"
    engine = make_engine({"p/10-x.py": source}, limits=hookyard.Limits(output=10_000))

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> object:
        return None

    with pytest.raises(hookyard.HookFailed, match="output"):
        host()


def test_reading_printed_is_charged_by_its_size(make_engine: MakeEngine) -> None:
    """Each read of `printed` copies what was kept: 100 reads of 60,000 characters
    spend more than 100,000 operations (a few per read if they were not charged)."""
    source = (
        "def post(rv):\n    print('x' * 60_000)\n    n = 0\n    for i in range(100):\n"
        "        n += len(printed)\n    return n\n"
    )
    engine = make_engine({"p/10-x.py": source}, limits=hookyard.Limits(operations=100_000))

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> object:
        return None

    with pytest.raises(hookyard.HookFailed, match="operations limit"):
        host()
