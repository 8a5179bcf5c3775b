"""Modules a script may import: safe facades, never the real module objects.

A facade is a read-only namespace holding chosen attributes. It has no ``__name__`` of a
real module, so ``from json import decoder`` cannot fall back to ``sys.modules`` the way
CPython's ``IMPORT_FROM`` does for packages, and sub-modules are never copied into it.

The default allow-list is small, and each entry is there for a reason:

- ``math``: pure functions; ``factorial``, ``comb``, ``perm``, ``prod``, ``lcm`` are
  size-checked, ``fsum``, ``dist`` (and ``sumprod``) bounded like any iteration.
- ``json``: ``dumps``/``loads`` only, with no hooks (``cls``, ``default``, ``object_hook``)
  output size (indent included) is checked before it is built.
- ``datetime``: immutable value types.
- ``random``: each script gets its own ``random.Random`` (the global random state is shared
  process state); ``sample``/``choices``/``getrandbits`` sizes are checked.
- ``string``: the constants only (``string.Formatter`` walks attributes: CVE-2024-47532).
- ``re`` is *not* in the default list: a catastrophic backtracking pattern is one long C
  call no in-process budget can interrupt. A host may add it knowingly.

Modules a host may never offer (they reach the file system, processes, the interpreter or
defeat the attribute guards): see ``FORBIDDEN_MODULES``.
"""

from __future__ import annotations

import datetime
import json
import math
import random
import string
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import _guards
from ._budget import current_budget

__all__ = ["DEFAULT_MODULES", "FORBIDDEN_MODULES", "ModuleFacade", "facade_factories"]

DEFAULT_MODULES: tuple[str, ...] = ("math", "json", "datetime", "random", "string")

FORBIDDEN_MODULES: dict[str, str] = {
    "os": "file system and processes",
    "sys": "interpreter internals",
    "builtins": "the unguarded builtins",
    "io": "file system",
    "pathlib": "file system",
    "shutil": "file system",
    "tempfile": "file system",
    "glob": "file system",
    "subprocess": "processes",
    "multiprocessing": "processes",
    "threading": "threads outlive the budget",
    "_thread": "threads outlive the budget",
    "signal": "process signals",
    "socket": "network",
    "ssl": "network",
    "http": "network",
    "urllib": "network",
    "asyncio": "event loops, network and processes",
    "ctypes": "raw memory",
    "gc": "interpreter internals (gc.get_objects reaches every object)",
    "inspect": "frames and interpreter internals",
    "types": "code and function construction",
    "importlib": "imports outside the allow-list",
    "pickle": "arbitrary object construction",
    "marshal": "code objects",
    "copyreg": "arbitrary object construction",
    "operator": "attrgetter/methodcaller bypass the attribute guards",
    "functools": "partial objects expose the wrapped callable",
    "code": "arbitrary code",
    "codeop": "arbitrary code",
    "weakref": "interpreter internals",
    "posix": "file system and processes",
}


class ModuleFacade:
    """A read-only stand-in for a module: only the attributes it was given."""

    __slots__ = ("_attributes", "_label")

    def __init__(self, label: str, attributes: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_label", label)
        object.__setattr__(self, "_attributes", dict(attributes))

    def __getattr__(self, name: str) -> Any:
        attributes: dict[str, Any] = object.__getattribute__(self, "_attributes")
        try:
            return attributes[name]
        except KeyError:
            label = object.__getattribute__(self, "_label")
            raise AttributeError(f"module {label!r} has no attribute {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("module attributes are read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("module attributes are read-only")

    def __dir__(self) -> Iterable[str]:
        return sorted(object.__getattribute__(self, "_attributes"))

    def __repr__(self) -> str:
        return f"<module {object.__getattribute__(self, '_label')!r} (hookyard facade)>"


def _public(module: types.ModuleType, names: Iterable[str] | None = None) -> dict[str, Any]:
    chosen = names if names is not None else [n for n in dir(module) if not n.startswith("_")]
    return {
        name: getattr(module, name)
        for name in chosen
        if not isinstance(getattr(module, name), types.ModuleType)
    }


def _math_facade() -> ModuleFacade:
    attributes = _public(math)
    attributes.update(
        factorial=_guards.safe_factorial,
        comb=_guards.safe_comb,
        perm=_guards.safe_perm,
        prod=_guards.safe_math_prod,
        fsum=lambda iterable: math.fsum(_guards.getiter(iterable)),
        lcm=_guards.safe_lcm,
        dist=_guards.safe_dist,
    )
    if "sumprod" in attributes:  # Python 3.12+: two iterables consumed in C
        attributes["sumprod"] = lambda p, q: math.sumprod(  # type: ignore[attr-defined]
            _guards.getiter(p), _guards.getiter(q)
        )
    return ModuleFacade("math", attributes)


def _json_dumps(
    obj: Any,
    *,
    indent: int | str | None = None,
    sort_keys: bool = False,
    separators: tuple[str, str] | None = None,
    ensure_ascii: bool = True,
) -> str:
    budget = current_budget()
    estimate = _guards.repr_size(obj, budget.limits.size)
    if indent is not None:
        # every item may land on its own line, indented: the indent multiplies the size
        width = indent if isinstance(indent, int) else len(str(indent))
        estimate *= 2 + max(width, 0)
    budget.charge_size(estimate, "json text")
    return json.dumps(
        obj, indent=indent, sort_keys=sort_keys, separators=separators, ensure_ascii=ensure_ascii
    )


def _json_loads(s: str | bytes) -> Any:
    if not isinstance(s, str | bytes):
        raise TypeError("json.loads takes a str or bytes")
    current_budget().charge_size(len(s), "json text")
    return json.loads(s)


def _json_facade() -> ModuleFacade:
    return ModuleFacade(
        "json",
        {"dumps": _json_dumps, "loads": _json_loads, "JSONDecodeError": json.JSONDecodeError},
    )


def _datetime_facade() -> ModuleFacade:
    return ModuleFacade(
        "datetime",
        _public(
            datetime,
            ["date", "datetime", "time", "timedelta", "timezone", "MINYEAR", "MAXYEAR", "UTC"],
        ),
    )


def _string_facade() -> ModuleFacade:
    return ModuleFacade(
        "string",
        _public(
            string,
            [
                "ascii_letters",
                "ascii_lowercase",
                "ascii_uppercase",
                "digits",
                "hexdigits",
                "octdigits",
                "punctuation",
                "printable",
                "whitespace",
                "capwords",
            ],
        ),
    )


def _random_facade() -> ModuleFacade:
    # One generator per script: the module-level random state is shared by the whole
    # process, and seeding it from a script would steer the host's randomness.
    generator = random.Random()

    def sample(population: Any, k: int, *, counts: Any = None) -> list[Any]:
        current_budget().charge_size(k if isinstance(k, int) else 0, "random.sample")
        items = _guards.materialize(population, "random.sample population")
        return generator.sample(items, k, counts=counts)

    def choices(
        population: Any, weights: Any = None, *, cum_weights: Any = None, k: int = 1
    ) -> list[Any]:
        current_budget().charge_size(k if isinstance(k, int) else 0, "random.choices")
        return generator.choices(population, weights, cum_weights=cum_weights, k=k)

    def getrandbits(k: int) -> int:
        current_budget().charge_bits(k if isinstance(k, int) else 0, "random.getrandbits")
        return generator.getrandbits(k)

    def randbytes(n: int) -> bytes:
        current_budget().charge_size(n if isinstance(n, int) else 0, "random.randbytes")
        return generator.randbytes(n)

    attributes: dict[str, Any] = {
        name: getattr(generator, name)
        for name in (
            "random",
            "uniform",
            "randint",
            "randrange",
            "choice",
            "shuffle",
            "gauss",
            "normalvariate",
            "triangular",
            "betavariate",
            "expovariate",
            "lognormvariate",
            "vonmisesvariate",
            "paretovariate",
            "weibullvariate",
            "seed",
        )
    }
    attributes.update(sample=sample, choices=choices, getrandbits=getrandbits, randbytes=randbytes)
    return ModuleFacade("random", attributes)


_FACTORIES: dict[str, Callable[[], ModuleFacade]] = {
    "math": _math_facade,
    "json": _json_facade,
    "datetime": _datetime_facade,
    "string": _string_facade,
    "random": _random_facade,
}


def _generic_factory(name: str) -> Callable[[], ModuleFacade]:
    module = __import__(name, fromlist=["_"])
    attributes = _public(module)

    def factory() -> ModuleFacade:
        return ModuleFacade(name, attributes)

    return factory


def facade_factories(names: Iterable[str]) -> dict[str, Callable[[], ModuleFacade]]:
    """Factories for the allowed modules; raises ValueError for a forbidden or missing one.

    A factory is called once per script (each script gets its own facades, and its own
    ``random`` generator).
    """
    factories: dict[str, Callable[[], ModuleFacade]] = {}
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"module names must be non-empty strings, not {name!r}")
        root = name.split(".")[0]
        reason = FORBIDDEN_MODULES.get(root) or FORBIDDEN_MODULES.get(name)
        if reason is not None or root.startswith("_"):
            raise ValueError(
                f"module {name!r} cannot be offered to scripts ({reason or 'private'})"
            )
        factory = _FACTORIES.get(name)
        if factory is None:
            try:
                factory = _generic_factory(name)
            except ImportError as exc:
                raise ValueError(f"module {name!r} cannot be imported: {exc}") from None
        factories[name] = factory
    return factories
