"""The pages that state the sandbox's contract say exactly what the engine does.

docs/writing-hooks.md lists the builtins a script gets and what is refused; these tests
compare those lists with the engine's own tables, so neither can drift (issue 14).
"""

from __future__ import annotations

import builtins
import re
from pathlib import Path

from hookyard._names import DENIED_BUILTINS, SPECIAL_METHODS
from hookyard._sandbox import _base_builtins

DOCS = Path(__file__).parent.parent / "docs"


def _row(text: str, first_cell: str) -> str:
    for line in text.splitlines():
        if line.startswith(f"| {first_cell} |"):
            return line
    raise AssertionError(f"no table row {first_cell!r}")


def test_the_builtins_row_lists_every_builtin_a_script_gets() -> None:
    """The `builtins` row of writing-hooks.md names exactly the non-exception builtins."""
    text = (DOCS / "writing-hooks.md").read_text()
    row = _row(text, "builtins")
    listed = set(re.search(r"`([a-z ]+)`", row).group(1).split())  # type: ignore[union-attr]
    given = _base_builtins()
    expected = {
        name
        for name, value in given.items()
        if not name.startswith("_")
        and name[0].islower()
        and not (isinstance(value, type) and issubclass(value, BaseException))
    }
    assert listed == expected


def test_every_standard_exception_but_the_signals_is_given() -> None:
    """As the page says: every standard exception class but SystemExit,
    KeyboardInterrupt and GeneratorExit."""
    given = _base_builtins()
    standard = {
        name
        for name, value in vars(builtins).items()
        if isinstance(value, type) and issubclass(value, BaseException) and not name.startswith("_")
    }
    assert standard - set(given) == {"SystemExit", "KeyboardInterrupt", "GeneratorExit"}


def test_every_denied_builtin_is_in_the_refused_table() -> None:
    """Each name the engine refuses at load appears in the refused table with a reason."""
    text = (DOCS / "writing-hooks.md").read_text()
    table = text.split("## What is refused, and why", 1)[1].split("\n## ", 1)[0]
    for name in DENIED_BUILTINS:
        assert f"`{name}`" in table, name


def test_every_special_method_is_named_on_the_page() -> None:
    """Each special method a script may define is named (or covered by the operator
    forms) in the `What works` table."""
    text = (DOCS / "writing-hooks.md").read_text()
    table = text.split("## What works", 1)[1].split("\n## ", 1)[0]
    operators = {"add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "divmod"}
    operators |= {"pow", "lshift", "rshift", "and", "xor", "or"}
    for name in SPECIAL_METHODS:
        core = name.strip("_")
        for prefix in ("r", "i"):
            if core.startswith(prefix) and core[1:] in operators:
                core = core[1:]
        if core in operators:
            continue  # "the arithmetic operators (and their __r…__/__i…__ forms)"
        plain = f"`{name}`" in table or f"{name}`" in table or f"`{name}/" in table
        assert plain or f"/{name}`" in table or f"{name}/" in table, name
