"""The generated call path (issue 17): one wrapper frame per hooked call.

``make_hooked`` returns a plain function the host keeps for ever. Its code is swapped (one
``__code__`` assignment, atomic for callers: a call runs the code it started with) each
time its point publishes a plan:

- **generic**: ``point.plan`` read once; no plan: the host function, as a bare decorator;
  else the general path (``_hookpoint.general_call``: copies, observers, sessions, remote
  and shadow scripts, every failure). Used while a plan is not *fast*.
- **fast**, generated for one plan and one hooked function when the plan has no session,
  no observer, no shadow or tripped script and no script in a run of failures, and its
  scripts are all in process or all in workers (``isolation="process"``):
  positional-only parameters for the host function's fixed arity, so a call binds its
  arguments without building a tuple; a guard (no keywords or extra arguments, this
  plan still published, every argument an immutable atom where scripts run in process)
  that otherwise hands the call
  to the generic path; then each budget-free script called inline as ``call_script``
  would (its call counted, its kept data accounted), each budgeted one through
  ``call_script``, the host function, the post scripts. A script in a worker is one
  ``WorkerPool.invoke`` (its call counted as ``_call_remote`` counts it): the encoding of
  its arguments is its copy, so they need not be atoms, and the general path's eight
  frames per script are not run (issue 13 point 4). A failure ends the fast part: the
  sanitised ``ScriptFailure`` (built inside the ``except``, acted on outside it, so no
  script exception rides in a ``__context__``) and the rest of the call go to the
  general path where the failure stopped it (``_hookpoint.resume``).

The code is compiled once per *shape* (arity, bound argument, the budget-free/budgeted
kind of each script, whether the point replaces results, whether it has error scripts)
and made per plan with ``code.replace(co_consts=...)``: the plan's scripts, functions and
records are the code's constants, so the fast path reads no global, cell or attribute to
find them, and the swap publishes code and data together. In the template, a constant is
written as a string literal (``"S0"``); the compiler's warnings about calling or
comparing a literal are expected and silenced.
"""

from __future__ import annotations

import builtins
import inspect
import threading
import types
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["NO_ARGUMENT", "HookedCall", "fast_ready"]

NO_ARGUMENT: Any = type("NoArgument", (), {"__repr__": lambda self: "<no argument>"})()
_GLOBALS = {"__builtins__": builtins}
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)

_GENERIC = """
def hooked(*args, **kwargs):
    plan = "POINT".plan
    if plan is None:
        return "FN"(*args, **kwargs)
    return "GENERAL"("CALL", plan, args, kwargs)
"""


class HookedCall:
    """One hooked function: the function the host holds, and the code it runs now."""

    __slots__ = (
        "__weakref__",
        "_codes",
        "arity",
        "fn",
        "function",
        "generic",
        "options",
        "parts",
        "point",
        "skip",
    )

    def __init__(
        self,
        point: Any,
        fn: Callable[..., Any],
        options: Any,
        skip: int,
        parts: dict[str, Any],
    ) -> None:
        """``parts``: the call path's pieces the generated code calls (``_hookpoint``)."""
        self.point = point
        self.fn = fn
        self.options = options
        self.skip = skip
        self.parts = parts
        self.arity = _fixed_arity(fn, skip)
        self._codes: dict[tuple[Any, ...], types.CodeType] = {}  # compiled shapes
        template = _code(_GENERIC)
        self.generic = template.replace(
            co_consts=_constants(
                template.co_consts, {**parts, "POINT": point, "FN": fn, "CALL": self}
            )
        )
        self.function = types.FunctionType(self.generic, _GLOBALS, "hooked")
        # the fast code's positional parameters: absent ones are NO_ARGUMENT (the generic
        # code has none, and ignores them)
        self.function.__defaults__ = (NO_ARGUMENT,) * (self.arity or 0)

    def install(self, plan: Any, fast: bool) -> None:
        """Run ``plan`` from now on: its generated code where ``fast``, else the generic."""
        code = self.generic
        if fast and self.arity is not None:
            code = self._fast_code(plan)
        self.function.__code__ = code

    def _fast_code(self, plan: Any) -> types.CodeType:
        pre, post, error, _ = plan
        replace = self.options.result == "replace"
        assert self.arity is not None  # install() tests it
        # fast_ready: the scripts are all remote or all local
        remote = any(script.remote for scripts in (pre, post, error) for script in scripts)
        shape = (
            self.arity,
            self.skip,
            tuple(_kind(script, script.pre, remote) for script in pre),
            tuple(_kind(script, script.post, remote) for script in post),
            bool(error),
            replace,
            remote,
        )
        template = self._codes.get(shape)
        if template is None:
            with _COMPILE:
                template = _code(_fast_source(*shape))
            self._codes[shape] = template
        values = dict(self.parts)
        values.update(POINT=self.point, PLAN=plan, FN=self.fn, CALL=self, OPTIONS=self.options)
        values.update(PRES=pre, POSTS=post, ERRORS=error)
        for i, script in enumerate(pre):
            values.update({f"S{i}": script, f"F{i}": script.pre, f"R{i}": script.record})
            values.update({f"A{i}": script.kept_account, f"D{i}": script.flags})
            if remote:
                # (its quiet twin: no meter in the worker, as no one audits this path)
                values.update({f"I{i}": script.pre.pool.invoke, f"F{i}": script.pre.quiet})
        for j, script in enumerate(post):
            values.update({f"T{j}": script, f"G{j}": script.post, f"Q{j}": script.record})
            values.update({f"B{j}": script.kept_account, f"E{j}": script.flags})
            if remote:
                values.update({f"J{j}": script.post.pool.invoke, f"G{j}": script.post.quiet})
        return template.replace(co_consts=_constants(template.co_consts, values))


_COMPILE = threading.Lock()  # (compile() is thread-safe; this keeps one compile per shape)


def _fixed_arity(fn: Callable[..., Any], skip: int) -> int | None:
    """The host function's positional parameters (the bound one included), or None when
    it has none past ``skip``: such a function takes no fast path."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    count = sum(1 for p in parameters if p.kind in _POSITIONAL)
    return count if count > skip else None


def _code(source: str) -> types.CodeType:
    """The code of the one function ``source`` defines."""
    with warnings.catch_warnings():
        # "'str' object is not callable", "is not with a literal": the template's
        # constants are literals until _constants replaces them
        warnings.simplefilter("ignore", SyntaxWarning)
        module = compile(source, "<hookyard generated call path>", "exec")
    (code,) = [c for c in module.co_consts if isinstance(c, types.CodeType)]
    return code


def _constants(consts: tuple[Any, ...], values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(values[c] if type(c) is str and c in values else c for c in consts)


def fast_ready(plan: Any, observer: Any) -> bool:
    """True when ``plan`` can run generated: no session or observer, and every script
    enforcing, untripped, not in a run of failures (its breaker's count) and local, or
    every one in a worker (a tripped script's stand-in is remote but not in a worker)."""
    if plan is None:
        return False
    pre, post, error, session = plan
    if session is not None or observer is not None:
        return False
    where = set()
    for scripts in (pre, post, error):
        for script in scripts:
            if script.shadow or getattr(script.record, "streak", 0):
                return False
            if script.remote and not getattr(script, "in_worker", False):
                return False
            where.add(script.remote)
    return len(where) < 2


def _kind(script: Any, function: Any, remote: bool) -> str:
    """How the generated code runs one script's function: in a worker, in process with
    no budget (``_loader.budget_free``), or through ``call_script``."""
    if remote:
        return "remote"
    return "free" if function in script.free else "budgeted"


def _fast_source(
    arity: int,
    skip: int,
    pre: tuple[str, ...],
    post: tuple[str, ...],
    errors: bool,
    replace: bool,
    remote: bool,
) -> str:
    """The fast path's source for one shape (``pre``/``post``: each script's ``_kind``;
    ``remote``: the scripts are in workers, whose encoding copies any plain data, so the
    arguments and the result need not be atoms)."""
    params = [f"a{i}" for i in range(arity)]
    seen = params[skip:]
    given = ", ".join(params)
    tuple_seen = f"({', '.join(seen)},)"
    # (the parameters' real defaults are NO_ARGUMENT: the function's __defaults__)
    out = [f"def hooked({', '.join(p + '=None' for p in params)}, /, *rest, **kwargs):"]
    guard = ["rest", "kwargs", f'{params[-1]} is "NONE"', '"POINT".plan is not "PLAN"']
    if not remote:
        guard += [f'"TYPE"({name}) not in "ATOMS"' for name in seen]
    out.append(f"    if {' or '.join(guard)}:")
    out.append(f'        return "SLOW"("CALL", ({given},), rest, kwargs)')
    out.append("    failure = None")
    for i, kind in enumerate(pre):
        if kind == "remote":
            out += _remote_lines("pre", f"I{i}", f"F{i}", f"R{i}", seen)
        else:
            out += _script_lines(
                "pre", i, f"S{i}", f"F{i}", f"R{i}", f"A{i}", f"D{i}", seen, kind == "free"
            )
        out.append("    if failure is not None:")
        out.append(
            f'        return "RESUME"("CALL", "PLAN", ({given},), "pre", {i}, failure, None)'
        )
    if errors:
        out.append("    try:")
        out.append(f'        result = "FN"({given})')
        out.append('    except "EXCEPTION" as exc:')
        out.append(f'        "RUN_ERROR"("POINT", "OPTIONS", "ERRORS", exc, {tuple_seen}, {{}})')
        out.append("        raise")
    else:
        out.append(f'    result = "FN"({given})')
    if post and not remote:
        out.append('    if "TYPE"(result) not in "ATOMS":')
        general = f'"RUN_POST"("POINT", "OPTIONS", "POSTS", result, {tuple_seen}, {{}}, True)'
        out.append(f"        return {general}")
    if post:
        for j, kind in enumerate(post):
            if kind == "remote":
                out += _remote_lines("post", f"J{j}", f"G{j}", f"Q{j}", ["result", *seen])
            else:
                out += _script_lines(
                    "post",
                    j,
                    f"T{j}",
                    f"G{j}",
                    f"Q{j}",
                    f"B{j}",
                    f"E{j}",
                    ["result", *seen],
                    kind == "free",
                )
            out.append("    if failure is not None:")
            out.append(
                f'        return "RESUME"("CALL", "PLAN", ({given},), "post", {j}, failure, result)'
            )
            if replace:
                out.append("    if value is not None:")
                out.append(
                    f'        return "REPLACED"("CALL", "PLAN", ({given},), {j}, value, result)'
                )
    out.append("    return result")
    return "\n".join(out) + "\n"


def _script_lines(
    phase: str,
    index: int,
    script: str,
    function: str,
    record: str,
    account: str,
    flags: str,
    args: list[str],
    free: bool,
) -> list[str]:
    """One script's invocation, as ``call_script`` makes it; ``value`` its result and
    ``failure`` its sanitised ScriptFailure, if any."""
    call = f'"{function}"({", ".join(args)})'
    keep = "value = " if phase == "post" else ""
    # budgeted: call_script itself (the budget's refill differs per interpreter and
    # lives in one place), its ScriptFailure kept for outside the except
    invocation = f'"{script}", "{function}", "{phase}", ({", ".join(args)},), "EMPTY"'
    budgeted = [
        "    try:",
        f'        {keep}"CALL_SCRIPT"({invocation})',
        '    except "SCRIPT_FAILURE" as exc:',
        "        failure = exc",
    ]
    if not free:
        return budgeted
    inline = [
        f'    "{record}".calls += 1',
        "    try:",
        f"        {keep}{call}",
        # _hookpoint.call_script's free path: _FREE_CALL operations towards re-measuring
        # what the script keeps, measured when due
        f'        "{account}".due -= "FREE_CALL"',
        f'        if "{account}".due <= 0:',
        f'            "MEASURE"("{script}")',
        '    except "KEYBOARD_INTERRUPT":',
        "        raise",
        '    except "BASE_EXCEPTION" as exc:',
        f'        failure = "FREE_FAILURE"("{script}", "{phase}", exc)',
    ]
    # a script that imported decimal runs each call in a decimal context of its own
    # (call_script does it); the flag can be set by any later call, so it is read here
    return [
        f'    if "{flags}".decimal:',
        *("    " + line for line in budgeted),
        "    else:",
        *("    " + line for line in inline),
    ]


def _remote_lines(phase: str, invoke: str, hook: str, record: str, args: list[str]) -> list[str]:
    """One script's invocation in its worker, as ``call_script`` makes it for a remote
    script (``_hookpoint._call_remote``): counted, uncounted again when it did not run
    (``NotRun``: its arguments cannot cross), a run of failures ended by a success."""
    keep = "value = " if phase == "post" else ""
    return [
        f'    "{record}".calls += 1',
        "    try:",
        f'        {keep}"{invoke}"("{hook}", ({", ".join(args)},), "EMPTY")',
        '    except "NOT_RUN" as exc:',
        f'        "{record}".calls -= 1',
        "        failure = exc",
        '    except "SCRIPT_FAILURE" as exc:',
        "        failure = exc",
        "    else:",
        f'        if "{record}".streak:',
        f'            "{record}".cleared()',
    ]
