"""The `hookyard` command, through the real console script: every subcommand and exit code."""

from __future__ import annotations

import importlib.metadata
import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write_scripts

REPO = Path(__file__).resolve().parent.parent
SUBCOMMANDS = ["check", "list", "audit", "run", "watch", "demo"]

GOOD = {
    "create/10-validate.py": """
        def pre(name, flavor):
            if not name.isalnum():
                raise Veto(f"bad name {name!r}")
    """,
    "create/50-notify.py": """
        import json

        def post(rv, name, flavor):
            log.info("created %s", name)
            api.notify(json.dumps(rv), flavor=flavor)
    """,
    "resize/10-cap.py": """
        def post(rv, instance, flavor):
            if rv["flavor"] == "huge":
                return {**rv, "flavor": "large"}
            return None
    """,
}


def hookyard(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hookyard.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write_scripts(tmp_path / "hooks", GOOD)


# -- every subcommand ---------------------------------------------------------------------
@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command: str) -> None:
    """`hookyard COMMAND --help` prints usage for that command and exits 0."""
    result = hookyard(command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: hookyard {command}")


def test_installed_console_script_runs() -> None:
    """The `hookyard` entry point installed with the package is the same command."""
    script = Path(sys.executable).parent / "hookyard"
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    for command in SUBCOMMANDS:
        assert command in result.stdout


def test_missing_or_unknown_command_is_a_usage_error() -> None:
    """No subcommand, or an unknown one, exits 2 with usage on stderr."""
    for args in ([], ["frobnicate"]):
        result = hookyard(*args)
        assert result.returncode == 2
        assert "usage: hookyard" in result.stderr


@pytest.mark.parametrize("command", ["check", "list", "audit", "watch"])
def test_missing_directory_is_a_usage_error(command: str, tmp_path: Path) -> None:
    """A DIR that does not exist exits 2 naming it."""
    result = hookyard(command, tmp_path / "nope")
    assert result.returncode == 2
    assert f"hookyard {command}: no hook directory {tmp_path / 'nope'}" in result.stderr


# -- check --------------------------------------------------------------------------------
def test_check_is_silent_on_a_good_directory(good: Path) -> None:
    """Nothing to report: exit 0 and no output (pre-commit friendly)."""
    result = hookyard("check", good)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_check_reports_every_problem_as_file_line_message(tmp_path: Path) -> None:
    """Syntax errors, denied names, forbidden imports and bad files: one line each, exit 1."""
    root = write_scripts(
        tmp_path / "hooks",
        {
            "p/10-syntax.py": "def pre(:\n",
            "p/20-denied.py": "def pre(x):\n    return x.__dict__\n",
            "p/30-import.py": "import os\ndef pre():\n    pass\n",
            "p/40-open.py": "def pre():\n    return open('/etc/passwd')\n",
            "p/50-writable.py": "def pre():\n    pass\n",
        },
    )
    (root / "p/50-writable.py").chmod(0o666)
    result = hookyard("check", root)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        f"{root}/p/10-syntax.py:1",
        f"{root}/p/20-denied.py:2",
        f"{root}/p/30-import.py:1",
        f"{root}/p/40-open.py:2",
        f"{root}/p/50-writable.py",
    ]
    assert "SyntaxError" in lines[0]
    assert "__dict__" in lines[1]
    assert "import of 'os' is not allowed" in lines[2]
    assert "open is not available to scripts: no direct I/O" in lines[3]
    assert "world-writable" in lines[4]


def test_check_uses_the_given_module_allow_list(good: Path) -> None:
    """--modules replaces the default allow-list: json is then refused."""
    result = hookyard("check", good, "--modules", "math")
    assert result.returncode == 1
    assert result.stdout == (
        f"{good}/create/50-notify.py:2: import of 'json' is not allowed (allowed: math)\n"
    )
    assert hookyard("check", good, "--modules", "math,json").returncode == 0


def test_check_refuses_forbidden_modules_as_usage(good: Path) -> None:
    """--modules os cannot be an allow-list: exit 2, as the engine would refuse it."""
    result = hookyard("check", good, "--modules", "math,os")
    assert result.returncode == 2
    assert "cannot be offered to scripts" in result.stderr


def test_check_applies_point_options_from_the_config(good: Path) -> None:
    """With hookyard.toml, behaviour a point will not honour is a finding too."""
    (good / "hookyard.toml").write_text("[points.create]\n[points.resize]\n")
    result = hookyard("check", good)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{good}/create/10-validate.py:4: raises Veto but point 'create' does not allow "
        "vetoes (veto=False): it is handled as an error",
        f"{good}/resize/10-cap.py:4: post returns a value but point 'resize' keeps its "
        "result (result='keep'): the value is ignored",
    ]


def test_repository_hook_scripts_pass_check() -> None:
    """The example hook_scripts (with their hookyard.toml) are clean."""
    result = hookyard("check", REPO / "hook_scripts")
    assert (result.returncode, result.stdout) == (0, "")


def test_pre_commit_hook_definition() -> None:
    """.pre-commit-hooks.yaml runs `hookyard check` on a directory, not on file names."""
    text = (REPO / ".pre-commit-hooks.yaml").read_text()
    assert "id: hookyard-check" in text
    assert "entry: hookyard check" in text
    assert "pass_filenames: false" in text
    assert "language: python" in text


# -- list ---------------------------------------------------------------------------------
def hookyard_engine_fingerprint(directory: Path) -> str:
    """What an engine serving ``directory`` reports as its fingerprint."""
    import hookyard as library

    engine = library.HookEngine(directory)
    try:
        return engine.fingerprint()
    finally:
        engine.close()


def test_list_shows_points_and_scripts_in_run_order(good: Path) -> None:
    """Points alphabetically, scripts in file-name order, with the hooks each defines."""
    (good / "create/05-first.py").write_text("def error(exc, name, flavor):\n    pass\n")
    result = hookyard("list", good)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "create",
        "  05-first.py     error",
        "  10-validate.py  pre",
        "  50-notify.py    post",
        "resize",
        "  10-cap.py  post",
        f"fingerprint: {hookyard_engine_fingerprint(good)}",
    ]


def test_list_marks_scripts_with_problems_and_exits_1(good: Path) -> None:
    """A script with findings is still listed, marked, and the exit code says so."""
    (good / "create/20-broken.py").write_text("def pre(:\n")
    result = hookyard("list", good)
    assert result.returncode == 1
    assert "  20-broken.py    -  [1 problem: hookyard check]" in result.stdout.splitlines()


def test_list_shows_declared_options_and_empty_points(good: Path) -> None:
    """Points declared in hookyard.toml show their options, even with no scripts yet."""
    (good / "hookyard.toml").write_text("[points.create]\nveto = true\n[points.delete]\n")
    lines = hookyard("list", good).stdout.splitlines()
    assert lines[0] == "create  (result=keep, on_error=isolate, veto=True)"
    assert "delete  (result=keep, on_error=isolate, veto=False)" in lines
    assert lines[lines.index("delete  (result=keep, on_error=isolate, veto=False)") + 1] == (
        "  (no scripts)"
    )


# -- audit --------------------------------------------------------------------------------
def test_audit_table(good: Path) -> None:
    """The human table has one row per script with hooks, api, modules, veto and returns."""
    result = hookyard("audit", good)
    assert result.returncode == 0
    header, *rows = result.stdout.splitlines()
    assert header.split() == [
        "SCRIPT",
        "VERSION",
        "HOOKS",
        "API",
        "MODULES",
        "VETO",
        "RETURNS",
        "ATTRIBUTES",
    ]
    cells = [row.split() for row in rows]
    assert [c[0] for c in cells] == [
        "create/10-validate.py",
        "create/50-notify.py",
        "resize/10-cap.py",
    ]
    assert cells[0][2:6] == ["pre", "-", "-", "yes"]
    assert cells[1][2:5] == ["post", "api.notify", "json(dumps)"]
    assert cells[2][6] == "yes"


def test_audit_json_is_valid_and_complete(good: Path) -> None:
    """--json prints one JSON document describing every script, findings included."""
    result = hookyard("audit", good, "--json")
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert set(document) == {"format", "directory", "config", "modules", "scripts", "problems"}
    assert document["format"] == 1
    assert document["problems"] == []
    scripts = {s["script"]: s for s in document["scripts"]}
    assert list(scripts) == ["create/10-validate.py", "create/50-notify.py", "resize/10-cap.py"]
    notify = scripts["create/50-notify.py"]
    assert notify["api"] == ["notify"]
    assert notify["imports"] == ["json"]
    assert notify["module_attributes"] == ["json.dumps"]
    assert notify["hooks"] == ["post"]
    assert len(notify["version"]) == 64
    assert scripts["create/10-validate.py"]["vetoes"] == [{"line": 4, "function": "pre"}]
    assert scripts["resize/10-cap.py"]["returns_value"] is True
    for script in scripts.values():
        for key in ("hooks", "api", "imports", "module_attributes", "reads", "writes"):
            assert script[key] == sorted(script[key]) or key == "hooks"


def test_audit_json_output_is_stable(good: Path) -> None:
    """Two runs over the same directory print the same bytes (CI tools diff them)."""
    assert hookyard("audit", good, "--json").stdout == hookyard("audit", good, "--json").stdout


def test_audit_with_findings_exits_1(good: Path) -> None:
    """Findings are listed under the table (and in the JSON) and the exit code is 1."""
    (good / "create/90-bad.py").write_text("import socket\ndef pre(name, flavor):\n    pass\n")
    table = hookyard("audit", good)
    assert table.returncode == 1
    assert "1 finding:" in table.stdout
    assert f"{good}/create/90-bad.py:1: import of 'socket' is not allowed (network)" in table.stdout
    document = json.loads(hookyard("audit", good, "--json").stdout)
    (bad,) = [s for s in document["scripts"] if s["findings"]]
    assert bad["findings"][0]["kind"] == "import"


# -- run ----------------------------------------------------------------------------------
def test_run_prints_outcomes_api_calls_logs_and_result(good: Path) -> None:
    """A dry run prints each script's outcome and budget, api calls, log lines, the result."""
    result = hookyard(
        "run", good, "create", "--args", '["web1", "small"]', "--rv", '{"name": "web1"}'
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "hookyard run create (result=keep on_error=isolate veto=False)"
    assert lines[1] == '  args=["web1", "small"] kwargs={}'
    assert lines[2].startswith("pre   10-validate.py ok (")
    assert "operation" in lines[2]
    assert lines[3] == "  log INFO create.50-notify: created web1"
    assert lines[4] == '  api.notify("{\\"name\\": \\"web1\\"}", flavor="small") -> None'
    assert lines[5].startswith("post  50-notify.py ok (")
    assert lines[-1] == 'result: {"name": "web1"}'


def test_run_reports_a_veto(good: Path) -> None:
    """With --veto, a vetoing pre stops the call; the reason is printed; exit 0."""
    result = hookyard("run", good, "create", "--args", '["bad name", "small"]', "--veto")
    assert result.returncode == 0
    assert "pre   10-validate.py veto (" in result.stdout
    assert result.stdout.splitlines()[-1] == "vetoed: bad name 'bad name'"


def test_run_without_veto_treats_veto_as_an_error(good: Path) -> None:
    """Without --veto the Veto is a script error: the call goes on and the exit code is 1."""
    result = hookyard("run", good, "create", "--args", '["bad name", "small"]')
    assert result.returncode == 1
    assert "pre   10-validate.py error (" in result.stdout
    assert "does not allow vetoes" in result.stdout
    assert result.stdout.splitlines()[-1] == "result: null"


def test_run_replaces_the_result(good: Path) -> None:
    """--result replace lets post return values replace the host's result."""
    rv = '{"name": "a", "flavor": "huge"}'
    replaced = hookyard(
        "run", good, "resize", "--args", f'[{rv}, "huge"]', "--rv", rv, "--result", "replace"
    )
    assert replaced.returncode == 0
    assert "post  10-cap.py replaced (" in replaced.stdout
    assert replaced.stdout.splitlines()[-1] == 'result: {"name": "a", "flavor": "large"}'
    kept = hookyard("run", good, "resize", "--args", f'[{rv}, "huge"]', "--rv", rv)
    assert kept.stdout.splitlines()[-1] == f"result: {rv}"


def test_run_takes_point_options_from_the_config(good: Path) -> None:
    """Options not given on the command line come from hookyard.toml; flags override."""
    (good / "hookyard.toml").write_text("[points.create]\nveto = true\n")
    args = ("run", good, "create", "--args", '["bad name", "small"]')
    assert hookyard(*args).stdout.splitlines()[-1] == "vetoed: bad name 'bad name'"
    assert hookyard(*args, "--no-veto").returncode == 1


def test_run_host_error_runs_error_hooks(tmp_path: Path) -> None:
    """--host-error makes the host raise, so error hooks run; that alone is not a finding."""
    root = write_scripts(
        tmp_path / "hooks", {"p/10-x.py": "def error(exc):\n    log.warning('saw %s', exc)\n"}
    )
    result = hookyard("run", root, "p", "--host-error", "disk full")
    assert result.returncode == 0
    assert "  log WARNING p.10-x: saw disk full" in result.stdout
    assert "error 10-x.py ok (" in result.stdout
    assert result.stdout.splitlines()[-1] == "raised: RuntimeError: disk full"


def test_run_script_failures_exit_1(tmp_path: Path) -> None:
    """A script that raises, runs out of budget or does not load makes the dry run exit 1."""
    root = write_scripts(
        tmp_path / "hooks",
        {
            "p/10-raise.py": "def pre(x):\n    return x['missing']\n",
            "p/20-broken.py": "def pre(x:\n",
        },
    )
    result = hookyard("run", root, "p", "--args", "[{}]")
    assert result.returncode == 1
    assert f"not loaded: {root}/p/20-broken.py:1: SyntaxError" in result.stdout
    assert "pre   10-raise.py error (" in result.stdout
    assert f"{root}/p/10-raise.py:2: pre: KeyError" in result.stdout


def test_run_with_on_error_raise(good: Path) -> None:
    """--on-error raise turns a script failure into HookFailed for the (dry-run) host."""
    result = hookyard(
        "run", good, "create", "--args", '["bad name", "small"]', "--on-error", "raise"
    )
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1].startswith("raised: HookFailed: hook point 'create'")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--args", "not json"], "argument --args: not JSON"),
        (["--args", '{"a": 1}'], "argument --args: must be a JSON array"),
        (["--kwargs", "[1]"], "argument --kwargs: must be a JSON object"),
        (["--result", "merge"], "argument --result: invalid choice"),
    ],
)
def test_run_bad_arguments_are_usage_errors(good: Path, args: list[str], message: str) -> None:
    """Malformed JSON or options exit 2 with argparse's message."""
    result = hookyard("run", good, "create", *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_run_unknown_point_is_a_usage_error(good: Path) -> None:
    """A POINT with no folder in DIR exits 2 and lists the points there are."""
    result = hookyard("run", good, "delete")
    assert result.returncode == 2
    assert "no point 'delete'" in result.stderr
    assert "(points: create, resize)" in result.stderr


# -- watch --------------------------------------------------------------------------------
class Lines:
    """A running `hookyard watch`, its stdout read line by line without sleeping."""

    def __init__(self, *args: str | Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hookyard.cli", "watch", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, prefix: str, timeout: float = 30) -> list[str]:
        """Lines up to and including the first starting with ``prefix``."""
        seen: list[str] = []
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"watch ended before {prefix!r}; saw {seen}")
            seen.append(line)
            if line.startswith(prefix):
                return seen

    def rest(self) -> Iterator[str]:
        while (line := self.lines.get(timeout=30)) is not None:
            yield line


def replace_file(path: Path, text: str) -> None:
    """Save like an editor: write a hidden temporary file, rename it into place."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    temporary.replace(path)


def test_watch_prints_reloads_failures_and_reach_changes(good: Path) -> None:
    """Each reload prints the versions and the reach gained (flagged) or lost; a failed
    save prints file:line, the file named as the loaded lines name it (relative to the
    directory); --max-events stops it with exit 0."""
    watch = Lines(good, "--max-events", "2", "--timeout", "60")
    watch.until("watching ")
    script = good / "create/50-notify.py"
    replace_file(script, "def post(rv, name, flavor):\n    api.delete_instance(name)\n")
    reload = watch.until("  - reads attribute .info")
    assert reload[0].startswith("loaded   create/50-notify.py ")
    assert reload[1:] == [
        "  + calls api.delete_instance  (gains reach)",
        "  - calls api.notify",
        "  - imports json",
        "  - uses json.dumps",
        "  - reads attribute .info",
    ]
    replace_file(script, "def post(rv, name, flavor):\n    return rv +\n")
    failure = watch.until("FAILED")
    assert failure[-1].startswith("FAILED   create/50-notify.py:2: SyntaxError")
    assert failure[-1].endswith("(last good version keeps serving)")
    assert list(watch.rest())[-1] == "stopped"
    assert watch.process.wait(timeout=30) == 0


def test_watch_stops_cleanly_on_ctrl_c(good: Path) -> None:
    """SIGINT (Ctrl-C) stops the watcher: 'stopped', exit 0, no traceback."""
    watch = Lines(good)
    watch.until("watching ")
    watch.process.send_signal(signal.SIGINT)
    assert list(watch.rest()) == ["stopped"]
    assert watch.process.wait(timeout=30) == 0
    assert watch.process.stderr is not None
    assert "Traceback" not in watch.process.stderr.read()


def test_watch_timeout(good: Path) -> None:
    """--timeout stops an idle watcher after that many seconds."""
    result = hookyard("watch", good, "--timeout", "0.2")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [f"watching {good}: 3 scripts (Ctrl-C stops)", "stopped"]


def test_watch_reports_scripts_that_fail_at_start(tmp_path: Path) -> None:
    """Scripts already broken when watching starts are printed first."""
    root = write_scripts(tmp_path / "hooks", {"p/10-x.py": "def pre(:\n"})
    result = hookyard("watch", root, "--timeout", "0.1")
    assert result.stdout.splitlines()[0].startswith("FAILED   p/10-x.py:1: SyntaxError")


# -- demo ---------------------------------------------------------------------------------
def test_demo_still_runs() -> None:
    """`hookyard demo` runs the example host against the repository's hook_scripts."""
    result = hookyard(
        "demo", "--dir", REPO / "hook_scripts", "--iterations", "2", "--interval", "0"
    )
    assert result.returncode == 0, result.stderr
    assert "vetoed: instance name 'db_primary'" in result.stdout


def test_demo_without_directory_is_a_usage_error(tmp_path: Path) -> None:
    """A missing --dir exits 2."""
    result = hookyard("demo", "--dir", tmp_path / "nope", "--iterations", "1")
    assert result.returncode == 2
    assert "no hook directory" in result.stderr


# -- the version, several directories, hookyard.toml (issue 18) ------------------------------
def test_version_is_printed() -> None:
    """`hookyard --version` prints the installed version and exits 0."""
    result = hookyard("--version")
    assert result.returncode == 0
    assert result.stdout == f"hookyard {importlib.metadata.version('hookyard')}\n"


@pytest.fixture
def two(tmp_path: Path) -> tuple[Path, Path]:
    """Two hook directories: one clean, one with a broken script."""
    clean = write_scripts(tmp_path / "a", {"create/10-x.py": "def pre(name):\n    pass\n"})
    broken = write_scripts(tmp_path / "b", {"resize/10-y.py": "def pre(:\n"})
    return clean, broken


def test_check_takes_several_directories(two: tuple[Path, Path]) -> None:
    """Like a linter, `check A B` checks both and exits 1 if either has findings."""
    clean, broken = two
    result = hookyard("check", clean, broken)
    assert result.returncode == 1
    assert result.stdout.startswith(f"{broken}/resize/10-y.py:1: SyntaxError")
    assert hookyard("check", clean, clean).returncode == 0


def test_list_takes_several_directories(two: tuple[Path, Path]) -> None:
    """`list A B` lists each under its name, with its own fingerprint."""
    clean, broken = two
    lines = hookyard("list", clean, broken).stdout.splitlines()
    assert lines[0] == f"{clean}:"
    assert lines[1:3] == ["create", "  10-x.py  pre"]
    assert lines[4] == ""
    assert lines[5] == f"{broken}:"
    assert len([line for line in lines if line.startswith("fingerprint: ")]) == 2


def test_audit_takes_several_directories(two: tuple[Path, Path]) -> None:
    """`audit A B` prints one table, each script under its directory; --json a list."""
    clean, broken = two
    result = hookyard("audit", clean, broken)
    assert result.returncode == 1
    rows = [line.split()[0] for line in result.stdout.splitlines()[1:3]]
    assert rows == [f"{clean}/create/10-x.py", f"{broken}/resize/10-y.py"]
    documents = json.loads(hookyard("audit", clean, broken, "--json").stdout)
    assert [d["directory"] for d in documents] == [str(clean), str(broken)]
    assert json.loads(hookyard("audit", clean, "--json").stdout)["directory"] == str(clean)


def test_one_missing_directory_of_several_is_a_usage_error(two: tuple[Path, Path]) -> None:
    """Nothing is printed on stdout when one directory of several does not exist."""
    clean, _ = two
    result = hookyard("check", clean, clean.parent / "nope")
    assert (result.returncode, result.stdout) == (2, "")
    assert f"no hook directory {clean.parent / 'nope'}" in result.stderr


def test_every_config_problem_is_reported_at_once(tmp_path: Path) -> None:
    """An unknown key hides nothing: wrong types, bad point options and the findings the
    good parts lead to are all reported, each config problem with its line."""
    root = write_scripts(
        tmp_path / "hooks",
        {
            "hookyard.toml": """
                colour = "blue"
                api = "notify"

                [points.create]
                veto = "yes"
                result = "replace"

                [points.resize]
                retries = 3
            """,
            "create/10-x.py": "def pre(name):\n    raise Veto('no')\n",
            "other/10-y.py": "def pre():\n    pass\n",
        },
    )
    config = root / "hookyard.toml"
    result = hookyard("check", root)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{config}:2: unknown key 'colour' (expected modules, api, points)",
        f'{config}:3: api must be a list of strings, e.g. api = ["notify"], not str',
        f"{config}:6: points.create: veto must be a bool, not 'yes'",
        f"{config}:10: points.resize: unknown option 'retries' (expected result, on_error, veto)",
        f"{root}/other: point 'other' is not declared in hookyard.toml: its scripts never run",
        f"{root}/create/10-x.py:2: raises Veto but point 'create' does not allow vetoes "
        "(veto=False): it is handled as an error",
    ]
