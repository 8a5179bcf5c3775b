"""Cost of the run-time audit trail per hooked call: no sink, logger sink, JSON-lines file.

Run: ``.venv/bin/python benchmarks/audit_overhead.py``. Prints microseconds per call for
a point with one script (``pre`` and ``post``), and the ratio against the no-sink case,
all measured in the same run. The bare decorator-free function is the floor.
"""

from __future__ import annotations

import logging
import tempfile
import timeit
from pathlib import Path
from typing import Any

import hookyard

SCRIPT = """
def pre(name, size):
    if size > 100:
        raise Veto("too big")

def post(rv, name, size):
    return None
"""
NUMBER = 20_000
REPEAT = 7


def _per_call(fn: Any) -> float:
    """Best of REPEAT runs, in microseconds per call."""
    runs = timeit.repeat(lambda: fn("web-1", 3), number=NUMBER, repeat=REPEAT)
    return min(runs) / NUMBER * 1e6


def _host(engine: hookyard.HookEngine) -> Any:
    @engine.hook("create")
    def create(name: str, size: int) -> dict[str, Any]:
        return {"name": name, "size": size}

    return create


def main() -> None:
    audit = logging.getLogger("hookyard.audit")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "hooks"
        (root / "create").mkdir(parents=True)
        (root / "create" / "10-x.py").write_text(SCRIPT)

        def bare(name: str, size: int) -> dict[str, Any]:
            return {"name": name, "size": size}

        results: dict[str, float] = {"bare function": _per_call(bare)}
        results["no sink"] = _per_call(_host(hookyard.HookEngine(root)))

        handler = logging.NullHandler()
        audit.addHandler(handler)
        audit.setLevel(logging.INFO)
        try:
            engine = hookyard.HookEngine(root)
            results["logger sink (NullHandler)"] = _per_call(_host(engine))
        finally:
            audit.removeHandler(handler)
            audit.setLevel(logging.NOTSET)
        try:
            engine = hookyard.HookEngine(root, audit_log=Path(tmp) / "audit.jsonl")  # type: ignore[call-arg]
        except TypeError:
            pass  # before the audit trail existed
        else:
            results["JSON-lines file sink"] = _per_call(_host(engine))
            engine.close()
    base = results["no sink"]
    print(f"{'case':<28} {'us/call':>8} {'vs no sink':>11}")
    for name, value in results.items():
        print(f"{name:<28} {value:8.2f} {value / base:10.2f}x")


if __name__ == "__main__":
    main()
