"""Static audit: what a script may touch, read from its syntax tree without running it.

For each script: the hook functions it defines, the ``api`` functions it calls, the
modules (and module attributes) it uses, the attributes it reads and writes, where it
raises ``Veto`` and where ``post`` returns a value, its sha256 version, and every problem
found: RestrictedPython's compile errors (reused from the loader, so the audit and the
engine never disagree), builtins the sandbox denies, imports outside the allow-list, and
behaviour the hook point will not honour.

The reach is an upper bound: a name is counted where it appears, reachable or not; ``api``
or a module used as a value (aliased, passed along, ``getattr`` with a computed name)
counts as ``api.*`` / ``json.*``: "may use any of it".
"""

from __future__ import annotations

import ast
import builtins
import functools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from ._budget import Limits
from ._config import CONFIG_NAME, HostConfig, load_config
from ._hookpoint import PointOptions
from ._loader import (
    HOOK_NAMES,
    MAX_SCRIPT_BYTES,
    FileRules,
    LoadFailure,
    compile_source,
    read_source,
)
from ._modules import DEFAULT_MODULES, FORBIDDEN_MODULES, TYPE_HINT_MODULES, facade_factories
from ._paths import script_paths, stray_files, world_writable_root
from ._sandbox import SandboxPolicy, script_globals

__all__ = [
    "DirectoryAudit",
    "Finding",
    "ReachChange",
    "ScriptAudit",
    "Site",
    "audit_directory",
    "audit_source",
    "reach_change",
    "report_reach_change",
    "source_reach_change",
]

logger = logging.getLogger("hookyard.audit")

FindingKind = Literal["file", "syntax", "denied", "import", "load", "option", "api", "config"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, located: ``str(finding)`` is ``file:line: message``."""

    file: str
    line: int | None
    message: str
    kind: FindingKind

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "kind": self.kind, "message": self.message}


@dataclass(frozen=True, slots=True)
class Site:
    """Where something happens: a line, inside which top-level function (None: elsewhere)."""

    line: int
    function: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "function": self.function}


@dataclass(frozen=True, slots=True)
class ScriptAudit:
    """The static reach of one script. Every tuple is sorted, so two audits compare."""

    point: str
    file: str
    version: str | None
    hooks: tuple[str, ...] = ()
    api: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    module_attributes: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    vetoes: tuple[Site, ...] = ()
    post_returns: tuple[Site, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def name(self) -> str:
        return Path(self.file).name

    @property
    def ok(self) -> bool:
        """No findings: the script compiles, and does nothing the sandbox or point refuses."""
        return not self.findings

    @property
    def can_veto(self) -> bool:
        return bool(self.vetoes)

    @property
    def returns_value(self) -> bool:
        """``post`` returns something other than None somewhere (may replace the result)."""
        return bool(self.post_returns)

    def reach(self) -> frozenset[tuple[str, str]]:
        """The reach as ``(kind, name)`` pairs, the unit the capability diff compares."""
        return _items(
            self.hooks,
            self.api,
            self.imports,
            self.module_attributes,
            self.reads,
            self.writes,
            bool(self.vetoes),
            bool(self.post_returns),
        )

    def as_dict(self, *, relative_to: str | Path | None = None) -> dict[str, Any]:
        """A JSON-ready record with a stable key order and sorted lists."""
        file = self.file
        if relative_to is not None and Path(self.file).is_relative_to(relative_to):
            file = Path(self.file).relative_to(relative_to).as_posix()
        return {
            "point": self.point,
            "script": file,
            "version": self.version,
            "hooks": list(self.hooks),
            "api": list(self.api),
            "imports": list(self.imports),
            "module_attributes": list(self.module_attributes),
            "reads": list(self.reads),
            "writes": list(self.writes),
            "can_veto": self.can_veto,
            "vetoes": [site.as_dict() for site in self.vetoes],
            "returns_value": self.returns_value,
            "post_returns": [site.as_dict() for site in self.post_returns],
            "findings": [finding.as_dict() for finding in self.findings],
        }


def _items(
    hooks: Iterable[str],
    api: Iterable[str],
    imports: Iterable[str],
    module_attributes: Iterable[str],
    reads: Iterable[str],
    writes: Iterable[str],
    vetoes: bool,
    replaces: bool,
) -> frozenset[tuple[str, str]]:
    items: set[tuple[str, str]] = set()
    items.update(("hook", name) for name in hooks)
    items.update(("api", name) for name in api)
    items.update(("import", name) for name in imports)
    items.update(("module", name) for name in module_attributes)
    items.update(("read", name) for name in reads)
    items.update(("write", name) for name in writes)
    if vetoes:
        items.add(("veto", ""))
    if replaces:
        items.add(("replace", ""))
    return frozenset(items)


def _reach_items(reach: _Reach) -> frozenset[tuple[str, str]]:
    return _items(
        reach.hooks,
        reach.api,
        reach.imports,
        reach.module_attributes,
        reach.reads,
        reach.writes,
        bool(reach.vetoes),
        bool(reach.post_returns),
    )


# -- capability diff ----------------------------------------------------------------------
# Kinds whose gain widens what a script can do to the host; reads and writes are of the
# script's own copies and guarded objects, so a new `.get` is reported but not alarming.
_WIDENING: Final = frozenset({"hook", "api", "import", "module", "veto", "replace"})
_PHRASES: Final = {
    "hook": "defines {}",
    "api": "calls api.{}",
    "import": "imports {}",
    "module": "uses {}",
    "read": "reads attribute .{}",
    "write": "writes attribute .{}",
    "veto": "raises Veto",
    "replace": "returns a value from post",
}


def _phrase(item: tuple[str, str]) -> str:
    kind, name = item
    if kind == "api" and name == "*":
        return "may call any api function"
    return _PHRASES[kind].format(name)


@dataclass(frozen=True, slots=True)
class ReachChange:
    """What a reload changed in a script's reach, as phrases ("calls api.delete")."""

    gained: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()
    widened: tuple[str, ...] = ()  # the gains that widen its reach (logged at WARNING)

    def __bool__(self) -> bool:
        return bool(self.gained or self.lost)

    def __str__(self) -> str:
        parts = [f"now {item}" for item in self.gained]
        parts += [f"no longer {item}" for item in self.lost]
        return "; ".join(parts) if parts else "no change in reach"


def reach_change(old: ScriptAudit | None, new: ScriptAudit) -> ReachChange:
    """The difference in reach from ``old`` (None: a new script) to ``new``."""
    return _change(old.reach() if old is not None else frozenset(), new.reach())


def _change(before: frozenset[tuple[str, str]], after: frozenset[tuple[str, str]]) -> ReachChange:
    gained = sorted(after - before)
    lost = sorted(before - after)
    return ReachChange(
        gained=tuple(_phrase(item) for item in gained),
        lost=tuple(_phrase(item) for item in lost),
        widened=tuple(_phrase(item) for item in gained if item[0] in _WIDENING),
    )


def source_reach_change(old: str | None, new: str) -> ReachChange | None:
    """The reach change between two versions' sources (None: ``new`` does not parse).

    Used by the engine on every load, so it only walks the syntax trees: the loader has
    already compiled the new version under the policy.
    """
    before = _source_reach(old) if old is not None else frozenset()
    after = _source_reach(new)
    if before is None or after is None:
        return None
    return _change(before, after)


@functools.lru_cache(maxsize=32)
def _source_reach(source: str) -> frozenset[tuple[str, str]] | None:
    """A source's reach (None: it does not parse), kept for the last few sources: the
    version serving now is the "old" side of the next reload's diff, so each version's
    tree is walked once, not at every reload that compares against it (issue 17)."""
    try:
        return _reach_items(_Reach().run(ast.parse(source)))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def report_reach_change(file: str, change: ReachChange) -> None:
    """Log a reload's reach change: WARNING when it widens, INFO otherwise."""
    if change.widened:
        logger.warning("hook script %s gained reach: %s", file, change)
    elif change:
        logger.info("hook script %s changed reach: %s", file, change)


# -- what scripts are given ---------------------------------------------------------------
@functools.cache
def _script_names() -> frozenset[str]:
    """Every name a script can use without binding it: safe builtins and its globals."""
    policy = SandboxPolicy(api={}, module_factories={}, limits=Limits())
    namespace = script_globals(policy, module_name="hookyard.audit", logger=logger, state={})
    names = set(namespace) | set(namespace["__builtins__"])
    names.add("print")  # RestrictedPython rewrites print() to the script's collector
    return frozenset(names)


@functools.cache
def _facade_attributes(module: str) -> frozenset[str] | None:
    """The attributes a module's facade offers scripts; None if it cannot be offered."""
    try:
        factory = facade_factories([module])[module]
    except ValueError:
        return None
    return frozenset(dir(factory()))


_PYTHON_BUILTINS: Final = frozenset(dir(builtins))


# -- the syntax-tree walk -----------------------------------------------------------------
class _Reach(ast.NodeVisitor):
    """One pass over a parsed script, collecting its reach with line numbers."""

    def __init__(self) -> None:
        self.hooks: set[str] = set()
        self.hook_problems: list[tuple[int, str]] = []
        self.api: dict[str, int] = {}
        self.imports: dict[str, int] = {}
        self.module_attributes: dict[str, int] = {}
        self.reads: set[str] = set()
        self.writes: set[str] = set()
        self.vetoes: list[Site] = []
        self.post_returns: list[Site] = []
        self.bound: set[str] = set()
        self.loaded: list[tuple[str, int]] = []
        self.aliases: dict[str, str] = {}  # local name -> module it names
        self.relative_imports: list[int] = []
        self._top: str | None = None  # the top-level function being walked
        self._depth = 0  # nesting of functions/lambdas/classes inside it

    # -- module level
    def run(self, tree: ast.Module) -> _Reach:
        for node in ast.walk(tree):  # aliases first: a use may come before its import
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    self.aliases[local] = alias.name if alias.asname else local
        for statement in tree.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                if statement.name in HOOK_NAMES:
                    self.hooks.add(statement.name)
                self._top = statement.name
                self.visit(statement)
                self._top = None
            else:
                self._check_hook_binding(statement)
                self.visit(statement)
        return self

    def _check_hook_binding(self, statement: ast.stmt) -> None:
        # `pre = post` or `pre = lambda: ...` load fine (functions of the script); a plain
        # value bound to a hook name is what the loader refuses
        if not isinstance(statement, ast.Assign | ast.AnnAssign) or statement.value is None:
            return
        value = statement.value
        if isinstance(value, ast.Name | ast.Lambda) and isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name) and target.id in HOOK_NAMES:
                    self.hooks.add(target.id)  # a function bound under a hook's name
            return
        plain = (isinstance(value, ast.Constant) and value.value is not None) or isinstance(
            value, ast.List | ast.Tuple | ast.Dict | ast.Set | ast.JoinedStr | ast.BinOp
        )
        if not plain:
            return
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, ast.Name) and node.id in HOOK_NAMES:
                    self.hook_problems.append(
                        (statement.lineno, f"{node.id} must be a function defined in the script")
                    )

    # -- scopes
    def _scoped(self, node: ast.AST) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.bound.add(node.name)
        self._bind_arguments(node.args)
        self._scoped(node)  # a top-level hook's own body is depth 1

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.bound.add(node.name)
        self._bind_arguments(node.args)
        self._scoped(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._bind_arguments(node.args)
        self._scoped(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.bound.add(node.name)
        self._scoped(node)

    def _bind_arguments(self, arguments: ast.arguments) -> None:
        for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
            self.bound.add(arg.arg)
        for star in (arguments.vararg, arguments.kwarg):
            if star is not None:
                self.bound.add(star.arg)

    # -- bindings
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imports.setdefault(alias.name, node.lineno)
            self.bound.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.relative_imports.append(node.lineno)
            return
        module = node.module or ""
        if module == "__future__":
            return  # a note to the compiler (the policy checks the feature names)
        self.imports.setdefault(module, node.lineno)
        for alias in node.names:
            self.module_attributes.setdefault(f"{module}.{alias.name}", node.lineno)
            self.bound.add(alias.asname or alias.name)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bound.add(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.bound.add(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.bound.add(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.bound.add(node.rest)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        self.bound.update(node.names)

    # -- uses
    def visit_Constant(self, node: ast.Constant) -> None:
        pass  # no children; NodeVisitor's own visit_Constant looks for legacy methods (slow)

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            self.bound.add(node.id)
            return
        self.loaded.append((node.id, node.lineno))
        if node.id == "api":
            self.api.setdefault("*", node.lineno)  # api as a value: any of it
        elif node.id in self.aliases:
            self.module_attributes.setdefault(f"{self.aliases[node.id]}.*", node.lineno)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        base = node.value
        if isinstance(base, ast.Name) and isinstance(node.ctx, ast.Load):
            if base.id == "api":
                self.api.setdefault(node.attr, node.lineno)
                self.loaded.append((base.id, base.lineno))
                return
            module = self.aliases.get(base.id)
            if module is not None:
                self.module_attributes.setdefault(f"{module}.{node.attr}", node.lineno)
                self.loaded.append((base.id, base.lineno))
                return
        if isinstance(node.ctx, ast.Load):
            self.reads.add(node.attr)
        else:
            self.writes.add(node.attr)
        self.visit(base)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Attribute):
            self.reads.add(node.target.attr)  # `obj.a += 1` reads it too
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (
            isinstance(func, ast.Name)
            and func.id in ("getattr", "hasattr")
            and node.args
            and isinstance(node.args[0], ast.Name)
            and (node.args[0].id == "api" or node.args[0].id in self.aliases)
        ):
            subject = node.args[0].id
            name = "*"
            if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                name = str(node.args[1].value)
            if subject == "api":
                self.api.setdefault(name, node.lineno)
            else:
                self.module_attributes.setdefault(f"{self.aliases[subject]}.{name}", node.lineno)
            self.loaded.append((subject, node.lineno))
            self.visit(func)
            for argument in node.args[1:]:
                self.visit(argument)
            for keyword in node.keywords:
                self.visit(keyword)
            return
        self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(raised, ast.Name) and raised.id == "Veto":
            self.vetoes.append(Site(node.lineno, self._top))
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        if (
            self._top == "post"
            and self._depth == 1
            and node.value is not None
            and not (isinstance(node.value, ast.Constant) and node.value.value is None)
        ):
            self.post_returns.append(Site(node.lineno, "post"))
        self.generic_visit(node)


# -- one script ---------------------------------------------------------------------------
def audit_source(
    source: str,
    *,
    file: str = "<script>",
    point: str = "",
    version: str | None = None,
    modules: Iterable[str] = DEFAULT_MODULES,
    options: PointOptions | None = None,
    api: Iterable[str] | None = None,
) -> ScriptAudit:
    """Audit one script's source. Nothing is executed.

    ``modules`` is the import allow-list checked against; ``options``, when given, are the
    point's options (flags a ``Veto`` on a point without vetoes, a ``post`` value on a
    point that keeps its result); ``api``, when given, the names the host exposes (flags
    calls to anything else).
    """
    allowed = tuple(modules)
    findings: list[Finding] = []

    def find(line: int | None, message: str, kind: FindingKind) -> None:
        findings.append(Finding(file, line, message, kind))

    if not source.strip():
        find(1, "script is empty (defines none of pre, post, error)", "load")
        return ScriptAudit(point, file, version, findings=tuple(findings))
    compiled = compile_source(source, file)
    errors = compiled if isinstance(compiled, list) else []
    for line, message in errors:
        find(line, message, "syntax" if message.startswith("SyntaxError") else "denied")
    try:
        tree = ast.parse(source, filename=file)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ScriptAudit(point, file, version, findings=_sorted(findings))
    reach = _Reach().run(tree)

    if not reach.hooks:
        find(None, "script defines none of pre, post, error", "load")
    for line, message in reach.hook_problems:
        find(line, message, "load")
    for line in reach.relative_imports:
        find(line, "relative imports are not available to scripts", "import")
    _check_imports(reach, allowed, find)
    _check_names(reach, errors, find)
    for site in reach.vetoes:
        if site.function in ("post", "error"):
            find(
                site.line,
                f"Veto in {site.function} has no effect: it is an ordinary error "
                "there (vetoes work in pre only)",
                "option",
            )
    if options is not None:
        _check_options(reach, point, options, find)
    if api is not None:
        exposed = set(api)
        for name, line in sorted(reach.api.items()):
            if name != "*" and name not in exposed:
                shown = ", ".join(sorted(exposed)) or "none"
                find(line, f"api.{name} is not exposed by the host (api: {shown})", "api")

    return ScriptAudit(
        point=point,
        file=file,
        version=version,
        hooks=tuple(name for name in HOOK_NAMES if name in reach.hooks),
        api=tuple(sorted(reach.api)),
        imports=tuple(sorted(reach.imports)),
        module_attributes=tuple(sorted(reach.module_attributes)),
        reads=tuple(sorted(reach.reads)),
        writes=tuple(sorted(reach.writes)),
        vetoes=tuple(sorted(reach.vetoes, key=lambda s: s.line)),
        post_returns=tuple(sorted(reach.post_returns, key=lambda s: s.line)),
        findings=_sorted(findings),
    )


def _sorted(findings: list[Finding]) -> tuple[Finding, ...]:
    unique = dict.fromkeys(findings)  # the same problem reached twice is reported once
    return tuple(sorted(unique, key=lambda f: (f.line or 0, f.message)))


def _check_imports(reach: _Reach, allowed: tuple[str, ...], find: Any) -> None:
    shown = ", ".join(allowed) or "none"
    for module, line in sorted(reach.imports.items(), key=lambda item: item[1]):
        if module in allowed or module in TYPE_HINT_MODULES:
            continue
        reason = FORBIDDEN_MODULES.get(module.split(".")[0])
        why = f" ({reason})" if reason else ""
        find(line, f"import of {module!r} is not allowed{why} (allowed: {shown})", "import")
    for qualified, line in sorted(reach.module_attributes.items(), key=lambda item: item[1]):
        module, _, attribute = qualified.rpartition(".")
        if (module not in allowed and module not in TYPE_HINT_MODULES) or attribute == "*":
            continue
        offered = _facade_attributes(module)
        if offered is not None and attribute not in offered:
            find(
                line,
                f"{module}.{attribute} is not available to scripts (the {module} "
                "facade offers: " + ", ".join(sorted(offered)) + ")",
                "import",
            )


def _check_names(reach: _Reach, errors: list[tuple[int | None, str]], find: Any) -> None:
    given = _script_names()
    flagged: set[str] = set()
    error_lines = {line for line, _ in errors}
    for name, line in reach.loaded:
        if name in given or name in reach.bound or name in flagged:
            continue
        if name in _PYTHON_BUILTINS and not name.startswith("_"):
            flagged.add(name)
            if line in error_lines:
                continue  # RestrictedPython already refused this line (exec, eval...)
            find(
                line,
                f"name {name!r} is not available to scripts (denied by the sandbox; "
                "see docs/writing-hooks.md)",
                "denied",
            )


def _check_options(reach: _Reach, point: str, options: PointOptions, find: Any) -> None:
    if not options.veto:
        for site in reach.vetoes:
            if site.function not in ("post", "error"):
                find(
                    site.line,
                    f"raises Veto but point {point!r} does not allow vetoes "
                    "(veto=False): it is handled as an error",
                    "option",
                )
    if options.result != "replace":
        for site in reach.post_returns:
            find(
                site.line,
                f"post returns a value but point {point!r} keeps its result "
                "(result='keep'): the value is ignored",
                "option",
            )


# -- a whole directory ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DirectoryAudit:
    """Every script of a hook directory, in point and run order, and every finding."""

    directory: str
    config: HostConfig
    modules: tuple[str, ...]
    scripts: tuple[ScriptAudit, ...]
    problems: tuple[Finding, ...] = ()  # not tied to one script: config, undeclared points

    @property
    def findings(self) -> tuple[Finding, ...]:
        """All findings: the directory's own, then each script's, in run order."""
        return self.problems + tuple(f for s in self.scripts for f in s.findings)

    @property
    def points(self) -> dict[str, tuple[ScriptAudit, ...]]:
        """Each point with its scripts in run order (file-name order)."""
        grouped: dict[str, list[ScriptAudit]] = {}
        for script in self.scripts:
            grouped.setdefault(script.point, []).append(script)
        return {name: tuple(scripts) for name, scripts in grouped.items()}

    def as_dict(self) -> dict[str, Any]:
        """The ``hookyard audit --json`` document (format 1; see docs/audit.md)."""
        return {
            "format": 1,
            "directory": self.directory,
            "config": self.config.file,
            "modules": list(self.modules),
            "scripts": [s.as_dict(relative_to=self.directory) for s in self.scripts],
            "problems": [{"file": f.file, **f.as_dict()} for f in self.problems],
        }


def audit_directory(
    directory: str | Path,
    *,
    points: Mapping[str, PointOptions] | None = None,
    modules: Iterable[str] | None = None,
    api: Iterable[str] | None = None,
    config: bool = True,
    strict_modes: bool = True,
    max_script_bytes: int = MAX_SCRIPT_BYTES,
) -> DirectoryAudit:
    """Audit every script under ``directory`` without running any of them.

    ``points``, ``modules`` and ``api`` describe the host; each one not given is taken
    from ``DIR/hookyard.toml`` when ``config`` is true and the file says, else: no point
    options (nothing flagged), ``DEFAULT_MODULES``, and no api check. File rules
    (``strict_modes``, ``max_script_bytes``) are the engine's.
    """
    root = Path(directory)
    problems: list[Finding] = []
    host = HostConfig()
    if config:
        host, troubles = load_config(root)
        problems += [Finding(str(host.file), t.line, t.message, "config") for t in troubles]
    if strict_modes:
        refused = world_writable_root(root, named=False)
        if refused is not None:
            problems.append(Finding(str(root), None, refused, "file"))
    # files that look like scripts but never load (issue 18): reported, never audited
    problems += [
        Finding(str(stray.path), None, stray.message, "file") for stray in stray_files(root)
    ]
    if modules is not None:
        allowed = tuple(modules)
    else:
        allowed = host.modules if host.modules is not None else DEFAULT_MODULES
    declared = dict(points) if points is not None else host.points
    exposed = tuple(api) if api is not None else host.api
    rules = FileRules(root=root, strict_modes=strict_modes, max_bytes=max_script_bytes)
    scripts: list[ScriptAudit] = []
    seen_points: dict[str, str] = {}
    for point, path in script_paths(root):
        seen_points.setdefault(point, str(path.parent))
        read = read_source(path, rules)
        if isinstance(read, LoadFailure):
            finding = Finding(str(path), read.line, read.message, "file")
            scripts.append(ScriptAudit(point, str(path), read.version, findings=(finding,)))
            continue
        source, version = read
        options = declared.get(point) if declared is not None else None
        scripts.append(
            audit_source(
                source,
                file=str(path),
                point=point,
                version=version,
                modules=allowed,
                options=options,
                api=exposed,
            )
        )
    if declared is not None:
        for point, folder in seen_points.items():
            if point not in declared:
                problems.append(
                    Finding(
                        folder,
                        None,
                        f"point {point!r} is not declared in {CONFIG_NAME}: its scripts never run",
                        "config",
                    )
                )
    return DirectoryAudit(str(root), host, allowed, tuple(scripts), tuple(problems))
