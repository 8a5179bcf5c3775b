"""Escapes through frames, tracebacks, generators and coroutines (CVE-2023-37271)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.escapes import assert_contained, run_payload

# generator frame -> f_back -> the engine's frames and globals (CVE-2023-37271)
GENERATOR_FRAME = (
    "def pre(*a):\n    g = (x for x in [1])\n    api.leak(str(g.gi_frame.f_back.f_globals))\n"
)
GENERATOR_FRAME_GETATTR = (
    "def pre(*a):\n"
    "    def gen():\n        yield 1\n"
    "    g = gen()\n"
    "    api.leak(str(getattr(getattr(g, 'gi_fr' + 'ame'), 'f_back')))\n"
)
GENERATOR_CODE = (
    "def pre(*a):\n    g = (x for x in [1])\n    api.leak(str(getattr(g, 'gi_code')))\n"
)
GENERATOR_YIELDFROM = (
    "def pre(*a):\n"
    "    def inner():\n        yield 1\n"
    "    def outer():\n        yield from inner()\n"
    "    g = outer()\n    next(g)\n"
    "    api.leak(str(getattr(g, 'gi_yieldfrom')))\n"
)
# async constructs are refused outright (coroutine/async-generator frames)
ASYNC_DEF = "async def f():\n    pass\ndef pre(*a):\n    api.leak(str(f().cr_frame))\n"
ASYNC_GENERATOR = "def pre(*a):\n    api.leak('escaped')\nasync def g():\n    yield 1\n"
AWAIT = "def pre(*a):\n    await x\n    api.leak('escaped')\n"
# traceback -> frame -> globals
TRACEBACK_FRAME = (
    "def pre(*a):\n"
    "    try:\n        1 / 0\n"
    "    except ZeroDivisionError as e:\n"
    "        api.leak(str(e.__traceback__.tb_frame.f_globals))\n"
)
TRACEBACK_FRAME_GETATTR = (
    "def pre(*a):\n"
    "    try:\n        1 / 0\n"
    "    except ZeroDivisionError as e:\n"
    "        tb = getattr(e, '__traceback__')\n"
    "        api.leak(str(tb))\n"
)
TB_FRAME_NAME = (
    "def pre(*a):\n"
    "    try:\n        1 / 0\n"
    "    except ZeroDivisionError as e:\n"
    "        api.leak(str(getattr(e, 'tb_frame', None) or getattr(e, 'with_traceback')(None).tb_frame))\n"
)
FRAME_F_BACK_NAME = "def pre(*a):\n    api.leak(str(getattr(pre, 'f_back')))\n"
# exception context chain
EXCEPTION_CONTEXT = (
    "def pre(*a):\n"
    "    try:\n        1 / 0\n"
    "    except ZeroDivisionError as e:\n"
    "        api.leak(str(e.__context__))\n"
)

PAYLOADS = {
    name: value for name, value in globals().items() if name.isupper() and isinstance(value, str)
}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_frame_payload_is_contained(tmp_path: Path, name: str) -> None:
    """No generator, coroutine or traceback hands out a frame."""
    assert_contained(run_payload(tmp_path, PAYLOADS[name]))


def test_generators_still_work(tmp_path: Path) -> None:
    """Ordinary generators and generator expressions run inside the budget."""
    outcome = run_payload(
        tmp_path,
        "def post(rv, *a):\n"
        "    def squares(n):\n"
        "        for i in range(n):\n            yield i * i\n"
        "    return [list(squares(4)), sum(x for x in range(5)), next(iter([7]))]\n",
    )
    assert outcome.result == [[0, 1, 4, 9], 10, 7]
