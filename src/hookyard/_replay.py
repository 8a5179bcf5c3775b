"""``hookyard replay DIR POINT FILE``: run today's scripts against recorded calls.

Each line of a recording (``_record``) is one call. The replay loads DIR's scripts of POINT
in an engine of its own, without the host, and calls the point once per line with the
recorded arguments and the recorded point options. The host body is not called: its
recorded result or exception stands in. ``api`` calls are answered from the recording: a
call with the same name and arguments as a recorded one that reached the host gets that
call's result (or exception), in order; any other returns None and is reported. The
replayed call is recorded the same way and compared with the line: the final outcome
(result, veto, exception) and every script's outcome. Nothing else is compared (versions,
timings, messages of script outcomes), and a script on one side only (added or removed
since) differs only where it did something other than run fine or be skipped, so adding a
script that changes nothing is no difference.

A line that is not a recorded call (cut short, edited into something else) stops the
replay before anything runs, naming the file and line; so does a line recording another
point.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._breaker import Breaker
from ._engine import HookEngine
from ._hookpoint import PointOptions
from ._options import check_point_options
from ._record import FORMAT, CallRecord, Session
from ._shadow import SHADOW_SUFFIX, describe_call, no_side_effects
from ._tagged import Redactor, TaggedError, decode
from ._wire import rebuild_described

__all__ = ["RecordedCall", "Replay", "ReplayError", "read_recording", "replay"]

logger = logging.getLogger("hookyard")

_OUTCOMES = ("result", "vetoed", "raised", "unrecordable")
_PHASES = ("pre", "post", "error")


class ReplayError(Exception):
    """The recording cannot be replayed (its message names the file and line)."""


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One line of a recording, checked and decoded."""

    line: int
    options: PointOptions
    redact: tuple[str, ...]
    args: list[Any] | None  # None: the arguments could not be recorded (``unrecordable``)
    kwargs: dict[str, Any]
    unrecordable: str | None
    host: dict[str, Any] | None  # {"result": value} | {"raised": [...]} | ... | None
    scripts: list[dict[str, Any]]
    api: list[dict[str, Any]]  # each with "value" (decoded result) where it has "result"
    outcome: dict[str, Any]


# -- reading --------------------------------------------------------------------------------
def read_recording(path: Path, point: str) -> list[RecordedCall]:
    """Every call recorded in ``path``; ReplayError naming the line of the first bad one."""
    try:
        with open(path, encoding="utf-8", newline="\n") as handle:
            lines = handle.readlines()
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ReplayError(f"{path}: not a recording (not UTF-8 text: {exc.reason})") from None
    calls = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            cut = "" if text.endswith("\n") else " (the line ends without a newline: cut short?)"
            detail = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
            raise ReplayError(f"{where}: not a recorded call: not JSON ({detail}){cut}") from None
        if type(data) is not dict or data.get("record") != FORMAT:
            raise ReplayError(
                f"{where}: not a recorded call (engine.record() writes lines starting "
                f'{{"record":{FORMAT},...}})'
            )
        held = data.get("point")
        if held != point:
            shown = held if type(held) is str else "?"
            raise ReplayError(
                f"{path} holds calls of point {shown!r} (line {number}), not {point!r}: "
                f"replay it with `hookyard replay DIR {shown} {path}`"
            )
        try:
            calls.append(_call(number, data))
        except (TaggedError, TypeError, KeyError, ValueError) as exc:
            raise ReplayError(f"{where}: not a recorded call: {exc}") from None
    return calls


def _call(number: int, data: dict[str, Any]) -> RecordedCall:
    options = _dict(data, "options")
    # (types here, values by PointOptions: what engine.hook() would check)
    check_point_options(data["point"], options["result"], options["on_error"], options["veto"])
    redact = data["redact"]
    if type(redact) is not list or not all(type(word) is str for word in redact):
        raise ValueError("redact must be a list of strings")
    unrecordable = data.get("unrecordable")
    args = kwargs = None
    if unrecordable is None:
        args = _decoded(data["args"], "args", list)
        kwargs = _decoded(data["kwargs"], "kwargs", dict)
        if not all(type(key) is str for key in kwargs):
            raise ValueError("kwargs must have str keys")
    elif type(unrecordable) is not str:
        raise ValueError("unrecordable must be a string")
    host = data["host"]
    if host is not None:
        host = _result(host, "host")
    scripts = data["scripts"]
    if type(scripts) is not list:
        raise ValueError("scripts must be a list")
    for entry in scripts:
        if (
            type(entry) is not dict
            or type(entry.get("script")) is not str
            or entry.get("phase") not in _PHASES
            or type(entry.get("outcome")) is not str
        ):
            raise ValueError("each of scripts needs script, phase and outcome")
    calls = data["api"]
    if type(calls) is not list:
        raise ValueError("api must be a list")
    api = [_api(entry) for entry in calls]
    outcome = _result(data["outcome"], "outcome")
    return RecordedCall(
        number,
        PointOptions(result=options["result"], on_error=options["on_error"], veto=options["veto"]),
        tuple(redact),
        args,
        kwargs or {},
        unrecordable,
        host,
        scripts,
        api,
        outcome,
    )


def _dict(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data[key]
    if type(value) is not dict:
        raise ValueError(f"{key} must be an object")
    return value


def _decoded(value: Any, what: str, kind: type) -> Any:
    decoded = decode(value)
    if type(decoded) is not kind:
        raise ValueError(f"{what} must be a {kind.__name__}")
    return decoded


def _result(value: Any, what: str) -> dict[str, Any]:
    """``{"result": v}`` (decoded into ``value``), ``{"raised": [type, base, message]}``,
    ``{"vetoed": reason, "script": name}`` or ``{"unrecordable": why}``."""
    if type(value) is not dict or len([k for k in value if k in _OUTCOMES]) != 1:
        raise ValueError(f"{what} must hold one of {', '.join(_OUTCOMES)}")
    if "result" in value:
        return {"result": value["result"], "value": decode(value["result"])}
    if "raised" in value:
        raised = value["raised"]
        if type(raised) is not list or len(raised) != 3 or not all(type(x) is str for x in raised):
            raise ValueError(f"{what}: raised must be [type, base, message]")
    if "vetoed" in value and type(value["vetoed"]) is not str:
        raise ValueError(f"{what}: vetoed must be the reason")
    return dict(value)


def _api(entry: Any) -> dict[str, Any]:
    if type(entry) is not dict or type(entry.get("name")) is not str:
        raise ValueError("each api call needs a name")
    if type(entry.get("made")) is not bool:
        raise ValueError("each api call needs made (true or false)")
    checked = dict(entry)
    if entry.get("made"):
        if "result" in entry:
            checked["value"] = decode(entry["result"])
        elif "raised" in entry:
            _result({"raised": entry["raised"]}, "api")
    return checked


# -- replaying ------------------------------------------------------------------------------
@dataclass(slots=True)
class Difference:
    """One way a replayed call differs from its recording."""

    what: str  # "outcome", or "FILE PHASE" of a script
    recorded: str
    replayed: str

    def as_dict(self) -> dict[str, str]:
        return {"what": self.what, "recorded": self.recorded, "replayed": self.replayed}


@dataclass(slots=True)
class Replayed:
    """One recorded call, run again."""

    line: int
    differences: list[Difference] = field(default_factory=list)
    unrecorded_api: list[str] = field(default_factory=list)
    skipped: str | None = None  # why it was not replayed


@dataclass(slots=True)
class Replay:
    """What ``replay`` found: every call, and the scripts that did not load."""

    point: str
    file: str
    calls: list[Replayed]
    not_loaded: list[str]

    @property
    def differing(self) -> list[Replayed]:
        return [call for call in self.calls if call.differences]

    def summary(self) -> str:
        replayed = [call for call in self.calls if call.skipped is None]
        text = f"replayed {len(replayed)} call{'s' if len(replayed) != 1 else ''}: "
        text += f"{len(self.differing)} differ"
        unrecorded = sum(len(call.unrecorded_api) for call in self.calls)
        if unrecorded:
            text += f", {unrecorded} api call{'s' if unrecorded != 1 else ''} not recorded"
        skipped = len(self.calls) - len(replayed)
        if skipped:
            text += f", {skipped} not replayable"
        return text

    def text(self) -> str:
        out = [f"not loaded: {error}" for error in self.not_loaded]
        for call in self.calls:
            if call.skipped is not None:
                out.append(f"line {call.line}: not replayed: {call.skipped}")
                continue
            if not call.differences and not call.unrecorded_api:
                continue
            out.append(f"line {call.line}: {'differs' if call.differences else 'same'}")
            for difference in call.differences:
                out.append(f"  {difference.what}: {difference.recorded} -> {difference.replayed}")
            for shown in call.unrecorded_api:
                out.append(f"  {shown} was not recorded: it returned None")
        out.append(self.summary())
        return "\n".join(out)

    def as_dict(self) -> dict[str, Any]:
        return {
            "point": self.point,
            "file": self.file,
            "replayed": len([call for call in self.calls if call.skipped is None]),
            "differ": len(self.differing),
            "not_loaded": self.not_loaded,
            "calls": [
                {
                    "line": call.line,
                    "differs": bool(call.differences),
                    "differences": [d.as_dict() for d in call.differences],
                    "unrecorded_api": call.unrecorded_api,
                    "skipped": call.skipped,
                }
                for call in self.calls
                if call.differences or call.unrecorded_api or call.skipped
            ],
        }


class _ReplaySession(Session):
    """Records the replayed calls in memory and answers ``api`` calls from the recording."""

    def __init__(self, point: str) -> None:
        super().__init__(point, ())
        self.lines: list[dict[str, Any]] = []
        self.source: RecordedCall | None = None
        self.used: set[int] = set()
        self.unrecorded: list[str] = []

    def begin(self, call: RecordedCall) -> None:
        self.source = call
        self.redact = call.redact
        self.secret = Redactor(call.redact)
        self.used = set()
        self.unrecorded = []

    def keep(self, line: dict[str, Any]) -> None:
        self.lines.append(line)

    def answer(
        self,
        record: CallRecord,
        entry: dict[str, Any],
        function: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        source = self.source
        for index, recorded in enumerate(source.api if source is not None else ()):
            if (
                index not in self.used
                and recorded["made"]
                and recorded["name"] == entry["name"]
                and recorded.get("args") == entry["args"]
                and recorded.get("kwargs") == entry["kwargs"]
            ):
                self.used.add(index)
                if "raised" in recorded:
                    raise rebuild_described(*recorded["raised"])
                return recorded.get("value")
        self.unrecorded.append(describe_call(entry["name"], args, kwargs))
        return None


def replay(
    directory: Path,
    point: str,
    path: Path,
    *,
    modules: Iterable[str],
    api_names: Iterable[str],
) -> Replay:
    """Replay every call recorded in ``path`` against ``directory``'s scripts of ``point``."""
    calls = read_recording(path, point)
    names = set(api_names) | {entry["name"] for call in calls for entry in call.api}
    no_effects = {
        entry["name"]
        for call in calls
        for entry in call.api
        if entry.get("no_side_effects") is True
    }
    stubs: dict[str, Callable[..., Any]] = {}
    for name in sorted(n for n in names if n.isidentifier() and not n.startswith("_")):
        stub = _stub(name)
        stubs[name] = no_side_effects(stub) if name in no_effects else stub
    engine = HookEngine(directory, api=stubs, modules=modules, breaker=Breaker(failures=0))
    try:
        return _run(engine, point, path, calls)
    finally:
        engine.close()


def _stub(name: str) -> Callable[..., Any]:
    def stub(*args: Any, **kwargs: Any) -> None:
        return None  # never called: the replay session answers from the recording

    stub.__name__ = name
    return stub


def _run(engine: HookEngine, point: str, path: Path, calls: list[RecordedCall]) -> Replay:
    not_loaded = [s.error for s in engine.status() if s.point == point and s.error]
    session = _ReplaySession(point)
    engine._point(point).record(session)
    hosts: dict[PointOptions, Callable[..., Any]] = {}
    current: list[RecordedCall] = []

    def host(*args: Any, **kwargs: Any) -> Any:
        recorded = current[0].host
        if recorded is None or "unrecordable" in recorded:
            return None  # not called, or not recordable, when recorded
        if "raised" in recorded:
            raise rebuild_described(*recorded["raised"])
        return recorded["value"]

    results = []
    for call in calls:
        if call.args is None:
            results.append(Replayed(call.line, skipped=call.unrecordable))
            continue
        hooked = hosts.get(call.options)
        if hooked is None:
            options = call.options
            # a stand-in host (declared=None): the recorded calls, not a signature, say
            # what the scripts are given (a script that cannot take one fails that call)
            hooked = hosts[options] = engine._hooked(point, host, options, declared=None)
        current[:] = [call]
        session.begin(call)
        with contextlib.suppress(Exception):  # a veto or failure: the session recorded it
            hooked(*call.args, **call.kwargs)
        replayed = session.lines[-1]
        results.append(
            Replayed(
                call.line,
                differences=_compare(point, call, replayed),
                unrecorded_api=list(session.unrecorded),
            )
        )
    return Replay(point, str(path), results, [e for e in not_loaded if e is not None])


# -- comparing ------------------------------------------------------------------------------
def _compare(point: str, recorded: RecordedCall, replayed: dict[str, Any]) -> list[Difference]:
    differences = []
    names = {e["script"] for e in recorded.scripts} | {e["script"] for e in replayed["scripts"]}
    before = _outcome(point, recorded.outcome, names)
    after = _outcome(point, replayed["outcome"], names)
    if before != after:
        differences.append(Difference("outcome", before, after))
    old = _by_script(recorded.scripts)
    new = _by_script(replayed["scripts"])
    for key in sorted(set(old) | set(new), key=_order):
        was, now = old.get(key, _ABSENT), new.get(key, _ABSENT)
        if was[0] == now[0] or {was[0], now[0]} in _SAME:
            continue
        name = now[2] or was[2]  # as the file is named now, where it still is
        differences.append(Difference(f"{name} {key[1]}", _shown(*was[:2]), _shown(*now[:2])))
    return differences


# A script that is on one side only (added or removed since the recording) differs only
# where it did something: running fine, or not running, is no difference.
_ABSENT = ("absent", None, None)
_SAME = ({"absent", "ok"}, {"absent", "skipped"})


def _order(key: tuple[str, str]) -> tuple[int, str]:
    return _PHASES.index(key[1]), key[0]


def _by_script(entries: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[str, Any, str]]:
    """(file, phase) -> (outcome, message, file), a shadow under the name it enforces as
    (so trying ``60-x.shadow.py`` and then renaming it compares as one script); the
    breaker's own events left out (the replay runs without one: what matters is what the
    scripts did)."""
    return {
        (_enforced_name(e["script"]), e["phase"]): (e["outcome"], e.get("message"), e["script"])
        for e in entries
        if e["outcome"] != "tripped"
    }


def _enforced_name(name: str) -> str:
    return name[: -len(SHADOW_SUFFIX)] + ".py" if name.endswith(SHADOW_SUFFIX) else name


def _shown(outcome: str, message: Any) -> str:
    if outcome in ("ok", "replaced") or type(message) is not str or not message:
        return outcome
    return f"{outcome} ({message[:200]})"


def _outcome(point: str, outcome: dict[str, Any], names: set[str]) -> str:
    """The final outcome as text, with script paths shown as file names (the recording may
    come from a host whose hook directory lives elsewhere)."""
    if "vetoed" in outcome:
        return f"vetoed by {outcome.get('script')}: {outcome['vetoed']}"
    if "raised" in outcome:
        kind, _, message = outcome["raised"]
        for name in names:
            message = re.sub(rf"\S*/{re.escape(point)}/{re.escape(name)}", name, message)
        return f"raised {kind}: {message}"
    if "unrecordable" in outcome:
        return f"a result that cannot be recorded ({outcome['unrecordable']})"
    return "result " + json.dumps(outcome["result"], sort_keys=True, ensure_ascii=False)
