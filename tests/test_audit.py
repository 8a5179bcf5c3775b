"""Audit: static reach of scripts, point-option flags, capability diff on reload, and the
run-time audit trail (logger, listeners, JSON-lines file) for every outcome."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import hookyard
from hookyard import PointOptions
from hookyard.audit import AuditEvent, audit_directory, audit_source
from tests.conftest import BOTH_MODES, MakeEngine, write_scripts


def audit(source: str, **options: Any) -> hookyard.audit.ScriptAudit:
    return audit_source(textwrap.dedent(source), file="p/10-x.py", point="p", **options)


def messages(result: hookyard.audit.ScriptAudit) -> list[str]:
    return [str(finding) for finding in result.findings]


# -- static reach -------------------------------------------------------------------------
def test_reach_lists_hooks_api_modules_and_attributes() -> None:
    """The audit names the hooks defined, api functions called, modules and attributes used."""
    result = audit(
        """
        import json
        from math import sqrt as root

        def pre(instance):
            api.notify(json.dumps(instance))
            instance.tags = root(4)
            return instance.get("name")

        def error(exc, instance):
            api.page_operator(str(exc))
        """
    )
    assert result.hooks == ("pre", "error")
    assert result.api == ("notify", "page_operator")
    assert result.imports == ("json", "math")
    assert result.module_attributes == ("json.dumps", "math.sqrt")
    assert result.reads == ("get",)
    assert result.writes == ("tags",)
    assert result.findings == ()
    assert result.ok


def test_api_used_as_a_value_counts_as_any_api_function() -> None:
    """Aliasing api, or getattr with a computed name, is reported as 'api.*'."""
    aliased = audit("def pre(x):\n    a = api\n    a.delete(x)\n")
    computed = audit("def pre(x):\n    getattr(api, x)()\n")
    named = audit("def pre(x):\n    getattr(api, 'notify')(x)\n")
    assert aliased.api == ("*",)
    assert computed.api == ("*",)
    assert named.api == ("notify",)


def test_veto_sites_and_post_return_values_are_located() -> None:
    """Veto raises and post return values are reported with their line and function."""
    result = audit(
        """
        def pre(x):
            if x:
                raise Veto("no")

        def post(rv, x):
            def helper():
                return 1
            if rv:
                return None
            if x:
                return
            return {"changed": helper()}
        """
    )
    assert result.can_veto
    assert [(s.line, s.function) for s in result.vetoes] == [(4, "pre")]
    assert result.returns_value
    assert [s.line for s in result.post_returns] == [13]


def test_post_returning_only_none_does_not_replace() -> None:
    """A post whose returns are all None (or bare) is not reported as returning a value."""
    result = audit("def post(rv):\n    if rv:\n        return None\n    return\n")
    assert not result.returns_value


def test_version_is_passed_through() -> None:
    """audit_source reports the version it is given (audit_directory gives the sha256)."""
    assert audit("def pre():\n    pass\n", version="abc").version == "abc"


# -- problems -----------------------------------------------------------------------------
def test_policy_compile_errors_are_reported_with_lines() -> None:
    """Names RestrictedPython refuses are findings at their line, in the loader's words."""
    result = audit("def pre(x):\n    return x.__dict__\n")
    assert not result.ok
    assert messages(result) == [
        'p/10-x.py:2: "__dict__" is not available to scripts (of dunder attributes only '
        "special methods, __name__, __qualname__, __doc__ and __class__ may be read)"
    ]
    assert result.findings[0].kind == "denied"


def test_syntax_error_is_a_finding_and_no_reach() -> None:
    """A syntax error is reported with its line; the reach is empty."""
    result = audit("def pre(:\n    pass\n")
    assert [f.kind for f in result.findings] == ["syntax"]
    assert result.findings[0].line == 1
    assert result.hooks == ()


def test_denied_builtins_are_findings_unless_the_script_binds_the_name() -> None:
    """open(), vars() are not given to scripts, each refused with its reason; type() is
    (issue 14); a script's own `open` variable is fine."""
    denied = audit("def pre(x):\n    f = open(x)\n    return vars(type(f))\n")
    assert messages(denied) == [
        "p/10-x.py:2: open is not available to scripts: no direct I/O: ask the host for "
        "what you need through api",
        "p/10-x.py:3: vars is not available to scripts: uncontrolled namespace access",
    ]
    own = audit("def pre(open):\n    return open\n")
    assert own.ok


def test_eval_is_reported_once() -> None:
    """eval is refused by the compiler; the audit does not report it a second time."""
    result = audit("def pre(x):\n    return eval(x)\n")
    assert messages(result) == ["p/10-x.py:2: Eval calls are not allowed."]


def test_imports_are_checked_against_the_allow_list() -> None:
    """Forbidden modules give their reason; others name the allow-list in use."""
    result = audit("import os\nimport json\nimport re\n\ndef pre():\n    pass\n", modules=("json",))
    assert messages(result) == [
        "p/10-x.py:1: import of 'os' is not allowed (file system and processes) (allowed: json)",
        "p/10-x.py:3: import of 're' is not allowed (allowed: json)",
    ]
    assert {f.kind for f in result.findings} == {"import"}


def test_module_attributes_the_facade_lacks_are_findings() -> None:
    """`from json import decoder` or `json.load` is refused: the facade has no such name."""
    result = audit("from json import decoder\nimport json\n\ndef pre():\n    json.load\n")
    assert [f.line for f in result.findings] == [1, 5]
    assert "json.decoder is not available to scripts" in messages(result)[0]
    assert "dumps" in messages(result)[0]


def test_scripts_without_hooks_are_findings() -> None:
    """Empty scripts, scripts without hooks, and hooks not made by def are reported."""
    assert messages(audit("")) == [
        "p/10-x.py:1: script is empty (defines none of pre, post, error)"
    ]
    assert messages(audit("x = 1\n")) == ["p/10-x.py: script defines none of pre, post, error"]
    assert "p/10-x.py:3: pre must be a function defined in the script" in messages(
        audit("def post(rv):\n    pass\npre = 'post'\n")
    )
    aliased = audit("def post(rv):\n    pass\npre = post\n")  # a function of the script
    assert aliased.ok
    assert aliased.hooks == ("pre", "post")


def test_veto_in_post_is_flagged() -> None:
    """A Veto in post or error has no effect there; the audit says so."""
    result = audit("def post(rv):\n    raise Veto('late')\n")
    assert messages(result) == [
        "p/10-x.py:2: Veto in post has no effect: it is an ordinary error there "
        "(vetoes work in pre only)"
    ]


def test_point_options_flag_behaviour_the_point_will_not_honour() -> None:
    """A Veto on a point without vetoes and a post value on a read-only point are flagged."""
    source = "def pre(x):\n    raise Veto('no')\n\ndef post(rv, x):\n    return rv\n"
    strict = audit(source, options=PointOptions())
    assert messages(strict) == [
        "p/10-x.py:2: raises Veto but point 'p' does not allow vetoes (veto=False): "
        "it is handled as an error",
        "p/10-x.py:5: post returns a value but point 'p' keeps its result "
        "(result='keep'): the value is ignored",
    ]
    assert {f.kind for f in strict.findings} == {"option"}
    assert audit(source, options=PointOptions(result="replace", veto=True)).ok
    assert audit(source).ok  # no options known: nothing to flag


def test_calls_to_api_functions_the_host_lacks_are_flagged() -> None:
    """With the host's api names known, calling anything else is a finding."""
    result = audit("def pre():\n    api.notify()\n    api.delete()\n", api=["notify"])
    assert messages(result) == ["p/10-x.py:3: api.delete is not exposed by the host (api: notify)"]


# -- a directory --------------------------------------------------------------------------
def test_directory_audit_in_run_order_with_sha256_versions(tmp_path: Path) -> None:
    """Scripts come in point and file-name order; each version is the file's sha256."""
    write_scripts(
        tmp_path,
        {
            "b/20-x.py": "def pre():\n    pass\n",
            "b/10-y.py": "def post(rv):\n    pass\n",
            "a/50-z.py": "def error(e):\n    pass\n",
            "a/.50-z.py.swp": "junk",
            "_private/10-x.py": "def pre():\n    pass\n",
        },
    )
    result = audit_directory(tmp_path)
    assert [(s.point, s.name) for s in result.scripts] == [
        ("a", "50-z.py"),
        ("b", "10-y.py"),
        ("b", "20-x.py"),
    ]
    digest = hashlib.sha256((tmp_path / "b/20-x.py").read_bytes()).hexdigest()
    assert result.scripts[2].version == digest
    assert list(result.points) == ["a", "b"]
    assert result.findings == ()


def test_config_file_supplies_point_options_modules_and_api(tmp_path: Path) -> None:
    """hookyard.toml declares points, modules and api; the audit checks scripts against it."""
    write_scripts(
        tmp_path,
        {
            "hookyard.toml": """
                modules = ["math"]
                api = ["notify"]
                [points.create]
                veto = true
                [points.resize]
                result = "replace"
            """,
            "create/10-ok.py": "def pre(x):\n    raise Veto('no')\n",
            "resize/10-ok.py": "import math\ndef post(rv):\n    return math.floor(rv)\n",
            "delete/10-x.py": "import json\ndef pre():\n    api.delete()\n",
        },
    )
    result = audit_directory(tmp_path)
    assert result.modules == ("math",)
    assert result.config.points is not None
    assert result.config.points["resize"] == PointOptions(result="replace")
    assert [str(f) for f in result.findings] == [
        f"{tmp_path / 'delete'}: point 'delete' is not declared in hookyard.toml: "
        "its scripts never run",
        f"{tmp_path / 'delete/10-x.py'}:1: import of 'json' is not allowed (allowed: math)",
        f"{tmp_path / 'delete/10-x.py'}:3: api.delete is not exposed by the host (api: notify)",
    ]


def test_arguments_override_the_config_file(tmp_path: Path) -> None:
    """points=/modules=/api= given in Python win over hookyard.toml."""
    write_scripts(
        tmp_path,
        {
            "hookyard.toml": "[points.p]\nveto = true\n",
            "p/10-x.py": "import json\ndef pre():\n    raise Veto('x')\n",
        },
    )
    flagged = audit_directory(tmp_path, points={"p": PointOptions()}, modules=())
    assert [f.kind for f in flagged.findings] == ["import", "option"]
    assert audit_directory(tmp_path).findings == ()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("[points.p\n", "not valid TOML"),
        ("colour = 1\n", "unknown key 'colour'"),
        ("[points.p]\nveto = 'yes'\n", "points.p: veto must be a bool"),
        ("[points.p]\nreplace = true\n", "points.p: unknown option 'replace'"),
        ("modules = 'math'\n", "modules must be a list of strings"),
        ("modules = ['math', 'os']\n", "module 'os' cannot be offered to scripts"),
        ("modules = ['no_such_module_here']\n", "has no curated facade"),
    ],
)
def test_bad_config_is_a_finding(tmp_path: Path, config: str, expected: str) -> None:
    """A config file that cannot be used is reported against the file, not raised."""
    write_scripts(tmp_path, {"hookyard.toml": config, "p/10-x.py": "def pre():\n    pass\n"})
    (finding,) = audit_directory(tmp_path).findings
    assert finding.kind == "config"
    assert finding.file.endswith("hookyard.toml")
    assert expected in finding.message


def test_bad_files_are_findings(tmp_path: Path) -> None:
    """Files the engine would refuse (world-writable, not UTF-8) are findings naming the file."""
    write_scripts(tmp_path, {"p/10-open.py": "def pre():\n    pass\n"})
    (tmp_path / "p/10-open.py").chmod(0o666)
    (tmp_path / "p/20-latin.py").write_bytes(b"def pre():\n    return '\xe9'\n")
    findings = audit_directory(tmp_path).findings
    assert [(Path(f.file).name, f.kind) for f in findings] == [
        ("10-open.py", "file"),
        ("20-latin.py", "file"),
    ]
    assert "world-writable" in findings[0].message
    assert findings[1].line == 2


def test_json_document_is_stable_and_relative(tmp_path: Path) -> None:
    """as_dict() is plain JSON with script paths relative to the directory, lists sorted."""
    write_scripts(
        tmp_path,
        {"p/10-x.py": "import math\ndef pre(x):\n    x.b = x.a\n    api.z()\n    api.a()\n"},
    )
    document = json.loads(json.dumps(audit_directory(tmp_path).as_dict()))
    assert document["format"] == 1
    (script,) = document["scripts"]
    assert script["script"] == "p/10-x.py"
    assert script["api"] == ["a", "z"]
    assert script["reads"] == ["a"]
    assert script["writes"] == ["b"]
    assert script["imports"] == ["math"]
    assert script["can_veto"] is False
    assert script["findings"] == []


# -- capability diff ----------------------------------------------------------------------
def test_reach_change_names_gains_and_losses() -> None:
    """The diff says what the new version now does and no longer does; api gains widen."""
    old = audit("import json\ndef pre(x):\n    api.notify(json.dumps(x))\n")
    new = audit("def pre(x):\n    api.notify(x)\n    api.delete_instance(x)\n    x.get\n")
    change = hookyard.audit.reach_change(old, new)
    assert change.gained == ("calls api.delete_instance", "reads attribute .get")
    assert change.lost == ("imports json", "uses json.dumps")
    assert change.widened == ("calls api.delete_instance",)
    assert str(change) == (
        "now calls api.delete_instance; now reads attribute .get; "
        "no longer imports json; no longer uses json.dumps"
    )


def test_attribute_only_change_does_not_widen() -> None:
    """Reading another attribute of its own data is a change, but not a gain in reach."""
    change = hookyard.audit.reach_change(
        audit("def pre(x):\n    x.a\n"), audit("def pre(x):\n    x.b\n")
    )
    assert change and not change.widened


@BOTH_MODES
def test_reload_that_gains_reach_is_logged_at_warning(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """A reload that starts calling a new api function logs WARNING and tells listeners."""
    engine = make_engine({"p/10-x.py": "def pre(x):\n    api.notify(x)\n"})
    events: list[hookyard.ReloadEvent] = []
    engine.add_reload_listener(events.append)
    path = engine.directory / "p/10-x.py"
    path.write_text("def pre(x):\n    api.notify(x)\n    api.delete_instance(x)\n")
    engine.reload()
    (event,) = events
    assert event.reach is not None
    assert event.reach.gained == ("calls api.delete_instance",)
    warnings = [
        r for r in hook_log.records if r.name == "hookyard.audit" and r.levelno == logging.WARNING
    ]
    assert [r.getMessage() for r in warnings] == [
        f"hook script {path} gained reach: now calls api.delete_instance"
    ]


@BOTH_MODES
def test_reload_that_only_loses_reach_is_not_a_warning(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """Dropping an import is logged at INFO ("no longer imports json"), not WARNING."""
    engine = make_engine({"p/10-x.py": "import json\ndef pre(x):\n    json.dumps(x)\n"})
    (engine.directory / "p/10-x.py").write_text("def pre(x):\n    pass\n")
    engine.reload()
    audit_records = [r for r in hook_log.records if r.name == "hookyard.audit"]
    changed = [r for r in audit_records if "changed reach" in r.getMessage()]
    assert [r.levelno for r in changed] == [logging.INFO]
    assert "no longer imports json" in changed[0].getMessage()
    assert not [r for r in audit_records if r.levelno >= logging.WARNING]


@BOTH_MODES
def test_failed_reload_carries_no_reach_change(make_engine: MakeEngine) -> None:
    """A reload that fails to compile reports the error; the reach is unchanged (None)."""
    engine = make_engine({"p/10-x.py": "def pre(x):\n    pass\n"})
    events: list[hookyard.ReloadEvent] = []
    engine.add_reload_listener(events.append)
    (engine.directory / "p/10-x.py").write_text("def pre(x):\n    return x +\n")
    engine.reload()
    (event,) = events
    assert not event.ok
    assert event.reach is None


# -- run-time audit trail -----------------------------------------------------------------
class Recorder:
    """An audit listener keeping (file name, phase, outcome, message) per event."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def __call__(self, event: AuditEvent) -> None:
        self.events.append(event)

    def calls(self) -> list[tuple[str, str, str]]:
        return [(Path(e.script).name, e.phase, e.outcome) for e in self.events if e.phase != "load"]


def recorded(engine: hookyard.HookEngine) -> Recorder:
    recorder = Recorder()
    engine.add_audit_listener(recorder)
    return recorder


def test_no_sink_means_points_are_not_armed(make_engine: MakeEngine) -> None:
    """With no file, listener or enabled audit logger, refresh_audit() leaves points unarmed."""
    audit_logger = logging.getLogger("hookyard.audit")
    assert not (audit_logger.isEnabledFor(logging.INFO) and audit_logger.hasHandlers())
    engine = make_engine({"p/10-x.py": "def pre():\n    pass\n"})
    assert engine.refresh_audit() is False
    recorder = Recorder()
    engine.add_audit_listener(recorder)
    assert engine.refresh_audit() is True
    engine.remove_audit_listener(recorder)
    assert engine.refresh_audit() is False


@BOTH_MODES
def test_ok_outcomes_for_every_phase(make_engine: MakeEngine) -> None:
    """pre, post and error invocations that succeed are recorded as ok, with budget used."""
    engine = make_engine(
        {
            "p/10-x.py": """
                def pre(n):
                    for i in range(n):
                        pass
                def post(rv, n):
                    pass
                def error(exc, n):
                    pass
            """
        }
    )
    recorder = recorded(engine)

    @engine.hook("p")
    def host(n: int) -> int:
        if n < 0:
            raise ValueError("negative")
        return n

    host(50)
    with pytest.raises(ValueError, match="negative"):
        host(-1)
    assert recorder.calls() == [
        ("10-x.py", "pre", "ok"),
        ("10-x.py", "post", "ok"),
        ("10-x.py", "pre", "ok"),
        ("10-x.py", "error", "ok"),
    ]
    first = recorder.events[0]
    assert first.point == "p"
    assert first.version == engine.status()[0].version
    assert first.operations is not None and first.operations >= 50
    assert first.duration_ms > 0
    assert first.message is None


@BOTH_MODES
def test_veto_outcome_and_skipped_scripts(make_engine: MakeEngine) -> None:
    """A veto is recorded with its reason; the pre hooks after it are recorded as skipped."""
    engine = make_engine(
        {
            "p/10-veto.py": "def pre():\n    raise Veto('closed')\n",
            "p/20-later.py": "def pre():\n    pass\n",
            "p/30-post-only.py": "def post(rv):\n    pass\n",
        }
    )
    recorder = recorded(engine)

    @engine.hook("p", veto=True)
    def host() -> None: ...

    with pytest.raises(hookyard.HookVetoed):
        host()
    assert recorder.calls() == [
        ("10-veto.py", "pre", "veto"),
        ("20-later.py", "pre", "skipped"),
        ("30-post-only.py", "post", "skipped"),
    ]
    assert recorder.events[0].message == "closed"
    assert recorder.events[1].message == "not run: vetoed by 10-veto.py"
    assert recorder.events[2].message == "not run: vetoed by 10-veto.py"


@BOTH_MODES
def test_veto_on_a_point_without_vetoes_is_an_error_outcome(make_engine: MakeEngine) -> None:
    """Where vetoes are not allowed, a Veto is recorded as an error, and the call goes on."""
    engine = make_engine({"p/10-veto.py": "def pre():\n    raise Veto('closed')\n"})
    recorder = recorded(engine)

    @engine.hook("p")
    def host() -> str:
        return "ran"

    assert host() == "ran"
    assert recorder.calls() == [("10-veto.py", "pre", "error")]
    assert "does not allow vetoes" in (recorder.events[-1].message or "")


@BOTH_MODES
def test_error_outcome_names_file_and_line(make_engine: MakeEngine) -> None:
    """A script that raises is recorded as error with the file:line message."""
    engine = make_engine({"p/10-x.py": "def post(rv):\n    return 1 / 0\n"})
    recorder = recorded(engine)

    @engine.hook("p")
    def host() -> None: ...

    host()
    assert recorder.calls() == [("10-x.py", "post", "error")]
    assert recorder.events[-1].message == (
        f"{engine.directory / 'p/10-x.py'}:2: post: ZeroDivisionError: division by zero"
    )


@BOTH_MODES
def test_limit_outcome(make_engine: MakeEngine) -> None:
    """A script that runs past its budget is recorded as limit, its operations used up."""
    engine = make_engine(
        {"p/10-x.py": "def pre():\n    while True:\n        pass\n"},
        limits=hookyard.Limits(operations=1000),
    )
    recorder = recorded(engine)

    @engine.hook("p")
    def host() -> None: ...

    host()
    assert recorder.calls() == [("10-x.py", "pre", "limit")]
    assert recorder.events[-1].operations == 1000
    assert "operations limit" in (recorder.events[-1].message or "")


@BOTH_MODES
def test_replaced_outcome_and_ignored_return_value(make_engine: MakeEngine) -> None:
    """A post value that replaces the result is 'replaced'; on a read-only point it is ok
    with a note that the value was ignored."""
    engine = make_engine({"p/10-x.py": "def post(rv):\n    return rv + 1\n"})
    recorder = recorded(engine)

    @engine.hook("p", result="replace")
    def replacing() -> int:
        return 1

    @engine.hook("p")
    def keeping() -> int:
        return 1

    assert replacing() == 2
    assert keeping() == 1
    assert recorder.calls() == [("10-x.py", "post", "replaced"), ("10-x.py", "post", "ok")]
    assert recorder.events[-1].message == "returned a value; point 'p' keeps its result"


@BOTH_MODES
def test_skipped_after_a_failure_on_a_raising_point(make_engine: MakeEngine) -> None:
    """On on_error='raise', the scripts after the failing one are recorded as skipped."""
    engine = make_engine(
        {
            "p/10-x.py": "def pre():\n    raise ValueError('bad')\n",
            "p/20-y.py": "def pre():\n    pass\n\ndef post(rv):\n    pass\n",
        }
    )
    recorder = recorded(engine)

    @engine.hook("p", on_error="raise")
    def host() -> None: ...

    with pytest.raises(hookyard.HookFailed):
        host()
    assert recorder.calls() == [
        ("10-x.py", "pre", "error"),
        ("20-y.py", "pre", "skipped"),
        ("20-y.py", "post", "skipped"),
    ]


@BOTH_MODES
def test_load_outcomes(make_engine: MakeEngine) -> None:
    """Loads are recorded too: ok with the reach, error with file:line, limit at load time."""
    engine = make_engine(
        {"p/10-x.py": "def pre():\n    pass\n"}, limits=hookyard.Limits(operations=1000)
    )
    recorder = recorded(engine)
    path = engine.directory / "p/10-x.py"
    path.write_text("def pre():\n    api.go()\n")
    engine.reload()
    path.write_text("def pre(:\n")
    engine.reload()
    path.write_text("while True:\n    pass\ndef pre():\n    pass\n")
    engine.reload()
    loads = [(e.phase, e.outcome) for e in recorder.events]
    assert loads == [("load", "ok"), ("load", "error"), ("load", "limit")]
    assert recorder.events[0].message == "now calls api.go"
    assert (recorder.events[1].message or "").startswith(f"{path}:1: SyntaxError")


@BOTH_MODES
def test_removal_is_recorded(make_engine: MakeEngine) -> None:
    """A script that stops serving leaves a load event saying so, with its last version."""
    engine = make_engine({"p/10-x.py": "def pre():\n    pass\n"})
    version = engine.status()[0].version
    recorder = recorded(engine)
    (engine.directory / "p/10-x.py").unlink()
    engine.reload()
    (event,) = recorder.events
    assert (event.phase, event.outcome, event.message) == ("load", "ok", "removed")
    assert event.version == version
    assert event.script == str(engine.directory / "p/10-x.py")


@BOTH_MODES
def test_audit_logger_sink(make_engine: MakeEngine, caplog: pytest.LogCaptureFixture) -> None:
    """With the hookyard.audit logger listening, each invocation is one INFO record
    carrying the event as `hookyard_event`."""
    caplog.set_level(logging.INFO, logger="hookyard.audit")
    engine = make_engine({"p/10-x.py": "def pre(x):\n    pass\n"})

    @engine.hook("p")
    def host(x: int) -> None: ...

    host(1)
    records = [r for r in caplog.records if r.name == "hookyard.audit"]
    calls = [r for r in records if r.hookyard_event.phase == "pre"]
    assert len(calls) == 1
    assert calls[0].levelno == logging.INFO
    assert calls[0].hookyard_event.outcome == "ok"
    assert calls[0].getMessage().startswith(f"p pre {engine.directory / 'p/10-x.py'} ok (")


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@BOTH_MODES
def test_json_lines_file_records_every_event(make_engine: MakeEngine, tmp_path: Path) -> None:
    """audit_log= appends one JSON object per event with time, point, script, version,
    phase, outcome, duration, operations and message."""
    log = tmp_path / "audit.jsonl"
    engine = make_engine(
        {"p/10-x.py": "def pre(x):\n    if x:\n        raise Veto('no')\n"}, audit_log=log
    )

    @engine.hook("p", veto=True)
    def host(x: int) -> None: ...

    host(0)
    with pytest.raises(hookyard.HookVetoed):
        host(1)
    lines = read_lines(log)
    assert [(line["phase"], line["outcome"]) for line in lines] == [
        ("load", "ok"),
        ("pre", "ok"),
        ("pre", "veto"),
    ]
    veto = lines[-1]
    assert list(veto) == [
        "time",
        "point",
        "script",
        "version",
        "phase",
        "outcome",
        "duration_ms",
        "operations",
        "message",
    ]
    assert veto["time"].endswith("Z")
    assert veto["script"] == str(engine.directory / "p/10-x.py")
    assert veto["version"] == engine.status()[0].version
    assert veto["message"] == "no"
    assert isinstance(veto["duration_ms"], float)


def test_json_lines_file_is_appended_and_reopened(make_engine: MakeEngine, tmp_path: Path) -> None:
    """A second engine appends to the same file; after close() the next event reopens it."""
    log = tmp_path / "audit.jsonl"
    log.write_text('{"earlier": true}\n')
    engine = make_engine({"p/10-x.py": "def pre():\n    pass\n"}, audit_log=log)

    @engine.hook("p")
    def host() -> None: ...

    engine.close()
    host()
    engine.close()
    lines = read_lines(log)
    assert lines[0] == {"earlier": True}
    assert [(line["phase"], line["outcome"]) for line in lines[1:]] == [
        ("load", "ok"),
        ("pre", "ok"),
    ]


def test_json_lines_file_survives_a_crash(tmp_path: Path) -> None:
    """Every event is in the file the moment the call returns: a process killed right
    after (os._exit, no cleanup) leaves complete lines."""
    write_scripts(tmp_path / "hooks", {"p/10-x.py": "def pre():\n    pass\n"})
    log = tmp_path / "audit.jsonl"
    program = f"""
import os, hookyard
engine = hookyard.HookEngine({str(tmp_path / "hooks")!r}, audit_log={str(log)!r})
@engine.hook("p")
def host():
    pass
for _ in range(3):
    host()
os._exit(9)
"""
    result = subprocess.run([sys.executable, "-c", program], check=False, timeout=60)
    assert result.returncode == 9
    assert [line["outcome"] for line in read_lines(log)] == ["ok"] * 4


def test_json_lines_file_is_rotated_by_size(make_engine: MakeEngine, tmp_path: Path) -> None:
    """Past max_bytes the file rotates to .1, .2...; at most `backups` old files are kept."""
    log = tmp_path / "audit.jsonl"
    options = hookyard.audit.AuditLog(log, max_bytes=2048, backups=2)
    engine = make_engine({"p/10-x.py": "def pre():\n    pass\n"}, audit_log=options)

    @engine.hook("p")
    def host() -> None: ...

    for _ in range(60):
        host()
    files = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("audit.jsonl"))
    assert files == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    for name in files:
        size = (tmp_path / name).stat().st_size
        assert 0 < size <= 2048
        read_lines(tmp_path / name)  # whole lines only


def test_json_lines_file_truncates_without_backups(make_engine: MakeEngine, tmp_path: Path) -> None:
    """backups=0 keeps one file, truncated when it is full."""
    log = tmp_path / "audit.jsonl"
    engine = make_engine(
        {"p/10-x.py": "def pre():\n    pass\n"},
        audit_log=hookyard.audit.AuditLog(log, max_bytes=1024, backups=0),
    )

    @engine.hook("p")
    def host() -> None: ...

    for _ in range(30):
        host()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("audit")] == ["audit.jsonl"]
    assert 0 < log.stat().st_size <= 1024


def test_unwritable_audit_file_never_breaks_a_call(
    make_engine: MakeEngine, tmp_path: Path, hook_log: pytest.LogCaptureFixture
) -> None:
    """If the audit file cannot be written, calls go on and one error is logged."""
    engine = make_engine(
        {"p/10-x.py": "def post(rv):\n    return rv * 2\n"},
        audit_log=tmp_path / "missing" / "audit.jsonl",
    )

    @engine.hook("p", result="replace")
    def host() -> int:
        return 2

    assert host() == 4
    assert host() == 4
    errors = [r for r in hook_log.records if "cannot write" in r.getMessage()]
    assert len(errors) == 1
    assert errors[0].levelno == logging.ERROR


def test_audit_log_options_are_validated() -> None:
    """AuditLog refuses sizes too small to hold a line and negative backups."""
    with pytest.raises(ValueError, match="max_bytes"):
        hookyard.audit.AuditLog("a.jsonl", max_bytes=10)
    with pytest.raises(ValueError, match="backups"):
        hookyard.audit.AuditLog("a.jsonl", backups=-1)


def test_failing_audit_listener_does_not_break_the_call(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """A listener that raises is logged; the host call still returns normally."""
    engine = make_engine({"p/10-x.py": "def pre():\n    pass\n"})

    def broken(event: AuditEvent) -> None:
        raise RuntimeError("listener bug")

    engine.add_audit_listener(broken)

    @engine.hook("p")
    def host() -> str:
        return "fine"

    assert host() == "fine"
    assert any("audit listener" in r.getMessage() for r in hook_log.records)


def test_permissions_of_a_new_audit_file(make_engine: MakeEngine, tmp_path: Path) -> None:
    """A new audit file is not world-readable (it names scripts and their failures)."""
    log = tmp_path / "audit.jsonl"
    make_engine({"p/10-x.py": "def pre():\n    pass\n"}, audit_log=log)
    assert not log.stat().st_mode & 0o007
    assert os.access(log, os.R_OK)


def test_new_script_in_a_running_engine_reports_its_reach(
    make_engine: MakeEngine, hook_log: pytest.LogCaptureFixture
) -> None:
    """A script that appears after the engine was made gains its whole reach: logged at
    WARNING like any gain; the scripts loaded with the engine are not news."""
    engine = make_engine({"p/10-x.py": "def pre(x):\n    api.notify(x)\n"})
    assert not [r for r in hook_log.records if "gained reach" in r.getMessage()]
    path = engine.directory / "p/20-new.py"
    path.write_text("def pre(x):\n    api.delete_instance(x)\n")
    engine.reload()
    warnings = [
        r.getMessage()
        for r in hook_log.records
        if r.name == "hookyard.audit" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"hook script {path} gained reach: ")
    assert "now calls api.delete_instance" in warnings[0]
