"""The whole hookyard exception hierarchy. Imports nothing else of ours.

Every message names the script file and, where there is one, the line:
``hook_scripts/create/10-validate.py:4: ValueError: name is required``.
"""

from __future__ import annotations

__all__ = [
    "BoundaryError",
    "HookError",
    "HookFailed",
    "HookVetoed",
    "LimitExceeded",
    "ScriptError",
]


class HookError(Exception):
    """Base of every error hookyard raises."""


class ScriptError(HookError):
    """A script does not compile or load (syntax, denied name, bad file, body raised)."""

    def __init__(self, message: str, *, file: str = "", line: int | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line


class HookVetoed(HookError):
    """A ``pre`` hook raised ``Veto`` on a point declared with ``veto=True``."""

    def __init__(self, message: str, *, point: str, script: str, reason: str) -> None:
        super().__init__(message)
        self.point = point
        self.script = script
        self.reason = reason


class HookFailed(HookError):
    """A script failed on a point declared with ``on_error="raise"``.

    ``__cause__`` holds a sanitised copy of what the script raised: same type name and
    message, no traceback, frames or arguments of the original.
    """

    def __init__(self, message: str, *, point: str, script: str, phase: str) -> None:
        super().__init__(message)
        self.point = point
        self.script = script
        self.phase = phase


class LimitExceeded(HookError):
    """A script ran past its budget (operations, seconds, depth, size or output)."""

    def __init__(self, message: str, *, limit: str = "") -> None:
        super().__init__(message)
        self.limit = limit


class BoundaryError(HookError, TypeError):
    """A value cannot cross between host and script (a function, class, generator...)."""
