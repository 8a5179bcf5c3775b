"""``collections``, ``itertools``, ``heapq`` and ``bisect`` in scripts: the documented uses
work, and nothing becomes an unbounded C loop or an unchecked allocation."""

from __future__ import annotations

import pytest

from tests.conftest import BOTH_MODES, MakeEngine
from tests.modules_support import explodes, fails, run

pytestmark = BOTH_MODES

MODULES = ("collections", "itertools", "heapq", "bisect")

LEGITIMATE = {
    "Counter most_common": (
        "c = collections.Counter('abracadabra')\nreturn c.most_common(2)",
        [("a", 5), ("b", 2)],
    ),
    "Counter arithmetic": (
        "c = collections.Counter(a=3, b=1)\nd = collections.Counter(a=1, b=2)\n"
        "return [dict(c + d), dict(c - d), dict(c & d), dict(c | d), c.total()]",
        [{"a": 4, "b": 3}, {"a": 2}, {"a": 1, "b": 1}, {"a": 3, "b": 2}, 4],
    ),
    "Counter update and elements": (
        "c = collections.Counter()\nc.update(['x', 'y', 'x'])\nc['z'] += 2\n"
        "return [sorted(c.elements()), c['missing']]",
        [["x", "x", "y", "z", "z"], 0],
    ),
    "defaultdict of lists": (
        "d = collections.defaultdict(list)\n"
        "for k, v in [('yellow', 1), ('blue', 2), ('yellow', 3)]:\n    d[k].append(v)\n"
        "return sorted(d.items())",
        [("blue", [2]), ("yellow", [1, 3])],
    ),
    "defaultdict of int with lambda": (
        "d = collections.defaultdict(lambda: 0)\nfor ch in 'mississippi':\n    d[ch] += 1\n"
        "return dict(d)",
        {"m": 1, "i": 4, "s": 4, "p": 2},
    ),
    "deque with maxlen": (
        "d = collections.deque(range(10), maxlen=3)\nd.append(10)\nd.appendleft(0)\n"
        "d.rotate(1)\nreturn [list(d), d.maxlen, d.popleft()]",
        [[9, 0, 8], 3, 9],
    ),
    "deque operations": (
        "d = collections.deque('ab')\nd.extend('cd')\nd.extendleft('z')\n"
        "return [''.join(d), len(d * 2), list(d + collections.deque('x'))[-1]]",
        ["zabcd", 10, "x"],
    ),
    "namedtuple": (
        "Point = collections.namedtuple('Point', ['x', 'y'])\np = Point(11, y=22)\n"
        "return [p.x + p.y, tuple(p), repr(p), Point(1, 2) == (1, 2)]",
        [33, (11, 22), "Point(x=11, y=22)", True],
    ),
    "namedtuple defaults": (
        "P = collections.namedtuple('P', 'a b c', defaults=[0, 1])\nreturn tuple(P(5))",
        (5, 0, 1),
    ),
    "namedtuple's documented methods": (
        "P = collections.namedtuple('P', 'x y', defaults=[0])\np = P(1)\nq = p._replace(y=5)\n"
        "class Q(P):\n    def total(self):\n        return self.x + self.y\n"
        "return [tuple(q), p._asdict(), P._fields, q._fields, P._field_defaults,"
        " tuple(P._make([3, 4])), Q(2, 3).total(), tuple(Q._make('ab')._replace(x='z'))]",
        [(1, 5), {"x": 1, "y": 0}, ("x", "y"), ("x", "y"), {"y": 0}, (3, 4), 5, ("z", "b")],
    ),
    "OrderedDict": (
        "d = collections.OrderedDict.fromkeys('abcde')\nd.move_to_end('b')\n"
        "d.update([('z', 1)])\nreturn [''.join(d), d.popitem(last=False)[0]]",
        ["acdebz", "a"],
    ),
    "ChainMap": (
        "defaults = {'color': 'red', 'user': 'guest'}\nc = collections.ChainMap({'user': 'joe'}, defaults)\n"
        "child = c.new_child({'color': 'blue'})\n"
        "return [c['user'], c['color'], child['color'], len(c), sorted(c)]",
        ["joe", "red", "blue", 2, ["color", "user"]],
    ),
    "itertools combinatorics": (
        "return [list(itertools.product('ab', repeat=2)), list(itertools.permutations('abc', 2))[:3],"
        " list(itertools.combinations(range(4), 3)),"
        " len(list(itertools.combinations_with_replacement('abc', 2)))]",
        [
            [("a", "a"), ("a", "b"), ("b", "a"), ("b", "b")],
            [("a", "b"), ("a", "c"), ("b", "a")],
            [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)],
            6,
        ],
    ),
    "itertools infinite made finite": (
        "return [list(itertools.islice(itertools.count(10, 5), 3)),"
        " list(itertools.islice(itertools.cycle('ab'), 5)), list(itertools.repeat('x', 3)),"
        " list(zip(range(3), itertools.repeat(0)))]",
        [[10, 15, 20], ["a", "b", "a", "b", "a"], ["x", "x", "x"], [(0, 0), (1, 0), (2, 0)]],
    ),
    "itertools helpers": (
        "return [list(itertools.accumulate([1, 2, 3, 4])), list(itertools.chain('ab', 'cd')),"
        " list(itertools.chain.from_iterable(['ab', 'c'])),"
        " [(k, len(list(g))) for k, g in itertools.groupby('aaabbc')],"
        " list(itertools.pairwise('abc')), list(itertools.batched('abcde', 2)),"
        " list(itertools.takewhile(lambda x: x < 3, [1, 2, 5, 1])),"
        " list(itertools.dropwhile(lambda x: x < 3, [1, 2, 5, 1])),"
        " list(itertools.filterfalse(None, [0, 1, 0, 2])), list(itertools.compress('abc', [1, 0, 1])),"
        " list(itertools.starmap(pow, [(2, 3), (3, 2)])),"
        " list(itertools.zip_longest('ab', 'x', fillvalue='-')),"
        " [list(t) for t in itertools.tee('ab', 2)]]",
        [
            [1, 3, 6, 10],
            ["a", "b", "c", "d"],
            ["a", "b", "c"],
            [("a", 3), ("b", 2), ("c", 1)],
            [("a", "b"), ("b", "c")],
            [("a", "b"), ("c", "d"), ("e",)],
            [1, 2],
            [5, 1],
            [0, 0],
            ["a", "c"],
            [8, 9],
            [("a", "x"), ("b", "-")],
            [["a", "b"], ["a", "b"]],
        ],
    ),
    "heapq": (
        "h = []\nfor x in [5, 1, 8, 3]:\n    heapq.heappush(h, x)\n"
        "return [heapq.heappop(h), heapq.nlargest(2, [5, 1, 8, 3]), heapq.nsmallest(2, 'dcba'),"
        " list(heapq.merge([1, 4], [2, 3])), heapq.nlargest(1, ['a', 'bbb'], key=len)]",
        [1, [8, 5], ["a", "b"], [1, 2, 3, 4], ["bbb"]],
    ),
    "bisect": (
        "a = [1, 3, 5]\nbisect.insort(a, 4)\n"
        "grades = 'FDCBA'\nscore = lambda s: grades[bisect.bisect([60, 70, 80, 90], s)]\n"
        "return [a, bisect.bisect_left(a, 3), [score(s) for s in (33, 99, 77)]]",
        [[1, 3, 4, 5], 1, ["F", "A", "C"]],
    ),
}


@pytest.mark.parametrize("name", sorted(LEGITIMATE))
def test_documented_uses_work(make_engine: MakeEngine, name: str) -> None:
    """The Python docs' examples for these modules give the documented results."""
    body, expected = LEGITIMATE[name]
    assert run(make_engine, body, *MODULES) == expected


EXPLODING = {
    "product with a huge repeat": "list(itertools.product(range(10), repeat=10**6))",
    "product consumed endlessly": "for t in itertools.product(range(10), repeat=20):\n    pass",
    "count in a membership test": "-1 in itertools.count()",
    "repeat forever into a list": "list(itertools.repeat(1))",
    "repeat times in C": "sum(itertools.repeat(1, 10**12))",
    "cycle in a membership test": "'z' in itertools.cycle('ab')",
    "filterfalse skipping forever": "next(itertools.filterfalse(None, itertools.repeat(1)))",
    "islice skipping far": "next(itertools.islice(itertools.count(), 10**12, None))",
    "accumulate growing strings": "list(itertools.accumulate(itertools.repeat('ab' * 1000, 10**4)))",
    "combinations_with_replacement allocation": (
        "next(itertools.combinations_with_replacement('ab', 10**9))"
    ),
    "permutations of a huge r": "next(itertools.permutations(range(5), 10**9))",
    "batched of a huge n": "next(itertools.batched(range(3), 10**9))",
    "tee of a huge n": "itertools.tee([1], 10**9)",
    "Counter elements of huge counts": "list(collections.Counter(a=10**18).elements())",
    "Counter of colliding ints": "collections.Counter([i * (2**61 - 1) for i in range(30000)])",
    "deque repetition": "collections.deque(range(100)) * 10**8",
    "deque extend of a huge range": "collections.deque().extend(range(10**9))",
    "defaultdict from a huge iterable": "collections.defaultdict(int, zip(range(10**9), range(10**9)))",
    "OrderedDict.fromkeys of a huge range": "collections.OrderedDict.fromkeys(range(10**9))",
    "ChainMap.fromkeys of a huge range": "collections.ChainMap.fromkeys(range(10**9))",
    "ChainMap over one big map many times": (
        "big = dict.fromkeys(range(100000))\nm = collections.ChainMap(*([big] * 100))\n"
        "for i in range(100):\n    len(m)"
    ),
    "nlargest of an endless iterator": "heapq.nlargest(3, itertools.count())",
    "merge of endless iterators": "-1 in heapq.merge(itertools.count(), itertools.count())",
    "namedtuple _make of an endless iterator": (
        "P = collections.namedtuple('P', 'x')\nP._make(itertools.count())"
    ),
    "namedtuple _make nesting itself": (
        "P = collections.namedtuple('P', 'a b')\np = P(0, 0)\n"
        "for i in range(10**6):\n    p = P._make((p, i))"
    ),
    "namedtuple _replace nesting itself": (
        "P = collections.namedtuple('P', 'a b')\np = P(0, 0)\n"
        "for i in range(10**6):\n    p = p._replace(a=p)"
    ),
    "namedtuple with a million fields": "collections.namedtuple('P', ['f%d' % i for i in range(10**6)])",
}


@pytest.mark.parametrize("name", sorted(EXPLODING))
def test_exploding_calls_stop_within_the_budget(make_engine: MakeEngine, name: str) -> None:
    """Endless or huge iteration and allocation stop with LimitExceeded; the host keeps
    serving."""
    explodes(make_engine, EXPLODING[name], *MODULES)


def test_namedtuple_names_must_be_plain_identifiers(make_engine: MakeEngine) -> None:
    """A field or type name is an ASCII identifier: nothing can be injected into the code
    namedtuple generates."""
    for names in ("['x', 'y=1): pass\\n#']", "['ｘ']", "['_x']", "['class']"):
        message = fails(make_engine, f"collections.namedtuple('P', {names})", *MODULES)
        assert message.startswith("ValueError"), message
    assert "ValueError" in fails(make_engine, "collections.namedtuple('P(x)', 'a')", *MODULES)


def test_facade_containers_cross_to_the_host_only_as_plain_data(make_engine: MakeEngine) -> None:
    """A Counter or deque is refused at the boundary with a clear error; dict(c) and
    list(d) cross."""
    assert "cannot cross" in fails(make_engine, "return collections.Counter('ab')", *MODULES)
    assert "cannot cross" in fails(make_engine, "return collections.deque('ab')", *MODULES)
    body = "return [dict(collections.Counter('aab')), list(collections.deque('ab')), tuple(collections.namedtuple('P', 'x')(1))]"
    assert run(make_engine, body, *MODULES) == [{"a": 2, "b": 1}, ["a", "b"], (1,)]
