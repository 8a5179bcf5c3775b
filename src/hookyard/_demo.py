"""``hookyard demo``: a little compute service whose calls go through hook points.

Edit a script under the hook directory while it runs and watch the behaviour change. The
example scripts ship inside the package (``_examples/hook_scripts``): run from a directory
without a ``hook_scripts`` folder, the demo copies them to a temporary directory, says
where, and removes it when it stops (issue 18: it used to work from the repository only).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from ._engine import HookEngine, ReloadEvent
from .errors import HookError, HookVetoed

__all__ = ["EXAMPLES", "run_demo"]

EXAMPLES = Path(__file__).parent / "_examples" / "hook_scripts"
DEFAULT_DIRECTORY = Path("hook_scripts")

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


@contextlib.contextmanager
def _hook_directory(directory: Path | None, out: TextIO) -> Iterator[Path]:
    """The directory the demo serves: the one given, ``./hook_scripts``, or a copy of the
    shipped examples in a temporary directory (removed afterwards)."""
    if directory is not None:
        print(f"hookyard demo: hooks from {directory}", file=out, flush=True)
        yield directory
        return
    if DEFAULT_DIRECTORY.is_dir():
        print(f"hookyard demo: hooks from {DEFAULT_DIRECTORY}", file=out, flush=True)
        yield DEFAULT_DIRECTORY
        return
    with tempfile.TemporaryDirectory(prefix="hookyard-demo-") as holder:
        copy = Path(holder) / "hook_scripts"
        shutil.copytree(EXAMPLES, copy)
        for folder, _, files in os.walk(copy):
            # whatever the umask: strict modes refuse world-writable scripts and folders
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        print(
            f"hookyard demo: no {DEFAULT_DIRECTORY} here; the example hooks are copied to "
            f"{copy} (removed when the demo stops)",
            file=out,
            flush=True,
        )
        yield copy


def run_demo(
    directory: Path | None,
    *,
    iterations: int | None,
    interval: float,
    verbose: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """Run the demo host; ``iterations=None`` loops until interrupted.

    Quiet by default: what the hooks did (their log lines, ``api.notify``, vetoes and
    results), reloads, and the engine's warnings. ``verbose`` adds the engine's INFO lines
    and the audit trail (an event per script invocation).
    """
    printer = _Printer(out)
    scripts = logging.getLogger("hookyard.script")
    engine_logger = logging.getLogger("hookyard")
    saved = [(logger, logger.level, logger.propagate) for logger in (scripts, engine_logger)]
    for logger in (scripts, engine_logger):
        logger.addHandler(printer)
        logger.propagate = False
    scripts.setLevel(logging.INFO)
    # the audit trail is on when `hookyard.audit` is enabled for INFO: only with --verbose
    engine_logger.setLevel(logging.INFO if verbose else logging.WARNING)

    def notify(message: str) -> None:
        print(f"    [api.notify] {message}", file=out, flush=True)

    def reloaded(event: ReloadEvent) -> None:
        if event.ok and not verbose:  # (verbose: the engine's own INFO line says it)
            what = "removed" if event.removed else "reloaded"
            print(f"    [{what}] {event.file}", file=out, flush=True)

    try:
        with (
            _hook_directory(directory, out) as served,
            HookEngine(served, api={"notify": notify}) as engine,
        ):
            print("  (edit the scripts while this runs; Ctrl-C stops)", file=out, flush=True)
            engine.add_reload_listener(reloaded)
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
        for logger, level, propagate in saved:
            logger.removeHandler(printer)
            logger.setLevel(level)
            logger.propagate = propagate
    return 0
