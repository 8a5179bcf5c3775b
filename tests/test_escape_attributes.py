"""Escapes through attributes: dunders, built strings, unicode names, writes to shared objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.escapes import assert_contained, run_payload

# the classic object.__subclasses__ walk
SUBCLASSES = "def pre(*a):\n    api.leak(str(().__class__.__bases__[0].__subclasses__()))\n"
# the same with getattr and built strings
SUBCLASSES_GETATTR = (
    "def pre(*a):\n"
    "    c = getattr((), '__cl' + 'ass__')\n"
    "    api.leak(str(getattr(getattr(c, '__base__'), '__subclasses__')()))\n"
)
# unicode-normalised identifiers: NFKC turns fullwidth letters into __class__ (readable:
# it is type(x)) and __subclasses__ (refused however it is spelt)
UNICODE_DUNDER = "def pre(*a):\n    api.leak(str(().__ｃｌａｓｓ__.__ｓｕｂｃｌａｓｓｅｓ__()))\n"
UNICODE_GETATTR = "def pre(*a):\n    api.leak(str(getattr((), '__ｃｌａｓｓ__')))\n"
# function globals and closures
FUNCTION_GLOBALS = "def pre(*a):\n    api.leak(str(pre.__globals__))\n"
FUNCTION_GLOBALS_GETATTR = "def pre(*a):\n    api.leak(str(getattr(pre, '__globals__')))\n"
FUNCTION_CODE = "def pre(*a):\n    api.leak(str(getattr(pre, '__code__')))\n"
# builtin function -> its module (len.__self__ is the builtins module)
BUILTIN_SELF = "def pre(*a):\n    api.leak(str(getattr(len, '__self__')))\n"
# bound method -> its object
METHOD_SELF = "def pre(*a):\n    api.leak(str(getattr([].append, '__self__')))\n"
# __dict__ of a facade
FACADE_DICT = "def pre(*a):\n    api.leak(str(getattr(api, '__dict__')))\n"
# type() and the metaclass trick to build classes outside the policy
# type(x) is offered (issue 14), but never a metaclass that could build a class around
# the class statement's checks
TYPE_BUILTIN = "def pre(*a):\n    api.leak(str(type(type(1))('X', (), {})))\n"
TYPE_OF_SCRIPT_CLASS = (
    "class A:\n    pass\ndef pre(*a):\n    api.leak(str(type(A)('X', (), {'__del__': print})))\n"
)
METACLASS_KEYWORD = "class A(metaclass=object):\n    pass\ndef pre(*a):\n    api.leak('escaped')\n"
# mro() reaches object; object's dunders stay refused
MRO_TO_OBJECT = "def pre(*a):\n    base = [].__len__\n    api.leak('escaped')\n"
MRO_WALK = (
    "class A:\n    pass\n"
    "def pre(*a):\n"
    "    top = A.mro()[-1]\n"
    "    api.leak(str(getattr(top, '__subclasses__')()))\n"
)
# writes to shared objects: module facades, api, log, builtins
WRITE_MODULE_ATTRIBUTE = "import math\ndef pre(*a):\n    math.pi = 3\n    api.leak('escaped')\n"
SETATTR_MODULE = "import math\ndef pre(*a):\n    setattr(math, 'pi', 3)\n    api.leak('escaped')\n"
WRITE_API = "def pre(*a):\n    api.leak = print\n    api.leak('escaped')\n"
DELETE_API = "def pre(*a):\n    del api.leak\n    api.leak('escaped')\n"
WRITE_BUILTIN_ATTRIBUTE = "def pre(*a):\n    setattr(len, 'x', 1)\n    api.leak('escaped')\n"
SETATTR_DUNDER = (
    "class A:\n    pass\n"
    "def pre(*a):\n"
    "    setattr(A, '__reduce__', lambda self: 1)\n"
    "    api.leak('escaped')\n"
)
# vars/dir/globals/locals
VARS = "def pre(*a):\n    api.leak(str(vars(api)))\n"
DIR = "def pre(*a):\n    api.leak(str(dir()))\n"
GLOBALS = "def pre(*a):\n    api.leak(str(globals()))\n"
LOCALS = "def pre(*a):\n    api.leak(str(locals()))\n"
# positional-only parameter shadowing a guard name (RestrictedPython 8.3)
POSONLY_SHADOW_GUARD = (
    "def f(_getattr_, /):\n    return _getattr_\ndef pre(*a):\n    api.leak('escaped')\n"
)
# shadowing our own budget names
SHADOW_BUDGET = "def pre(*a):\n    _bt_ = print\n    api.leak('escaped')\n"
GLOBAL_GUARD_REBIND = (
    "def pre(*a):\n    global _getiter_\n    _getiter_ = iter\n    api.leak('escaped')\n"
)
# decorators used to call things
DECORATOR_CALLS_API = "@api.leak\ndef sneaky():\n    return 1\ndef pre(*a):\n    pass\n"

PAYLOADS = {
    name: value for name, value in globals().items() if name.isupper() and isinstance(value, str)
}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_attribute_payload_is_contained(tmp_path: Path, name: str) -> None:
    """No attribute trick reaches interpreter internals or changes shared objects."""
    assert_contained(run_payload(tmp_path, PAYLOADS[name]))


def test_script_objects_are_writable(tmp_path: Path) -> None:
    """A script may set attributes on its own objects (and augment items/attributes)."""
    outcome = run_payload(
        tmp_path,
        "class Box:\n    pass\n"
        "def post(rv, *a):\n"
        "    b = Box()\n    b.n = 1\n    b.n += 2\n"
        "    d = {'k': 1}\n    d['k'] += 5\n"
        "    return [b.n, d['k']]\n",
    )
    assert outcome.result == [3, 6]
