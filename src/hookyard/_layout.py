"""What a hook directory resolves to: its point folders, the links on the way, its fingerprint.

Fleets deliver hook directories by swapping a symlink (issue 15): a Kubernetes ConfigMap or
Secret volume's ``..data``, git-sync's worktree link, ``current -> releases/N``. No file in
the directory changes when that happens: what changes is where a name *resolves*. A
``Layout`` records that for the root and for each point folder, so the watcher can tell a
swap (the same name now leads to another directory) from an edit, and the engine can tell
that a scan read one generation from start to end (the layout was the same before and
after it).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "Entry",
    "Layout",
    "anchors",
    "fingerprint",
    "fingerprint_line",
    "fingerprint_of",
    "layout_of",
]


@dataclass(frozen=True, slots=True)
class Entry:
    """One name directly in the hook directory, as it resolves.

    ``kind`` is ``"dir"`` (a directory, reached directly or through symlinks),
    ``"dangling"`` (a symlink that leads to no directory: the generation it pointed into
    is gone) or ``"other"`` (a plain file, a socket...). ``linked``: the name itself is a
    symlink. ``real``: the resolved path of a directory.
    """

    kind: str
    linked: bool = False
    identity: tuple[int, int] = (0, 0)
    real: str = ""


@dataclass(frozen=True, slots=True)
class Layout:
    """The root's resolved path and identity, and each point-named entry in it."""

    root: tuple[str, int, int] | None
    points: dict[str, Entry]

    def links(self, root: str) -> dict[str, str]:
        """``{resolved directory: root/point}`` for each point folder reached through a
        symlink, so that events under the resolved path are known by the point's name."""
        return {
            entry.real: os.path.join(root, name)
            for name, entry in self.points.items()
            if entry.linked and entry.kind == "dir"
        }

    def changed(self, other: Layout) -> set[str]:
        """The points whose entry differs between the two layouts (appeared, gone, or now
        leading to another directory)."""
        names = set(self.points) | set(other.points)
        return {name for name in names if self.points.get(name) != other.points.get(name)}


def _entry(path: str) -> Entry:
    try:
        info = os.lstat(path)
    except OSError:
        return Entry("dangling")
    linked = stat.S_ISLNK(info.st_mode)
    if linked:
        try:
            info = os.stat(path)
        except OSError:
            return Entry("dangling", linked=True)
    if not stat.S_ISDIR(info.st_mode):
        return Entry("other", linked=linked)
    return Entry("dir", linked, (info.st_dev, info.st_ino), os.path.realpath(path))


def layout_of(root: str, is_point: Callable[[str], bool]) -> Layout:
    """The layout of ``root`` now, over the names ``is_point`` accepts."""
    try:
        info = os.stat(root)
        identity: tuple[str, int, int] | None = (
            os.path.realpath(root),
            info.st_dev,
            info.st_ino,
        )
        names = os.listdir(root) if stat.S_ISDIR(info.st_mode) else []
    except OSError:
        return Layout(None, {})
    points = {name: _entry(os.path.join(root, name)) for name in names if is_point(name)}
    return Layout(identity, points)


def anchors(root: str) -> dict[str, set[str]]:
    """``{directory: {names}}``: the directory entries whose change re-points ``root``.

    The root's own entry in its parent, and every symlink met on the way to it
    (``/srv/app/current`` in ``/srv/app/current/hook_scripts``). Each directory is a
    resolved path: it is what gets watched. A deploy that swaps one of these entries
    changes what the root is without touching anything inside it.
    """
    found: dict[str, set[str]] = {}
    path = os.path.abspath(root)
    parts = [part for part in path.split(os.sep) if part]
    current = os.sep
    for index, part in enumerate(parts):
        candidate = os.path.join(current, part)
        if index == len(parts) - 1 or os.path.islink(candidate):
            found.setdefault(current, set()).add(part)
        current = os.path.realpath(candidate)
    return found


def fingerprint_line(relative: str, version: str) -> bytes:
    """One serving script's part of the fingerprint: the path's bytes, a NUL (no file name
    holds one), the version, a newline. Lines sort as their paths do (the NUL ends a path
    before any byte another path could go on with)."""
    return os.fsencode(relative) + b"\0" + version.encode("ascii") + b"\n"


def fingerprint_of(lines: Iterable[bytes]) -> str:
    """sha256 hex over ``fingerprint_line``s, in path order."""
    return hashlib.sha256(b"".join(sorted(lines))).hexdigest()


def fingerprint(serving: Iterable[tuple[str, str]]) -> str:
    """sha256 hex over ``(path relative to the hook directory, version)`` pairs.

    Each pair is hashed as the path's bytes, a NUL (no file name holds one), the
    version, a newline, in path order: equal on every host serving the same files,
    whatever the directory is called there. docs/fleet.md shows how to recompute it.
    """
    return fingerprint_of(fingerprint_line(relative, version) for relative, version in serving)
