"""Watch the hook directory: watchdog events -> the engine's loads, graces and generations.

Why it is built this way (issue 3, issue 15, DESIGN.md guarantee 4):

- **No debounce.** On Linux the watcher loads a script on the kernel's close-after-write
  (``IN_CLOSE_WRITE`` -> ``FileClosedEvent``) and on renames into place (``IN_MOVED_TO`` ->
  ``FileMovedEvent``): both mean "the content is complete now", so there is nothing to wait
  for. ``IN_MODIFY`` is ignored there: reading between a writer's ``truncate`` and its last
  ``write`` would see a torn file. So inotify is not even asked for it (nor for opens and
  closes after reading: ``_quiet_inotify``), which spares watchdog's threads a wake-up,
  and the GIL a taker, at every write of a save and at the engine's own read of it.
- **No gap.** A script that disappears (deleted, renamed away) keeps serving for a short
  grace; when the grace ends the engine looks at the disk once more and drops the script
  only if nothing has taken its place. Editors that rename the original away and then write
  or rename the new file in (vim, emacs, JetBrains "safe write") therefore look like a plain
  replace to callers: they see the old version until the new one is loaded.
- **Generations.** Fleets deliver whole directories by swapping a symlink: a Kubernetes
  ConfigMap or Secret volume renames ``..data_tmp`` over ``..data`` (kubelet
  ``atomic_writer.go``), git-sync renames ``tmp-link`` over its worktree link, a deploy
  switches ``current -> releases/N``. No script file changes; what a name resolves to does.
  Every event on an entry directly in the hook directory (``..data``, ``create ->
  ..data/create``) makes the watcher compare the directory's layout (``_layout``) with the
  one it last saw; the entries that now lead elsewhere are loaded as one generation: every
  script read, then swapped in together, and files the swap removed dropped in the same
  swap (no grace: the swap was atomic, nothing is mid-save). The directories above the hook
  directory whose entries lead to it (``anchors``) are watched too, so a swapped link
  above it is noticed at once instead of at the next health check.
- **rsync runs, whole by construction.** rsync ``--delay-updates`` puts each new file in a
  ``.~tmp~`` folder beside it and renames them all into place after its last transfer,
  removing each ``.~tmp~`` after its last rename; ``--delete-after`` deletes later still,
  once the renames are reported done (rsync ``generator.c``). While a point has a holding
  folder (seen by an event, or found on disk by any look at the point) it is *held*:
  nothing of it is loaded, read into a generation or dropped -- a grace that runs out
  meanwhile waits too. When the disk shows no holding folder left, every point is read as
  one generation, and in the held points whatever is missing leaves in the same switch.
  No window of time stands in for any of this: a deletion rsync has not made yet when the
  generation is read goes afterwards, as its own later state (renames done, deletions
  made), never before the renamed files are serving. (Time matters only to holding
  folders left unchanged for ``HOLD_MAX``, as a killed rsync leaves them: they stop
  holding, and what is on disk goes live.)
- **Nothing raises into watchdog.** watchdog's dispatcher thread dies on the first
  exception out of a handler (``BaseObserver.run`` catches only ``queue.Empty``), so every
  entry point here catches, logs and carries on.
- **The watch heals.** The hook directory being deleted, replaced, unreadable or a watchdog
  thread dying is reported once, the scripts already loaded keep serving (or run out their
  grace when their files are really gone), and the watch is re-established as soon as the
  directory can be watched again, followed by a full rescan.

Threads: watchdog's emitters (plus, for inotify, their reader threads) produce events; its
dispatcher thread calls ``ReloadHandler.dispatch``; one ``Timers`` thread runs grace
expiries, held generations, watch retries and health checks. With inotify, the fast lane's
thread (``_fastlane``) loads a script saved in a plain point folder straight from the
kernel's event, one hop instead of watchdog's three (issue 17); the handler leaves those
saves to it. ``Watcher.stop`` joins all of them.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import threading
import warnings
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any, Protocol

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
    FileSystemMovedEvent,
)
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingEmitter

from ._fastlane import FastLane, fast_lane
from ._layout import Entry, Layout, anchors
from ._paths import is_point_name, is_script_name
from ._timers import Timers

__all__ = [
    "HEALTH_INTERVAL",
    "HOLD_MAX",
    "HOLD_POLL",
    "POLL_INTERVAL",
    "RETRY_INTERVAL",
    "RSYNC_HOLD",
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
# watchdog 7 warns when inotify hands a new folder the watch descriptor of a folder just
# deleted ("Callback with id ... already exists for watch ... It will be Overwritten"):
# what a ConfigMap update does every time (a new data folder, the old one removed). The
# callback is replaced, which is right; the warning would only alarm operators.
warnings.filterwarnings(
    "ignore",
    message="Callback with id .* already exists for watch",
    category=RuntimeWarning,
    module="watchdog.observers.inotify",
)

# While the directory cannot be watched, try again this often (seconds): short, because a
# deploy that recreates the directory wants its scripts back quickly, and a failed attempt
# costs one stat() call.
RETRY_INTERVAL = 0.1
# While watching, check this often that the directory is still the one watched, that its
# layout is the one last seen and that watchdog's threads are alive: the safety net behind
# the anchors (a link swapped deeper in a symlink's target is seen here).
HEALTH_INTERVAL = 0.5
# PollingObserver interval when ``polling=True`` (watchdog's own default is 1 s).
POLL_INTERVAL = 0.5
# rsync --delay-updates' holding folder (rsync options.c: partial_dir = ".~tmp~"); rsync
# rmdirs it after each rename at the end of a transfer, which succeeds after the last.
RSYNC_HOLD = ".~tmp~"
# Holding folders that stay exactly as they are this long, with no event from the run
# (an rsync killed mid-way leaves them behind), no longer hold their points (seconds): what
# is on disk goes live, and they hold again only once their contents change.
HOLD_MAX = 1.0
# While a point is held, the disk is checked this often for the holding folder's removal
# (seconds): rsync renames a temp file into the brand-new .~tmp~ before inotify watches
# it, and watchdog holds that unpaired rename, and every event after it, for 0.5 s.
HOLD_POLL = 0.01


class WatchTarget(Protocol):
    """What the watcher drives (``HookEngine`` implements it)."""

    @property
    def directory(self) -> Path: ...

    def _layout(self) -> Layout: ...

    def _watch_load(self, paths: Iterable[str], *, retry_only: bool = False) -> None: ...

    def _watch_expire(self, path: str) -> None: ...

    def _watch_generation(
        self,
        points: Collection[str] | None,
        *,
        drop: bool | Callable[[str], bool],
        busy: Callable[[str], bool] | None = None,
        begin: Callable[[], None] | None = None,
    ) -> list[str] | None: ...

    def _watch_files(self, point: str | None = None) -> list[str]: ...


class Sink(Protocol):
    """What the handler reports, already classified (``Watcher`` implements it)."""

    def load(self, paths: list[str]) -> None: ...

    def batch(self, loads: list[str], deleted: set[str]) -> None: ...

    def retry(self, path: str) -> None: ...

    def vanished(self, path: str) -> None: ...

    def staged(self, path: str) -> None: ...

    def holding(self, point: str) -> None: ...

    def released(self, point: str) -> None: ...

    def linked_changed(self, point: str) -> None: ...

    def entries_changed(self, hints: dict[str, str]) -> None: ...

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


class _BatchEnd(FileSystemEvent):
    """Queued after each poll; ``dest_path`` is ``"changed"`` when the poll saw changes."""

    event_type = "hookyard-batch-end"


class _BatchingPollingEmitter(PollingEmitter):
    """watchdog's PollingEmitter, marking where each poll's events end."""

    def queue_events(self, timeout: float) -> None:
        self._queued = False
        super().queue_events(timeout)
        if not self.stopped_event.is_set():
            super().queue_event(_BatchEnd(self.watch.path, "changed" if self._queued else ""))

    def queue_event(self, event: FileSystemEvent) -> None:
        self._queued = True
        super().queue_event(event)


class _BatchingPoller(BaseObserver):
    """A PollingObserver whose polls end with a ``_BatchEnd``."""

    def __init__(self, *, timeout: float) -> None:
        super().__init__(_BatchingPollingEmitter, timeout=timeout)


# Events that change nothing at the top of the directory (a point folder's own mtime
# changes with every file written in it).
_QUIET = (DirModifiedEvent, FileOpenedEvent, FileClosedNoWriteEvent)


class ReloadHandler(FileSystemEventHandler):
    """Turns watchdog events into sink calls; knows which paths are scripts.

    ``close_events`` says the observer reports close-after-write (inotify): then a script is
    loaded when its writer closes it, never on a bare modification or creation, so a
    half-written file is never read. Without them (polling, other platforms) a modification
    or creation is all there is to go on.

    ``watched`` is the path the observer really watches when it differs from ``root`` (the
    hook directory is a symlink); ``links`` maps the resolved folders of symlinked point
    folders (a ConfigMap's ``create -> ..data/create``) to ``root/<point>``. Event paths are
    translated back to the names the engine knows its files by. A change seen through such
    a link reloads its point whole: the event may be older than the generation the link
    now leads to (the kubelet writes the next data folder while the last swap is handled).

    ``batching`` (polling): script loads and deletions wait until a poll sees nothing
    more change, and then go together, point by point: a poll may catch a delivery (or an
    editor) half done, and the next poll shows the rest of it.
    """

    def __init__(
        self,
        root: str,
        sink: Sink,
        *,
        close_events: bool,
        watched: str | None = None,
        batching: bool = False,
        is_linked: Callable[[str], bool] = _is_linked,
        laned: Callable[[str], bool] = lambda path: False,
    ) -> None:
        super().__init__()
        self.root = root
        self.watched = watched if watched is not None else root
        self.links: dict[str, str] = {}
        self.sink = sink
        self.close_events = close_events
        self.batching = batching
        self.active = True  # False once its observer is being replaced
        self._loads: list[str] = []
        self._deleted: set[str] = set()
        self._released: set[str] = set()
        self._through_link: set[str] = set()  # paths this event reached through a link
        self._is_linked = is_linked
        self._laned = laned

    def dispatch(self, event: FileSystemEvent) -> None:
        if not self.active:
            return
        try:
            self.route(event)
        except Exception:  # never kill watchdog's dispatcher thread (see module docstring)
            logger.exception("hookyard watcher failed handling %r (watching goes on)", event)

    # -- classification -------------------------------------------------------------------
    def local(self, path: str | bytes) -> str:
        """An event path under the name the engine uses for it."""
        text = _text(path)
        if not text:
            return text
        for real, name in self.links.items():
            if text == real or text.startswith(real + os.sep):
                local = name + text[len(real) :]
                self._through_link.add(local)
                return local
        if self.watched != self.root:
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

    def top(self, path: str) -> str | None:
        """The name of an entry directly in the root, or None."""
        if not path:
            return None
        parent, name = os.path.split(path)
        return name if parent == self.root else None

    def held(self, path: str) -> str | None:
        """``<root>/<point>/.~tmp~(/...)``: the point whose rsync holding folder this is."""
        relative = path[len(self.root) + 1 :] if path.startswith(self.root + os.sep) else ""
        parts = relative.split(os.sep)
        if len(parts) >= 2 and parts[1] == RSYNC_HOLD and is_point_name(parts[0]):
            return parts[0]
        return None

    # -- routing --------------------------------------------------------------------------
    def route(self, event: FileSystemEvent) -> None:
        if isinstance(event, _BatchEnd):
            if event.dest_path or not (self._loads or self._deleted or self._released):
                return  # still changing (or nothing to do): wait for a quiet poll
            loads, deleted, released = self._loads, self._deleted, self._released
            self._loads, self._deleted, self._released = [], set(), set()
            for point in sorted(released):
                self.sink.released(point)
            if loads or deleted:
                self.sink.batch(loads, deleted)
            return
        self._through_link.clear()
        src = self.local(event.src_path)
        dest = self.local(event.dest_path) if isinstance(event, FileSystemMovedEvent) else ""
        if isinstance(event, DirDeletedEvent) and src == self.root:
            self.sink.root_vanished()
            return
        self.route_top(event, src, dest)
        if isinstance(event, FileMovedEvent):
            # watchdog pairs IN_MOVED_FROM/IN_MOVED_TO by cookie; with full events an
            # unpaired half has an empty other side (moved in from, or out to, elsewhere).
            if self.script(src):
                self.vanished(src)
            if self.script(dest):
                if self.held(src) is not None:
                    self.sink.staged(dest)  # rsync --delay-updates: one of a batch
                elif not (os.path.dirname(src) == os.path.dirname(dest) and self._laned(dest)):
                    self.load(dest)  # a rename is atomic: the content is complete
        elif isinstance(event, FileClosedEvent):
            if self.script(src) and not self._laned(src):
                self.load(src)
        elif isinstance(event, FileModifiedEvent):
            if not self.close_events and self.script(src):
                self.load(src)
        elif isinstance(event, FileCreatedEvent):
            # With close events, a new regular file is still being written: its close will
            # load it. A symlink or hard link (ln, ln -s) gets no close and is complete.
            if self.script(src) and (not self.close_events or self._is_linked(src)):
                self.load(src)
        elif isinstance(event, FileDeletedEvent):
            if self.script(src):
                self.vanished(src)
        elif isinstance(event, FileAttribEvent):
            # chmod/chown may make a refused file loadable (or refused); content is not
            # re-read for a serving script, to keep IN_ATTRIB mid-write from tearing it.
            if self.script(src):
                self.sink.retry(src)
        elif isinstance(event, DirCreatedEvent):
            holder = self.held(src)
            if holder is not None and os.path.basename(src) == RSYNC_HOLD:
                self.sink.holding(holder)
        elif isinstance(event, DirDeletedEvent | DirMovedEvent):
            holder = self.held(src)
            if holder is not None and os.path.basename(src) == RSYNC_HOLD:
                if self.batching:
                    self._released.add(holder)  # rsync's deletions may be in the next poll
                else:
                    self.sink.released(holder)
        # opened, closed-without-write, directory modified/attrib: nothing to do

    def route_top(self, event: FileSystemEvent, src: str, dest: str) -> None:
        """Entries directly in the root: point folders and the links a delivery swaps.

        Reported with how they changed: ``created`` (mkdir: a folder being filled),
        ``moved`` (renamed into place: complete), ``gone``, or ``other`` (a link
        created, replaced or deleted, a poll's view of it): the watcher compares the
        layout and decides.
        """
        if isinstance(event, _QUIET):
            return
        hints: dict[str, str] = {}
        source, target = self.top(src), self.top(dest)
        if source is not None:
            if isinstance(event, DirCreatedEvent):
                hints[source] = "created"
            elif isinstance(event, DirDeletedEvent | DirMovedEvent):
                hints[source] = "gone"
            else:
                hints[source] = "other"
        if target is not None:
            hints[target] = "moved" if isinstance(event, DirMovedEvent) else "other"
        if hints:
            self.sink.entries_changed(hints)

    def load(self, path: str) -> None:
        if path in self._through_link:
            self.sink.linked_changed(_point(path))
        elif self.batching:
            self._loads.append(path)
        else:
            self.sink.load([path])

    def vanished(self, path: str) -> None:
        if path in self._through_link:
            self.sink.linked_changed(_point(path))
        elif self.batching:
            self._deleted.add(path)
        else:
            self.sink.vanished(path)


class _AnchorHandler(FileSystemEventHandler):
    """Watches a directory above the root for its entries that lead to the root."""

    def __init__(self, directory: str, names: set[str], changed: Callable[[], None]) -> None:
        super().__init__()
        self.directory = directory
        self.names = names
        self.changed = changed
        self.active = True

    def dispatch(self, event: FileSystemEvent) -> None:
        if not self.active or isinstance(event, (*_QUIET, _BatchEnd)):
            return
        try:
            paths = [_text(event.src_path)]
            if isinstance(event, FileSystemMovedEvent):
                paths.append(_text(event.dest_path))
            if any(
                os.path.dirname(p) == self.directory and os.path.basename(p) in self.names
                for p in paths
                if p
            ):
                self.changed()
        except Exception:  # never kill watchdog's dispatcher thread
            logger.exception("hookyard watcher failed handling %r (watching goes on)", event)


def _inotify_class() -> Any | None:
    """watchdog's inotify observer class, or None off Linux (or on an unsupported libc)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        from watchdog.observers.inotify import InotifyObserver
    except Exception:  # watchdog's own Observer falls back the same way
        return None
    return InotifyObserver


# What a watcher with close events never acts on (ReloadHandler.route): a bare modification
# (IN_MODIFY, each write() and the truncation of an in-place save), an open (IN_OPEN), a
# close after reading (IN_CLOSE_NOWRITE: the engine's own read of every script it loads),
# and the folder "modified" that watchdog adds to each close, creation and rename.
_UNUSED_WITH_CLOSES = (FileModifiedEvent, DirModifiedEvent, FileOpenedEvent, FileClosedNoWriteEvent)


def _quiet_inotify(inotify: Any) -> Any:
    """``inotify(generate_full_events=True)`` asking the kernel only for the events the
    handler acts on, or that observer as it is where watchdog's internals differ.

    Why (issue 17, reload latency): each inotify event wakes watchdog's three threads (its
    reader, the emitter, the dispatcher), and each takes the GIL on its way, while the
    fast lane loads the save and callers wait to see it. An in-place save made six such
    events (open, truncate, write, close; then the engine's own open and close of the
    file), a close alone is one. Only what the handler ignores is left out: creations,
    deletions, renames, attribute changes (a chmod retries a refused script) and closes
    after writing all still come, with IN_DONT_FOLLOW as watchdog's own mask has it.
    """
    observer = inotify(generate_full_events=True)
    try:
        from watchdog.observers.inotify import InotifyFullEmitter
        from watchdog.observers.inotify_c import WATCHDOG_ALL_EVENTS, InotifyConstants
    except ImportError:
        return observer
    if getattr(observer, "_emitter_class", None) is not InotifyFullEmitter:
        return observer  # another watchdog: its full mask (correct, only busier)
    unused = (
        InotifyConstants.IN_MODIFY | InotifyConstants.IN_OPEN | InotifyConstants.IN_CLOSE_NOWRITE
    )
    mask = WATCHDOG_ALL_EVENTS & ~unused

    class QuietEmitter(InotifyFullEmitter):
        def get_event_mask_from_filter(self) -> Any:
            return mask

        def queue_event(self, event: FileSystemEvent) -> None:
            if not isinstance(event, _UNUSED_WITH_CLOSES):
                super().queue_event(event)

    observer._emitter_class = QuietEmitter
    return observer


class Watcher:
    """Keeps one watchdog observer on the engine's directory (and its anchors) and heals it.

    ``polling`` picks watchdog's polling (True: every ``POLL_INTERVAL`` seconds, a number:
    that interval). ``grace`` is how long a vanished script keeps serving.
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
        self._batching = polling is not False and observer_factory is None
        # the fast lane (_fastlane): with watchdog's inotify observer, on Linux
        self._lane: FastLane | None = None
        self._laned = False
        if observer_factory is None:
            observer_factory, inotify = self._default_factory(polling, close_events)
            close_events = inotify if close_events is None else close_events
            self._laned = inotify and bool(close_events)
        self._factory = observer_factory
        self._close_events = bool(close_events)
        self.handler = ReloadHandler(self.root, self, close_events=self._close_events)
        self.timers = timers if timers is not None else Timers()
        self._lock = threading.Lock()  # guards the fields below
        self._observer: Any = None
        self._anchors: list[_AnchorHandler] = []
        self._identity: tuple[str, int, int] | None = None  # as in Layout.root
        self._problem: str | None = None  # what is wrong with the watch, as last reported
        self._stopped = False
        # an rsync --delay-updates run: the points held (seen with a holding folder), the
        # holding folders' contents at the last disk check, the checks left before folders
        # that stay unchanged are taken for left behind, and those taken so (they hold
        # nothing while their contents stay the same)
        self._held: set[str] = set()
        self._hold_seen: dict[str, frozenset[str]] = {}
        self._hold_left = 0
        self._stale: dict[str, frozenset[str]] = {}
        self._layout_lock = threading.Lock()  # one layout comparison at a time
        self._layout: Layout | None = None

    @staticmethod
    def _default_factory(
        polling: bool | float, close_events: bool | None = None
    ) -> tuple[Callable[[], Any], bool]:
        """The observer to make (on each (re)start) and whether it reports closes
        (``close_events`` False: the handler goes by modifications, which the observer
        must then report)."""
        if polling is False:
            inotify = _inotify_class()
            if inotify is not None:
                # Full events: an unpaired IN_MOVED_TO (a file renamed in from outside the
                # directory) arrives as a move with an empty source, not as a creation, so
                # it loads at once instead of waiting for a close that never comes.
                if close_events is False:
                    return (lambda: inotify(generate_full_events=True)), True
                return (lambda: _quiet_inotify(inotify)), True
            from watchdog.observers import Observer

            return Observer, False  # the platform's native observer: no close events
        interval = POLL_INTERVAL if polling is True else float(polling)
        return (lambda: _BatchingPoller(timeout=interval)), False

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
        if self._laned:
            self._lane = fast_lane(self.root, self.load, self._anchor_changed)
            if self._lane is not None:
                self._lane.start()
        self._establish(rescan=True)

    def stop(self) -> None:
        """Stop watching and join every thread. Pending graces are dropped: the scripts
        last loaded keep serving, as after any ``close()``."""
        with self._lock:
            self._stopped = True
        self.timers.close()  # joined first, so no retry can start a new observer afterwards
        with self._lock:
            observer, self._observer = self._observer, None
        if self._lane is not None:
            self._lane.close()
        _discard(observer)

    # -- Sink: what the handler reports ---------------------------------------------------
    def load(self, paths: list[str]) -> None:
        now = []
        for path in paths:
            self.timers.cancel(("gone", path))  # a new version is here: not a delete after all
            if not self._busy(_point(path)):
                now.append(path)
        if now:
            self.engine._watch_load(now)

    def batch(self, loads: list[str], deleted: set[str]) -> None:
        """What the polls saw until one saw nothing more: the points it changed load as
        one generation each, without the files seen deleted that are still gone (an
        editor's save is complete by now; anything else missing gets the grace)."""
        for path in loads:
            self.timers.cancel(("gone", path))
        touched = sorted({_point(path) for path in [*loads, *deleted]})
        if touched:  # held points are left alone (their run's release reads them)
            self.expire_later(self._generation(touched, drop=deleted.__contains__))

    def retry(self, path: str) -> None:
        if not self._busy(_point(path)):  # a held point's release reads it anyway
            self.engine._watch_load([path], retry_only=True)

    def vanished(self, path: str) -> None:
        # The earliest deadline stands: a script stops at most one grace after it was
        # first seen gone, however many events follow.
        self.timers.call_later(
            ("gone", path), self.grace, lambda: self._expire(path), keep_earlier=True
        )

    def linked_changed(self, point: str) -> None:
        """A file changed in a point folder reached through a symlink: a swap of the link
        (a poll sees the files before the link) is loaded whole first; then the point is
        read again from where the link leads now (what is missing gets the grace)."""
        self.entries_changed(None)
        self.expire_later(self._generation([point], drop=False))

    def staged(self, path: str) -> None:
        """rsync renamed a file out of its holding folder: hold it for its generation."""
        self.timers.cancel(("gone", path))
        self.holding(_point(path))

    def holding(self, point: str) -> None:
        """rsync made a holding folder in ``point`` (or one was found there): the point is
        held until the end of the run (no holding folder left in any point)."""
        with self._lock:
            self._held.add(point)
            self._hold_left = _HOLD_CHECKS
        self.timers.call_later(("hold",), HOLD_POLL, self._check_hold, keep_earlier=True)

    def released(self, point: str) -> None:
        """rsync removed a holding folder: look at the disk now."""
        with self._lock:
            if not self._held:
                return
        self.timers.call_later(("hold",), 0.0, self._check_hold)

    def _busy(self, point: str) -> bool:
        """True while ``point`` is held for an rsync run: seen with a holding folder, or
        found with one on disk now (then held from here on, before its event arrives).
        Nothing of a busy point is loaded, read or dropped; the run's release reads it."""
        with self._lock:
            if point in self._held:
                return True
            stale = self._stale.get(point)
        names = _held_names(os.path.join(self.root, point))
        if names is None or names == stale:
            return False
        self.holding(point)
        return True

    def _check_hold(self) -> None:
        """Is rsync's run over (no holding folder in any point on disk)?

        Read from the disk, not from events: rsync renames a temp file into each
        brand-new holding folder before inotify watches it, and watchdog holds such an
        unpaired rename, and every event after it, for half a second. Folders that stay
        as they are for ``HOLD_MAX`` are taken for left behind by a killed rsync.
        """
        with self._lock:
            if not self._held:
                return
        found = _holding(self.root)
        with self._lock:
            if not self._held:
                return
            # a left-behind folder holds again once its contents change (a new run)
            self._stale = {p: n for p, n in self._stale.items() if found.get(p) == n}
            seen = {p: n for p, n in found.items() if self._stale.get(p) != n}
            self._held |= seen.keys()
            if seen != self._hold_seen:
                self._hold_seen = seen
                self._hold_left = _HOLD_CHECKS  # the run is moving
            else:
                self._hold_left -= 1
            over = not seen or self._hold_left <= 0
            if over:
                # still held until the release's generation begins to read (``_release``)
                held, self._hold_seen = set(self._held), {}
                self._stale.update(seen)
        if not over:
            self.timers.call_later(("hold",), HOLD_POLL, self._check_hold)
            return
        if seen:
            logger.info(
                "hookyard: rsync %s folders left unchanged in %s for %.1f s; loading what "
                "is on disk",
                RSYNC_HOLD,
                ", ".join(sorted(seen)),
                HOLD_MAX,
            )
        self._release(held)

    def entries_changed(self, hints: dict[str, str] | None) -> None:
        """Entries at the top of the directory changed: load what now leads elsewhere.

        ``hints`` (from events) say how each entry changed; None is the health check
        looking for swaps no event reported: it leaves plain folders to their events (an
        event held back, like inotify's unpaired rename, says whether a folder was made
        or renamed into place).
        """
        with self._layout_lock:
            old = self._layout
            if old is None:
                return
            new = self.engine._layout()
            if new.root != old.root:
                # The root itself now resolves elsewhere (or is gone): _check decides and
                # loads it whole. The layout stays as it was until then, so that no
                # comparison takes the new root's folders for edits of the old one's.
                self.timers.call_later(("watch",), 0.0, self._check)
                return
            # An entry reported gone counts as gone even if something is already back in
            # its place: the event that put it there (a mkdir, a rename into place)
            # follows and says how to load it.
            told = hints if hints is not None else {}
            points = {n: e for n, e in new.points.items() if told.get(n) != "gone"}
            if hints is None:
                for name in set(points) | set(old.points):
                    before, after = old.points.get(name), points.get(name)
                    if not (before and before.linked) and not (after and after.linked):
                        _put(points, name, before)
            self._layout = Layout(new.root, points)
            self.handler.links = self._layout.links(self.root)
            self._follow(self._layout)
        whole: list[str] = []
        for name in sorted(self._layout.changed(old)):
            before, after = old.points.get(name), points.get(name)
            if after is None:
                # gone: each script runs out its grace (a folder moved back in time, or
                # recreated with the same scripts, is a replace, not a delete)
                for file in self.engine._watch_files(name):
                    self.vanished(file)
            elif (
                told.get(name) != "moved"
                and after.kind == "dir"
                and not after.linked
                and not (before is not None and before.linked)
            ):
                # a plain folder made (or seen anew by a poll): it may still be filling
                self.expire_later(self._generation([name], drop=False))
            else:
                whole.append(name)  # a link swapped, or a folder renamed into place
        if whole:
            self._generation(whole, drop=True)

    def root_vanished(self) -> None:
        # The folder watched is gone: deleted, or the old target of a swapped link being
        # cleaned up (git-sync removes the old worktree right after its swap), which
        # _check tells apart. Called on watchdog's dispatcher thread: the teardown joins
        # that thread, so it runs on the timers thread instead.
        self.timers.call_later(("watch",), 0.0, self._check)

    # -- graces, holds, health, healing (timers thread) -----------------------------------
    def _generation(
        self,
        points: list[str] | None,
        *,
        drop: bool | Callable[[str], bool],
        begin: Callable[[], None] | None = None,
    ) -> list[str]:
        """Load points as one generation, leaving held points alone; one that kept
        changing while read is tried again shortly (never half of one). The files left
        to expire. ``begin`` runs under the engine's lock before anything is read."""
        missing = self.engine._watch_generation(points, drop=drop, busy=self._busy, begin=begin)
        if missing is None:

            def again() -> None:
                self.expire_later(self._generation(points, drop=drop))

            key = ("unsettled", tuple(points) if points is not None else None)
            self.timers.call_later(key, RETRY_INTERVAL, again)
            return []
        return missing

    def _expire(self, path: str) -> None:
        # A held point's script is not dropped on its own (issue 15): the run's release
        # drops it if it is still gone, in the same switch as the files the run renamed
        # in, so a call never sees the old versions without it.
        point = _point(path)
        if self._busy(point):
            return
        if os.path.lexists(path):
            self.engine._watch_expire(path)  # back at its path: its own events load it
            return
        # Gone: the point is read again as one generation that drops it, so a folder
        # swapped under the point (renamed away, another renamed in) switches whole;
        # dropping the file alone served the old folder's other scripts without it.
        self.expire_later(self._generation([point], drop=lambda file: file == path))

    def expire_later(self, files: list[str]) -> None:
        """Give each of ``files`` (missing from a rescan) the delete grace."""
        for file in files:
            self.vanished(file)

    def _release(self, held: set[str]) -> None:
        """rsync's run is over: every point loads as one generation (points whose events
        are still on their way included); in the points it held, whatever is missing now
        leaves in the same switch. A deletion it has not made yet (``--delete-after``
        comes after its renames) follows when it is made: a later state of its own.

        The held points stay held until the generation begins to read, under the engine's
        lock: a load let through before that (an event of the run's, arriving late) could
        take the engine's lock first and serve one renamed file without its siblings
        (seen once in CI: rsync's ``10-x.py`` serving before its ``20-y.py``). Held
        until then, such a load waits for the generation, which reads it anyway."""

        ended = False

        def unhold() -> None:
            # once: a point held again while the generation reads (a late event of the
            # run, or a new run) stays held for the release after this one
            nonlocal ended
            if not ended:
                ended = True
                with self._lock:
                    self._held -= held

        try:
            missing = self._generation(None, drop=lambda file: _point(file) in held, begin=unhold)
        finally:
            unhold()  # when the read failed first: a point held for ever loads nothing
        self.expire_later(missing)

    def _laned_path(self, path: str) -> bool:
        """True if the fast lane loads what is saved at ``path`` (``FastLane.covers``)."""
        lane = self._lane
        return lane is not None and lane.covers(path)

    def _follow(self, layout: Layout) -> None:
        """The fast lane watches the plain point folders ``layout`` has."""
        if self._lane is not None:
            self._lane.follow(layout)

    def _anchor_changed(self) -> None:
        self.timers.call_later(("watch",), 0.0, self._check)

    def _establish(self, *, rescan: bool | str) -> None:
        """Start an observer on the directory, or report why not and retry soon.

        ``rescan``: True loads what is on disk with the grace for what is missing;
        ``"generation"`` (the directory was swapped) drops what is missing at once.
        """
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
            # and a link loop would never finish walking. The entries above that lead to
            # it are watched (anchors): a retargeted link is seen at once.
            real = os.path.realpath(self.root)
            handler = ReloadHandler(
                self.root,
                self,
                close_events=self._close_events,
                watched=real,
                batching=self._batching,
                laned=self._laned_path,
            )
            observer = self._factory()
            observer.schedule(handler, real, recursive=True)
            watched_anchors = self._schedule_anchors(observer)
            observer.start()
        except Exception as exc:
            _discard(observer)
            self._report(_describe(exc))
            self.timers.call_later(("watch",), RETRY_INTERVAL, self._retry)
            return
        with self._lock:
            stopped = self._stopped
            if not stopped:
                old_handler, old_anchors = self.handler, self._anchors
                self.handler = handler
                self._anchors = watched_anchors
                self._observer = observer
                self._identity = (real, info.st_dev, info.st_ino)
                problem, self._problem = self._problem, None
        if stopped:
            _discard(observer)
            return
        old_handler.active = False
        for anchor in old_anchors:
            anchor.active = False
        if self._lane is not None:
            self._lane.follow_anchors({a.directory: a.names for a in watched_anchors})
        with self._layout_lock:
            self._layout = self.engine._layout()
            handler.links = self._layout.links(self.root)
            self._follow(self._layout)
        if problem is not None:
            logger.warning("hookyard: watching %s again (it %s)", self.root, problem)
        self.timers.call_later(("watch",), HEALTH_INTERVAL, self._check)
        if rescan == "generation":
            self._generation(None, drop=True)
        elif rescan or problem is not None:
            # Whatever changed before the watch was live is found by a rescan; files missing
            # from it get the grace, never an instant drop (a deploy may still be copying).
            self.expire_later(self._generation(None, drop=False))

    def _schedule_anchors(self, observer: Any) -> list[_AnchorHandler]:
        """Watch the entries above the root that lead to it; a failure is no failure of
        the watch (the health check still sees a swap, later)."""
        scheduled = []
        for directory, names in sorted(anchors(self.root).items()):
            anchor = _AnchorHandler(directory, names, self._anchor_changed)
            try:
                observer.schedule(anchor, directory, recursive=False)
            except Exception as exc:
                logger.debug("hookyard: cannot watch %s for link swaps: %s", directory, exc)
                continue
            scheduled.append(anchor)
        return scheduled

    def _retry(self) -> None:
        self._establish(rescan=True)

    def _check(self) -> None:
        """Periodic: the directory is still the one watched, its layout the one last seen,
        and watchdog's threads live."""
        with self._lock:
            observer, identity = self._observer, self._identity
        if observer is None:
            # lost: the retry that brings the watch back is due under this same timer key,
            # which this check (an anchor's change seen meanwhile) took over
            self.timers.call_later(("watch",), RETRY_INTERVAL, self._retry)
            return
        problem = None
        try:
            info = os.stat(self.root)
            if (os.path.realpath(self.root), info.st_dev, info.st_ino) != identity:
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
            self.entries_changed(None)  # a swap no event reported (a poll between two looks)
        else:
            self._lost(problem)

    def _lost(self, problem: str) -> None:
        with self._lock:
            observer, self._observer = self._observer, None
            self.handler.active = False
        if problem == "was replaced" and os.path.isdir(self.root):
            # An atomic swap of the directory or of a link above it (issue 15): the new
            # directory is complete, so it is loaded whole and what it lacks stops now.
            # Routine for a deploy: INFO, not a warning.
            logger.info(
                "hookyard: hook directory %s was replaced (now %s); loading it whole",
                self.root,
                os.path.realpath(self.root),
            )
            self._establish(rescan="generation")
            _discard(observer)  # after: calls were served from the new generation already
            return
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


_HOLD_CHECKS = round(HOLD_MAX / HOLD_POLL)


def _point(path: str) -> str:
    """The point of a script path (``<root>/<point>/<name>.py``)."""
    return os.path.basename(os.path.dirname(path))


def _held_names(folder: str) -> frozenset[str] | None:
    """What is in ``folder``'s rsync holding folder, or None if it has none."""
    try:
        return frozenset(os.listdir(os.path.join(folder, RSYNC_HOLD)))
    except OSError:
        return None


def _holding(root: str) -> dict[str, frozenset[str]]:
    """Each point with an rsync holding folder in it, and what that folder holds."""
    try:
        names = os.listdir(root)
    except OSError:
        return {}
    found = {}
    for name in names:
        if is_point_name(name):
            held = _held_names(os.path.join(root, name))
            if held is not None:
                found[name] = held
    return found


def _put(points: dict[str, Entry], name: str, entry: Entry | None) -> None:
    if entry is None:
        points.pop(name, None)
    else:
        points[name] = entry


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
