"""Which names in a hook directory are points and scripts, and which files never run.

One module that the engine, the watcher and the static audit all import (issue 18: the
rules lived in ``_engine`` and ``_audit`` imported them back, a circle through
``_watcher``). Imports nothing else of ours.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "IGNORED_SUFFIXES",
    "Stray",
    "is_point_name",
    "is_script_name",
    "script_paths",
    "stray_files",
    "world_writable_root",
]

# Editor and tool droppings that must never load (vim swap/backup, JetBrains safe write,
# emacs lock/autosave, vim's 4913 probe file).
IGNORED_SUFFIXES = ("~", ".swp", ".swo", ".swx", ".tmp", "___jb_tmp___", "___jb_old___")

# How many files that can never run one look reports: a hook directory is the operator's,
# but a point folder holding a whole checkout must not make every reload walk it all.
_MAX_STRAYS = 100


def is_script_name(name: str) -> bool:
    """True for a file name the engine loads: ``*.py``, not hidden, not a temp file."""
    return (
        name.endswith(".py")
        and not name.startswith((".", "#", "~"))
        and not name.endswith(IGNORED_SUFFIXES)
        and name != "4913"
    )


def is_point_name(name: str) -> bool:
    """True for a folder name that is a hook point."""
    return bool(name) and not name.startswith((".", "_", "#", "~")) and name != "__pycache__"


def _entries(folder: Path) -> list[Path]:
    """A folder's entries in name order; none if it cannot be listed."""
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def script_paths(directory: Path) -> list[tuple[str, Path]]:
    """``(point, path)`` for every file the engine would load, in point and run order."""
    return [
        (folder.name, path)
        for folder in _entries(directory)
        if is_point_name(folder.name) and folder.is_dir()
        for path in _entries(folder)
        if is_script_name(path.name)
    ]


@dataclass(frozen=True, slots=True)
class Stray:
    """A file that looks like a script but can never run, and what to do about it."""

    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _looks_like_script(name: str) -> bool:
    return name.lower().endswith(".py") and is_script_name(name[:-3] + ".py")


def stray_files(directory: Path) -> list[Stray]:
    """Files under ``directory`` that look like scripts but the engine never loads.

    A ``.py`` beside the point folders (``hooks/create.py``: Home Assistant's layout), one
    in a folder inside a point folder (``hooks/create/sub/10-x.py``), and one whose
    extension has another case (``hooks/create/10-x.PY``). Hidden, ``_private`` and
    temporary names are left alone on purpose (fleet generations live in ``..data``
    folders; editors leave ``.swp`` files), so only names someone meant as scripts count.
    """
    strays: list[Stray] = []
    for entry in _entries(directory):
        if len(strays) >= _MAX_STRAYS:
            break
        if _looks_like_script(entry.name) and _is_file(entry):
            point = entry.name[:-3]
            strays.append(
                Stray(
                    entry,
                    "never runs: a script must be inside its point's folder "
                    f"(move it to {point}/10-{point}.py)",
                )
            )
        elif is_point_name(entry.name) and entry.is_dir():
            strays += _point_strays(entry, _MAX_STRAYS - len(strays))
    return strays


def _point_strays(folder: Path, room: int) -> list[Stray]:
    strays: list[Stray] = []
    for entry in _entries(folder):
        if len(strays) >= room:
            break
        name = entry.name
        if _looks_like_script(name) and not name.endswith(".py") and _is_file(entry):
            fixed = name[:-3] + ".py"
            strays.append(
                Stray(
                    entry,
                    f"never runs: only a lower-case .py extension loads (rename it to {fixed})",
                )
            )
        elif is_point_name(name) and entry.is_dir() and not entry.is_symlink():
            for nested in _nested_scripts(entry, room - len(strays)):
                strays.append(
                    Stray(
                        nested,
                        "never runs: scripts in a folder inside a point folder are not "
                        f"loaded (move it up to {folder.name}/)",
                    )
                )
    return strays


def _nested_scripts(folder: Path, room: int) -> list[Path]:
    """Script-like files anywhere below ``folder`` (symlinked folders not followed)."""
    found: list[Path] = []
    for parent, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if is_point_name(name))
        for name in sorted(files):
            if _looks_like_script(name):
                found.append(Path(parent) / name)
                if len(found) >= room:
                    return found
    return found


def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def world_writable_root(directory: Path, *, named: bool = True) -> str | None:
    """Why ``directory`` may not serve scripts under strict modes, or None. ``named``: the
    message names the directory (for a script's error; a finding about the directory
    itself is already located there).

    A hook directory anyone may write to lets anyone add a point folder with scripts of
    their own, so it is refused like a world-writable script (issue 18). The sticky bit
    does not help here: it stops others replacing files, not adding them.
    """
    try:
        mode = os.stat(directory).st_mode
    except OSError:
        return None
    if not mode & stat.S_IWOTH:
        return None
    shown = f" {directory}" if named else ""
    return f"refused: world-writable hook directory{shown} (chmod o-w, or strict_modes=False)"
