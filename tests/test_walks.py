"""The policy's tree walks (``_static.walk``/``children``) read each node class's fields
from its ASDL signature (issue 17, figure E): they find every node ``ast.walk`` finds,
in its order, but contexts and operators, on every supported CPython."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import hookyard
from hookyard import _static

LEAVES = (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)
# sources using most of the language: hookyard's own modules and the standard library's
SOURCES = sorted(Path(hookyard.__file__).parent.glob("*.py")) + [
    Path(inspect.getfile(module)) for module in (ast, inspect, __import__("dataclasses"))
]
MATCH = """
match command:
    case [x, *rest] if x > 0:
        pass
    case {"k": v, **others}:
        pass
    case Point(x=0, y=_) | None:
        pass
    case str() as s:
        pass
async def f(a, /, b: int = 1, *c, d, **e) -> None:
    async with g() as h, i:
        async for j in k:
            await l
    x = [y async for y in z if y]
    return (lambda m=1: m)(), f"{a!r:>{b}}", a[1:2:3], ~b, not c, a < b <= c
"""


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.name)
def test_walk_finds_what_ast_walk_finds_but_leaves(path: Path) -> None:
    """Every node of a large module, in ``ast.walk``'s order, contexts and operators left
    out; ``children`` likewise for each node."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    expected = [node for node in ast.walk(tree) if not isinstance(node, LEAVES)]
    assert _static.walk(tree) == expected
    for node in expected[:2000]:
        assert _static.children(node) == [
            child for child in ast.iter_child_nodes(node) if not isinstance(child, LEAVES)
        ]


def test_walk_finds_every_node_of_newer_syntax() -> None:
    """Pattern matching, async forms, f-strings, slices, positional-only parameters."""
    tree = ast.parse(MATCH)
    expected = [node for node in ast.walk(tree) if not isinstance(node, LEAVES)]
    assert _static.walk(tree) == expected
    assert {type(node).__name__ for node in expected} >= {
        "MatchSequence",
        "MatchStar",
        "MatchMapping",
        "MatchClass",
        "MatchOr",
        "MatchAs",
        "AsyncWith",
        "AsyncFor",
        "Await",
        "JoinedStr",
        "FormattedValue",
        "Slice",
        "Lambda",
        "arguments",
    }


def test_a_class_whose_signature_does_not_read_keeps_every_field() -> None:
    """A node class without a readable ASDL signature is walked field by field (fail safe)."""

    class Odd(ast.expr):
        """not a signature"""

        _fields = ("inner", "name")

    odd = Odd()
    odd.inner, odd.name = ast.Name("x", ast.Load()), "y"  # type: ignore[attr-defined]
    assert _static.children(odd) == [odd.inner]  # type: ignore[attr-defined]
    assert _static._walked_fields(Odd) == ("inner", "name")
