"""What the reload-latency work of issue 17 changed, seen from outside: the watcher's
observer reports only the events the watcher acts on (fewer thread wake-ups while a save
is loaded), a watched save is still heard in full after it serves (reach, audit trail,
listeners), and a script whose hooks cannot take its point's calls is refused on every
save, however often the same parameters come back."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import pytest
from watchdog.events import (
    DirCreatedEvent,
    DirModifiedEvent,
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
)

import hookyard
from hookyard._watcher import Watcher
from tests._reload_support import Events, write_inplace
from tests.conftest import BOTH_MODES, MakeEngine

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify: Linux")


class Seen(FileSystemEventHandler):
    """Every event an observer dispatches; waits for the close of a sentinel file."""

    def __init__(self) -> None:
        self.events: list[FileSystemEvent] = []
        self.cond = threading.Condition()

    def on_any_event(self, event: FileSystemEvent) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def until_closed(self, path: Path) -> list[FileSystemEvent]:
        def closed() -> bool:
            return any(
                isinstance(e, FileClosedEvent) and os.fsdecode(e.src_path) == str(path)
                for e in self.events
            )

        with self.cond:
            assert self.cond.wait_for(closed, 10.0), self.events
            return list(self.events)


def observe(tmp_path: Path, close_events: bool | None) -> list[FileSystemEvent]:
    """The events the watcher's default observer reports for a save in place, a read, a
    chmod, a rename, a deletion and a new folder (then a sentinel's save, to wait on)."""
    factory, _ = Watcher._default_factory(False, close_events)
    seen = Seen()
    observer = factory()
    observer.schedule(seen, str(tmp_path), recursive=True)
    observer.start()
    try:
        script = tmp_path / "a.py"
        write_inplace(script, "def pre():\n    pass\n")
        script.read_text()
        script.chmod(0o600)
        script.rename(tmp_path / "b.py")
        (tmp_path / "b.py").unlink()
        (tmp_path / "sub").mkdir()
        sentinel = tmp_path / "sentinel.py"
        write_inplace(sentinel, "")
        return seen.until_closed(sentinel)
    finally:
        observer.stop()
        observer.join()


@linux
def test_the_watchers_observer_reports_only_what_the_watcher_acts_on(tmp_path: Path) -> None:
    """With close events, watchdog reports creations, closes after writing, attribute
    changes, renames and deletions, but no open, no bare modification, no close after a
    read and no folder "modified": the watcher acts on none of these, and each would wake
    watchdog's threads while a save is loaded."""
    kinds = {type(event) for event in observe(tmp_path, None)}
    for needed in (
        FileCreatedEvent,
        FileClosedEvent,
        FileAttribEvent,
        FileMovedEvent,
        FileDeletedEvent,
        DirCreatedEvent,
    ):
        assert needed in kinds, (needed, kinds)
    for unused in (FileOpenedEvent, FileModifiedEvent, FileClosedNoWriteEvent, DirModifiedEvent):
        assert unused not in kinds, (unused, kinds)


@linux
def test_a_watcher_without_close_events_still_gets_modifications(tmp_path: Path) -> None:
    """A watcher told to go by modifications (no close events) gets them from inotify."""
    kinds = {type(event) for event in observe(tmp_path, False)}
    assert FileModifiedEvent in kinds, kinds


@BOTH_MODES
def test_a_watched_save_is_heard_in_full_after_it_serves(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """A save the watcher loads serves first; then its listeners hear of it with its reach
    change, the reach warning is logged and the audit trail records the load with its
    version."""
    trail = tmp_path / "audit.jsonl"
    engine = make_engine(
        {"p/10-x.py": "def pre(x):\n    api.notify(x)\n"},
        audit_log=trail,
        api={"notify": lambda x: None, "delete_instance": lambda x: None},
    )

    @engine.hook("p")
    def act(x: str) -> None:
        pass

    text = "def pre(x):\n    api.notify(x)\n    api.delete_instance(x)\n"
    answered: list[str | None] = []

    def listener(event: hookyard.ReloadEvent) -> None:
        # told after the version serves: the status already shows it
        answered.append(next(s.version for s in engine.status() if s.file == event.file))

    events = Events(engine)
    engine.add_reload_listener(listener)
    with engine:
        write_inplace(engine.directory / "p/10-x.py", text)
        event = events.loaded(text)
    assert event.reach is not None
    assert event.reach.gained == ("calls api.delete_instance",)
    assert answered[-1] == event.new_version
    assert any("gained reach" in r.getMessage() for r in hook_log.records)
    loads = [json.loads(line) for line in trail.read_text().splitlines()]
    assert any(
        line["phase"] == "load" and line["version"] == event.new_version for line in loads
    ), loads


@BOTH_MODES
def test_a_refused_signature_is_refused_on_every_save(make_engine: MakeEngine) -> None:
    """A script whose ``pre`` cannot take its host function's calls is refused each time
    it is saved with those parameters again (new content, same parameters), and serves
    once they are fixed."""
    engine = make_engine({})
    events = Events(engine)

    @engine.hook("create")
    def create(name: str, flavor: str) -> None:
        pass

    path = engine.directory / "create" / "10-x.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    with engine:
        for i in range(3):
            start = events.mark()
            write_inplace(path, f"def pre(name):\n    log.info('v{i}')\n")
            event = events.wait_for(
                lambda e: not e.ok and "cannot take the call" in (e.error or ""),
                f"refusal {i}",
                start,
            )
            assert "pre(name) cannot take the call create(" in (event.error or "")
        fixed = "def pre(name, flavor):\n    log.info('fixed')\n"
        write_inplace(path, fixed)
        events.loaded(fixed)
    (status,) = engine.status()
    assert status.ok and status.error is None
