"""What scripts may touch, read without running them, and what they did at run time.

The static audit (``hookyard audit DIR`` as an API): ``audit_directory``,
``audit_source``, their records and ``reach_change`` between two versions. The run-time
audit trail's records and sinks: ``AuditEvent`` (one per invocation or load) and
``AuditLog`` (the rotating JSON-lines file for ``HookEngine(audit_log=...)``). See
docs/audit.md. The logger that carries the trail is also named ``hookyard.audit``.
"""

from __future__ import annotations

from ._audit import (
    DirectoryAudit,
    Finding,
    ReachChange,
    ScriptAudit,
    Site,
    audit_directory,
    audit_source,
    reach_change,
)
from ._config import HostConfig
from ._trail import AuditEvent, AuditLog

__all__ = [
    "AuditEvent",
    "AuditLog",
    "DirectoryAudit",
    "Finding",
    "HostConfig",
    "ReachChange",
    "ScriptAudit",
    "Site",
    "audit_directory",
    "audit_source",
    "reach_change",
]
