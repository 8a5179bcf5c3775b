"""hookyard: sandboxed, hot-reloading scripting hooks for Python applications.

The host marks functions with ``@engine.hook("name")``; operators drop plain ``.py``
scripts into ``<directory>/<name>/``; each script's ``pre``/``post``/``error`` runs around
the call under RestrictedPython, on copies of the data, within a budget, and is reloaded
the moment its file changes.

This namespace holds what a host needs to run hooks (DESIGN.md "Namespaces": at most 20
names). The static audit and the audit trail's sinks are in ``hookyard.audit``, helpers
for hook authors' tests in ``hookyard.testing``, metrics in ``hookyard.prometheus``.
"""

# (no `from __future__ import annotations`: it would add `annotations` to the namespace)
from ._budget import Limits
from ._engine import HookEngine, ReloadEvent, ScriptStatus
from ._hookpoint import PointOptions
from ._isolation import ProcessIsolation
from ._modules import DEFAULT_MODULES
from ._seed import add_hook, configure, default_engine
from .errors import (
    BoundaryError,
    HookError,
    HookFailed,
    HookVetoed,
    LimitExceeded,
    ScriptError,
)

__all__ = [
    "DEFAULT_MODULES",
    "BoundaryError",
    "HookEngine",
    "HookError",
    "HookFailed",
    "HookVetoed",
    "LimitExceeded",
    "Limits",
    "PointOptions",
    "ProcessIsolation",
    "ReloadEvent",
    "ScriptError",
    "ScriptStatus",
    "add_hook",
    "configure",
    "default_engine",
]

__version__ = "0.1.0"
