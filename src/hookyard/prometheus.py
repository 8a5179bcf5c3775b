"""Prometheus metrics for a hook engine: ``pip install 'hookyard[prometheus]'``.

```python
import hookyard
import hookyard.prometheus

engine = hookyard.HookEngine("hook_scripts")
hookyard.prometheus.register(engine)  # the default registry; expose it as usual
```

Exported (DESIGN.md "Observability", docs/fleet.md):

- ``hookyard_invocations_total{point,script,phase,outcome}``: script function calls, by
  outcome (``ok``, ``error``, ``veto``, ``replaced``, ``limit``, ``skipped``).
- ``hookyard_invocation_seconds{point,phase}``: how long each script function ran.
- ``hookyard_script_info{point,script,version,mode}``: 1 per serving script.
- ``hookyard_fingerprint_info{fingerprint}``: 1, labelled with ``engine.fingerprint()``.

``script`` is the file name in its point's folder (``10-validate.py``): the same on every
host, wherever the directory lives. The counts are kept by a small observer on the call
path (a dictionary update under a lock per script call, nothing while unregistered); the
families are built when the registry is scraped.
"""

from __future__ import annotations

import bisect
import threading
import time
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ._shadow import script_mode

if TYPE_CHECKING:
    from ._engine import HookEngine

__all__ = ["BUCKETS", "register", "unregister"]

# Script functions run for microseconds (a budget-free check) to the budget's limit.
BUCKETS = (
    0.00001,
    0.000025,
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


class _Counts:
    """The engine's observer: counts invocations and sorts durations into buckets."""

    __slots__ = ("_lock", "durations", "invocations")
    metered = True  # it sorts durations into buckets

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.invocations: dict[tuple[str, str, str, str], int] = {}
        # (point, phase) -> [count per bucket (the last one +Inf)], sum of seconds
        self.durations: dict[tuple[str, str], tuple[list[int], list[float]]] = {}

    def invocation(
        self,
        point: str,
        script: Any,
        phase: str,
        outcome: str,
        started: float,
        message: str | None,
        operations: int | None = None,
    ) -> None:
        seconds = time.perf_counter() - started if started else None
        key = (point, script.name, phase, outcome)
        with self._lock:
            self.invocations[key] = self.invocations.get(key, 0) + 1
            if seconds is not None:
                found = self.durations.get((point, phase))
                if found is None:
                    found = self.durations[(point, phase)] = ([0] * (len(BUCKETS) + 1), [0.0])
                found[0][bisect.bisect_left(BUCKETS, seconds)] += 1
                found[1][0] += seconds

    def snapshot(
        self,
    ) -> tuple[
        dict[tuple[str, str, str, str], int], dict[tuple[str, str], tuple[list[int], float]]
    ]:
        with self._lock:
            return dict(self.invocations), {
                key: (list(buckets), total[0]) for key, (buckets, total) in self.durations.items()
            }


class _Exporter(Collector):
    """One per registry: the metrics of every engine registered on it."""

    def __init__(self) -> None:
        self.engines: weakref.WeakKeyDictionary[HookEngine, _Counts] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def add(self, engine: HookEngine) -> None:
        with self._lock:
            if engine in self.engines:
                return
            counts = self.engines[engine] = _Counts()
        engine._add_observer(counts)

    def remove(self, engine: HookEngine) -> None:
        with self._lock:
            counts = self.engines.pop(engine, None)
        if counts is not None:
            engine._remove_observer(counts)

    def describe(self) -> list[Metric]:
        return list(self._families({}))

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            engines = list(self.engines.items())
        return self._families(dict(engines))

    def _families(self, engines: dict[HookEngine, _Counts]) -> Iterator[Metric]:
        invocations = CounterMetricFamily(
            "hookyard_invocations",
            "Hook script function calls, by outcome.",
            labels=("point", "script", "phase", "outcome"),
        )
        seconds = HistogramMetricFamily(
            "hookyard_invocation_seconds",
            "How long each hook script function ran, in seconds.",
            labels=("point", "phase"),
        )
        scripts = GaugeMetricFamily(
            "hookyard_script_info",
            "1 for each script serving calls, with its version (sha256 of the source).",
            labels=("point", "script", "version", "mode"),
        )
        fingerprints = GaugeMetricFamily(
            "hookyard_fingerprint_info",
            "1, labelled with the engine's fingerprint of every serving script's path and "
            "version: equal on every host serving the same files.",
            labels=("fingerprint",),
        )
        counted: dict[tuple[str, str, str, str], int] = {}
        timed: dict[tuple[str, str], tuple[list[int], float]] = {}
        serving: set[tuple[str, str, str, str]] = set()
        for engine, counts in engines.items():
            calls, durations = counts.snapshot()
            for key, value in calls.items():
                counted[key] = counted.get(key, 0) + value
            for where, (buckets, total) in durations.items():
                merged, merged_total = timed.get(where, ([0] * len(buckets), 0.0))
                timed[where] = (
                    [a + b for a, b in zip(merged, buckets, strict=True)],
                    total + merged_total,
                )
            for status in engine.status():
                if status.version is not None:
                    name = status.file.rsplit("/", 1)[-1]
                    serving.add((status.point, name, status.version, script_mode(name)))
            fingerprints.add_metric([engine.fingerprint()], 1.0)
        for (point, script, phase, outcome), value in sorted(counted.items()):
            invocations.add_metric([point, script, phase, outcome], value)
        for (point, phase), (buckets, total) in sorted(timed.items()):
            cumulative, running = [], 0
            for bound, count in zip((*BUCKETS, float("inf")), buckets, strict=True):
                running += count
                cumulative.append((_bound(bound), running))
            seconds.add_metric([point, phase], cumulative, total)
        for labels in sorted(serving):
            scripts.add_metric(list(labels), 1.0)
        yield from (invocations, seconds, scripts, fingerprints)


def _bound(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


_exporters: weakref.WeakKeyDictionary[CollectorRegistry, _Exporter] = weakref.WeakKeyDictionary()
_exporters_lock = threading.Lock()


def register(engine: HookEngine, registry: CollectorRegistry | None = None) -> None:
    """Export ``engine``'s metrics on ``registry`` (prometheus_client's default one if
    None). Registering the same engine again does nothing; several engines on one
    registry are summed."""
    target = REGISTRY if registry is None else registry
    with _exporters_lock:
        exporter = _exporters.get(target)
        if exporter is None:
            exporter = _exporters[target] = _Exporter()
            target.register(exporter)
    exporter.add(engine)


def unregister(engine: HookEngine, registry: CollectorRegistry | None = None) -> None:
    """Stop counting ``engine``'s invocations and exporting its metrics on ``registry``."""
    target = REGISTRY if registry is None else registry
    with _exporters_lock:
        exporter = _exporters.get(target)
    if exporter is not None:
        exporter.remove(engine)
