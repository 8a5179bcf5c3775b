"""``re`` in scripts: Python's API over RE2 — linear-time, bounded, and nothing of the
stdlib ``re`` or of re2's raw objects within reach."""

from __future__ import annotations

import re

import pytest

from tests.conftest import BOTH_MODES, MakeEngine
from tests.modules_support import explodes, fails, run

pytestmark = BOTH_MODES

# (script expression, the same computed by the stdlib here)
LEGITIMATE = {
    "search groups": (
        "re.search(r'(\\d+)-(\\d+)', 'tel 12-34 x').groups()",
        re.search(r"(\d+)-(\d+)", "tel 12-34 x").groups(),  # type: ignore[union-attr]
    ),
    "match span": ("re.match(r'\\w+', 'hello world').span()", (0, 5)),
    "fullmatch": ("bool(re.fullmatch(r'[a-z0-9_]{3,16}', 'db_primary'))", True),
    "fullmatch fails": ("re.fullmatch(r'[a-z]+', 'abc1') is None", True),
    "findall": ("re.findall(r'\\b\\w+@\\w+\\.com\\b', 'a@b.com, c@d.com')", ["a@b.com", "c@d.com"]),
    "findall groups": ("re.findall(r'(\\w)=(\\d)', 'a=1 b=2')", [("a", "1"), ("b", "2")]),
    "finditer": ("[m.start() for m in re.finditer(r'o', 'foo boo')]", [1, 2, 5, 6]),
    "sub template": (
        "re.sub(r'(?P<first>\\w+) (?P<last>\\w+)', r'\\g<last>, \\g<first>', 'John Smith')",
        "Smith, John",
    ),
    "sub backslash group": ("re.sub(r'(\\w+)@(\\w+)', r'\\2 at \\1', 'joe@home')", "home at joe"),
    "sub function": (
        "re.sub(r'\\d+', lambda m: str(int(m.group()) * 2), 'a1 b22')",
        "a2 b44",
    ),
    "sub empty matches": ("re.sub('x*', '-', 'abxd')", re.sub("x*", "-", "abxd")),
    "subn count": ("re.subn(r'a', 'b', 'aaaa', count=2)", ("bbaa", 2)),
    "split": ("re.split(r'[,;]\\s*', 'a, b;c')", ["a", "b", "c"]),
    "split groups": ("re.split(r'(,)', 'a,b')", ["a", ",", "b"]),
    "split maxsplit": ("re.split(r',', 'a,b,c', maxsplit=1)", ["a", "b,c"]),
    "escape": ("re.escape('1.5*x')", re.escape("1.5*x")),
    "flags": ("re.findall(r'^hello', 'Hello\\nhello', re.I | re.M)", ["Hello", "hello"]),
    "dotall": ("re.match(r'a.b', 'a\\nb', re.S).group()", "a\nb"),
    "inline flag": ("re.findall(r'(?i)abc', 'ABC abc')", ["ABC", "abc"]),
    "verbose": (
        "re.compile('(\\\\d+)  # number\\n\\\\s*  [a-z]+  # unit', re.X).findall('10 kb 2mb')",
        ["10", "2"],
    ),
    "groupdict": (
        "re.match(r'(?P<y>\\d{4})-(?P<m>\\d\\d)', '2024-05').groupdict()",
        {"y": "2024", "m": "05"},
    ),
    "match items": (
        "[m[0], m[1], m['y'], m.start('y'), m.end(), m.span(1), m.lastindex, m.lastgroup]",
        ["2024-05", "2024", "2024", 0, 7, (0, 4), 2, "m"],
    ),
    "expand": ("m.expand(r'\\g<m>/\\g<y>')", "05/2024"),
    "pattern attributes": (
        "[p.pattern, p.groups, p.groupindex, p.flags & re.I]",
        ["(?P<y>\\d{4})-(?P<m>\\d\\d)", 2, {"y": 1, "m": 2}, 0],
    ),
    "unmatched group is None": ("re.match(r'(a)|(b)', 'b').groups()", (None, "b")),
    "groups default": ("re.match(r'(a)|(b)', 'b').groups('')", ("", "b")),
    "Python escapes": ("re.findall(r'\\u00e9+|\\N{DIGIT ONE}|\\x41', 'ééA1')", ["éé", "A", "1"]),
    "\\Z and {,n}": ("re.findall(r'a{,2}\\Z', 'aaa')", ["aa", ""]),
    "bytes": ("re.findall(rb'[a-z]+', b'ab 12 cd')", [b"ab", b"cd"]),
    "compiled reuse": ("re.compile(r'\\d').sub('#', 'a1b2')", "a#b#"),
    "pos endpos": ("re.compile(r'\\d').search('12345', 2, 4).group()", "3"),
    "repr": ("repr(re.match(r'ab', 'abc'))", "<re.Match object; span=(0, 2), match='ab'>"),
    "isinstance": ("isinstance(re.compile('a'), re.Pattern)", True),
    "error is catchable": (
        "'caught'\ntry:\n    re.compile('(')\nexcept re.error as exc:\n    return 'caught'",
        "caught",
    ),
}


@pytest.mark.parametrize("name", sorted(LEGITIMATE))
def test_legitimate_regular_expressions_work(make_engine: MakeEngine, name: str) -> None:
    """Hook authors' regular expressions (from the Python docs' examples) give the stdlib's
    results."""
    expression, expected = LEGITIMATE[name]
    setup = "m = re.match(r'(?P<y>\\d{4})-(?P<m>\\d\\d)', '2024-05')\np = m.re\n"
    if "\n" in expression:
        rest = expression.partition("\n")[2]
        body = setup + rest
    else:
        body = setup + f"return {expression}"
    assert run(make_engine, body, "re") == expected


UNSUPPORTED = {
    r"(a)\1": "backreference",
    r"(?P<x>a)(?P=x)": "named backreference",
    r"foo(?=bar)": "lookahead",
    r"foo(?!bar)": "negative lookahead",
    r"(?<=\$)\d+": "lookbehind",
    r"(?<!-)\d+": "negative lookbehind",
    r"a++": "possessive quantifier",
    r"(?>a+)b": "atomic group",
    r"(a)?(?(1)b|c)": "conditional group",
}


@pytest.mark.parametrize("pattern", sorted(UNSUPPORTED))
def test_a_pattern_re2_cannot_run_fails_naming_the_construct(
    make_engine: MakeEngine, pattern: str
) -> None:
    """A backreference, lookaround, atomic group... fails with re.error naming it."""
    message = fails(make_engine, f"re.compile({pattern!r})", "re")
    assert message.startswith("error: ")
    assert UNSUPPORTED[pattern] in message
    assert "RE2" in message


def test_catastrophic_backtracking_pattern_runs_in_linear_time(make_engine: MakeEngine) -> None:
    """(a+)+$ on a long non-matching text (hours with the stdlib re) answers at once."""
    body = "return [re.match(r'(a+)+$', 'a' * 50000 + 'b') is None, re.search(r'(x+x+)+y', 'x' * 50000) is None]"
    assert run(make_engine, body, "re") == [True, True]


EXPLODING = {
    "sub multiplies the output": "re.sub('', 'x' * 1000, 'y' * 10000)",
    "sub template multiplies groups": "re.sub(r'(a*)', r'\\1\\1\\1\\1\\1\\1\\1\\1\\1\\1', 'a' * 100000)",
    "findall of nested groups copies the match per group": (
        "re.findall('(' * 90 + 'a*' + ')' * 90, 'a' * 100000)"
    ),
    "split of every position": "re.split('', 'x' * 300000)",
    "findall over a huge text": "re.findall('a', 'a' * 10**6)",
    "finditer consumed in C": "'x' in re.finditer('a', 'a' * 199000)",
    "expand of a huge group": "re.match('(a*)', 'a' * 100000).expand(r'\\1' * 10)",
}


@pytest.mark.parametrize("name", sorted(EXPLODING))
def test_exploding_regular_expression_calls_stop_within_the_budget(
    make_engine: MakeEngine, name: str
) -> None:
    """Output that multiplies its input is refused before it is built; the host keeps
    serving."""
    explodes(make_engine, EXPLODING[name], "re")


LEAKS = {
    "pattern state": "re.compile('a').__regexp__",
    "match state": "re.match('a', 'a').__found__",
    "stdlib re via module": "re.__dict__",
}


@pytest.mark.parametrize("name", sorted(LEAKS))
def test_pattern_and_match_objects_reach_nothing_internal(
    make_engine: MakeEngine, name: str
) -> None:
    """The facade's objects keep their state in names scripts cannot use."""
    engine = make_engine({"p/10-x.py": f"import re\ndef pre():\n    return {LEAKS[name]}\n"})
    (status,) = engine.status()
    assert not status.ok and "_" in (status.error or "")


def test_pattern_and_match_cannot_be_made_or_subclassed_by_scripts(make_engine: MakeEngine) -> None:
    """re.Pattern and re.Match are for isinstance checks only."""
    assert "TypeError" in fails(make_engine, "re.Pattern('a', 0, 0, 0)", "re")
    assert "TypeError" in fails(make_engine, "class P(re.Pattern):\n    pass", "re")


def test_a_match_does_not_cross_to_the_host(make_engine: MakeEngine) -> None:
    """A Match is no plain data: the host gets a clear error, not the object."""
    message = fails(make_engine, "return re.match('a', 'a')", "re")
    assert "Match" in message and "cannot cross" in message
