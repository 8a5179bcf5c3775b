"""Single C calls that explode (issue 12, family 2): one row per builtin, operator and
method of docs/security.md's table "Why every C call is bounded".

Each payload leaks only if its one C call ran to the end; each must be refused or charged
*before* the work (it fails inside the budget, in both modes, the host serving). A second
table holds the ordinary sizes of the same calls, which must still work.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import hookyard
from tests.conftest import BOTH_MODES, MakeEngine
from tests.escapes import assert_contained, run_payload

BIG = "((1 << 900_000) - 1)"  # an int just under the default size limit (1,000,000 bits)
HALF = "((1 << 450_000) - 3)"

ROWS: dict[str, str] = {
    "a + b (sequences)": "a = 'x' * 900_000\nleak(len(a + a))",
    "a * n (repetition)": "leak(len([0] * 10**9))",
    "a * n (__index__)": "class N:\n    def __index__(self):\n        return 10**9\nleak(len('ab' * N()))",
    "a * b (big ints)": f"x = {BIG}\nleak((x * x * x).bit_length())",
    "a ** b": "leak((10 ** 10**8).bit_length())",
    "pow(b, e, m)": f"leak(pow(3, {BIG}, {HALF}))",
    "a << b": "leak((1 << 10**9).bit_length())",
    "a % b (formatting)": "leak(len('%*d' % (10**9, 1)))",
    "a % b (big ints)": f"leak(({BIG} * {BIG}) % {HALF} > 0)",
    "a // b (big ints)": f"leak(({BIG} * {BIG}) // {HALF} > 0)",
    "divmod": f"leak(divmod({BIG} * {BIG}, {HALF})[0] > 0)",
    "int(text)": "leak(int('7' * 500_000) > 0)",
    "int(text, base)": "leak(int('1' * 999_999 * 2, 2) > 0)",
    "str(int)": f"leak(len(str({BIG})))",
    "format width": "leak(len(format(1, '1000000000')))",
    "f-string width": "w = 10**9\nleak(len(f'{1:{w}}'))",
    "str.format width": "leak(len('{:>1000000000}'.format(1)))",
    "bytes(n)": "leak(len(bytes(10**10)))",
    "str.center / ljust / rjust / zfill": "leak(len('x'.zfill(10**9)))",
    "str.replace": "s = 'a' * 1000\nleak(len(s.replace('a', 'b' * 10_000)))",
    "str.expandtabs": "s = '\\t' * 1000\nleak(len(s.expandtabs(10**7)))",
    "str.translate": "leak(len(('a' * 1000).translate({97: 'b' * 10**6})))",
    "str.join": "leak(len(('x' * 1000).join(['y'] * 10_000)))",
    "str.upper / casefold (growth)": "leak(len(('\\u00df' * 900_000).upper()))",
    "str.encode": "leak(len(('\\u20ac' * 900_000).encode()))",
    "bytes.hex": "leak(len((b'x' * 900_000).hex(':')))",
    "int.to_bytes": "leak(len((1).to_bytes(10**10, 'big')))",
    "list.extend / +=": "a = []\na.extend(range(10**9))\nleak(len(a))",
    "slice assignment": "a = []\na[:] = range(10**9)\nleak(len(a))",
    "slice read": "a = list(range(900_000))\nb = []\nfor i in range(2000):\n    b.append(a[:])\nleak(len(b))",
    "dict.update / dict() / dict.fromkeys": "leak(len(dict.fromkeys(range(10**9))))",
    "set() / frozenset() (colliding hashes)": "keys = [i * (2**61 - 1) for i in range(30_000)]\nleak(len(set(keys)))",
    "{*keys} (colliding hashes)": "keys = [i * (2**61 - 1) for i in range(30_000)]\nleak(len({*keys}))",
    "set methods (colliding hashes)": "keys = [i * (2**61 - 1) for i in range(30_000)]\nleak(len(set().union(keys)))",
    "sorted / list.sort": "a = [str(i) for i in range(900_000)]\na.sort()\na.sort()\nleak(len(a))",
    "sum of lists": "leak(len(sum([[0] * 1000] * 2000, [])))",
    "list(range(...)) / tuple()": "leak(len(list(range(10**10))))",
    "repr / str / ascii (shared references)": (
        "a = ['x' * 100] * 1000\nb = [a] * 1000\nleak(len(repr(b)))"
    ),
    "print / log (output)": "for i in range(10**6):\n    print('x' * 1000)\nleak('done')",
    "iter(callable, sentinel)": "leak(sum(iter(int, 1)))",
    "map / filter / zip / enumerate": "leak(sum(map(abs, iter(int, 1))))",
    "min / max / any / all": "leak(max(iter(int, 1)))",
    "math.factorial / comb / perm": "import math\nleak(math.factorial(10**7) > 0)",
    "math.lcm / prod": "import math\nleak(math.prod(range(1, 10**6)) > 0)",
    "json.dumps (indent)": "import json\nleak(len(json.dumps([[[[]]]] * 100_000, indent=10**5)))",
    "random.sample / choices": "import random\nleak(len(random.choices(range(10), k=10**9)))",
    "Fraction arithmetic": (
        "from fractions import Fraction\nx = Fraction(2, 3)\nfor i in range(64):\n"
        "    x = x * x - x / 7\nleak(x > 0)"
    ),
    "math.gcd / isqrt": f"import math\nleak(math.gcd({BIG}, {HALF} * 7 + 1) + math.isqrt({BIG}))",
    "date strftime / strptime": (
        "import datetime\nleak(str(datetime.datetime.strptime('1' * 100000, '%Y' * 50000)))"
    ),
}

# Calls whose answer needs none of the work a naive implementation would do: the guard
# answers directly (were it to do the work, the suite would hang on ten to the 10**8).
CHEAP: dict[str, tuple[str, object]] = {
    "round": (
        "leak([round(7 * 10**500, -10**8), round(1.5, 10**8), round(-1.5, -10**8)])",
        [0, 1.5, -0.0],
    ),
}

SMALL: dict[str, str] = {
    "a + b (sequences)": "leak('ab' + 'cd')",
    "a * b (big ints)": "leak((10**300 * 10**300) % 97)",
    "a // b (big ints)": "leak(10**600 // 10**300 == 10**300)",
    "round": "leak([round(1234, -2), round(2.675, 2), round(7, -50)])",
    "int(text, base)": "leak([int('ff', 16), int('101', 2), int('42')])",
    "str(int)": "leak(len(str(10**1000)))",
    "str.format width": "leak('{:>5}|{:.2f}'.format('ab', 1.5))",
    "slice assignment": "a = [1, 2, 3]\na[1:] = (x * 2 for x in range(3))\nleak(a)",
    "sorted / list.sort": "leak(sorted([3, 1, 2]))",
    "{*keys} (colliding hashes)": "leak(sorted({*range(5), 9}))",
    "bytes(n)": "leak(bytes(3))",
    "Fraction arithmetic": (
        "from fractions import Fraction\nx = Fraction(1, 3)\nleak(str(x * x - x / 2 + 1))"
    ),
    "math.gcd / isqrt": "import math\nleak([math.gcd(12, 18), math.isqrt(10**40)])",
    "date strftime / strptime": (
        "import datetime\nd = datetime.datetime.strptime('2026-11-30', '%Y-%m-%d')\n"
        "leak(d.strftime('%d/%m/%Y'))"
    ),
}


def _payload(body: str) -> str:
    indented = "\n".join("    " + line for line in body.splitlines())
    return f"def pre(*a):\n    leak = api.leak\n{indented}\n"


@BOTH_MODES
@pytest.mark.parametrize("row", sorted(ROWS))
def test_an_exploding_c_call_is_stopped_before_it_runs(
    tmp_path: Path, row: str, isolation: object
) -> None:
    """The one C call that would run for seconds, or build gigabytes, is refused or charged
    first: the script fails inside its budget and the host keeps serving."""
    outcome = run_payload(
        tmp_path,
        _payload(ROWS[row]),
        isolation=isolation,
        modules=("math", "json", "random", "fractions", "datetime"),
    )
    assert_contained(outcome)


@BOTH_MODES
@pytest.mark.parametrize("row", sorted(CHEAP))
def test_a_call_whose_answer_needs_no_work_is_answered(make_engine: MakeEngine, row: str) -> None:
    """round(x, -10**8) is 0 for any int below 10**(10**8) / 2: answered without computing
    ten to the 10**8."""
    source, expected = CHEAP[row]
    leaked: list[object] = []
    engine = make_engine({"p/10-x.py": _payload(source)}, api={"leak": leaked.append})

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return "served"

    assert host() == "served"
    assert leaked == [expected]


@BOTH_MODES
@pytest.mark.parametrize("row", sorted(SMALL))
def test_the_same_calls_at_ordinary_sizes_still_work(make_engine: MakeEngine, row: str) -> None:
    """The guards refuse by size, not by name: the same call on ordinary values runs."""
    leaked: list[object] = []
    engine = make_engine(
        {"p/10-x.py": _payload(SMALL[row])},
        api={"leak": leaked.append},
        modules=("math", "json", "random", "fractions", "datetime"),
    )

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return "served"

    assert host() == "served"
    assert len(leaked) == 1


def test_every_row_of_the_security_table_has_a_test() -> None:
    """docs/security.md's table of bounded C calls and this file's rows are the same list."""
    text = (Path(__file__).parent.parent / "docs" / "security.md").read_text()
    section = text.split("### Why every C call is bounded", 1)[1].split("\n## ", 1)[0]
    documented = {
        match.group(1).strip("`").replace("`", "")
        for match in re.finditer(r"^\| (.+?) \|", section, re.MULTILINE)
    } - {"call", "---"}
    assert documented == {row.replace("`", "") for row in (*ROWS, *CHEAP)}


@BOTH_MODES
def test_limits_name_the_reason(make_engine: MakeEngine) -> None:
    """A refused call says which limit and what it would have built."""
    engine = make_engine({"p/10-x.py": _payload("leak(len([0] * 10**9))")}, api={"leak": print})

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return "served"

    with pytest.raises(hookyard.HookFailed, match=r"size limit .* list repetition"):
        host()
