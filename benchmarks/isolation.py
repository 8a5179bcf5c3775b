"""Process isolation figures: round trip, throughput with host threads, worker replacement.

Run: ``.venv/bin/python benchmarks/isolation.py`` (not collected by pytest); ``--pin CPU``
runs the host, its workers and the pipe peer on one CPU. Every figure for process mode is
printed next to peers measured in the same run.

- **round trip**: one hooked call of a host function whose point has one ``pre`` and one
  ``post`` script (two files, so two worker round trips), p50/p90/p99 over many calls; the
  same with both hooks in one file; a bare call of the undecorated function; and a bare
  pipe round trip between two Python processes (write 40 bytes, the other side blocked in
  ``os.read`` echoes them): the floor a worker call cannot go under. Measured in
  interleaved rounds, so the load of a shared machine falls on all of them alike. Goals
  (issue 13): the two-file call's p50 at most 50 µs, and at most 3.5 times two bare pipe
  round trips.
- **throughput**: hooked calls per second with 1, 2, 4 and 8 host threads.
- **start-up**: making an engine (it starts one worker at once), with and without kernel
  confinement.
- **replacement**: a worker is SIGKILLed; time until the next call is served again (the
  call that finds it dead, then the call served by the replacement), with and without
  a spare worker kept started.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hookyard

PRE = "def pre(instance, flavor):\n    if not instance['name']:\n        raise Veto('no name')\n"
POST = "def post(rv, instance, flavor):\n    return None\n"
BOTH = PRE + POST
COUNT = "def post(rv, instance, flavor):\n    state['n'] = state.get('n', 0) + 1\n"
ARGS = ({"name": "web-1", "disks": [10, 20]}, "m1.small")


def make_dir(root: Path, scripts: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for relative, source in scripts.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


def hooked(engine: hookyard.HookEngine, **options: Any) -> Callable[..., Any]:
    @engine.hook("create", **options)
    def create(instance: dict[str, Any], flavor: str) -> dict[str, Any]:
        return {"id": 1, "flavor": flavor}

    return create


def latencies(fn: Callable[..., Any], n: int, out: list[float] | None = None) -> list[float]:
    out = [] if out is None else out
    clock = time.perf_counter_ns
    for _ in range(n):
        start = clock()
        fn(*ARGS)
        out.append((clock() - start) / 1000.0)
    return out


ECHO = "import os\nwhile True:\n    b = os.read(0, 65536)\n    if not b:\n        break\n    os.write(1, b)\n"


class Pipe:
    """A bare round trip to another Python process: the floor under any worker call."""

    def __init__(self) -> None:
        self.peer = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", ECHO],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        assert self.peer.stdin is not None and self.peer.stdout is not None
        self.wfd = self.peer.stdin.fileno()
        self.rfd = self.peer.stdout.fileno()

    def __call__(self, *args: Any) -> None:
        os.write(self.wfd, b"x" * 40)
        os.read(self.rfd, 65536)

    def close(self) -> None:
        assert self.peer.stdin is not None
        self.peer.stdin.close()
        self.peer.wait()


def interleaved(functions: dict[str, Callable[..., Any]], n: int) -> dict[str, list[float]]:
    """Latencies of each function, measured in alternating rounds (shared load, shared fate)."""
    for fn in functions.values():
        latencies(fn, min(n // 10, 500))  # warm up
    samples: dict[str, list[float]] = {name: [] for name in functions}
    rounds = 20
    for _ in range(rounds):
        for name, fn in functions.items():
            latencies(fn, max(n // rounds, 1), samples[name])
    for values in samples.values():
        values.sort()
    return samples


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))]


def throughput(fn: Callable[..., Any], threads: int, seconds: float) -> float:
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def work(i: int) -> None:
        n = 0
        while time.monotonic() < stop:
            fn(*ARGS)
            n += 1
        counts[i] = n

    started = time.monotonic()
    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def replacement(root: Path, spare: bool, rounds: int) -> tuple[list[float], list[float]]:
    """(ms until the dead worker is noticed, ms for the next call served by its replacement)."""
    engine = hookyard.HookEngine(
        make_dir(root / f"replace-{spare}", {"create/10-count.py": COUNT}),
        isolation=hookyard.ProcessIsolation(workers=1, spare=spare),
    )
    create = hooked(engine)
    pool = engine._pool  # the worker's pid: a benchmark may look inside (scripts cannot)
    assert pool is not None
    detect, serve = [], []
    try:
        for _ in range(rounds):
            create(*ARGS)
            pid = pool.pids()[0]  # the slot's worker (a spare comes after it)
            if spare:  # let the spare finish starting, as it would between kills in real life
                time.sleep(0.5)
            os.kill(pid, signal.SIGKILL)
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # it is dead before we call
            start = time.perf_counter()
            create(*ARGS)  # fails (isolate: logged), finding the worker gone
            middle = time.perf_counter()
            create(*ARGS)
            end = time.perf_counter()
            assert pool.pids()[0] != pid
            detect.append((middle - start) * 1000)
            serve.append((end - middle) * 1000)
    finally:
        engine.close()
    return detect, serve


def startup(root: Path, confine: str, rounds: int) -> float:
    """Median ms to make an engine with process isolation (one worker started at once)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        engine = hookyard.HookEngine(
            root, isolation=hookyard.ProcessIsolation(spare=False, confine=confine)
        )
        times.append((time.perf_counter() - start) * 1000)
        engine.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=2.0, help="per throughput figure")
    parser.add_argument("--rounds", type=int, default=10, help="worker kills per figure")
    parser.add_argument("--pin", type=int, default=None, metavar="CPU", help="run on one CPU")
    options = parser.parse_args()
    import logging

    logging.getLogger("hookyard").setLevel(logging.ERROR)  # the kills are expected
    if options.pin is not None:
        os.sched_setaffinity(0, {options.pin})  # workers and the pipe peer inherit it

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        two = make_dir(root / "two", {"create/10-pre.py": PRE, "create/20-post.py": POST})
        one = make_dir(root / "one", {"create/10-both.py": BOTH})
        engines = {
            ("inline", "2 files"): hookyard.HookEngine(two),
            ("process", "2 files"): hookyard.HookEngine(two, isolation="process"),
            ("inline", "1 file"): hookyard.HookEngine(one),
            ("process", "1 file"): hookyard.HookEngine(one, isolation="process"),
            # the price of kernel confinement (seccomp runs its filter on every call)
            ("process", "2 files, confine='off'"): hookyard.HookEngine(
                two, isolation=hookyard.ProcessIsolation(confine="off")
            ),
        }
        functions = {key: hooked(engine) for key, engine in engines.items()}

        def bare(instance: dict[str, Any], flavor: str) -> dict[str, Any]:
            return {"id": 1, "flavor": flavor}

        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        pinned = f", pinned to CPU {options.pin}" if options.pin is not None else ""
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs{pinned}, load {load}")
        print(f"\nround trip of one hooked call (1 pre + 1 post), {options.calls:,} calls, µs")
        print(f"{'':28}{'p50':>9}{'p90':>9}{'p99':>9}")
        pipe = Pipe()
        measured = {"bare function": bare, "bare pipe round trip": pipe}
        measured.update({f"{key[0]}, {key[1]}": fn for key, fn in functions.items()})
        samples = interleaved(measured, options.calls)
        pipe.close()
        for label, values in samples.items():
            print(
                f"{label:28}{pct(values, 0.5):9.2f}{pct(values, 0.9):9.2f}{pct(values, 0.99):9.2f}"
            )
        p50 = {label: pct(values, 0.5) for label, values in samples.items()}
        for files in ("2 files", "1 file"):
            ratio = p50[f"process, {files}"] / p50[f"inline, {files}"]
            print(f"process / inline p50, {files}: {ratio:.1f}x")
        floor = 2 * p50["bare pipe round trip"]
        call = p50["process, 2 files"]
        print(
            f"process, 2 files p50 / two bare pipe round trips: {call:.1f} / {floor:.1f} = "
            f"{call / floor:.2f}x (goal <= 3.5); p50 {call:.1f} µs (goal <= 50)"
        )

        print(f"\nthroughput, hooked calls per second (2 files), {options.seconds:g} s each")
        print(f"{'threads':>8}{'inline':>12}{'process':>12}{'ratio':>8}")
        for threads in (1, 2, 4, 8):
            inline = throughput(functions[("inline", "2 files")], threads, options.seconds)
            process = throughput(functions[("process", "2 files")], threads, options.seconds)
            print(f"{threads:>8}{inline:>12,.0f}{process:>12,.0f}{process / inline:>8.2f}")
        for engine in engines.values():
            engine.close()

        print("\nmaking an engine with process isolation (one worker started), ms (median)")
        for confine in ("auto", "off"):
            print(f"confine={confine!r:7}: {startup(one, confine, options.rounds):7.2f}")

        print(f"\nreplacing a SIGKILLed worker, {options.rounds} kills each, ms (median)")
        for spare in (True, False):
            detect, serve = replacement(root, spare, options.rounds)
            print(
                f"spare={spare!s:5}: dead worker noticed {statistics.median(detect):7.2f}"
                f", next call served by its replacement {statistics.median(serve):7.2f}"
            )


if __name__ == "__main__":
    main()
