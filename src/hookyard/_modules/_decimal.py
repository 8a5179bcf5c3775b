"""Exact-number facades: ``decimal`` (precision and exponents bounded) and ``fractions``.

Decimal precision is capped (``ln`` at 5,000 digits takes seconds in one call), decimals
with huge exponents are refused where they are made, and exact conversions to integers
(``math.floor(d)``, ``Fraction(d)``) are charged by the integer they build: converting a
decimal to an int is quadratic in its digits (``int(Decimal('1e300000'))`` takes 3 s).
"""

from __future__ import annotations

import decimal
import fractions
from typing import Any

from .._budget import current_budget
from .._guards import charge_gcd, script_writable
from ._common import public, public_class

__all__ = [
    "MAX_EXPONENT",
    "MAX_PREC",
    "check_exact",
    "decimal_facade",
    "fractions_facade",
    "integer_bits",
]

# Decimal precision a script may ask for: exp/ln/power cost grows with prec**2.5 (about
# 50 ms at 1,000 digits, 3 s at 5,000), and no operator can be interrupted.
MAX_PREC = 1000
# Exponents a script's decimals may have (Python's default context's own limits).
MAX_EXPONENT = 999_999


# -- exact conversions -----------------------------------------------------------------------
def integer_bits(value: Any) -> int:
    """Bits of the integer an exact conversion of ``value`` builds (``int(d)``,
    ``d.as_integer_ratio()``, ``Fraction(d)``, ``math.floor(d)``); 0 when small or unknown.
    A general guard: ``int()``, ``round()`` and ``format(d, 'f')`` need it too."""
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return 0
        digits = len(value.as_tuple().digits)
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        return int((digits + abs(exponent)) * 3.33) + 1
    if isinstance(value, fractions.Fraction):
        return value.numerator.bit_length() + value.denominator.bit_length()
    return 0


def check_exact(value: Any, what: str) -> None:
    """Refuse an exact conversion whose integer would pass the size limit; charge its
    cost otherwise (decimal-to-integer conversion is quadratic in the digits)."""
    bits = integer_bits(value)
    if bits > 4096:
        budget = current_budget()
        budget.charge_bits(bits, what)
        if isinstance(value, decimal.Decimal):
            budget.charge((bits * bits) >> 24)


# -- decimal ---------------------------------------------------------------------------------
_ROUNDINGS = frozenset(getattr(decimal, name) for name in dir(decimal) if name.startswith("ROUND_"))


def _bounded(context: decimal.Context) -> decimal.Context:
    """``context`` with its precision and exponents brought inside the scripts' limits."""
    context.prec = min(context.prec, MAX_PREC)
    context.Emax = min(context.Emax, MAX_EXPONENT)
    context.Emin = max(context.Emin, -MAX_EXPONENT)
    return context


_CONTEXT_FIELDS = ("prec", "rounding", "Emin", "Emax", "capitals", "clamp")


def _check_field(name: str, value: Any) -> None:
    if name == "rounding":
        if value not in _ROUNDINGS:
            raise ValueError(f"decimal: invalid rounding mode {value!r}")
        return
    if name not in _CONTEXT_FIELDS:
        raise AttributeError(f"decimal contexts have no settable attribute {name!r}")
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"decimal: {name} must be an int")
    bounds = {
        "prec": (1, MAX_PREC),
        "Emax": (0, MAX_EXPONENT),
        "Emin": (-MAX_EXPONENT, 0),
        "capitals": (0, 1),
        "clamp": (0, 1),
    }[name]
    if not bounds[0] <= value <= bounds[1]:
        if name == "prec":
            raise current_budget().exhaust(
                "size",
                f"size limit: decimal precision {value:,} (scripts may use up to {MAX_PREC:,})",
            )
        raise ValueError(f"decimal: {name} must be in [{bounds[0]:,}, {bounds[1]:,}]")


# Context methods scripts may call (arithmetic under the context's bounded precision).
_CONTEXT_METHODS = frozenset(
    {
        "abs", "add", "compare", "compare_signal", "compare_total", "copy_abs", "copy_decimal",
        "copy_negate", "copy_sign", "create_decimal", "create_decimal_from_float", "divide",
        "divide_int", "divmod", "exp", "fma", "is_canonical", "is_finite", "is_infinite",
        "is_nan", "is_normal", "is_qnan", "is_signed", "is_snan", "is_subnormal", "is_zero",
        "ln", "log10", "logb", "max", "max_mag", "min", "min_mag", "minus", "multiply",
        "next_minus", "next_plus", "next_toward", "normalize", "number_class", "plus",
        "power", "quantize", "radix", "remainder", "remainder_near", "same_quantum", "sqrt",
        "subtract", "to_eng_string", "to_sci_string", "Etiny", "Etop", "clear_flags",
        "clear_traps",
    }
)  # fmt: skip


@script_writable
class Context:
    """``decimal.Context``: a settings object whose every assignment is checked
    (precision up to MAX_PREC, exponents up to MAX_EXPONENT)."""

    __slots__ = ("__context__", "__readonly__")

    def __init__(
        self,
        prec: Any = None,
        rounding: Any = None,
        Emin: Any = None,  # noqa: N803 - the stdlib's names
        Emax: Any = None,  # noqa: N803
        capitals: Any = None,
        clamp: Any = None,
        flags: Any = None,
        traps: Any = None,
    ) -> None:
        inner = _bounded(decimal.Context())
        object.__setattr__(self, "__context__", inner)
        object.__setattr__(self, "__readonly__", False)
        given = {"prec": prec, "rounding": rounding, "Emin": Emin, "Emax": Emax}
        given.update(capitals=capitals, clamp=clamp)
        for name, value in given.items():
            if value is not None:
                setattr(self, name, value)
        if traps is not None:
            inner.traps = traps if isinstance(traps, dict) else {s: True for s in traps}
        if flags is not None:
            inner.flags = flags if isinstance(flags, dict) else {s: True for s in flags}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("decimal.Context cannot be subclassed by scripts")

    def __setattr__(self, name: str, value: Any) -> None:
        if object.__getattribute__(self, "__readonly__"):
            # the thread's context is the host's: a change would outlive the script's call
            raise AttributeError(
                "decimal.getcontext() is read-only for scripts: change settings inside "
                "'with decimal.localcontext() as ctx:' (or use a decimal.Context)"
            )
        _check_field(name, value)
        setattr(object.__getattribute__(self, "__context__"), name, value)

    def __getattr__(self, name: str) -> Any:
        inner = object.__getattribute__(self, "__context__")
        if name in _CONTEXT_FIELDS or name in ("traps", "flags") or name in _CONTEXT_METHODS:
            return getattr(inner, name)
        raise AttributeError(f"'Context' object has no attribute {name!r}")

    def copy(self) -> Context:
        new = Context()
        object.__setattr__(new, "__context__", object.__getattribute__(self, "__context__").copy())
        return new

    def __repr__(self) -> str:
        return repr(object.__getattribute__(self, "__context__"))


public_class(Context, "Context", "decimal")


class _LocalContext:
    """``with decimal.localcontext() as ctx:`` — the thread's decimal context is replaced
    by a bounded copy for the block, and put back after it (only if the block's context
    is still the current one)."""

    __slots__ = ("__context__", "__saved__")

    def __init__(self, context: Context) -> None:
        self.__context__ = context
        self.__saved__: decimal.Context | None = None

    def __enter__(self) -> Context:
        self.__saved__ = decimal.getcontext()
        decimal.setcontext(object.__getattribute__(self.__context__, "__context__"))
        return self.__context__

    def __exit__(self, *exc: object) -> None:
        saved = self.__saved__
        inner = object.__getattribute__(self.__context__, "__context__")
        if saved is not None and decimal.getcontext() is inner:
            decimal.setcontext(saved)
        self.__saved__ = None


@public("decimal.localcontext")
def localcontext(ctx: Any = None, **kwargs: Any) -> _LocalContext:
    if ctx is None:
        base = _bounded(decimal.getcontext().copy())
    elif isinstance(ctx, Context):
        base = object.__getattribute__(ctx, "__context__").copy()
    else:
        raise TypeError("decimal.localcontext takes a decimal.Context")
    local = Context()
    object.__setattr__(local, "__context__", base)
    for name, value in kwargs.items():
        setattr(local, name, value)
    return _LocalContext(local)


@public("decimal.getcontext")
def getcontext() -> Context:
    """The current context, read-only: outside a ``localcontext`` block the thread's
    context is the host's, so a script changes settings inside
    ``with decimal.localcontext() as ctx:`` instead."""
    view = Context()
    object.__setattr__(view, "__context__", _bounded(decimal.getcontext().copy()))
    object.__setattr__(view, "__readonly__", True)
    return view


class _DecimalMeta(type):
    """``decimal.Decimal`` for scripts: calling it builds a real ``decimal.Decimal`` (the
    type that crosses to the host), refusing exponents past MAX_EXPONENT and charging the
    digits; ``isinstance(x, decimal.Decimal)`` sees real decimals."""

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, decimal.Decimal)

    def __subclasscheck__(cls, subclass: Any) -> bool:
        return isinstance(subclass, type) and issubclass(subclass, decimal.Decimal)

    def __call__(cls, value: Any = "0", context: Any = None) -> decimal.Decimal:
        if isinstance(value, str):
            current_budget().charge_size(len(value), "Decimal")
        elif isinstance(value, int) and value.bit_length() > 4096:
            current_budget().charge_bits(value.bit_length(), "Decimal")
        if context is not None:
            if not isinstance(context, Context):
                raise TypeError("Decimal: context must be a decimal.Context")
            result = object.__getattribute__(context, "__context__").create_decimal(value)
        else:
            result = decimal.Decimal(value)
        assert isinstance(result, decimal.Decimal)
        if result.is_finite() and abs(result.adjusted()) > MAX_EXPONENT:
            raise current_budget().exhaust(
                "size",
                f"size limit: Decimal exponent {result.adjusted():,} "
                f"(scripts may use up to ±{MAX_EXPONENT:,})",
            )
        return result

    def from_float(cls, f: Any) -> decimal.Decimal:
        return decimal.Decimal.from_float(f)


class _Decimal(metaclass=_DecimalMeta):
    pass


public_class(_Decimal, "Decimal", "decimal")
public_class(_DecimalMeta, "Decimal", "decimal")


def decimal_facade() -> dict[str, Any]:
    names = [name for name in dir(decimal) if name.startswith("ROUND_")]
    signals = [
        "DecimalException", "Clamped", "InvalidOperation", "DivisionByZero", "Inexact",
        "Rounded", "Subnormal", "Overflow", "Underflow", "FloatOperation",
    ]  # fmt: skip
    attributes: dict[str, Any] = {name: getattr(decimal, name) for name in names + signals}
    attributes.update(
        Decimal=_Decimal,
        Context=Context,
        localcontext=localcontext,
        getcontext=getcontext,
        MAX_PREC=MAX_PREC,
        MAX_EMAX=MAX_EXPONENT,
        MIN_EMIN=-MAX_EXPONENT,
    )
    return attributes


# -- fractions -------------------------------------------------------------------------------
class _FractionMeta(type):
    """``fractions.Fraction`` for scripts: builds real fractions (the type that crosses to
    the host), refusing inputs whose numerator or denominator would pass the size limit."""

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, fractions.Fraction)

    def __subclasscheck__(cls, subclass: Any) -> bool:
        return isinstance(subclass, type) and issubclass(subclass, fractions.Fraction)

    def __call__(cls, numerator: Any = 0, denominator: Any = None) -> fractions.Fraction:
        budget = current_budget()
        for part in (numerator, denominator):
            if isinstance(part, str):
                # "1e999999" is an exact integer of a million digits
                budget.charge_size(len(part), "Fraction")
                exponent = part.lower().partition("e")[2].strip()
                if exponent.lstrip("+-").isdigit() and abs(int(exponent[:12])) > 4096:
                    budget.charge_bits(int(abs(int(exponent[:12])) * 3.33), "Fraction")
            elif isinstance(part, int):
                if part.bit_length() > 4096:
                    budget.charge_bits(part.bit_length(), "Fraction")
            elif isinstance(part, decimal.Decimal | fractions.Fraction):
                check_exact(part, "Fraction")
        if denominator is None:
            return fractions.Fraction(numerator)
        if isinstance(numerator, int) and isinstance(denominator, int):
            charge_gcd(numerator, denominator)  # Fraction reduces by their gcd
        return fractions.Fraction(numerator, denominator)

    def from_float(cls, f: Any) -> fractions.Fraction:
        return fractions.Fraction.from_float(f)

    def from_decimal(cls, dec: Any) -> fractions.Fraction:
        check_exact(dec, "Fraction.from_decimal")
        return fractions.Fraction.from_decimal(dec)


class _Fraction(metaclass=_FractionMeta):
    pass


public_class(_Fraction, "Fraction", "fractions")
public_class(_FractionMeta, "Fraction", "fractions")


def fractions_facade() -> dict[str, Any]:
    return {"Fraction": _Fraction}
