"""Escapes through builtins: every denied builtin, and aliases of the code-running ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.escapes import assert_contained, run_payload

DENIED_CALLS = {
    # no direct I/O
    "open": "open('/etc/passwd').read()",
    "input": "input()",
    # no new code
    "exec": "exec('1')",
    "eval": "eval('1')",
    "compile": "compile('1', 'x', 'eval')",
    # namespace and class-hierarchy walks
    "globals": "globals()",
    "locals": "locals()",
    "vars": "vars()",
    "dir": "dir()",
    # offered since issue 14, but never what made them dangerous: three-argument type,
    # object's subclass walk, super outside a method, the functions descriptors wrap
    "type": "type('X', (), {})",
    "object": "object.__subclasses__()",
    "super": "super()",
    "classmethod": "classmethod(len).__func__",
    "staticmethod": "staticmethod(len).__wrapped__",
    "property": "property(len).__get__",
    # raw buffers, addresses
    "memoryview": "memoryview(b'x')",
    "bytearray": "bytearray(10)",
    "id": "id(1)",
    # debugger and interpreter helpers
    "breakpoint": "breakpoint()",
    "help": "help()",
    "exit": "exit()",
    "quit": "quit()",
    "copyright": "copyright()",
    # build_class directly
    "build_class": "__build_class__(lambda: None, 'X')",
}

# exec/eval/compile by alias: the name is not there to alias
EXEC_ALIAS = "def pre(*a):\n    run = exec\n    run('x = 1')\n    api.leak('escaped')\n"
EVAL_THROUGH_GETATTR = "def pre(*a):\n    api.leak(str(getattr(__builtins__, 'eval')))\n"
EVAL_FROM_MODULE = "import math\ndef pre(*a):\n    api.leak(str(math.eval))\n"
# builtins reached through a function object
BUILTINS_THROUGH_FUNCTION = "def pre(*a):\n    api.leak(str(getattr(pre, '__builtins__')))\n"
# print redirected to a file-like object
PRINT_TO_FILE = (
    "class F:\n    def write(self, s):\n        api.leak('escaped')\n"
    "def pre(*a):\n    print('x', file=F())\n"
)
PRINTED_NAME = "def pre(*a):\n    printed = 1\n    api.leak('escaped')\n"


def _payload(call: str) -> str:
    return f"def pre(*a):\n    api.leak(str({call}))\n"


@pytest.mark.parametrize("name", sorted(DENIED_CALLS))
def test_denied_builtin_is_unavailable(tmp_path: Path, name: str) -> None:
    """Each denied builtin is missing from the script's namespace (or, for the class
    builtins scripts now get, refuses what made it dangerous)."""
    assert_contained(run_payload(tmp_path, _payload(DENIED_CALLS[name])))


PAYLOADS = {
    name: value for name, value in globals().items() if name.isupper() and isinstance(value, str)
}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_builtin_payload_is_contained(tmp_path: Path, name: str) -> None:
    """Aliases and indirections of the denied builtins reach nothing."""
    assert_contained(run_payload(tmp_path, PAYLOADS[name]))


def test_safe_builtins_work(tmp_path: Path) -> None:
    """The builtins scripts are given behave like Python's."""
    outcome = run_payload(
        tmp_path,
        "def post(rv, *a):\n"
        "    d = dict(a=1, b=2)\n"
        "    return [sorted([3, 1, 2]), list(zip('ab', [1, 2])), tuple(range(3)), sum([1, 2]),\n"
        "            min(4, 2), max([1, 9]), any([0, 1]), all([]), list(enumerate('xy')),\n"
        "            list(reversed([1, 2])), set([1, 1]) == {1}, isinstance(d, dict),\n"
        "            isinstance('s', (list, str)), str(12), repr('q'), len(d),\n"
        "            list(map(abs, [-1])), list(filter(None, [0, 5])), hasattr(d, 'keys'),\n"
        "            getattr(d, 'nope', 'dflt'), pow(2, 10), round(2.567, 1), divmod(7, 2),\n"
        "            dict.fromkeys('ab', 0), frozenset([1]) == frozenset({1}), chr(65), ord('A')]\n",
    )
    assert outcome.result == [
        [1, 2, 3],
        [("a", 1), ("b", 2)],
        (0, 1, 2),
        3,
        2,
        9,
        True,
        True,
        [(0, "x"), (1, "y")],
        [2, 1],
        True,
        True,
        True,
        "12",
        "'q'",
        2,
        [1],
        [5],
        True,
        "dflt",
        1024,
        2.6,
        (3, 1),
        {"a": 0, "b": 0},
        True,
        "A",
        65,
    ]
