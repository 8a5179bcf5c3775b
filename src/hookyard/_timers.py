"""One thread running keyed deferred actions: the watcher's delete graces, retries, checks.

A dict of deadlines and a condition variable rather than a ``threading.Timer`` per action:
an editor save can schedule and cancel a grace in a millisecond, and ``close()`` must be
able to drop every pending action and join a single thread (issue 3: timer threads are
cleaned up on close).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable

__all__ = ["Timers"]

logger = logging.getLogger("hookyard")


class Timers:
    """One thread running keyed deferred actions: delete graces, watch retries, checks.

    Tests drive it without the thread: pass a fake ``clock``, then call ``run_due()``.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._due: dict[Hashable, tuple[float, Callable[[], None]]] = {}
        self._closed = False
        self._thread: threading.Thread | None = None

    def call_later(
        self, key: Hashable, delay: float, action: Callable[[], None], *, keep_earlier: bool = False
    ) -> None:
        """Run ``action`` after ``delay`` seconds, replacing what ``key`` had scheduled.

        ``keep_earlier`` keeps an already scheduled, earlier deadline for ``key``.
        """
        with self._cond:
            if self._closed:
                return
            deadline = self._clock() + delay
            if keep_earlier and key in self._due:
                deadline = min(deadline, self._due[key][0])
            self._due[key] = (deadline, action)
            self._cond.notify()

    def cancel(self, key: Hashable) -> bool:
        """Forget ``key``'s action; True if one was pending."""
        with self._cond:
            return self._due.pop(key, None) is not None

    def pending(self) -> dict[Hashable, float]:
        """Each pending key with its deadline (for status and tests)."""
        with self._cond:
            return {key: deadline for key, (deadline, _) in self._due.items()}

    def run_due(self) -> None:
        """Run every action whose deadline has passed (outside the lock, in deadline order)."""
        with self._cond:
            now = self._clock()
            due = sorted(
                (
                    (deadline, key, action)
                    for key, (deadline, action) in self._due.items()
                    if deadline <= now
                ),
                key=lambda item: item[0],
            )
            for _, key, _ in due:
                del self._due[key]
        for _, key, action in due:
            try:
                action()
            except Exception:  # one failed action must not stop the others or the thread
                logger.exception("hookyard watcher: deferred action %r failed", key)

    def start(self) -> None:
        with self._cond:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(
                target=self._run, name="hookyard-watch-timers", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Drop everything pending and join the thread."""
        with self._cond:
            self._closed = True
            self._due.clear()
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    if self._due:
                        wait = min(deadline for deadline, _ in self._due.values()) - self._clock()
                        if wait <= 0:
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
                if self._closed:
                    return
            self.run_due()
