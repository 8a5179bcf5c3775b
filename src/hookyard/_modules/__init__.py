"""Modules a script may import: curated facades, never the real module objects.

A facade is a read-only namespace holding chosen attributes, each bounded by the script's
budget (docs/modules.md lists what every function is charged and why). It has no
``__name__`` of a real module, so ``from json import decoder`` cannot fall back to
``sys.modules`` the way CPython's ``IMPORT_FROM`` does for packages, and sub-modules are
never copied into it.

Only the modules of ``CATALOGUE`` can be offered (issue 14: no generic facades of
arbitrary modules, whose functions nobody bounded). The default allow-list is small:
``DEFAULT_MODULES``. Modules a host may never offer (they reach the file system,
processes, the interpreter or defeat the attribute guards) are refused with the reason:
``FORBIDDEN_MODULES``.

A module the host wrote for its scripts on purpose may declare itself a facade with a
module-level ``__hookyard_facade__`` tuple of the names it offers; the host then takes
responsibility for bounding those functions (hookyard's own isolation tests use this to
hand scripts stand-ins for an escape).
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._clock import c_imports, datetime_facade, time_facade
from ._codecs import base64_facade, hashlib_facade
from ._containers import collections_facade
from ._decimal import decimal_facade, fractions_facade
from ._iterators import bisect_facade, heapq_facade, itertools_facade
from ._json import json_facade
from ._numbers import math_facade, random_facade, statistics_facade
from ._re import make_re_facade
from ._text import string_facade, textwrap_facade
from ._typing import typing_facade
from ._values import ipaddress_facade, uuid_facade

__all__ = [
    "CATALOGUE",
    "C_IMPORTS",
    "DEFAULT_MODULES",
    "FORBIDDEN_MODULES",
    "TYPE_HINT_MODULES",
    "ModuleFacade",
    "c_import_facade",
    "facade_factories",
]

DEFAULT_MODULES: tuple[str, ...] = ("math", "json", "datetime", "random", "string", "re")
# Importable by every script whatever the host offers: not a module on offer but part of
# writing typed Python. Annotations are text to the engine, so its names are inert
# (_typing); a typed script loads under any `modules=`.
TYPE_HINT_MODULES: dict[str, Callable[[], Mapping[str, Any]]] = {"typing": typing_facade}

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

# name -> the attributes of one script's facade (called once per script and module: a
# script's own random generator, regular-expression cache, decimal context...)
_BUILDERS: dict[str, Callable[[], Mapping[str, Any]]] = {
    "base64": base64_facade,
    "bisect": bisect_facade,
    "collections": collections_facade,
    "datetime": datetime_facade,
    "decimal": decimal_facade,
    "fractions": fractions_facade,
    "hashlib": hashlib_facade,
    "heapq": heapq_facade,
    "ipaddress": ipaddress_facade,
    "itertools": itertools_facade,
    "json": json_facade,
    "math": math_facade,
    "random": random_facade,
    "re": make_re_facade,
    "statistics": statistics_facade,
    "string": string_facade,
    "textwrap": textwrap_facade,
    "time": time_facade,
    "uuid": uuid_facade,
}
CATALOGUE: tuple[str, ...] = tuple(sorted(_BUILDERS))
# Modules the C code of offered types imports through the script's import function while
# a script calls it (datetime.strftime -> time, datetime.strptime -> _strptime): facades
# for the engine's import function to hand out under these names (issue 14, "Dates").
C_IMPORTS: tuple[str, ...] = tuple(sorted(c_imports()))


class ModuleFacade:
    """A read-only stand-in for a module: only the attributes it was given.

    Its own state lives in dunder-named slots, which no script can name.
    """

    __slots__ = ("__facade_attributes__", "__facade_label__")

    def __init__(self, label: str, attributes: Mapping[str, Any]) -> None:
        object.__setattr__(self, "__facade_label__", label)
        object.__setattr__(self, "__facade_attributes__", dict(attributes))

    def __getattr__(self, name: str) -> Any:
        attributes: dict[str, Any] = object.__getattribute__(self, "__facade_attributes__")
        try:
            return attributes[name]
        except KeyError:
            label = object.__getattribute__(self, "__facade_label__")
            raise AttributeError(f"module {label!r} has no attribute {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("module attributes are read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("module attributes are read-only")

    def __dir__(self) -> Iterable[str]:
        return sorted(object.__getattribute__(self, "__facade_attributes__"))

    def __repr__(self) -> str:
        return f"<module {object.__getattribute__(self, '__facade_label__')!r} (hookyard facade)>"


def _curated(name: str) -> Callable[[], ModuleFacade]:
    build = _BUILDERS.get(name) or TYPE_HINT_MODULES[name]
    shared: list[ModuleFacade] = []  # the engine's one facade, when it holds no state

    def factory() -> ModuleFacade:
        if shared:
            return shared[0]
        attributes = build()
        facade = ModuleFacade(name, attributes)
        if all(_inert(value) for value in attributes.values()):
            # Nothing in it can hold a script's state, so the engine's scripts share it
            # (issue 17, figure E: `import math` built a facade per script, 3% of a first
            # load). A facade is read-only (no attribute writes, its slots dunder-named),
            # so one script cannot change what another sees. Anything that could hold
            # state (a class, an object, a bound method, a closure over a mutable value:
            # random's generator, re's cache) is built per script, as before.
            shared.append(facade)
        return facade

    return factory


_ATOMS = (int, float, complex, str, bytes, bool, type(None))
# Python functions are inert when no per-facade state hangs off them; how deep to look
# through closures over other functions (math's floor -> its rounding wrapper)
_INERT_DEPTH = 3


def _inert(value: Any, depth: int = _INERT_DEPTH) -> bool:
    """True for what no script can change and that keeps no state of its own: atoms,
    frozensets and tuples of them, module-level builtins, and Python functions whose
    defaults and closure cells are inert themselves."""
    kind = type(value)
    if kind in _ATOMS:
        return True
    if kind is frozenset or kind is tuple:
        return depth > 0 and all(_inert(item, depth - 1) for item in value)
    if kind is types.BuiltinFunctionType:
        # a builtin bound to an object (random.Random().random) keeps that object's state
        owner = value.__self__
        return owner is None or type(owner) is types.ModuleType
    if kind is types.FunctionType:
        if depth <= 0:
            return False
        try:  # (an empty cell raises ValueError: not known, so not inert)
            held = [cell.cell_contents for cell in value.__closure__ or ()]
        except ValueError:
            return False
        held += value.__defaults__ or ()
        held += (value.__kwdefaults__ or {}).values()
        return all(_inert(item, depth - 1) for item in held)
    return False


def _declared(name: str) -> Callable[[], ModuleFacade] | None:
    """A host module that declares ``__hookyard_facade__``, or None."""
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    names = getattr(module, "__hookyard_facade__", None)
    if not isinstance(names, tuple | list) or not all(isinstance(n, str) for n in names):
        return None
    attributes = {n: getattr(module, n) for n in names if not n.startswith("_")}

    def factory() -> ModuleFacade:
        return ModuleFacade(name, attributes)

    return factory


def c_import_facade(name: str) -> ModuleFacade:
    """The facade C code gets when it imports ``name`` (one of ``C_IMPORTS``) during a
    script's call; KeyError for any other name."""
    return ModuleFacade(name, c_imports()[name])


def facade_factories(names: Iterable[str]) -> dict[str, Callable[[], ModuleFacade]]:
    """Factories for the allowed modules; raises ValueError for a forbidden or unknown one.

    A factory is called on a script's first import of the module: each script gets its own
    facade (and its own ``random`` generator), except that a facade holding nothing that
    can keep state (``math``: functions and numbers) is made once per engine and shared.
    """
    factories: dict[str, Callable[[], ModuleFacade]] = {}
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"module names must be non-empty strings, not {name!r}")
        if name in _BUILDERS or name in TYPE_HINT_MODULES:
            factories[name] = _curated(name)
            continue
        root = name.split(".")[0]
        reason = FORBIDDEN_MODULES.get(root) or FORBIDDEN_MODULES.get(name)
        if reason is not None or root.startswith("_"):
            raise ValueError(
                f"module {name!r} cannot be offered to scripts ({reason or 'private'})"
            )
        factory = _declared(name)
        if factory is None:
            raise ValueError(
                f"module {name!r} has no curated facade, so it cannot be offered to scripts "
                f"(every function of an offered module must be bounded by the budget); "
                f"modules on offer: {', '.join(CATALOGUE)}"
            )
        factories[name] = factory
    for name in TYPE_HINT_MODULES:
        factories.setdefault(name, _curated(name))
    return factories
