"""hookyard.testing: hook authors test their scripts with pytest, without the host."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import hookyard
from hookyard.testing import ApiCall, LogLine, from_directory, from_sources
from tests.conftest import write_scripts

VALIDATE = """
    def pre(name, flavor, **options):
        if not name.replace("-", "").isalnum():
            raise Veto(f"instance name {name!r} must be letters, digits and dashes")
"""
NOTIFY = """
    def post(rv, name, flavor, **options):
        state["created"] = state.get("created", 0) + 1
        log.info("created %s", name)
        print("count", state["created"])
        api.notify(f"created {rv['name']}", flavor=flavor)
"""


def test_veto_is_reported_with_its_reason() -> None:
    """A pre hook's veto comes back as the reason; the host body never ran."""
    with from_sources({"create/10-validate.py": VALIDATE}) as harness:
        call = harness.point("create", veto=True, returns="created")("db_primary", "m1.small")
    assert call.vetoed is True
    assert call.veto_reason == "instance name 'db_primary' must be letters, digits and dashes"
    assert call.result is None
    assert call.outcome("10-validate.py", "pre") == "veto"
    assert call.ok


def test_result_and_outcomes_of_a_normal_call() -> None:
    """A call that goes through returns the host's value and one outcome per script."""
    with from_sources({"create/10-validate.py": VALIDATE}) as harness:
        call = harness.call("create", "web-1", "m1.small")
    assert call.vetoed is False and call.veto_reason is None
    assert call.error is None
    assert call.outcomes == (("10-validate.py", "pre", "ok"),)
    assert call.outcome("10-validate.py", "post") is None


def test_api_calls_are_recorded_stubs_by_default() -> None:
    """Without api=, the api names the scripts use are stubs that record calls and return None."""
    with from_sources({"create/50-notify.py": NOTIFY}) as harness:
        point = harness.point("create", returns={"name": "web-1"})
        first = point("web-1", "m1.small")
        second = point("web-2", "m1.small")
    assert first.api_calls == (ApiCall("notify", ("created web-1",), {"flavor": "m1.small"}),)
    assert second.api_calls[0].args == ("created web-1",)
    assert first.result == {"name": "web-1"}


def test_given_api_functions_are_called_and_recorded() -> None:
    """With api=, the real functions run (on copies) and the calls are still recorded."""
    seen: list[str] = []

    def notify(message: str, flavor: str) -> None:
        seen.append(message)

    with from_sources({"create/50-notify.py": NOTIFY}, api={"notify": notify}) as harness:
        call = harness.point("create", returns={"name": "x"})("x", "m1")
    assert seen == ["created x"]
    assert [c.name for c in call.api_calls] == ["notify"]


def test_log_lines_and_print_are_captured_in_order() -> None:
    """log.* and print() lines come back per call, interleaved with api calls and outcomes."""
    with from_sources({"create/50-notify.py": NOTIFY}) as harness:
        call = harness.point("create", returns={"name": "web-1"})("web-1", "m1.small")
    assert call.logs == (
        LogLine("create.50-notify", "INFO", "created web-1"),
        LogLine("create.50-notify", "INFO", "count 1"),
    )
    kinds = [type(item).__name__ for item in call.trace]
    assert kinds == ["LogLine", "LogLine", "ApiCall", "AuditEvent"]


def test_logger_level_is_restored_after_a_call() -> None:
    """The harness opens the script loggers only for the duration of a call."""
    script_logger = logging.getLogger("hookyard.script")
    before = script_logger.level
    with from_sources({"create/50-notify.py": NOTIFY}) as harness:
        harness.point("create", returns={"name": "a"})("a", "b")
    assert script_logger.level == before
    assert not [h for h in script_logger.handlers if type(h).__name__ == "_Capture"]


def test_state_is_kept_between_calls() -> None:
    """Calls through one harness share the script's state, as in a running host."""
    with from_sources({"create/50-notify.py": NOTIFY}) as harness:
        point = harness.point("create", returns={"name": "a"})
        point("a", "m1")
        second = point("a", "m1")
    assert second.logs[-1].message == "count 2"


def test_result_replacement_chains_in_file_order() -> None:
    """With result='replace', each post sees the previous replacement."""
    scripts = {
        "p/10-double.py": "def post(rv):\n    return rv * 2\n",
        "p/20-inc.py": "def post(rv):\n    return rv + 1\n",
    }
    with from_sources(scripts) as harness:
        call = harness.point("p", result="replace", returns=5)()
    assert call.result == 11
    assert call.outcomes == (
        ("10-double.py", "post", "replaced"),
        ("20-inc.py", "post", "replaced"),
    )


def test_error_hooks_run_when_the_host_raises() -> None:
    """raises= makes the host body raise; error hooks see it; the exception comes back."""
    scripts = {"p/10-x.py": "def error(exc):\n    log.warning('saw %s', exc)\n"}
    with from_sources(scripts) as harness:
        call = harness.point("p", raises=KeyError("gone"))()
    assert isinstance(call.error, KeyError)
    assert call.logs == (LogLine("p.10-x", "WARNING", "saw 'gone'"),)
    assert call.outcomes == (("10-x.py", "error", "ok"),)


def test_failing_script_shows_in_outcomes_and_ok() -> None:
    """A script that raises is an 'error' outcome; with on_error='raise' the call fails."""
    scripts = {"p/10-x.py": "def pre():\n    raise ValueError('bad')\n"}
    with from_sources(scripts) as harness:
        isolated = harness.call("p")
        raised = harness.point("p", on_error="raise")()
    assert isolated.outcomes == (("10-x.py", "pre", "error"),)
    assert not isolated.ok
    assert isinstance(raised.error, hookyard.HookFailed)


def test_host_function_can_be_given() -> None:
    """host= runs a real function as the host body, with the original arguments."""
    with from_sources({"p/10-x.py": "def pre(x):\n    pass\n"}) as harness:
        call = harness.point("p", host=lambda x: x * 3)(7)
    assert call.result == 21


def test_load_errors_are_listed() -> None:
    """A script that does not compile is listed with file:line; the others still run."""
    scripts = {"p/10-bad.py": "def pre(:\n", "p/20-good.py": "def pre():\n    pass\n"}
    with from_sources(scripts) as harness:
        (error,) = harness.load_errors()
        call = harness.call("p")
    assert "10-bad.py:1: SyntaxError" in error
    assert call.outcomes == (("20-good.py", "pre", "ok"),)


def test_check_fails_a_test_on_a_broken_script() -> None:
    """harness.check() raises ScriptError with the broken script's file and line, so a hook
    author's test fails loudly instead of silently running without the script."""
    with (
        from_sources({"p/10-bad.py": "def pre():\n    return (\n"}) as harness,
        pytest.raises(hookyard.ScriptError, match=r"10-bad\.py:2: SyntaxError") as caught,
    ):
        harness.check()
    assert caught.value.file.endswith("10-bad.py")
    assert caught.value.line == 2


def test_from_directory_uses_an_existing_directory(tmp_path: Path) -> None:
    """from_directory runs the scripts of a real hook directory, and leaves it in place."""
    write_scripts(tmp_path, {"create/10-validate.py": VALIDATE})
    with from_directory(tmp_path) as harness:
        call = harness.point("create", veto=True)("bad name", "m1")
    assert call.vetoed is True
    assert (tmp_path / "create/10-validate.py").exists()


def test_from_directory_refuses_a_missing_directory(tmp_path: Path) -> None:
    """A missing directory is an error, not an empty harness."""
    with pytest.raises(hookyard.HookError, match="no hook directory"):
        from_directory(tmp_path / "missing")


def test_temporary_directory_is_removed_on_close() -> None:
    """from_sources cleans up its directory when the harness closes."""
    harness = from_sources({"p/10-x.py": "def pre():\n    pass\n"})
    directory = harness.directory
    assert directory.is_dir()
    harness.close()
    assert not directory.exists()


def test_script_keys_must_name_point_and_file() -> None:
    """Keys look like 'point/10-name.py'; anything else is refused before writing."""
    with pytest.raises(ValueError, match=r"point/10-name\.py"):
        from_sources({"10-x.py": "def pre():\n    pass\n"})


# -- issue 18: process mode, vetoes as a bool, the pytest plugin -------------------------------
def test_a_bare_veto_is_still_a_veto() -> None:
    """``raise Veto()`` with no reason: ``vetoed`` is True, the reason empty."""
    with from_sources({"p/10-x.py": "def pre():\n    raise Veto()\n"}) as harness:
        call = harness.point("p", veto=True)()
    assert call.vetoed is True
    assert call.veto_reason == ""
    assert call.outcome("10-x.py", "pre") == "veto"


@pytest.mark.parametrize("isolation", ["process", hookyard.ProcessIsolation(spare=False)])
def test_harness_runs_scripts_in_worker_processes(isolation: object) -> None:
    """``isolation=`` makes the harness's engine run the scripts as a process-isolated host
    would: the same results, and the scripts run in another process."""
    import os

    with from_sources(
        {"create/10-validate.py": VALIDATE, "create/50-notify.py": NOTIFY},
        isolation=isolation,
        api={"notify": lambda *a, **k: None},
    ) as harness:
        assert harness.engine._pool is not None
        vetoed = harness.point("create", veto=True)("db_primary", "m1.small")
        created = harness.point("create", veto=True, returns={"name": "web-1"})("web-1", "x")
        workers = harness.engine._pool.pids()
    assert vetoed.vetoed and "db_primary" in (vetoed.veto_reason or "")
    assert created.ok and created.logs[0].message == "created web-1"
    assert workers and os.getpid() not in workers


PLUGIN_TEST = '''
import hookyard

VALIDATE = """
def pre(name, flavor):
    if "_" in name:
        raise Veto("no underscores")
"""


def test_from_sources(hook_harness):
    harness = hook_harness({"create/10-validate.py": VALIDATE})
    call = harness.point("create", veto=True)("db_primary", "m1.small")
    assert call.vetoed and call.veto_reason == "no underscores"
    pytest_plugin_directory.append(harness.directory)


def test_closed_afterwards():
    assert not pytest_plugin_directory[0].exists()


def test_from_a_directory(hook_harness, tmp_path):
    (tmp_path / "create").mkdir()
    (tmp_path / "create" / "10-validate.py").write_text(VALIDATE)
    harness = hook_harness(tmp_path, isolation="process")
    assert harness.point("create", veto=True)("web_1", "m1.small").vetoed


pytest_plugin_directory = []
'''


def test_the_pytest_plugin_gives_hook_authors_a_fixture(tmp_path: Path) -> None:
    """Installed with hookyard (entry point pytest11), the ``hook_harness`` fixture works
    in any project's tests with nothing to configure, and closes what it made."""
    import importlib.metadata
    import subprocess
    import sys

    entry = [e for e in importlib.metadata.entry_points(group="pytest11") if e.name == "hookyard"]
    assert [e.value for e in entry] == ["hookyard.pytest_plugin"]
    (tmp_path / "test_my_hooks.py").write_text(PLUGIN_TEST)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
