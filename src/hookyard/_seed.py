"""The seed's spelling: ``@add_hook("create")`` on a default engine made by ``configure()``.

The one piece of module-level state hookyard keeps (STYLE.md): the default engine, the
points ``add_hook`` declared (they outlive each ``configure()``) and their host functions'
signatures, which the next engine checks its scripts against.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from ._engine import HookEngine, Hosts, declare_host
from ._hookpoint import Point, PointOptions, make_hooked
from ._options import check_point_options
from ._paths import is_point_name

__all__ = ["add_hook", "configure", "default_engine"]

F = TypeVar("F", bound=Callable[..., Any])

_default_points: dict[str, Point] = {}
_default_hosts: Hosts = {}
_default_engine: HookEngine | None = None
_default_lock = threading.Lock()


def configure(directory: str | Path, **engine_options: Any) -> HookEngine:
    """Create (or replace) the default engine that ``add_hook`` decorations use."""
    global _default_engine
    with _default_lock:
        if _default_engine is not None:
            _default_engine.close()
        _default_engine = HookEngine(
            directory, _points=_default_points, _hosts=_default_hosts, **engine_options
        )
        return _default_engine


def add_hook(
    name: str,
    *,
    result: Literal["keep", "replace"] = "keep",
    on_error: Literal["isolate", "raise"] = "isolate",
    veto: bool = False,
) -> Callable[[F], F]:
    """``@add_hook("create")``: hook onto the default engine (see ``configure``).

    May be used before ``configure()``: the point runs no scripts until it is called.
    """
    check_point_options(name, result, on_error, veto)
    if not is_point_name(name) or "/" in name:
        raise ValueError(f"hook point names must be plain folder names, not {name!r}")
    options = PointOptions(result=result, on_error=on_error, veto=veto)
    with _default_lock:
        point = _default_points.get(name)
        if point is None:
            point = _default_points[name] = Point(name)

    def decorate(fn: F) -> F:
        def declare(skip: int) -> None:
            with _default_lock:
                engine = _default_engine
                if engine is None:
                    declare_host(_default_hosts, name, fn, skip)  # checked by configure()
                    return
            engine._declare(name, fn, skip)

        hooked: F = make_hooked(fn, point, options, declare)
        return hooked

    return decorate


def default_engine() -> HookEngine | None:
    """The engine ``configure()`` made, if any."""
    return _default_engine
