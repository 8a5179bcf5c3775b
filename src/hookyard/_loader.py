"""Read a script file, compile it under the policy, run its module body under a budget.

Nothing here raises into the caller: every failure comes back as ``LoadFailure`` whose
message names the file and line. The caller (the engine) decides to keep the last good
version serving.
"""

from __future__ import annotations

import decimal
import difflib
import dis
import hashlib
import inspect
import logging
import os
import re
import stat
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from RestrictedPython.compile import compile_restricted_exec

from . import _budget
from ._budget import Budget, BudgetExhausted, Limits
from ._copy import safe_message
from ._paths import world_writable_root
from ._policy import HookPolicy, LocatedHookPolicy
from ._retained import KeptAccount
from ._sandbox import SCRIPT_DECIMAL, SandboxPolicy, ScriptFlags, script_globals
from ._shadow import is_shadow

if TYPE_CHECKING:
    from ._cache import CacheSession

__all__ = [
    "HOOK_NAMES",
    "LoadFailure",
    "LoadedScript",
    "PathChecks",
    "compile_source",
    "load_script",
    "read_source",
    "script_line",
]

HOOK_NAMES = ("pre", "post", "error")
MAX_SCRIPT_BYTES = 256 * 1024


@dataclass(slots=True)
class LoadedScript:
    """One compiled, loaded version of a script file. Immutable after load in practice."""

    # True for _isolation.RemoteScript: its functions run in a worker process
    remote: ClassVar[bool] = False
    point: str
    name: str
    path: str
    version: str
    source: str
    pre: Any
    post: Any
    error: Any
    namespace: dict[str, Any] = field(repr=False)
    limits: Limits = field(repr=False, default_factory=Limits)
    # the engine's per-file record (status counters); set when the engine publishes it
    record: Any = field(repr=False, default=None)
    # operations spent since what the script keeps between calls was last measured
    kept_account: KeptAccount = field(repr=False, default_factory=KeptAccount)
    # its hook functions that need no budget to run (see budget_free)
    free: frozenset[Any] = field(repr=False, default=frozenset())
    # what the engine does around its calls, learnt as it runs (_sandbox.ScriptFlags)
    flags: ScriptFlags = field(repr=False, default_factory=ScriptFlags)
    # a *.shadow.py: runs, changes nothing (_shadow; its api does not reach the host)
    shadow: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.shadow = is_shadow(self.name)


@dataclass(frozen=True, slots=True)
class LoadFailure:
    path: str
    line: int | None
    message: str
    version: str | None = None  # sha256 of what was read, when it was read at all

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class FileRules:
    """Checks applied before a file is read (like sshd's StrictModes)."""

    root: Path
    strict_modes: bool = True
    max_bytes: int = MAX_SCRIPT_BYTES


class PathChecks:
    """One rescan's memo of the checks every file of a folder shares: the real path of
    the hook directory and of each point folder, and each folder's mode (issue 17: two
    ``Path.resolve()`` per file were a third of a cold load). Made per rescan, so a folder
    swapped between rescans (a fleet's symlink swap) is resolved afresh."""

    __slots__ = ("_modes", "_real", "_roots")

    def __init__(self) -> None:
        self._real: dict[str, str] = {}
        self._modes: dict[str, int] = {}
        self._roots: dict[Path, str | None] = {}

    def root_refusal(self, root: Path) -> str | None:
        """``_paths.world_writable_root(root)``, once per hook directory."""
        if root not in self._roots:
            self._roots[root] = world_writable_root(root)
        return self._roots[root]

    def real(self, folder: str) -> str:
        """``os.path.realpath(folder, strict=True)``, once per folder."""
        known = self._real.get(folder)
        if known is None:
            known = self._real[folder] = os.path.realpath(folder, strict=True)
        return known

    def mode(self, folder: str) -> int:
        """The folder's ``st_mode`` (0 when it cannot be read), once per folder."""
        known = self._modes.get(folder)
        if known is None:
            try:
                known = os.stat(folder).st_mode
            except OSError:
                known = 0
            self._modes[folder] = known
        return known


def read_source(
    path: Path, rules: FileRules, checks: PathChecks | None = None
) -> tuple[str, str] | LoadFailure:
    """The text and sha256 of a script file, or why it is refused (``checks``: the
    rescan's memo of folder checks; a fresh one when not given)."""
    shown = str(path)
    if checks is None:
        checks = PathChecks()
    try:
        info = os.lstat(shown)
    except OSError as exc:
        return LoadFailure(shown, None, f"cannot read: {exc.strerror or exc}")
    # The file, and every folder on the way to it, must resolve inside the hook directory:
    # a symlinked script *or* a symlinked point folder may not lead outside it.
    parent = os.path.dirname(shown)
    try:
        root = checks.real(str(rules.root))
        if stat.S_ISLNK(info.st_mode):
            target = os.path.realpath(shown, strict=True)
        else:
            target = os.path.join(checks.real(parent), os.path.basename(shown))
    except (OSError, RuntimeError) as exc:
        return LoadFailure(shown, None, f"refused: broken symlink ({exc})")
    if not (target == root or target.startswith(root.rstrip(os.sep) + os.sep)):
        return LoadFailure(
            shown, None, f"refused: symlink leads outside the hook directory (to {target})"
        )
    if stat.S_ISLNK(info.st_mode):
        info = os.stat(shown)
    if not stat.S_ISREG(info.st_mode):
        return LoadFailure(shown, None, "refused: not a regular file")
    if rules.strict_modes:
        if info.st_mode & stat.S_IWOTH:
            return LoadFailure(
                shown, None, "refused: world-writable script (chmod o-w, or strict_modes=False)"
            )
        refused = _writable_folder(parent, os.path.dirname(target), root, rules.root, checks)
        if refused is not None:
            return LoadFailure(shown, None, refused)
    if info.st_size > rules.max_bytes:
        return LoadFailure(
            shown,
            None,
            f"refused: {info.st_size:,} bytes is over the "
            f"{rules.max_bytes:,}-byte limit for a script",
        )
    try:
        data = _read_at_most(shown, info.st_size, rules.max_bytes)
    except OSError as exc:
        return LoadFailure(shown, None, f"cannot read: {exc.strerror or exc}")
    if len(data) > rules.max_bytes:
        return LoadFailure(shown, None, f"refused: over the {rules.max_bytes:,}-byte limit")
    version = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return LoadFailure(
            shown, line, f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}", version
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, version


# what one read() after the expected end asks for (below malloc's mmap threshold)
_READ_CHUNK = 64 * 1024


def _read_at_most(path: str, size: int, limit: int) -> bytes:
    """The file's bytes, ``limit + 1`` at most (so that a file over it shows), read
    straight from its descriptor, ``size`` (its ``st_size``) plus one byte first.

    ``open(path, "rb").read(limit + 1)`` allocated ``limit + 1`` bytes for every script,
    256 KiB: a fresh mmap, its page faults and munmap each time, most of a read (issue 17,
    figure E). A file that grew since its stat is read on, to ``limit + 1`` bytes.
    O_NONBLOCK: a regular file swapped for a FIFO since its stat cannot hang the read.
    """
    handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        chunks: list[bytes] = []
        total = 0
        want = min(size, limit) + 1
        while total <= limit:
            chunk = os.read(handle, want)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            want = min(limit + 1 - total, _READ_CHUNK)
    finally:
        os.close(handle)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _writable_folder(
    shown: str, folder: str, root: str, given_root: Path, checks: PathChecks
) -> str | None:
    """Why a folder between the script and the hook directory (both included) makes the
    script untrustworthy, or None. ``folder`` is the script's resolved folder, ``shown``
    how the caller named it; ``root`` the hook directory resolved, ``given_root`` as given.

    Anyone who may write to one of them may add a script of their own, so a world-writable
    one is refused, sticky bit or not: the sticky bit stops others replacing files, not
    adding them (issue 18 found the hook directory itself unchecked).
    """
    inside = root.rstrip(os.sep) + os.sep
    while folder != root and folder.startswith(inside):
        if checks.mode(folder) & stat.S_IWOTH:
            return f"refused: world-writable directory {shown} (chmod o-w, or strict_modes=False)"
        folder = shown = os.path.dirname(folder)
    return checks.root_refusal(given_root)


_LINE = re.compile(r"^Line (\d+): (.*)$", re.DOTALL)


def compile_source(source: str, filename: str) -> types.CodeType | list[tuple[int | None, str]]:
    """Compile under hookyard's policy: the code, or (line, message) errors."""
    if "\x00" in source:
        return [(source.count("\n", 0, source.index("\x00")) + 1, "source contains a NUL byte")]
    try:
        try:
            result = compile_restricted_exec(source, filename=filename, policy=HookPolicy)
        except TypeError:
            # a node left unlocated (compile() requires lineno): once more, locating all
            result = compile_restricted_exec(source, filename=filename, policy=LocatedHookPolicy)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", None)
        return [(line, f"{type(exc).__name__}: {safe_message(exc)}")]
    if result.errors:
        errors: list[tuple[int | None, str]] = []
        for text in result.errors:
            match = _LINE.match(text)
            if match and match.group(1).isdigit():
                errors.append((int(match.group(1)), match.group(2)))
            else:
                errors.append((None, text))
        return errors
    code: types.CodeType | None = result.code
    if code is None:  # pragma: no cover - RestrictedPython returns errors instead
        return [(None, "did not compile")]
    return code


def _near_hook_name(namespace: dict[str, Any]) -> tuple[str, str] | None:
    """A function of the script named like a hook (``pre_create``, ``Post``, ``on_error``,
    ``prehook``), and the hook it was probably meant to be."""
    for name, value in namespace.items():
        if not isinstance(value, types.FunctionType) or value.__globals__ is not namespace:
            continue
        words = re.split(r"[_\W]+|(?<=[a-z])(?=[A-Z])", name.lower())
        for hook in HOOK_NAMES:
            if hook in words or name.lower().startswith(hook):
                return name, hook
        close = difflib.get_close_matches(name.lower(), HOOK_NAMES, n=1, cutoff=0.6)
        if close:
            return name, close[0]
    return None


def _definition_line(source: str, name: str) -> int | None:
    """The line of ``def name`` at the start of a line of ``source``, if there is one."""
    match = re.search(rf"^def\s+{re.escape(name)}\b", source, re.MULTILINE)
    return source.count("\n", 0, match.start()) + 1 if match else None


def script_line(exc: BaseException, filename: str) -> int | None:
    """The line of ``filename`` deepest in ``exc``'s traceback."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def load_script(
    path: Path,
    *,
    point: str,
    policy: SandboxPolicy,
    rules: FileRules,
    logger: logging.Logger,
    cache: CacheSession | None = None,
) -> LoadedScript | LoadFailure:
    """Read, compile (or take from ``cache``) and run one script file; never raises."""
    read = read_source(path, rules, cache.checks if cache is not None else None)
    if isinstance(read, LoadFailure):
        return read
    source, version = read
    return load_source(
        source, version, path=str(path), point=point, policy=policy, logger=logger, cache=cache
    )


def load_source(
    source: str,
    version: str,
    *,
    path: str,
    point: str,
    policy: SandboxPolicy,
    logger: logging.Logger,
    cache: CacheSession | None = None,
) -> LoadedScript | LoadFailure:
    if not source.strip():
        return LoadFailure(path, 1, "script is empty (defines none of pre, post, error)", version)
    code = (
        compile_source(source, path)
        if cache is None
        else cache.compile(source, version, path, compile_source)
    )
    if isinstance(code, list):
        line, message = code[0]
        more = f" (and {len(code) - 1} more)" if len(code) > 1 else ""
        return LoadFailure(path, line, message + more, version)
    name = os.path.basename(path)  # (os.path: a Path per script cost 5% of a restart)
    state: dict[str, Any] = {}
    flags = ScriptFlags()
    namespace = script_globals(
        policy,
        module_name=f"hookyard.scripts.{point}.{os.path.splitext(name)[0]}",
        logger=logger,
        state=state,
        shadow=is_shadow(name),
        flags=flags,
    )
    budget = Budget(policy.limits)
    try:
        with _budget.running(budget), decimal.localcontext(SCRIPT_DECIMAL.copy()):
            # (the module body runs in a decimal context of its own, as every call does:
            # the thread's is the host's)
            exec(code, namespace)
            spent = budget.failure()
            if spent is not None:  # the body swallowed its own limit in C (next(it, x))
                raise spent
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        spent = budget.failure() if not isinstance(exc, BudgetExhausted) else exc
        limit = _budget.interpreter_limit(exc)
        if limit is not None and not isinstance(exc, BudgetExhausted):
            spent = budget.exhaust(limit.limit, limit.detail)
        line = script_line(exc, path)
        if spent is not None:
            return LoadFailure(path, line, f"LimitExceeded: {spent.detail} while loading", version)
        return LoadFailure(
            path, line, f"{type(exc).__name__}: {safe_message(exc)} (while loading)", version
        )
    finally:
        # module-level closures and generators must not keep a live budget after load
        budget.exhaust("operations", "the load-time budget is closed")
    hooks: dict[str, Any] = {}
    for hook in HOOK_NAMES:
        value = namespace.get(hook)
        if value is None:
            continue
        if _budget.is_generator_function(value):
            return LoadFailure(
                path,
                _definition_line(source, hook),
                f"{hook} is a generator function (it yields), so its body would never run "
                "when the engine calls it: return a value instead of yielding",
                version,
            )
        if not isinstance(value, types.FunctionType) or value.__globals__ is not namespace:
            return LoadFailure(
                path, None, f"{hook} must be a function defined in the script", version
            )
        hooks[hook] = value
    if not hooks:
        near = _near_hook_name(namespace)
        if near is not None:
            name, hook = near
            return LoadFailure(
                path,
                _definition_line(source, name),
                f"script defines none of pre, post, error: did you mean {hook}? ({name} is "
                f"not a hook name; the point, {point!r}, comes from the folder)",
                version,
            )
        return LoadFailure(path, None, "script defines none of pre, post, error", version)
    return LoadedScript(
        point=point,
        name=name,
        path=path,
        version=version,
        source=source,
        pre=hooks.get("pre"),
        post=hooks.get("post"),
        error=hooks.get("error"),
        namespace=namespace,
        limits=policy.limits,
        free=frozenset(hook for hook in hooks.values() if budget_free(hook.__code__)),
        flags=flags,
    )


# Generators, coroutines: code that runs later, in steps.
_DEFERRED_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
# The opcodes budget-free code may contain: an allow-list by name, resolved against this
# interpreter's opcode table (names it does not have are simply absent). An opcode this
# list does not know -- a new one in a later CPython, a specialised or instrumented form --
# makes the function budgeted (issue 11: fail closed). None of these calls, jumps
# backward, makes code, imports or yields: each runs once, in time bounded by its operands.
_BUDGET_FREE_OPNAMES = frozenset(
    {
        # no-ops and stack shuffling
        "CACHE",
        "NOP",
        "RESUME",
        "EXTENDED_ARG",
        "POP_TOP",
        "PUSH_NULL",
        "COPY",
        "SWAP",
        # constants, locals and globals (a global the script rebound to its own object can
        # only reach budgeted code, which fails without a running budget)
        "LOAD_CONST",
        "LOAD_FAST",
        "LOAD_FAST_CHECK",
        "LOAD_FAST_LOAD_FAST",
        "STORE_FAST",
        "STORE_FAST_LOAD_FAST",
        "STORE_FAST_STORE_FAST",
        "DELETE_FAST",
        "LOAD_GLOBAL",
        "LOAD_NAME",
        # returns
        "RETURN_VALUE",
        "RETURN_CONST",
        # tests and forward jumps
        "COMPARE_OP",
        "IS_OP",
        "CONTAINS_OP",
        "TO_BOOL",
        "UNARY_NOT",
        "UNARY_NEGATIVE",
        "UNARY_POSITIVE",
        "UNARY_INVERT",
        "POP_JUMP_IF_FALSE",  # forward only from CPython 3.12
        "POP_JUMP_IF_TRUE",
        "POP_JUMP_IF_NONE",
        "POP_JUMP_IF_NOT_NONE",
        "POP_JUMP_FORWARD_IF_FALSE",  # CPython 3.11's forward forms
        "POP_JUMP_FORWARD_IF_TRUE",
        "POP_JUMP_FORWARD_IF_NONE",
        "POP_JUMP_FORWARD_IF_NOT_NONE",
        "JUMP_IF_FALSE_OR_POP",  # CPython 3.11, forward
        "JUMP_IF_TRUE_OR_POP",
        "JUMP_FORWARD",
        # plain item and attribute reads and writes, operators the policy left native
        "BINARY_SUBSCR",
        "STORE_SUBSCR",
        "DELETE_SUBSCR",
        "LOAD_ATTR",
        "BINARY_OP",
        # displays of the values already on the stack
        "BUILD_TUPLE",
        "BUILD_LIST",
        "BUILD_SET",
        "BUILD_MAP",
        "BUILD_CONST_KEY_MAP",
        "BUILD_STRING",
    }
)
_BUDGET_FREE_OPCODES = frozenset(
    dis.opmap[name] for name in _BUDGET_FREE_OPNAMES if name in dis.opmap
)


def budget_free(code: types.CodeType) -> bool:
    """True for compiled script code that cannot spend a budget: no call, no loop.

    Such code is what the policy leaves of a straight-line function whose operators and
    attribute reads needed no guard (``def pre(name): if name == "x": return 1``): no
    prologue, no guard call, no backward jump, no nested code. Each instruction runs at
    most once, so it ends in time bounded by its length, and it reaches nothing that ticks
    or charges. ``call_script`` runs it without starting a budget. Were anything in it to
    reach budgeted code all the same (a special method of an object the script keeps),
    that code finds the thread's budget not running (no ticks; guards refuse) and fails:
    never runs unbounded.

    The test is on the opcode bytes (every other byte of ``co_code`` since CPython 3.6's
    two-byte units) against the allow-list: as exact as ``dis`` and fifty times faster
    (issue 17, figure E).
    """
    if code.co_flags & _DEFERRED_FLAGS or code.co_cellvars or code.co_freevars:
        return False
    if any(isinstance(const, types.CodeType) for const in code.co_consts):
        return False
    return only_budget_free_opcodes(code.co_code)


def only_budget_free_opcodes(bytecode: bytes) -> bool:
    """True when every instruction of ``bytecode`` (two-byte units) is on the allow-list."""
    return set(bytecode[::2]) <= _BUDGET_FREE_OPCODES
