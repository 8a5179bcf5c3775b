"""Hot reload through the engine, with real files: what a save, a broken save, a delete,
a new folder, a lost directory and ``close()`` do."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

import hookyard
from hookyard._engine import DEFAULT_DELETE_GRACE
from hookyard._watcher import Watcher
from tests._reload_support import (
    Events,
    Probe,
    make_root,
    probe_engine,
    script,
    version_of,
    wait_until,
    write_inplace,
)
from tests.conftest import BOTH_MODES

BROKEN = "def post(rv, *args, **kwargs):\n    return (\n"  # SyntaxError at line 2
SHORT_GRACE = 0.05  # for tests that wait for a real delete to take effect


def status_of(probe: Probe, name: str = "a.py", point: str = "p") -> hookyard.ScriptStatus:
    [found] = [s for s in probe.engine.status() if s.file == str(probe.path(name, point))]
    return found


# -- saves ----------------------------------------------------------------------------------
@BOTH_MODES
def test_edit_goes_live_and_is_reported(tmp_path: Path, isolation: object) -> None:
    """An edit goes live without restart; listeners hear script, old -> new version, ok."""
    with probe_engine(tmp_path, {"p/a.py": script("v1")}, isolation=isolation) as probe:
        assert probe.call() == "v1"
        write_inplace(probe.path(), script("v2"))
        event = probe.events.loaded(script("v2"))
        assert probe.call() == "v2"  # listeners are told after the version is serving
        assert (event.point, event.file) == ("p", str(probe.path()))
        assert (event.old_version, event.new_version) == (
            version_of(script("v1")),
            version_of(script("v2")),
        )
        assert event.ok and event.error is None and not event.removed


def test_each_reload_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Each reload is logged with the file and the old -> new version."""
    caplog.set_level(logging.INFO, logger="hookyard")
    with probe_engine(tmp_path, {"p/a.py": script("v1")}) as probe:
        write_inplace(probe.path(), script("v2"))
        probe.events.loaded(script("v2"))
    old, new = version_of(script("v1"))[:12], version_of(script("v2"))[:12]
    assert f"hook script loaded: {probe.path()} ({old} -> {new})" in caplog.text


def test_new_script_and_new_point_folder(tmp_path: Path) -> None:
    """A new script in an existing folder, and a new point folder with its scripts, are
    picked up."""
    with probe_engine(tmp_path, {"p/a.py": script("v1")}) as probe:
        write_inplace(probe.path("b.py"), "def pre():\n    pass\n")
        probe.events.loaded("def pre():\n    pass\n")
        probe.hook("q")
        folder = probe.root / "q"
        folder.mkdir()
        write_inplace(folder / "10-x.py", script("q1"))
        probe.events.loaded(script("q1"))
        assert probe.call("q") == "q1"
        assert probe.engine.points()["p"] == ("a.py", "b.py")


def test_folder_moved_in_with_scripts(tmp_path: Path) -> None:
    """A point folder built elsewhere and moved in whole is loaded (its files get no close
    events of their own)."""
    with probe_engine(tmp_path, {"p/a.py": script("v1")}) as probe:
        staged = tmp_path / "staged"
        staged.mkdir()
        write_inplace(staged / "a.py", script("r1"))
        probe.hook("r")
        os.rename(staged, probe.root / "r")
        probe.events.loaded(script("r1"))
        assert probe.call("r") == "r1"


@BOTH_MODES
def test_broken_save_keeps_last_good_version(tmp_path: Path, isolation: object) -> None:
    """A save that fails to compile leaves the last good version serving; ``status()`` and
    the listener show the failure with ``file:line``; fixing the file recovers."""
    with probe_engine(tmp_path, {"p/a.py": script("v1")}, isolation=isolation) as probe:
        write_inplace(probe.path(), BROKEN)
        failed = probe.events.wait_for(lambda e: not e.ok, "the failure")
        assert probe.call() == "v1"
        assert f"{probe.path()}:2" in (failed.error or "")
        assert failed.old_version == failed.new_version == version_of(script("v1"))
        status = status_of(probe)
        assert not status.ok and status.version == version_of(script("v1"))
        assert f"{probe.path()}:2" in (status.error or "")
        mark = probe.events.mark()
        write_inplace(probe.path(), script("v2"))
        probe.events.loaded(script("v2"), start=mark)
        assert probe.call() == "v2"
        assert status_of(probe).ok


@BOTH_MODES
def test_fixing_back_to_the_serving_content_recovers(tmp_path: Path, isolation: object) -> None:
    """A broken save undone (the file back to the content still serving) clears the error,
    reports the recovery and keeps ``state``."""
    counter = 'def post(rv):\n    state["n"] = state.get("n", 0) + 1\n    return state["n"]\n'
    with probe_engine(tmp_path, {"p/a.py": counter}, isolation=isolation) as probe:
        assert probe.call() == 1
        write_inplace(probe.path(), BROKEN)
        probe.events.wait_for(lambda e: not e.ok, "the failure")
        mark = probe.events.mark()
        write_inplace(probe.path(), counter)
        event = probe.events.wait_for(lambda e: e.ok, "the recovery", start=mark)
        assert event.old_version == event.new_version == version_of(counter)
        assert status_of(probe).ok
        assert probe.call() == 2


@BOTH_MODES
def test_broken_new_script_is_reported_not_served(tmp_path: Path, isolation: object) -> None:
    """A new script that fails to compile is reported with ``file:line`` and not served."""
    with probe_engine(tmp_path, {"p/a.py": script("v1")}, isolation=isolation) as probe:
        write_inplace(probe.path("b.py"), BROKEN)
        event = probe.events.wait_for(lambda e: not e.ok, "the failure")
        assert event.new_version is None
        assert f"{probe.path('b.py')}:2" in (event.error or "")
        assert probe.engine.points()["p"] == ("a.py",)


def test_empty_save_keeps_last_good_version(tmp_path: Path) -> None:
    """Saving an empty file keeps the last good version serving and reports why."""
    with probe_engine(tmp_path, {"p/a.py": script("v1")}) as probe:
        write_inplace(probe.path(), "")
        event = probe.events.wait_for(lambda e: not e.ok, "the failure")
        assert "empty" in (event.error or "")
        assert probe.call() == "v1"


def test_touch_reloads_nothing(tmp_path: Path) -> None:
    """A ``touch`` (only the timestamps change) neither reloads nor resets ``state``."""
    counter = 'def post(rv):\n    state["n"] = state.get("n", 0) + 1\n    return state["n"]\n'
    with probe_engine(tmp_path, {"p/a.py": counter, "p/z.py": "def pre():\n    pass\n"}) as probe:
        assert probe.call() == 1
        os.utime(probe.path())
        sentinel = "def pre():\n    return None\n"
        write_inplace(probe.path("z.py"), sentinel)  # handled after the touch
        probe.events.loaded(sentinel)
        assert probe.call() == 2
        assert [e.file for e in probe.events.seen] == [str(probe.path("z.py"))]


def test_chmod_fixing_a_refused_script_loads_it(tmp_path: Path) -> None:
    """A script refused for being world-writable loads once ``chmod o-w`` fixes it."""
    with probe_engine(tmp_path, {"p/a.py": script("v1")}) as probe:
        path = probe.path("b.py")
        staged = tmp_path / "b.py"
        write_inplace(staged, script("b"))
        staged.chmod(0o666)
        os.rename(staged, path)  # arrives world-writable, all at once
        probe.events.wait_for(
            lambda e: not e.ok and "world-writable" in (e.error or ""), "the refusal"
        )
        path.chmod(0o644)
        probe.events.loaded(script("b"))
        assert probe.engine.points()["p"] == ("a.py", "b.py")


# -- deletes ------------------------------------------------------------------------------
@BOTH_MODES
def test_deleted_script_stops_after_the_grace(tmp_path: Path, isolation: object) -> None:
    """A deleted script is dropped (reported as removed) once its grace is over."""
    with probe_engine(
        tmp_path,
        {"p/a.py": script("v1"), "p/b.py": script("b")},
        delete_grace=SHORT_GRACE,
        isolation=isolation,
    ) as probe:
        probe.path().unlink()
        event = probe.events.removed(probe.path())
        assert event.old_version == version_of(script("v1")) and event.new_version is None
        assert probe.engine.points()["p"] == ("b.py",)
        assert probe.call() == "b"


def test_script_renamed_away_stops(tmp_path: Path) -> None:
    """A script renamed to a non-script name, or out of the directory, stops."""
    with probe_engine(
        tmp_path, {"p/a.py": script("a"), "p/b.py": script("b")}, delete_grace=SHORT_GRACE
    ) as probe:
        os.rename(probe.path(), probe.path("a.py.disabled"))
        probe.events.removed(probe.path())
        os.rename(probe.path("b.py"), tmp_path / "b.py")
        probe.events.removed(probe.path("b.py"))
        assert probe.call() == "none"


@BOTH_MODES
def test_script_renamed_to_another_script_name(tmp_path: Path, isolation: object) -> None:
    """Renaming ``10-a.py`` to ``90-a.py`` reorders it: the new name loads, the old goes."""
    with probe_engine(
        tmp_path,
        {"p/10-a.py": script("a"), "p/50-b.py": script("b")},
        delete_grace=SHORT_GRACE,
        isolation=isolation,
    ) as probe:
        assert probe.call() == "b"  # replacements chain in file order: the last one wins
        os.rename(probe.path("10-a.py"), probe.path("90-a.py"))
        probe.events.removed(probe.path("10-a.py"))
        assert probe.engine.points()["p"] == ("50-b.py", "90-a.py")
        assert probe.call() == "a"


def test_deleted_point_folder(tmp_path: Path) -> None:
    """Deleting a whole point folder drops its scripts."""
    with probe_engine(tmp_path, {"p/a.py": script("a")}, delete_grace=SHORT_GRACE) as probe:
        shutil.rmtree(probe.root / "p")
        probe.events.removed(probe.path())
        assert probe.call() == "none"


def test_default_grace_is_within_the_contract() -> None:
    """The default delete grace is within DESIGN.md's 300 ms."""
    assert 0 < DEFAULT_DELETE_GRACE <= 0.3


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (-1, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        ("0.2", TypeError),
        (True, TypeError),
    ],
)
def test_bad_delete_grace_is_refused(tmp_path: Path, bad: Any, error: type[Exception]) -> None:
    """A negative or non-finite grace is a ValueError, a non-number a TypeError."""
    with pytest.raises(error, match="delete_grace"):
        hookyard.HookEngine(tmp_path, delete_grace=bad)


@pytest.mark.parametrize(
    ("bad", "error"),
    [(0, ValueError), (-1.0, ValueError), (float("nan"), ValueError), ("yes", TypeError)],
)
def test_bad_polling_is_refused(tmp_path: Path, bad: Any, error: type[Exception]) -> None:
    """``polling`` must be a bool or a positive interval."""
    with pytest.raises(error, match="polling"):
        hookyard.HookEngine(tmp_path, polling=bad)


# -- reload by hand --------------------------------------------------------------------------
@BOTH_MODES
def test_reload_by_hand_without_watching(tmp_path: Path, isolation: object) -> None:
    """Without watching, ``engine.reload()`` loads changes and drops deleted files at once."""
    with probe_engine(
        tmp_path, {"p/a.py": script("v1"), "p/b.py": script("b")}, start=False, isolation=isolation
    ) as probe:
        write_inplace(probe.path(), script("v2"))
        probe.path("b.py").unlink()
        assert probe.call() == "b"
        probe.engine.reload()
        assert probe.call() == "v2"
        assert probe.engine.points()["p"] == ("a.py",)


def test_reload_by_hand_while_watching_keeps_the_grace(tmp_path: Path) -> None:
    """While watching, a file missing at ``reload()`` gets the delete grace (it may be
    mid-save), then goes."""
    with probe_engine(tmp_path, {"p/a.py": script("v1")}, delete_grace=SHORT_GRACE) as probe:
        probe.engine.close()  # change the disk unseen, then watch again
        probe.path().unlink()
        probe.engine.start()
        probe.engine.reload()
        probe.events.removed(probe.path())
        assert probe.call() == "none"


def test_reload_republishes_points_without_scripts(tmp_path: Path) -> None:
    """A full reload republishes every point it knows, even one left without scripts, so
    an engine made over shared points (``configure()`` again) never keeps serving scripts
    of the engine before it."""
    first = make_root(tmp_path / "one", {"p/a.py": script("one")})
    second = make_root(tmp_path / "two", {})
    engine = hookyard.configure(first)
    try:

        @hookyard.add_hook("p", result="replace")
        def host() -> str:
            return "none"

        assert host() == "one"
        engine = hookyard.configure(second)
        assert host() == "none"
    finally:
        engine.close()


def test_changes_made_before_start_are_found(tmp_path: Path) -> None:
    """``start()`` rescans: a change made between making the engine and starting it loads."""
    with probe_engine(tmp_path, {"p/a.py": script("v1")}, start=False) as probe:
        write_inplace(probe.path(), script("v2"))
        probe.engine.start()
        probe.events.loaded(script("v2"))
        assert probe.call() == "v2"


# -- polling --------------------------------------------------------------------------------
def test_polling_fallback(tmp_path: Path) -> None:
    """With ``polling`` the engine follows edits, new files and deletes without inotify."""
    with probe_engine(
        tmp_path, {"p/a.py": script("v1")}, polling=0.05, delete_grace=SHORT_GRACE
    ) as probe:
        assert probe.engine.watching
        write_inplace(probe.path(), script("v2"))
        probe.events.loaded(script("v2"))
        write_inplace(probe.path("b.py"), script("b"))
        probe.events.loaded(script("b"))
        assert probe.call() == "b"
        probe.path("b.py").unlink()
        probe.events.removed(probe.path("b.py"))
        assert probe.call() == "v2"


# -- watcher errors ----------------------------------------------------------------------
def errors(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


@pytest.mark.parametrize("polling", [False, 0.05])
def test_directory_deleted_and_recreated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, polling: float
) -> None:
    """The hook directory deleted: this is reported, its scripts stop after the grace, and
    when it is recreated its scripts are picked up again."""
    caplog.set_level(logging.INFO, logger="hookyard")
    with probe_engine(
        tmp_path, {"p/a.py": script("v1")}, delete_grace=SHORT_GRACE, polling=polling
    ) as probe:
        shutil.rmtree(probe.root)
        probe.events.removed(probe.path())
        wait_until(lambda: "was deleted" in errors(caplog), "the loss to be reported")
        assert probe.call() == "none"
        mark = probe.events.mark()
        make_root(tmp_path, {"p/a.py": script("v2")})
        probe.events.loaded(script("v2"), start=mark)
        assert probe.call() == "v2"
        wait_until(lambda: probe.engine.watching, "watching again")
        assert "again" in errors(caplog)
        reports = [r for r in caplog.records if "keep serving" in r.getMessage()]
        assert len(reports) == 1, "one report per outage, however many retries"
        mark = probe.events.mark()
        write_inplace(probe.path(), script("v3"))  # and the new directory is watched
        probe.events.loaded(script("v3"), start=mark)


def test_directory_swapped_by_rename(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A deploy that renames a new directory over the old one (the old renamed away first)
    is noticed: the new directory's scripts load and are watched. The swap is routine,
    logged at INFO (or, if the watcher looked between the two renames, as a deletion)."""
    caplog.set_level(logging.INFO, logger="hookyard")
    with probe_engine(tmp_path, {"p/a.py": script("v1")}) as probe:
        fresh = tmp_path / "fresh"
        (fresh / "p").mkdir(parents=True)
        write_inplace(fresh / "p" / "a.py", script("v2"))
        os.rename(probe.root, tmp_path / "old")
        os.rename(fresh, probe.root)
        probe.events.loaded(script("v2"))
        assert probe.call() == "v2"
        wait_until(lambda: probe.engine.watching, "watching again")
        mark = probe.events.mark()
        write_inplace(probe.path(), script("v3"))
        probe.events.loaded(script("v3"), start=mark)
        assert "was replaced" in caplog.text or "was deleted" in errors(caplog)


def test_symlinked_directory_and_release_switch(tmp_path: Path) -> None:
    """A hook directory that is a symlink is watched at its target (new point folders
    included), and retargeting the link (a release switch) loads the new release."""
    release1 = make_root(tmp_path / "r1", {"p/a.py": script("v1")})
    link = tmp_path / "current"
    link.symlink_to(release1)
    engine = hookyard.HookEngine(link)
    events = Events(engine)

    @engine.hook("q", result="replace")
    def probe() -> str:
        return "none"

    with engine:
        folder = link / "q"
        folder.mkdir()
        write_inplace(folder / "a.py", script("q1"))
        events.loaded(script("q1"))
        assert probe() == "q1"
        release2 = make_root(tmp_path / "r2", {"q/a.py": script("q2")})
        (tmp_path / "next").symlink_to(release2)
        os.replace(tmp_path / "next", link)
        events.loaded(script("q2"))
        assert probe() == "q2"
        events.removed(link / "p" / "a.py")  # not in the new release: gone after the grace
        assert [s.file for s in engine.status()] == [str(link / "q" / "a.py")]


def test_missing_directory_at_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Starting on a directory that does not exist yet does not raise: it is reported, and
    the directory is watched once it appears."""
    root = tmp_path / "hooks"
    engine = hookyard.HookEngine(root)
    events = Events(engine)

    @engine.hook("p", result="replace")
    def probe() -> str:
        return "none"

    with engine:
        wait_until(lambda: "does not exist" in errors(caplog), "the problem to be reported")
        assert not engine.watching
        make_root(tmp_path, {"p/a.py": script("v1")})
        events.loaded(script("v1"))
        assert probe() == "v1"


def test_permission_denied_is_reported_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A directory that cannot be watched (permission denied) is reported once, retried,
    and watched when it becomes possible; the scripts loaded keep serving meanwhile."""
    from watchdog.observers.inotify import InotifyObserver

    attempts = []

    def flaky() -> Any:
        attempts.append(1)
        if len(attempts) <= 3:
            raise PermissionError(13, "Permission denied")
        return InotifyObserver(generate_full_events=True)

    with probe_engine(tmp_path, {"p/a.py": script("v1")}, start=False) as probe:
        watcher = Watcher(probe.engine, observer_factory=flaky, close_events=True)
        try:
            watcher.start()
            assert probe.call() == "v1"
            wait_until(lambda: watcher.watching, "the retries to succeed")
            reports = [
                r
                for r in caplog.records
                if r.levelno == logging.ERROR and "permission denied" in r.getMessage()
            ]
            assert len(reports) == 1, "reported once, however many retries"
            # watching is set just before the recovery is logged: wait for the line itself
            wait_until(lambda: "again" in errors(caplog), "the recovery to be reported")
            write_inplace(probe.path(), script("v2"))
            probe.events.loaded(script("v2"))
        finally:
            watcher.stop()


def test_unlistable_folder_is_not_taken_for_deleted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rescan that cannot list a point folder (an I/O or permission error) reports it and
    keeps that folder's scripts: not seeing a file is not the same as it being gone."""
    with probe_engine(tmp_path, {"p/a.py": script("v1")}, start=False) as probe:
        folder = probe.root / "p"
        real_iterdir = Path.iterdir

        def iterdir(self: Path) -> Any:
            if self == folder:
                raise PermissionError(13, "Permission denied", str(self))
            return real_iterdir(self)

        monkeypatch.setattr(Path, "iterdir", iterdir)
        probe.engine.reload()
        assert "cannot list hook point folder" in caplog.text
        assert probe.call() == "v1"


def test_failures_while_handling_never_stop_the_watcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception while handling an event, or from a reload listener, is logged and the
    watcher goes on following changes."""
    with probe_engine(tmp_path, {"p/a.py": script("v1")}) as probe:
        engine = probe.engine
        real_load = engine._load
        failures = iter([RuntimeError("loader exploded")])

        def load_once_broken(point: str, path: Path) -> Any:
            error = next(failures, None)
            if error is not None:
                raise error
            return real_load(point, path)

        def bad_listener(event: hookyard.ReloadEvent) -> None:
            raise ValueError("listener exploded")

        monkeypatch.setattr(engine, "_load", load_once_broken)
        engine.add_reload_listener(bad_listener)
        write_inplace(probe.path(), script("v2"))  # handling this one raises
        wait_until(lambda: "loader exploded" in caplog.text, "the failure to be logged")
        write_inplace(probe.path(), script("v3"))
        probe.events.loaded(script("v3"))
        assert probe.call() == "v3"
        # the bad listener runs after the probe's own listener: wait for its report
        wait_until(lambda: "listener exploded" in caplog.text, "the listener's failure logged")


# -- lifecycle ------------------------------------------------------------------------------
def test_close_joins_every_thread(tmp_path: Path) -> None:
    """``close()`` stops watchdog's threads and the grace timer thread, including a grace
    still running; the scripts last loaded keep serving."""
    with probe_engine(tmp_path, {"p/a.py": script("v1")}, start=False, delete_grace=60) as probe:
        probe.call()  # any lazily started helper thread of the call path exists from here
        before = set(threading.enumerate())
        probe.engine.start()
        assert len(set(threading.enumerate()) - before) >= 2
        probe.path().unlink()
        wait_until(probe.engine._watcher.timers.pending, "the grace to be pending")
        probe.engine.close()
        assert set(threading.enumerate()) <= before
        assert probe.call() == "v1"
        assert not probe.engine.watching


def test_start_close_start_again(tmp_path: Path) -> None:
    """An engine can be started, closed and started again; ``with engine:`` watches within."""
    with probe_engine(tmp_path, {"p/a.py": script("v1")}, start=False) as probe:
        with probe.engine:
            assert probe.engine.watching
        assert not probe.engine.watching
        probe.engine.start()
        probe.engine.start()  # idempotent
        write_inplace(probe.path(), script("v2"))
        probe.events.loaded(script("v2"))


def test_close_logs_no_watcher_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Stopping the watcher is quiet: watchdog's race message for a read landing during
    its stop is not passed on as an error."""
    caplog.set_level(logging.DEBUG)
    for _ in range(5):
        with probe_engine(tmp_path, {"p/a.py": script("v1")}) as probe:
            assert probe.call() == "v1"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
