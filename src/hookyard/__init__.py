"""hookyard: sandboxed, hot-reloading scripting hooks for Python applications.

The host marks functions with ``@engine.hook("name")``; operators drop plain ``.py``
scripts into ``<directory>/<name>/``; each script's ``pre``/``post``/``error`` runs around
the call under RestrictedPython, on copies of the data, within a budget, and is reloaded
the moment its file changes.
"""

from __future__ import annotations

from ._audit import (
    DirectoryAudit,
    Finding,
    HostConfig,
    ReachChange,
    ScriptAudit,
    Site,
    audit_directory,
    audit_source,
    reach_change,
)
from ._breaker import Breaker
from ._budget import Limits
from ._engine import HookEngine, ReloadEvent, ScriptStatus, add_hook, configure, default_engine
from ._hookpoint import PointOptions
from ._isolation import ProcessIsolation
from ._modules import DEFAULT_MODULES
from ._shadow import no_side_effects
from ._trail import AuditEvent, AuditLog
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
    "AuditEvent",
    "AuditLog",
    "BoundaryError",
    "Breaker",
    "DirectoryAudit",
    "Finding",
    "HookEngine",
    "HookError",
    "HookFailed",
    "HookVetoed",
    "HostConfig",
    "LimitExceeded",
    "Limits",
    "PointOptions",
    "ProcessIsolation",
    "ReachChange",
    "ReloadEvent",
    "ScriptAudit",
    "ScriptError",
    "ScriptStatus",
    "Site",
    "add_hook",
    "audit_directory",
    "audit_source",
    "configure",
    "default_engine",
    "no_side_effects",
    "reach_change",
]

__version__ = "0.1.0"
