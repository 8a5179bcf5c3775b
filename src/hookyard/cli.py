"""The ``hookyard`` command. Exit codes: 0 ok, 1 findings, 2 usage."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hookyard", description="Sandboxed, hot-reloading scripting hooks."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    demo = commands.add_parser(
        "demo",
        help="run an example host against a hook directory; edit scripts live",
        description="Run an example compute service whose create/resize/delete calls go "
        "through hook points. Edit a script while it runs to see it reload.",
    )
    demo.add_argument(
        "--dir", default="hook_scripts", type=Path, help="hook directory (default: ./hook_scripts)"
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        if not args.dir.is_dir():
            print(f"hookyard demo: no hook directory {args.dir}", file=sys.stderr)
            return EXIT_USAGE
        return run_demo(args.dir, iterations=args.iterations, interval=args.interval)
    return EXIT_USAGE  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
