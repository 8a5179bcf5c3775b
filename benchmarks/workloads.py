"""The workloads and peers behind ``benchmarks/run.py`` (data, script sources, peers).

Kept apart from the harness so the figures in docs/performance.md can be traced to the
exact code that produced them.
"""

from __future__ import annotations

import copy
import functools
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy

# -- A: the bare pass-through decorator ------------------------------------------------------


def bare_decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The cheapest honest decorator: what any wrapper costs at least."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return wrapper


def host_function(x: int, y: int) -> int:
    return x + y


# -- B: pluggy 1.x with one implementation ---------------------------------------------------

_hookspec = pluggy.HookspecMarker("bench")
_hookimpl = pluggy.HookimplMarker("bench")


class _Spec:
    @_hookspec
    def compute(self, x: int, y: int) -> None:  # pragma: no cover - a spec
        """The hook spec."""


class _Impl:
    @_hookimpl
    def compute(self, x: int, y: int) -> None:
        return None


def pluggy_manager() -> pluggy.PluginManager:
    """A plugin manager with one no-op ``compute`` implementation registered."""
    manager = pluggy.PluginManager("bench")
    manager.add_hookspecs(_Spec)
    manager.register(_Impl())
    return manager


NOOP_PRE = """\
def pre(x, y):
    pass
"""
NOOP_POST = """\
def post(rv, x, y):
    pass
"""

# -- C: a JSON-like instance record (~30 keys, lists of dicts) -------------------------------


def instance_record() -> dict[str, Any]:
    """A Nova-like instance: 31 keys, nested dicts and lists of dicts (50 containers)."""
    return {
        "id": 42,
        "uuid": "3f2a6c1e-8b1d-4c5e-9a77-0d1f2e3a4b5c",
        "name": "web-1",
        "display_name": "Web server 1",
        "hostname": "web-1",
        "project_id": "p-123",
        "user_id": "u-456",
        "image_ref": "img-789",
        "kernel_id": None,
        "ramdisk_id": None,
        "launch_index": 0,
        "key_name": "ops",
        "power_state": 1,
        "vm_state": "active",
        "task_state": None,
        "memory_mb": 2048,
        "vcpus": 2,
        "root_gb": 20,
        "ephemeral_gb": 0,
        "host": "compute-7",
        "node": "compute-7.local",
        "availability_zone": "az1",
        "locked": False,
        "created_at": "2024-05-01T10:00:00Z",
        "updated_at": None,
        "flavor": {
            "name": "m1.small",
            "vcpus": 2,
            "ram": 2048,
            "disk": 20,
            "extra_specs": {"hw:cpu_policy": "shared", "quota:disk_read": 1000},
        },
        "metadata": {"role": "web", "tier": "frontend", "owner": "team-a"},
        "tags": ["web", "prod", "eu"],
        "networks": [
            {
                "id": f"net-{n}",
                "label": f"net{n}",
                "mac": f"fa:16:3e:00:00:0{n}",
                "ips": [
                    {
                        "address": f"10.0.{n}.{i}",
                        "version": 4,
                        "type": "fixed",
                        "floating": [{"address": f"172.24.{n}.{i}", "version": 4}],
                    }
                    for i in range(3)
                ],
            }
            for n in range(3)
        ],
        "volumes": [
            {"id": f"vol-{v}", "size": 10 * v, "device": f"/dev/vd{chr(98 + v)}", "attached": True}
            for v in range(4)
        ],
        "security_groups": [
            {"name": "default", "rules": [{"proto": "tcp", "port": p} for p in (22, 80, 443)]}
        ],
    }


def deepcopy_peer(fn: Callable[..., Any]) -> Callable[[Any], Any]:
    """What a host would write by hand: ``copy.deepcopy`` the argument, then call."""
    deepcopy = copy.deepcopy

    def call(value: Any) -> Any:
        return fn(deepcopy(value))

    return call


READ_PRE = """\
def pre(instance):
    instance.get("name")
"""

# -- D: a loop-heavy script body -------------------------------------------------------------

LOOP_SOURCE = '''\
def pre(n, words):
    """Loops, arithmetic and dict writes: a scoring pass over some data."""
    total = 0
    squares = {}
    for i in range(n):
        sq = i * i
        total += sq % 7
        squares[i % 64] = sq + total
    counts = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    for j, word in enumerate(words):
        total += j * len(word)
    k = 0
    while k < n:
        k += 4
        total -= 1
    return total
'''
LOOP_N = 2000
LOOP_WORDS = tuple(f"w{i % 37}" for i in range(400))


def native_function(source: str, name: str) -> Callable[..., Any]:
    """``name`` from ``source`` compiled by plain CPython (no sandbox, no budget)."""
    namespace: dict[str, Any] = {}
    exec(compile(source, "<native>", "exec"), namespace)
    function: Callable[..., Any] = namespace[name]
    return function


# -- E/F: many small scripts -----------------------------------------------------------------

SMALL_SCRIPT = '''\
"""Script {index}: validates a request and counts calls."""
import math

LIMIT = {index}


def pre(x, y=0, **options):
    if x > LIMIT:
        log.info("x above the limit: %s", x)
    state["calls"] = state.get("calls", 0) + 1


def post(rv, x, y=0, **options):
    total = 0
    for i in range(3):
        total += i * x
    return None if rv is None else math.floor(rv)
'''


def write_scripts(root: Path, count: int, *, points: int) -> list[Path]:
    """``count`` small scripts spread over ``points`` hook points; their paths."""
    paths = []
    for index in range(count):
        folder = root / f"point{index % points:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{index:05d}-script.py"
        path.write_text(textwrap.dedent(SMALL_SCRIPT.format(index=index)), encoding="utf-8")
        paths.append(path)
    return paths


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return root
