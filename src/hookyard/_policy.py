"""hookyard's RestrictedPython policy: its checks, plus budgets, minus needless guard calls.

RestrictedPython rejects the dangerous syntax (underscore names, ``exec``, ``try/except*``,
``nonlocal``, async, positional-only guard shadowing...) and routes attribute, item and
iteration access through guard functions. hookyard keeps every check and changes the
instrumentation:

- **Budgets.** Every script function gets a prologue ``_t, _e, _x = _budget_()`` that
  fetches this thread's invocation budget, pops a depth slot and ticks once; its body runs
  in ``try/finally`` that gives the slot back. Straight-line functions (no call, loop or
  nested scope: see ``_is_straight_line``) need none. Every ``while`` body starts with a tick.
  Every ``except`` and user ``finally`` block starts with ``_check_()``, so a spent budget
  cannot be caught and swallowed. (``for`` loops are charged by ``_getiter_``.)
- **Size.** ``+ * ** << %`` whose operands could be sequences or big ints go through
  guards that refuse a result past ``Limits.size`` *before* building it; so do f-string
  format specs, slices and ``*`` unpacking in calls and displays.
- **Attribute reads** stay plain Python (``obj.name``) unless the name is one a guard must
  see (``format``, ``join``, ``obj``...): underscore and inspect names are already refused
  at compile time, so a ``_getattr_`` call per access would buy nothing.
- **Item reads and writes** stay plain: everything a script can subscript is its own copy
  (dict, list, str...) or has no ``__getitem__``/``__setitem__`` at all (facades).
- ``obj[k] += v`` and ``obj.a += v`` are allowed (RestrictedPython refuses them) and
  expand to the same guarded operator as ``x += v``.
"""

from __future__ import annotations
import __future__

import _string  # type: ignore[import-not-found]  # the C parser behind str.format
import ast
from typing import Any, ClassVar, cast

from RestrictedPython.transformer import (
    FORBIDDEN_FUNC_NAMES,
    INSPECT_ATTRIBUTES,
    RestrictingNodeTransformer,
)

from . import _static
from ._names import (
    CLASS_DATA_DUNDERS,
    DENIED_BUILTINS,
    DUNDER_READS,
    GUARDED_ATTRIBUTES,
    MODULE_DATA_DUNDERS,
    SPECIAL_METHODS,
    is_dunder,
    is_reserved,
)
from ._static import children as _children
from ._static import walk as _walk

__all__ = ["GUARDED_ATTRIBUTES", "HookPolicy", "LocatedHookPolicy"]

# Binary operators that can build a value much larger than their operands.
_GUARDED_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "_add_",
    ast.Mult: "_mul_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.Mod: "_mod_",
    ast.FloorDiv: "_floordiv_",
    # exact fractions grow crosswise (a - b, a / b): charged like products
    ast.Sub: "_sub_",
    ast.Div: "_truediv_",
}
_OPERATOR_TEXT: dict[type[ast.operator], str] = {
    ast.Add: "+=",
    ast.Sub: "-=",
    ast.Mult: "*=",
    ast.Div: "/=",
    ast.Mod: "%=",
    ast.Pow: "**=",
    ast.LShift: "<<=",
    ast.RShift: ">>=",
    ast.BitOr: "|=",
    ast.BitXor: "^=",
    ast.BitAnd: "&=",
    ast.FloorDiv: "//=",
    ast.MatMult: "@=",
}

# The prologue's locals (tick, enter, leave): names of the engine's reserved `_x_` shape,
# which no script can bind.
_BUDGET_NAMES = ("_bt_", "_be_", "_bx_")
_TICK, _ENTER, _LEAVE = _BUDGET_NAMES


def copy_locations(new: Any, like: Any) -> None:
    """Give ``new`` and its not-yet-located descendants the location of ``like``.

    RestrictedPython's ``copy_locations`` ends with ``ast.fix_missing_locations(new)``, a
    walk of the whole subtree: wrapping a function body in ``try/finally`` walked the body
    again, a quarter of a cold load's compile time (issue 6, figure E). This walk stops at
    located nodes; nodes some visitor slipped under a located one unlocated (``{**m}``,
    ``f(*x)``) are located where they are made (``_located``).
    """
    lineno, col_offset = like.lineno, like.col_offset
    end_lineno, end_col_offset = like.end_lineno, like.end_col_offset
    stack = [new]
    while stack:
        node = stack.pop()
        if not node._fields:
            continue  # a context or an operator: no location, nothing under it
        if "lineno" in node._attributes:
            if node is not new and getattr(node, "lineno", None) is not None:
                continue  # located, and so is everything under it
            node.lineno, node.col_offset = lineno, col_offset
            node.end_lineno, node.end_col_offset = end_lineno, end_col_offset
        stack += _children(node)


def _name(identifier: str) -> ast.Name:
    return ast.Name(identifier, ast.Load())


def _call(function: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_name(function), args=list(args), keywords=[])


def _located(new: ast.expr, like: ast.expr) -> ast.expr:
    copy_locations(new, like)
    return new


def _where(like: Any) -> dict[str, Any]:
    """``like``'s location, as the keyword arguments of a node made there."""
    return {
        "lineno": like.lineno,
        "col_offset": like.col_offset,
        "end_lineno": like.end_lineno,
        "end_col_offset": like.end_col_offset,
    }


def _call_at(where: dict[str, Any], function: str, *args: ast.expr) -> ast.Call:
    """``function(*args)`` made located at ``where`` (``args`` located already): the
    policy's own calls need no ``copy_locations`` walk (issue 17, figure E)."""
    return ast.Call(ast.Name(function, ast.Load(), **where), list(args), [], **where)


def _call_statement(function: str, like: Any, *args: ast.expr) -> ast.Expr:
    """The statement ``function(*args)`` at ``like``'s location (``args`` located)."""
    where = _where(like)
    return ast.Expr(_call_at(where, function, *args), **where)


def _is_number_constant(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float | complex)
        and not isinstance(node.value, bool)
    )


def _is_small_float(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, float)


# The node types a straight-line function may contain: an allow-list, so a node this
# policy does not know (a new statement or expression of a later Python) makes the
# function budgeted, never the reverse (issue 11: fail closed). Absent on purpose: calls,
# loops, comprehensions, nested scopes, generators, imports (an implicit call).
_STRAIGHT_LINE_NODES: tuple[type[ast.AST], ...] = (
    # statements
    ast.Expr,
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.Return,
    ast.If,
    ast.Pass,
    ast.Raise,
    ast.Assert,
    ast.Delete,
    ast.Global,
    ast.Try,
    ast.ExceptHandler,
    ast.With,
    ast.withitem,
    ast.Match,
    ast.match_case,
    ast.pattern,
    # expressions
    ast.BoolOp,
    ast.NamedExpr,
    ast.BinOp,
    ast.UnaryOp,
    ast.IfExp,
    ast.Dict,
    ast.Set,
    ast.List,
    ast.Tuple,
    ast.Compare,
    ast.Constant,
    ast.Attribute,
    ast.Subscript,
    ast.Starred,
    ast.Name,
    ast.Slice,
    ast.JoinedStr,
    ast.FormattedValue,
    # parts of the above
    ast.expr_context,
    ast.boolop,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.arguments,
    ast.arg,
)


def _is_straight_line(node: ast.FunctionDef, subtree: list[ast.AST] | None = None) -> bool:
    """True for a function that calls nothing, loops nowhere and defines nothing.

    Each of its statements runs at most once, so its own time is bounded by its length,
    and without a call it cannot recurse *explicitly*. Whether it may skip the budget
    prologue (fetch, depth slot, tick, ``finally``) depends on who can call it too: see
    ``HookPolicy._needs_no_prologue``. The guards it reaches (``_getattr_``, ``_add_``...)
    charge the invocation's budget themselves, and ``call_script`` still checks that
    budget when the function returns. A typical validation hook (``if`` tests on its
    arguments, ``raise Veto``) is straight-line; issue 6 measured the prologue at about a
    third of a no-op hook's cost.

    ``subtree``: ``_walk(node)``, when the caller has it already.
    """
    if node.decorator_list:
        return False
    nodes = _walk(node) if subtree is None else subtree
    return all(isinstance(child, _STRAIGHT_LINE_NODES) for child in nodes[1:])


# isinstance() tests as tuples made once: `A | B` in a test builds a new union object at
# every evaluation (issue 17: most of a walk's cost)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_DECLARATIONS = (ast.Global, ast.Nonlocal)
_CAPTURES = (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)
_YIELDS = (ast.Yield, ast.YieldFrom)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


# the node kinds _module_facts looks at (one isinstance test passes over the rest)
_NOTED = (
    ast.Name,
    ast.Call,
    *_DEFINITIONS,
    ast.arg,
    ast.alias,
    *_DECLARATIONS,
    *_CAPTURES,
    ast.MatchMapping,
    *_YIELDS,
)


class ModuleFacts:
    """What the policy needs to know of the whole module before it changes any of it,
    from one walk of it (``_module_facts``)."""

    __slots__ = ("bound", "straight", "used", "yields")

    def __init__(
        self, used: frozenset[str], bound: frozenset[str], straight: frozenset[int], yields: bool
    ) -> None:
        self.used = used  # names used as values
        self.bound = bound  # names bound anywhere
        self.straight = straight  # ids of the module-level defs that are straight-line
        self.yields = yields  # a yield anywhere: some function may be a generator


def _module_facts(tree: ast.Module) -> ModuleFacts:
    """One walk of the module (issue 17: it was three): the names it uses as values and
    binds, its straight-line module-level functions, and whether it yields anywhere.

    Used as values: read anywhere other than as the callee of a call, deleted, or declared
    ``global``/``nonlocal`` -- the functions bound to them can be reached other than by a
    direct call (a sort key, a class attribute, ``state``, a special method...). Bound:
    assigned, defined, imported, an argument, an ``except`` or ``match`` capture -- such a
    name is the script's, not a built-in.

    Straight-line (``_is_straight_line``) is judged as ``visit_FunctionDef`` sees the
    function: with its own annotations already made text (a constant).
    """
    callees: set[int] = set()
    loaded: list[ast.Name] = []
    used: set[str] = set()
    bound: set[str] = set()
    straight: set[int] = set()
    yields = False
    nodes: list[ast.AST] = [tree]
    for statement in tree.body:
        subtree = _walk(statement)
        nodes += subtree
        if isinstance(statement, ast.FunctionDef) and _is_straight_line(
            statement, _with_annotations_as_text(statement, subtree)
        ):
            straight.add(id(statement))
    for node in nodes:
        if not isinstance(node, _NOTED):
            continue
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                loaded.append(node)
            else:
                bound.add(node.id)
                if isinstance(node.ctx, ast.Del):
                    used.add(node.id)
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                callees.add(id(node.func))
        elif isinstance(node, _DEFINITIONS):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, _DECLARATIONS):
            used.update(node.names)
        elif isinstance(node, _CAPTURES):
            if node.name:
                bound.add(node.name)
        elif isinstance(node, ast.MatchMapping):
            if node.rest:
                bound.add(node.rest)
        else:  # _YIELDS
            yields = True
    used.update(name.id for name in loaded if id(name) not in callees)
    return ModuleFacts(frozenset(used), frozenset(bound), frozenset(straight), yields)


def _with_annotations_as_text(node: ast.FunctionDef, subtree: list[ast.AST]) -> list[ast.AST]:
    """``subtree`` (``_walk(node)``) as it is once ``node``'s own annotations are text:
    each annotation one constant."""
    arguments = node.args
    annotations = [
        arg.annotation
        for arg in (
            *arguments.posonlyargs,
            *arguments.args,
            *arguments.kwonlyargs,
            arguments.vararg,
            arguments.kwarg,
        )
        if arg is not None and arg.annotation is not None
    ]
    if node.returns is not None:
        annotations.append(node.returns)
    if not annotations:
        return subtree
    text = {id(inner) for annotation in annotations for inner in _walk(annotation)}
    kept = [inner for inner in subtree if id(inner) not in text]
    return kept + [ast.Constant("") for _ in annotations]


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _is_generator(node: ast.FunctionDef) -> bool:
    """True when ``node``'s own body (not a nested scope's) yields."""
    stack: list[ast.AST] = list(node.body)
    while stack:
        child = stack.pop()
        if isinstance(child, _YIELDS):
            return True
        if isinstance(child, _SCOPES):
            # a nested scope's decorators, defaults and bases belong to this function
            if isinstance(child, _DEFINITIONS):
                stack.extend(child.decorator_list)
            if isinstance(child, ast.ClassDef):
                stack.extend(child.bases)
                stack.extend(keyword.value for keyword in child.keywords)
            if isinstance(child, _FUNCTIONS):
                stack.extend(child.args.defaults)
                stack.extend(d for d in child.args.kw_defaults if d is not None)
            continue
        stack += _children(child)
    return False


# Built-in types whose script names are guarded stand-ins; a class pattern gets the real
# type from the `_types_` namespace instead (see visit_MatchClass).
MATCHABLE_BUILTINS = frozenset({"str", "int", "bytes", "list", "tuple", "dict", "set", "frozenset"})


def _annotation_text(annotation: ast.expr) -> ast.expr:
    text = ast.Constant(ast.unparse(annotation))
    copy_locations(text, annotation)
    return text


def _stringify_annotations(arguments: ast.arguments) -> None:
    for arg in (
        *arguments.posonlyargs,
        *arguments.args,
        *arguments.kwonlyargs,
        arguments.vararg,
        arguments.kwarg,
    ):
        if arg is not None and arg.annotation is not None:
            arg.annotation = _annotation_text(arg.annotation)


_REFUSED_SPECIAL = {
    "__del__": "it runs at garbage collection, wherever that happens, outside any budget",
    "__getattr__": "it intercepts attribute lookups the engine makes",
    "__getattribute__": "it intercepts every attribute lookup, the engine's included",
    "__setattr__": "attribute writes are guarded by the engine",
    "__delattr__": "attribute writes are guarded by the engine",
    "__new__": "instances are made by the class; use __init__",
    "__init_subclass__": "class creation is the engine's",
    "__set_name__": "class creation is the engine's",
    "__class_getitem__": "class creation is the engine's",
    "__get__": "descriptors are made with property, staticmethod and classmethod",
    "__set__": "descriptors are made with property, staticmethod and classmethod",
    "__delete__": "descriptors are made with property, staticmethod and classmethod",
}


def _special_method_refusal(name: str) -> str:
    reason = _REFUSED_SPECIAL.get(name, "it is not one of the special methods scripts may define")
    return f'special method "{name}" is not available to scripts: {reason}'


def _class_dunder_problem(name: str, value: ast.expr | None, defined: set[str]) -> str | None:
    """Why a class body may not bind ``name`` to ``value`` (None: it may)."""
    if name in SPECIAL_METHODS:
        if name == "__hash__" and isinstance(value, ast.Constant) and value.value is None:
            return None
        if isinstance(value, ast.Name) and value.id in defined:
            return None
        return f'"{name}" may only be bound by def, or to another special method of the class'
    if name not in CLASS_DATA_DUNDERS:
        return f'"{name}" cannot be bound in a class body'
    if name == "__doc__":
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return None
        return "__doc__ must be a string"
    if isinstance(value, ast.Tuple | ast.List) and all(
        isinstance(item, ast.Constant)
        and isinstance(item.value, str)
        and not item.value.startswith("__")
        and (name != "__match_args__" or not item.value.startswith("_"))
        for item in value.elts
    ):
        return None
    return f"{name} must be a tuple of attribute names written out as strings"


def format_fields_problem(template: str) -> str | None:
    """Why ``template.format(...)`` is refused (None: it is not): a field that walks
    attributes (``{0.__class__}``, ``{x.y}``: CVE-2023-41039's lesson)."""
    try:
        pending = [template]
        while pending:
            for _literal, field, spec, _conversion in _string.formatter_parser(pending.pop()):
                if field is None:
                    continue
                _first, rest = _string.formatter_field_name_split(field)
                for is_attribute, key in rest:
                    if is_attribute:
                        return (
                            f"format field {{{field}}} reads the attribute {key!r}: attribute "
                            "access in format strings is refused; use {0[key]} or an f-string"
                        )
                if spec:
                    pending.append(spec)
    except ValueError:
        return None  # a malformed template fails at run time with Python's own message
    return None


def _is_slice_target(target: ast.expr) -> bool:
    return isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Slice)


def _holds_slice_target(target: ast.expr) -> bool:
    return any(isinstance(node, ast.Subscript) and _is_slice_target(node) for node in _walk(target))


def _passes_through(visitor: Any) -> bool:
    """True for a visit method that only returns ``self.node_contents_visit(node)``: the
    same instructions and names as RestrictedPython's ``visit_Load`` (anything else it
    does, a refusal, a rewrite, a different call, changes its bytecode)."""
    model = RestrictingNodeTransformer.visit_Load.__code__
    code = getattr(visitor, "__code__", None)
    return code is not None and code.co_code == model.co_code and code.co_names == model.co_names


class HookPolicy(RestrictingNodeTransformer):
    """RestrictedPython's transformer with hookyard's budget and size instrumentation."""

    # Each policy class's visit method per node class (``visit``), filled as met.
    _visitors: ClassVar[dict[type[ast.AST], Any]] = {}
    # Node classes whose visit changes and reports nothing: contexts and operators (no
    # fields) and constants (no nodes in their fields), when their visit method passes
    # through (see _passes_through). ``node_contents_visit`` does not visit them at all.
    _inert: ClassVar[frozenset[type[ast.AST]]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._visitors = {}
        cls._inert = cls._inert_classes()

    @classmethod
    def _inert_classes(cls) -> frozenset[type[ast.AST]]:
        leaves: list[type[ast.AST]] = [ast.Constant]
        for family in (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop):
            leaves += [leaf for leaf in family.__subclasses__() if not leaf._fields]
        return frozenset(
            leaf for leaf in leaves if _passes_through(getattr(cls, f"visit_{leaf.__name__}", None))
        )

    # -- the walk (issue 17, figure E: the dispatch was most of the policy's own time) ----
    def visit(self, node: ast.AST) -> Any:
        """``ast.NodeVisitor.visit``: ``visit_<class name>``, else ``generic_visit`` (which
        RestrictedPython makes a refusal), looked up once per node class."""
        visitor = self._visitors.get(node.__class__)
        if visitor is None:
            visitor = getattr(type(self), f"visit_{node.__class__.__name__}", None)
            if visitor is None:
                visitor = type(self).generic_visit
            self._visitors[node.__class__] = visitor
        return visitor(self, node)

    def node_contents_visit(self, node: Any) -> Any:
        """``ast.NodeTransformer.generic_visit``, node for node, without visiting inert
        nodes (``_inert``) or making a generator per node."""
        inert = self._inert
        for name in node._fields:
            try:
                old = getattr(node, name)
            except AttributeError:
                continue
            if isinstance(old, list):
                values: list[Any] = []
                for item in old:
                    if not isinstance(item, ast.AST) or item.__class__ in inert:
                        values.append(item)
                        continue
                    made = self.visit(item)
                    if isinstance(made, ast.AST):
                        values.append(made)
                    elif made is not None:
                        values.extend(made)  # a statement made into several
                old[:] = values
            elif isinstance(old, ast.AST) and old.__class__ not in inert:
                new = self.visit(old)
                if new is None:
                    delattr(node, name)
                else:
                    setattr(node, name, new)
        return node

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # what encloses the node being visited: "class" or "function" entries
        self.scopes: list[str] = []
        self.class_names: list[str] = []  # for private-name mangling
        self.generator_stack: list[bool] = []
        # Name nodes a class body may bind although they are dunders (__hash__ = None...)
        self.allowed_dunder_targets: set[int] = set()
        self.bound_names: frozenset[str] = frozenset()
        # exec(...)/eval(...) callees RestrictedPython already reports as calls
        self.reported_calls: set[int] = set()
        # tuple displays unpacked on the spot (`a, b = b, a`): never a tuple to check
        self.unpacked_displays: set[int] = set()

    # -- names (issue 14: a script's own `_helper` names are ordinary) ---------------------
    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        if name is None or name == "_":
            return
        if is_dunder(name):
            if name in MODULE_DATA_DUNDERS:
                return  # plain globals the engine never reads (`__all__ = [...]`)
            if allow_magic_methods and name in SPECIAL_METHODS:
                return  # a def in a class body: visit_FunctionDef checked where it stands
            if id(node) in self.allowed_dunder_targets:
                return
            self.error(
                node,
                f'"{name}" is not available to scripts: dunder names are the interpreter\'s '
                "(a script may define the special methods of its own classes: def __eq__...)",
            )
        elif is_reserved(name):
            self.error(
                node,
                f'"{name}" is reserved for the engine (names shaped _x_); pick another name',
            )
        elif name.endswith("__roles__"):
            self.error(
                node, f'"{name}" is an invalid variable name because it ends with "__roles__".'
            )
        elif name in FORBIDDEN_FUNC_NAMES:
            self.error(node, f'"{name}" is a reserved name.')

    def visit_Name(self, node: ast.Name) -> Any:
        if isinstance(node.ctx, ast.Load):
            if node.id == "__name__":
                return node  # the script's module name: a string
            reason = DENIED_BUILTINS.get(node.id)
            if (
                reason is not None
                and node.id not in self.bound_names
                and id(node) not in self.reported_calls
            ):
                self.error(node, f"{node.id} is not available to scripts: {reason}")
                return node
        return super().visit_Name(node)

    def _mangled(self, attr: str) -> str:
        """``attr`` as the compiler mangles it inside the innermost class (``__x``)."""
        if not self.class_names or not attr.startswith("__") or attr.endswith("__"):
            return attr
        owner = self.class_names[-1].lstrip("_")
        return f"_{owner}{attr}" if owner else attr

    # Every node this policy makes is located where it is made (copy_locations), so no
    # pass over the whole tree is needed (it cost a fifth of a cold load). Should a node
    # slip through unlocated, compile() refuses the tree and the loader compiles again
    # with LocatedHookPolicy, which does that pass.
    locate_all = False

    # -- prologues ----------------------------------------------------------------------
    def _prologue(self, like: Any) -> list[ast.stmt]:
        where = _where(like)
        names: list[ast.expr] = [ast.Name(n, ast.Store(), **where) for n in _BUDGET_NAMES]
        fetch = ast.Assign(
            targets=[ast.Tuple(names, ast.Store(), **where)],
            value=_call_at(where, "_budget_"),
            **where,
        )
        # `_e()` pops a depth slot; the bottom slot is truthy and means "too deep".
        enter = ast.BoolOp(ast.And(), [_call_at(where, _ENTER), _call_at(where, "_deep_")], **where)
        tick = _call_at(where, _TICK)
        return [fetch, ast.Expr(enter, **where), ast.Expr(tick, **where)]

    def visit_Module(self, node: ast.Module) -> Any:
        # proven-harmless operators, from the untransformed tree (issue 6; see _static)
        self.static_facts = _static.analyse(node)
        self.module_facts = facts = _module_facts(node)
        self.bound_names = facts.bound
        node = cast(ast.Module, super().visit_Module(node))
        position = 0
        for position, child in enumerate(node.body):  # noqa: B007 - position used after
            if not (isinstance(child, ast.ImportFrom) and child.module == "__future__"):
                break
        else:
            position = len(node.body)
        like = node.body[position] if position < len(node.body) else None
        if like is not None:
            node.body[position:position] = self._prologue(like)
        if self.locate_all:
            return ast.fix_missing_locations(node)
        return node

    def _needs_no_prologue(self, node: ast.FunctionDef) -> bool:
        """A function may skip the budget prologue only when nothing but a direct call can
        ever run it (issue 12): a module-level, straight-line ``def`` whose name is never
        used as a value. Anything that can be reached another way (a method, a special
        method, a lambda, a sort key, a ``defaultdict`` factory, a function kept in
        ``state``) can be re-entered by the interpreter without a call in the script's
        text (``==``, ``in``, ``repr``...), so it ticks and counts its depth like any
        other: no script code ever recurses or fans out without a budget."""
        facts: ModuleFacts | None = getattr(self, "module_facts", None)
        return facts is not None and id(node) in facts.straight and node.name not in facts.used

    def inject_print_collector(self, node: Any, position: int = 0) -> None:
        """A function that reads ``printed`` asks its collector to keep what it prints
        (``_print_(_getattr_, True)``); one that only prints keeps nothing."""
        before = len(node.body)
        super().inject_print_collector(node, position)
        if len(node.body) > before and self.print_info.printed_used:
            made = node.body[position]
            if isinstance(made, ast.Assign) and isinstance(made.value, ast.Call):
                keep = ast.Constant(True)
                copy_locations(keep, made.value)
                made.value.args.append(keep)

    def visit_TryStar(self, node: ast.AST) -> Any:
        # CVE-2025-22153 (GHSA-gmj9-h825-chq2): a type confusion in CPython's except*
        # before 3.13.2 let sandboxed code out of RestrictedPython; 3.11, 3.12.1 and 3.13.0
        # are supported here, so the statement stays refused on every version
        self.error(
            node,
            "except* is not available to scripts: CPython's except* had a type confusion "
            "that escapes sandboxes (CVE-2025-22153); catch the ExceptionGroup with except "
            "and look at its .exceptions",
        )
        return node

    # PEP 695's type parameters (``def f[T]``, ``class Box[T]``) and ``type X = ...``
    # statements (3.12+) make real ``typing.TypeVar``/``Generic``/``TypeAliasType``
    # objects, whose bounds and values are evaluated lazily, by code with no budget, and
    # which reach the host's ``typing`` caches: refused with the spelling that works.
    def visit_TypeVar(self, node: ast.AST) -> Any:
        self._refuse_type_parameters(node)
        return node

    def visit_ParamSpec(self, node: ast.AST) -> Any:
        self._refuse_type_parameters(node)
        return node

    def visit_TypeVarTuple(self, node: ast.AST) -> Any:
        self._refuse_type_parameters(node)
        return node

    def _refuse_type_parameters(self, node: ast.AST) -> None:
        self.error(
            node,
            f"type parameters ([{getattr(node, 'name', 'T')}]) are not available to "
            "scripts; drop the brackets and annotate with typing.Any or a plain type",
        )

    def visit_TypeAlias(self, node: ast.AST) -> Any:
        self.error(
            node,
            "type statements are not available to scripts; write a plain assignment "
            "(Pair = tuple[int, int]) instead",
        )
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        """``from __future__ import annotations`` is a note to the compiler, not an import:
        dropped once its features are checked (annotations are made text here anyway, and
        every other feature is the language's default since 3.7)."""
        if node.module != "__future__":
            return super().visit_ImportFrom(node)
        for alias in node.names:
            if alias.name not in __future__.all_feature_names:
                self.error(node, f"future feature {alias.name} is not defined")
        return None

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        in_class = bool(self.scopes) and self.scopes[-1] == "class"
        if is_dunder(node.name):
            if not in_class:
                self.error(node, f'"{node.name}": special methods belong in a class body')
            elif node.name not in SPECIAL_METHODS:
                self.error(node, _special_method_refusal(node.name))
        _stringify_annotations(node.args)
        if node.returns is not None:
            node.returns = _annotation_text(node.returns)
        straight = self._needs_no_prologue(node)  # judged on the script's own code
        documented = ast.get_docstring(node, clean=False) is not None
        facts: ModuleFacts | None = getattr(self, "module_facts", None)
        generator = (facts is None or facts.yields) and _is_generator(node)
        self.generator_stack.append(generator)
        self.scopes.append("function")
        try:
            node = cast(ast.FunctionDef, super().visit_FunctionDef(node))
        finally:
            self.scopes.pop()
            self.generator_stack.pop()
        # what the policy adds goes after a docstring, which stays the function's __doc__
        doc = [node.body.pop(0)] if documented and node.body else []
        if node.args.vararg is not None:
            # `*args` packs what the caller holds into a new tuple (issue 12, nesting)
            check = _call_statement(
                "_args_", node, ast.Name(node.args.vararg.arg, ast.Load(), **_where(node))
            )
            node.body.insert(0, check)
        if generator:
            # every resumption ticks and holds a depth slot (_budget.ScriptGenerator); the
            # body itself only ticks when first run: a suspended generator holds no slot
            decorator = _name("_generator_")
            copy_locations(decorator, node)
            node.decorator_list.append(decorator)
            node.body[:0] = [*doc, _call_statement("_tick_", node)]
            return node
        if straight or not node.body:
            node.body[:0] = doc
            return node
        body = node.body
        leave = _call_statement(_LEAVE, node, ast.Constant(None, **_where(node)))
        guarded = ast.Try(body=body, handlers=[], orelse=[], finalbody=[leave])
        copy_locations(guarded, node)
        node.body = [*doc, *self._prologue(node), guarded]
        return node

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> Any:
        new = cast(ast.GeneratorExp, super().visit_GeneratorExp(node))
        # resumed through _budget.ScriptGenerator: a tick and a depth slot each time
        return _located(_call("_genexp_", new), node)

    def visit_Tuple(self, node: ast.Tuple) -> Any:
        node = cast(ast.Tuple, super().visit_Tuple(node))
        if (
            not isinstance(node.ctx, ast.Load)
            or id(node) in self.unpacked_displays
            or all(isinstance(element, ast.Constant) for element in node.elts)
        ):
            return node
        # a new tuple around values the script holds: depth-checked (issue 12, nesting)
        new = ast.Call(func=_name("_tuple_"), args=node.elts, keywords=[])
        copy_locations(new, node)
        return new

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        _stringify_annotations(node.args)
        self.scopes.append("function")
        try:
            new = cast(ast.Lambda, super().visit_Lambda(node))
        finally:
            self.scopes.pop()
        return _located(_call("_lambda_", new), node)

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self._check_class_body(node)
        self.scopes.append("class")
        self.class_names.append(node.name)
        try:
            return super().visit_ClassDef(node)
        finally:
            self.scopes.pop()
            self.class_names.pop()

    def _check_class_body(self, node: ast.ClassDef) -> None:
        """Dunder names a class body binds other than by ``def``: plain data
        (``__hash__ = None``, ``__match_args__``, ``__slots__``, ``__doc__``) or another of
        its own special methods (``__repr__ = __str__``). Anything else could install a
        callable the budget does not see (``__len__ = len`` recurses in C)."""
        defined = {child.name for child in node.body if isinstance(child, ast.FunctionDef)}
        for child in node.body:
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(child, ast.Assign):
                targets, value = child.targets, child.value
            elif isinstance(child, ast.AnnAssign | ast.AugAssign):
                targets, value = [child.target], child.value
            for target in targets:
                if not (isinstance(target, ast.Name) and is_dunder(target.id)):
                    continue
                problem = _class_dunder_problem(target.id, value, defined)
                if problem is not None:
                    self.error(child, problem)
                elif isinstance(child, ast.Assign):
                    self.allowed_dunder_targets.add(id(target))
                    if isinstance(value, ast.Name):
                        # `__rmul__ = __mul__`: the class's own special method, read back
                        self.allowed_dunder_targets.add(id(value))
                        defined.add(target.id)

    def visit_Assign(self, node: ast.Assign) -> Any:
        """``a[i:j] = value`` copies ``value`` in one C call (``a[:] = range(10**9)``): the
        value is materialised first, charged and size-checked (issue 12)."""
        for target in node.targets:
            if isinstance(target, ast.Tuple | ast.List) and _holds_slice_target(target):
                self.error(node, "assign to a slice on its own, not inside unpacking")
        slice_store = any(_is_slice_target(target) for target in node.targets)
        if isinstance(node.value, ast.Tuple) and all(
            isinstance(target, ast.Tuple | ast.List) for target in node.targets
        ):
            self.unpacked_displays.add(id(node.value))  # `a, b = b, a`: no tuple survives
        new = super().visit_Assign(node)
        if slice_store and isinstance(new, ast.Assign):
            new.value = _located(_call("_slice_value_", new.value), new.value)
        return new

    def visit_For(self, node: ast.For) -> Any:
        if _holds_slice_target(node.target):
            self.error(node, "a for loop cannot assign to a slice")
        return super().visit_For(node)

    def visit_withitem(self, node: ast.withitem) -> Any:
        if node.optional_vars is not None and _holds_slice_target(node.optional_vars):
            self.error(node.context_expr, "`with ... as` cannot assign to a slice")
        return super().visit_withitem(node)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> Any:
        for name in node.names:
            self.check_name(node, name)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:
        # annotations are kept as text (PEP 563), never evaluated: no surface at all
        node.annotation = _annotation_text(node.annotation)
        if isinstance(node.target, ast.Name):
            self.check_name(node, node.target.id)
        return self.node_contents_visit(node)

    # -- match (issue 14) -----------------------------------------------------------------
    def visit_Match(self, node: ast.Match) -> Any:
        return self.node_contents_visit(node)

    def visit_match_case(self, node: ast.match_case) -> Any:
        return self.node_contents_visit(node)

    def visit_MatchValue(self, node: ast.MatchValue) -> Any:
        return self.node_contents_visit(node)

    def visit_MatchSingleton(self, node: ast.MatchSingleton) -> Any:
        return node

    def visit_MatchSequence(self, node: ast.MatchSequence) -> Any:
        return self.node_contents_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> Any:
        self.check_name(node, node.name)
        return node

    def visit_MatchMapping(self, node: ast.MatchMapping) -> Any:
        self.check_name(node, node.rest)
        return self.node_contents_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> Any:
        self.check_name(node, node.name)
        return self.node_contents_visit(node)

    def visit_MatchOr(self, node: ast.MatchOr) -> Any:
        return self.node_contents_visit(node)

    def visit_MatchClass(self, node: ast.MatchClass) -> Any:
        """``case Point(x=0)`` reads attributes in C, around the guards: only names a
        plain ``obj.name`` could read (no ``_x``, no guarded or inspect name). The
        built-in types stand in for guarded constructors in scripts, so a class pattern
        naming one is pointed at the real type (``case str():``)."""
        for attr in node.kwd_attrs:
            if attr.startswith("_") or attr in GUARDED_ATTRIBUTES or attr in INSPECT_ATTRIBUTES:
                self.error(node, f'"{attr}" cannot be matched in a class pattern')
        cls = node.cls
        if (
            isinstance(cls, ast.Name)
            and cls.id in MATCHABLE_BUILTINS
            and cls.id not in self.bound_names
        ):
            node.cls = ast.Attribute(_name("_types_"), cls.id, ast.Load())
            copy_locations(node.cls, cls)
            node.patterns = [self.visit(p) for p in node.patterns]
            node.kwd_patterns = [self.visit(p) for p in node.kwd_patterns]
            return node
        if isinstance(cls, ast.Attribute) and (
            cls.attr.startswith("_") or cls.attr in GUARDED_ATTRIBUTES
        ):
            self.error(node, f'"{cls.attr}" cannot name a class in a pattern')
            return node
        if isinstance(cls, ast.Attribute):
            # dotted names stay plain attribute reads (a pattern needs a name, not a call)
            cls.value = self.visit(cls.value)
        else:
            node.cls = self.visit(cls)
        node.patterns = [self.visit(p) for p in node.patterns]
        node.kwd_patterns = [self.visit(p) for p in node.kwd_patterns]
        return node

    # -- calls ----------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> Any:
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("exec", "eval"):
            self.reported_calls.add(id(func))
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("format", "format_map")
            and isinstance(func.value, ast.Constant)
            and isinstance(func.value.value, str)
        ):
            problem = format_fields_problem(func.value.value)
            if problem is not None:
                self.error(node, problem)
        return super().visit_Call(node)

    def visit_While(self, node: ast.While) -> Any:
        node = cast(ast.While, super().visit_While(node))
        # A generator's body may resume in a later invocation than the one whose tick its
        # prologue fetched (kept in `state`): its loops tick whatever invocation runs
        # them now (issue 11: where budgets are renewed per invocation, the old tick is
        # spent for good).
        tick = "_tick_" if self.generator_stack and self.generator_stack[-1] else _TICK
        node.body.insert(0, _call_statement(tick, node))
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        node = cast(ast.ExceptHandler, super().visit_ExceptHandler(node))
        node.body.insert(0, _call_statement("_check_", node))
        return node

    def visit_Try(self, node: ast.Try) -> Any:
        node = cast(ast.Try, super().visit_Try(node))
        if node.finalbody:
            node.finalbody.insert(0, _call_statement("_check_", node))
        return node

    # -- attribute and item access --------------------------------------------------------
    def visit_Attribute(self, node: ast.Attribute) -> Any:
        """Plain ``obj.name`` for ordinary names; ``_getattr_`` for the names a guard must
        see (GUARDED_ATTRIBUTES), private ``_x`` names (the script's own objects only) and
        the dunders scripts may read (``super().__init__``); writes through ``_write_``
        (``_write_own_`` for private names). Dunder writes and inspect names are refused."""
        attr = node.attr
        loading = isinstance(node.ctx, ast.Load)
        private = attr.startswith("_") and attr != "_" and not is_dunder(attr)
        if attr in INSPECT_ATTRIBUTES:
            self.error(node, f'"{attr}" is a restricted name, that is forbidden to access.')
        elif attr.endswith("__roles__"):
            self.error(node, f'"{attr}" is an invalid attribute name.')
        elif is_dunder(attr) and not loading:
            self.error(node, f'"{attr}": scripts cannot set or delete dunder attributes')
        elif is_dunder(attr) and attr not in DUNDER_READS:
            self.error(
                node,
                f'"{attr}" is not available to scripts (of dunder attributes only special '
                "methods, __name__, __qualname__, __doc__ and __class__ may be read)",
            )
        node = self.node_contents_visit(node)
        if loading:
            if private or is_dunder(attr) or attr in GUARDED_ATTRIBUTES:
                new = _call("_getattr_", node.value, ast.Constant(self._mangled(attr)))
                copy_locations(new, node)
                return new
            return node
        guard = "_write_own_" if private else "_write_"
        node.value = _located(_call(guard, node.value), node.value)
        return node

    def visit_Subscript(self, node: ast.Subscript) -> Any:
        node = self.node_contents_visit(node)
        if isinstance(node.ctx, ast.Load) and isinstance(node.slice, ast.Slice):
            # a slice copies: charged against the budget
            new = _call(
                "_getslice_",
                node.value,
                node.slice.lower or ast.Constant(None),
                node.slice.upper or ast.Constant(None),
                node.slice.step or ast.Constant(None),
            )
            copy_locations(new, node)
            return new
        return node

    # -- operators ----------------------------------------------------------------------
    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = _GUARDED_BINOPS.get(type(node.op))
        if guard is None:
            return node
        if _static.native(self, node):
            return node  # proven: the guard could not refuse it (see _static)
        left, right = node.left, node.right
        if isinstance(node.op, ast.Add | ast.Sub | ast.Div) and (
            _is_number_constant(left) or _is_number_constant(right)
        ):
            return node  # a number plus, minus or over anything cannot grow much
        if isinstance(node.op, ast.Mult) and (_is_small_float(left) or _is_small_float(right)):
            return node  # a float times anything is a float or a TypeError
        if isinstance(node.op, ast.Mod | ast.FloorDiv) and _is_number_constant(left):
            return node  # a small dividend: no long division; only str/bytes % formats
        new = _call(guard, left, right)
        copy_locations(new, node)
        return new

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        node = self.node_contents_visit(node)
        operator = _OPERATOR_TEXT[type(node.op)]
        target = node.target
        if isinstance(target, ast.Name):
            self.check_name(node, target.id)
            if type(node.op) not in _GUARDED_BINOPS or _static.native(self, node):
                return node
            new = ast.Assign(
                targets=[ast.Name(target.id, ast.Store())],
                value=_call("_inplacevar_", ast.Constant(operator), _name(target.id), node.value),
            )
            copy_locations(new, node)
            return new
        if isinstance(target, ast.Subscript) and _static.native(self, node):
            return node  # proven: the guard could not refuse it (see _static)
        # obj[key] op= value  /  obj.attr op= value: evaluate obj (and key) once.
        holder = self.gen_tmp_name()
        statements: list[ast.stmt] = [
            ast.Assign(targets=[ast.Name(holder, ast.Store())], value=target.value)
        ]
        if isinstance(target, ast.Subscript):
            key = self.gen_tmp_name()
            statements.append(ast.Assign(targets=[ast.Name(key, ast.Store())], value=target.slice))
            read: ast.expr = ast.Subscript(_name(holder), _name(key), ast.Load())
            store: ast.expr = ast.Subscript(_name(holder), _name(key), ast.Store())
        elif isinstance(target, ast.Attribute):
            read = ast.Attribute(_name(holder), target.attr, ast.Load())
            if target.attr in GUARDED_ATTRIBUTES:
                read = _call("_getattr_", _name(holder), ast.Constant(target.attr))
            store = ast.Attribute(_call("_write_", _name(holder)), target.attr, ast.Store())
        else:  # pragma: no cover - the grammar allows only the three target kinds
            self.error(node, "Unsupported augmented assignment target.")
            return node
        statements.append(
            ast.Assign(
                targets=[store],
                value=_call("_inplacevar_", ast.Constant(operator), read, node.value),
            )
        )
        for statement in statements:
            copy_locations(statement, node)
        return statements

    # -- strings --------------------------------------------------------------------------
    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = self.node_contents_visit(node)
        spec: ast.expr = node.format_spec if node.format_spec is not None else ast.Constant("")
        new = ast.FormattedValue(
            value=_call("_format_", node.value, ast.Constant(node.conversion), spec),
            conversion=-1,
            format_spec=None,
        )
        copy_locations(new, node)
        return new

    # -- unpacking ------------------------------------------------------------------------
    def visit_Starred(self, node: ast.Starred) -> Any:
        node = self.node_contents_visit(node)
        if isinstance(node.ctx, ast.Load):
            # `f(*x)`, `[*x]`: Python iterates x in C; _getiter_ bounds and charges it.
            node.value = _located(_call("_getiter_", node.value), node.value)
        return node

    def visit_Set(self, node: ast.Set) -> Any:
        node = cast(ast.Set, super().visit_Set(node))
        if any(isinstance(element, ast.Starred) for element in node.elts):
            # `{*keys}` builds the set in one C call: colliding hashes checked first
            new = ast.Call(func=_name("_set_"), args=node.elts, keywords=[])
            copy_locations(new, node)
            return new
        return node

    def visit_Dict(self, node: ast.Dict) -> Any:
        node = self.node_contents_visit(node)
        # `{**m}`: a key of None marks unpacking, which copies m in C.
        node.values = [
            _located(_call("_mapping_", value), value) if key is None else value
            for key, value in zip(node.keys, node.values, strict=True)
        ]
        return node

    def visit_keyword(self, node: ast.keyword) -> Any:
        node = self.node_contents_visit(node)
        if node.arg is None:
            node.value = _located(_call("_mapping_", node.value), node.value)
        return node


class LocatedHookPolicy(HookPolicy):
    """HookPolicy plus a final pass locating every node (the loader's fallback)."""

    locate_all = True


HookPolicy._inert = HookPolicy._inert_classes()
