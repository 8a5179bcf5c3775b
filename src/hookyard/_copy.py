"""Copying values across the host/script boundary.

Only plain data crosses: ``None``, bool, int, float, complex, str, bytes, the ``datetime``
and ``decimal`` value types, and dict, list, tuple, set and frozenset of those. Containers
are copied with ``copy.deepcopy``'s semantics (shared references stay shared, cycles stay
cycles) by a copier specialised for these types; immutable values are handed over as they
are. Anything else (functions, classes, generators, instances) is refused with
``BoundaryError`` naming its type, except a few host-side conveniences going *into* a
script: dataclass instances become dicts, enums their value, and subclasses of the plain
containers their plain base.

Exceptions never cross as objects: ``rebuild_exception`` makes a fresh one from the type
name and message (no ``.obj``, ``.filename``, traceback or frames ride along).
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import hashlib
import logging
import os
import sys
import types
import uuid
from collections.abc import Callable
from typing import Any

from .errors import BoundaryError

__all__ = [
    "ATOMS",
    "IMMUTABLE",
    "IMPLEMENTATION",
    "args_to_script",
    "arguments_to_script",
    "check_host_safe",
    "kwargs_to_script",
    "rebuild_exception",
    "safe_message",
    "to_host",
    "to_script",
]

ATOMS: frozenset[type] = frozenset(
    {
        type(None),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        datetime.date,
        datetime.timedelta,
        datetime.timezone,
        decimal.Decimal,
        fractions.Fraction,
        uuid.UUID,
        range,
        type(Ellipsis),
    }
)


# The copier. Two families share one shape: `to_script` (host data going in, with the host
# conveniences of `_host_value`) and `to_host` (script data coming out, `_refuse` for
# anything that is not plain). Design, measured in docs/performance.md (issue 6):
#
# - immutable atoms are never copied or memoised (deepcopy does the same);
# - a dict or list is first copied whole in C (`x.copy()`), then only its non-atom entries
#   are replaced by their copies: the Python loop does a type test per entry and real work
#   only for the nested containers;
# - a tuple (or frozenset) holding only atoms is handed over as it is (immutable: nothing
#   to isolate), as deepcopy does for tuples;
# - the memo (id -> copy) holds every container copied, registered *before* its contents,
#   so shared references stay shared and cycles stay cycles, as with `copy.deepcopy`.
#
# Memo keys are ids, so every object whose id is a key must stay alive until the copy is
# done: the originals are (they are reachable from the value being copied); temporaries
# the host conveniences make are kept in memo[_KEEP_ALIVE].

_KEEP_ALIVE = -1  # never an id
# How deep a value may nest to cross (containers within containers). Bounded by an
# explicit count, not by the interpreter's recursion limit: CPython 3.13.0 does not check
# that limit on some specialised calls (issue 11), and a value that crosses must stay
# safe for the host to print, compare, copy and JSON-encode under the default recursion
# limit (copy.deepcopy spends about three frames per level).
MAX_NESTING = 100
_NESTED_TOO_DEEPLY = (
    f"a value nested too deeply (more than {MAX_NESTING} containers within each other) "
    "cannot cross between script and host"
)

Memo = dict[int, Any]
Foreign = Callable[[Any, Memo, int], Any]


class _TooDeep(Exception):
    """Internal: the copy went past MAX_NESTING (becomes BoundaryError at the entry)."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Copier:
    """One direction's copy functions (closures: the hot loop reads no attributes)."""

    value: Callable[[Any, Memo, int], Any]
    tuple: Callable[[tuple[Any, ...], Memo, int], Any]
    container: Callable[[Any, Memo, int], Any]  # subclasses of the plain containers


def _python_copier(foreign: Foreign) -> _Copier:
    """The copier for one direction; ``foreign(x, memo, depth)`` handles what is not plain.

    ``depth`` counts the containers above ``x``; past MAX_NESTING the copy stops.
    """
    atoms = ATOMS
    deepest = MAX_NESTING

    def copy_value(x: Any, memo: Memo, depth: int) -> Any:
        cls = type(x)
        if cls in atoms:
            return x
        done = memo.get(id(x))
        if done is not None:
            return done
        if cls is dict:
            return copy_dict(x, memo, depth, None)
        if cls is list:
            return copy_list(x, memo, depth, None)
        if cls is tuple:
            return copy_tuple(x, memo, depth)
        if cls is set or cls is frozenset:
            return copy_set(x, memo, depth)
        return foreign(x, memo, depth)

    def copy_dict(x: dict[Any, Any], memo: Memo, depth: int, new: dict[Any, Any] | None) -> Any:
        if depth >= deepest:
            raise _TooDeep
        if new is None:
            new = x.copy()
        memo[id(x)] = new
        depth += 1
        for key, value in x.items():
            if type(key) is not str and type(key) not in atoms:
                return rekey_dict(x, memo, depth, new)
            if type(value) not in atoms:
                done = memo.get(id(value))
                if done is None:
                    cls = type(value)
                    if cls is dict:
                        done = copy_dict(value, memo, depth, None)
                    elif cls is list:
                        done = copy_list(value, memo, depth, None)
                    else:
                        done = copy_value(value, memo, depth)
                new[key] = done
        return new

    def rekey_dict(x: dict[Any, Any], memo: Memo, depth: int, new: dict[Any, Any]) -> Any:
        # a key that is not an atom (a tuple, a frozenset, something foreign): keys cannot
        # be replaced in place, so refill `new` (already in the memo) in the same order
        items = list(x.items())
        new.clear()
        for key, value in items:
            new[copy_value(key, memo, depth)] = copy_value(value, memo, depth)
        return new

    def copy_list(x: list[Any], memo: Memo, depth: int, new: list[Any] | None) -> Any:
        if depth >= deepest:
            raise _TooDeep
        if new is None:
            new = x.copy()
        memo[id(x)] = new
        depth += 1
        index = 0
        for value in x:
            if type(value) not in atoms:
                done = memo.get(id(value))
                if done is None:
                    cls = type(value)
                    if cls is dict:
                        done = copy_dict(value, memo, depth, None)
                    elif cls is list:
                        done = copy_list(value, memo, depth, None)
                    else:
                        done = copy_value(value, memo, depth)
                new[index] = done
            index += 1  # noqa: SIM113 - a counter is cheaper than enumerate's tuples here
        return new

    def copy_tuple(x: tuple[Any, ...], memo: Memo, depth: int) -> Any:
        for value in x:
            if type(value) not in atoms:
                break
        else:
            return x  # atoms only: immutable all the way down
        if depth >= deepest:
            raise _TooDeep
        depth += 1
        items = [copy_value(value, memo, depth) for value in x]
        key = id(x)
        done = memo.get(key)
        if done is not None:  # the tuple was reached again through a cycle
            return done
        result = x if all(a is b for a, b in zip(items, x, strict=True)) else tuple(items)
        memo[key] = result
        return result

    def copy_set(x: set[Any] | frozenset[Any], memo: Memo, depth: int) -> Any:
        cls = type(x)
        for value in x:
            if type(value) not in atoms:
                break
        else:
            return x if cls is frozenset else x.copy()
        if depth >= deepest:
            raise _TooDeep
        depth += 1
        items = [copy_value(value, memo, depth) for value in x]
        key = id(x)
        done = memo.get(key)
        if done is not None:  # a cycle through a member (only possible via tuples)
            return done
        new = cls(items)
        memo[key] = new
        return new

    def foreign_container(x: Any, memo: Memo, depth: int) -> Any:
        """A subclass of a plain container becomes its plain base (contents copied).

        Its storage is read by the base type's own C methods (``dict.copy``,
        ``tuple.__getitem__`` of a full slice...), never by methods the subclass may
        override: no code of the host's class, or of a script's, runs here."""
        if isinstance(x, dict):
            return copy_dict(x, memo, depth, dict.copy(x))
        if isinstance(x, list):
            return copy_list(x, memo, depth, list.copy(x))
        if isinstance(x, tuple):
            plain: Any = tuple.__getitem__(x, slice(None))
        elif isinstance(x, set):
            plain = set.copy(x)
        elif isinstance(x, frozenset):
            plain = frozenset.copy(x)
        else:
            return _NOT_A_CONTAINER
        memo.setdefault(_KEEP_ALIVE, []).append(plain)
        done = copy_value(plain, memo, depth)
        memo[id(x)] = done
        return done

    return _Copier(copy_value, copy_tuple, foreign_container)


_NOT_A_CONTAINER: Any = object()


# Immutable values handed over as they are once their tzinfo is checked (not in ATOMS: a
# tzinfo other than the standard library's timezone runs code of its own).
IMMUTABLE: frozenset[type] = ATOMS | {datetime.datetime, datetime.time}


def _plain_tz(x: Any) -> bool:
    tz = x.tzinfo
    return tz is None or type(tz) is datetime.timezone


def _refuse(x: Any, memo: Memo, depth: int) -> Any:
    cls = type(x)
    if cls is datetime.datetime or cls is datetime.time:
        if _plain_tz(x):
            return x
        raise BoundaryError(
            f"a {cls.__name__} whose tzinfo is a {type(x.tzinfo).__name__} cannot cross "
            "between script and host: only datetime.timezone may"
        )
    raise BoundaryError(
        f"a {_describe(x)} cannot cross between script and host: only plain data "
        "(None, bool, int, float, str, bytes, dates, dict, list, tuple, set) may"
    )


def _host_value(x: Any, memo: Memo, depth: int) -> Any:
    """Host conveniences going into a script: dataclasses, enums, plain-type subclasses,
    and dates whose tzinfo becomes a fixed ``timezone`` (a ``zoneinfo.ZoneInfo`` or any
    other tzinfo is a host object with methods and shared caches of its own)."""
    cls = type(x)
    if cls is datetime.datetime or cls is datetime.time:
        if _plain_tz(x):
            return x
        offset = x.utcoffset()
        name = x.tzname()
        fixed = (
            None
            if offset is None
            else datetime.timezone(offset, name)
            if isinstance(name, str)
            else datetime.timezone(offset)
        )
        return x.replace(tzinfo=fixed)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        if depth >= MAX_NESTING:
            raise _TooDeep
        result: dict[str, Any] = {}
        memo[id(x)] = result
        for field in dataclasses.fields(x):
            result[field.name] = _TO_SCRIPT.value(getattr(x, field.name), memo, depth + 1)
        return result
    if isinstance(x, enum.Enum):
        return _TO_SCRIPT.value(x.value, memo, depth)
    done = _TO_SCRIPT.container(x, memo, depth)
    if done is not _NOT_A_CONTAINER:
        return done
    if isinstance(x, str):
        return str(x)
    if isinstance(x, bytes):
        return bytes(x)
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        return float(x)
    return _refuse(x, memo, depth)


# The compiled copier (``_ccopy.c``, issue 17): the same algorithm and memo in C, built
# when the package is installed where a C compiler is found (hatch_build.py); the
# functions above are the fallback wherever it is not, or with HOOKYARD_PURE_PYTHON=1.
_CCOPY_VERSION = 1  # _ccopy.c's CCOPY_VERSION: a stale build is not used


def _compiled() -> Any:
    """The ``_ccopy`` extension when it is built, current and not turned off, else None."""
    if os.environ.get("HOOKYARD_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        from . import _ccopy  # type: ignore[attr-defined]  # built by hatch_build.py
    except ImportError:
        return None
    source = os.path.join(os.path.dirname(__file__), "_ccopy.c")
    return _ccopy if _built_from(_ccopy, source) else None


def _built_from(module: Any, source: str) -> bool:
    """Whether the extension ``module`` is current: built for this module's contract
    (``VERSION``) and from the C source at ``source`` (``SOURCE``, its sha256, compiled in
    by hatch_build.py). An editable install whose ``_ccopy.c`` was edited since it was
    built runs the Python copier, with a warning, until ``pip install -e .`` builds it
    again: a stale build never runs (issue 17)."""
    if getattr(module, "VERSION", None) != _CCOPY_VERSION:
        reason = "for another contract version"
    else:
        try:
            with open(source, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
        except OSError:
            return True  # an installation that ships the extension without its C source
        if getattr(module, "SOURCE", None) == digest:
            return True
        reason = f"from another {os.path.basename(source)}"
    logging.getLogger("hookyard").warning(
        "hookyard: %s was built %s; running the pure-Python copier (reinstall hookyard, "
        "e.g. pip install -e ., to build it again)",
        getattr(module, "__file__", module),
        reason,
    )
    return False


def _make_copier(foreign: Foreign, compiled: Any) -> _Copier:
    if compiled is None:
        return _python_copier(foreign)
    copier = compiled.Copier(ATOMS, foreign, MAX_NESTING, _TooDeep, _KEEP_ALIVE, _NOT_A_CONTAINER)
    return _Copier(copier.value, copier.tuple, copier.container)


IMPLEMENTATION = "python"  # which copier runs: "c" (the extension) or "python"


def _select(implementation: str) -> str:
    """Run the ``"c"`` or the ``"python"`` copier from now on; returns the previous one.

    For tests (both copiers pass the same suite) and benchmarks; ``"c"`` raises
    ``ImportError`` where the extension is not built."""
    global _TO_SCRIPT, _TO_HOST, _to_script_value, _to_script_tuple, _to_host_value
    global IMPLEMENTATION
    if implementation not in ("c", "python"):
        raise ValueError(f"implementation must be 'c' or 'python', not {implementation!r}")
    compiled = None
    if implementation == "c":
        compiled = _compiled()
        if compiled is None:
            raise ImportError("hookyard._ccopy is not built (or HOOKYARD_PURE_PYTHON is set)")
    previous = IMPLEMENTATION
    _TO_SCRIPT = _make_copier(_host_value, compiled)
    _TO_HOST = _make_copier(_refuse, compiled)
    _to_script_value = _TO_SCRIPT.value
    _to_script_tuple = _TO_SCRIPT.tuple
    _to_host_value = _TO_HOST.value
    IMPLEMENTATION = implementation
    return previous


_TO_SCRIPT: _Copier
_TO_HOST: _Copier
_to_script_value: Callable[[Any, Memo, int], Any]
_to_script_tuple: Callable[[tuple[Any, ...], Memo, int], Any]
_to_host_value: Callable[[Any, Memo, int], Any]
_select("c" if _compiled() is not None else "python")


def to_script(value: Any) -> Any:
    """A copy of host data for a script (host conveniences allowed)."""
    if type(value) in ATOMS:
        return value
    try:
        return _to_script_value(value, {}, 0)
    except (_TooDeep, RecursionError):
        raise BoundaryError(_NESTED_TOO_DEEPLY) from None


def to_host(value: Any, size: int | None = None) -> Any:
    """A copy of script data for the host: plain data only, and safe for the host to
    print, compare, hash, copy and JSON-encode (``check_host_safe``, when ``size`` is
    given: the script's ``Limits.size``)."""
    if type(value) in ATOMS:
        copy = value
    else:
        try:
            copy = _to_host_value(value, {}, 0)
        except (_TooDeep, RecursionError):
            raise BoundaryError(_NESTED_TOO_DEEPLY) from None
    if size is not None:
        check_host_safe(copy, size)
    return copy


# -- values safe for the host (DESIGN, guarantee 1; issue 12) ------------------------------
_CHARACTERS_PER_ITEM = 8  # text counts one item per 8 characters, as kept data does


def _max_digits() -> int:
    """The decimal digits an int may have: what the host's str()/repr() accept."""
    limit: int = sys.get_int_max_str_digits()
    return limit or sys.int_info.default_max_str_digits


@functools.cache
def _power_of_ten(digits: int) -> int:
    power: int = 10**digits
    return power


def _int_fits(x: int) -> bool:
    digits = _max_digits()
    if x.bit_length() * 0.30103 < digits - 1:
        return True
    return -_power_of_ten(digits) < x < _power_of_ten(digits)


def check_host_safe(value: Any, size: int) -> None:
    """Refuse (``BoundaryError``) a value the host could not safely handle.

    - its expanded size -- every container counts one plus its entries, text one per 8
      characters, every other atom one, and a shared value every time it is reached, as
      ``repr`` and ``json.dumps`` walk it (a cycle back into the path counts one) -- is at
      most ``size``: a "billion laughs" value (3,000 slots, 10**9 elements when printed)
      is refused;
    - ints (also inside fractions) fit ``sys.get_int_max_str_digits()`` (its default where
      the host turned it off), so the host's ``str()`` neither raises nor runs for seconds;
    - dates and times carry no ``tzinfo`` but the standard library's ``timezone``: any other
      would run its own code inside the host's ``print``, ``copy`` or comparison.
    """
    sizes: dict[int, int] = {}
    total = _expanded(value, size, sizes, set())
    if total > size:
        raise BoundaryError(
            f"a value whose expanded size is over {size:,} items (shared parts counted every "
            "time they are reached, as printing or JSON-encoding it would) cannot cross "
            "to the host (Limits.size)"
        )


def _expanded(x: Any, limit: int, sizes: dict[int, int], active: set[int]) -> int:
    cls = type(x)
    if cls is str or cls is bytes:
        return len(x) // _CHARACTERS_PER_ITEM + 1
    if cls is int:
        if not _int_fits(x):
            raise BoundaryError(
                f"an int of {x.bit_length():,} bits cannot cross to the host: its decimal "
                f"form would exceed sys.get_int_max_str_digits() ({_max_digits():,} digits)"
            )
        return 1
    if cls is datetime.datetime or cls is datetime.time:
        tz = x.tzinfo
        if tz is not None and type(tz) is not datetime.timezone:
            raise BoundaryError(
                f"a {cls.__name__} whose tzinfo is a {type(tz).__name__} cannot cross to the "
                "host: only datetime.timezone may"
            )
        return 1
    if cls is fractions.Fraction:
        if not (_int_fits(x.numerator) and _int_fits(x.denominator)):
            raise BoundaryError("a Fraction too large to print cannot cross to the host")
        return 1
    if cls not in _CONTAINERS:
        return 1
    key = id(x)
    if key in active:
        return 1  # a cycle: repr prints [...], deepcopy keeps it
    known = sizes.get(key)
    if known is not None:
        return known
    active.add(key)
    total = 1
    for item in x.items() if cls is dict else x:
        if cls is dict:
            total += _expanded(item[0], limit, sizes, active)
            total += _expanded(item[1], limit, sizes, active)
        else:
            total += _expanded(item, limit, sizes, active)
        if total > limit:
            break  # already too big: the caller refuses it
    active.discard(key)
    sizes[key] = total
    return total


_CONTAINERS = frozenset({dict, list, tuple, set, frozenset})


def args_to_script(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Copy a positional-argument tuple; returned as is when it holds only atoms."""
    return arguments_to_script(args, {})[0]


def kwargs_to_script(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Copy keyword arguments; returned as is when they hold only atoms."""
    return arguments_to_script((), kwargs)[1]


def arguments_to_script(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Copy a call's arguments for a script with one memo: shared values stay shared.

    Returned as they are when they hold only atoms (``**kwargs`` unpacking makes a fresh
    dict for the callee anyway).
    """
    memo: Memo = {}
    try:
        # the argument tuple itself is not one of the value's levels: depth -1
        new_args: tuple[Any, ...] = _to_script_tuple(args, memo, -1)
        if kwargs:
            for value in kwargs.values():
                if type(value) not in ATOMS:
                    copy = _to_script_value
                    kwargs = {key: copy(item, memo, 0) for key, item in kwargs.items()}
                    break
    except (_TooDeep, RecursionError):
        raise BoundaryError(_NESTED_TOO_DEEPLY) from None
    return new_args, kwargs


_NAMED = {
    types.FunctionType: "function",
    types.BuiltinFunctionType: "built-in function",
    types.MethodType: "method",
    types.GeneratorType: "generator",
    types.CoroutineType: "coroutine",
}


def _describe(x: Any) -> str:
    """What ``x`` is, for a message; reads only what no script code can stand behind."""
    cls = type(x)
    if isinstance(x, type):
        return f"class ({type.__dict__['__name__'].__get__(x)})"
    kind = _NAMED.get(cls)
    if kind is not None:
        return f"{kind} ({x.__qualname__})"
    return f"{type.__dict__['__name__'].__get__(cls)} object"


# -- exceptions -------------------------------------------------------------------------
_BUILTIN_EXCEPTIONS = frozenset(
    value
    for value in vars(builtins).values()
    if isinstance(value, type) and issubclass(value, BaseException)
)
_rebuilt: dict[tuple[str, str, type], type[Exception]] = {}
_MESSAGE_LIMIT = 2000


# Atoms whose repr runs no code but the interpreter's own, in time bounded by their size.
_REPR_SAFE = frozenset({type(None), bool, int, float, complex, str, bytes})
_BASE_ARGS = BaseException.__dict__["args"]


def safe_message(exc: BaseException) -> str:
    """The message of ``exc``, bounded, computed without running script code; never
    raises (issue 12: an int argument too long to render made building the message raise
    into the host on an isolating point)."""
    try:
        # the raw args slot: a script's exception class may shadow ``args`` with a property
        args = _BASE_ARGS.__get__(exc, type(exc))
        if type(args) is not tuple:
            return f"<{type(exc).__name__} message>"
        if len(args) == 1 and type(args[0]) is str:
            text: str = args[0]
        elif not args:
            text = ""
        else:
            text = ", ".join(_short_repr(arg) for arg in args[:8])
        if len(text) > _MESSAGE_LIMIT:
            text = text[:_MESSAGE_LIMIT] + "..."
        return text
    except Exception:
        return f"<{type(exc).__name__} message that cannot be rendered>"


def _short_repr(arg: Any) -> str:
    cls = type(arg)
    if cls not in _REPR_SAFE:
        return f"<{cls.__name__}>"
    if cls is int and not _int_fits(arg):
        return f"<int of {arg.bit_length():,} bits>"
    if (cls is str or cls is bytes) and len(arg) > _MESSAGE_LIMIT:
        arg = arg[:_MESSAGE_LIMIT]
    return repr(arg)


def rebuild_exception(exc: BaseException) -> Exception:
    """A fresh exception with ``exc``'s type name and message and nothing else.

    Built-in exception types are kept; other types become a class of the same name
    deriving from the nearest built-in ancestor, so ``except ValueError`` still works.
    """
    cls = type(exc)
    message = safe_message(exc)
    if cls in _BUILTIN_EXCEPTIONS and issubclass(cls, Exception):
        try:
            return cls(message)
        except TypeError:  # e.g. UnicodeDecodeError needs five arguments
            pass
    base: type[Exception] = Exception
    for ancestor in cls.__mro__:
        if ancestor in _BUILTIN_EXCEPTIONS and issubclass(ancestor, Exception):
            try:
                ancestor(message)
            except TypeError:
                continue
            base = ancestor
            break
    key = (getattr(cls, "__module__", ""), cls.__qualname__, base)
    rebuilt = _rebuilt.get(key)
    if rebuilt is None:
        rebuilt = type(cls.__name__, (base,), {"__module__": "hookyard.rebuilt"})
        _rebuilt[key] = rebuilt
    return rebuilt(message)
