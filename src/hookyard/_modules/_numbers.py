"""Number facades: ``math``, ``random``, ``statistics``.

The growth these bound: big-int results (``comb``, ``perm``, ``factorial``, ``lcm``:
charged by the result's size, and ``comb``/``perm`` by their quadratic cost), exact
conversions of decimals with large exponents (``int(Decimal('1e300000'))`` takes
seconds), iterables the standard library materialises before any check
(``random.choices(weights=...)``, ``random.sample(counts=...)``, every ``statistics``
function), and decimal precision (capped: ``ln`` at 5,000 digits takes seconds).
"""

from __future__ import annotations

import decimal
import fractions
import math
import random
import statistics
from collections.abc import Callable
from typing import Any

from .. import _guards
from .._budget import current_budget
from .._guards import getiter, materialize
from ._common import check_count, int_arg, public, public_class
from ._decimal import check_exact

__all__ = [
    "math_facade",
    "random_facade",
    "statistics_facade",
]


# -- math ------------------------------------------------------------------------------------
def _log2_comb(n: int, k: int) -> float:
    if k < 0 or n < 0 or k > n:
        return 0.0
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(2)


def _charge_result(bits: float, what: str) -> None:
    """A big-int result of ``bits`` bits, built by repeated multiplication: its size is
    refused past the limit, and its cost (quadratic: comb(200000, 100000) takes 0.6 s on
    CPython 3.11) is charged."""
    if bits > 4096:
        budget = current_budget()
        budget.charge_bits(int(bits), what)
        budget.charge(int(bits * bits) >> 16)


@public("math.comb")
def comb(n: Any, k: Any) -> int:
    n, k = int_arg(n), int_arg(k)
    _charge_result(_log2_comb(n, k), "comb")
    return math.comb(n, k)


@public("math.perm")
def perm(n: Any, k: Any = None) -> int:
    n = int_arg(n)
    kk = n if k is None else int_arg(k)
    if 0 <= kk <= n:
        _charge_result((math.lgamma(n + 1) - math.lgamma(n - kk + 1)) / math.log(2), "perm")
    return math.perm(n, k)


def _rounding(name: str, function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def rounded(x: Any) -> Any:
        check_exact(x, f"math.{name}")
        return function(x)

    return public(f"math.{name}")(rounded)


@public("math.gcd")
def gcd(*integers: Any) -> int:
    """Pair by pair, each charged by its quadratic work before it runs (issue 12)."""
    result = 0
    for given in integers:
        n = int_arg(given)
        _guards.charge_gcd(result, n)
        result = math.gcd(result, n)
    return result


@public("math.isqrt")
def isqrt(n: Any) -> int:
    n = int_arg(n)
    _guards.charge_isqrt(n)
    return math.isqrt(n)


def math_facade() -> dict[str, Any]:
    attributes = {name: getattr(math, name) for name in dir(math) if not name.startswith("_")}
    attributes.update(
        factorial=_guards.safe_factorial,
        comb=comb,
        perm=perm,
        prod=_guards.safe_math_prod,
        fsum=public("math.fsum")(lambda iterable: math.fsum(getiter(iterable))),
        lcm=_guards.safe_lcm,
        dist=_guards.safe_dist,
        gcd=gcd,
        isqrt=isqrt,
        floor=_rounding("floor", math.floor),
        ceil=_rounding("ceil", math.ceil),
        trunc=_rounding("trunc", math.trunc),
    )
    if "sumprod" in attributes:  # Python 3.12+: two iterables consumed in C
        attributes["sumprod"] = public("math.sumprod")(
            lambda p, q: math.sumprod(getiter(p), getiter(q))  # type: ignore[attr-defined]
        )
    return attributes


# -- random ----------------------------------------------------------------------------------
class Random:
    """``random.Random``: a generator of the script's own (the module-level random state is
    shared by the whole process: seeding it from a script would steer the host's)."""

    __slots__ = ("__generator__",)

    def __init__(self, x: Any = None) -> None:
        self.__generator__ = random.Random()
        self.seed(x)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("random.Random cannot be subclassed by scripts")

    def seed(self, a: Any = None, version: int = 2) -> None:
        if isinstance(a, str | bytes | bytearray):
            current_budget().charge_size(len(a), "random.seed")
        elif isinstance(a, int) and a.bit_length() > 4096:
            current_budget().charge_bits(a.bit_length(), "random.seed")
        self.__generator__.seed(a, version)

    def random(self) -> float:
        return self.__generator__.random()

    def uniform(self, a: float, b: float) -> float:
        return self.__generator__.uniform(a, b)

    def randint(self, a: int, b: int) -> int:
        return self.__generator__.randint(a, b)

    def randrange(self, start: int, stop: Any = None, step: int = 1) -> int:
        return self.__generator__.randrange(start, stop, step)

    def choice(self, seq: Any) -> Any:
        return self.__generator__.choice(seq)

    def shuffle(self, x: Any) -> None:
        # a Python loop in Lib/random.py: one swap per item
        current_budget().charge_size(len(x), "random.shuffle")
        self.__generator__.shuffle(x)

    def sample(self, population: Any, k: Any, *, counts: Any = None) -> list[Any]:
        budget = current_budget()
        budget.charge_size(int_arg(k), "random.sample")
        if counts is not None:
            # Lib/random.py accumulates counts into a list before any check (issue 12)
            counts = materialize(counts, "random.sample counts")
        return self.__generator__.sample(population, k, counts=counts)

    def choices(
        self, population: Any, weights: Any = None, *, cum_weights: Any = None, k: Any = 1
    ) -> list[Any]:
        current_budget().charge_size(int_arg(k), "random.choices")
        # Lib/random.py accumulates the weights into a list before comparing its length
        # with the population's (issue 12)
        if weights is not None:
            weights = materialize(weights, "random.choices weights")
        if cum_weights is not None:
            cum_weights = materialize(cum_weights, "random.choices cum_weights")
        return self.__generator__.choices(population, weights, cum_weights=cum_weights, k=k)

    def getrandbits(self, k: Any) -> int:
        current_budget().charge_bits(int_arg(k), "random.getrandbits")
        return self.__generator__.getrandbits(k)

    def randbytes(self, n: Any) -> bytes:
        current_budget().charge_size(int_arg(n), "random.randbytes")
        return self.__generator__.randbytes(n)

    def gauss(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        return self.__generator__.gauss(mu, sigma)

    def normalvariate(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        return self.__generator__.normalvariate(mu, sigma)

    def triangular(self, low: float = 0.0, high: float = 1.0, mode: Any = None) -> float:
        return self.__generator__.triangular(low, high, mode)

    def betavariate(self, alpha: float, beta: float) -> float:
        return self.__generator__.betavariate(alpha, beta)

    def expovariate(self, lambd: float = 1.0) -> float:
        return self.__generator__.expovariate(lambd)

    def lognormvariate(self, mu: float, sigma: float) -> float:
        return self.__generator__.lognormvariate(mu, sigma)

    def vonmisesvariate(self, mu: float, kappa: float) -> float:
        return self.__generator__.vonmisesvariate(mu, kappa)

    def gammavariate(self, alpha: float, beta: float) -> float:
        return self.__generator__.gammavariate(alpha, beta)

    def paretovariate(self, alpha: float) -> float:
        return self.__generator__.paretovariate(alpha)

    def weibullvariate(self, alpha: float, beta: float) -> float:
        return self.__generator__.weibullvariate(alpha, beta)


Random.__module__ = "random"
_RANDOM_FUNCTIONS = (
    "seed",
    "random",
    "uniform",
    "randint",
    "randrange",
    "choice",
    "shuffle",
    "sample",
    "choices",
    "getrandbits",
    "randbytes",
    "gauss",
    "normalvariate",
    "triangular",
    "betavariate",
    "expovariate",
    "lognormvariate",
    "vonmisesvariate",
    "gammavariate",
    "paretovariate",
    "weibullvariate",
)
for _name in _RANDOM_FUNCTIONS:
    getattr(Random, _name).__qualname__ = f"random.{_name}"


def random_facade() -> dict[str, Any]:
    # one generator per script, its methods the module-level functions
    generator = Random()
    attributes: dict[str, Any] = {name: getattr(generator, name) for name in _RANDOM_FUNCTIONS}
    attributes["Random"] = Random
    return attributes


# -- statistics ------------------------------------------------------------------------------
def _data(data: Any, what: str) -> list[Any]:
    """Statistics functions loop over their data in Python, converting each value to an
    exact fraction: the data is materialised (size-checked), and decimals and fractions
    whose exact value is a huge integer are refused."""
    items = materialize(data, what)
    current_budget().charge(len(items))  # about one exact conversion per item
    for item in items:
        if type(item) is decimal.Decimal or type(item) is fractions.Fraction:
            check_exact(item, what)
    return items


def _over_data(name: str, extra: int = 0) -> Callable[..., Any]:
    function = getattr(statistics, name)

    def over(data: Any, *args: Any, **kwargs: Any) -> Any:
        items = _data(data, f"statistics.{name}")
        if "n" in kwargs:
            kwargs["n"] = _quantile_count(kwargs["n"])
        if extra:
            more = [_data(a, f"statistics.{name}") for a in args[:extra]]
            return function(items, *more, *args[extra:], **kwargs)
        return function(items, *args, **kwargs)

    return public(f"statistics.{name}")(over)


def statistics_facade() -> dict[str, Any]:
    single = (
        "mean",
        "fmean",
        "geometric_mean",
        "harmonic_mean",
        "median",
        "median_low",
        "median_high",
        "median_grouped",
        "mode",
        "multimode",
        "pstdev",
        "pvariance",
        "stdev",
        "variance",
        "quantiles",
    )
    attributes: dict[str, Any] = {name: _over_data(name) for name in single}
    for name in ("correlation", "covariance", "linear_regression"):
        attributes[name] = _over_data(name, extra=1)
    attributes["NormalDist"] = _NormalDist
    attributes["StatisticsError"] = statistics.StatisticsError
    return attributes


def _quantile_count(n: Any) -> int:
    # quantiles(n=...) builds n - 1 cut points in a Python loop
    return check_count(n, "quantiles")


class _NormalDist(statistics.NormalDist):
    """``statistics.NormalDist``: ``from_samples`` takes bounded data, ``samples`` and
    ``quantiles`` build size-checked lists, and arithmetic returns this class again (the
    standard library writes ``NormalDist(...)``, whose methods would not be bounded)."""

    @classmethod
    def from_samples(cls, data: Any) -> Any:
        return super().from_samples(_data(data, "NormalDist.from_samples"))

    def samples(self, n: Any, *, seed: Any = None) -> list[float]:
        return super().samples(check_count(n, "NormalDist.samples"), seed=seed)

    def quantiles(self, n: Any = 4) -> list[float]:
        return super().quantiles(_quantile_count(n))

    def _wrapped(self, result: Any) -> Any:
        if type(result) is statistics.NormalDist:
            return _NormalDist(result.mean, result.stdev)
        return result

    def __add__(self, other: Any) -> Any:
        return self._wrapped(super().__add__(other))

    def __sub__(self, other: Any) -> Any:
        return self._wrapped(super().__sub__(other))

    def __mul__(self, other: Any) -> Any:
        return self._wrapped(super().__mul__(other))

    def __truediv__(self, other: Any) -> Any:
        return self._wrapped(super().__truediv__(other))

    def __pos__(self) -> Any:
        return self._wrapped(super().__pos__())

    def __neg__(self) -> Any:
        return self._wrapped(super().__neg__())

    __radd__ = __add__
    __rmul__ = __mul__

    def __rsub__(self, other: Any) -> Any:
        return self._wrapped(-super().__sub__(other))


public_class(_NormalDist, "NormalDist", "statistics")
