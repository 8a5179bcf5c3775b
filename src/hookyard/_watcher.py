"""Watch the hook directory: watchdog events -> the engine's loads, graces and rescans.

Why it is built this way (issue 3, DESIGN.md guarantee 4):

- **No debounce.** On Linux the watcher loads a script on the kernel's close-after-write
  (``IN_CLOSE_WRITE`` -> ``FileClosedEvent``) and on renames into place (``IN_MOVED_TO`` ->
  ``FileMovedEvent``): both mean "the content is complete now", so there is nothing to wait
  for. ``IN_MODIFY`` is ignored there: reading between a writer's ``truncate`` and its last
  ``write`` would see a torn file.
- **No gap.** A script that disappears (deleted, renamed away) keeps serving for a short
  grace; when the grace ends the engine looks at the disk once more and drops the script
  only if nothing has taken its place. Editors that rename the original away and then write
  or rename the new file in (vim, emacs, JetBrains "safe write") therefore look like a plain
  replace to callers: they see the old version until the new one is loaded.
- **Nothing raises into watchdog.** watchdog's dispatcher thread dies on the first
  exception out of a handler (``BaseObserver.run`` catches only ``queue.Empty``), so every
  entry point here catches, logs and carries on.
- **The watch heals.** The hook directory being deleted, replaced, unreadable or a watchdog
  thread dying is reported once, the scripts already loaded keep serving (or run out their
  grace when their files are really gone), and the watch is re-established as soon as the
  directory can be watched again, followed by a full rescan.

Threads: watchdog's emitter (plus, for inotify, its reader thread) produces events; its
dispatcher thread calls ``ReloadHandler.dispatch``; one ``Timers`` thread runs grace
expiries, watch retries and health checks. ``Watcher.stop`` joins all of them.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

from ._engine import is_point_name, is_script_name
from ._timers import Timers

__all__ = [
    "HEALTH_INTERVAL",
    "POLL_INTERVAL",
    "RETRY_INTERVAL",
    "ReloadHandler",
    "Sink",
    "WatchTarget",
    "Watcher",
]

logger = logging.getLogger("hookyard")


class _StopRace(logging.Filter):
    """Drops watchdog's ERROR line for an inotify read that lands while the observer is
    being stopped ("queue_events() called when the thread is inactive"): the event is
    discarded either way, and every close() of a watching engine could print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in record.getMessage()


logging.getLogger("watchdog.observers.inotify").addFilter(_StopRace())

# While the directory cannot be watched, try again this often (seconds): short, because a
# deploy that recreates the directory wants its scripts back quickly, and a failed attempt
# costs one stat() call.
RETRY_INTERVAL = 0.1
# While watching, check this often that the directory is still the one watched and that
# watchdog's threads are alive (inotify does not report the directory itself being renamed
# away or replaced by a rename, so this is how a swapped-in directory is picked up).
HEALTH_INTERVAL = 0.5
# PollingObserver interval when ``polling=True`` (watchdog's own default is 1 s).
POLL_INTERVAL = 0.5


class WatchTarget(Protocol):
    """What the watcher drives (``HookEngine`` implements it)."""

    @property
    def directory(self) -> Path: ...

    def _watch_load(self, path: str, *, retry_only: bool = False) -> None: ...

    def _watch_expire(self, path: str) -> None: ...

    def _watch_rescan(self, point: str | None = None) -> list[str]: ...

    def _watch_files(self, point: str | None = None) -> list[str]: ...


class Sink(Protocol):
    """What the handler reports, already classified (``Watcher`` implements it)."""

    def load(self, path: str) -> None: ...

    def retry(self, path: str) -> None: ...

    def vanished(self, path: str) -> None: ...

    def folder_appeared(self, path: str) -> None: ...

    def folder_vanished(self, path: str) -> None: ...

    def root_vanished(self) -> None: ...


def _is_linked(path: str) -> bool:
    """True for a symlink or an extra hard link: a file that appears complete, at once."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISLNK(info.st_mode) or info.st_nlink > 1


def _text(path: str | bytes) -> str:
    return path if isinstance(path, str) else os.fsdecode(path)


class ReloadHandler(FileSystemEventHandler):
    """Turns watchdog events into sink calls; knows which paths are scripts and folders.

    ``close_events`` says the observer reports close-after-write (inotify): then a script is
    loaded when its writer closes it, never on a bare modification or creation, so a
    half-written file is never read. Without them (polling, other platforms) a modification
    or creation is all there is to go on.

    ``watched`` is the path the observer really watches when it differs from ``root`` (the
    hook directory is a symlink): event paths are translated back to ``root``, the name the
    engine knows its files by.
    """

    def __init__(
        self,
        root: str,
        sink: Sink,
        *,
        close_events: bool,
        watched: str | None = None,
        is_linked: Callable[[str], bool] = _is_linked,
    ) -> None:
        super().__init__()
        self.root = root
        self.watched = watched if watched is not None else root
        self.sink = sink
        self.close_events = close_events
        self._is_linked = is_linked

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self.route(event)
        except Exception:  # never kill watchdog's dispatcher thread (see module docstring)
            logger.exception("hookyard watcher failed handling %r (watching goes on)", event)

    # -- classification -------------------------------------------------------------------
    def local(self, path: str | bytes) -> str:
        """An event path under the name the engine uses for the directory."""
        text = _text(path)
        if self.watched != self.root and text:
            if text == self.watched:
                return self.root
            if text.startswith(self.watched + os.sep):
                return self.root + text[len(self.watched) :]
        return text

    def script(self, path: str) -> bool:
        """``<root>/<point>/<name>.py`` with a point name and a loadable script name."""
        if not path:
            return False
        parent, name = os.path.split(path)
        grand, point = os.path.split(parent)
        return grand == self.root and is_point_name(point) and is_script_name(name)

    def folder(self, path: str) -> bool:
        """``<root>/<point>``: a hook point's folder."""
        if not path:
            return False
        parent, name = os.path.split(path)
        return parent == self.root and is_point_name(name)

    # -- routing --------------------------------------------------------------------------
    def route(self, event: FileSystemEvent) -> None:
        src = self.local(event.src_path)
        if isinstance(event, FileMovedEvent):
            # watchdog pairs IN_MOVED_FROM/IN_MOVED_TO by cookie; with full events an
            # unpaired half has an empty other side (moved in from, or out to, elsewhere).
            dest = self.local(event.dest_path)
            if self.script(src):
                self.sink.vanished(src)
            if self.script(dest):
                self.sink.load(dest)  # a rename is atomic: the content is complete
        elif isinstance(event, FileClosedEvent):
            if self.script(src):
                self.sink.load(src)
        elif isinstance(event, FileModifiedEvent):
            if not self.close_events and self.script(src):
                self.sink.load(src)
        elif isinstance(event, FileCreatedEvent):
            # With close events, a new regular file is still being written: its close will
            # load it. A symlink or hard link (ln, ln -s) gets no close and is complete.
            if self.script(src) and (not self.close_events or self._is_linked(src)):
                self.sink.load(src)
        elif isinstance(event, FileDeletedEvent):
            if self.script(src):
                self.sink.vanished(src)
        elif isinstance(event, FileAttribEvent):
            # chmod/chown may make a refused file loadable (or refused); content is not
            # re-read for a serving script, to keep IN_ATTRIB mid-write from tearing it.
            if self.script(src):
                self.sink.retry(src)
        elif isinstance(event, DirMovedEvent):
            dest = self.local(event.dest_path)
            if self.folder(src):
                self.sink.folder_vanished(src)
            if self.folder(dest):
                self.sink.folder_appeared(dest)
        elif isinstance(event, DirCreatedEvent):
            if self.folder(src):
                self.sink.folder_appeared(src)
        elif isinstance(event, DirDeletedEvent):
            if src == self.root:
                self.sink.root_vanished()
            elif self.folder(src):
                self.sink.folder_vanished(src)
        # opened, closed-without-write, directory modified/attrib: nothing to do


def _inotify_class() -> Any | None:
    """watchdog's inotify observer class, or None off Linux (or on an unsupported libc)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        from watchdog.observers.inotify import InotifyObserver
    except Exception:  # watchdog's own Observer falls back the same way
        return None
    return InotifyObserver


class Watcher:
    """Keeps one watchdog observer on the engine's directory and heals it.

    ``polling`` picks watchdog's PollingObserver (True: every ``POLL_INTERVAL`` seconds, a
    number: that interval). ``grace`` is how long a vanished script keeps serving.
    ``observer_factory`` and ``close_events`` replace the observer (tests inject faults).
    """

    def __init__(
        self,
        engine: WatchTarget,
        *,
        polling: bool | float = False,
        grace: float = 0.2,
        observer_factory: Callable[[], Any] | None = None,
        close_events: bool | None = None,
        timers: Timers | None = None,
    ) -> None:
        self.engine = engine
        self.root = os.fspath(engine.directory)
        self.grace = grace
        if observer_factory is None:
            observer_factory, inotify = self._default_factory(polling)
            close_events = inotify if close_events is None else close_events
        self._factory = observer_factory
        self._close_events = bool(close_events)
        self.handler = ReloadHandler(self.root, self, close_events=self._close_events)
        self.timers = timers if timers is not None else Timers()
        self._lock = threading.Lock()  # guards the fields below
        self._observer: Any = None
        self._identity: tuple[int, int] | None = None
        self._problem: str | None = None  # what is wrong with the watch, as last reported
        self._stopped = False

    @staticmethod
    def _default_factory(polling: bool | float) -> tuple[Callable[[], Any], bool]:
        """The observer to make (on each (re)start) and whether it reports closes."""
        if polling is False:
            inotify = _inotify_class()
            if inotify is not None:
                # Full events: an unpaired IN_MOVED_TO (a file renamed in from outside the
                # directory) arrives as a move with an empty source, not as a creation, so
                # it loads at once instead of waiting for a close that never comes.
                return (lambda: inotify(generate_full_events=True)), True
            from watchdog.observers import Observer

            return Observer, False  # the platform's native observer: no close events
        from watchdog.observers.polling import PollingObserver

        interval = POLL_INTERVAL if polling is True else float(polling)
        return (lambda: PollingObserver(timeout=interval)), False

    @property
    def watching(self) -> bool:
        """True while the directory is being watched (False while healing a lost watch)."""
        with self._lock:
            return self._observer is not None

    @property
    def problem(self) -> str | None:
        """Why the directory is not being watched right now, or None."""
        with self._lock:
            return self._problem

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        self.timers.start()
        self._establish(rescan=True)

    def stop(self) -> None:
        """Stop watching and join every thread. Pending graces are dropped: the scripts
        last loaded keep serving, as after any ``close()``."""
        with self._lock:
            self._stopped = True
        self.timers.close()  # joined first, so no retry can start a new observer afterwards
        with self._lock:
            observer, self._observer = self._observer, None
        _discard(observer)

    # -- Sink: what the handler reports ---------------------------------------------------
    def load(self, path: str) -> None:
        self.timers.cancel(("gone", path))  # a new version is here: not a delete after all
        self.engine._watch_load(path)

    def retry(self, path: str) -> None:
        self.engine._watch_load(path, retry_only=True)

    def vanished(self, path: str) -> None:
        # The earliest deadline stands: a script stops at most one grace after it was
        # first seen gone, however many events follow.
        self.timers.call_later(
            ("gone", path), self.grace, lambda: self._expire(path), keep_earlier=True
        )

    def folder_appeared(self, path: str) -> None:
        # Files already in a new folder (mkdir + write before the watch was added, or a
        # whole folder moved in) get no close event of their own: scan the folder.
        for gone in self.engine._watch_rescan(os.path.basename(path)):
            self.vanished(gone)

    def folder_vanished(self, path: str) -> None:
        for file in self.engine._watch_files(os.path.basename(path)):
            self.vanished(file)

    def root_vanished(self) -> None:
        # Called on watchdog's dispatcher thread: the teardown joins that thread, so it
        # runs on the timers thread instead.
        self.timers.call_later(("watch",), 0.0, lambda: self._lost("was deleted"))

    # -- graces, health, healing (timers thread) --------------------------------------------
    def _expire(self, path: str) -> None:
        self.engine._watch_expire(path)

    def expire_later(self, files: list[str]) -> None:
        """Give each of ``files`` (missing from a rescan) the delete grace."""
        for file in files:
            self.vanished(file)

    def _establish(self, *, rescan: bool) -> None:
        """Start an observer on the directory, or report why not and retry soon."""
        with self._lock:
            if self._stopped:
                return
        observer: Any = None
        try:
            info = os.stat(self.root)
            if not stat.S_ISDIR(info.st_mode):
                raise NotADirectoryError(f"not a directory: {self.root}")
            if not os.access(self.root, os.R_OK | os.X_OK):
                raise PermissionError(f"permission denied: {self.root}")
            # A symlinked directory (a release-switching deploy) is watched at its target:
            # watchdog does not follow a symlink it is asked to watch, so new point folders
            # would go unseen. Not follow_symlink=True: that follows every link below too,
            # and a link loop would never finish walking. A retargeted link changes the
            # directory's identity, which the health check notices.
            real = os.path.realpath(self.root)
            handler = ReloadHandler(self.root, self, close_events=self._close_events, watched=real)
            observer = self._factory()
            observer.schedule(handler, real, recursive=True)
            observer.start()
        except Exception as exc:
            _discard(observer)
            self._report(_describe(exc))
            self.timers.call_later(("watch",), RETRY_INTERVAL, self._retry)
            return
        with self._lock:
            stopped = self._stopped
            if not stopped:
                self.handler = handler
                self._observer = observer
                self._identity = (info.st_dev, info.st_ino)
                problem, self._problem = self._problem, None
        if stopped:
            _discard(observer)
            return
        if problem is not None:
            logger.warning("hookyard: watching %s again (it %s)", self.root, problem)
        self.timers.call_later(("watch",), HEALTH_INTERVAL, self._check)
        if rescan or problem is not None:
            # Whatever changed before the watch was live is found by a rescan; files missing
            # from it get the grace, never an instant drop (a deploy may still be copying).
            self.expire_later(self.engine._watch_rescan())

    def _retry(self) -> None:
        self._establish(rescan=True)

    def _check(self) -> None:
        """Periodic: the directory is still the one watched and watchdog's threads live."""
        with self._lock:
            observer, identity = self._observer, self._identity
        if observer is None:
            return
        problem = None
        try:
            info = os.stat(self.root)
            if (info.st_dev, info.st_ino) != identity:
                problem = "was replaced"
            elif not os.access(self.root, os.R_OK | os.X_OK):
                problem = "cannot be read (permission denied)"
        except FileNotFoundError:
            problem = "was deleted"
        except OSError as exc:
            problem = _describe(exc)
        if problem is None and not _alive(observer):
            problem = "lost its watcher thread"
        if problem is None:
            self.timers.call_later(("watch",), HEALTH_INTERVAL, self._check)
        else:
            self._lost(problem)

    def _lost(self, problem: str) -> None:
        with self._lock:
            observer, self._observer = self._observer, None
        _discard(observer)
        self._report(problem)
        if not os.path.isdir(self.root):
            # The files are gone with their directory: each runs out its grace (a directory
            # recreated in time, with the same scripts, is a replace, not a delete).
            self.expire_later(self.engine._watch_files())
        self._establish(rescan=True)

    def _report(self, problem: str) -> None:
        """Log a watch problem once per change of problem (retries are quiet).

        A directory deleted, replaced or not there yet may be a deploy at work: a warning.
        One that cannot be read or watched will not heal by itself: an error.
        """
        with self._lock:
            if self._stopped or problem == self._problem:
                return
            if problem == "does not exist" and self._problem == "was deleted":
                return  # the retries after a deletion: already reported
            self._problem = problem
        benign = problem in ("was deleted", "was replaced", "does not exist")
        logger.log(
            logging.WARNING if benign else logging.ERROR,
            "hookyard: hook directory %s %s; the scripts already loaded keep serving and "
            "watching resumes when it can (retrying every %.1f s)",
            self.root,
            problem,
            RETRY_INTERVAL,
        )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "does not exist"
    if isinstance(exc, PermissionError):
        return "cannot be read (permission denied)"
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot be watched ({exc.strerror})"
    return f"cannot be watched ({type(exc).__name__}: {exc})"


def _alive(observer: Any) -> bool:
    try:
        return bool(observer.is_alive()) and all(e.is_alive() for e in list(observer.emitters))
    except Exception:
        return False


def _discard(observer: Any) -> None:
    """Stop an observer and join its threads, whatever state it is in; never raises."""
    if observer is None:
        return
    try:
        observer.stop()  # also stops inotify's reader thread, started in the constructor
        if observer.is_alive():
            observer.join()
    except Exception:
        logger.exception("hookyard watcher: stopping the old observer failed")
