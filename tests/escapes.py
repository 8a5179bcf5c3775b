"""Shared harness for the escape corpus (tests/test_escape_*.py).

Each payload is a hook script that ends by calling ``api.leak("escaped")`` (or leaking
what it reached) only if its trick worked. The harness asserts three things: the host call
still returns, nothing reached ``api.leak``, and the payload was stopped rather than
silently skipped (it failed to compile/load, or its invocation failed).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hookyard
from tests.conftest import write_scripts


@dataclass
class Outcome:
    result: Any
    leaked: list[Any]
    status: hookyard.ScriptStatus

    @property
    def stopped(self) -> bool:
        """The payload was refused at load or failed when run."""
        return not self.status.ok or self.status.failures > 0


def run_payload(
    tmp_path: Path, source: str, *, phase: str = "pre", **engine_options: Any
) -> Outcome:
    """Load ``source`` as a script of point ``p`` and call the host once."""
    leaked: list[Any] = []
    root = write_scripts(tmp_path / "hooks", {"p/10-payload.py": textwrap.dedent(source)})
    engine = hookyard.HookEngine(root, api={"leak": leaked.append}, **engine_options)

    @engine.hook("p", result="replace")
    def host(*args: Any) -> Any:
        return "served"

    result = host({"data": [1, 2]}, "text")
    (status,) = engine.status()
    return Outcome(result=result, leaked=leaked, status=status)


def assert_contained(outcome: Outcome) -> None:
    """The payload reached nothing and the host kept serving."""
    assert outcome.leaked == [], f"payload leaked {outcome.leaked!r}"
    assert outcome.result == "served"
    assert outcome.stopped, "payload neither refused nor failed: it ran to completion"
