"""HookEngine: owns the sandbox policy, the per-point script tables and the watcher."""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

from ._audit import ReachChange, report_reach_change, source_reach_change
from ._breaker import Breaker, Circuit, TrippedScript, stand_in
from ._budget import Limits
from ._cache import USER_CACHE, CacheSession, _Default, script_cache
from ._hookpoint import Observer, Point, PointOptions, make_hooked
from ._interpreter import warn_if_untested
from ._isolation import ProcessIsolation, WorkerPool, process_options
from ._layout import Layout, layout_of
from ._loader import (
    HOOK_NAMES,
    MAX_SCRIPT_BYTES,
    FileRules,
    LoadedScript,
    LoadFailure,
    load_source,
    read_source,
)
from ._modules import DEFAULT_MODULES, facade_factories
from ._options import check_api, check_engine_options, check_modules, check_point_options
from ._paths import is_point_name, is_script_name, stray_files, world_writable_root
from ._record import DEFAULT_REDACT, Recorder
from ._records import Record, Records
from ._sandbox import SandboxPolicy
from ._shadow import script_mode
from ._signature import (
    Parameters,
    first_line,
    host_name,
    host_parameters,
    parameters_of,
    refusal,
)
from ._trail import AuditEvent, AuditLog, AuditTrail, fan_out
from .errors import ScriptError

__all__ = [
    "DEFAULT_DELETE_GRACE",
    "HookEngine",
    "Hosts",
    "ReloadEvent",
    "ScriptStatus",
    "declare_host",
]

logger = logging.getLogger("hookyard")
# per point: the parameters of each host function serving it, and that function's name
Hosts = dict[str, dict[Parameters, str]]
F = TypeVar("F", bound=Callable[..., Any])

# How long a script whose file vanished keeps serving before it is dropped (seconds). Editors
# rename the original away and put the new file in place within microseconds to a few
# milliseconds; 200 ms covers a loaded machine and stays inside DESIGN.md's "stops running
# after a grace of at most 300 ms" with room for event delivery. See docs/hot-reload.md.
DEFAULT_DELETE_GRACE = 0.2

# How long a generation is read again while symlink swaps (or changes in a point folder)
# keep overlapping the read (seconds). Each swap makes a new data directory, so one more
# read settles it in practice; a directory changed faster than it can be read for this
# long loads nothing and is tried again (the watcher's ``_watch_generation`` returns None).
_READ_PATIENCE = 2.0

# One script read by a generation: its point, its path, when the read started, what it gave.
_Read = tuple[str, Path, float, LoadedScript | LoadFailure]


@dataclass(frozen=True, slots=True)
class _Unheard:
    """A new version committed whose reach is diffed once it serves (``_hear``)."""

    event: ReloadEvent
    before: str | None  # the source it replaced
    after: str
    hear: bool  # anyone can hear of the change (else it is not diffed)
    reset: bool  # it reset an open breaker
    audit: int | None  # its load event's place in the audit queue


@dataclass(frozen=True, slots=True)
class ScriptStatus:
    """One script file as the engine sees it (``engine.status()``)."""

    point: str
    file: str
    version: str | None
    ok: bool
    error: str | None
    calls: int
    failures: int  # calls that failed (an exception, a blown budget, a boundary error)
    vetoes: int  # calls that vetoed (never failures: DESIGN.md "Safe rollout")
    tripped: bool  # its breaker is open: it does not run (see Breaker)
    mode: Literal["enforce", "shadow"]  # "shadow" for *.shadow.py: it changes nothing


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
    # what the new version's reach gained/lost against the last good one (None when
    # nothing new serves: a failure or a removal); see docs/audit.md
    reach: ReachChange | None = None


class HookEngine:
    """Loads hook scripts from a directory and runs them around decorated host functions.

    Scripts are loaded when the engine is made; ``start()`` (or ``with engine:``) begins
    watching the directory for changes, ``close()`` stops.

    ``cache_dir``: where compiled scripts are kept between runs (default: the per-user
    cache directory; None: off); used only when it is the host user's own, mode 0700
    (``_cache``). Under process isolation the workers compile.

    Watching options: ``polling`` uses watchdog's PollingObserver for file systems without
    inotify (True: every 0.5 s; a number: that interval in seconds); ``delete_grace`` is how
    long a script whose file vanished keeps serving, so that an editor's rename-away-then-
    write save is a replace and never a gap (docs/hot-reload.md).
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        api: Mapping[str, Callable[..., Any]] | None = None,
        modules: Iterable[str] = DEFAULT_MODULES,
        limits: Limits | None = None,
        strict_modes: bool = True,
        cache_dir: str | os.PathLike[str] | _Default | None = USER_CACHE,
        max_script_bytes: int = MAX_SCRIPT_BYTES,
        isolation: Literal["inline", "process"] | ProcessIsolation = "inline",
        polling: bool | float = False,
        delete_grace: float = DEFAULT_DELETE_GRACE,
        audit_log: str | Path | AuditLog | None = None,
        breaker: Breaker = Breaker(),  # noqa: B008 - frozen, shared safely
        _points: dict[str, Point] | None = None,
        _hosts: Hosts | None = None,
    ) -> None:
        warn_if_untested()
        self.directory = check_engine_options(
            directory=directory,
            limits=limits,
            strict_modes=strict_modes,
            max_script_bytes=max_script_bytes,
            isolation=isolation,
            polling=polling,
            delete_grace=delete_grace,
            audit_log=audit_log,
            cache_dir=cache_dir,
        )
        functions = check_api(api)
        self.modules = check_modules(modules)
        process = process_options(isolation)
        if not isinstance(breaker, Breaker):
            raise TypeError(
                "breaker must be a hookyard.Breaker (Breaker(failures=0) turns it off), "
                f"not {breaker!r}"
            )
        self.breaker = breaker
        # trips and closes are decided one at a time (calling threads, no engine lock)
        self._breaker_lock = threading.Lock()
        self._recordings: dict[str, Recorder] = {}
        self.limits = limits or Limits()
        self._policy = SandboxPolicy(
            api=functions,
            module_factories=facade_factories(self.modules),
            limits=self.limits,
        )
        self._pool = (
            None
            if process is None
            else WorkerPool(process, api=functions, modules=self.modules, limits=self.limits)
        )
        self._rules = FileRules(
            root=self.directory, strict_modes=strict_modes, max_bytes=max_script_bytes
        )
        cache = script_cache(cache_dir, self.directory)
        self._cache = cache if self._pool is None else None
        self._session: CacheSession | None = None  # the cache's view during a rescan
        self._points: dict[str, Point] = _points if _points is not None else {}
        # each point's host functions, by the parameters scripts must take (_declare)
        self._hosts: Hosts = _hosts if _hosts is not None else {}
        self._records = Records()
        self._lock = threading.RLock()
        self._listeners: list[Callable[[ReloadEvent], None]] = []
        self._polling = polling
        self.delete_grace = float(delete_grace)
        self._watcher: Any = None
        self._trail = AuditTrail(audit_log)
        self._audit_on = False  # the trail listens: load events are recorded
        # who hears each invocation: the trail while it listens, plus the metrics and
        # tracing observers a host enabled (hookyard.prometheus, _otel); None: nobody
        self._observer: Observer | None = None
        self._observers: list[Observer] = []
        self._tracing: Observer | None = None
        self._pending_audit: list[AuditEvent] = []  # load events, sent once published
        self._unheard: list[_Unheard] = []  # new versions whose reach is diffed once published
        self._reported: set[str] = set()  # layout problems logged (_report_layout)
        self.refresh_audit()
        self._made = False  # the first load: a script's reach is not news yet
        self.reload()
        self._made = True

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
        check_point_options(name, result, on_error, veto)
        if not is_point_name(name) or "/" in name:
            raise ValueError(f"hook point names must be plain folder names, not {name!r}")
        options = PointOptions(result=result, on_error=on_error, veto=veto)

        def decorate(fn: F) -> F:
            hooked: F = self._hooked(name, fn, options, declared=fn)
            return hooked

        return decorate

    def _hooked(
        self,
        name: str,
        fn: Callable[..., Any],
        options: PointOptions,
        *,
        declared: Callable[..., Any] | None,
    ) -> Any:
        """``fn`` hooked as point ``name``; its scripts are checked against the signature
        of ``declared`` (None: not checked; ``hookyard.testing``'s stand-in hosts)."""
        point = self._point(name)
        if declared is None:
            return make_hooked(fn, point, options)
        host = declared
        return make_hooked(fn, point, options, lambda skip: self._declare(name, host, skip))

    def _declare(self, name: str, host: Callable[..., Any], skip: int) -> None:
        """Point ``name`` is served by ``host`` (its first ``skip`` arguments never reach a
        script): refuse the point's scripts that cannot take every call it accepts.

        Refused like a load error: the script stops serving (it would fail every call),
        ``status()`` shows the error with the fix, and every reload checks again.
        """
        with self._lock:
            if declare_host(self._hosts, name, host, skip):
                self._apply(self._recheck(name))

    def _recheck(self, name: str) -> list[ReloadEvent]:
        """Check the serving scripts of point ``name`` against its hosts again."""
        events = []
        for record in self._records.of(name):
            current = record.current
            if current is None:
                continue
            refused = self._refusal(current)
            if refused is None:
                continue
            self._records.serve(record, None)
            record.error = str(refused)
            record.error_line = refused.line
            logger.warning("hook script refused (not serving): %s", refused)
            self._audit_load(
                name, record.file, current.version, time.perf_counter(), record.error, "error"
            )
            events.append(
                ReloadEvent(name, record.file, current.version, None, False, record.error)
            )
        return events

    def _refusal(self, script: LoadedScript) -> LoadFailure | None:
        """Why ``script`` cannot serve its point's host functions, as a load failure."""
        hosts = self._hosts.get(script.point)
        if not hosts:
            return None
        for phase in HOOK_NAMES:
            function = getattr(script, phase)
            parameters = parameters_of(function) if function is not None else None
            if parameters is None:
                continue
            for declared, name in hosts.items():
                message = _refusal_of(parameters, phase, declared, name)
                if message is not None:
                    return LoadFailure(script.path, first_line(function), message, script.version)
        return None

    def status(self) -> list[ScriptStatus]:
        """One record per script file, in point and run order."""
        with self._lock:
            records = sorted(self._records.values(), key=lambda r: (r.point, r.name))
            return [
                ScriptStatus(
                    point=r.point,
                    file=r.file,
                    version=r.current.version if r.current is not None else None,
                    ok=r.error is None,
                    error=r.error,
                    calls=r.calls,
                    failures=r.failures,
                    vetoes=r.vetoes,
                    tripped=r.tripped is not None and not r.tripped.circuit.closed,
                    mode=script_mode(r.name),
                )
                for r in records
            ]

    def check(self) -> None:
        """Raise ``ScriptError`` if any script file failed to load; return if all loaded.

        For hosts that refuse to start (or to deploy) with a broken hook directory. The
        message lists every failure as ``file:line: message``; ``file`` and ``line`` are
        the first one's. A failed edit of a script keeps its last good version serving
        either way: this only reports.
        """
        with self._lock:
            broken = sorted(
                (r for r in self._records.values() if r.error is not None),
                key=lambda r: (r.point, r.name),
            )
            if not broken:
                return
            errors = [r.error for r in broken if r.error is not None]
            first = broken[0]
            raise ScriptError(
                f"{len(broken)} hook script(s) failed to load:\n" + "\n".join(errors),
                file=first.file,
                line=first.error_line,
            )

    def points(self) -> dict[str, tuple[str, ...]]:
        """Each point with its serving scripts' file names, in run order."""
        with self._lock:
            return {
                name: tuple(s.name for s in p.scripts) for name, p in sorted(self._points.items())
            }

    def add_reload_listener(self, listener: Callable[[ReloadEvent], None]) -> None:
        """Call ``listener(event)`` after each script (re)load, failure or removal.

        Listeners run on the thread that did the reload (the watcher's, or the caller of
        ``reload()``), in order, after the new version is already serving; one that raises
        is logged and the others still run. They must not call ``close()``.
        """
        self._listeners.append(listener)

    def remove_reload_listener(self, listener: Callable[[ReloadEvent], None]) -> None:
        self._listeners.remove(listener)

    # -- audit trail ----------------------------------------------------------------------
    def add_audit_listener(self, listener: Callable[[AuditEvent], None]) -> None:
        """Call ``listener(event)`` for every script invocation and load (see docs/audit.md)."""
        self._trail.add_listener(listener)
        self.refresh_audit()

    def remove_audit_listener(self, listener: Callable[[AuditEvent], None]) -> None:
        self._trail.remove_listener(listener)
        self.refresh_audit()

    def refresh_audit(self) -> bool:
        """Arm the hook points if an audit sink listens, disarm them if none does.

        A sink is the ``audit_log`` file, an audit listener, or the ``hookyard.audit``
        logger when it is enabled for INFO and has a handler. Unarmed points record
        nothing and pay nothing. The engine re-checks when it is made, on ``start()``,
        ``reload()`` and when listeners change; call this after configuring logging later.
        Metrics (``hookyard.prometheus``) and tracing (an OpenTelemetry tracer provider
        the host set) arm the points too. Returns whether the audit trail listens.
        """
        if self._tracing is None and "opentelemetry.trace" in sys.modules:
            # Only a host that imported OpenTelemetry can have set a tracer provider: a
            # host without it pays this one dictionary lookup (DESIGN "Observability").
            from ._otel import tracing_observer

            self._tracing = tracing_observer(self)
        with self._lock:
            self._audit_on = self._trail.listening()
            observers: list[Observer] = [self._trail] if self._audit_on else []
            observers += self._observers
            if self._tracing is not None:
                observers.append(self._tracing)
            self._observer = fan_out(observers)
            for point in self._points.values():
                point.watch(self._observer)
            return self._audit_on

    def _add_observer(self, observer: Observer) -> None:
        """Hear every script invocation (``hookyard.prometheus`` registers this way)."""
        with self._lock:
            if observer not in self._observers:
                self._observers.append(observer)
        self.refresh_audit()

    def _remove_observer(self, observer: Observer) -> None:
        with self._lock:
            if observer in self._observers:
                self._observers.remove(observer)
        self.refresh_audit()

    # -- fleets -----------------------------------------------------------------------
    def fingerprint(self) -> str:
        """sha256 hex over every serving script's path (relative to the directory) and
        version: equal on every host serving the same files, changed by any update.

        A script whose latest save failed to load counts with the version still serving.
        See docs/fleet.md for how to compute it from a checkout.
        """
        with self._lock:  # the digest is made when first asked for after a change
            return self._records.fingerprint()

    # -- loading ------------------------------------------------------------------------
    def reload(self) -> None:
        """Rescan the whole directory: load new or changed files, drop vanished ones.

        Everything read is swapped in at once, point by point. While the engine is
        watching, a file missing from the rescan gets the same delete grace as one the
        watcher saw go (it may be mid-save); otherwise it is dropped now, with the rest.
        """
        with self._lock:
            watcher = self._watcher
            missing = self._generation(None, drop=watcher is None)
        if watcher is not None:
            watcher.expire_later(missing or [])
        self.refresh_audit()

    def reload_path(self, path: str | Path) -> None:
        """(Re)load one file now, or drop it now if it is gone; publish its point."""
        path = Path(path)
        point = self._point_of(path)
        if point is None:
            return
        with self._lock:
            if os.path.lexists(path):
                event = self._load(point, path)
                self._apply([event] if event is not None else [])
            elif str(path) in self._records:
                self._apply([self._remove(str(path))])

    def _point_of(self, path: Path) -> str | None:
        """The point a script path belongs to, or None if it is no script of ours."""
        point = path.parent.name
        if (
            path.parent.parent != self.directory
            or not is_point_name(point)
            or not is_script_name(path.name)
        ):
            return None
        return point

    def _layout(self) -> Layout:
        return layout_of(str(self.directory), is_point_name)

    def _generation(
        self,
        points: Collection[str] | None,
        *,
        drop: bool | Callable[[str], bool],
        busy: Callable[[str], bool] | None = None,
        begin: Callable[[], None] | None = None,
    ) -> list[str] | None:
        """Load ``points`` (every point: None) from disk as one generation.

        Every script is read first; then the ones that loaded replace their records and
        files no longer there are dropped where ``drop`` says (True: an atomic swap
        removed them; a callable: decides per file), and each point is published once
        with all of it. A read that overlapped a symlink swap (the layout differs before
        and after it) is read again, and so is a point folder whose entries changed while
        it was read (``_scan``), so a generation is never half old, half new. A point
        ``busy`` names (the watcher's: an rsync run is delivering into it) is left as it
        serves, neither read nor dropped.
        Returns the known files found missing and not dropped (the caller's grace), or
        None when the directory kept changing during every read (nothing changed).
        ``begin`` runs first, under the lock (the watcher ends an rsync hold there).
        """
        with self._lock:
            if begin is not None:
                begin()
            deadline = time.monotonic() + _READ_PATIENCE
            # compiled scripts: the pack is read once here and written once below
            session = self._session = (
                self._cache.session() if self._cache is not None else CacheSession()
            )
            try:
                while True:
                    before = self._layout()
                    scanned = self._scan(points, busy, deadline)
                    if scanned is not None and self._layout() == before:
                        break
                    if time.monotonic() > deadline:
                        logger.warning(
                            "hook directory %s kept changing while it was read; the scripts "
                            "serving stay until it settles",
                            self.directory,
                        )
                        return None
                session.save(points)
            finally:
                self._session = None
                session.close()
            read, found, left = scanned
            events = [
                event
                for point, path, started, result in read
                if (event := self._commit(point, path, started, result)) is not None
            ]
            known = (
                self._records.values()
                if points is None
                else [record for point in points for record in self._records.of(point)]
            )
            missing = [
                record.file
                for record in known
                if record.file not in found and record.point not in left
            ]
            dropped = [f for f in missing if drop is True or (callable(drop) and drop(f))]
            events += [self._remove(file) for file in dropped]
            if points is None:
                # Every point, not only those with events: a point shared with an engine
                # made before (configure() again) must stop serving that engine's scripts.
                self._publish_all()
            self._apply(events)
            return [file for file in missing if file not in dropped]

    def _scan(
        self,
        points: Collection[str] | None,
        busy: Callable[[str], bool] | None,
        deadline: float,
    ) -> tuple[list[_Read], set[str], set[str]] | None:
        """Read every script of ``points`` (all: None); changes nothing.

        Each point folder is read as it was at one moment: when its entries changed while
        it was read (a rename, a creation or a deletion in it changes the folder's mtime
        and ctime), it is read again, so a delivery renaming files into it one by one
        (rsync --delay-updates) is never caught half way. Returns what each read gave, the
        files found, and the points left alone: folders that could not be listed
        (permissions: not seeing a file is not the same as it being gone) and those
        ``busy`` named, before or after their read. None when a folder was still
        changing at ``deadline``.
        """
        read: list[_Read] = []
        found: set[str] = set()
        left: set[str] = set()
        if points is not None:
            folders = [self.directory / point for point in sorted(points)]
        else:
            self._report_layout()
            try:
                folders = sorted(
                    entry
                    for entry in self.directory.iterdir()
                    if is_point_name(entry.name) and entry.is_dir()
                )
            except FileNotFoundError:
                logger.warning(
                    "hook directory %s does not exist (no scripts loaded)", self.directory
                )
                folders = []
            except OSError as exc:
                logger.error("cannot list hook directory %s: %s", self.directory, exc)
                return read, found, {r.point for r in self._records.values()}
        for folder in folders:
            point = folder.name
            while True:
                if busy is not None and busy(point):
                    left.add(point)
                    break
                stamp = _stamp(folder)
                try:
                    entries = sorted(folder.iterdir())
                except (FileNotFoundError, NotADirectoryError):
                    break  # gone, or a link into a generation that is gone
                except OSError as exc:
                    logger.error("cannot list hook point folder %s: %s", folder, exc)
                    left.add(point)
                    break
                reads = []
                for path in entries:
                    if is_script_name(path.name):
                        started = time.perf_counter()
                        reads.append((point, path, started, self._read(point, path)))
                if _stamp(folder) == stamp and not (busy is not None and busy(point)):
                    read += reads
                    found.update(str(path) for _, path, _, _ in reads)
                    break
                if time.monotonic() > deadline:
                    return None
        return read, found, left

    def _report_layout(self) -> None:
        """Log, once each, what in the directory can never serve: files that look like
        scripts but are not where (or named as) the engine loads them, and a
        world-writable hook directory, whose scripts are each refused too (issue 18)."""
        problems = [str(stray) for stray in stray_files(self.directory)]
        refused = (
            world_writable_root(self.directory, named=False) if self._rules.strict_modes else None
        )
        if refused is not None:
            problems.insert(0, f"{self.directory}: {refused}")
        for problem in problems:
            if problem not in self._reported:
                self._reported.add(problem)
                logger.warning("%s", problem)

    def _read(self, point: str, path: Path) -> LoadedScript | LoadFailure:
        """Read, compile and run one script file (in a worker under isolation)."""
        script_logger = logging.getLogger(f"hookyard.script.{point}.{path.stem}")
        if self._pool is not None:
            return self._pool.load(path, point=point, rules=self._rules, logger=script_logger)
        session = self._session
        read = read_source(path, self._rules, session.checks if session is not None else None)
        if isinstance(read, LoadFailure):
            return read
        source, version = read
        record = self._records.get(str(path))
        if record is not None and record.current is not None and record.current.version == version:
            # The content serving (a touch, a chmod, a rescan or a generation finding the
            # file as it was): nothing to compile or run again; _commit keeps it serving.
            return record.current
        return load_source(
            source,
            version,
            path=str(path),
            point=point,
            policy=self._policy,
            logger=script_logger,
            cache=session,
        )

    def _load(self, point: str, path: Path) -> ReloadEvent | None:
        """Load one file into its record; the event to report, or None if nothing changed."""
        started = time.perf_counter()
        return self._commit(point, path, started, self._read(point, path))

    def _commit(
        self, point: str, path: Path, started: float, result: LoadedScript | LoadFailure
    ) -> ReloadEvent | None:
        """Put one read into its record; the event to report, or None if nothing changed.

        Never touches what is serving unless the new version loaded: a failure keeps the
        last good version, and the same content as serving keeps it (and its ``state``).
        Nothing is published here: ``_apply`` does that.
        """
        file = str(path)
        if not isinstance(result, LoadFailure):
            # a script that cannot take the calls its point's host function accepts is
            # refused like one that does not load (DESIGN.md, host side)
            result = self._refusal(result) or result
        if isinstance(result, LoadFailure) and not os.path.lexists(path):
            # Gone between the event and the read (a save in progress): its delete or move
            # event decides what happens; this is no failure of the script.
            return None
        record = self._records.get(file)
        if record is None:
            record = self._records.add(point, file, self)
        old = record.current.version if record.current is not None else None
        if isinstance(result, LoadFailure):
            if (
                result.version is not None
                and result.version == record.seen_version
                and record.error is not None
            ):
                return None  # same broken content as before: nothing new to report
            record.seen_version = result.version
            record.error = str(result)
            record.error_line = result.line
            logger.warning(
                "hook script failed to load (%s): %s",
                "last good version keeps serving" if old else "not serving",
                result,
            )
            self._audit_load(
                point,
                file,
                result.version,
                started,
                record.error,
                "limit" if "LimitExceeded" in result.message else "error",
            )
            return ReloadEvent(point, file, old, old, False, record.error)
        previous = record.current
        if previous is not None and previous.version == result.version:
            record.seen_version = result.version
            if record.error is None:
                return None  # same content: keep the running version and its state
            record.error = None  # back to the serving content after a broken save
            logger.info("hook script recovered: %s (%s)", file, _short(old))
            return ReloadEvent(point, file, old, old, True, None)
        result.record = record
        self._records.serve(record, result)
        record.seen_version = result.version
        record.error = None
        logger.info("hook script loaded: %s (%s -> %s)", file, _short(old), _short(result.version))
        reset = self._reset_breaker(record)
        self._audit_load(point, file, result.version, started, None, "ok")
        event = ReloadEvent(point, file, old, result.version, True, None)
        # The reach diff walks both syntax trees: made after the publish (_apply), so that
        # calls see the new version without waiting for it (issue 17); skipped when nobody
        # can hear of it (a new script while no listener or audit sink is set, as when
        # the engine is made).
        hear = previous is not None or self._made or self._listeners or self._audit_on
        before = previous.source if previous is not None else None
        audit = len(self._pending_audit) - 1 if self._audit_on else None
        self._unheard.append(_Unheard(event, before, result.source, bool(hear), reset, audit))
        return event

    def _audit_load(
        self,
        point: str,
        file: str,
        version: str | None,
        started: float,
        message: str | None,
        outcome: Literal["ok", "error", "limit"],
    ) -> None:
        """Queue a load event; ``_apply`` sends it with the fingerprint it led to."""
        if self._audit_on:
            duration = (time.perf_counter() - started) * 1000.0
            self._pending_audit.append(
                AuditEvent(time.time(), point, file, version, "load", outcome, duration, message)
            )

    def _remove(self, file: str) -> ReloadEvent:
        record = self._records.pop(file)
        old = record.current.version if record.current is not None else None
        logger.info("hook script removed: %s (%s)", file, _short(old))
        if self._audit_on:
            # the trail shows when a script stopped serving, not only when it started
            self._pending_audit.append(
                AuditEvent(time.time(), record.point, file, old, "load", "ok", 0.0, "removed")
            )
        return ReloadEvent(record.point, file, old, None, True, None, removed=True)

    def _apply(self, events: list[ReloadEvent]) -> None:
        """Publish the points these events touched, then record and tell listeners.

        Publish first: a listener may call a hooked function straight away and must see
        the version it is told about. The fingerprint changes with the publish, and the
        audit trail's load events carry the one they led to.
        """
        for point in sorted({event.point for event in events}):
            self._publish(point)
        if events and _HAND_OVER is not None:
            _HAND_OVER()
        if self._unheard:
            events = self._hear(events)
        pending, self._pending_audit = self._pending_audit, []
        if pending:
            fingerprint = self._records.fingerprint()
            for audit in pending:
                self._trail.emit(audit._replace(fingerprint=fingerprint))
        for event in events:
            self._notify(event)

    def _hear(self, events: list[ReloadEvent]) -> list[ReloadEvent]:
        """The reach of each new version against the last, once it serves: reported,
        noted in its audit event and carried by its reload event."""
        unheard, self._unheard = self._unheard, []
        reached: dict[int, ReloadEvent] = {}
        for item in unheard:
            event = item.event
            change = source_reach_change(item.before, item.after) if item.hear else None
            if change is not None and (event.old_version is not None or self._made):
                # a new script in a running engine gains its whole reach: reported like a
                # change
                report_reach_change(event.file, change)
            note = str(change) if change else None
            if item.reset:
                note = f"breaker reset by the new version; {note}" if note else "breaker reset"
            if item.audit is not None and item.audit < len(self._pending_audit):
                queued = self._pending_audit[item.audit]
                self._pending_audit[item.audit] = queued._replace(message=note)
            reached[id(event)] = replace(event, reach=change)
        return [reached.get(id(event), event) for event in events]

    def _point(self, name: str) -> Point:
        point = self._points.get(name)
        if point is None:
            point = self._points[name] = Point(name)
            point.watch(self._observer)
        return point

    def _publish(self, name: str) -> None:
        scripts = sorted(
            (r.current for r in self._records.of(name) if r.current is not None),
            key=lambda s: s.name,
        )
        self._point(name).scripts = tuple(scripts)  # the one reference swap callers see

    def _publish_all(self) -> None:
        names = self._records.points() | set(self._points)
        for name in names:
            self._publish(name)

    def _notify(self, event: ReloadEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("reload listener %r failed", listener)

    # -- the watcher's side (see _watcher.py) -----------------------------------------------
    def _watch_load(self, paths: Iterable[str], *, retry_only: bool = False) -> None:
        """Script files are complete on disk: load them, publish them together.

        ``retry_only``: only those whose last load failed or never loaded (metadata
        changed, e.g. a chmod).
        """
        with self._lock:
            events = []
            for path in paths:
                file = Path(path)
                point = self._point_of(file)
                if point is None:
                    continue
                record = self._records.get(path)
                if retry_only and record is not None and record.error is None:
                    continue
                event = self._load(point, file)
                if event is not None:
                    events.append(event)
            self._apply(events)

    def _watch_expire(self, path: str) -> None:
        """A script's grace is over: drop it unless a file is back at its path.

        A file that is back but not yet loaded is being written; its close or move event
        loads it, and the old version serves until then (no gap).
        """
        with self._lock:
            if path in self._records and not os.path.lexists(path):
                self._apply([self._remove(path)])

    def _watch_generation(
        self,
        points: Collection[str] | None,
        *,
        drop: bool | Callable[[str], bool],
        busy: Callable[[str], bool] | None = None,
        begin: Callable[[], None] | None = None,
    ) -> list[str] | None:
        """Load points as one generation (see ``_generation``); the files left to expire,
        or None if it could not be read whole."""
        return self._generation(points, drop=drop, busy=busy, begin=begin)

    def _watch_files(self, point: str | None = None) -> list[str]:
        """The files the engine knows (all, or one point's)."""
        with self._lock:
            records = self._records.values() if point is None else self._records.of(point)
            return [record.file for record in records]

    # -- safe rollout: the breaker, recording (DESIGN.md "Safe rollout") ---------------------
    def _failed_in_a_row(self, record: Record, script: LoadedScript, phase: str) -> None:
        """``record``'s script failed again: trip its breaker at ``Breaker.failures`` in a
        row; a failed try after the cooldown trips it for another cooldown.

        Runs on the calling thread, without the engine's lock (the call may be nested in a
        worker conversation a reload waits for): decided under ``_breaker_lock``,
        published by the point itself.
        """
        breaker = self.breaker
        streak = record.streak
        if streak == 1:
            record._refresh()  # a run begins: the general path (it ends runs) serves it
        if not breaker.failures or streak < breaker.failures:
            return
        with self._breaker_lock:
            current = record.current
            if current is None:
                return
            tripped: TrippedScript | None = record.tripped
            if tripped is not None and tripped.real is current and not tripped.circuit.closed:
                if script is not tripped:
                    return  # a call that began before the trip: already tripped
                tripped.circuit.rearm(streak, breaker.cooldown)  # the try failed
                again = True
            else:
                circuit = Circuit(streak, breaker.cooldown)
                record.tripped = tripped = stand_in(
                    current, circuit, lambda: self._breaker_closed(record, circuit)
                )
                again = False
        point = self._points.get(record.point)
        if point is not None:
            point.refresh()
        message = (
            f"{'tried again and ' if again else ''}tripped after {streak} failures in a "
            f"row: not run until {tripped.circuit.retry()} "
            f"(breaker: failures={breaker.failures}, cooldown={breaker.cooldown:g} s)"
        )
        logger.warning("hook script %s: %s", record.file, message)
        observer = point.observer if point is not None else None
        if observer is not None:
            observer.invocation(record.point, current, phase, "tripped", 0.0, message)

    def _breaker_closed(self, record: Record, circuit: Circuit) -> None:
        """A try after the cooldown worked: the script runs again."""
        with self._breaker_lock:
            tripped = record.tripped
            if tripped is None or tripped.circuit is not circuit:
                return
            record.tripped = None
        point = self._points.get(record.point)
        if point is not None:
            point.refresh()
        logger.warning(
            "hook script %s: breaker closed: it ran again after its cooldown", record.file
        )

    def _reset_breaker(self, record: Record) -> bool:
        """A new version of the file: its breaker starts closed. True if it was open."""
        record.streak = 0
        with self._breaker_lock:
            tripped, record.tripped = record.tripped, None
        if tripped is None or tripped.circuit.closed:
            return False
        logger.warning("hook script %s: breaker reset: a new version loaded", record.file)
        return True

    def record(
        self,
        point: str,
        path: str | os.PathLike[str],
        *,
        limit: int = 1000,
        redact: Iterable[str] = DEFAULT_REDACT,
    ) -> None:
        """Append a JSON line per call of ``point`` to ``path`` (see docs/rollout.md).

        Each line holds the arguments as the scripts saw them, the host's result or
        exception, every script's version and outcome, every ``api`` call with its
        arguments and result, and the final result; the value under any dict key (or
        parameter) containing one of ``redact`` (any depth, any case) is ``"***"``.
        Recording stops after ``limit`` calls, or ``stop_recording(point)``; recording a
        point again starts a new recording. ``hookyard replay`` replays the file.
        """
        if not isinstance(point, str) or not is_point_name(point) or "/" in point:
            raise ValueError(f"hook point names must be plain folder names, not {point!r}")
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be a file path, not {path!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive int (calls to record), not {limit!r}")
        if isinstance(redact, str | bytes) or not isinstance(redact, Iterable):
            raise TypeError(f"redact must be words such as ('password', 'token'), not {redact!r}")
        words = tuple(redact)
        if not all(isinstance(word, str) and word for word in words):
            raise TypeError(f"redact must hold non-empty strings, not {words!r}")
        holder: list[Recorder] = []
        recorder = Recorder(
            point,
            Path(path),
            limit=limit,
            redact=words,
            on_limit=lambda: self._recording_done(point, holder[0]),
        )
        holder.append(recorder)
        with self._lock:
            old = self._recordings.pop(point, None)
            self._recordings[point] = recorder
            self._point(point).record(recorder)
        if old is not None:
            old.close()

    def stop_recording(self, point: str) -> None:
        """Stop recording ``point`` (nothing happens if it is not recorded)."""
        with self._lock:
            recorder = self._recordings.pop(point, None)
            if recorder is not None:
                self._point(point).record(None)
        if recorder is not None:
            recorder.close()

    def _recording_done(self, point: str, recorder: Recorder) -> None:
        """``limit`` calls written (on a calling thread: the point's lock, not the
        engine's, which a reload may hold while it waits for this call's worker)."""
        if self._recordings.get(point) is recorder:
            self._recordings.pop(point, None)
            found = self._points.get(point)
            if found is not None and found.session is recorder:
                found.record(None)
        recorder.close()

    # -- watching -------------------------------------------------------------------------
    def start(self) -> HookEngine:
        """Begin watching the directory; changes take effect without restart.

        Never raises for a missing or unreadable directory: that is logged, the scripts
        already loaded keep serving and watching begins when the directory can be watched.
        """
        from ._watcher import Watcher  # watchdog is imported only when watching

        with self._lock:
            if self._watcher is None:
                self._watcher = Watcher(self, polling=self._polling, grace=self.delete_grace)
                self._watcher.start()
        self.refresh_audit()
        return self

    @property
    def watching(self) -> bool:
        """True while changes to the directory are being followed."""
        watcher = self._watcher
        return watcher is not None and bool(watcher.watching)

    def close(self) -> None:
        """Stop watching and recording. Hooked functions keep running the scripts last
        loaded."""
        for point in list(self._recordings):
            self.stop_recording(point)
        with self._lock:
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()  # joins watchdog's threads and the grace timer thread
        self._trail.close()  # reopened by the next event if hooked functions keep running
        if self._pool is not None:
            self._pool.close()  # process isolation: stop the workers

    def __enter__(self) -> HookEngine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<HookEngine {str(self.directory)!r} scripts={len(self._records)}>"


# The refusal of one script's parameters against one host's: a pure function of the two
# (hashable) parameter lists, and a save almost always keeps its hooks' parameters, so a
# reload finds it here instead of binding every shape of call again (0.05-0.07 ms of a
# 0.8 ms reload, before the new version serves; issue 17).
_refusal_of = functools.lru_cache(maxsize=512)(refusal)


def _hand_over() -> None:
    """Release the GIL and the CPU for a moment, a few times.

    Called between a publish and the bookkeeping after it (the reach diff, the audit
    trail, the listeners), so that a caller waiting for the GIL while the watcher's thread
    loaded the new version calls that version now, not after the bookkeeping (issue 17:
    work after the publish must not delay serving). A waiter woken by one release may not
    be running yet when this thread takes the GIL back; three gave it the time on 3.12
    where one did not. Measured (benchmarks/reload.py --stages, p50): publish -> a polling
    caller's call 0.21-0.27 ms without, 0.03-0.05 ms with; each yield costs ~1 us.
    """
    for _ in range(3):
        os.sched_yield()


_HAND_OVER: Callable[[], None] | None = _hand_over if hasattr(os, "sched_yield") else None


def _short(version: str | None) -> str:
    return version[:12] if version else "none"


def declare_host(hosts: Hosts, point: str, host: Callable[..., Any], skip: int) -> bool:
    """Note that ``host`` serves ``point``; False when its signature adds nothing (one
    with the same parameters is known, or it has none that can be read)."""
    parameters = host_parameters(host, skip)
    if parameters is None:
        return False
    known = hosts.setdefault(point, {})
    if parameters in known:
        return False  # hosts with equal parameters accept the same calls
    known[parameters] = host_name(host)
    return True


def _stamp(folder: Path) -> tuple[int, int, int, int] | None:
    """What changes when an entry of ``folder`` is added, removed or renamed (or the
    folder is replaced): its identity, mtime and ctime; None if it cannot be seen."""
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_mtime_ns, info.st_ctime_ns
