"""Escapes through format strings (CVE-2023-41039, CVE-2024-47532, CVE-2026-76825)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.escapes import assert_contained, run_payload

# str.format walks attributes of its arguments
FORMAT_ATTRIBUTE_WALK = "def pre(*a):\n    api.leak('{0.__class__.__mro__}'.format(1))\n"
FORMAT_GLOBALS = "def pre(*a):\n    api.leak('{0.__globals__}'.format(pre))\n"
FORMAT_MAP = "def pre(*a):\n    api.leak('{f.__globals__}'.format_map({'f': pre}))\n"
# the unbound method through the type
STR_FORMAT_UNBOUND = "def pre(*a):\n    api.leak(str.format('{0.__class__}', 1))\n"
FORMAT_BY_GETATTR = (
    "def pre(*a):\n    f = getattr('{0.__class__}', 'for' + 'mat')\n    api.leak(f(1))\n"
)
# str.format is offered (issue 14): by index, name and [key] only
FORMAT_METHOD_REFERENCE = (
    "def pre(*a):\n    f = '{0.__class__.__mro__}'.format\n    api.leak(f(1))\n"
)
# string.Formatter and its traversal methods (vformat/get_field/get_value)
STRING_FORMATTER_VFORMAT = (
    "import string\n"
    "def pre(*a):\n    api.leak(string.Formatter().vformat('{0.__class__}', (1,), {}))\n"
)
STRING_FORMATTER_GET_FIELD = (
    "import string\n"
    "def pre(*a):\n    api.leak(str(string.Formatter().get_field('0.__class__', (1,), {})))\n"
)
# f-strings are compiled code: the attribute inside is checked like any other
FSTRING_DUNDER = "def pre(*a):\n    api.leak(f'{pre.__globals__}')\n"
FSTRING_NESTED_SPEC_DUNDER = "def pre(*a):\n    api.leak(f'{1:{pre.__name__}}')\n"
# logging format strings are %-style and formatted by us, not str.format
LOG_FORMAT_WALK = (
    "def pre(*a):\n    log.info('{0.__class__}', pre)\n    api.leak(str(log.manager))\n"
)
# format() builtin with a spec is not an attribute walk, but a width bomb (see budgets)
FORMAT_BUILTIN_WIDTH = "def pre(*a):\n    api.leak(format(1, '>10000000000'))\n"
# %-formatting a dict with attribute syntax does nothing special; a width bomb is refused
PERCENT_WIDTH = "def pre(*a):\n    api.leak('%10000000000d' % 1)\n"
PERCENT_STAR_WIDTH = "def pre(*a):\n    api.leak('%*d' % (10000000000, 1))\n"
FSTRING_WIDTH = "def pre(*a):\n    w = 10**10\n    api.leak(f'{1:>{w}}')\n"

PAYLOADS = {
    name: value for name, value in globals().items() if name.isupper() and isinstance(value, str)
}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_format_payload_is_contained(tmp_path: Path, name: str) -> None:
    """No format-string route walks attributes or builds a huge string."""
    assert_contained(run_payload(tmp_path, PAYLOADS[name]))


def test_fstrings_and_percent_formatting_work(tmp_path: Path) -> None:
    """Ordinary f-strings, format specs and %-formatting still work."""
    outcome = run_payload(
        tmp_path,
        "def post(rv, *a):\n"
        "    x = 3.14159\n"
        "    return [f'{x:.2f}', f'{42:>5}', f'{\"s\"!r}', '%s-%03d' % ('a', 7), format(255, 'x')]\n",
    )
    assert outcome.result == ["3.14", "   42", "'s'", "a-007", "ff"]
