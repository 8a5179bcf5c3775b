"""watchdog events -> engine.reload_path. (Hardened by the hot-reload work.)"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

if TYPE_CHECKING:
    from ._engine import HookEngine

__all__ = ["Watcher"]

logger = logging.getLogger("hookyard")


class _Handler(FileSystemEventHandler):
    def __init__(self, engine: HookEngine) -> None:
        self.engine = engine

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            for path in (event.src_path, getattr(event, "dest_path", "")):
                if path:
                    self.engine.reload_path(str(path) if isinstance(path, str) else path.decode())
        except Exception:  # never kill the watcher thread
            logger.exception("hookyard watcher failed handling %r", event)


class Watcher:
    def __init__(self, engine: HookEngine, *, polling: bool = False) -> None:
        self.engine = engine
        self.observer: Any = PollingObserver() if polling else Observer()
        self.observer.schedule(_Handler(engine), str(engine.directory), recursive=True)

    def start(self) -> None:
        self.observer.start()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join()
