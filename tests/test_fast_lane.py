"""The watcher's fast lane (issue 17): its own inotify instance over the plain point
folders loads a script closed after write, or renamed in from its own folder, on the
thread that reads the event; everything else stays with watchdog's events.

Each test that says "not reported" saves a sentinel script afterwards and waits for it:
events of one inotify instance arrive in order, so once the sentinel is reported, every
earlier event has been seen."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from watchdog.events import FileClosedEvent, FileMovedEvent

import hookyard
from hookyard._fastlane import FastLane, fast_lane
from hookyard._layout import anchors, layout_of
from hookyard._paths import is_point_name
from hookyard._watcher import ReloadHandler

from .test_reload_handler import Recorder

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify: Linux")

SCRIPT = "def post(rv, *args, **kwargs):\n    return rv\n"


class Reports:
    """What the lane hands to the watcher's load, and on which thread."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.threads: set[str] = set()
        self.cond = threading.Condition()

    def __call__(self, paths: list[str]) -> None:
        with self.cond:
            self.paths += paths
            self.threads.add(threading.current_thread().name)
            self.cond.notify_all()

    def wait_for(self, path: Path) -> list[str]:
        """Everything reported up to and including ``path`` (fails after 10 s)."""
        with self.cond:
            assert self.cond.wait_for(lambda: str(path) in self.paths, 10.0), self.paths
            return list(self.paths)


@pytest.fixture
def lane(tmp_path: Path) -> Iterator[tuple[FastLane, Reports, Path]]:
    root = tmp_path / "hooks"
    (root / "p").mkdir(parents=True)
    (root / "q").mkdir()
    reports = Reports()
    made = fast_lane(str(root), reports)
    assert made is not None
    made.start()
    made.follow(layout_of(str(root), is_point_name))
    yield made, reports, root
    made.close()


def test_a_script_closed_after_write_is_loaded_on_the_lanes_thread(
    lane: tuple[FastLane, Reports, Path],
) -> None:
    """A script written in place is reported once its writer closes it, by the lane's
    own thread (one hop from the kernel), and its folder is the lane's."""
    made, reports, root = lane
    script = root / "p" / "a.py"
    script.write_text(SCRIPT)
    assert reports.wait_for(script) == [str(script)]
    assert reports.threads == {"hookyard-fastlane"}
    assert made.covers(str(script))


def test_a_rename_within_the_folder_is_loaded(lane: tuple[FastLane, Reports, Path]) -> None:
    """An editor's atomic save (a temp file renamed over the script in its folder) is
    reported once, for the script; the temp file never is."""
    _, reports, root = lane
    temp = root / "p" / ".a.py.tmp"
    temp.write_text(SCRIPT)
    os.replace(temp, root / "p" / "a.py")
    assert reports.wait_for(root / "p" / "a.py") == [str(root / "p" / "a.py")]


def test_renames_from_elsewhere_and_other_files_are_left_to_watchdog(
    lane: tuple[FastLane, Reports, Path], tmp_path: Path
) -> None:
    """A script renamed in from rsync's holding folder or from outside, a file that is no
    script, and a folder's own events are not the lane's: rsync's run must switch whole."""
    _, reports, root = lane
    hold = root / "p" / ".~tmp~"
    hold.mkdir()
    (hold / "a.py").write_text(SCRIPT)
    os.replace(hold / "a.py", root / "p" / "a.py")
    (tmp_path / "b.py").write_text(SCRIPT)
    os.replace(tmp_path / "b.py", root / "p" / "b.py")
    (root / "p" / "notes.txt").write_text("x")
    (root / "p" / "sub").mkdir()
    sentinel = root / "q" / "z.py"
    sentinel.write_text(SCRIPT)
    assert reports.wait_for(sentinel) == [str(sentinel)]


def test_a_linked_point_folder_is_not_the_lanes(tmp_path: Path) -> None:
    """A point folder reached through a symlink (a ConfigMap's) loads as a generation:
    the lane does not watch it, so watchdog's events load what is saved there."""
    root = tmp_path / "hooks"
    (root / "q").mkdir(parents=True)
    (tmp_path / "data" / "p").mkdir(parents=True)
    (root / "p").symlink_to(tmp_path / "data" / "p")
    reports = Reports()
    made = fast_lane(str(root), reports)
    assert made is not None
    made.start()
    try:
        made.follow(layout_of(str(root), is_point_name))
        assert not made.covers(str(root / "p" / "a.py"))
        (tmp_path / "data" / "p" / "a.py").write_text(SCRIPT)
        sentinel = root / "q" / "z.py"
        sentinel.write_text(SCRIPT)
        assert reports.wait_for(sentinel) == [str(sentinel)]
    finally:
        made.close()


def test_a_folder_renamed_away_is_no_longer_its_point(
    lane: tuple[FastLane, Reports, Path],
) -> None:
    """Once the folder watched as point p is renamed away, a save in it is not p's (a
    folder swapped under a point switches as one generation, never file by file)."""
    _, reports, root = lane
    os.rename(root / "p", root / "p-old")
    (root / "p-old" / "a.py").write_text(SCRIPT)
    sentinel = root / "q" / "z.py"
    sentinel.write_text(SCRIPT)
    assert reports.wait_for(sentinel) == [str(sentinel)]


def test_follow_stops_watching_what_the_layout_no_longer_has(
    lane: tuple[FastLane, Reports, Path],
) -> None:
    """A point folder gone from the layout is no longer covered; one added is."""
    made, _, root = lane
    (root / "p").rename(root / "gone")
    (root / "r").mkdir()
    made.follow(layout_of(str(root), is_point_name))
    assert not made.covers(str(root / "p" / "a.py"))
    assert made.covers(str(root / "r" / "a.py"))


def test_close_joins_the_thread_and_covers_nothing(tmp_path: Path) -> None:
    """close() stops and joins the lane's thread; afterwards it covers no folder, so
    nothing saved is left unloaded."""
    (tmp_path / "p").mkdir()
    made = fast_lane(str(tmp_path), Reports())
    assert made is not None
    made.start()
    made.follow(layout_of(str(tmp_path), is_point_name))
    assert made.covers(str(tmp_path / "p" / "a.py"))
    made.close()
    assert not any(t.name == "hookyard-fastlane" and t.is_alive() for t in threading.enumerate())
    assert not made.covers(str(tmp_path / "p" / "a.py"))


# -- watchdog's handler leaves the lane's saves to it ------------------------------------
def test_handler_leaves_a_laned_close_and_same_folder_rename_to_the_lane() -> None:
    """With the lane covering the folder, watchdog's close and same-folder rename of a
    script load nothing (a second, later read could land in the next save); a rename
    from another folder still loads, and a rename away still starts the grace."""
    sink = Recorder()
    handler = ReloadHandler("/hooks", sink, close_events=True, laned=lambda path: True)
    handler.dispatch(FileClosedEvent("/hooks/p/a.py"))
    handler.dispatch(FileMovedEvent("/hooks/p/.a.py.tmp", "/hooks/p/a.py"))
    handler.dispatch(FileMovedEvent("/elsewhere/b.py", "/hooks/p/b.py"))
    handler.dispatch(FileMovedEvent("/hooks/p/c.py", "/hooks/p/c.py~"))
    assert sink.calls == [("load", "/hooks/p/b.py"), ("vanished", "/hooks/p/c.py")]


def test_handler_loads_what_the_lane_does_not_cover() -> None:
    """A folder the lane does not cover (it could not be watched, the lane stopped):
    watchdog's close loads the script as before."""
    sink = Recorder()
    handler = ReloadHandler("/hooks", sink, close_events=True, laned=lambda path: False)
    handler.dispatch(FileClosedEvent("/hooks/p/a.py"))
    assert sink.calls == [("load", "/hooks/p/a.py")]


# -- end to end -----------------------------------------------------------------------
def test_watching_engine_loads_a_save_through_the_lane(tmp_path: Path) -> None:
    """A watching engine serves a script saved in place, loaded by the lane's thread."""
    root = tmp_path / "hooks"
    (root / "p").mkdir(parents=True)
    (root / "p" / "a.py").write_text('def post(rv):\n    return "old"\n')
    seen: list[tuple[str | None, str]] = []
    done = threading.Event()

    def heard(event: hookyard.ReloadEvent) -> None:
        seen.append((event.new_version, threading.current_thread().name))
        done.set()

    with hookyard.HookEngine(root) as engine:
        engine.add_reload_listener(heard)

        @engine.hook("p", result="replace")
        def probe() -> str:
            return "none"

        assert probe() == "old"
        (root / "p" / "a.py").write_text('def post(rv):\n    return "new"\n')
        assert done.wait(10.0)
        assert probe() == "new"
        assert [thread for _, thread in seen] == ["hookyard-fastlane"]


def test_content_already_serving_is_not_run_again(tmp_path: Path) -> None:
    """Loading a file whose content is serving (a touch, a rescan) neither compiles nor
    runs its module body again: the serving version and its state stay."""
    runs: list[int] = []
    root = tmp_path / "hooks"
    (root / "p").mkdir(parents=True)
    script = root / "p" / "a.py"
    script.write_text("api.count()\ndef post(rv):\n    return rv\n")
    engine = hookyard.HookEngine(root, api={"count": lambda: runs.append(1)})
    assert runs == [1]
    engine.reload_path(script)
    engine.reload()
    assert runs == [1]
    script.write_text("api.count()\ndef post(rv):\n    return rv + 1\n")
    engine.reload_path(script)
    assert runs == [1, 1]


def test_a_link_swapped_above_the_root_is_reported_at_once(tmp_path: Path) -> None:
    """A deploy's ``current -> releases/N`` swap (a rename of a new link over the old) is
    reported by the lane as it happens, not after watchdog's 0.5 s hold of a rename it
    read in two halves; other entries of that directory are not reported."""
    for release in ("1", "2"):
        (tmp_path / "releases" / release / "p").mkdir(parents=True)
    (tmp_path / "current").symlink_to("releases/1")
    root = tmp_path / "current"
    swaps: list[str] = []
    seen = threading.Event()

    def swapped() -> None:
        swaps.append(threading.current_thread().name)
        seen.set()

    made = fast_lane(str(root), Reports(), swapped)
    assert made is not None
    made.start()
    try:
        made.follow_anchors(anchors(str(root)))
        (tmp_path / "unrelated").write_text("x")
        (tmp_path / "next").symlink_to("releases/2")
        os.replace(tmp_path / "next", tmp_path / "current")
        assert seen.wait(10.0)
    finally:
        made.close()
    assert swaps == ["hookyard-fastlane"]
