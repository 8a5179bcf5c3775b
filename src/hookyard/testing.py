"""Helpers for hook authors' own tests: run your scripts without the host.

```python
from hookyard.testing import from_sources

VALIDATE = '''
def pre(name, flavor):
    if not name.isalnum():
        raise Veto(f"bad name {name!r}")
'''

def test_validate_refuses_underscores():
    with from_sources({"create/10-validate.py": VALIDATE}) as harness:
        call = harness.point("create", veto=True)("db_primary", "m1.small")
        assert call.vetoed
        assert call.veto_reason == "bad name 'db_primary'"
        assert call.outcome("10-validate.py", "pre") == "veto"
```

A harness is a real ``HookEngine`` (same sandbox, copies, budgets and call path) over a
directory (yours, or a temporary one written from source strings), in process or with
``isolation="process"`` as the host runs it. ``api`` functions the scripts call are
recorded stubs returning None unless you pass your own. Each call returns a
``CallResult`` with the host's result after the post hooks, the veto or error, every
script's audit event (outcome, duration, budget used), the scripts' log lines and the
``api`` calls, in the order they happened.

With pytest, the ``hook_harness`` fixture (a pytest plugin installed with hookyard) makes
harnesses that are closed after the test: ``hook_harness({"create/10-x.py": SOURCE})`` or
``hook_harness("hook_scripts")``.
"""

from __future__ import annotations

import logging
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from ._audit import audit_directory
from ._budget import Limits
from ._engine import HookEngine, ScriptStatus
from ._hookpoint import PointOptions
from ._isolation import ProcessIsolation
from ._modules import DEFAULT_MODULES
from ._options import check_modules
from ._trail import AuditEvent
from .errors import HookError, HookVetoed

__all__ = ["ApiCall", "CallResult", "Harness", "LogLine", "from_directory", "from_sources"]

_SCRIPT_LOGGER = "hookyard.script"


@dataclass(frozen=True, slots=True)
class ApiCall:
    """A script called ``api.<name>(*args, **kwargs)`` (the values the host received)."""

    name: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogLine:
    """A line a script logged (``log.info(...)`` or ``print(...)``)."""

    script: str  # "<point>.<file stem>", e.g. "create.10-validate"
    level: str  # "DEBUG", "INFO", "WARNING", "ERROR"
    message: str


Trace = ApiCall | LogLine | AuditEvent


@dataclass(frozen=True, slots=True)
class CallResult:
    """What one call of a hook point did."""

    point: str
    result: Any = None  # the host's return value after post hooks (None if it never ran)
    vetoed: bool = False  # a pre hook vetoed the call
    veto_reason: str | None = None  # what the veto said ("" for a bare `raise Veto()`)
    error: BaseException | None = None  # HookFailed, or what the host raised
    trace: tuple[Trace, ...] = ()  # events, log lines and api calls, in order

    @property
    def events(self) -> tuple[AuditEvent, ...]:
        return tuple(item for item in self.trace if isinstance(item, AuditEvent))

    @property
    def logs(self) -> tuple[LogLine, ...]:
        return tuple(item for item in self.trace if isinstance(item, LogLine))

    @property
    def api_calls(self) -> tuple[ApiCall, ...]:
        return tuple(item for item in self.trace if isinstance(item, ApiCall))

    @property
    def outcomes(self) -> tuple[tuple[str, str, str], ...]:
        """``(file name, phase, outcome)`` for every script invocation, in order."""
        return tuple((Path(e.script).name, e.phase, e.outcome) for e in self.events)

    def outcome(self, script: str, phase: str) -> str | None:
        """The outcome of ``script`` (file name) in ``phase``; None if it did not run."""
        for name, event_phase, outcome in self.outcomes:
            if name == script and event_phase == phase:
                return outcome
        return None

    @property
    def ok(self) -> bool:
        """No script failed or ran out of budget, and the call raised nothing."""
        return self.error is None and all(e.outcome not in ("error", "limit") for e in self.events)


class _Capture(logging.Handler):
    def __init__(self, sink: Callable[[Trace], None]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        script = record.name.removeprefix(_SCRIPT_LOGGER + ".")
        self.sink(LogLine(script, record.levelname, record.getMessage()))


class Harness:
    """A ``HookEngine`` over a hook directory, instrumented for tests.

    Use ``from_sources`` or ``from_directory`` to make one; close it (or use ``with``).
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        api: Mapping[str, Callable[..., Any]] | None = None,
        modules: Iterable[str] = DEFAULT_MODULES,
        limits: Limits | None = None,
        strict_modes: bool = True,
        isolation: Literal["inline", "process"] | ProcessIsolation = "inline",
        on_trace: Callable[[Trace], None] | None = None,
        _cleanup: Callable[[], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self._trace: list[Trace] | None = None
        self._on_trace = on_trace
        self._cleanup = _cleanup
        modules = check_modules(modules)
        if api is None:
            # stubs for every api name the scripts use (read from their syntax trees)
            audit = audit_directory(
                self.directory, modules=modules, config=False, strict_modes=strict_modes
            )
            names = {n for s in audit.scripts for n in s.api if n != "*"}
            functions: Mapping[str, Callable[..., Any]] = {n: _stub for n in sorted(names)}
        else:
            functions = api
        recorded = {name: self._recorder(name, fn) for name, fn in functions.items()}
        self.engine = HookEngine(
            self.directory,
            api=recorded,
            modules=modules,
            limits=limits,
            strict_modes=strict_modes,
            isolation=isolation,
        )
        self.engine.add_audit_listener(self._record_event)

    # -- recording ----------------------------------------------------------------------
    def _record(self, item: Trace) -> None:
        if self._trace is not None:
            self._trace.append(item)
            if self._on_trace is not None:
                self._on_trace(item)

    def _record_event(self, event: AuditEvent) -> None:
        if event.phase != "load":  # loads happen outside calls: see status()
            self._record(event)

    def _recorder(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self._record(ApiCall(name, args, dict(kwargs)))
            return function(*args, **kwargs)

        return call

    # -- calling ------------------------------------------------------------------------
    def point(
        self,
        name: str,
        *,
        result: Literal["keep", "replace"] = "keep",
        on_error: Literal["isolate", "raise"] = "isolate",
        veto: bool = False,
        returns: Any = None,
        raises: BaseException | None = None,
        host: Callable[..., Any] | None = None,
    ) -> Callable[..., CallResult]:
        """A host function for point ``name`` with these options; calling it returns a
        ``CallResult``.

        The host body returns ``returns``, raises ``raises``, or is ``host`` itself. Given a
        ``host``, the point's scripts are checked against its signature as the engine
        checks them against the real host's (a script that cannot take its calls does not
        load: see ``load_errors()``); without one, any call goes.
        """

        def body(*args: Any, **kwargs: Any) -> Any:
            if host is not None:
                return host(*args, **kwargs)
            if raises is not None:
                raise raises
            return returns

        hooked = self.engine._hooked(
            name, body, PointOptions(result, on_error, veto), declared=host
        )

        def call(*args: Any, **kwargs: Any) -> CallResult:
            trace: list[Trace] = []
            self._trace = trace
            capture = _Capture(self._record)
            script_logger = logging.getLogger(_SCRIPT_LOGGER)
            level = script_logger.level
            script_logger.addHandler(capture)
            script_logger.setLevel(logging.DEBUG)  # scripts' log calls check the level
            try:
                value = hooked(*args, **kwargs)
            except HookVetoed as vetoed:
                return CallResult(name, vetoed=True, veto_reason=vetoed.reason, trace=tuple(trace))
            except Exception as exc:  # HookFailed, or the host body's own exception
                return CallResult(name, error=exc, trace=tuple(trace))
            finally:
                script_logger.removeHandler(capture)
                script_logger.setLevel(level)
                self._trace = None
            return CallResult(name, result=value, trace=tuple(trace))

        return call

    def call(self, name: str, /, *args: Any, **kwargs: Any) -> CallResult:
        """Call point ``name`` with default options (result="keep", no vetoes)."""
        return self.point(name)(*args, **kwargs)

    # -- inspecting ---------------------------------------------------------------------
    def status(self) -> list[ScriptStatus]:
        """The engine's status: one record per script, with load errors."""
        return self.engine.status()

    def load_errors(self) -> list[str]:
        """``file:line: message`` for every script that did not load."""
        return [s.error for s in self.engine.status() if s.error is not None]

    def check(self) -> None:
        """Raise ``hookyard.ScriptError`` naming every script that did not load."""
        self.engine.check()

    def close(self) -> None:
        self.engine.close()
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None

    def __enter__(self) -> Harness:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _stub(*args: Any, **kwargs: Any) -> None:
    """A stand-in api function: recorded, does nothing, returns None."""


def from_directory(directory: str | Path, **options: Any) -> Harness:
    """A harness over an existing hook directory (``api=``, ``modules=``, ``limits=``...)."""
    if not Path(directory).is_dir():
        raise HookError(f"no hook directory {directory}")
    return Harness(directory, **options)


def from_sources(scripts: Mapping[str, str], **options: Any) -> Harness:
    """A harness over a temporary directory holding ``{"point/10-name.py": source}``.

    Sources are dedented, so triple-quoted strings in a test read naturally. The
    directory is removed when the harness is closed.
    """
    holder = tempfile.TemporaryDirectory(prefix="hookyard-test-")
    root = Path(holder.name)
    try:
        for relative, source in scripts.items():
            path = root / relative
            if path.parent.parent != root or not path.name.endswith(".py"):
                raise ValueError(f"script paths look like 'point/10-name.py', not {relative!r}")
            path.parent.mkdir(exist_ok=True)
            path.write_text(textwrap.dedent(source), encoding="utf-8")
            # whatever the umask, the engine refuses world-writable scripts (strict_modes)
            path.parent.chmod(0o755)
            path.chmod(0o644)
        return Harness(root, _cleanup=holder.cleanup, **options)
    except BaseException:
        holder.cleanup()
        raise
