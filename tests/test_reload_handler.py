"""The watcher's logic without the disk: events fed straight to the handler, a fake
engine behind the watcher, and the timers driven by a fake clock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
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
)

from hookyard._layout import Entry, Layout
from hookyard._timers import Timers
from hookyard._watcher import ReloadHandler, Watcher

ROOT = "/hooks"
A = "/hooks/p/a.py"


class Recorder:
    """A sink that records what the handler reports."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def load(self, paths: list[str]) -> None:
        self.calls.append(("load", *paths))

    def batch(self, loads: list[str], deleted: set[str]) -> None:
        self.calls.append(("batch", *loads, *(f"-{path}" for path in sorted(deleted))))

    def retry(self, path: str) -> None:
        self.calls.append(("retry", path))

    def vanished(self, path: str) -> None:
        self.calls.append(("vanished", path))

    def staged(self, path: str) -> None:
        self.calls.append(("staged", path))

    def holding(self, point: str) -> None:
        self.calls.append(("holding", point))

    def linked_changed(self, point: str) -> None:
        self.calls.append(("linked", point))

    def released(self, point: str) -> None:
        self.calls.append(("released", point))

    def entries_changed(self, hints: dict[str, str] | None) -> None:
        told = hints or {}
        self.calls.append(("entries", *(f"{name}:{how}" for name, how in sorted(told.items()))))

    def root_vanished(self) -> None:
        self.calls.append(("root_vanished",))


def feed(
    events: list[FileSystemEvent],
    *,
    close_events: bool = True,
    linked: bool = False,
    batching: bool = False,
) -> list[tuple[str, ...]]:
    sink = Recorder()
    handler = ReloadHandler(
        ROOT, sink, close_events=close_events, batching=batching, is_linked=lambda _: linked
    )
    for event in events:
        handler.dispatch(event)
    return sink.calls


# -- what each event means ------------------------------------------------------------
def test_close_after_write_loads() -> None:
    """A script's close-after-write loads it."""
    assert feed([FileClosedEvent(A)]) == [("load", A)]


def test_in_place_rewrite_loads_once_on_close() -> None:
    """An in-place rewrite (open, truncate, write, close) loads once, on the close: the
    modifications before it would show a torn file."""
    events = [FileOpenedEvent(A), FileModifiedEvent(A), FileModifiedEvent(A), FileClosedEvent(A)]
    assert feed(events) == [("load", A)]


def test_without_close_events_modification_loads() -> None:
    """With no close events (polling, non-Linux) a modification or creation loads."""
    assert feed([FileModifiedEvent(A), FileCreatedEvent(A)], close_events=False) == [
        ("load", A),
        ("load", A),
    ]


def test_new_file_waits_for_its_close() -> None:
    """A newly created regular file loads when its writer closes it, not on creation."""
    assert feed([FileCreatedEvent(A), FileModifiedEvent(A), FileClosedEvent(A)]) == [("load", A)]


def test_new_link_loads_at_once() -> None:
    """A new symlink or hard link (no close will come) loads on creation."""
    assert feed([FileCreatedEvent(A)], linked=True) == [("load", A)]


def test_rename_into_place_loads_destination() -> None:
    """A temp file renamed onto a script loads the script; the temp name is not a script."""
    assert feed([FileMovedEvent("/hooks/p/.a.py.tmp1", A)]) == [("load", A)]


def test_unpaired_moves() -> None:
    """A move in from outside (empty source) loads; a move out (empty destination) is the
    script vanishing."""
    assert feed([FileMovedEvent("", A), FileMovedEvent(A, "")]) == [
        ("load", A),
        ("vanished", A),
    ]


def test_delete_and_rename_away_vanish() -> None:
    """Deleting a script or renaming it to a non-script name reports it vanished."""
    assert feed([FileDeletedEvent(A), FileMovedEvent(A, A + "~")]) == [
        ("vanished", A),
        ("vanished", A),
    ]


def test_rename_between_scripts() -> None:
    """Renaming one script to another name: the old name vanishes, the new one loads."""
    assert feed([FileMovedEvent(A, "/hooks/p/b.py")]) == [
        ("vanished", A),
        ("load", "/hooks/p/b.py"),
    ]


def test_attrib_only_retries() -> None:
    """A metadata change (chmod) asks for a retry, not a reload of a serving script."""
    assert feed([FileAttribEvent(A)]) == [("retry", A)]


def test_vim_save_sequence() -> None:
    """vim: the 4913 probe is ignored, ``a.py -> a.py~`` vanishes, the new file loads on
    close, the backup's deletion is ignored."""
    probe = "/hooks/p/4913"
    events = [
        FileCreatedEvent(probe),
        FileClosedEvent(probe),
        FileDeletedEvent(probe),
        FileMovedEvent(A, A + "~"),
        FileCreatedEvent(A),
        FileModifiedEvent(A),
        FileClosedEvent(A),
        FileDeletedEvent(A + "~"),
    ]
    assert feed(events) == [("vanished", A), ("load", A)]


def test_jetbrains_save_sequence() -> None:
    """JetBrains safe write: the temp and old files are ignored, ``X -> X___jb_old___``
    vanishes, ``tmp -> X`` loads."""
    temp, old = A + "___jb_tmp___", A + "___jb_old___"
    events = [
        FileCreatedEvent(temp),
        FileModifiedEvent(temp),
        FileClosedEvent(temp),
        FileMovedEvent(A, old),
        FileMovedEvent(temp, A),
        FileDeletedEvent(old),
    ]
    assert feed(events) == [("vanished", A), ("load", A)]


@pytest.mark.parametrize(
    "path",
    [
        "/hooks/p/.a.py.swp",
        "/hooks/p/a.py~",
        "/hooks/p/4913",
        "/hooks/p/#a.py#",
        "/hooks/p/.#a.py",
        "/hooks/p/notes.txt",
        "/hooks/p/__pycache__/a.py",
        "/hooks/__pycache__/a.py",
        "/hooks/.git/a.py",
        "/hooks/p/deeper/a.py",
        "/elsewhere/p/a.py",
    ],
)
def test_droppings_and_strays_are_ignored(path: str) -> None:
    """Editor droppings, hidden or cache folders, files at the wrong depth or outside the
    directory produce nothing."""
    events = [
        FileCreatedEvent(path),
        FileModifiedEvent(path),
        FileClosedEvent(path),
        FileAttribEvent(path),
        FileMovedEvent(path, path + "x"),
        FileDeletedEvent(path),
    ]
    assert feed(events, linked=True) == []


def test_noise_events_are_ignored() -> None:
    """Opens, closes without write and directory modifications produce nothing."""
    events = [FileOpenedEvent(A), FileClosedNoWriteEvent(A), DirModifiedEvent("/hooks/p")]
    assert feed(events) == []


def test_top_level_events() -> None:
    """Every change of an entry directly in the root (a point folder, a delivery's
    ``..data`` link, a stray file) is reported with how it changed, for the watcher to
    compare layouts; folders deeper are ignored; the root itself deleted is reported."""
    events = [
        DirCreatedEvent("/hooks/q"),
        DirMovedEvent("/hooks/q", "/hooks/r"),
        DirDeletedEvent("/hooks/r"),
        FileCreatedEvent("/hooks/..data_tmp"),
        FileMovedEvent("/hooks/..data_tmp", "/hooks/..data"),
        FileClosedEvent("/hooks/a.py"),
        DirModifiedEvent("/hooks/p"),
        DirCreatedEvent("/hooks/p/sub"),
        DirDeletedEvent(ROOT),
    ]
    assert feed(events) == [
        ("entries", "q:created"),
        ("entries", "q:gone", "r:moved"),
        ("entries", "r:gone"),
        ("entries", "..data_tmp:other"),
        ("entries", "..data:other", "..data_tmp:other"),
        ("entries", "a.py:other"),
        ("root_vanished",),
    ]


def test_symlinked_point_folders_are_known_by_their_link() -> None:
    """A script changed under the resolved folder of a symlinked point folder (a
    ConfigMap's ``create -> ..data/create``, a ``create -> _shared/create`` link) reloads
    that point whole; the data folder of a generation not yet linked (the kubelet writing
    the next one) is ignored."""
    sink = Recorder()
    handler = ReloadHandler(ROOT, sink, close_events=True)
    handler.links = {"/hooks/..2026_01_01.1/create": "/hooks/create"}
    handler.dispatch(FileClosedEvent("/hooks/..2026_01_01.1/create/a.py"))
    handler.dispatch(FileDeletedEvent("/hooks/..2026_01_01.1/create/b.py"))
    handler.dispatch(FileClosedEvent("/hooks/..2026_01_02.2/create/a.py"))
    assert sink.calls == [("linked", "create"), ("linked", "create")]


def test_rsync_delay_updates_sequence() -> None:
    """rsync --delay-updates: the temp file is ignored, making ``.~tmp~`` holds the point,
    each rename out of it is staged (held for its generation), and removing ``.~tmp~``
    releases the point."""
    events = [
        FileClosedEvent("/hooks/p/.a.py.Xy12Zw"),
        DirCreatedEvent("/hooks/p/.~tmp~"),
        FileMovedEvent("/hooks/p/.a.py.Xy12Zw", "/hooks/p/.~tmp~/a.py"),
        FileMovedEvent("/hooks/p/.~tmp~/a.py", A),
        DirDeletedEvent("/hooks/p/.~tmp~"),
    ]
    assert feed(events) == [("holding", "p"), ("staged", A), ("released", "p")]


def test_polls_load_as_one_when_quiet() -> None:
    """Polling: the scripts the polls saw change, and the deletions, are loaded together
    once a poll sees nothing more change, not one by one."""
    from hookyard._watcher import _BatchEnd

    b, c = "/hooks/p/b.py", "/hooks/p/c.py"
    busy, quiet = _BatchEnd(ROOT, "changed"), _BatchEnd(ROOT)
    events = [FileModifiedEvent(A), FileCreatedEvent(b), busy, FileDeletedEvent(c), busy]
    assert feed(events, close_events=False, batching=True) == []
    assert feed([*events, quiet, quiet], close_events=False, batching=True) == [
        ("batch", A, b, f"-{c}")
    ]


def test_handler_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    """A failure while handling an event is logged, never raised into watchdog's thread
    (which would die and stop all watching)."""

    class Broken(Recorder):
        def load(self, paths: list[str]) -> None:
            raise RuntimeError("disk on fire")

    handler = ReloadHandler(ROOT, Broken(), close_events=True)
    with caplog.at_level(logging.ERROR, logger="hookyard"):
        handler.dispatch(FileClosedEvent(A))
    assert "disk on fire" in caplog.text
    assert "watching goes on" in caplog.text


# -- timers ------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_timers_run_when_due_and_in_order() -> None:
    """Actions run once their deadline has passed, earliest first, and only once."""
    clock = Clock()
    timers = Timers(clock=clock)
    ran: list[str] = []
    timers.call_later("b", 2.0, lambda: ran.append("b"))
    timers.call_later("a", 1.0, lambda: ran.append("a"))
    timers.run_due()
    assert ran == []
    clock.now += 5
    timers.run_due()
    timers.run_due()
    assert ran == ["a", "b"]


def test_timers_replace_cancel_and_keep_earlier() -> None:
    """Scheduling a key again replaces it (or keeps the earlier deadline if asked);
    cancelling forgets it."""
    clock = Clock()
    timers = Timers(clock=clock)
    timers.call_later("k", 1.0, lambda: None)
    timers.call_later("k", 5.0, lambda: None, keep_earlier=True)
    assert timers.pending() == {"k": 101.0}
    timers.call_later("k", 5.0, lambda: None)
    assert timers.pending() == {"k": 105.0}
    assert timers.cancel("k")
    assert not timers.cancel("k")
    assert timers.pending() == {}


def test_timers_survive_a_failing_action(caplog: pytest.LogCaptureFixture) -> None:
    """A failing action is logged and the others still run."""
    clock = Clock()
    timers = Timers(clock=clock)
    ran: list[str] = []

    def boom() -> None:
        raise ValueError("boom")

    timers.call_later("a", 0.0, boom)
    timers.call_later("b", 0.0, lambda: ran.append("b"))
    with caplog.at_level(logging.ERROR, logger="hookyard"):
        timers.run_due()
    assert ran == ["b"]
    assert "boom" in caplog.text


def test_timers_thread_runs_and_closes() -> None:
    """The timers thread runs due actions and ``close()`` joins it, dropping the rest."""
    timers = Timers()
    timers.start()
    done = threading.Event()
    timers.call_later("now", 0.0, done.set)
    assert done.wait(10)
    timers.call_later("later", 3600.0, lambda: None)
    timers.close()
    assert not [t for t in threading.enumerate() if t.name == "hookyard-watch-timers"]
    assert timers.pending() == {}
    timers.call_later("after", 0.0, lambda: None)  # ignored once closed
    assert timers.pending() == {}


# -- the watcher's grace logic, behind a fake engine --------------------------------------
class FakeEngine:
    """Records what the watcher asks of the engine; ``layout`` is the disk as it shows."""

    def __init__(self, files: list[str] | None = None) -> None:
        self.directory = Path(ROOT)
        self.files = files or []
        self.calls: list[tuple[Any, ...]] = []
        self.layout = Layout((ROOT, 1, 1), {})
        self.drops: list[Any] = []
        # what other threads do while a generation waits for the engine's lock
        self.before_reading: Callable[[], None] = lambda: None
        self.while_reading: Callable[[], None] = lambda: None

    def _layout(self) -> Layout:
        return self.layout

    def _watch_load(self, paths: Any, *, retry_only: bool = False) -> None:
        for path in paths:
            self.calls.append(("retry" if retry_only else "load", path))

    def _watch_expire(self, path: str) -> None:
        self.calls.append(("expire", path))

    def _watch_generation(
        self, points: Any, *, drop: Any, busy: Any = None, begin: Any = None
    ) -> list[str]:
        self.before_reading()
        if begin is not None:
            begin()
        self.while_reading()
        self.drops.append(drop)
        how = "drop" if drop is True else "grace" if drop is False else "some"
        self.calls.append(("generation", tuple(points) if points is not None else None, how))
        return []

    def _watch_files(self, point: str | None = None) -> list[str]:
        return [f for f in self.files if point is None or f.split("/")[2] == point]


def make_watcher(files: list[str] | None = None) -> tuple[Watcher, FakeEngine, Clock]:
    clock = Clock()
    engine = FakeEngine(files)

    def no_observer() -> Any:
        raise AssertionError("these tests never start an observer")

    watcher = Watcher(
        engine,
        grace=0.2,
        observer_factory=no_observer,
        close_events=True,
        timers=Timers(clock=clock),
    )
    watcher._layout = engine._layout()  # what _establish records when watching starts
    return watcher, engine, clock


def folder(real: str, *, linked: bool = False, inode: int = 2) -> Entry:
    return Entry("dir", linked, (1, inode), real)


def test_vanished_script_expires_after_the_grace() -> None:
    """A vanished script is dropped only once the grace is over, with its point read
    again in the same switch (a folder swapped under the point switches whole)."""
    watcher, engine, clock = make_watcher()
    watcher.handler.dispatch(FileDeletedEvent(A))
    clock.now += 0.19
    watcher.timers.run_due()
    assert engine.calls == []
    clock.now += 0.02
    watcher.timers.run_due()
    # gone for good: its point is read again as one generation that drops it
    assert engine.calls == [("generation", ("p",), "some")]
    assert engine.drops[0](A) and not engine.drops[0]("/hooks/p/c.py")


def test_new_file_within_the_grace_is_a_replace() -> None:
    """JetBrains' sequence fed to the handler: the script loads and no expiry ever runs."""
    watcher, engine, clock = make_watcher()
    temp, old = A + "___jb_tmp___", A + "___jb_old___"
    for event in [
        FileClosedEvent(temp),
        FileMovedEvent(A, old),
        FileMovedEvent(temp, A),
        FileDeletedEvent(old),
    ]:
        watcher.handler.dispatch(event)
    clock.now += 10
    watcher.timers.run_due()
    assert engine.calls == [("load", A)]


def test_grace_counts_from_the_first_disappearance() -> None:
    """Repeated vanish events do not postpone the drop: the grace counts from the first."""
    watcher, engine, clock = make_watcher()
    watcher.handler.dispatch(FileMovedEvent(A, A + "~"))
    clock.now += 0.15
    watcher.handler.dispatch(FileDeletedEvent(A))
    clock.now += 0.06
    watcher.timers.run_due()
    assert engine.calls == [("generation", ("p",), "some")]


def test_vim_sequence_is_a_replace() -> None:
    """vim's sequence: the new file's close loads it and cancels the grace."""
    watcher, engine, clock = make_watcher()
    for event in [FileMovedEvent(A, A + "~"), FileCreatedEvent(A), FileClosedEvent(A)]:
        watcher.handler.dispatch(event)
    clock.now += 10
    watcher.timers.run_due()
    assert engine.calls == [("load", A)]


def test_folder_vanished_gives_each_script_the_grace() -> None:
    """A point folder deleted or moved away: each of its scripts runs out its grace;
    other points' scripts are untouched."""
    other = "/hooks/q/b.py"
    watcher, engine, clock = make_watcher([A, "/hooks/p/c.py", other])
    engine.layout = Layout(
        (ROOT, 1, 1), {"p": folder("/hooks/p"), "q": folder("/hooks/q", inode=3)}
    )
    watcher._layout = engine.layout
    engine.layout = Layout((ROOT, 1, 1), {"q": folder("/hooks/q", inode=3)})
    watcher.handler.dispatch(DirDeletedEvent("/hooks/p"))
    clock.now += 1
    watcher.timers.run_due()
    assert engine.calls == [("generation", ("p",), "some")] * 2
    assert {drop(A) for drop in engine.drops} == {True, False}
    assert not any(drop("/hooks/q/b.py") for drop in engine.drops)


def test_folder_made_is_scanned_with_the_grace() -> None:
    """A point folder made with mkdir is scanned for the scripts already in it; what it
    lacks gets the grace (it may still be filling)."""
    watcher, engine, _ = make_watcher()
    engine.layout = Layout((ROOT, 1, 1), {"q": folder("/hooks/q")})
    watcher.handler.dispatch(DirCreatedEvent("/hooks/q"))
    assert engine.calls == [("generation", ("q",), "grace")]


def test_folder_renamed_into_place_is_one_generation() -> None:
    """A point folder renamed into place is complete: loaded as one generation, what it
    lacks dropped with the switch."""
    watcher, engine, _ = make_watcher()
    engine.layout = Layout((ROOT, 1, 1), {"q": folder("/hooks/q")})
    watcher.handler.dispatch(DirMovedEvent("/staging/q", "/hooks/q"))
    assert engine.calls == [("generation", ("q",), "drop")]


def test_link_swap_is_one_generation() -> None:
    """The kubelet's ``..data`` rename: every point folder linked through it now leads to
    the new data folder and all are loaded as one generation, dropping what the swap
    removed (a point whose link now dangles included); the creation of ``..data_tmp``
    before it changes nothing."""
    watcher, engine, _ = make_watcher()
    old = Layout(
        (ROOT, 1, 1),
        {
            "create": folder("/hooks/..1/create", linked=True, inode=5),
            "resize": folder("/hooks/..1/resize", linked=True, inode=6),
        },
    )
    engine.layout = watcher._layout = old
    watcher.handler.dispatch(FileCreatedEvent("/hooks/..data_tmp"))
    assert engine.calls == []
    engine.layout = Layout(
        (ROOT, 1, 1),
        {
            "create": folder("/hooks/..2/create", linked=True, inode=7),
            "resize": Entry("dangling", linked=True),
        },
    )
    watcher.handler.dispatch(FileMovedEvent("/hooks/..data_tmp", "/hooks/..data"))
    assert engine.calls == [("generation", ("create", "resize"), "drop")]
    assert watcher.handler.links == {"/hooks/..2/create": "/hooks/create"}


def settle(watcher: Watcher, clock: Clock) -> None:
    """Run the timers through the next disk check of a held run."""
    from hookyard._watcher import HOLD_POLL

    clock.now += HOLD_POLL
    watcher.timers.run_due()


def test_rsync_hold_releases_one_generation() -> None:
    """Renames out of ``.~tmp~`` load nothing until rsync's run is over (no holding folder
    left on disk); then everything loads as one generation that drops what is gone from
    the points rsync held, and nothing elsewhere."""
    watcher, engine, _ = make_watcher()
    watcher.handler.dispatch(DirCreatedEvent("/hooks/p/.~tmp~"))
    watcher.handler.dispatch(FileMovedEvent("/hooks/p/.~tmp~/a.py", A))
    assert engine.calls == []
    watcher.handler.dispatch(DirDeletedEvent("/hooks/p/.~tmp~"))
    watcher.timers.run_due()  # the removal's event: the disk is looked at now
    assert engine.calls == [("generation", None, "some")]
    drop = engine.drops[-1]
    assert drop("/hooks/p/b.py") and not drop("/hooks/q/b.py")


def test_loads_in_a_held_point_wait_for_the_release() -> None:
    """While rsync's holding folder exists in a point, every load there waits for the
    run's end (a rename whose other half inotify missed looks like a plain rename into
    place); loads elsewhere do not."""
    watcher, engine, clock = make_watcher()
    watcher.handler.dispatch(DirCreatedEvent("/hooks/p/.~tmp~"))
    watcher.handler.dispatch(FileMovedEvent("", A))
    watcher.handler.dispatch(FileAttribEvent(A))  # a chmod: no retry while held either
    watcher.handler.dispatch(FileClosedEvent("/hooks/q/b.py"))
    assert engine.calls == [("load", "/hooks/q/b.py")]
    settle(watcher, clock)
    assert engine.calls[1:] == [("generation", None, "some")]


def test_late_event_of_a_run_waits_for_its_generation() -> None:
    """The end of an rsync run is decided, and its generation waits for the engine's
    lock; a late event of the run (a rename into place whose other half inotify missed)
    arriving meanwhile loads nothing alone: its point stays held until the generation
    reads it, so a renamed file never serves without its siblings (seen once in CI)."""
    watcher, engine, clock = make_watcher()
    watcher.handler.dispatch(DirCreatedEvent("/hooks/p/.~tmp~"))
    engine.before_reading = lambda: watcher.handler.dispatch(FileMovedEvent("", A))
    settle(watcher, clock)  # no holding folder on disk: the run is over
    assert engine.calls == [("generation", None, "some")]
    engine.before_reading = lambda: None
    watcher.handler.dispatch(FileMovedEvent("", A))  # after the generation: loads again
    assert engine.calls[1:] == [("load", A)]


def test_point_held_again_while_its_release_reads_waits_for_the_next_release() -> None:
    """A holding folder seen again while the run's generation reads (a late event of the
    run, or rsync starting again) holds its point past that generation: the next look at
    the disk releases it with a generation of its own, so nothing it holds is left
    unread (a point left by the first read, then let go, never loaded)."""
    watcher, engine, clock = make_watcher()
    watcher.handler.dispatch(DirCreatedEvent("/hooks/p/.~tmp~"))
    engine.while_reading = lambda: watcher.handler.dispatch(DirCreatedEvent("/hooks/p/.~tmp~"))
    settle(watcher, clock)
    assert engine.calls == [("generation", None, "some")]
    engine.while_reading = lambda: None
    watcher.handler.dispatch(FileClosedEvent(A))  # still held: waits for the release
    assert engine.calls[1:] == []
    settle(watcher, clock)
    assert engine.calls[1:] == [("generation", None, "some")]


def test_hold_ends_when_its_generation_fails() -> None:
    """A release whose generation raises still ends the hold: the point's next save
    loads (a point held for ever would load nothing again)."""
    watcher, engine, clock = make_watcher()
    watcher.handler.dispatch(DirCreatedEvent("/hooks/p/.~tmp~"))

    def fail() -> None:
        raise OSError("the disk went away")

    engine.before_reading = fail
    settle(watcher, clock)  # the timers log the failure and go on
    watcher.handler.dispatch(FileClosedEvent(A))
    assert engine.calls == [("load", A)]


def test_deletion_in_a_held_point_leaves_with_the_generation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A script deleted while its point is held for an rsync run is never dropped on its
    own, however late the run's end is noticed: its grace runs out while rsync is still
    renaming (and again after the run, before the watcher looked at the disk), and it is
    dropped by the run's generation, in the same switch as the files rsync renamed in
    (never the old files without it)."""
    from hookyard import _watcher

    b = "/hooks/p/b.py"
    on_disk = {"p": frozenset({"c.py"})}
    monkeypatch.setattr(_watcher, "_holding", lambda root: dict(on_disk))
    watcher, engine, clock = make_watcher([A, b])
    watcher.handler.dispatch(DirCreatedEvent("/hooks/p/.~tmp~"))
    watcher.handler.dispatch(FileMovedEvent("/hooks/p/.~tmp~/a.py", A))
    watcher.handler.dispatch(FileDeletedEvent(b))  # e.g. --delete-during, or a late event
    clock.now += 0.5  # the grace is long over; rsync is still at work
    watcher.timers.run_due()
    assert engine.calls == []
    on_disk.clear()  # rsync's last rename and rmdir
    watcher.handler.dispatch(DirDeletedEvent("/hooks/p/.~tmp~"))
    watcher.handler.dispatch(FileDeletedEvent(b))  # --delete-after, right behind it
    clock.now += 0.5  # the watcher is slow to look: the new grace is over too
    watcher.timers.run_due()
    assert engine.calls[0] == ("generation", None, "some")
    assert engine.drops[0](b)
    # the expiry that follows, if any, finds the script dropped already
    assert engine.calls[1:] in ([], [("generation", ("p",), "some")])


def test_rsync_hold_without_release_goes_live_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """Holding folders that stay unchanged (rsync killed mid-way) stop holding after
    ``HOLD_MAX`` of disk checks: what is on disk goes live. The folder left behind holds
    nothing more until its contents change (a new run)."""
    from hookyard import _watcher

    on_disk = {"p": frozenset({"b.py"})}
    monkeypatch.setattr(_watcher, "_holding", lambda root: dict(on_disk))
    monkeypatch.setattr(_watcher, "_held_names", lambda folder: on_disk.get(Path(folder).name))
    watcher, engine, clock = make_watcher()
    watcher.handler.dispatch(FileMovedEvent("/hooks/p/.~tmp~/a.py", A))
    checks = round(_watcher.HOLD_MAX / _watcher.HOLD_POLL)
    for _ in range(checks - 1):
        settle(watcher, clock)
    assert engine.calls == []
    for _ in range(3):
        settle(watcher, clock)
    assert engine.calls == [("generation", None, "some")]
    watcher.handler.dispatch(FileClosedEvent(A))  # an edit while the folder stays
    assert engine.calls[1:] == [("load", A)]
    on_disk["p"] = frozenset({"b.py", "c.py"})  # rsync again: it holds again
    watcher.handler.dispatch(FileClosedEvent(A))
    assert engine.calls[2:] == []


def test_hold_released_when_the_folder_is_gone_before_its_event() -> None:
    """The end of rsync's run is read from the disk before watchdog delivers it (watchdog
    holds an unpaired rename, and what follows it, for 0.5 s)."""
    watcher, engine, clock = make_watcher()
    watcher.handler.dispatch(DirCreatedEvent("/hooks/p/.~tmp~"))  # not on disk: gone
    assert engine.calls == []
    settle(watcher, clock)
    assert engine.calls == [("generation", None, "some")]


def test_holding_folder_found_on_disk_holds_before_its_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A holding folder the disk shows before its event arrives holds its point all the
    same: a load there waits for the run's end."""
    from hookyard import _watcher

    on_disk = {"p": frozenset({"a.py"})}
    monkeypatch.setattr(_watcher, "_holding", lambda root: dict(on_disk))
    monkeypatch.setattr(_watcher, "_held_names", lambda folder: on_disk.get(Path(folder).name))
    watcher, engine, clock = make_watcher()
    watcher.handler.dispatch(FileMovedEvent("", A))  # its creation's event still on its way
    assert engine.calls == []
    on_disk.clear()
    settle(watcher, clock)
    assert engine.calls == [("generation", None, "some")]


def test_stop_drops_pending_graces() -> None:
    """Stopping the watcher drops pending graces (the last loaded scripts keep serving) and
    schedules nothing afterwards."""
    watcher, engine, clock = make_watcher()
    watcher.handler.dispatch(FileDeletedEvent(A))
    watcher.stop()
    clock.now += 10
    watcher.timers.run_due()
    watcher.handler.dispatch(FileDeletedEvent(A))
    assert watcher.timers.pending() == {}
    assert engine.calls == []
