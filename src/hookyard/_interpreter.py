"""Which interpreters hookyard is tested on, and the one warning for any other.

Every mechanism tied to interpreter internals (the tick iterator, bytecode and syntax-tree
proofs, the copier) chooses its path by probing the running interpreter, and treats a
shape it does not know as the unsafe case (budgeted, guarded, refused): an untested
CPython still runs every script safely, only perhaps slower. It is said once, at WARNING,
so an operator knows why (issue 11).
"""

from __future__ import annotations

import functools
import logging
import sys

__all__ = ["TESTED_VERSIONS", "untested_interpreter", "warn_if_untested"]

# CPython minor versions the whole test suite runs on (.ci/run; pyproject classifiers).
TESTED_VERSIONS: tuple[tuple[int, int], ...] = ((3, 11), (3, 12), (3, 13))

logger = logging.getLogger("hookyard")


def untested_interpreter(
    version: tuple[int, ...] | None = None, implementation: str | None = None
) -> str | None:
    """Why the running interpreter (or the one described) is not a tested one, or None."""
    version = (sys.version_info[0], sys.version_info[1]) if version is None else version
    implementation = sys.implementation.name if implementation is None else implementation
    minor = (version[0], version[1])
    if implementation == "cpython" and minor in TESTED_VERSIONS:
        return None
    tested = ", ".join(f"{major}.{minor}" for major, minor in TESTED_VERSIONS)
    return (
        f"hookyard is tested on CPython {tested}; this is {implementation} "
        f"{version[0]}.{version[1]}: scripts run, but a mechanism that meets an interpreter "
        "shape it does not know takes its safe path (budgeted, guarded or refused), which "
        "may be slower or refuse what a tested version allows"
    )


@functools.cache
def warn_if_untested() -> None:
    """Log, once per process, that the running interpreter is not a tested one."""
    message = untested_interpreter()
    if message is not None:
        logger.warning("%s", message)
