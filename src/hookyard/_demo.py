"""``hookyard demo``: a little compute service whose calls go through hook points.

Edit a script under the hook directory while it runs and watch the behaviour change.
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from ._engine import HookEngine
from .errors import HookError, HookVetoed

__all__ = ["run_demo"]

_NAMES = ["web-1", "db_primary", "cache-2", "a" * 40, "batch-7", "edge-3"]
_FLAVORS = ["m1.small", "m1.large", "m1.xlarge"]


class ComputeService:
    """The example host: creates, resizes and deletes instances (think Nova)."""

    def __init__(self, engine: HookEngine, out: TextIO) -> None:
        self.instances: dict[str, dict[str, Any]] = {}
        self.out = out

        hook = engine.hook

        @hook("create", veto=True)
        def create(name: str, flavor: str, **options: Any) -> dict[str, Any]:
            instance = {"name": name, "flavor": flavor, "tags": list(options.get("tags", []))}
            self.instances[name] = instance
            return dict(instance)

        @hook("resize", result="replace")
        def resize(instance: dict[str, Any], flavor: str) -> dict[str, Any]:
            return {**instance, "flavor": flavor}

        @hook("delete", veto=True)
        def delete(instance: dict[str, Any]) -> None:
            if instance["name"] not in self.instances:
                raise KeyError(f"no instance {instance['name']!r}")
            del self.instances[instance["name"]]

        self.create, self.resize, self.delete = create, resize, delete


class _Printer(logging.Handler):
    def __init__(self, out: TextIO) -> None:
        super().__init__()
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        source = record.name.removeprefix("hookyard.script.")
        print(f"    [{source}] {record.getMessage()}", file=self.out, flush=True)


def run_demo(
    directory: Path, *, iterations: int | None, interval: float, out: TextIO = sys.stdout
) -> int:
    """Run the demo host; ``iterations=None`` loops until interrupted."""
    printer = _Printer(out)
    watched = [logging.getLogger("hookyard.script"), logging.getLogger("hookyard")]
    for logger in watched:
        logger.addHandler(printer)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    notes: list[str] = []

    def notify(message: str) -> None:
        notes.append(message)
        print(f"    [api.notify] {message}", file=out, flush=True)

    print(
        f"hookyard demo: hooks from {directory} (edit them while this runs; Ctrl-C stops)",
        file=out,
        flush=True,
    )
    try:
        with HookEngine(directory, api={"notify": notify}) as engine:
            service = ComputeService(engine, out)
            steps = itertools.count() if iterations is None else range(iterations)
            for step in steps:
                name = _NAMES[step % len(_NAMES)]
                flavor = _FLAVORS[step % len(_FLAVORS)]
                print(f"{step:>3}: create({name!r}, {flavor!r})", file=out, flush=True)
                try:
                    created = service.create(
                        name, flavor, tags=["protected"] if step % 6 == 4 else []
                    )
                    print(f"     -> created {created['name']}", file=out, flush=True)
                    resized = service.resize(created, _FLAVORS[(step + 2) % len(_FLAVORS)])
                    print(f"     -> resized to {resized['flavor']}", file=out, flush=True)
                    service.delete(created)
                    print(f"     -> deleted {created['name']}", file=out, flush=True)
                except HookVetoed as vetoed:
                    print(f"     -> vetoed: {vetoed.reason}", file=out, flush=True)
                except HookError as exc:
                    print(f"     -> hook error: {exc}", file=out, flush=True)
                if interval:
                    time.sleep(interval)
    except KeyboardInterrupt:
        print("stopped", file=out)
    finally:
        for logger in watched:
            logger.removeHandler(printer)
            logger.propagate = True
    return 0
