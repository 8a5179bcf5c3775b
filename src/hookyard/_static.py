"""Static proof that an operator cannot build a large value, so it may run natively.

The policy routes ``+ * ** << %`` through size guards (``_guards.add``, ``mul``, ``power``,
``lshift``, ``mod``) because, applied to strings, lists or big ints, they can build a value
far larger than their operands. Applied to small numbers they cannot, and the guard call
then costs more than the arithmetic (figure D of issue 6). This module proves, before the
policy rewrites anything, which operators only ever see such operands; ``visit_BinOp`` and
``visit_AugAssign`` leave those native. Everything not proven stays guarded.

Two facts are tracked, flow-insensitively (every value a name can ever hold counts):

- **bits**: the expression is an int (or bool) of at most that many bits. Sources: int
  constants; ``len(...)`` (at most ``sys.maxsize``); the target of ``for i in range(...)``
  and the index of ``for i, x in enumerate(...)``, bounded by their bounded arguments or,
  for a counter that only moves one step per iteration, by the 63 bits no loop can count
  past (sized loops are charged up front against ``Limits.operations``, itself at most
  2**62); a local assigned only from bounded expressions (no cycles); arithmetic on those.
- **scalar**: the value is a number, date or time, never a str, bytes, list or tuple: none
  of the types a script can reach gives ``scalar + x``, ``x + scalar`` or ``scalar % x`` a
  sequence result (``str``/``list``/``tuple``/``bytes`` have no ``__radd__``; a script's own
  ``__radd__`` is budgeted script code, whose operators are guarded in their turn).

An operator is emitted natively when the guard could not have refused it anyway:

- ``a + b``: either side scalar (``_guards.add`` only checks sequence concatenation);
- ``a * b``: both sides ints with ``bits(a) + bits(b) <= 4096`` (``_guards.mul`` charges
  nothing below 4,096 bits);
- ``a ** e``: ``a`` an int and ``e`` an int constant with ``bits(a) * e <= 4096``, or
  either side a float constant (a float result cannot grow);
- ``a << c``: ``a`` an int and ``c`` an int constant with ``bits(a) + c <= 4096``;
- ``a % b`` and ``a // b``: ``a`` an int of at most 4,096 bits (no long division: the
  guards charge dividing big ints, issue 12; only ``str``/``bytes`` ``%`` formats), a float
  constant on either side, or, for ``//``, an int constant divisor of at most 2,100 bits;
- ``x op= v``: the same rules with ``x`` as the left operand (a name's own augmented
  assignments count among its bindings: ``x *= 2`` in a loop is never proven bounded).

Names are resolved as CPython does (function locals, enclosing functions, never class
bodies); module-level names, parameters, ``global`` names and anything bound any other
way (imports, ``with``, ``except``, unpacking, walrus...) are unknown. ``len``, ``range``,
``enumerate`` and the numeric built-ins are trusted only when the script binds that name
nowhere. The adversarial cases (``x = "a"; for i in range(40): x = x * 2``) stay guarded:
see tests/test_fast_paths.py.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Any, ClassVar

__all__ = ["NATIVE_BITS", "StaticFacts", "analyse", "children", "native", "walk"]

# Below this many bits the guards charge nothing (_guards.mul/power/lshift): a native
# operator under it is exactly what the guard would have let through.
NATIVE_BITS = 4096
# No loop counts past 2**63: a counter that moves one step per iteration stays below.
_LOOP_BITS = 63
# len() returns at most sys.maxsize.
_LEN_BITS = 63

# Built-ins whose result is known, trusted only when the script never binds the name.
# (abs and round are not among them: a script class's __abs__ or __round__ may return
# anything, while CPython makes int(), len(), hash()... return what they say.)
_INT_BUILTINS = frozenset({"len", "int", "ord", "hash"})
_SCALAR_BUILTINS = _INT_BUILTINS | {"float", "bool", "complex"}
# abs: trusted for the bits of an argument already proven an int
_TRUSTED = _SCALAR_BUILTINS | {"abs", "range", "enumerate"}

_GUARDED = (ast.Add, ast.Sub, ast.Div, ast.Mult, ast.Pow, ast.LShift, ast.Mod, ast.FloorDiv)
# A divisor of at most this many bits divides in linear time (the guard charges above it)
_SMALL_DIVISOR_BITS = 2_100
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


# Per node class, the fields a walk looks in, read from the class's ASDL signature (its
# docstring: "BinOp(expr left, operator op, expr right)"): names, strings, numbers and
# constants never hold a node, and contexts and operators are leaves no walk here looks
# at (each skips them: isinstance tests for other classes, or `_fields` empty). Reading
# fewer fields and listing fewer leaves is a fifth of a walk (issue 17, figure E). A
# class whose signature does not read as expected keeps every field (fail safe).
_LEAF_TYPES = frozenset(
    {"identifier", "string", "int", "constant", "expr_context", "boolop", "operator", "unaryop"}
    | {"cmpop"}
)
_SIGNATURE = re.compile(r"(\w+)\((.*)\)")
_WALKED: dict[type[ast.AST], tuple[str, ...]] = {}


def _walked_fields(cls: type[ast.AST]) -> tuple[str, ...]:
    fields: tuple[str, ...] = cls._fields
    match = _SIGNATURE.fullmatch((cls.__doc__ or "").split("\n", 1)[0])
    if match is not None and match.group(1) == cls.__name__:
        declared = [part.split() for part in match.group(2).split(", ")] if match.group(2) else []
        if all(len(part) == 2 for part in declared) and tuple(n for _, n in declared) == fields:
            fields = tuple(n for kind, n in declared if kind.rstrip("?*") not in _LEAF_TYPES)
    _WALKED[cls] = fields
    return fields


def _add_children(node: ast.AST, into: list[ast.AST]) -> None:
    """Append ``ast.iter_child_nodes(node)`` but contexts and operators to ``into``,
    without its two nested generators (the policy's walks were a third of a cold
    compile; issue 17, figure E)."""
    fields = _WALKED.get(node.__class__)
    if fields is None:
        fields = _walked_fields(node.__class__)
    for name in fields:
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            into.append(value)
        elif isinstance(value, list):
            into += [item for item in value if isinstance(item, ast.AST)]


def children(node: ast.AST) -> list[ast.AST]:
    """``ast.iter_child_nodes(node)`` as a list, but contexts and operators."""
    found: list[ast.AST] = []
    _add_children(node, found)
    return found


def walk(node: ast.AST) -> list[ast.AST]:
    """``ast.walk(node)``'s nodes, in its order (breadth first), as a list, but contexts
    and operators (leaves every walk here passes over)."""
    nodes = [node]
    for each in nodes:  # (a list iterator sees what is appended while it runs)
        _add_children(each, nodes)
    return nodes


class _Scope:
    __slots__ = ("bindings", "declared_global", "kind", "parent", "scalar_names")

    def __init__(self, kind: str, parent: _Scope | None) -> None:
        self.kind = kind  # "module", "function", "class" or "comprehension"
        self.parent = parent
        self.bindings: dict[str, list[_Binding]] = {}
        self.declared_global: set[str] = set()
        self.scalar_names: frozenset[str] | None = None  # the fixpoint, once computed


class _Binding:
    """One way a name gets a value: ``kind`` is value, range, enumerate, aug or unknown."""

    __slots__ = ("expr", "kind", "op", "scope")

    def __init__(
        self,
        kind: str,
        expr: ast.expr | None = None,
        scope: _Scope | None = None,
        op: ast.operator | None = None,
    ) -> None:
        self.kind = kind
        self.expr = expr  # the value, the range(...)/enumerate(...) call, or the aug value
        self.scope = scope  # where `expr` is evaluated
        self.op = op


_UNKNOWN = _Binding("unknown")


class StaticFacts:
    """The operators of one module proven safe to run natively."""

    __slots__ = ("_bits", "_in_progress", "_native", "_trusted")

    def __init__(self) -> None:
        # id -> node: the node is kept too, so a recycled id can never match
        self._native: dict[int, ast.AST] = {}
        self._bits: dict[int, int | None] = {}
        self._in_progress: set[tuple[int, str]] = set()
        self._trusted: frozenset[str] = frozenset()

    def allows(self, node: ast.AST) -> bool:
        """True when ``node`` (a BinOp or AugAssign) may run without its guard."""
        return self._native.get(id(node)) is node

    # -- name resolution ----------------------------------------------------------------
    def _resolve(self, name: str, scope: _Scope) -> list[_Binding] | None:
        """The bindings ``name`` can hold when read in ``scope``; None: global or built-in."""
        current: _Scope | None = scope
        first = True
        while current is not None:
            if name in current.declared_global or current.kind == "module":
                return None
            if (first or current.kind != "class") and name in current.bindings:
                # class bodies: unknown (kept simple; methods never see them anyway)
                return current.bindings[name] if current.kind != "class" else None
            first = False
            current = current.parent
        return None  # pragma: no cover - the chain always ends at the module scope

    def _builtin(self, node: ast.expr, scope: _Scope) -> str | None:
        """The trusted built-in ``node`` calls with plain positional arguments, if any."""
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in self._trusted
            and not node.keywords
            and not any(isinstance(arg, ast.Starred) for arg in node.args)
            and self._resolve(node.func.id, scope) is None
        ):
            return None
        return node.func.id

    # -- bits ------------------------------------------------------------------------------
    def bits(self, node: ast.expr, scope: _Scope) -> int | None:
        """Bits of an int ``node`` is proven to be (or None: not proven)."""
        key = id(node)
        if key in self._bits:
            return self._bits[key]
        result = self._bits_of(node, scope)
        self._bits[key] = result
        return result

    def _bits_of(self, node: ast.expr, scope: _Scope) -> int | None:
        if isinstance(node, ast.Constant):
            value = node.value
            return abs(value).bit_length() if isinstance(value, int) else None
        if isinstance(node, ast.Name):
            return self._name_bits(node.id, scope)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return 1
            inner = self.bits(node.operand, scope)
            return None if inner is None else inner + 1
        if isinstance(node, ast.BinOp):
            return self._binop_bits(node, scope)
        if isinstance(node, ast.IfExp):
            return _max(self.bits(node.body, scope), self.bits(node.orelse, scope))
        if isinstance(node, ast.BoolOp):
            values = [self.bits(value, scope) for value in node.values]
            return None if None in values else max(v for v in values if v is not None)
        name = self._builtin(node, scope)
        if name == "len" and len(node.args) == 1:  # type: ignore[attr-defined]
            return _LEN_BITS
        if name == "abs" and len(node.args) == 1:  # type: ignore[attr-defined]
            return self.bits(node.args[0], scope)  # type: ignore[attr-defined]
        return None

    def _binop_bits(self, node: ast.BinOp, scope: _Scope) -> int | None:
        left = self.bits(node.left, scope)
        if left is None:
            return None
        op = node.op
        constant = _int_constant(node.right)
        if isinstance(op, ast.Pow):
            if constant is None or constant < 0:
                return None  # a negative exponent makes a float
            return left * constant if constant else 1
        if isinstance(op, ast.LShift):
            return left + constant if constant is not None and constant >= 0 else None
        if isinstance(op, ast.RShift):
            return left if self.bits(node.right, scope) is not None else None
        right = self.bits(node.right, scope)
        if right is None:
            return None
        if isinstance(op, ast.Add | ast.Sub):
            return max(left, right) + 1
        if isinstance(op, ast.Mult):
            return left + right
        if isinstance(op, ast.FloorDiv):
            return left  # |a // b| <= |a| for any int b != 0
        if isinstance(op, ast.Mod):
            return right  # |a % b| < |b|
        if isinstance(op, ast.BitAnd | ast.BitOr | ast.BitXor):
            return max(left, right)
        return None  # / makes a float, @ is not for ints

    def _name_bits(self, name: str, scope: _Scope) -> int | None:
        bindings = self._resolve(name, scope)
        if not bindings:
            return None
        marker = (id(bindings), name)
        if marker in self._in_progress:
            return None  # defined in terms of itself: not proven
        self._in_progress.add(marker)
        try:
            result = 0
            for binding in bindings:
                bits = self._binding_bits(binding)
                if bits is None:
                    return None
                result = max(result, bits)
            return result
        finally:
            self._in_progress.discard(marker)

    def _binding_bits(self, binding: _Binding) -> int | None:
        expr, scope = binding.expr, binding.scope
        if expr is None or scope is None:
            return None
        if binding.kind == "value":
            return self.bits(expr, scope)
        if binding.kind in ("range", "enumerate") and self._builtin(expr, scope) is None:
            return None  # `range`/`enumerate` rebound somewhere: its values prove nothing
        if binding.kind == "range":
            return self._range_bits(expr, scope)
        if binding.kind == "enumerate":
            assert isinstance(expr, ast.Call)
            start = self.bits(expr.args[1], scope) if len(expr.args) > 1 else 0
            return None if start is None else max(start, _LOOP_BITS) + 1
        return None

    def _range_bits(self, call: ast.expr, scope: _Scope) -> int | None:
        assert isinstance(call, ast.Call)
        args = call.args
        if len(args) == 1:
            # range(n) counts 0, 1, 2...: below n, and below what any loop can count to
            stop = self.bits(args[0], scope)
            return _LOOP_BITS if stop is None else min(stop, _LOOP_BITS)
        start = self.bits(args[0], scope)
        if start is None:
            return None
        stop = self.bits(args[1], scope)
        if stop is not None:
            return max(start, stop)  # every value lies between start and stop
        step = self.bits(args[2], scope) if len(args) > 2 else 1
        if step is None:
            return None
        return max(start, _LOOP_BITS + step) + 1  # start + k * step, k < 2**63

    # -- scalar ----------------------------------------------------------------------------
    def scalar(self, node: ast.expr, scope: _Scope, assumed: frozenset[str] = frozenset()) -> bool:
        """``node`` is a number, date or time (never a sequence) whenever it has a value."""
        if isinstance(node, ast.Constant):
            value = node.value
            return isinstance(value, int | float | complex)
        if isinstance(node, ast.Name):
            return self._name_scalar(node.id, scope, assumed)
        if isinstance(node, ast.Compare) or (
            isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)
        ):
            return True  # comparisons and `not` give bools
        if isinstance(node, ast.UnaryOp):
            # -x, +x, ~x: scalar only of a scalar (-Counter() is a Counter: not ours to judge)
            return self.scalar(node.operand, scope, assumed)
        if isinstance(node, ast.BinOp):
            return self._binop_scalar(node.op, node.left, node.right, scope, assumed)
        if isinstance(node, ast.IfExp):
            return self.scalar(node.body, scope, assumed) and self.scalar(
                node.orelse, scope, assumed
            )
        if isinstance(node, ast.BoolOp):
            return all(self.scalar(value, scope, assumed) for value in node.values)
        name = self._builtin(node, scope)
        if name in _SCALAR_BUILTINS:
            return True
        return self.bits(node, scope) is not None

    def _binop_scalar(
        self,
        op: ast.operator,
        left: ast.expr,
        right: ast.expr,
        scope: _Scope,
        assumed: frozenset[str],
    ) -> bool:
        if isinstance(op, ast.Mult):
            if _is_float_constant(left) or _is_float_constant(right):
                return True  # a float times a sequence raises
            return self.scalar(left, scope, assumed) and self.scalar(right, scope, assumed)
        if isinstance(op, ast.Mod):
            return self.scalar(left, scope, assumed)  # only str/bytes % formats
        if isinstance(op, ast.MatMult):
            return False
        # + - / // ** << >> & | ^: one scalar operand leaves no sequence result
        return self.scalar(left, scope, assumed) or self.scalar(right, scope, assumed)

    def _name_scalar(self, name: str, scope: _Scope, assumed: frozenset[str]) -> bool:
        owner = self._owner(name, scope)
        if owner is None:
            return False
        if owner is scope and name in assumed:
            return True
        return name in self._scalar_names(owner)

    def _owner(self, name: str, scope: _Scope) -> _Scope | None:
        current: _Scope | None = scope
        first = True
        while current is not None:
            if name in current.declared_global or current.kind == "module":
                return None
            if (first or current.kind != "class") and name in current.bindings:
                return current if current.kind != "class" else None
            first = False
            current = current.parent
        return None  # pragma: no cover

    def _scalar_names(self, scope: _Scope) -> frozenset[str]:
        """The greatest set of the scope's names that stay scalar under all their bindings."""
        if scope.scalar_names is not None:
            return scope.scalar_names
        scope.scalar_names = frozenset()  # while computing: assume nothing (no recursion)
        candidates = {
            name
            for name, bindings in scope.bindings.items()
            if all(b.kind != "unknown" for b in bindings)
        }
        changed = True
        while changed:
            changed = False
            assumed = frozenset(candidates)
            for name in sorted(candidates):
                if not all(self._binding_scalar(b, assumed) for b in scope.bindings[name]):
                    candidates.discard(name)
                    changed = True
        scope.scalar_names = frozenset(candidates)
        return scope.scalar_names

    def _binding_scalar(self, binding: _Binding, assumed: frozenset[str]) -> bool:
        expr, scope = binding.expr, binding.scope
        if expr is None or scope is None:
            return False
        if binding.kind in ("range", "enumerate"):
            return self._builtin(expr, scope) is not None
        if binding.kind == "value":
            return self.scalar(expr, scope, assumed)
        if binding.kind == "aug" and binding.op is not None:
            # x op= v: x itself is assumed scalar while the fixpoint holds
            return self._binop_scalar(binding.op, _SCALAR_PLACEHOLDER, expr, scope, assumed)
        return False

    # -- the verdict -----------------------------------------------------------------------
    def decide(self, node: ast.AST, left: ast.expr | None, right: ast.expr, scope: _Scope) -> None:
        """Record ``node`` as native when its operator is proven harmless."""
        op = node.op  # type: ignore[attr-defined]
        ok = False
        if isinstance(op, ast.Add | ast.Sub | ast.Div):
            # one side a proven int (or a float constant): no sequence result, and no
            # exact Fraction on both sides (Fractions grow crosswise: the guard charges
            # them, issue 12; "scalar" alone would let x = 0; x -= Fraction(...) through)
            ok = (
                (left is not None and self.bits(left, scope) is not None)
                or self.bits(right, scope) is not None
                or (left is not None and _is_float_constant(left))
                or _is_float_constant(right)
            )
        elif isinstance(op, ast.Mult):
            left_bits = None if left is None else self.bits(left, scope)
            right_bits = self.bits(right, scope)
            ok = (
                left_bits is not None
                and right_bits is not None
                and left_bits + right_bits <= NATIVE_BITS
            )
        elif isinstance(op, ast.Pow):
            exponent = _int_constant(right)
            base_bits = None if left is None else self.bits(left, scope)
            ok = (
                (left is not None and _is_float_constant(left))
                or _is_float_constant(right)
                or (
                    base_bits is not None
                    and exponent is not None
                    and (exponent < 0 or base_bits * exponent <= NATIVE_BITS)
                )
            )
        elif isinstance(op, ast.LShift):
            shift = _int_constant(right)
            value_bits = None if left is None else self.bits(left, scope)
            ok = value_bits is not None and shift is not None and value_bits + shift <= NATIVE_BITS
        elif isinstance(op, ast.Mod | ast.FloorDiv):
            # time, not size: dividing big ints is quadratic (issue 12), so the dividend
            # must be proven small; a float constant, or for // a small constant divisor
            # (dividing by one digit is linear; str // n is a TypeError), also do
            left_bits = None if left is None else self.bits(left, scope)
            divisor = _int_constant(right)
            ok = (
                (left_bits is not None and left_bits <= NATIVE_BITS)
                or (left is not None and _is_float_constant(left))
                or _is_float_constant(right)
                or (
                    isinstance(op, ast.FloorDiv)
                    and divisor is not None
                    and abs(divisor).bit_length() <= _SMALL_DIVISOR_BITS
                )
            )
        if ok:
            self._native[id(node)] = node


# the left operand of `x op= v` inside the fixpoint: x, assumed scalar
_SCALAR_PLACEHOLDER = ast.Constant(0)


def _max(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else max(a, b)


def _int_constant(node: ast.expr) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    return None


def _is_float_constant(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is float


# -- collecting scopes, bindings and the operators to decide ----------------------------------
class _Collector(ast.NodeVisitor):
    """One walk over the untransformed module: scopes, bindings, guarded operators."""

    def __init__(self) -> None:
        self.scope = _Scope("module", None)
        self.bound_anywhere: set[str] = set()
        self.nonlocal_names: set[str] = set()
        # constructs that bind names without ast.Name nodes the walk understands (match
        # captures, type parameters): RestrictedPython refuses them; we prove nothing
        self.gave_up = False
        # (node, left, right, scope) for every guarded BinOp / AugAssign
        self.operators: list[tuple[ast.AST, ast.expr | None, ast.expr, _Scope]] = []

    # -- bindings ----------------------------------------------------------------------
    def bind(self, name: str, binding: _Binding, scope: _Scope | None = None) -> None:
        (scope or self.scope).bindings.setdefault(name, []).append(binding)
        self.bound_anywhere.add(name)

    def bind_target(self, target: ast.expr, iterable: ast.expr | None, scope: _Scope) -> None:
        """A for / comprehension target; ``iterable`` is evaluated in ``scope``."""
        kind = _loop_kind(iterable)
        if kind == "range" and isinstance(target, ast.Name):
            self.bind(target.id, _Binding("range", iterable, scope))
            return
        if (
            kind == "enumerate"
            and isinstance(target, ast.Tuple)
            and len(target.elts) == 2
            and isinstance(target.elts[0], ast.Name)
        ):
            self.bind(target.elts[0].id, _Binding("enumerate", iterable, scope))
            self.visit(target.elts[1])
            return
        self.visit(target)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.bind(node.id, _UNKNOWN)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.bind(target.id, _Binding("value", node.value, self.scope))
            else:
                self.visit(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            if isinstance(node.target, ast.Name):
                self.bind(node.target.id, _Binding("value", node.value, self.scope))
                return
        if not isinstance(node.target, ast.Name):
            self.visit(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        target = node.target
        left: ast.expr | None = None
        if isinstance(target, ast.Name):
            self.bind(target.id, _Binding("aug", node.value, self.scope, node.op))
            left = ast.Name(target.id, ast.Load())
        else:
            self.visit(target)
        if isinstance(node.op, _GUARDED):
            self.operators.append((node, left, node.value, self.scope))

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self.generic_visit(node)
        if isinstance(node.op, _GUARDED):
            self.operators.append((node, node.left, node.right, self.scope))

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        owner = self.scope
        while owner.kind == "comprehension" and owner.parent is not None:
            owner = owner.parent  # := in a comprehension binds in the enclosing scope
        self.bind(node.target.id, _UNKNOWN, owner)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.bind_target(node.target, node.iter, self.scope)
        for statement in (*node.body, *node.orelse):
            self.visit(statement)

    # -- the walk (issue 17, figure E): NodeVisitor's, with each node class's visit method
    # looked up once and no generator per node
    _visitors: ClassVar[dict[type[ast.AST], Any]] = {}

    def visit(self, node: ast.AST) -> None:
        visitor = self._visitors.get(node.__class__)
        if visitor is None:
            visitor = getattr(_Collector, f"visit_{node.__class__.__name__}", None)
            if visitor is None:
                visitor = _Collector.generic_visit
            self._visitors[node.__class__] = visitor
        visitor(self, node)

    def generic_visit(self, node: ast.AST) -> None:
        if getattr(node, "type_params", None) or type(node).__name__ == "Match":
            self.gave_up = True
        for child in children(node):
            if child._fields:  # (contexts and operators: nothing to see)
                self.visit(child)

    def visit_Constant(self, node: ast.Constant) -> None:
        pass  # no children; and NodeVisitor's own visit_Constant looks for legacy methods

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.declared_global.update(node.names)
        self.bound_anywhere.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.nonlocal_names.update(node.names)  # refused by RestrictedPython anyway
        self.bound_anywhere.update(node.names)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.bind(alias.asname or alias.name.partition(".")[0], _UNKNOWN)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            self.bind(alias.asname or alias.name, _UNKNOWN)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bind(node.name, _UNKNOWN)
        self.generic_visit(node)

    # -- scopes ------------------------------------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        if getattr(node, "type_params", None):
            self.gave_up = True
        if not isinstance(node, ast.Lambda):
            self.bind(node.name, _UNKNOWN)
            for decorator in node.decorator_list:
                self.visit(decorator)
            if node.returns is not None:
                self.visit(node.returns)
        arguments = node.args
        for default in (*arguments.defaults, *arguments.kw_defaults):
            if default is not None:
                self.visit(default)
        outer = self.scope
        self.scope = _Scope("function", outer)
        for arg in _all_args(arguments):
            self.bind(arg.arg, _UNKNOWN)
            if arg.annotation is not None:
                self.visit(arg.annotation)
        if isinstance(node, ast.Lambda):
            self.visit(node.body)
        else:
            for statement in node.body:
                self.visit(statement)
        self.scope = outer

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.visit_FunctionDef(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.visit_FunctionDef(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if getattr(node, "type_params", None):
            self.gave_up = True
        self.bind(node.name, _UNKNOWN)
        for expr in (*node.decorator_list, *node.bases, *(k.value for k in node.keywords)):
            self.visit(expr)
        outer = self.scope
        self.scope = _Scope("class", outer)
        for statement in node.body:
            self.visit(statement)
        self.scope = outer

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
    ) -> None:
        outer = self.scope
        generators = node.generators
        self.visit(generators[0].iter)  # evaluated in the enclosing scope
        inner = _Scope("comprehension", outer)
        self.scope = inner
        for index, generator in enumerate(generators):
            if index:
                self.visit(generator.iter)
            self.bind_target(generator.target, generator.iter, outer if not index else inner)
            for condition in generator.ifs:
                self.visit(condition)
        if isinstance(node, ast.DictComp):
            self.visit(node.key)
            self.visit(node.value)
        else:
            self.visit(node.elt)
        self.scope = outer

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._comprehension(node)

    def visit_SetComp(self, node: ast.SetComp) -> None:
        self._comprehension(node)

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> None:
        self._comprehension(node)

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node)


def _loop_kind(iterable: ast.expr | None) -> str | None:
    """``range`` or ``enumerate`` for a loop over a plain call of that name, else None."""
    if (
        isinstance(iterable, ast.Call)
        and isinstance(iterable.func, ast.Name)
        and not iterable.keywords
        and not any(isinstance(arg, ast.Starred) for arg in iterable.args)
    ):
        name = iterable.func.id
        if name == "range" and 1 <= len(iterable.args) <= 3:
            return "range"
        if name == "enumerate" and 1 <= len(iterable.args) <= 2:
            return "enumerate"
    return None


def _all_args(arguments: ast.arguments) -> Iterator[ast.arg]:
    yield from arguments.posonlyargs
    yield from arguments.args
    if arguments.vararg is not None:
        yield arguments.vararg
    yield from arguments.kwonlyargs
    if arguments.kwarg is not None:
        yield arguments.kwarg


def analyse(tree: ast.AST) -> StaticFacts:
    """Which guarded operators of ``tree`` (a module, before the policy runs) may be native."""
    facts = StaticFacts()
    collector = _Collector()
    collector.visit(tree)
    if collector.nonlocal_names or collector.gave_up:
        # a nested scope rebinding an outer name, or names bound outside the walk's view:
        # refused by RestrictedPython anyway, and nothing is proven here
        return facts
    facts._trusted = _TRUSTED - collector.bound_anywhere
    for node, left, right, scope in collector.operators:
        facts.decide(node, left, right, scope)
    return facts


def native(policy: Any, node: ast.AST) -> bool:
    """For the policy: may this BinOp / AugAssign skip its guard? (False when unsure.)"""
    facts = getattr(policy, "static_facts", None)
    return isinstance(facts, StaticFacts) and facts.allows(node)
