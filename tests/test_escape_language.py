"""Attacks on the surface ordinary Python added (issue 14): special methods, super(),
type(), the built-in types' stand-ins, class patterns, str.format, private names.

Each payload leaks only if its trick worked; each must be refused at load or fail when
run, in both modes, with the host serving.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import BOTH_MODES
from tests.escapes import assert_contained, run_payload

# special methods of built-in types would bypass their operator's size check
BUILTIN_DUNDER_ADD = "def pre(*a):\n    api.leak(str.__add__('a' * 900000, 'b' * 900000)[:3])\n"
BUILTIN_DUNDER_MUL = "def pre(*a):\n    api.leak(len(list.__mul__([1], 10**8)))\n"
SUPER_DUNDER_MUL = (
    "class L(list):\n    def g(self):\n        return super().__mul__(10**8)\n"
    "def pre(*a):\n    api.leak(len(L([1]).g()))\n"
)
SUPER_INIT_HUGE = (
    "class L(list):\n    def __init__(self):\n        super().__init__(range(10**8))\n"
    "def pre(*a):\n    api.leak(len(L()))\n"
)
SUPER_SETITEM_SLICE = (
    "class L(list):\n    def __setitem__(self, k, v):\n        super().__setitem__(k, v)\n"
    "def pre(*a):\n    x = L()\n    x[:] = range(10**8)\n    api.leak(len(x))\n"
)
SUBCLASS_CONSTRUCTOR_LIST = (
    "class L(list):\n    pass\ndef pre(*a):\n    api.leak(len(L(range(10**8))))\n"
)
SUBCLASS_CONSTRUCTOR_BYTES = (
    "class B(bytes):\n    pass\ndef pre(*a):\n    api.leak(len(B(10**9)))\n"
)
SUBCLASS_CONSTRUCTOR_STR = (
    "class S(str):\n    pass\n"
    "def pre(*a):\n    a = ['x' * 1000] * 1000\n    b = [a] * 1000\n    api.leak(len(S(b)))\n"
)
# the real types behind the stand-ins
STAND_IN_ATTRIBUTE = "def pre(*a):\n    api.leak(str(getattr(str, '_real')))\n"
MRO_TO_REAL_STR = (
    "def pre(*a):\n    R = str.mro()[0]\n    api.leak(len(R([['x'] * 1000] * 1000)))\n"
)
SUBCLASS_MRO_TO_REAL_LIST = "class S(list):\n    pass\ndef pre(*a):\n    L = S.mro()[1]\n    api.leak(len(L(range(10**8))))\n"
# type() hands out no metaclass and no engine constructor
TYPE_OF_CLASS = (
    "class A:\n    pass\ndef pre(*a):\n    api.leak(str(type(A)('X', (), {'__del__': print})))\n"
)
TYPE_OF_ENGINE_ITERATOR = (
    "def pre(*a):\n    Z = type(zip([]))\n    api.leak(str(Z(iter(int, 1))))\n"
)
OPAQUE_TYPE_ATTRIBUTE = "def pre(*a):\n    api.leak(str(getattr(type(zip([])), '_real')))\n"
SUBCLASS_ENGINE_OBJECT = "class M(type(log)):\n    pass\ndef pre(*a):\n    api.leak('subclassed')\n"
METACLASS_BASE = "class M(type):\n    pass\ndef pre(*a):\n    api.leak('made')\n"
# private and dunder names of engine objects
API_PRIVATE = "def pre(*a):\n    api.leak(str(api._functions))\n"
LOG_PRIVATE = "def pre(*a):\n    api.leak(str(getattr(log, '_logger')))\n"
SUPER_PRIVATE = "def pre(*a):\n    api.leak(str(super(type(api), api)._functions))\n"
API_REINIT = "def pre(*a):\n    api.__init__({})\n    api.leak('reinitialised')\n"
ITERATOR_INTERNALS = "def pre(*a):\n    api.leak(str(getattr(map(int, [1]), '_iterator')))\n"
# A.__class__ is type(A): the one-argument type() again, never the metaclass
CLASS_OF_CLASS = (
    "class A:\n    pass\ndef pre(*a):\n    api.leak(str(getattr(A, '__class__')('X', (), {})))\n"
)
OBJECT_SUBCLASSES = "def pre(*a):\n    api.leak(str(getattr(object, '__subclasses__')()))\n"
SUPER_TYPE_CALL = "def pre(*a):\n    api.leak(str(super(type, type).__call__))\n"
# class bodies may not install callables the budget cannot see, nor refused methods
DUNDER_BOUND_TO_BUILTIN = "class A:\n    __len__ = len\ndef pre(*a):\n    api.leak(len(A()))\n"
DEL_METHOD = (
    "class A:\n    def __del__(self):\n        api.leak('finalised')\ndef pre(*a):\n    A()\n"
)
GETATTR_METHOD = (
    "class A:\n    def __getattr__(self, n):\n        return 1\ndef pre(*a):\n    api.leak(A().x)\n"
)
INIT_SUBCLASS = (
    "class A:\n    def __init_subclass__(cls):\n        api.leak('hooked')\n"
    "class B(A):\n    pass\ndef pre(*a):\n    pass\n"
)
# class patterns and format strings read attributes around the guards
MATCH_GUARDED_KEYWORD = "def pre(*a):\n    match 'x':\n        case str(format=f):\n            api.leak(f('{0.__class__}', 1))\n"
MATCH_ARGS_GUARDED_NAME = (
    "class S(str):\n    __match_args__ = ('format',)\n"
    "def pre(*a):\n    match S('{0.__class__}'):\n        case S(f):\n            api.leak(f(1))\n"
)
MATCH_PRIVATE_KEYWORD = "def pre(*a):\n    match api:\n        case object(_functions=f):\n            api.leak(str(f))\n"
FORMAT_ATTRIBUTE_FIELD = (
    "def pre(*a):\n    t = '{0.__class__.__mro__}'\n    api.leak(t.format(1))\n"
)
FORMAT_NESTED_ATTRIBUTE = "def pre(*a):\n    api.leak('{0[x].__class__}'.format({'x': 1}))\n"
FORMAT_MAP_ATTRIBUTE = "def pre(*a):\n    t = '{a.real}'\n    api.leak(t.format_map({'a': 1}))\n"

PAYLOADS = {
    name: value for name, value in globals().items() if name.isupper() and isinstance(value, str)
}


@BOTH_MODES
@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_language_payload_is_contained(tmp_path: Path, name: str, isolation: object) -> None:
    """No trick with the constructs ordinary Python added reaches anything or runs away."""
    assert_contained(run_payload(tmp_path, PAYLOADS[name], isolation=isolation))
