"""What a script sees: its builtins, ``api``, ``log``, ``print``, ``state``, ``Veto``, imports.

Every name a script is denied is listed with the reason, as RestrictedPython's Guards.py
does. Everything a script is given is either plain data of its own, a guarded builtin, or
a facade object whose attributes are chosen by us.
"""

from __future__ import annotations

import builtins
import decimal
import logging
import types
from collections.abc import Callable, Mapping
from typing import Any

from . import _budget, _guards, _nesting
from ._budget import current_budget
from ._copy import rebuild_exception, to_host, to_script
from ._modules import C_IMPORTS, TYPE_HINT_MODULES, ModuleFacade, c_import_facade
from ._names import DENIED_BUILTINS
from ._record import call_api, skip_api
from ._shadow import is_no_side_effects
from .errors import BoundaryError

__all__ = ["SCRIPT_DECIMAL", "SandboxPolicy", "ScriptFlags", "Veto", "script_globals"]


class Veto(Exception):
    """Raise ``Veto("reason")`` in ``pre`` to stop the call where the point allows it."""


# -- builtins ---------------------------------------------------------------------------
_PLAIN_BUILTINS = (
    "abs",
    "bin",
    "bool",
    "callable",
    "chr",
    "complex",
    "float",
    "hash",
    "hex",
    "isinstance",
    "issubclass",
    "len",
    "next",
    "oct",
    "ord",
    "range",
    "None",
    "True",
    "False",
    "Ellipsis",
    "NotImplemented",
)
# Every standard exception class, but the interpreter's own signals and the engine's
# limit signals (see _names.DENIED_BUILTINS for why each is denied).
_EXCEPTIONS = tuple(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type)
    and issubclass(value, BaseException)
    and name not in DENIED_BUILTINS
    and not name.startswith("_")
)
# Ordinary Python's building blocks (issue 14). Each is harmless given the policy: special
# methods a script defines are budgeted, dunder reads are limited to special methods,
# and `type` hands out no metaclass (_guards.safe_type).
_CLASS_BUILTINS = ("object", "property", "staticmethod", "classmethod", "super")
# Denied: see _names.DENIED_BUILTINS (open, eval, exec, compile, globals, vars, dir, id,
# memoryview, bytearray, breakpoint, help, exit, SystemExit, KeyboardInterrupt, ...).
_GUARDED_BUILTINS: dict[str, Any] = {
    "all": _guards.safe_all,
    "any": _guards.safe_any,
    "ascii": _guards.safe_ascii,
    "enumerate": _guards.safe_enumerate,
    "filter": _guards.safe_filter,
    "format": _guards.safe_format,
    "getattr": _guards.guarded_method_getattr,
    "hasattr": _guards.guarded_hasattr,
    "setattr": _guards.guarded_setattr,
    "delattr": _guards.guarded_delattr,
    "iter": _guards.safe_iter,
    "map": _guards.safe_map,
    "max": _guards.safe_max,
    "min": _guards.safe_min,
    "pow": _guards.safe_pow,
    "repr": _guards.safe_repr,
    "reversed": _guards.safe_reversed,
    "sorted": _guards.safe_sorted,
    "sum": _guards.safe_sum,
    "type": _guards.safe_type,
    "slice": _guards.safe_slice,
    "round": _guards.safe_round,
    "divmod": _guards.safe_divmod,
    "zip": _guards.safe_zip,
    **{real.__name__: stand_in for real, stand_in in _guards.STAND_INS.items()},
}


# A guard answers to the builtin's name: the script's reprs and error messages
# (``sorted() got an unexpected keyword argument``) never name our functions (issue 18).
for _name, _guard in _GUARDED_BUILTINS.items():
    if isinstance(_guard, types.FunctionType):
        _guard.__name__ = _guard.__qualname__ = _name


def _base_builtins() -> dict[str, Any]:
    names: dict[str, Any] = {name: getattr(builtins, name) for name in _PLAIN_BUILTINS}
    names.update({name: getattr(builtins, name) for name in _EXCEPTIONS})
    names.update({name: getattr(builtins, name) for name in _CLASS_BUILTINS})
    names.update(_GUARDED_BUILTINS)
    names["isinstance"] = _isinstance
    names["issubclass"] = _issubclass
    names["__build_class__"] = builtins.__build_class__
    return names


# Scripts name the types through their stand-ins (and `type` through safe_type).
_TYPE_OF_GUARD: dict[Any, type] = {
    **{stand_in: real for real, stand_in in _guards.STAND_INS.items()},
    _guards.safe_type: type,
}


def _as_types(spec: Any) -> Any:
    if type(spec) is tuple:
        return tuple(_as_types(item) for item in spec)
    if type(spec) is _guards.OpaqueType:
        return spec._real
    return _TYPE_OF_GUARD.get(spec, spec)


def _isinstance(ob: Any, spec: Any, /) -> bool:
    return isinstance(ob, _as_types(spec))


def _issubclass(cls: Any, spec: Any, /) -> bool:
    return issubclass(_as_types(cls), _as_types(spec))


# -- log and print ----------------------------------------------------------------------
class ScriptLog:
    """``log`` in a script: a logger's methods, its own level check, nothing else.

    Messages are formatted here with the script's guards (so ``%*d`` widths and large
    arguments are refused) and handed to the real logger as finished text: the logging
    tree, its handlers and ``.root``/``.manager`` are never reachable. ``exc_info``,
    ``stack_info`` and ``stacklevel`` are taken and add nothing: a traceback would describe
    the host's frames.
    """

    __slots__ = ("_logger",)

    def __init__(self, logger: logging.Logger) -> None:
        object.__setattr__(self, "_logger", logger)

    def _listening(self, level: int) -> bool:
        logger: logging.Logger = object.__getattribute__(self, "_logger")
        return logger.isEnabledFor(level)

    def _emit(self, level: int, message: Any, args: tuple[Any, ...], options: Any) -> None:
        if options:
            _check_log_options(options)
        logger: logging.Logger = object.__getattribute__(self, "_logger")
        if not logger.isEnabledFor(level):
            # nobody listens: nothing is formatted, nothing is output (the call itself
            # is paid for like any other)
            return
        text = _guards.safe_str(message)
        if args:
            text = _guards.mod(text, args if len(args) != 1 else args[0])
        current_budget().charge_output(len(text) + 1)
        logger.log(level, "%s", text)

    def debug(self, message: Any, *args: Any, **options: Any) -> None:
        self._emit(logging.DEBUG, message, args, options)

    def info(self, message: Any, *args: Any, **options: Any) -> None:
        self._emit(logging.INFO, message, args, options)

    def warning(self, message: Any, *args: Any, **options: Any) -> None:
        self._emit(logging.WARNING, message, args, options)

    def error(self, message: Any, *args: Any, **options: Any) -> None:
        self._emit(logging.ERROR, message, args, options)

    def exception(self, message: Any, *args: Any, **options: Any) -> None:
        self._emit(logging.ERROR, message, args, options)

    def critical(self, message: Any, *args: Any, **options: Any) -> None:
        self._emit(logging.CRITICAL, message, args, options)

    def log(self, level: Any, message: Any, *args: Any, **options: Any) -> None:
        self._emit(_log_level(level), message, args, options)

    def isEnabledFor(self, level: Any) -> bool:  # noqa: N802 - logging's name
        return self._listening(_log_level(level))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("log is read-only")

    def __repr__(self) -> str:
        logger: logging.Logger = object.__getattribute__(self, "_logger")
        return f"<log {logger.name}>"


_LOG_OPTIONS = frozenset({"exc_info", "stack_info", "stacklevel"})


def _check_log_options(options: dict[str, Any]) -> None:
    for name in options:
        if name == "extra":
            raise TypeError("log: extra= is not available to scripts: put the values in the text")
        if name not in _LOG_OPTIONS:
            raise TypeError(f"log: unexpected keyword argument {name!r}")


def _log_level(level: Any) -> int:
    """A level as logging takes it: an int from 0 to 50 (``logging.INFO`` is 20). Bounded:
    the host's logger caches ``isEnabledFor`` per level, and a script asking for a million
    levels would grow that cache for the life of the host."""
    if type(level) is not int or not 0 <= level <= logging.CRITICAL:
        raise TypeError(
            "log level must be an int from 0 to 50 (10 debug, 20 info, 30 warning, 40 error)"
        )
    return level


# what a script sees of `log` (a repr, a wrong call's message) names it `log`, not us
for _method in (
    "debug",
    "info",
    "warning",
    "error",
    "exception",
    "critical",
    "log",
    "isEnabledFor",
):
    getattr(ScriptLog, _method).__qualname__ = f"log.{_method}"


class _PrintCollector:
    """RestrictedPython's ``_print_``: ``print(...)`` in a script logs one INFO line.

    Like ``log.info``, a line nobody listens to is neither formatted nor charged to
    ``Limits.output`` (issue 18); a heard one is charged once, its size (``sep`` repeated
    between many items included) checked before it is joined. A function that reads
    ``printed`` (Zope's PythonScripts end with ``return printed``) also keeps what it
    printed, as RestrictedPython does: charged to ``Limits.output`` whether heard or not,
    so what it keeps stays bounded.
    """

    __slots__ = ("_kept", "_kept_chars", "_log")

    def __init__(self, log: ScriptLog, kept: list[str] | None) -> None:
        self._log = log
        self._kept = kept
        self._kept_chars = 0

    def _call_print(
        self, *objects: Any, sep: Any = " ", end: Any = "\n", file: Any = None, flush: bool = False
    ) -> None:
        if file is not None:
            raise TypeError("print(file=...) is not available to scripts")
        kept = self._kept
        heard = self._log._listening(logging.INFO)
        if not heard and kept is None:
            return
        parts = [_guards.safe_str(item) for item in objects]
        separator = " " if sep is None else _guards.safe_str(sep)
        size = sum(map(len, parts)) + len(separator) * max(len(parts) - 1, 0)
        budget = current_budget()
        budget.charge_size(size, "printed line")
        line = separator.join(parts)
        if kept is not None:
            ending = "\n" if end is None else _guards.safe_str(end)
            if not heard:  # a heard line is charged to the output once, by the log
                budget.charge_output(len(line) + len(ending))
            kept.append(line + ending)
            self._kept_chars += len(line) + len(ending)
        if heard:
            self._log._emit(logging.INFO, line, (), None)

    def __call__(self) -> str:
        """``printed``: what this function call printed so far (charged like any string
        of that size: read in a loop, it would copy up to Limits.output per read)."""
        current_budget().charge_size(self._kept_chars, "printed")
        return "".join(self._kept or ())

    def __repr__(self) -> str:
        return "<print>"


_PrintCollector._call_print.__name__ = _PrintCollector._call_print.__qualname__ = "print"


def _print_factory(log: ScriptLog) -> Callable[..., _PrintCollector]:
    def make(_getattr: Any = None, keep: bool = False) -> _PrintCollector:
        return _PrintCollector(log, [] if keep else None)

    return make


# -- api ---------------------------------------------------------------------------------
class ApiFacade:
    """``api`` in a script: the host's exposed functions, wrapped to copy both ways."""

    __slots__ = ("_functions",)

    def __init__(self, functions: Mapping[str, Callable[..., Any]]) -> None:
        object.__setattr__(self, "_functions", dict(functions))

    def __getattr__(self, name: str) -> Any:
        functions: dict[str, Any] = object.__getattribute__(self, "_functions")
        try:
            return functions[name]
        except KeyError:
            raise AttributeError(f"api has no function {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("api is read-only")

    def __dir__(self) -> list[str]:
        return sorted(object.__getattribute__(self, "_functions"))

    def __repr__(self) -> str:
        names = ", ".join(sorted(object.__getattribute__(self, "_functions")))
        return f"<api: {names}>" if names else "<api: no functions>"


def _api_call(
    name: str, function: Callable[..., Any], size: int, *, shadow: bool = False
) -> Callable[..., Any]:
    # a shadow script's call reaches the host only for a no_side_effects function
    # (DESIGN.md "Safe rollout"); the others are noted and return None
    skipped = shadow and not is_no_side_effects(function)

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            host_args = tuple(to_host(a, size) for a in args)
            host_kwargs = {k: to_host(v, size) for k, v in kwargs.items()}
        except BoundaryError as exc:
            raise TypeError(f"api.{name}: {exc}") from None
        spent = current_budget().failure()
        if spent is not None:
            raise spent
        if skipped:
            skip_api(name, host_args, host_kwargs)
            return None
        try:
            # (recorded while engine.record() records the call: _record)
            result = call_api(name, function, host_args, host_kwargs)
        except Exception as exc:
            # rebuilt from type name and message: the host's object, traceback and frames
            # stay in the host
            raise rebuild_exception(exc) from None
        try:
            return to_script(result)
        except BoundaryError as exc:
            raise TypeError(f"api.{name} returned a value scripts cannot hold: {exc}") from None

    call.__name__ = name
    call.__qualname__ = f"api.{name}"
    return call


class SandboxPolicy:
    """What every script of one engine is given: api, modules, limits. Built once."""

    def __init__(
        self,
        *,
        api: Mapping[str, Callable[..., Any]],
        module_factories: Mapping[str, Callable[[], ModuleFacade]],
        limits: _budget.Limits,
        shadow_api: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        """``shadow_api``: what shadow scripts' ``api`` calls (default: ``api``, of which
        they reach only ``no_side_effects`` functions; a worker forwards them all to the
        host, which decides)."""
        for name, function in api.items():
            if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
                raise ValueError(f"api names must be public identifiers, not {name!r}")
            if not callable(function):
                raise TypeError(f"api[{name!r}] must be callable")
        self.api = ApiFacade({name: _api_call(name, fn, limits.size) for name, fn in api.items()})
        self.shadow_api = ApiFacade(
            {
                name: _api_call(name, fn, limits.size, shadow=True)
                for name, fn in (api if shadow_api is None else shadow_api).items()
            }
        )
        self.api_names = tuple(sorted(api))
        self.module_factories = dict(module_factories)
        self.limits = limits
        self.builtins = _base_builtins()


class ScriptFlags:
    """What the engine must do around a script's calls, learnt as the script runs."""

    __slots__ = ("decimal",)

    def __init__(self) -> None:
        # imported decimal: each call runs in a fresh, bounded decimal context of its own
        # (decimal's context is the thread's, i.e. the host's: a script's localcontext()
        # left open in a suspended generator would change the host's arithmetic)
        self.decimal = False


# The context a decimal-using script's call starts in: Python's defaults, within the
# exponent bounds of the decimal facade.
SCRIPT_DECIMAL = decimal.Context(prec=28, Emax=999_999, Emin=-999_999)


def _script_import(
    factories: Mapping[str, Callable[[], ModuleFacade]],
    allowed: tuple[str, ...],
    flags: ScriptFlags,
) -> Any:
    # Facades are made on a script's first import of each module, not with its globals:
    # most scripts import one or two of the allowed modules, and making every facade for
    # every script was a tenth of a cold load (issue 6, figure E).
    facades: dict[str, ModuleFacade] = {}

    def script_import(
        name: str,
        globals: Any = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> ModuleFacade:
        if level != 0:
            raise ImportError("relative imports are not available to scripts")
        if type(fromlist) is list and name in C_IMPORTS:
            # C code importing what it needs (datetime.strftime needs `time`, strptime
            # `_strptime`): PyImport_Import passes a list, which an import statement never
            # does. It gets a bounded stand-in (_modules.c_import_facade); PyImport_Import
            # itself then reads the real module from sys.modules, so the date methods are
            # bounded where scripts call them (_guards: strftime/strptime)
            return c_import_facade(name)
        facade = facades.get(name)
        if facade is None:
            factory = factories.get(name) if type(name) is str else None
            if factory is None:
                raise ImportError(
                    f"import of {name!r} is not allowed (allowed: {', '.join(allowed) or 'none'})"
                )
            facade = facades.setdefault(name, factory())
            if name == "decimal":
                flags.decimal = True
        if type(fromlist) is tuple:
            # `from m import x` of a name the facade lacks: said here, since the import
            # statement's own error names no module ("from '<unknown module name>'")
            offered = object.__getattribute__(facade, "__facade_attributes__")
            for item in fromlist:
                if item != "*" and item not in offered:
                    raise ImportError(
                        f"cannot import name {item!r} from {name!r}: scripts are not "
                        f"offered it (they have: {', '.join(sorted(offered))})"
                    )
        return facade

    return script_import


class _RealTypes:
    """``_types_``: the real built-in types, for class patterns (``case str():``)."""

    __slots__ = ()
    str = builtins.str
    int = builtins.int
    bytes = builtins.bytes
    list = builtins.list
    tuple = builtins.tuple
    dict = builtins.dict
    set = builtins.set
    frozenset = builtins.frozenset


_REAL_TYPES = _RealTypes()


def script_globals(
    policy: SandboxPolicy,
    *,
    module_name: str,
    logger: logging.Logger,
    state: dict[str, Any],
    shadow: bool = False,
    flags: ScriptFlags | None = None,
) -> dict[str, Any]:
    """A fresh globals namespace for one script version (``shadow``: a shadow script's,
    whose ``api`` does not reach the host's functions with side effects)."""
    script_builtins = dict(policy.builtins)
    script_builtins["__import__"] = _script_import(
        policy.module_factories,
        tuple(name for name in policy.module_factories if name not in TYPE_HINT_MODULES),
        flags or ScriptFlags(),
    )
    log = ScriptLog(logger)
    return {
        "__builtins__": script_builtins,
        "__name__": module_name,
        "__metaclass__": _guards.ScriptMeta,
        # RestrictedPython's guard names (the transformer makes scripts call these)
        "_getattr_": _guards.guarded_method_getattr,
        "_write_": _guards.guarded_write,
        "_write_own_": _guards.guarded_write_own,
        "_types_": _REAL_TYPES,
        "_getiter_": _guards.getiter,
        "_iter_unpack_sequence_": _guards.iter_unpack_sequence,
        "_unpack_sequence_": _guards.unpack_sequence,
        "_apply_": _guards.apply,
        "_inplacevar_": _guards.inplacevar,
        "_print_": _print_factory(log),
        # hookyard's own (see _policy.py)
        "_budget_": _budget.handle,
        "_tick_": _budget.tick,
        "_lambda_": _budget.budgeted,
        "_genexp_": _budget.ScriptGenerator,
        "_generator_": _budget.generator_function,
        "_tuple_": _guards.tuple_display,
        "_set_": _guards.safe_set_display,
        "_args_": _nesting.check_items,
        "_deep_": _budget.too_deep,
        "_check_": _budget.check,
        "_add_": _guards.add,
        "_mul_": _guards.mul,
        "_pow_": _guards.power,
        "_lshift_": _guards.lshift,
        "_mod_": _guards.mod,
        "_floordiv_": _guards.floordiv,
        "_sub_": _guards.sub,
        "_truediv_": _guards.truediv,
        "_slice_value_": _guards.slice_value,
        "_format_": _guards.format_value,
        "_getslice_": _guards.getslice,
        "_mapping_": _guards.mapping,
        # the script's world
        "api": policy.shadow_api if shadow else policy.api,
        "log": log,
        "state": state,
        "Veto": Veto,
    }
