"""The ``hookyard`` command. Exit codes: 0 ok, 1 findings, 2 usage.

``check``, ``list`` and ``audit`` never run a script: they read the syntax trees.
``run`` and ``watch`` load scripts in the sandbox, with stub ``api`` functions that print
their calls and return None. ``demo`` runs the example host. See docs/cli.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from ._audit import DirectoryAudit, ScriptAudit, audit_directory
from ._layout import fingerprint
from ._modules import facade_factories

__all__ = ["EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "UsageError", "main"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The command line cannot be acted on; carries its exit code (click's pattern)."""

    exit_code = EXIT_USAGE


# -- argument types -------------------------------------------------------------------------
def _json_of(kind: type, label: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"not JSON ({exc})") from None
        if kind is not object and not isinstance(value, kind):
            raise argparse.ArgumentTypeError(f"must be a JSON {label}, not {text!r}")
        return value

    parse.__name__ = f"JSON {label}"  # argparse names the type in its error messages
    return parse


def _module_list(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    try:
        facade_factories(names)  # refuses forbidden or missing modules, as the engine would
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return names


def _engine_logs_to_stderr() -> None:
    """For commands that load scripts: the command reports failures and reach changes
    itself, so the engine's own WARNING lines would say everything twice. Errors (a
    listener or the audit file failing) still reach stderr."""
    engine_logger = logging.getLogger("hookyard")
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.ERROR)
    engine_logger.addHandler(handler)
    engine_logger.propagate = False


def _directory(args: argparse.Namespace) -> Path:
    directory: Path = args.dir
    if not directory.is_dir():
        raise UsageError(f"no hook directory {directory}")
    return directory


# -- check / list / audit: static, nothing runs ----------------------------------------------
def _audits(args: argparse.Namespace) -> list[DirectoryAudit]:
    """Each directory given (like linters, several at once), all checked to exist first."""
    directories: list[Path] = args.dirs
    for directory in directories:
        if not directory.is_dir():
            raise UsageError(f"no hook directory {directory}")
    return [audit_directory(directory, modules=args.modules) for directory in directories]


def _exit_code(audits: Sequence[DirectoryAudit]) -> int:
    return EXIT_FINDINGS if any(audit.findings for audit in audits) else EXIT_OK


def _check(args: argparse.Namespace) -> int:
    audits = _audits(args)
    for audit in audits:
        for finding in audit.findings:
            print(finding)
    return _exit_code(audits)


def _list(args: argparse.Namespace) -> int:
    audits = _audits(args)
    for index, audit in enumerate(audits):
        if len(audits) > 1:
            if index:
                print()
            print(f"{audit.directory}:")
        _list_one(audit)
    # like check and audit: exit 1 when anything was found (the listing is printed anyway)
    return _exit_code(audits)


def _list_one(audit: DirectoryAudit) -> None:
    points = audit.points
    declared = audit.config.points or {}
    for name in sorted(set(points) | set(declared)):
        options = declared.get(name)
        shown = (
            f"  (result={options.result}, on_error={options.on_error}, veto={options.veto})"
            if options is not None
            else ""
        )
        print(f"{name}{shown}")
        scripts = points.get(name, ())
        if not scripts:
            print("  (no scripts)")
        width = max((len(s.name) for s in scripts), default=0)
        for script in scripts:
            note = ", ".join(script.hooks) or "-"
            if script.findings:
                count = len(script.findings)
                note += f"  [{count} problem{'s' if count > 1 else ''}: hookyard check]"
            print(f"  {script.name:<{width}}  {note}")
    # what belongs to no listed script: files that never run, hookyard.toml, the directory
    for problem in audit.problems:
        print(f"! {problem}")
    # engine.fingerprint() of a host serving this directory: the scripts that load
    serving = [(f"{s.point}/{s.name}", s.version) for s in audit.scripts if s.ok and s.version]
    print(f"fingerprint: {fingerprint(serving)}")


def _module_cell(module: str, used: Sequence[str]) -> str:
    prefix = module + "."
    names = [name.removeprefix(prefix) for name in used if name.startswith(prefix)]
    return f"{module}({'|'.join(names)})" if names else module


def _cell(values: Sequence[str]) -> str:
    return ",".join(values) if values else "-"


def _row(directory: str, script: ScriptAudit, prefix: str) -> list[str]:
    try:
        shown = prefix + Path(script.file).relative_to(directory).as_posix()
    except ValueError:
        shown = script.file
    attributes = [f".{name}" for name in script.reads]
    attributes += [f"={name}" for name in script.writes]
    return [
        shown,
        (script.version or "-")[:12],
        _cell(script.hooks),
        _cell([f"api.{name}" for name in script.api]),
        _cell([_module_cell(module, script.module_attributes) for module in script.imports]),
        "yes" if script.can_veto else "-",
        "yes" if script.returns_value else "-",
        " ".join(attributes) or "-",
    ]


_HEADER = ["SCRIPT", "VERSION", "HOOKS", "API", "MODULES", "VETO", "RETURNS", "ATTRIBUTES"]


def _audit_command(args: argparse.Namespace) -> int:
    audits = _audits(args)
    if args.json:
        # one directory: its document (format 1); several: a list of them, in order
        documents = [audit.as_dict() for audit in audits]
        json.dump(documents[0] if len(documents) == 1 else documents, sys.stdout, indent=2)
        print()
        return _exit_code(audits)
    rows = [_HEADER]
    for audit in audits:
        # with several directories, each script is shown under its directory's name
        prefix = f"{Path(audit.directory).as_posix()}/" if len(audits) > 1 else ""
        rows += [_row(audit.directory, script, prefix) for script in audit.scripts]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
    findings = [finding for audit in audits for finding in audit.findings]
    if findings:
        print(f"\n{len(findings)} finding{'s' if len(findings) > 1 else ''}:")
        for finding in findings:
            print(f"  {finding}")
    return _exit_code(audits)


# -- run: a dry run of one point ----------------------------------------------------------
def _show(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _run(args: argparse.Namespace) -> int:
    from ._trail import AuditEvent
    from .testing import ApiCall, Harness, LogLine

    directory = _directory(args)
    _engine_logs_to_stderr()
    audit = audit_directory(directory, modules=args.modules)
    if args.point not in audit.points:
        known = ", ".join(audit.points) or "none"
        raise UsageError(f"no point {args.point!r} in {directory} (points: {known})")
    config_api = audit.config.api or ()
    api_names = sorted({n for s in audit.scripts for n in s.api if n != "*"} | set(config_api))

    def printing_stub(name: str) -> Callable[..., None]:
        def stub(*call_args: Any, **call_kwargs: Any) -> None:
            return None  # the dry run has no host: api calls are printed, return None

        stub.__name__ = name
        return stub

    def show(item: Any) -> None:
        if isinstance(item, ApiCall):
            parts = [_show(a) for a in item.args]
            parts += [f"{k}={_show(v)}" for k, v in item.kwargs.items()]
            print(f"  api.{item.name}({', '.join(parts)}) -> None")
        elif isinstance(item, LogLine):
            print(f"  log {item.level} {item.script}: {item.message}")
        elif isinstance(item, AuditEvent):
            spent = f"{item.duration_ms:.3f} ms"
            if item.operations is not None:
                spent += f", {item.operations:,} operation{'s' if item.operations != 1 else ''}"
            note = f": {item.message}" if item.message else ""
            print(f"{item.phase:<5} {Path(item.script).name} {item.outcome} ({spent}){note}")

    modules = args.modules if args.modules is not None else audit.modules
    # options not given on the command line come from DIR/hookyard.toml, else the defaults
    declared = (audit.config.points or {}).get(args.point)
    result = args.result or (declared.result if declared is not None else "keep")
    on_error = args.on_error or (declared.on_error if declared is not None else "isolate")
    veto = args.veto if args.veto is not None else (declared.veto if declared else False)
    options = f"result={result} on_error={on_error} veto={veto}"
    print(f"hookyard run {args.point} ({options})")
    print(f"  args={_show(args.args)} kwargs={_show(args.kwargs)}")
    with Harness(
        directory, api={n: printing_stub(n) for n in api_names}, modules=modules, on_trace=show
    ) as harness:
        failures = [s for s in harness.status() if s.point == args.point and not s.ok]
        for status in failures:
            print(f"not loaded: {status.error}")
        call = harness.point(
            args.point,
            result=result,
            on_error=on_error,
            veto=veto,
            returns=args.rv,
            raises=RuntimeError(args.host_error) if args.host_error is not None else None,
        )(*args.args, **args.kwargs)
        limits = harness.engine.limits
    print(f"budget per invocation: {limits.operations:,} operations, {limits.seconds:g} s")
    if call.vetoed:
        print(f"vetoed: {call.veto_reason}")
    elif call.error is not None:
        print(f"raised: {type(call.error).__name__}: {call.error}")
    else:
        print(f"result: {_show(call.result)}")
    script_failed = any(e.outcome in ("error", "limit") for e in call.events)
    # with --host-error the host's own exception is expected; anything else is a finding
    unexpected = call.error is not None and args.host_error is None
    return EXIT_FINDINGS if failures or script_failed or unexpected else EXIT_OK


# -- watch --------------------------------------------------------------------------------
def _watch(args: argparse.Namespace) -> int:
    from ._engine import HookEngine, ReloadEvent

    directory = _directory(args)
    _engine_logs_to_stderr()
    audit = audit_directory(directory, modules=args.modules)
    api_names = {n for s in audit.scripts for n in s.api if n != "*"} | set(audit.config.api or ())
    modules = args.modules if args.modules is not None else audit.modules
    done = threading.Event()
    seen = [0]

    def shown(file: str) -> str:
        try:
            return Path(file).relative_to(directory).as_posix()
        except ValueError:
            return file

    def failure(file: str, error: str | None) -> str:
        """The error as ``point/name.py:line: message``, named like every other line."""
        text = error or ""
        return shown(file) + text[len(file) :] if text.startswith(file) else text

    def report(event: ReloadEvent) -> None:
        if event.removed:
            print(f"removed  {shown(event.file)}", flush=True)
        elif not event.ok:
            keeps = " (last good version keeps serving)" if event.new_version else ""
            print(f"FAILED   {failure(event.file, event.error)}{keeps}", flush=True)
        else:
            old = (event.old_version or "new")[:12]
            print(
                f"loaded   {shown(event.file)} {old} -> {(event.new_version or '')[:12]}",
                flush=True,
            )
            change = event.reach
            if change is not None:
                for item in change.gained:
                    flag = "  (gains reach)" if item in change.widened else ""
                    print(f"  + {item}{flag}", flush=True)
                for item in change.lost:
                    print(f"  - {item}", flush=True)
        seen[0] += 1
        if args.max_events is not None and seen[0] >= args.max_events:
            done.set()

    engine = HookEngine(
        directory, api={n: _none for n in sorted(api_names)}, modules=modules, polling=args.polling
    )
    try:
        for status in engine.status():
            if not status.ok:
                print(f"FAILED   {failure(status.file, status.error)}", flush=True)
        engine.add_reload_listener(report)
        engine.start()
        count = len(engine.status())
        print(
            f"watching {directory}: {count} script{'s' if count != 1 else ''} (Ctrl-C stops)",
            flush=True,
        )
        _wait_interruptibly(done, args.timeout)
    except KeyboardInterrupt:
        pass
    finally:
        engine.close()
    print("stopped", flush=True)
    return EXIT_OK


def _none(*args: Any, **kwargs: Any) -> None:
    return None


# -- demo ---------------------------------------------------------------------------------
def _wait_interruptibly(event: threading.Event, timeout: float | None) -> None:
    """``event.wait(timeout)``, but Ctrl-C always gets through.

    A SIGINT the kernel hands to one of the watcher's threads does not interrupt the main
    thread's lock wait, so an endless wait could miss it; the main thread runs Python
    code (and so its signal handlers) at least every quarter second.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
        if left <= 0 or event.wait(left):
            return


def _demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo  # the demo host is only imported when asked for

    if args.dir is not None and not args.dir.is_dir():
        raise UsageError(f"no hook directory {args.dir}")
    return run_demo(
        args.dir, iterations=args.iterations, interval=args.interval, verbose=args.verbose
    )


# -- the parser ---------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse's default, made explicit: usage problems exit 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _add_dir(
    parser: argparse.ArgumentParser, *, modules: bool = True, several: bool = False
) -> None:
    if several:
        parser.add_argument(
            "dirs", metavar="DIR", type=Path, nargs="+", help="hook directories, one or more"
        )
    else:
        parser.add_argument("dir", metavar="DIR", type=Path, help="the hook directory")
    if modules:
        parser.add_argument(
            "--modules",
            type=_module_list,
            default=None,
            metavar="M1,M2",
            help="modules scripts may import (default: modules from DIR/hookyard.toml, "
            "else hookyard's default allow-list)",
        )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hookyard", description="Sandboxed, hot-reloading scripting hooks.")
    parser.add_argument("--version", action="version", version=f"hookyard {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    check = commands.add_parser(
        "check",
        help="compile and statically check every script (for pre-commit and CI)",
        description="Compile every script under the policy and check it statically: syntax "
        "errors, denied names, imports outside the allow-list, bad files, and "
        "(with DIR/hookyard.toml) behaviour a point will not honour. Prints "
        "file:line: message per problem and exits 1; silent exit 0 otherwise.",
    )
    _add_dir(check, several=True)
    check.set_defaults(handler=_check)

    listing = commands.add_parser(
        "list",
        help="points and their scripts in run order",
        description="Each point (folder) and its scripts in the order they run, with the "
        "hook functions each defines. Nothing is executed.",
    )
    _add_dir(listing, several=True)
    listing.set_defaults(handler=_list)

    audit = commands.add_parser(
        "audit",
        help="what each script may touch, without running it",
        description="Per script: hook functions, api functions called, modules imported, "
        "attributes read and written, whether it vetoes or returns a value "
        "from post, its sha256 version, and findings. Exit 1 if anything is "
        "found.",
    )
    _add_dir(audit, several=True)
    audit.add_argument(
        "--json", action="store_true", help="print the audit as JSON (format 1, see docs/audit.md)"
    )
    audit.set_defaults(handler=_audit_command)

    run = commands.add_parser(
        "run",
        help="dry-run one point on sample data in the sandbox",
        description="Load DIR and call POINT once, as a host would, on the given sample "
        "data and with the given point options. api calls are printed and "
        "return None. Prints each script's outcome, log lines and budget use, "
        "vetoes, and the result after post hooks. Exit 1 if a script fails.",
    )
    _add_dir(run)
    run.add_argument("point", metavar="POINT", help="the hook point (folder name)")
    run.add_argument(
        "--args",
        type=_json_of(list, "array"),
        default=[],
        metavar="JSON",
        help="positional arguments as a JSON array, e.g. '[\"web-1\", 2]'",
    )
    run.add_argument(
        "--kwargs",
        type=_json_of(dict, "object"),
        default={},
        metavar="JSON",
        help="keyword arguments as a JSON object",
    )
    run.add_argument(
        "--rv",
        type=_json_of(object, "value"),
        default=None,
        metavar="JSON",
        help="what the host function returns (post hooks see it; default null)",
    )
    run.add_argument(
        "--result",
        choices=("keep", "replace"),
        default=None,
        help="the point's result option (default: from DIR/hookyard.toml, else keep)",
    )
    run.add_argument(
        "--on-error",
        choices=("isolate", "raise"),
        default=None,
        help="the point's on_error option (default: from DIR/hookyard.toml, else isolate)",
    )
    run.add_argument(
        "--veto",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether the point allows vetoes (default: from DIR/hookyard.toml, else no)",
    )
    run.add_argument(
        "--host-error",
        metavar="MESSAGE",
        default=None,
        help="make the host raise RuntimeError(MESSAGE), to run error hooks",
    )
    run.set_defaults(handler=_run)

    watch = commands.add_parser(
        "watch",
        help="load and watch a directory, printing every reload as it happens",
        description="Load DIR and watch it: print each reload, failure (with file:line) and "
        "change in a script's reach. Ctrl-C stops.",
    )
    _add_dir(watch)
    watch.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    watch.add_argument(
        "--max-events", type=int, default=None, metavar="N", help="stop after N reload events"
    )
    watch.add_argument(
        "--polling",
        action="store_true",
        help="poll the directory instead of using OS notifications",
    )
    watch.set_defaults(handler=_watch)

    demo = commands.add_parser(
        "demo",
        help="run an example host against a hook directory; edit scripts live",
        description="Run an example compute service whose create/resize/delete calls go "
        "through hook points. Edit a script while it runs to see it reload.",
    )
    demo.add_argument(
        "--dir",
        default=None,
        type=Path,
        help="hook directory (default: ./hook_scripts, else a temporary copy of the examples)",
    )
    demo.add_argument(
        "--iterations",
        type=int,
        default=None,
        help="stop after this many rounds (default: run until Ctrl-C)",
    )
    demo.add_argument(
        "--interval", type=float, default=1.0, help="seconds between rounds (default: 1)"
    )
    demo.add_argument(
        "--verbose",
        action="store_true",
        help="also print the engine's INFO lines and the audit trail (a line per invocation)",
    )
    demo.set_defaults(handler=_demo)

    sandbox = commands.add_parser(
        "sandbox-check",
        help="start a worker and prove each kernel confinement layer",
        description="Start a process-isolation worker that, as it confines itself, makes "
        "forbidden calls from its own unrestricted code (open a file, connect to a port "
        "this command listens on, raise a hard limit, create a socket, fork, exec, signal "
        "this process) and reports what the kernel did. Prints one row per layer: active, "
        "and the proof. Exit 1 when a layer claims to be active but a forbidden call got "
        "through, or with --require when a layer is missing.",
    )
    sandbox.add_argument(
        "--require", action="store_true", help="exit 1 unless every layer is active and proven"
    )
    sandbox.set_defaults(handler=_sandbox_check)
    return parser


def _sandbox_check(args: argparse.Namespace) -> int:
    from ._isolation import sandbox_check, sandbox_table
    from .errors import HookError

    try:
        layers = sandbox_check()
    except HookError as exc:
        print(f"hookyard sandbox-check: {exc}", file=sys.stderr)
        return EXIT_FINDINGS
    text, ok = sandbox_table(layers, require=args.require)
    print(text)
    return EXIT_OK if ok else EXIT_FINDINGS


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except UsageError as exc:
        print(f"hookyard {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # `hookyard audit DIR | head`
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
