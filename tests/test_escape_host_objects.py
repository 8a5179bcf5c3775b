"""Escapes through the host objects a script is handed: api, log, state, Veto, facades."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BOTH_MODES, MakeEngine
from tests.escapes import assert_contained, run_payload

# api functions are closures around host callables: their insides are dunders
API_CLOSURE = "def pre(*a):\n    api.leak(str(getattr(api.leak, '__closure__')))\n"
API_WRAPPED = (
    "def pre(*a):\n    api.leak(str(getattr(api.leak, '__wrapped__', None) or api.leak.func))\n"
)
API_PRIVATE_TABLE = "def pre(*a):\n    api.leak(str(getattr(api, '_functions')))\n"
API_UNKNOWN_FUNCTION = "def pre(*a):\n    api.system('id')\n    api.leak('escaped')\n"
# the logging tree behind `log`
LOG_MANAGER = "def pre(*a):\n    api.leak(str(log.manager))\n"
LOG_ROOT = "def pre(*a):\n    api.leak(str(log.root))\n"
LOG_HANDLERS = "def pre(*a):\n    api.leak(str(log.handlers))\n"
LOG_LOGGER = "def pre(*a):\n    api.leak(str(getattr(log, '_logger')))\n"
LOG_SET_LEVEL = "def pre(*a):\n    log.setLevel(0)\n    api.leak('escaped')\n"
# the classes we hand out
VETO_SUBCLASSES = "def pre(*a):\n    api.leak(str(getattr(Veto, '__subclasses__')()))\n"
VETO_MODULE_GLOBALS = "def pre(*a):\n    api.leak(str(getattr(Veto, '__init__').__globals__))\n"
# script-made objects handed to the host through api
FUNCTION_TO_API = "def pre(*a):\n    api.leak(pre)\n"
CLASS_TO_API = "class A:\n    pass\ndef pre(*a):\n    api.leak(A)\n"
INSTANCE_TO_API = "class A:\n    pass\ndef pre(*a):\n    api.leak(A())\n"
GENERATOR_TO_API = "def pre(*a):\n    api.leak(x for x in [1])\n"
FACADE_TO_API = "import math\ndef pre(*a):\n    api.leak(math)\n"
LOG_TO_API = "def pre(*a):\n    api.leak(log)\n"
API_TO_API = "def pre(*a):\n    api.leak(api)\n"
NESTED_FUNCTION_TO_API = "def pre(*a):\n    api.leak({'k': [1, {'f': pre}]})\n"
# a class whose copy hooks would run in the host: cannot even be defined
REDUCE_GADGET = (
    "class G:\n    def __reduce__(self):\n        return (print, ('pwned',))\n"
    "def pre(*a):\n    api.leak(G())\n"
)
DEEPCOPY_GADGET = (
    "class G:\n    def __deepcopy__(self, memo):\n        return 'pwned'\n"
    "def pre(*a):\n    api.leak(G())\n"
)
# a dict subclass whose instances look like plain data
DICT_SUBCLASS = "class D(dict):\n    pass\ndef pre(*a):\n    api.leak(D(a=1))\n"
EXCEPTION_TO_API = "def pre(*a):\n    api.leak(ValueError('x'))\n"

PAYLOADS = {
    name: value for name, value in globals().items() if name.isupper() and isinstance(value, str)
}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_host_object_payload_is_contained(tmp_path: Path, name: str) -> None:
    """Nothing beyond plain data crosses to the host, and no host internals reach the script."""
    assert_contained(run_payload(tmp_path, PAYLOADS[name]))


# -- decimal's context is the host thread's (issue 12: shared process state) ---------------
DECIMAL_CONTEXT_LEFT_OPEN = """
import decimal
def held():
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        yield 1
        yield 2
def pre():
    state['g'] = held()
    next(state['g'])
    return str(decimal.Decimal(1) / decimal.Decimal(3))
"""


@BOTH_MODES
def test_a_script_cannot_change_the_hosts_decimal_context(make_engine: MakeEngine) -> None:
    """A script whose localcontext() is left open in a suspended generator changes
    nothing of the host's decimal arithmetic: each call runs in a context of its own."""
    import decimal

    engine = make_engine({"p/10-x.py": DECIMAL_CONTEXT_LEFT_OPEN}, modules=("decimal",))

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return str(decimal.Decimal(1) / decimal.Decimal(3))

    before = decimal.getcontext().prec
    assert host() == str(decimal.Decimal(1) / decimal.Decimal(3))
    assert host() == "0.3333333333333333333333333333"
    assert decimal.getcontext().prec == before
