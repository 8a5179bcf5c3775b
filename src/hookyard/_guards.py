"""Run-time guards called by policy-generated code, and the guarded builtins.

Each guard either lets a plain operation through unchanged or refuses it with the budget's
``BudgetExhausted`` *before* the large value is built. Everything here runs in the script's
thread under the script's budget (``current_budget()``).
"""

from __future__ import annotations

import _string  # type: ignore[import-not-found]  # str.format's field parser
import builtins
import datetime
import decimal
import math
import operator
import re
import string
import sys
import types
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator
from fractions import Fraction
from itertools import chain, islice
from typing import Any

from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from ._budget import Budget, ScriptGenerator, bounded, current_budget
from ._copy import MAX_NESTING
from ._names import (
    CLASS_DATA_DUNDERS,
    DUNDER_READS,
    GUARDED_ATTRIBUTES,
    SPECIAL_METHODS,
    is_dunder,
)
from ._nesting import check_items, check_tuple, tuple_depth

__all__ = ["ScriptMeta", "guarded_getattr", "repr_size", "script_writable"]

_MISSING: Any = object()

# Sized sequences whose C iterators can be exhausted from outside (``__setstate__``):
# charged up front, registered with the budget so a deadline can end the loop.
_SEQUENCES = frozenset({tuple, str, bytes, range})


# What a class namespace may hold besides the script's own names: the special methods the
# policy lets a class body define, its plain-data dunders, and what the interpreter puts
# there itself (CPython 3.13 adds __static_attributes__ and __firstlineno__).
_CLASS_NAMESPACE_DUNDERS = (
    SPECIAL_METHODS
    | CLASS_DATA_DUNDERS
    | {
        "__module__",
        "__qualname__",
        "__classcell__",
        "__annotations__",
        "__static_attributes__",
        "__firstlineno__",
        "__orig_bases__",
        "__dict__",
        "__weakref__",
    }
)


# Named tuple classes the collections facade made: their documented API has underscore
# names, and their constructor takes the fields rather than one iterable (issue 14).
NAMED_TUPLES: weakref.WeakSet[type] = weakref.WeakSet()
_NAMED_TUPLE_API = frozenset({"_asdict", "_field_defaults", "_fields", "_make", "_replace"})


def _is_named_tuple(ob: object) -> bool:
    cls = ob if isinstance(ob, type) else type(ob)
    return any(klass in NAMED_TUPLES for klass in cls.__mro__)


class NamedTupleBase:
    """What ``class Row(NamedTuple)`` derives from as the class statement sees it
    (``typing.NamedTuple.__mro_entries__``): ScriptMeta makes the class a named tuple of
    its annotated fields, as ``typing`` does."""

    __slots__ = ()


class ScriptMeta(type):
    """Metaclass of every class a script defines (RestrictedPython's ``__metaclass__``).

    Lets guards tell the script's own objects (which it may modify) from everything else,
    and checks again, when the class is made, what the policy checked in its source: no
    dunder but the allowed ones, no metaclass base, ``__match_args__`` naming only what
    ``obj.name`` could read (a class pattern reads them in C, around the guards).
    """

    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> ScriptMeta:
        if kwargs:
            raise TypeError("class keyword arguments are not available to scripts")
        for key in namespace:
            if type(key) is not str or (is_dunder(key) and key not in _CLASS_NAMESPACE_DUNDERS):
                raise TypeError(f"class {name}: {key!r} cannot be defined by a script")
        for base in bases:
            if isinstance(base, type) and issubclass(base, type):
                raise TypeError(f"class {name}: metaclasses are not available to scripts")
        match_args = namespace.get("__match_args__", ())
        if type(match_args) is not tuple or not all(
            type(item) is str
            and not item.startswith("_")
            and item not in INSPECT_ATTRIBUTES
            and item not in GUARDED_ATTRIBUTES
            for item in match_args
        ):
            raise TypeError(f"class {name}: __match_args__ must be a tuple of public names")
        if NamedTupleBase in bases:
            bases, namespace = _named_tuple_parts(name, bases, namespace)
        cls = super().__new__(mcs, name, bases, namespace)
        if _redefines_builtin_length(cls):
            # the size checks read len(); C code (str * n, "".join, list * n) reads the
            # built-in's own storage. A subclass of str whose __len__ said 1 made
            # `s * 100_000` build ten gigabytes in one C call (red team): the length of
            # a built-in value is never the script's to redefine, here or in a mixin.
            raise TypeError(
                f"class {name}: __len__ cannot be redefined on a subclass of a built-in "
                "type (the size checks rely on the built-in length)"
            )
        return cls

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        """Instances of a script's subclass of a built-in type are built through the same
        size checks as the built-in itself: ``class Tags(list)`` then ``Tags(range(10**9))``
        would otherwise fill the list in one C call."""
        base = _builtin_base(cls)
        if base is not None:
            args, kwargs = _checked_construction(cls, base, args, kwargs)
        return super().__call__(*args, **kwargs)


def _redefines_builtin_length(cls: type) -> bool:
    """``len()`` of ``cls``'s instances runs the script's ``__len__`` although a class it
    derives from (a built-in type, a facade) has a length of its own."""
    owners = [klass for klass in cls.__mro__ if "__len__" in vars(klass)]
    return (
        bool(owners)
        and isinstance(owners[0], ScriptMeta)
        and any(not isinstance(klass, ScriptMeta) for klass in owners)
    )


def _named_tuple_parts(
    name: str, bases: tuple[type, ...], namespace: dict[str, Any]
) -> tuple[tuple[type, ...], dict[str, Any]]:
    """``class Row(NamedTuple)``: a named tuple of the annotated fields, in order, those
    with a value in the body taking it as their default; the rest of the body (methods,
    class data) on the class, whose instances get no ``__dict__``, as in ``typing``."""
    # the facade's maker checks field names and sizes and charges the budget; imported
    # here because the collections facade is built on these guards
    from ._modules._containers import namedtuple

    if bases != (NamedTupleBase,):
        raise TypeError(f"class {name}: a NamedTuple class can only derive from NamedTuple")
    fields = list(namespace.get("__annotations__", {}))
    defaults = [namespace[field] for field in fields if field in namespace]
    for field in fields[: len(fields) - len(defaults)]:
        if field in namespace:
            raise TypeError(
                f"class {name}: field {field!r} has a default but a later field has none; "
                "fields with defaults come last"
            )
    base = namedtuple(name, fields, defaults=defaults or None)
    body = {key: value for key, value in namespace.items() if key not in fields}
    body["__slots__"] = ()
    return (base,), body


def _is_script_object(ob: object) -> bool:
    return isinstance(type(ob), ScriptMeta) or isinstance(ob, ScriptMeta)


def _owns(ob: object) -> bool:
    """The script's own instance or class, or ``super()`` bound to one: its ``_private``
    names are the script's to read."""
    if type(ob) is super:
        ob = ob.__self__  # type: ignore[attr-defined]
    return _is_script_object(ob)


# -- iteration ------------------------------------------------------------------------------
def _length(ob: Any) -> int | None:
    try:
        return len(ob)
    except OverflowError:
        return 1 << 62
    except TypeError:
        return None


def getiter(ob: Any) -> Iterator[Any]:
    """``for x in ob`` and comprehensions: charge sized values once, bound the rest."""
    budget = current_budget()
    if budget.reason is not None:
        raise budget.reason
    cls = type(ob)
    if cls in _SEQUENCES:
        n = _length(ob)
        if n is not None:
            budget.charge(n)
            iterator: Iterator[Any] = iter(ob)
            budget.loops.append(iterator)
            return iterator
    if cls is _Precharged:
        return ob._iterator  # type: ignore[no-any-return]
    if cls is list:
        # a list may grow while it is iterated (`for x in l: l.append(x)`): charge what is
        # there now, then one operation per item past it.
        n = len(ob)
        budget.charge(n)
        items = iter(ob)
        budget.loops.append(items)
        return chain(islice(items, n), bounded(items, budget))
    # dicts, sets, views, generators, map/zip objects: one operation per item, in C
    return bounded(iter(ob), budget)  # type: ignore[no-any-return]


class _Precharged:
    """An iterator the guards built (``map``, ``zip``, ``iter(x)``...): its items are
    charged as they are made, and it knows how many C iterators it stands on (``depth``:
    ``next()`` recurses through all of them in C, so a chain is bounded, issue 12)."""

    # private names: a script reading `.iterator` would get the raw C iterator, and could
    # chain around the depth count
    __slots__ = ("_depth", "_iterator")

    def __init__(self, iterator: Iterator[Any], depth: int = 1) -> None:
        if depth > MAX_NESTING:
            raise current_budget().exhaust(
                "depth",
                f"depth limit: iterators chained more than {MAX_NESTING} deep "
                "(next() on a deeper chain crashes the interpreter)",
            )
        self._iterator = iterator
        self._depth = depth

    def __iter__(self) -> _Precharged:
        return self

    def __next__(self) -> Any:
        return next(self._iterator)

    def __repr__(self) -> str:
        return "<iterator>"


_Precharged.__name__ = _Precharged.__qualname__ = "iterator"  # as messages name it


def chain_depth(ob: Any) -> int:
    """How many C iterators ``ob`` stands on (0: not one of the guards' iterators)."""
    return ob._depth if type(ob) is _Precharged else 0


def materialize(ob: Any, what: str) -> list[Any]:
    """A list of ``ob``'s items, refused past the size limit, charged per item."""
    budget = current_budget()
    n = _length(ob)
    if n is not None:
        budget.charge_size(n, what)
        return list(getiter(ob))
    limit = budget.limits.size
    items = list(islice(getiter(ob), limit + 1))
    if len(items) > limit:
        raise budget.exhaust("size", f"size limit ({limit:,}) exceeded: {what} of more items")
    budget.charge_size(len(items), what)
    return items


# -- hash collisions ------------------------------------------------------------------
# Building a set or dict from n distinct values that share one hash takes n*n/2 probes in a
# single C call, which no deadline can interrupt. str and bytes hashes are keyed per
# process (SipHash), but int, float and tuple hashes can be chosen: a script could hand
# set() a million colliding ints. So the one-call builders check the spread first.
_COLLISION_FLOOR = 1024  # fewer repeated hashes than this cost too little to matter
_COLLISION_GROUP = 64  # distinct values allowed to share one hash


def hash_spread_ok(items: Collection[Any]) -> bool:
    """False if more than _COLLISION_GROUP distinct values of ``items`` share a hash.

    Cheap for ordinary data: one C pass hashing everything, and the Python pass only runs
    when over _COLLISION_FLOOR hashes repeat (duplicates, mostly: equal values are found
    by the first comparison, so they pass).
    """
    if len(items) < _COLLISION_FLOOR:
        return True
    try:
        hashes = list(map(hash, items))
    except TypeError:
        return True  # unhashable: the operation itself refuses it
    # hash values hash to themselves, so this set has no collisions of its own
    if len(hashes) - len(set(hashes)) < _COLLISION_FLOOR:
        return True
    groups: dict[int, list[Any]] = {}
    for value, item in zip(hashes, items, strict=True):
        group = groups.get(value)
        if group is None:
            groups[value] = [item]
        elif item not in group:
            group.append(item)
            if len(group) > _COLLISION_GROUP:
                return False
    return True


def check_hash_spread(items: Collection[Any], what: str) -> None:
    """Refuse ``items`` if more than _COLLISION_GROUP distinct values share a hash."""
    if not hash_spread_ok(items):
        raise current_budget().exhaust(
            "operations",
            f"operations limit: {what} of values with colliding hashes "
            f"(more than {_COLLISION_GROUP} distinct values share one hash)",
        )


def _pair_keys(items: list[Any]) -> list[Any]:
    """The keys of ``dict(items)`` (items that are not pairs make dict() itself fail)."""
    return [item[0] for item in items if type(item) in (tuple, list) and len(item) == 2]


def iter_unpack_sequence(ob: Any, spec: Any, _getiter: Any) -> Iterator[Any]:
    """``for a, b in ob``: unpacking each item is bounded by the target's shape already."""
    return getiter(ob)


def unpack_sequence(ob: Any, spec: Any, _getiter: Any) -> Any:
    """``a, *b = ob``: a starred target copies ob in C, so bound it."""
    if type(ob) in (tuple, list):
        return ob
    return materialize(ob, "unpacked sequence")


def mapping(ob: Any) -> Any:
    """``{**m}`` / ``f(**m)``: copies m; charged by its size."""
    n = _length(ob)
    if n is not None:
        current_budget().charge_size(n, "unpacked mapping")
    return ob


def apply(function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    return function(*args, **kwargs)


# -- sizes of results -------------------------------------------------------------------
def _sequence_length(ob: Any) -> int | None:
    if isinstance(ob, str | bytes | list | tuple | bytearray):
        return len(ob)
    return None


def add(a: Any, b: Any) -> Any:
    la = _sequence_length(a)
    if la is not None:
        lb = _sequence_length(b)
        if lb is not None:
            current_budget().charge_size(la + lb, f"{type(a).__name__} concatenation")
    elif type(a) is Fraction or type(b) is Fraction:
        _charge_fraction(a, b, "Fraction sum")
    return a + b


def sub(a: Any, b: Any) -> Any:
    if type(a) is Fraction or type(b) is Fraction:
        _charge_fraction(a, b, "Fraction difference")
    return a - b


def truediv(a: Any, b: Any) -> Any:
    if type(a) is Fraction or type(b) is Fraction:
        _charge_fraction(a, b, "Fraction quotient")
    return a / b


# Fractions: an operation multiplies numerators and denominators crosswise and reduces by
# their gcd (quadratic in C); the result can have as many bits as both operands together,
# so `x * x` in a loop doubles the size each time (issue 12).
def _parts(x: Any) -> tuple[int, int]:
    if type(x) is Fraction:
        return x.numerator, x.denominator
    if type(x) is int:
        return x, 1
    return 0, 1  # a float or anything else: no exact growth


def _charge_fraction(a: Any, b: Any, what: str) -> None:
    na, da = _parts(a)
    nb, db = _parts(b)
    bits = max(na.bit_length() + db.bit_length(), nb.bit_length() + da.bit_length())
    bits += da.bit_length() + db.bit_length()
    if bits > 4096:
        budget = current_budget()
        budget.charge_bits(bits, what)
        digits = bits // 30 + 1
        budget.charge(digits * digits // 120)  # the products and the reducing gcd


# -- big ints: C work grows faster than the operands (issue 12) -----------------------------
# One budget operation stands for about a microsecond of C work; measured on the machine
# of docs/performance.md: a 30-bit digit product ~5 ns in Karatsuba territory, a digit
# step of long division ~2.5 ns.
_SMALL_DIGITS = 70  # below this many 30-bit digits (2,100 bits) nothing is charged


def _digits(n: int) -> int:
    return n.bit_length() // 30 + 1


def _charge_product(a: int, b: int) -> None:
    da, db = _digits(a), _digits(b)
    if da > _SMALL_DIGITS and db > _SMALL_DIGITS:
        budget = current_budget()
        budget.charge_bits(a.bit_length() + b.bit_length(), "int product")
        budget.charge(int(max(da, db) ** 1.585) // 200)


def charge_gcd(a: int, b: int) -> None:
    """A gcd of big ints (math.gcd, every Fraction made or reduced) is quadratic in C, at
    about 8.5 ns per pair of 30-bit digits here: 900,000-bit operands take 7.7 s."""
    digits = max(_digits(a), _digits(b))
    if digits > _SMALL_DIGITS:
        current_budget().charge(digits * digits // 120)


def charge_isqrt(n: int) -> None:
    """math.isqrt: Newton's steps of big products (a million bits take 2 s in one call)."""
    digits = _digits(n)
    if digits > _SMALL_DIGITS:
        current_budget().charge(digits * digits // 400)


def _charge_division(a: int, b: int) -> None:
    """Schoolbook division: a digit step per divisor digit per quotient digit."""
    da, db = _digits(a), _digits(b)
    if db > _SMALL_DIGITS and da >= db:
        current_budget().charge(db * (da - db + 1) // 400)


def as_index(x: Any) -> int | None:
    """``x`` as the int C code would take from it (``__index__``), computed once, so a
    guard checks the very value the operation then uses; None when ``x`` is no integer."""
    if type(x) is int:
        return x
    if isinstance(x, int):
        return int(operator.index(x))
    if hasattr(type(x), "__index__"):
        return int(operator.index(x))
    return None


def mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        _charge_product(a, b)
        return a * b
    if ta is Fraction or tb is Fraction:
        _charge_fraction(a, b, "Fraction product")
        return a * b
    if _sequence_length(a) is not None and not isinstance(b, float):
        n = as_index(b)
        if n is not None:
            current_budget().charge_size(len(a) * max(n, 0), f"{ta.__name__} repetition")
            return a * n
    elif _sequence_length(b) is not None and not isinstance(a, float):
        n = as_index(a)
        if n is not None:
            current_budget().charge_size(len(b) * max(n, 0), f"{tb.__name__} repetition")
            return n * b
    return a * b


def floordiv(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        _charge_division(a, b)
    elif type(a) is Fraction or type(b) is Fraction:
        _charge_fraction(a, b, "Fraction floor division")
    return a // b


def safe_divmod(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        _charge_division(a, b)
    return divmod(a, b)


def safe_round(number: Any, ndigits: Any = None) -> Any:
    """``round``: ``round(x, -10**8)`` on an int computes ten to the 10**8 in one call."""
    if ndigits is None:
        return round(number)
    places = as_index(ndigits)
    if places is None:
        return round(number, ndigits)
    if type(number) is int:
        if places >= 0:
            return number
        if -places > number.bit_length() * 0.30103 + 2:
            return 0  # |number| is below half of 10**-places
        return round(number, places)
    if type(number) is float:
        return round(number, places)  # CPython clamps float places itself
    if abs(places) > 4300 and not _is_script_object(number):
        raise ValueError(f"round(x, {places}): more than 4300 places is not available to scripts")
    return round(number, places)


def _int_power_bits(base: int, exponent: int) -> int:
    if exponent <= 0 or base in (0, 1, -1):
        return 1
    return exponent * max(abs(base).bit_length() - 1, 1) + 1


def _modular_power_cost(exponent: int, modulo: int) -> int:
    """Operations charged for ``pow(base, exponent, modulo)``: its result is small, but
    one C call does a multiplication modulo ``modulo`` per exponent bit; each costs about
    the square of the modulus's 30-bit digits, and ~32 such digit products take as long as
    one script operation."""
    digits = modulo.bit_length() // 30 + 1
    return abs(exponent).bit_length() * digits * digits // 32


def power(a: Any, b: Any, modulo: Any = None) -> Any:
    if modulo is not None:
        if isinstance(b, int) and isinstance(modulo, int):
            current_budget().charge(_modular_power_cost(b, modulo))
        return builtins.pow(a, b, modulo)
    if isinstance(a, int) and isinstance(b, int):
        bits = _int_power_bits(a, b)
        if bits > 4096:
            current_budget().charge_bits(bits, "int power")
    elif type(a) is Fraction and isinstance(b, int):
        numerator, denominator = _parts(a)
        bits = max(_int_power_bits(numerator, b), _int_power_bits(denominator, b))
        if bits > 4096:
            current_budget().charge_bits(2 * bits, "Fraction power")
    return a**b


def lshift(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and a:
        bits = a.bit_length() + b
        if bits > 4096:
            current_budget().charge_bits(bits, "int shift")
    return a << b


# printf-style conversions: %[(key)][flags][width][.precision][length]type
_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")


def mod(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        _charge_division(a, b)
        return a % b
    if type(a) is Fraction or type(b) is Fraction:
        _charge_fraction(a, b, "Fraction remainder")
        return a % b
    if isinstance(a, str | bytes):
        text = a.decode("latin-1") if isinstance(a, bytes) else a
        budget = current_budget()
        args = b if type(b) is tuple else (b,)
        estimate = len(text)
        for match in _PRINTF.finditer(text):
            width, precision, _ = match.groups()
            for number in (width, precision):
                if number and number != "*":
                    estimate += int(number)
            if "*" in (width, precision):
                estimate += sum(abs(x) for x in args if type(x) is int)
        for arg in args if isinstance(args, tuple) else ():
            estimate += repr_size(arg, budget.limits.size)
        if isinstance(b, dict):
            estimate += repr_size(b, budget.limits.size)
        budget.charge_size(estimate, "formatted string")
        result = a % b
        if type(result) is str and not all(type(x) in _PLAIN_TEXT for x in args):
            return without_addresses(result)
        return result
    return a % b


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": add,
    "*=": mul,
    "**=": power,
    "<<=": lshift,
    "%=": mod,
}


def inplacevar(operator: str, a: Any, b: Any) -> Any:
    guard = _INPLACE.get(operator)
    if guard is not None:
        if type(a) is list and operator in ("+=", "*="):
            # in place: list += / *= must not replace the object the script shares
            if operator == "+=":
                a.extend(materialize(b, "list extension"))
                current_budget().charge_size(len(a), "list")
            else:
                times = as_index(b)
                if times is None:
                    a *= b  # not an integer: Python's own TypeError (or b's __rmul__)
                else:  # the checked int, so an __index__ runs once
                    current_budget().charge_size(len(a) * max(times, 0), "list repetition")
                    a *= times
            return a
        return guard(a, b)
    return _PLAIN_INPLACE[operator](a, b)


_PLAIN_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    ">>=": lambda a, b: a >> b,
    "|=": lambda a, b: a | b,
    "^=": lambda a, b: a ^ b,
    "&=": lambda a, b: a & b,
    "//=": floordiv,
    "-=": sub,
    "/=": truediv,
    "@=": lambda a, b: a @ b,
}


def getslice(ob: Any, lower: Any, upper: Any, step: Any) -> Any:
    n = _sequence_length(ob)
    if n is not None and n > 64:
        current_budget().charge_size(n, f"{type(ob).__name__} slice")
    return ob[lower:upper:step]


# -- formatting -------------------------------------------------------------------------
_SPEC = re.compile(
    r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d+)?[_,]?(?:\.(?P<precision>\d+))?[a-zA-Z%]?$",
    re.DOTALL,
)


def _check_spec(spec: str, budget: Budget) -> None:
    if not spec:
        return
    if len(spec) > 256:
        raise budget.exhaust("size", "size limit exceeded: format spec too long")
    match = _SPEC.match(spec)
    if match is None:
        return  # not a standard spec (datetime's strftime, say): bounded by its length
    for number in match.group("width", "precision"):
        if number and int(number) > budget.limits.size:
            raise budget.exhaust(
                "size", f"size limit ({budget.limits.size:,}) exceeded: format width {number}"
            )


# ints up to this many bits convert to text in microseconds; past it the conversion is
# quadratic in CPython, and past sys.get_int_max_str_digits() refused
_TEXT_BITS = 14_000


def check_int_text(bits: int) -> None:
    """An int of ``bits`` bits is about to become decimal text: refuse it past the digit
    limit (CPython's default where the host turned the limit off: the conversion is
    quadratic) and charge the quadratic work below it (issue 12)."""
    digits = int(bits * 0.30103) + 1
    limit = sys.get_int_max_str_digits() or sys.int_info.default_max_str_digits
    if digits > limit:
        raise ValueError(
            f"an int of about {digits:,} digits exceeds the limit ({limit:,} digits) for "
            "integer string conversion"
        )
    current_budget().charge(digits * digits // 40_000)


# Default reprs show object addresses (``<function f at 0x7f...>``): the heap layout
# ``id()`` is denied for (issue 18). Text a script builds from a repr loses them.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_PLAIN_TEXT = frozenset({str, int, float, bool, type(None), bytes, complex})


def without_addresses(text: str) -> str:
    return _ADDRESS.sub("", text) if " at 0x" in text else text


def format_value(value: Any, conversion: int, spec: str) -> str:
    """f-string ``{value!conversion:spec}``."""
    budget = current_budget()
    if type(value) is int and value.bit_length() > _TEXT_BITS:
        check_int_text(value.bit_length())
    if type(value) not in (int, float, str, bool) or conversion != -1:
        budget.charge_size(repr_size(value, budget.limits.size), "formatted value")
    plain = type(value) in _PLAIN_TEXT
    if conversion == ord("r"):
        value = repr(value)
    elif conversion == ord("s"):
        value = str(value)
    elif conversion == ord("a"):
        value = ascii(value)
    _check_spec(spec, budget)
    result = builtins.format(value, spec)
    if not plain:
        result = without_addresses(result)
    if len(result) > 4096:
        budget.charge_size(len(result), "formatted value")
    return result


def safe_format(value: Any, spec: str = "") -> str:
    return format_value(value, -1, spec)


def repr_size(ob: Any, limit: int) -> int:
    """An upper-ish estimate of ``len(repr(ob))``, computed without building it.

    Shared sub-structures count every time they appear (as repr repeats them); stops
    early once past ``limit`` so the walk itself stays within the size budget.
    """
    sizes: dict[int, int] = {}
    return _repr_size(ob, limit, sizes, set())


def _repr_size(ob: Any, limit: int, sizes: dict[int, int], active: set[int]) -> int:
    cls = type(ob)
    if cls is str or cls is bytes:
        return len(ob) + 3
    if cls is int:
        bits: int = ob.bit_length()
        if bits > _TEXT_BITS:
            check_int_text(bits)
        return bits // 3 + 2
    if cls in (float, bool, type(None), complex):
        return 32
    if cls in (list, tuple, set, frozenset, dict):
        key = id(ob)
        if key in active:
            return 5  # [...] for a cycle
        known = sizes.get(key)
        if known is not None:
            return known
        active.add(key)
        total = 2
        items: Iterable[Any] = ob.items() if cls is dict else ob
        for item in items:
            if cls is dict:
                total += _repr_size(item[0], limit, sizes, active)
                total += _repr_size(item[1], limit, sizes, active) + 4
            else:
                total += _repr_size(item, limit, sizes, active) + 2
            if total > limit:
                break
        active.discard(key)
        sizes[key] = total
        return total
    return 80


# -- attribute access -----------------------------------------------------------------------
def _method_for(
    ob: Any, name: str
) -> Callable[[Budget, Any, tuple[Any, ...], dict[str, Any]], None] | None:
    for cls in (str, bytes, list, dict, set, frozenset, int, datetime.date, datetime.time):
        if isinstance(ob, cls) or (isinstance(ob, type) and issubclass(ob, cls)):
            return _METHOD_CHECKS.get((cls, name))
    return None


def guarded_getattr(ob: Any, name: Any, default: Any = _MISSING) -> Any:
    """``getattr`` for scripts; also what ``obj.name`` compiles to for guarded names."""
    if type(name) is not str:
        raise TypeError("attribute name must be a str")
    if type(ob) is GuardedType:
        ob = ob._real
    if name.startswith("_") and name != "_":
        return _underscore_attribute(ob, name, default)
    if name in INSPECT_ATTRIBUTES:
        raise AttributeError(f'"{name}" is a restricted name')
    if name in ("format", "format_map") and (
        isinstance(ob, str) or (isinstance(ob, type) and issubclass(ob, str))
    ):
        return _format_method(ob, name)
    if name in ("Formatter", "vformat", "get_field", "get_value") and (
        ob is string
        or isinstance(ob, string.Formatter)
        or (isinstance(ob, type) and issubclass(ob, string.Formatter))
    ):
        raise NotImplementedError("string.Formatter is not available to scripts")
    if name == "obj" and isinstance(ob, BaseException):
        # AttributeError.obj hands back the object the lookup failed on (CVE-2024-47532)
        raise AttributeError('"obj" of an exception is not available to scripts')
    if name == "mro" and (isinstance(ob, type) or type(ob) is super):
        # a class's MRO lists the real built-in types, whose constructors are unguarded:
        # scripts see them as they see them by name
        mro = getattr(ob, name)
        return lambda: [_as_script_type(cls) for cls in mro()]
    if name == "args" and isinstance(ob, BaseException):
        # ValueError(t).args is (t,): one level deeper than t (issue 12, nesting)
        return check_tuple(getattr(ob, name))
    try:
        value = getattr(ob, name)
    except AttributeError:
        if default is _MISSING:
            raise AttributeError(
                f"{type(ob).__name__!r} object has no attribute {name!r}"
            ) from None
        return default
    return value


def _underscore_attribute(ob: Any, name: str, default: Any) -> Any:
    """``obj._x`` and ``obj.__x__`` for scripts (issue 14).

    Private names: the script's own objects only (a facade's ``_functions`` or a log's
    ``_logger`` would hand out the host's). Dunders: special methods of the script's own
    instances and classes, of ``super()`` and of built-in classes (``Exception.__init__``),
    never of other objects (``api.__init__`` would re-initialise a shared facade); the
    names of classes and functions; ``__class__`` of the script's own instances.
    """
    if not is_dunder(name):
        if _owns(ob) or (name in _NAMED_TUPLE_API and _is_named_tuple(ob)):
            return _read(ob, name, default)
        raise AttributeError(
            f'"{name}": private attributes of {type(ob).__name__!r} objects are not '
            "available to scripts"
        )
    if name not in DUNDER_READS:
        raise AttributeError(f'"{name}" is not available to scripts')
    if name == "__class__":
        return safe_type(ob)  # what type(ob) shows the script: never a metaclass
    elif name in ("__name__", "__qualname__", "__doc__"):
        if isinstance(ob, type | types.FunctionType | types.BuiltinFunctionType) or _owns(ob):
            return _read(ob, name, default)
    elif _owns(ob) or (isinstance(ob, type) and ob.__module__ == "builtins"):
        return _special_value(name, _read(ob, name, default))
    raise AttributeError(f'"{name}" of {type(ob).__name__!r} objects is not available to scripts')


# C special methods of the built-in types that are bounded by their operands and amplify
# nothing: handed out as they are (super().__getitem__ in a dict subclass...).
_PLAIN_C_SPECIALS = frozenset(
    {
        "__getitem__",
        "__delitem__",
        "__contains__",
        "__len__",
        "__iter__",
        "__next__",
        "__reversed__",
        "__eq__",
        "__ne__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "__bool__",
        "__hash__",
        "__neg__",
        "__pos__",
        "__abs__",
        "__invert__",
        "__int__",
        "__float__",
        "__complex__",
        "__index__",
        "__trunc__",
        "__floor__",
        "__ceil__",
        "__enter__",
        "__exit__",
        "__call__",
    }
)


def _special_value(name: str, value: Any) -> Any:
    """A special method read by a script: the script's own as it is; a built-in type's C
    implementation only where it cannot do what its operator's guard exists to stop
    (``super().__mul__(10**9)`` on a list subclass, ``str.__add__``, a raw
    ``list.__init__(self, range(10**9))``). ``__init__``, ``__setitem__``, ``__repr__``,
    ``__str__`` and ``__format__`` are handed out wrapped in the same checks."""
    function = getattr(value, "__func__", value)
    if type(function) is types.FunctionType:
        return value  # script code: budgeted wherever it runs
    if name in _PLAIN_C_SPECIALS:
        return value
    wrap = _C_SPECIAL_WRAPPERS.get(name)
    if wrap is not None:
        return wrap(value)
    raise AttributeError(
        f'"{name}" of a built-in type is not available to scripts: use the operator or '
        "function itself (it is size-checked)"
    )


def _bound_target(method: Any, args: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...], bool]:
    """(the object a C method works on, the other arguments, whether it came bound)."""
    target = getattr(method, "__self__", None)
    if target is not None and not isinstance(target, type | types.ModuleType):
        return target, args, True
    if not args:
        raise TypeError("a special method needs the object it works on")
    return args[0], args[1:], False


def _checked_init(init: Any) -> Any:
    def checked(*args: Any, **kwargs: Any) -> Any:
        target, rest, bound = _bound_target(init, args)
        base = _builtin_base(type(target))
        if base is not None:
            rest, kwargs = _checked_construction(
                type(target), base, rest, kwargs, instantiating=False
            )
        return init(*rest, **kwargs) if bound else init(target, *rest, **kwargs)

    return checked


def _checked_setitem(setitem: Any) -> Any:
    def checked(*args: Any) -> Any:
        target, rest, bound = _bound_target(setitem, args)
        if len(rest) == 2 and type(rest[0]) is slice:
            rest = (rest[0], slice_value(rest[1]))
        return setitem(*rest) if bound else setitem(target, *rest)

    return checked


def _checked_text(method: Any) -> Any:
    def checked(*args: Any) -> Any:
        target, rest, bound = _bound_target(method, args)
        budget = current_budget()
        budget.charge_size(repr_size(target, budget.limits.size), "repr")
        if rest:
            _check_spec(str(rest[0]), budget)
        return method(*rest) if bound else method(target, *rest)

    return checked


_C_SPECIAL_WRAPPERS: dict[str, Callable[[Any], Any]] = {
    "__init__": _checked_init,
    "__setitem__": _checked_setitem,
    "__repr__": _checked_text,
    "__str__": _checked_text,
    "__format__": _checked_text,
}


def _read(ob: Any, name: str, default: Any) -> Any:
    try:
        return getattr(ob, name)
    except AttributeError:
        if default is _MISSING:
            raise
        return default


def guarded_write_own(ob: Any) -> Any:
    """``_write_own_``: setting a ``_private`` attribute: the script's own objects only."""
    if _is_script_object(ob):
        return ob
    raise TypeError(f"cannot set private attributes on {type(ob).__name__!r} objects")


def guarded_hasattr(ob: Any, name: Any) -> bool:
    try:
        guarded_getattr(ob, name)
    except (AttributeError, NotImplementedError):
        return False
    return True


# Classes of engine-made objects a script may set attributes on (a facade's settings
# object such as decimal's context): each validates what it is given in its own
# ``__setattr__``. Registered with ``script_writable``.
_WRITABLE: set[type] = set()


def script_writable(cls: type) -> type:
    """Let scripts set (public) attributes on instances of ``cls``; a class decorator.

    ``cls`` must validate every assignment itself (``__setattr__``): the guard only lets
    the statement through to it.
    """
    _WRITABLE.add(cls)
    return cls


def guarded_write(ob: Any) -> Any:
    """``_write_``: attribute assignment is allowed on the script's own objects only
    (and on the engine's ``script_writable`` settings objects)."""
    if _is_script_object(ob) or type(ob) in _WRITABLE:
        return ob
    raise TypeError(f"cannot set attributes on {type(ob).__name__!r} objects")


def _writable(ob: Any, name: Any, verb: str) -> Any:
    if type(name) is not str or is_dunder(name) or name in INSPECT_ATTRIBUTES:
        raise AttributeError(f"cannot {verb} attribute {name!r}")
    if name.startswith("_") and name != "_":
        return guarded_write_own(ob)
    return guarded_write(ob)


def guarded_setattr(ob: Any, name: Any, value: Any) -> None:
    setattr(_writable(ob, name, "set"), name, value)


def guarded_delattr(ob: Any, name: Any) -> None:
    delattr(_writable(ob, name, "delete"), name)


# -- method checks: (budget, self, args, kwargs) -> None, raising before the work ------------
MethodCheck = Callable[[Budget, Any, tuple[Any, ...], dict[str, Any]], None]


def _arg(
    args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any = None
) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _check_join(budget: Budget, sep: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    items = materialize(_arg(args, kw, 0, "iterable", ()), "join")
    total = sum(len(x) if isinstance(x, str | bytes) else 0 for x in items)
    total += len(sep) * max(len(items) - 1, 0)
    budget.charge_size(total, "joined string")
    # hand the materialised items to the real join (the iterable may be a one-shot)
    args_list = list(args)
    if args_list:
        args_list[0] = items
    else:
        kw["iterable"] = items
    raise _Substitute(tuple(args_list), kw)


def _without(kw: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """``kw`` with ``name`` set to the checked ``value`` where it was given by keyword."""
    if name in kw:
        return {**kw, name: value}
    return kw


class _Substitute(Exception):
    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.new_args = args
        self.new_kwargs = kwargs


def _check_width(budget: Budget, s: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    width = as_index(_arg(args, kw, 0, "width", 0))
    if width is not None:
        budget.charge_size(max(width, len(s)), "padded string")
        # the checked width goes to the method: an __index__ runs once
        raise _Substitute((width, *args[1:]) if args else (), _without(kw, "width", width))


def _check_replace(budget: Budget, s: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    old, new = _arg(args, kw, 0, "old", ""), _arg(args, kw, 1, "new", "")
    count = _arg(args, kw, 2, "count", -1)
    if not isinstance(new, str | bytes) or not isinstance(old, str | bytes):
        return
    times = len(s) + 1 if not isinstance(count, int) or count < 0 else count
    growth = max(len(new) - len(old), 0)
    budget.charge_size(len(s) + min(times, len(s) + 1) * growth, "replaced string")


def _check_expandtabs(budget: Budget, s: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    tabsize = as_index(_arg(args, kw, 0, "tabsize", 8))
    tabs = s.count("\t" if isinstance(s, str) else b"\t")
    if tabsize is not None:
        budget.charge_size(len(s) + tabs * max(tabsize, 0), "expanded string")
        raise _Substitute((tabsize,) if args else (), _without(kw, "tabsize", tabsize))


def _check_translate(budget: Budget, s: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    table = _arg(args, kw, 0, "table", None)
    widest = 1
    if isinstance(table, dict):
        budget.charge_size(len(table), "translation table")
        for value in table.values():
            if isinstance(value, str | bytes):
                widest = max(widest, len(value))
    budget.charge_size(len(s) * widest, "translated string")


def _scaled(factor: int) -> MethodCheck:
    def check(budget: Budget, s: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
        budget.charge_size(len(s) * factor, "converted string")

    return check


def _check_extend(budget: Budget, ob: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    items = materialize(_arg(args, kw, 0, "iterable", ()), "extension")
    budget.charge_size(len(ob) + len(items), type(ob).__name__)
    raise _Substitute((items, *args[1:]), {})


def _check_iterables(budget: Budget, ob: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    what = type(ob).__name__ if not isinstance(ob, type) else "set"
    total = _length(ob) or 0
    new_args = []
    for arg in args:
        items = arg if isinstance(arg, dict) else materialize(arg, "argument")
        total += len(items)
        new_args.append(items)
        # dict.update(pairs) inserts the pairs' keys; a dict argument, its keys
        keys = _pair_keys(items) if isinstance(ob, dict) and type(items) is list else items
        check_hash_spread(keys, what)
    budget.charge_size(total + len(kw), what)
    raise _Substitute(tuple(new_args), kw)


def _check_fromkeys(budget: Budget, cls: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    keys = materialize(_arg(args, kw, 0, "iterable", ()), "dict.fromkeys")
    check_hash_spread(keys, "dict.fromkeys")
    raise _Substitute((keys, *args[1:]), {})


def _check_items(budget: Budget, d: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    """``d.items()`` and ``d.popitem()`` make a (key, value) tuple per entry: one level
    deeper than the deeper of the two, so neither may already sit at the nesting limit."""
    if not (_shallow_items(dict.keys(d)) and _shallow_items(list(dict.values(d)))):
        raise budget.exhaust(
            "depth",
            f"depth limit: {type(d).__name__}.items() would nest tuples more than "
            f"{MAX_NESTING} deep",
        )


def _check_sort(budget: Budget, ob: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    charge_sort(len(ob))


# Dates format and parse through the C library and _strptime's regular expressions: a
# format of a hundred thousand directives runs for half a minute outside any tick, and the
# module the C code imports for it is the real one whatever a script's import returns
# (PyImport_Import reads sys.modules after calling __import__). Dates are short.
_DATE_FORMAT_LIMIT = 256
_DATE_TEXT_LIMIT = 4096


def _check_date_text(budget: Budget, d: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    for index, (name, limit) in enumerate(
        (("date_string", _DATE_TEXT_LIMIT), ("format", _DATE_FORMAT_LIMIT))
        if len(args) == 2 or "date_string" in kw
        else (("format", _DATE_FORMAT_LIMIT),)
    ):
        value = _arg(args, kw, index, name, "")
        if isinstance(value, str) and len(value) > limit:
            raise budget.exhaust(
                "size",
                f"size limit: a date {name} of {len(value):,} characters (at most {limit:,})",
            )
    budget.charge(16)


def _check_copy(budget: Budget, ob: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    budget.charge_size(len(ob), f"{type(ob).__name__} copy")


def _check_from_bytes(budget: Budget, n: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    data = _arg(args, kw, 0, "bytes", b"")
    if isinstance(data, bytes | bytearray):
        budget.charge_bits(len(data) * 8, "int.from_bytes")


def _check_to_bytes(budget: Budget, n: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
    length = as_index(_arg(args, kw, 0, "length", 1))
    if length is not None:
        budget.charge_size(length, "int.to_bytes")
        raise _Substitute((length, *args[1:]) if args else (), _without(kw, "length", length))


_SPLITS: MethodCheck = _scaled(1)

_METHOD_CHECKS: dict[tuple[type, str], MethodCheck] = {}
for _text in (str, bytes):
    _METHOD_CHECKS.update(
        {
            (_text, "join"): _check_join,
            (_text, "replace"): _check_replace,
            (_text, "center"): _check_width,
            (_text, "ljust"): _check_width,
            (_text, "rjust"): _check_width,
            (_text, "zfill"): _check_width,
            (_text, "expandtabs"): _check_expandtabs,
            (_text, "translate"): _check_translate,
            (_text, "upper"): _scaled(3),
            (_text, "lower"): _scaled(3),
            (_text, "title"): _scaled(3),
            (_text, "capitalize"): _scaled(3),
            (_text, "casefold"): _scaled(3),
            (_text, "swapcase"): _scaled(3),
            (_text, "split"): _SPLITS,
            (_text, "rsplit"): _SPLITS,
            (_text, "splitlines"): _SPLITS,
        }
    )
_METHOD_CHECKS.update(
    {
        (str, "encode"): _scaled(4),
        (bytes, "decode"): _scaled(1),
        (bytes, "hex"): _scaled(3),
        (list, "extend"): _check_extend,
        (list, "copy"): _check_copy,
        (list, "sort"): _check_sort,
        (dict, "copy"): _check_copy,
        (dict, "update"): _check_iterables,
        (dict, "items"): _check_items,
        (dict, "popitem"): _check_items,
        (dict, "fromkeys"): _check_fromkeys,
        (set, "copy"): _check_copy,
        (frozenset, "copy"): _check_copy,
        (int, "to_bytes"): _check_to_bytes,
        (datetime.date, "strftime"): _check_date_text,
        (datetime.date, "strptime"): _check_date_text,
        (datetime.time, "strftime"): _check_date_text,
        (int, "from_bytes"): _check_from_bytes,
    }
)
for _set_type in (set, frozenset):
    for _name in (
        "union",
        "intersection",
        "difference",
        "symmetric_difference",
        "issubset",
        "issuperset",
        "isdisjoint",
        "update",
        "intersection_update",
        "difference_update",
        "symmetric_difference_update",
    ):
        _METHOD_CHECKS[(_set_type, _name)] = _check_iterables


def _run_checked(
    check: MethodCheck,
    method: Callable[..., Any],
    budget: Budget,
    ob: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    try:
        check(budget, ob, args, kwargs)
    except _Substitute as substitute:
        return method(*substitute.new_args, **substitute.new_kwargs)
    return method(*args, **kwargs)


def guarded_method_getattr(ob: Any, name: Any, default: Any = _MISSING) -> Any:
    """The ``_getattr_`` scripts use: ``guarded_getattr`` plus the argument substitution."""
    if type(name) is not str:
        raise TypeError("attribute name must be a str")
    if type(ob) is GuardedType:
        ob = ob._real
    check = _method_for(ob, name) if not name.startswith("_") else None
    if check is None:
        return guarded_getattr(ob, name, default)
    method = guarded_getattr(ob, name, default)
    if method is default:
        return method
    raw = getattr(ob, name)
    if isinstance(ob, type):
        if getattr(raw, "__self__", None) is ob:
            # a class method (dict.fromkeys, int.from_bytes): bound to the class already,
            # its arguments checked as given, keywords included

            def checked_class(*args: Any, **kwargs: Any) -> Any:
                return _run_checked(check, raw, current_budget(), ob, args, kwargs)

            return checked_class

        def checked_unbound(*args: Any, **kwargs: Any) -> Any:
            if not args:
                return raw(*args, **kwargs)  # no self: the method's own TypeError
            budget = current_budget()

            def bound(*rest: Any, **kw: Any) -> Any:
                return raw(args[0], *rest, **kw)

            return _run_checked(check, bound, budget, args[0], args[1:], kwargs)

        return checked_unbound

    def checked(*args: Any, **kwargs: Any) -> Any:
        return _run_checked(check, raw, current_budget(), ob, args, kwargs)

    return checked


# -- guarded builtins -----------------------------------------------------------------------
def chained(iterator: Iterator[Any], *sources: Any) -> _Precharged:
    """``iterator``, built over ``getiter`` of ``sources``, as the script gets it: one
    level deeper than its deepest source (facades building iterators use this too)."""
    return _Precharged(iterator, 1 + max(map(chain_depth, sources), default=0))


def _rows(iterator: Iterator[Any], sources: tuple[Any, ...]) -> Iterator[Any]:
    """Rows a C iterator builds around the items of ``sources`` (zip, enumerate): each a
    new tuple one level deeper than its deepest item. Sequences are judged once, up front;
    anything else row by row."""
    for source in sources:
        if not _shallow_items(source):
            return map(check_items, iterator)
    return iterator


def _shallow_items(source: Any) -> bool:
    """True when no item of ``source`` is a tuple nested MAX_NESTING deep (so rows built
    around its items stay within the limit); False when that cannot be told up front."""
    cls = type(source)
    if cls in (str, bytes, range):
        return True
    if cls in (tuple, list, set, frozenset, _DICT_KEYS):
        pass  # read as they are (a subclass is read through its base type below)
    elif isinstance(source, dict):
        source = dict.keys(source)  # the base type's own view: no subclass code runs
    elif isinstance(source, list | tuple):
        source = (
            list.copy(source)
            if isinstance(source, list)
            else tuple.__getitem__(source, slice(None))
        )
    elif isinstance(source, set | frozenset):
        source = set.copy(source) if isinstance(source, set) else frozenset.copy(source)
    else:
        return False
    kinds = set(map(type, source))
    if not any(issubclass(kind, tuple | slice) for kind in kinds):
        return True
    return all(tuple_depth(item) < MAX_NESTING for item in source)


_DICT_KEYS: type = type({}.keys())


def safe_enumerate(iterable: Any, start: int = 0) -> Any:
    rows = _rows(enumerate(getiter(iterable), start), (iterable,))
    return chained(rows, iterable)


def safe_zip(*iterables: Any, strict: bool = False) -> Any:
    rows = _rows(zip(*(getiter(it) for it in iterables), strict=strict), iterables)
    return chained(rows, *iterables)


def safe_map(function: Callable[..., Any], *iterables: Any) -> Any:
    return chained(map(function, *(getiter(it) for it in iterables)), *iterables)


def safe_filter(function: Any, iterable: Any) -> Any:
    return chained(filter(function, getiter(iterable)), iterable)


def safe_reversed(sequence: Any) -> Any:
    n = _length(sequence)
    if n is None:
        raise TypeError(f"{type(sequence).__name__!r} object is not reversible")
    budget = current_budget()
    budget.charge(n)
    iterator = reversed(sequence)
    if hasattr(iterator, "__setstate__"):
        budget.loops.append(iterator)
    return chained(iterator, sequence)


def safe_iter(ob: Any, *sentinel: Any) -> Any:
    if sentinel:
        # iter(callable, sentinel) is an endless C loop unless bounded
        return chained(bounded(iter(ob, *sentinel), current_budget()))
    if type(ob) is _Precharged or type(ob) is ScriptGenerator:
        return ob  # already an iterator of ours: iter() of an iterator is itself
    return chained(getiter(ob), ob)


def safe_slice(*args: Any) -> slice:
    """``slice(...)``: slices hash their bounds from CPython 3.12, so they nest like
    tuples do."""
    return check_tuple(slice(*args))  # type: ignore[no-any-return]


def tuple_display(*items: Any) -> tuple[Any, ...]:
    """``(a, b)`` and ``return a, b``: the tuple the display built, depth-checked when
    one of its items nests itself."""
    return check_items(items)


def safe_list(iterable: Any = ()) -> list[Any]:
    return materialize(iterable, "list")


def safe_tuple(iterable: Any = ()) -> tuple[Any, ...]:
    if type(iterable) is tuple:
        return iterable
    return check_items(tuple(materialize(iterable, "tuple")))


def safe_set(iterable: Any = ()) -> set[Any]:
    items = materialize(iterable, "set")
    check_hash_spread(items, "set")
    return set(items)


def safe_frozenset(iterable: Any = ()) -> frozenset[Any]:
    items = materialize(iterable, "frozenset")
    check_hash_spread(items, "frozenset")
    return frozenset(items)


def safe_dict(*args: Any, **kwargs: Any) -> dict[Any, Any]:
    if args:
        source = args[0]
        if not isinstance(source, dict):
            source = materialize(source, "dict")
            check_hash_spread(_pair_keys(source), "dict")
        else:
            current_budget().charge_size(len(source), "dict")
        return dict(source, **kwargs)
    return dict(**kwargs)


def charge_sort(n: int) -> None:
    """A sort is one C call of about n log n comparisons (a million items run a second);
    a script's ``key``, ``__lt__`` and ``__eq__`` are budgeted on their own."""
    if n > 256:
        current_budget().charge(n * n.bit_length() // 20)


def safe_sorted(iterable: Any, /, *, key: Any = None, reverse: bool = False) -> list[Any]:
    items = materialize(iterable, "sorted")
    charge_sort(len(items))
    items.sort(key=key, reverse=reverse)
    return items


def safe_set_display(*items: Any) -> set[Any]:
    """``{*keys, x}``: the set is built in one C call, so colliding hashes are refused
    first, as set() refuses them (issue 12)."""
    check_hash_spread(items, "set display")
    return set(items)


def _reducer(function: Callable[..., Any]) -> Callable[..., Any]:
    def reduce(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1:
            return function(getiter(args[0]), **kwargs)
        return function(*args, **kwargs)

    reduce.__name__ = function.__name__
    return reduce


_NUMBERS = (int, float, complex, bool)


def safe_sum(iterable: Any, /, start: Any = 0) -> Any:
    if type(start) in _NUMBERS:
        return sum(getiter(iterable), start)
    # sum([[...], ...], []) concatenates in one C call, copying the growing result at each
    # step (quadratic): add item by item through the size guard, which charges each copy
    total = start
    for item in getiter(iterable):
        total = add(total, item)
    return total


def safe_pow(base: Any, exp: Any, mod: Any = None) -> Any:
    return power(base, exp, mod)


def safe_repr(ob: Any) -> str:
    budget = current_budget()
    budget.charge_size(repr_size(ob, budget.limits.size), "repr")
    text = repr(ob)
    return text if type(ob) in _PLAIN_TEXT else without_addresses(text)


def safe_ascii(ob: Any) -> str:
    budget = current_budget()
    budget.charge_size(repr_size(ob, budget.limits.size) * 3, "ascii")
    text = ascii(ob)
    return text if type(ob) in _PLAIN_TEXT else without_addresses(text)


def safe_str(*args: Any, **kwargs: Any) -> Any:
    if len(args) == 1 and not kwargs and type(args[0]) is not str:
        budget = current_budget()
        budget.charge_size(repr_size(args[0], budget.limits.size), "str")
        text = str(args[0])
        return text if type(args[0]) in _PLAIN_TEXT else without_addresses(text)
    return str(*args, **kwargs)


def safe_int(*args: Any, **kwargs: Any) -> Any:
    """``int(...)``: text is parsed in quadratic time for decimal, and in any base past
    the size limit; ``int(Decimal('1e999999999'))`` builds a billion digits."""
    if args and isinstance(args[0], str | bytes | bytearray):
        text = args[0]
        base = as_index(args[1] if len(args) > 1 else kwargs.get("base", 10))
        budget = current_budget()
        if base is not None and base & (base - 1) == 0 and base > 0:
            budget.charge_bits(len(text) * base.bit_length(), "int from text")
        else:
            check_int_text(int(len(text) / 0.30103))
    elif args and isinstance(args[0], decimal.Decimal) and args[0].is_finite():
        exponent = args[0].adjusted()
        if exponent > 0:
            check_int_text(int(exponent / 0.30103) + 1)
    return int(*args, **kwargs)


def safe_math_prod(iterable: Any, *, start: Any = 1) -> Any:
    result = start
    for item in getiter(iterable):
        result = mul(result, item)
    return result


def safe_lcm(*integers: Any) -> Any:
    """``math.lcm``, pairwise: the result of one C call over many ints can grow to
    millions of bits, and the time with it; each step's result is size-checked."""
    budget = current_budget()
    result = 1
    for n in integers:
        result = math.lcm(result, n)
        bits = result.bit_length()
        if bits > 4096:
            budget.charge_bits(bits, "lcm")
    return result


def safe_dist(p: Any, q: Any) -> Any:
    """``math.dist``: it copies both points to tuples in C; bounded like any iteration."""
    return math.dist(materialize(p, "math.dist point"), materialize(q, "math.dist point"))


def safe_max(*args: Any, **kwargs: Any) -> Any:
    return _reducer(max)(*args, **kwargs)


def safe_min(*args: Any, **kwargs: Any) -> Any:
    return _reducer(min)(*args, **kwargs)


def safe_any(iterable: Any) -> bool:
    return any(getiter(iterable))


def safe_all(iterable: Any) -> bool:
    return all(getiter(iterable))


def safe_factorial(n: Any) -> Any:
    if isinstance(n, int) and n > 20:
        current_budget().charge_bits(int(n * math.log2(n)), "factorial")
    return math.factorial(n)


def _dict_fromkeys(iterable: Any, value: Any = None) -> dict[Any, Any]:
    keys = materialize(iterable, "dict.fromkeys")
    check_hash_spread(keys, "dict.fromkeys")
    return dict.fromkeys(keys, value)


# (The alternate constructors scripts use -- dict.fromkeys, str.maketrans -- come through
# the stand-ins of GuardedType below, bounded like the rest.)


# -- the built-in types, as scripts see them (issue 14) --------------------------------------
class GuardedType:
    """What the name ``str`` (``list``, ``dict``...) is in a script: calling it builds the
    value through its size-checked constructor; every attribute is the real type's, read
    through the guards (so ``sorted(words, key=str.lower)`` and ``dict.fromkeys`` work,
    and ``str.join`` is charged); ``isinstance``, ``issubclass``, ``type(x) is str``,
    ``class Tags(list)`` and ``case str():`` all see the real type."""

    # private names: `str.real` would hand out the unguarded type
    __slots__ = ("_construct", "_real")

    def __init__(self, real: type, construct: Callable[..., Any]) -> None:
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_construct", construct)
        # a wrong call's message names the type the script called (issue 18)
        construct.__name__ = construct.__qualname__ = real.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._construct(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return guarded_method_getattr(self._real, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._real.__name__} is read-only")

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        return (self._real,)

    def __getitem__(self, parameters: Any) -> Any:
        # `Pair = tuple[int, int]` at module level (annotations themselves are kept as
        # text): an inert hint, as typing's are; the real `list[int]` would be an
        # unguarded constructor (`list[int](huge)`) forwarding every attribute to `list`
        from ._modules._typing import TypeHint

        return TypeHint(f"{self._real.__name__}[...]")

    def __or__(self, other: Any) -> Any:
        # `isinstance(x, int | None)`: the real union of the real types, as Python makes
        # it (it has no attribute a script may read)
        if type(other) is GuardedType:
            other = other._real
        if other is None or isinstance(other, type):
            return self._real | other
        return NotImplemented

    def __ror__(self, other: Any) -> Any:
        if other is None or isinstance(other, type):
            return other | self._real
        return NotImplemented

    def __repr__(self) -> str:
        return repr(self._real)


def safe_bytes(source: Any = b"", encoding: Any = None, errors: Any = None) -> bytes:
    """``bytes(...)``: ``bytes(10**10)`` would take the memory at once."""
    budget = current_budget()
    if not isinstance(source, str | bytes) and hasattr(type(source), "__index__"):
        size = as_index(source)
        assert size is not None
        budget.charge_size(max(size, 0), "bytes")
        return bytes(size)
    if isinstance(source, str):
        budget.charge_size(len(source) * 4, "bytes")
        if errors is not None:
            return bytes(source, encoding, errors)
        return bytes(source, encoding)  # without an encoding, Python's own TypeError
    if isinstance(source, bytes):
        return source
    return bytes(materialize(source, "bytes"))


STAND_INS: dict[type, GuardedType] = {
    real: GuardedType(real, construct)
    for real, construct in (
        (str, safe_str),
        (int, safe_int),
        (bytes, safe_bytes),
        (list, safe_list),
        (tuple, safe_tuple),
        (dict, safe_dict),
        (set, safe_set),
        (frozenset, safe_frozenset),
    )
}


def safe_type(*args: Any) -> Any:
    """One-argument ``type(x)``: the class of ``x`` as a script names it (the stand-in for
    ``str``, ``list``...). A metaclass is never handed out: ``type(SomeClass)`` is this
    function again, so no class can be built around the class statement's checks."""
    if len(args) != 1:
        raise TypeError("type() takes one argument in scripts; use a class statement")
    cls = type(args[0])
    if cls is GuardedType:
        return safe_type
    return _as_script_type(cls)


def _as_script_type(cls: type) -> Any:
    """``cls`` as ``type(x)`` would show it to a script."""
    stand_in = STAND_INS.get(cls)
    if stand_in is not None:
        return stand_in
    if issubclass(cls, type):
        return safe_type  # a metaclass (ScriptMeta's included) is never handed out
    if cls.__module__.startswith("hookyard._") and not isinstance(cls, ScriptMeta):
        return opaque_type(cls)
    return cls


class OpaqueType:
    """What ``type(x)`` gives for an object the engine made (a ``zip`` object, a module
    facade, ``log``): its name, and ``isinstance`` through it, but never its constructor
    (``type(zip([]))(...)`` could wrap an endless iterator as already charged) and no
    subclassing."""

    __slots__ = ("_real",)

    def __init__(self, real: type) -> None:
        object.__setattr__(self, "_real", real)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"cannot create {self._real.__name__!r} objects in a script")

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"{self._real.__name__!r} has no attributes scripts may read")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("read-only")

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        raise TypeError(f"{self._real.__name__!r} cannot be subclassed in a script")

    def __repr__(self) -> str:
        return f"<class {self._real.__name__!r}>"


_OPAQUE: dict[type, OpaqueType] = {}


def opaque_type(cls: type) -> OpaqueType:
    found = _OPAQUE.get(cls)
    if found is None:
        found = _OPAQUE.setdefault(cls, OpaqueType(cls))
    return found


# -- built-in types a script class may derive from -----------------------------------------
_CONSTRUCTORS: dict[type, Callable[..., Any]] = {
    real: stand_in._construct for real, stand_in in STAND_INS.items()
}
_MUTABLE_CONTAINERS = (list, dict, set)


def _builtin_base(cls: type) -> type | None:
    """The guarded built-in type ``cls`` derives from, if any (most derived first); none
    for a named tuple, whose checked constructor takes the fields."""
    for klass in cls.__mro__:
        if klass in NAMED_TUPLES:
            return None
        if klass in _CONSTRUCTORS:
            return klass
    return None


def _checked_construction(
    cls: type,
    base: type,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    instantiating: bool = True,
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments the built-in ``base`` will build from, made by its guarded
    constructor first. Instantiating a mutable container whose ``__init__`` the script
    wrote passes the arguments on as they are: that ``__init__`` gets them, and its own
    ``super().__init__(...)`` comes back here (``instantiating=False``)."""
    if (
        instantiating
        and base in _MUTABLE_CONTAINERS
        and type(getattr(cls, "__init__", None)) is types.FunctionType
    ):
        return args, kwargs
    if not args and not kwargs:
        return args, kwargs
    value = _CONSTRUCTORS[base](*args, **kwargs)
    return (value,), {}


def slice_value(value: Any) -> Any:
    """``a[i:j] = value``: the C assignment copies ``value`` in one call (``a[:] =
    range(10**9)``), so it is materialised first, charged and size-checked (issue 12)."""
    if type(value) is list:
        current_budget().charge_size(len(value), "slice assignment")
        return value
    return materialize(value, "slice assignment")


class _ItemOnlyFormatter(string.Formatter):
    """``str.format`` for scripts: fields by index or name with ``[key]``; attribute walks
    refused (CVE-2023-41039); every field formatted by the size-checked ``format_value``."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        first, rest = _string.formatter_field_name_split(field_name)
        value = self.get_value(first, args, kwargs)
        for is_attribute, key in rest:
            if is_attribute:
                raise ValueError(
                    f"format field {{{field_name}}}: attribute access in format strings is "
                    "not available to scripts; use {0[key]} or an f-string"
                )
            value = value[key]
        return value, first

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is None:
            return value
        if conversion == "r":
            return safe_repr(value)
        if conversion == "s":
            return safe_str(value)
        if conversion == "a":
            return safe_ascii(value)
        raise ValueError(f"unknown conversion {conversion!r} in a format field")

    def format_field(self, value: Any, format_spec: str) -> str:
        return format_value(value, -1, format_spec)


_FORMATTER = _ItemOnlyFormatter()


def _format_method(ob: Any, name: str) -> Callable[..., str]:
    """``text.format``/``format_map`` bound to ``text``, or unbound on ``str`` itself."""
    if isinstance(ob, str):
        if name == "format":
            return lambda *args, **kwargs: _FORMATTER.vformat(ob, args, kwargs)
        return lambda mapping: _FORMATTER.vformat(ob, (), mapping)
    if name == "format":
        return lambda template, *args, **kwargs: _FORMATTER.vformat(str(template), args, kwargs)
    return lambda template, mapping: _FORMATTER.vformat(str(template), (), mapping)
