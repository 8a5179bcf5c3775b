"""Which names scripts may use, in one place: the policy checks them at compile time, the
guards at run time, the audit reports them (issue 14).

Ordinary Python works: a script's own ``_helper`` names, special methods on its own
classes, ``super()``. What stays refused is what would open the sandbox:

- names of the engine's reserved shapes (``_x_``, ``__x__``, RestrictedPython's
  temporaries): a script that rebinds ``_getattr_`` or ``_budget_`` would switch a guard off;
- dunder attribute access, except reading the special methods below (``super().__init__``)
  and a few harmless names (``__name__``, ``__doc__``, ``__class__``, which is ``type(x)``);
- special methods that run where no budget is (``__del__`` at garbage collection), that
  intercept every attribute lookup the engine makes (``__getattr__``,
  ``__getattribute__``), that change how classes are built (``__init_subclass__``,
  ``__set_name__``, ``__class_getitem__``, ``__new__``, metaclasses) or how values are
  copied and pickled (``__reduce__``, ``__copy__``...): none of them is needed by hooks.
"""

from __future__ import annotations

import re

__all__ = [
    "CLASS_DATA_DUNDERS",
    "DENIED_BUILTINS",
    "DUNDER_READS",
    "GUARDED_ATTRIBUTES",
    "MODULE_DATA_DUNDERS",
    "SPECIAL_METHODS",
    "is_dunder",
    "is_reserved",
]

_BINARY = (
    "add",
    "sub",
    "mul",
    "matmul",
    "truediv",
    "floordiv",
    "mod",
    "divmod",
    "pow",
    "lshift",
    "rshift",
    "and",
    "xor",
    "or",
)

# Special methods a script's class may define. Each runs as an ordinary budgeted function
# of the script (it has the budget prologue), wherever the interpreter calls it from.
SPECIAL_METHODS: frozenset[str] = frozenset(
    {
        "__init__",
        "__repr__",
        "__str__",
        "__format__",
        "__bytes__",
        "__hash__",
        "__bool__",
        "__len__",
        "__iter__",
        "__next__",
        "__reversed__",
        "__contains__",
        "__getitem__",
        "__setitem__",
        "__delitem__",
        "__missing__",
        "__call__",
        "__enter__",
        "__exit__",
        "__eq__",
        "__ne__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "__neg__",
        "__pos__",
        "__abs__",
        "__invert__",
        "__complex__",
        "__int__",
        "__float__",
        "__index__",
        "__round__",
        "__trunc__",
        "__floor__",
        "__ceil__",
    }
    | {f"__{name}__" for name in _BINARY}
    | {f"__r{name}__" for name in _BINARY}
    | {f"__i{name}__" for name in _BINARY if name != "divmod"}
)

# Dunder names a class body may bind other than by ``def``: plain data the interpreter
# reads, validated where they are bound (``_guards.ScriptMeta``).
CLASS_DATA_DUNDERS: frozenset[str] = frozenset(
    {"__hash__", "__match_args__", "__slots__", "__doc__"}
)

# Dunder names a module may bind and read as ordinary globals: metadata the engine never
# reads (``__all__ = ["pre"]``, ``__version__ = "1.2"``), refused in class bodies.
MODULE_DATA_DUNDERS: frozenset[str] = frozenset({"__all__", "__version__", "__author__"})

# Dunder attributes a script may read (the guard decides per object: see
# ``_guards.guarded_getattr``).
DUNDER_READS: frozenset[str] = SPECIAL_METHODS | {
    "__name__",
    "__qualname__",
    "__doc__",
    "__class__",
}

# Built-in names scripts do not get, with the reason (RestrictedPython's Guards.py style).
# A script that uses one is refused at load with the reason, not a NameError per call.
DENIED_BUILTINS: dict[str, str] = {
    "open": "no direct I/O: ask the host for what you need through api",
    "input": "no direct I/O",
    "exec": "no new code",
    "eval": "no new code",
    "compile": "no new code",
    "__import__": "imports go through the allow-list: use an import statement",
    "globals": "uncontrolled namespace access",
    "locals": "uncontrolled namespace access",
    "vars": "uncontrolled namespace access",
    "dir": "uncontrolled namespace access",
    "id": "object addresses leak the heap layout",
    "memoryview": "raw buffers",
    "bytearray": "raw buffers: bytearray(10**10) takes the memory at once",
    "breakpoint": "the debugger reaches every frame",
    "help": "interpreter and I/O",
    "exit": "scripts may not stop the interpreter",
    "quit": "scripts may not stop the interpreter",
    "copyright": "interpreter and I/O",
    "credits": "interpreter and I/O",
    "license": "interpreter and I/O",
    "aiter": "async is not available to scripts",
    "anext": "async is not available to scripts",
    "SystemExit": "scripts may not raise interpreter signals",
    "KeyboardInterrupt": "scripts may not raise interpreter signals",
    "GeneratorExit": "scripts may not raise interpreter signals",
}

# Attribute names that go through the run-time ``_getattr_``: format-string walks
# (CVE-2023-41039, CVE-2024-47532, CVE-2026-76825), ``AttributeError.obj``, and methods
# that can build large values or iterate in C (checked against the budget).
GUARDED_ATTRIBUTES = frozenset(
    {
        # format strings: str.format / format_map walk attributes (CVE-2023-41039)
        "format",
        "format_map",
        # string.Formatter and its traversal methods (CVE-2024-47532, CVE-2026-76825)
        "Formatter",
        "vformat",
        "get_field",
        "get_value",
        # AttributeError.obj hands back the object the lookup failed on (CVE-2024-47532)
        "obj",
        # a tuple made around what a script holds: depth-checked (issue 12, nesting)
        "args",
        "items",
        "popitem",
        # one C call of n log n comparisons
        "sort",
        # a class's MRO lists the real built-in types (their constructors are unguarded)
        "mro",
        # size: methods whose result can be far larger than their input
        "join",
        "replace",
        "center",
        "ljust",
        "rjust",
        "zfill",
        "expandtabs",
        "translate",
        "encode",
        "decode",
        "hex",
        "upper",
        "lower",
        "title",
        "capitalize",
        "casefold",
        "swapcase",
        "split",
        "rsplit",
        "splitlines",
        "to_bytes",
        "from_bytes",
        # dates format and parse in C and in _strptime's regular expressions
        "strftime",
        "strptime",
        "copy",
        # iterate an argument in C: bounded by the budget
        "extend",
        "fromkeys",
        "update",
        "union",
        "intersection",
        "difference",
        "symmetric_difference",
        "intersection_update",
        "difference_update",
        "symmetric_difference_update",
        "issubset",
        "issuperset",
        "isdisjoint",
    }
)

# RestrictedPython's own temporaries and print collector.
_GENERATED = re.compile(r"_tmp\d+|_print")


def is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def is_reserved(name: str) -> bool:
    """Names of the engine's shapes: ``_x_`` (guards, budget handles) and ``__x__``."""
    if name == "_":
        return False
    return (name.startswith("_") and name.endswith("_")) or bool(_GENERATED.fullmatch(name))
