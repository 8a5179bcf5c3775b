"""Checks of the options a host passes to ``HookEngine`` and ``@engine.hook``.

A wrong type is a ``TypeError`` naming the option and the shape it takes, with an
example; a value of the right type that cannot work is a ``ValueError``. Checked when the
engine is made, before anything is read (issue 18: ``api=["notify"]`` used to fail with
"dictionary update sequence element #0 has length 6", ``modules="math"`` with "module 'm'
cannot be imported").
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ._budget import Limits
from ._cache import USER_CACHE
from ._isolation import ProcessIsolation
from ._trail import AuditLog

__all__ = ["check_api", "check_engine_options", "check_modules", "check_point_options"]


def _kind(value: object) -> str:
    """How a message names what was given: ``a list``, ``None``."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"an {name}" if name[:1] in "aeiouAEIOU" else f"a {name}"


def check_api(api: object) -> dict[str, Callable[..., Any]]:
    """``api=``: a mapping of the names scripts call as ``api.NAME`` to host functions."""
    if api is None:
        return {}
    if not isinstance(api, Mapping):
        raise TypeError(
            "api must be a mapping of names to host functions, e.g. "
            f"api={{'notify': notify}}, not {_kind(api)}"
        )
    functions: dict[str, Callable[..., Any]] = {}
    for name, function in api.items():
        if not isinstance(name, str):
            raise TypeError(f"api names must be str (scripts call api.NAME), not {_kind(name)}")
        if not name.isidentifier():
            raise ValueError(f"api name {name!r} is not a name scripts can write as api.NAME")
        if not callable(function):
            raise TypeError(
                f"api[{name!r}] must be a function scripts may call, not {_kind(function)}"
            )
        functions[name] = function
    return functions


def check_modules(modules: object) -> tuple[str, ...]:
    """``modules=``: a collection of module names, never one name on its own."""
    if isinstance(modules, str | bytes) or not isinstance(modules, Iterable):
        raise TypeError(
            "modules must be a collection of module names, e.g. modules=('math', 'json'), "
            f"not {_kind(modules)}"
        )
    names = tuple(modules)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"modules must hold module names (str), not {_kind(name)}")
    return names


def _number(name: str, value: object, example: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, e.g. {example}, not {_kind(value)}")
    return float(value)


def check_engine_options(
    *,
    directory: object,
    limits: object,
    strict_modes: object,
    max_script_bytes: object,
    isolation: object,
    polling: object,
    delete_grace: object,
    audit_log: object,
    cache_dir: object = USER_CACHE,
) -> Path:
    """Check the options ``HookEngine`` takes as they are; the directory as a Path.

    ``api`` and ``modules`` are checked by ``check_api`` and ``check_modules``, which
    return them in the shape the engine keeps.
    """
    if not isinstance(directory, str | os.PathLike):
        raise TypeError(
            "the hook directory must be a path (str or pathlib.Path), e.g. "
            f"HookEngine('hook_scripts'), not {_kind(directory)}"
        )
    path = Path(directory)
    if limits is not None and not isinstance(limits, Limits):
        raise TypeError(
            "limits must be a hookyard.Limits, e.g. limits=hookyard.Limits(operations=100_000), "
            f"not {_kind(limits)}"
        )
    if not isinstance(strict_modes, bool):
        raise TypeError(f"strict_modes must be True or False, not {_kind(strict_modes)}")
    if isinstance(max_script_bytes, bool) or not isinstance(max_script_bytes, int):
        raise TypeError(
            f"max_script_bytes must be an int, e.g. max_script_bytes=512 * 1024, "
            f"not {_kind(max_script_bytes)}"
        )
    if max_script_bytes < 1:
        raise ValueError(f"max_script_bytes must be at least 1, not {max_script_bytes}")
    if not isinstance(isolation, str | ProcessIsolation):
        raise TypeError(
            "isolation must be 'inline', 'process' or a hookyard.ProcessIsolation, "
            f"not {_kind(isolation)}"
        )
    if not isinstance(polling, bool):
        interval = _number("polling", polling, "polling=True or polling=2.0")
        if not math.isfinite(interval) or interval <= 0:
            raise ValueError(
                f"polling must be a bool or an interval in seconds > 0, not {polling!r}"
            )
    grace = _number("delete_grace", delete_grace, "delete_grace=0.2")
    if not math.isfinite(grace) or grace < 0:
        raise ValueError(f"delete_grace must be seconds >= 0, not {delete_grace!r}")
    _check_audit_log(audit_log)
    _check_cache_dir(cache_dir)
    return path


def _check_cache_dir(cache_dir: object) -> None:
    if cache_dir is None or cache_dir is USER_CACHE:
        return
    if not isinstance(cache_dir, str | os.PathLike):
        raise TypeError(
            "cache_dir must be a directory path (str or pathlib.Path) or None (no cache), "
            f"e.g. cache_dir='/var/cache/myapp/hookyard', not {_kind(cache_dir)}"
        )
    if not os.fspath(cache_dir):
        raise ValueError("cache_dir must name a directory (or be None for no cache), not ''")


def _check_audit_log(audit_log: object) -> None:
    if audit_log is not None and not isinstance(audit_log, str | os.PathLike | AuditLog):
        raise TypeError(
            "audit_log must be a file path or a hookyard.audit.AuditLog, e.g. "
            f"audit_log='audit.jsonl', not {_kind(audit_log)}"
        )


def check_point_options(name: object, result: object, on_error: object, veto: object) -> None:
    """``@engine.hook(name, result=, on_error=, veto=)``: types first (values are
    ``PointOptions``'s to check)."""
    if not isinstance(name, str):
        raise TypeError(f"a hook point's name must be a str, e.g. 'create', not {_kind(name)}")
    for option, value, example in (
        ("result", result, "'keep' or 'replace'"),
        ("on_error", on_error, "'isolate' or 'raise'"),
    ):
        if not isinstance(value, str):
            raise TypeError(f"{option} must be {example}, not {_kind(value)}")
    if not isinstance(veto, bool):
        raise TypeError(f"veto must be True or False, not {_kind(veto)}")
