"""The engine's per-file records, indexed so that a reload costs what it changes.

A reload of one file touches one record, one point and one line of the fingerprint
(issue 17, figure F: ``reload_path`` with 1,000 scripts loaded must cost what it does with
10). So the table keeps each point's records apart (a publish reads its own point's, never
every record) and each serving script's fingerprint line as bytes, made when the script
starts serving; the digest over all of them is computed only when it is asked for
(``engine.fingerprint()``, an audit event that carries it), and kept until the next change.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ._layout import fingerprint_line, fingerprint_of
from ._loader import LoadedScript

if TYPE_CHECKING:
    from ._engine import HookEngine

__all__ = ["Record", "Records"]


class Record:
    """Mutable per-file bookkeeping behind ``status()``, and its breaker's state.

    The call path counts ``calls`` and clears ``streak`` (failures in a row) on success
    (``_hookpoint.call_script``), and reports failures and vetoes (``failed``,
    ``vetoed``). It outlives reloads of other files; a new version of its own file resets
    its breaker. ``current`` changes only through ``Records.serve`` (the fingerprint
    follows it).
    """

    __slots__ = (
        "calls",
        "current",
        "engine",
        "error",
        "error_line",
        "failures",
        "file",
        "name",
        "point",
        "seen_version",
        "streak",
        "tripped",
        "vetoes",
    )

    def __init__(self, point: str, file: str, engine: HookEngine) -> None:
        self.point = point
        self.file = file
        self.name = os.path.basename(file)
        self.engine = weakref.ref(engine)
        self.current: LoadedScript | None = None
        self.error: str | None = None
        self.error_line: int | None = None
        self.seen_version: str | None = None  # sha256 of the file as last read
        self.calls = 0
        self.failures = 0
        self.vetoes = 0
        self.streak = 0
        # the stand-in published while its breaker is open (_breaker.TrippedScript)
        self.tripped: Any = None

    def failed(self, script: LoadedScript, phase: str) -> None:
        """A call of ``script`` failed (counted; may trip the breaker)."""
        self.failures += 1
        self.streak += 1
        engine = self.engine()
        if engine is not None:
            engine._failed_in_a_row(self, script, phase)

    def vetoed(self) -> None:
        """A call vetoed: a decision, not a failure (and it breaks a run of failures)."""
        self.vetoes += 1
        if self.streak:
            self.cleared()

    def cleared(self) -> None:
        """A run of failures ended (a call succeeded or vetoed): its point may run its
        generated code again (``_fastpath``: none while a script is in a run)."""
        self.streak = 0
        self._refresh()

    def _refresh(self) -> None:
        engine = self.engine()
        point = engine._points.get(self.point) if engine is not None else None
        if point is not None:
            point.refresh()


class Records:
    """Every file the engine knows, by path and by point, and the fingerprint's lines.

    Used under the engine's lock.
    """

    def __init__(self) -> None:
        self._by_file: dict[str, Record] = {}
        self._by_point: dict[str, dict[str, Record]] = {}
        self._lines: dict[str, bytes] = {}  # file -> its line, while it serves
        self._digest: str | None = fingerprint_of(())

    def __len__(self) -> int:
        return len(self._by_file)

    def __contains__(self, file: object) -> bool:
        return file in self._by_file

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_file)

    def get(self, file: str) -> Record | None:
        return self._by_file.get(file)

    def values(self) -> list[Record]:
        return list(self._by_file.values())

    def points(self) -> set[str]:
        """The points with at least one record."""
        return set(self._by_point)

    def of(self, point: str) -> list[Record]:
        """The records of one point."""
        return list(self._by_point.get(point, {}).values())

    def add(self, point: str, file: str, engine: HookEngine) -> Record:
        record = self._by_file[file] = Record(point, file, engine)
        self._by_point.setdefault(point, {})[file] = record
        return record

    def pop(self, file: str) -> Record:
        record = self._by_file.pop(file)
        siblings = self._by_point[record.point]
        del siblings[file]
        if not siblings:
            del self._by_point[record.point]
        if self._lines.pop(file, None) is not None:
            self._digest = None
        return record

    def serve(self, record: Record, script: LoadedScript | None) -> None:
        """``record`` now serves ``script`` (None: nothing)."""
        record.current = script
        if script is None:
            if self._lines.pop(record.file, None) is not None:
                self._digest = None
            return
        line = fingerprint_line(f"{record.point}/{record.name}", script.version)
        if self._lines.get(record.file) != line:
            self._lines[record.file] = line
            self._digest = None

    def fingerprint(self) -> str:
        """sha256 hex over every serving script's line (``_layout.fingerprint``)."""
        digest = self._digest
        if digest is None:
            digest = self._digest = fingerprint_of(self._lines.values())
        return digest
