"""The watcher's fast lane: a script saved in place, seen and loaded on one thread.

Why (issue 17, "reload: write start -> a call sees the new version"): watchdog hands each
inotify event over three threads -- its inotify reader, the emitter (behind a queue that
holds unpaired renames for 0.5 s) and the observer's dispatcher -- and each of them must
take the GIL before it can pass the event on. While a host thread is busy in Python, a
thread that wakes waits up to ``sys.getswitchinterval()`` (5 ms) for it, at every hop:
measured here, close -> handler took 6-9 ms at p50 with three hops and 0.11 ms with one
(the one thread wakes while the writer's ``close()`` has the GIL released).

So, on Linux, the watcher also keeps this lane: its own inotify instance over the plain
point folders, read by one thread that hands a script straight to the watcher's load. It
only ever loads *sooner* what watchdog's events load anyway, and nothing else:

- a close after write of ``<point>/<script>`` (watchdog's ``FileClosedEvent``);
- a rename into ``<point>/<script>`` from the same folder: an editor's atomic save, or
  rsync without ``--delay-updates`` (watchdog's ``FileMovedEvent`` from a folder that is no
  rsync holding folder).

Everything else stays with watchdog alone: creations, deletions, renames from anywhere else
(rsync's ``.~tmp~``, outside), the top of the directory, symlinks, point folders reached
through a symlink (a ConfigMap's: they load as generations), and every point while rsync
holds it (the watcher's load checks). A folder that is no longer the one the layout saw
at its name (renamed away, swapped) is no longer that point: its events are left to
watchdog too. watchdog still reports what the lane loaded; the engine finds that content
already serving and does nothing more than read and hash it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import select
import struct
import sys
import threading
from collections.abc import Callable

from ._layout import Layout
from ._paths import is_script_name

__all__ = ["FastLane", "fast_lane"]

logger = logging.getLogger("hookyard")

# <sys/inotify.h>
_IN_CLOSE_WRITE = 0x00000008
_IN_MOVED_FROM = 0x00000040
_IN_MOVED_TO = 0x00000080
_IN_CREATE = 0x00000100
_IN_DELETE = 0x00000200
_IN_Q_OVERFLOW = 0x00004000
_IN_IGNORED = 0x00008000
_IN_ONLYDIR = 0x01000000
_IN_DONT_FOLLOW = 0x02000000
_IN_ISDIR = 0x40000000
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_MASK = _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_ONLYDIR | _IN_DONT_FOLLOW
# an anchor (a directory holding a link or folder on the way to the root): any change of
# the entry that leads on (a link swapped into place, a folder renamed in)
_ANCHOR_MASK = _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE | _IN_ONLYDIR
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (struct inotify_event)
# renames seen half (their other half may come in the next read): a few suffice, as the
# two halves of one rename are queued together by the kernel
_PENDING_MOVES = 64


class FastLane:
    """One thread reading an inotify instance over the plain point folders of ``root``;
    ``load(paths)`` is called on it with the scripts each read found complete.

    ``follow(layout)`` (the watcher's, whenever it sees a new one) sets the folders
    watched; ``close()`` stops and joins the thread.
    """

    def __init__(
        self,
        libc: ctypes.CDLL,
        root: str,
        load: Callable[[list[str]], None],
        swapped: Callable[[], None] | None = None,
    ) -> None:
        self._libc = libc
        self._root = root
        self._load = load
        self._swapped = swapped
        # watch descriptor -> the names in that anchor directory that lead to the root
        self._anchors: dict[int, set[str]] = {}
        self._lock = threading.Lock()  # guards the maps below (follow() vs the thread)
        # watch descriptor -> (the point folder's path under root, its (st_dev, st_ino))
        self._folders: dict[int, tuple[str, tuple[int, int]]] = {}
        self._by_path: dict[str, int] = {}
        # each plain point folder of the last layout followed, as (real path, identity)
        self._wanted: dict[str, tuple[str, tuple[int, int]]] = {}
        self._moves: dict[int, int] = {}  # cookie -> wd of an IN_MOVED_FROM not yet paired
        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        self._fd = fd
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="hookyard-fastlane", daemon=True)
        self._closed = False

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop the thread, join it, close the descriptors; never raises."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            os.write(self._wake_w, b"!")
            if self._thread.is_alive():
                self._thread.join()
        finally:
            for fd in (self._fd, self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def covers(self, path: str) -> bool:
        """True if the lane loads what is saved at ``path`` (a script's path under the
        root): then watchdog's close of it, and its rename from the same folder, are
        the lane's, and watchdog's handler leaves them (a second, later read of a file
        can land in the middle of the next save)."""
        with self._lock:
            return os.path.dirname(path) in self._by_path

    def follow(self, layout: Layout) -> None:
        """Watch the point folders of ``layout`` that are plain folders (not reached
        through a symlink); stop watching those it no longer has.

        Only folders new or changed since the last layout are added: the watcher reads
        each of those (a generation) after this, so whatever was saved in them before
        the lane watched them is loaded by that read. A folder that cannot be watched
        is not covered, and watchdog's events load what is saved in it.
        """
        wanted = {
            os.path.join(self._root, name): (entry.real, entry.identity)
            for name, entry in layout.points.items()
            if entry.kind == "dir" and not entry.linked
        }
        with self._lock:
            if self._closed:
                return
            previous, self._wanted = self._wanted, wanted
            for path, wd in list(self._by_path.items()):
                if wanted.get(path) != previous.get(path):
                    self._forget(wd)
                    self._libc.inotify_rm_watch(self._fd, wd)
            for path, (real, identity) in wanted.items():
                if previous.get(path) == (real, identity):
                    continue
                wd = self._libc.inotify_add_watch(self._fd, os.fsencode(real), _MASK)
                if wd < 0:
                    continue  # gone again, or no more watches: watchdog's events load it
                self._forget(wd)  # the same folder under another name, or a reused wd
                self._folders[wd] = (path, identity)
                self._by_path[path] = wd

    def follow_anchors(self, anchors: dict[str, set[str]]) -> None:
        """Watch the directories above the root (``_layout.anchors``) for their entries
        that lead to it, and call ``swapped`` when one changes: watchdog holds a rename
        whose two halves it read apart for 0.5 s (its DelayedQueue sleeps on the first),
        which made one fleet swap in fifty wait that long (issue 15's p99)."""
        if self._swapped is None:
            return
        with self._lock:
            if self._closed:
                return
            for wd in self._anchors:
                if wd not in self._folders:
                    self._libc.inotify_rm_watch(self._fd, wd)
            self._anchors = {}
            for directory, names in anchors.items():
                wd = self._libc.inotify_add_watch(self._fd, os.fsencode(directory), _ANCHOR_MASK)
                if wd < 0 or wd in self._folders:
                    continue  # watchdog's anchor handler sees it (later)
                self._anchors[wd] = set(names)

    def _forget(self, wd: int) -> None:
        found = self._folders.pop(wd, None)
        if found is not None and self._by_path.get(found[0]) == wd:
            del self._by_path[found[0]]

    # -- the thread ----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._read()
        finally:
            with self._lock:  # covers nothing from here on: watchdog's events load it all
                self._folders.clear()
                self._by_path.clear()

    def _read(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while True:
            try:
                ready = {fd for fd, _ in poller.poll()}
                if self._wake_r in ready:
                    return
                data = os.read(self._fd, 65536)
            except OSError as exc:
                if exc.errno in (errno.EINTR, errno.EAGAIN):
                    continue
                logger.debug("hookyard fast lane stopped (watchdog's events go on): %s", exc)
                return
            try:
                paths, swapped = self._complete(data)
                if paths:
                    self._load(paths)
                if swapped and self._swapped is not None:
                    self._swapped()
            except Exception:  # the lane only hastens: watchdog's events still come
                logger.exception("hookyard fast lane failed (watching goes on)")

    def _complete(self, data: bytes) -> tuple[list[str], bool]:
        """The scripts ``data`` (one read of inotify events) shows complete, in order, and
        whether an entry leading to the root changed."""
        paths: list[str] = []
        swapped = False
        offset = 0
        with self._lock:
            while offset + _HEADER.size <= len(data):
                wd, mask, cookie, size = _HEADER.unpack_from(data, offset)
                start = offset + _HEADER.size
                offset = start + size
                if mask & _IN_Q_OVERFLOW:
                    self._moves.clear()  # what was lost, watchdog reports (or rescans)
                    continue
                if mask & _IN_IGNORED:
                    self._forget(wd)  # the folder is gone (or no longer watched)
                    self._anchors.pop(wd, None)
                    continue
                names = self._anchors.get(wd)
                if names is not None:
                    name = os.fsdecode(data[start:offset].rstrip(b"\0"))
                    swapped = swapped or name in names
                    continue
                if mask & _IN_ISDIR:
                    continue
                if mask & _IN_MOVED_FROM:
                    if len(self._moves) >= _PENDING_MOVES:
                        self._moves.pop(next(iter(self._moves)))
                    self._moves[cookie] = wd
                    continue
                if mask & _IN_MOVED_TO and self._moves.pop(cookie, None) != wd:
                    continue  # renamed in from elsewhere (rsync's .~tmp~): watchdog's
                folder = self._folders.get(wd)
                name = os.fsdecode(data[start:offset].rstrip(b"\0"))
                if folder is None or not is_script_name(name):
                    continue
                path = os.path.join(folder[0], name)
                if path not in paths and _identity(folder[0]) == folder[1]:
                    paths.append(path)
        return paths, swapped


def _identity(folder: str) -> tuple[int, int] | None:
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def fast_lane(
    root: str, load: Callable[[list[str]], None], swapped: Callable[[], None] | None = None
) -> FastLane | None:
    """A fast lane for ``root``, or None where inotify cannot be had (not Linux, no libc
    inotify, no instance left): watchdog's events then do all of it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # the process's own symbols (libc's among them), as _confine does: find_library
        # would run ldconfig in a subprocess for every engine
        libc = ctypes.CDLL(None, use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
        return FastLane(libc, root, load, swapped)
    except (OSError, AttributeError) as exc:
        logger.debug("hookyard: no fast lane for %s (watchdog's events do it all): %s", root, exc)
        return None
