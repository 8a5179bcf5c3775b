"""HookEngine: owns the sandbox policy, the per-point script tables and the watcher."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from ._budget import Limits
from ._hookpoint import Point, PointOptions, make_hooked
from ._isolation import ProcessIsolation, WorkerPool, process_options
from ._loader import MAX_SCRIPT_BYTES, FileRules, LoadedScript, LoadFailure, load_script
from ._modules import DEFAULT_MODULES, facade_factories
from ._sandbox import SandboxPolicy

__all__ = ["HookEngine", "ReloadEvent", "ScriptStatus", "is_point_name", "is_script_name"]

logger = logging.getLogger("hookyard")
F = TypeVar("F", bound=Callable[..., Any])

# Editor and tool droppings that must never load (vim swap/backup, JetBrains safe write,
# emacs lock/autosave, vim's 4913 probe file).
_IGNORED_SUFFIXES = ("~", ".swp", ".swo", ".swx", ".tmp", "___jb_tmp___", "___jb_old___")


def is_script_name(name: str) -> bool:
    """True for a file name the engine loads: ``*.py``, not hidden, not a temp file."""
    return (
        name.endswith(".py")
        and not name.startswith((".", "#", "~"))
        and not name.endswith(_IGNORED_SUFFIXES)
        and name != "4913"
    )


def is_point_name(name: str) -> bool:
    """True for a folder name that is a hook point."""
    return bool(name) and not name.startswith((".", "_", "#", "~")) and name != "__pycache__"


@dataclass(frozen=True, slots=True)
class ScriptStatus:
    """One script file as the engine sees it (``engine.status()``)."""

    point: str
    file: str
    version: str | None
    ok: bool
    error: str | None
    calls: int
    failures: int


@dataclass(frozen=True, slots=True)
class ReloadEvent:
    """What a (re)load did to one script file; handed to reload listeners."""

    point: str
    file: str
    old_version: str | None
    new_version: str | None
    ok: bool
    error: str | None
    removed: bool = False


class _Record:
    """Mutable per-file bookkeeping behind ``status()``."""

    __slots__ = ("calls", "current", "error", "failures", "file", "point", "seen_version")

    def __init__(self, point: str, file: str) -> None:
        self.point = point
        self.file = file
        self.current: LoadedScript | None = None
        self.error: str | None = None
        self.seen_version: str | None = None  # sha256 of the file as last read
        self.calls = 0
        self.failures = 0


class HookEngine:
    """Loads hook scripts from a directory and runs them around decorated host functions.

    Scripts are loaded when the engine is made; ``start()`` (or ``with engine:``) begins
    watching the directory for changes, ``close()`` stops.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        api: Mapping[str, Callable[..., Any]] | None = None,
        modules: Iterable[str] = DEFAULT_MODULES,
        limits: Limits | None = None,
        strict_modes: bool = True,
        max_script_bytes: int = MAX_SCRIPT_BYTES,
        isolation: Literal["inline", "process"] | ProcessIsolation = "inline",
        polling: bool = False,
        _points: dict[str, Point] | None = None,
    ) -> None:
        process = process_options(isolation)
        if limits is not None and not isinstance(limits, Limits):
            raise TypeError("limits must be a hookyard.Limits")
        self.directory = Path(directory)
        self.limits = limits or Limits()
        self.modules = tuple(modules)
        self._policy = SandboxPolicy(
            api=dict(api or {}),
            module_factories=facade_factories(self.modules),
            limits=self.limits,
        )
        self._pool = (
            None
            if process is None
            else WorkerPool(process, api=dict(api or {}), modules=self.modules, limits=self.limits)
        )
        self._rules = FileRules(
            root=self.directory, strict_modes=strict_modes, max_bytes=max_script_bytes
        )
        self._points: dict[str, Point] = _points if _points is not None else {}
        self._records: dict[str, _Record] = {}
        self._lock = threading.RLock()
        self._listeners: list[Callable[[ReloadEvent], None]] = []
        self._polling = polling
        self._watcher: Any = None
        self.reload()

    # -- host API ---------------------------------------------------------------------
    def hook(
        self,
        name: str,
        *,
        result: Literal["keep", "replace"] = "keep",
        on_error: Literal["isolate", "raise"] = "isolate",
        veto: bool = False,
    ) -> Callable[[F], F]:
        """Decorate a host function as hook point ``name``."""
        if not isinstance(name, str) or not is_point_name(name) or "/" in name:
            raise ValueError(f"hook point names must be plain folder names, not {name!r}")
        options = PointOptions(result=result, on_error=on_error, veto=veto)
        point = self._point(name)

        def decorate(fn: F) -> F:
            hooked: F = make_hooked(fn, point, options)
            return hooked

        return decorate

    def status(self) -> list[ScriptStatus]:
        """One record per script file, in point and run order."""
        with self._lock:
            records = sorted(self._records.values(), key=lambda r: (r.point, Path(r.file).name))
            return [
                ScriptStatus(
                    point=r.point,
                    file=r.file,
                    version=r.current.version if r.current is not None else None,
                    ok=r.error is None,
                    error=r.error,
                    calls=r.calls,
                    failures=r.failures,
                )
                for r in records
            ]

    def points(self) -> dict[str, tuple[str, ...]]:
        """Each point with its serving scripts' file names, in run order."""
        with self._lock:
            return {
                name: tuple(s.name for s in p.scripts) for name, p in sorted(self._points.items())
            }

    def add_reload_listener(self, listener: Callable[[ReloadEvent], None]) -> None:
        """Call ``listener(event)`` after each script (re)load, failure or removal."""
        self._listeners.append(listener)

    def remove_reload_listener(self, listener: Callable[[ReloadEvent], None]) -> None:
        self._listeners.remove(listener)

    # -- loading ------------------------------------------------------------------------
    def reload(self) -> None:
        """Rescan the whole directory: load new or changed files, drop vanished ones."""
        with self._lock:
            found: set[str] = set()
            if self.directory.is_dir():
                for folder in sorted(self.directory.iterdir()):
                    if not is_point_name(folder.name) or not folder.is_dir():
                        continue
                    for path in sorted(folder.iterdir()):
                        if is_script_name(path.name):
                            found.add(str(path))
                            self._load(folder.name, path)
            else:
                logger.warning(
                    "hook directory %s does not exist (no scripts loaded)", self.directory
                )
            for file in [f for f in self._records if f not in found]:
                self._remove(file)
            self._publish_all()

    def reload_path(self, path: str | Path) -> None:
        """(Re)load one file, or drop it if it is gone; publish its point."""
        path = Path(path)
        point = path.parent.name
        if (
            path.parent.parent != self.directory
            or not is_point_name(point)
            or not is_script_name(path.name)
        ):
            return
        with self._lock:
            if path.is_file() or path.is_symlink():
                self._load(point, path)
            elif str(path) in self._records:
                self._remove(str(path))
            self._publish(point)

    def _load(self, point: str, path: Path) -> None:
        file = str(path)
        record = self._records.get(file)
        if record is None:
            record = self._records[file] = _Record(point, file)
        script_logger = logging.getLogger(f"hookyard.script.{point}.{path.stem}")
        if self._pool is not None:
            result = self._pool.load(path, point=point, rules=self._rules, logger=script_logger)
        else:
            result = load_script(
                path, point=point, policy=self._policy, rules=self._rules, logger=script_logger
            )
        old = record.current.version if record.current is not None else None
        if isinstance(result, LoadFailure):
            if (
                result.version is not None
                and result.version == record.seen_version
                and record.error is not None
            ):
                return  # same broken content as before: nothing new to report
            record.seen_version = result.version
            record.error = str(result)
            logger.warning(
                "hook script failed to load (%s): %s",
                "last good version keeps serving" if old else "not serving",
                result,
            )
            self._notify(ReloadEvent(point, file, old, old, False, record.error))
            return
        if record.current is not None and record.current.version == result.version:
            record.seen_version = result.version
            record.error = None
            return  # same content: keep the running version and its state
        result.record = record
        record.current = result
        record.seen_version = result.version
        record.error = None
        logger.info("hook script loaded: %s (%s -> %s)", file, _short(old), _short(result.version))
        self._notify(ReloadEvent(point, file, old, result.version, True, None))

    def _remove(self, file: str) -> None:
        record = self._records.pop(file)
        old = record.current.version if record.current is not None else None
        logger.info("hook script removed: %s", file)
        self._notify(ReloadEvent(record.point, file, old, None, True, None, removed=True))

    def _point(self, name: str) -> Point:
        point = self._points.get(name)
        if point is None:
            point = self._points[name] = Point(name)
        return point

    def _publish(self, name: str) -> None:
        scripts = sorted(
            (
                r.current
                for r in self._records.values()
                if r.point == name and r.current is not None
            ),
            key=lambda s: s.name,
        )
        self._point(name).scripts = tuple(scripts)  # the one reference swap callers see

    def _publish_all(self) -> None:
        names = {r.point for r in self._records.values()} | set(self._points)
        for name in names:
            self._publish(name)

    def _notify(self, event: ReloadEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("reload listener %r failed", listener)

    # -- watching -------------------------------------------------------------------------
    def start(self) -> HookEngine:
        """Begin watching the directory; changes take effect without restart."""
        from ._watcher import Watcher  # watchdog is imported only when watching

        with self._lock:
            if self._watcher is None:
                self._watcher = Watcher(self, polling=self._polling)
                self._watcher.start()
        return self

    def close(self) -> None:
        """Stop watching. Hooked functions keep running the scripts last loaded."""
        with self._lock:
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()
        if self._pool is not None:
            self._pool.close()  # process isolation: stop the workers

    def __enter__(self) -> HookEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<HookEngine {str(self.directory)!r} scripts={len(self._records)}>"


def _short(version: str | None) -> str:
    return version[:12] if version else "none"


# -- the seed's spelling: a default engine behind configure() / add_hook() -----------------
_default_points: dict[str, Point] = {}
_default_engine: HookEngine | None = None
_default_lock = threading.Lock()


def configure(directory: str | Path, **engine_options: Any) -> HookEngine:
    """Create (or replace) the default engine that ``add_hook`` decorations use."""
    global _default_engine
    with _default_lock:
        if _default_engine is not None:
            _default_engine.close()
        _default_engine = HookEngine(directory, _points=_default_points, **engine_options)
        return _default_engine


def add_hook(
    name: str,
    *,
    result: Literal["keep", "replace"] = "keep",
    on_error: Literal["isolate", "raise"] = "isolate",
    veto: bool = False,
) -> Callable[[F], F]:
    """``@add_hook("create")``: hook onto the default engine (see ``configure``).

    May be used before ``configure()``: the point runs no scripts until it is called.
    """
    if not isinstance(name, str) or not is_point_name(name) or "/" in name:
        raise ValueError(f"hook point names must be plain folder names, not {name!r}")
    options = PointOptions(result=result, on_error=on_error, veto=veto)
    with _default_lock:
        point = _default_points.get(name)
        if point is None:
            point = _default_points[name] = Point(name)

    def decorate(fn: F) -> F:
        hooked: F = make_hooked(fn, point, options)
        return hooked

    return decorate


def default_engine() -> HookEngine | None:
    """The engine ``configure()`` made, if any."""
    return _default_engine
