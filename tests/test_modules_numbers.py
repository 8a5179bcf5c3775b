"""``math``, ``random``, ``statistics``, ``decimal`` and ``fractions`` in scripts: ordinary
arithmetic works (decimal contexts included), huge results and precisions are refused."""

from __future__ import annotations

import decimal
from fractions import Fraction

import pytest

from tests.conftest import BOTH_MODES, MakeEngine
from tests.modules_support import explodes, fails, run

pytestmark = BOTH_MODES

MODULES = ("math", "random", "statistics", "decimal", "fractions")

LEGITIMATE = {
    "math": (
        "return [math.comb(10, 3), math.perm(5, 2), math.factorial(10), math.floor(2.5),"
        " math.isqrt(17), math.gcd(12, 18), round(math.sqrt(2), 3), math.prod([1, 2, 3])]",
        [120, 20, 3628800, 2, 4, 6, 1.414, 6],
    ),
    "random with a seed is reproducible": (
        "a = random.Random(42)\nb = random.Random(42)\n"
        "return [a.random() == b.random(), a.choice('abc') == b.choice('abc'),"
        " len(a.sample(range(10**18), 3)), len(random.choices('ab', weights=[1, 3], k=5)),"
        " 1 <= random.randint(1, 6) <= 6, sorted(random.sample(range(10), k=10)) == list(range(10)),"
        " len(random.sample(['red', 'blue'], counts=[4, 2], k=5))]",
        [True, True, 3, 5, True, True, 5],
    ),
    "shuffle": (
        "x = list(range(20))\nrandom.shuffle(x)\nreturn sorted(x) == list(range(20))",
        True,
    ),
    "statistics": (
        "data = [2.75, 1.75, 1.25, 0.25, 0.5, 1.25, 3.5]\n"
        "return [statistics.mean([1, 2, 3, 4, 4]), statistics.median(data),"
        " statistics.mode('aabbbc'), round(statistics.stdev([1.5, 2.5, 2.5, 2.75, 3.25, 4.75]), 4),"
        " statistics.quantiles([1, 2, 3, 4, 5, 6, 7, 8], n=4), statistics.multimode('aabbc'),"
        " round(statistics.NormalDist(100, 15).cdf(130), 4),"
        " round(statistics.NormalDist.from_samples([1, 2, 3]).mean, 1),"
        " (statistics.NormalDist(1, 2) * 2 + 1).mean, len(statistics.NormalDist().samples(3, seed=1))]",
        [2.8, 1.25, "b", 1.0811, [2.25, 4.5, 6.75], ["a", "b"], 0.9772, 2.0, 3.0, 3],
    ),
    "decimal arithmetic": (
        "D = decimal.Decimal\n"
        "return [D('1.1') + D('2.2'), D(10) / D(4), D('7.325').quantize(D('.01'), rounding=decimal.ROUND_DOWN),"
        " isinstance(D(1), decimal.Decimal), D('3.14159').as_tuple().exponent]",
        [decimal.Decimal("3.3"), decimal.Decimal("2.5"), decimal.Decimal("7.32"), True, -5],
    ),
    "decimal localcontext": (
        "with decimal.localcontext() as ctx:\n    ctx.prec = 5\n    x = decimal.Decimal(1) / decimal.Decimal(7)\n"
        "with decimal.localcontext(prec=3, rounding=decimal.ROUND_UP) as ctx:\n    y = decimal.Decimal(1) / 3\n"
        "return [x, y, decimal.getcontext().prec >= 28]",
        [decimal.Decimal("0.14286"), decimal.Decimal("0.334"), True],
    ),
    "decimal Context object": (
        "ctx = decimal.Context(prec=4)\nreturn [ctx.divide(decimal.Decimal(2), decimal.Decimal(3)),"
        " ctx.prec, ctx.sqrt(decimal.Decimal(2))]",
        [decimal.Decimal("0.6667"), 4, decimal.Decimal("1.414")],
    ),
    "fractions": (
        "F = fractions.Fraction\n"
        "return [F(1, 3) + F(1, 6), F('3/4') * 2, F(0.5), F(decimal.Decimal('1.25')),"
        " F(10, 4).limit_denominator(3), isinstance(F(1), fractions.Fraction)]",
        [Fraction(1, 2), Fraction(3, 2), Fraction(1, 2), Fraction(5, 4), Fraction(5, 2), True],
    ),
}


@pytest.mark.parametrize("name", sorted(LEGITIMATE))
def test_documented_uses_work(make_engine: MakeEngine, name: str) -> None:
    """The Python docs' examples give the documented results (Decimal and Fraction
    values cross to the host as themselves)."""
    body, expected = LEGITIMATE[name]
    assert run(make_engine, body, *MODULES) == expected


EXPLODING = {
    "comb with big arguments": "math.comb(10**6, 5 * 10**5)",
    "perm with big arguments": "math.perm(10**6, 10**5)",
    "factorial of a million": "math.factorial(10**6)",
    "floor of a decimal with a huge exponent": "math.floor(decimal.Decimal('1e300000'))",
    "random.choices weights over a huge range": "random.choices(range(10), weights=range(10**9))",
    "random.choices cum_weights over a huge range": (
        "random.choices(range(10), cum_weights=itertools.count())"
    ),
    "random.sample counts over a huge range": "random.sample(range(10), 2, counts=range(10**9))",
    "random.choices huge k": "random.choices('ab', k=10**9)",
    "random.getrandbits huge": "random.getrandbits(10**10)",
    "random.randbytes huge": "random.randbytes(10**10)",
    "statistics over a huge range": "statistics.mean(range(10**9))",
    "statistics over an endless iterator": "statistics.median(itertools.count())",
    "statistics.quantiles of a huge n": "statistics.quantiles([1, 2, 3], n=10**9)",
    "NormalDist.samples of a huge n": "statistics.NormalDist().samples(10**9)",
    "NormalDist sum's quantiles": "(statistics.NormalDist() + 1).quantiles(10**9)",
    "statistics of huge fractions": "statistics.mean([fractions.Fraction(1, 3), decimal.Decimal('1e-300000')])",
    "decimal huge precision": "with decimal.localcontext() as ctx:\n    ctx.prec = 10**9",
    "decimal huge precision keyword": "decimal.localcontext(prec=10**6)",
    "decimal Context huge precision": "decimal.Context(prec=10**9)",
    "decimal huge exponent": "decimal.Decimal('1e999999999')",
    "Fraction of a huge exponent": "fractions.Fraction('1e999999')",
    "Fraction of a huge decimal": "fractions.Fraction(decimal.Decimal('9e300000'))",
}


@pytest.mark.parametrize("name", sorted(EXPLODING))
def test_exploding_calls_stop_within_the_budget(make_engine: MakeEngine, name: str) -> None:
    """Huge results, precisions and materialised iterables are refused before the C work;
    the host keeps serving."""
    explodes(make_engine, EXPLODING[name], *MODULES, "itertools")


def test_decimal_context_settings_are_checked(make_engine: MakeEngine) -> None:
    """A context field must be a valid value; unknown attributes are refused."""
    assert "ValueError" in fails(
        make_engine, "ctx = decimal.Context()\nctx.rounding = 'sideways'", *MODULES
    )
    assert "AttributeError" in fails(
        make_engine, "ctx = decimal.Context()\nctx.bogus = 1", *MODULES
    )


def test_a_script_cannot_change_the_hosts_decimal_context(make_engine: MakeEngine) -> None:
    """getcontext() is read-only (the thread's context is the host's) with a message
    pointing to localcontext(), which puts the host's context back after the block."""
    before = decimal.getcontext().prec
    body = (
        "try:\n    decimal.getcontext().prec = 3\nexcept AttributeError as exc:\n    refused = str(exc)\n"
        "with decimal.localcontext() as ctx:\n    ctx.prec = 2\n"
        "    inside = decimal.Decimal(1) / 7\nreturn [refused, inside, decimal.Decimal(1) / 7]"
    )
    refused, inside, after = run(make_engine, body, *MODULES)
    assert "localcontext" in refused
    assert inside == decimal.Decimal("0.14")
    assert after == decimal.Context(prec=28).divide(1, 7)
    assert decimal.getcontext().prec == before


def test_random_generators_are_the_scripts_own(make_engine: MakeEngine) -> None:
    """Seeding a script's random does not steer the process-wide generator."""
    import random

    random.seed(1234)
    expected = random.random()
    random.seed(1234)
    run(make_engine, "random.seed(0)\nreturn random.random()", *MODULES)
    assert random.random() == expected
