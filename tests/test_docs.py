"""Every code block and transcript in README.md and docs/ is run or checked (issue 18).

Blocks are discovered, never listed here, so a new page or block is covered the moment
it is written. Each page runs in a fresh working directory holding a copy of the example
``hook_scripts``; its blocks run in order and share one Python namespace, as a reader
following the page would. What a block is decides what happens to it:

- ```` ```python ````: executed; ``test_*`` functions it defines are called (a block
  whose tests take fixtures runs as a test file under pytest).
- a transcript (lines starting ``$ ``): each command runs in ``bash`` (``hookyard`` is
  this interpreter's console script) and its output, stdout and stderr as a terminal
  shows them, must match the lines after it. ``...`` matches any text within a line, and
  a line of its own ``...`` any number of lines; times (``0.026 ms``) match any time. A
  ``tail -n +1 FILES`` command shows example files: its output is written to them first,
  so the commands after it run on exactly what the page shows.
- ```` ```toml ```` and ```` ```json ````: parsed.

An HTML comment on the line before a block says otherwise:

- ``<!-- doctest: file PATH -->``: the block is written to PATH (a script, a
  ``hookyard.toml``) for the blocks after it.
- ``<!-- doctest: script -->``: a hook script (or part of one): it must compile under the
  sandbox's policy.
- ``<!-- doctest: output -->``: what the Python block before it prints.
- ``<!-- doctest: check NAME -->``: checked by ``CHECKS[NAME]`` below (a transcript that
  needs edits made while it runs).
- ``<!-- doctest: skip REASON -->``: not run, for the reason given (a Kubernetes manifest,
  an install command); a skip without a reason fails.

Any other block fails: nothing is left unchecked without a word.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import linecache
import logging
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import hookyard
from hookyard import _seed
from hookyard._demo import EXAMPLES
from hookyard.audit import audit_source

REPO = Path(__file__).resolve().parent.parent
PAGES = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])
TIMEOUT = 120

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*doctest:\s*(?P<kind>\w+)\s*(?P<arg>.*?)\s*-->\s*$")


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    info: str
    text: str
    directive: str | None = None
    argument: str = ""

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"

    @property
    def language(self) -> str:
        return self.info.split()[0].lower() if self.info.split() else ""

    @property
    def is_transcript(self) -> bool:
        return any(line.startswith("$ ") for line in self.text.splitlines())


def blocks_of(page: Path) -> list[Block]:
    """Every fenced block of ``page`` with the directive just before it, if any."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        fence, indent = match.group("fence"), len(match.group("indent"))
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            body.append(lines[end][indent:] if lines[end][:indent].isspace() else lines[end])
            end += 1
        block = Block(page, index + 1, match.group("info").strip(), "\n".join(body) + "\n")
        before = index - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        directive = _DIRECTIVE.match(lines[before]) if before >= 0 else None
        if directive is not None:
            block.directive, block.argument = directive.group("kind"), directive.group("arg")
        found.append(block)
        index = end + 1
    return found


# -- running a page -------------------------------------------------------------------------
@dataclass
class Page:
    """The state a page's blocks share: a working directory and a Python namespace."""

    directory: Path
    namespace: dict[str, Any] = field(default_factory=lambda: {"__name__": "__doc__"})
    printed: str = ""  # what the last Python block printed


def _prepare(directory: Path) -> None:
    """A copy of the example hook directory, with the modes strict_modes wants."""
    shutil.copytree(EXAMPLES, directory / "hook_scripts")
    for folder, _, files in os.walk(directory):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


def _close_engines(namespace: dict[str, Any]) -> None:
    for value in list(namespace.values()):
        if isinstance(value, hookyard.HookEngine):
            value.close()
        elif hasattr(value, "engine") and isinstance(value.engine, hookyard.HookEngine):
            value.engine.close()


def run_python(block: Block, page: Page) -> None:
    # the block's lines in tracebacks (a failing assert shows its line of the page)
    lines = block.text.splitlines(keepends=True)
    linecache.cache[block.where] = (len(block.text), None, lines, block.where)
    code = compile(block.text, block.where, "exec")
    before = dict(page.namespace)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, page.namespace)
        tests = [
            value
            for name, value in list(page.namespace.items())
            if name.startswith("test_") and callable(value) and before.get(name) is not value
        ]
        for test in tests:
            if inspect.signature(test).parameters:
                run_with_pytest(block, page)  # it takes fixtures: pytest gives them
                break
        else:
            for test in tests:
                test()  # a test the block defines, as pytest would run it
    page.printed = out.getvalue()


def run_with_pytest(block: Block, page: Page) -> None:
    """Run the block as a test file of its own under pytest, fixtures and all."""
    path = page.directory / f"test_block_{block.line}.py"
    path.write_text(block.text, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path.name],
        cwd=page.directory,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{block.where}: pytest said\n{result.stdout}{result.stderr}"


def _normalise(text: str) -> str:
    return re.sub(r"\d+(?:\.\d+)? ms\b", "N ms", text)


def matches(expected: list[str], actual: list[str]) -> bool:
    """``actual`` lines against ``expected`` with ``...`` wildcards (see the docstring)."""
    if not expected:
        return not actual
    head = expected[0]
    if head.strip() == "...":
        return any(matches(expected[1:], actual[skip:]) for skip in range(len(actual) + 1))
    if not actual:
        return False
    pattern = ".*".join(re.escape(part) for part in _normalise(head).split("..."))
    return re.fullmatch(pattern, _normalise(actual[0]).rstrip()) is not None and matches(
        expected[1:], actual[1:]
    )


def commands_of(text: str) -> Iterator[tuple[str, list[str]]]:
    """``(command, expected output lines)`` of a transcript."""
    command: str | None = None
    expected: list[str] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            if command is not None:
                yield command, expected
            command, expected = line[2:], []
        elif command is not None:
            expected.append(line)
    if command is not None:
        yield command, expected


def run_transcript(block: Block, page: Page) -> None:
    status = 0
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "COLUMNS": "100",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for command, expected in commands_of(block.text):
        if command.startswith("tail -n +1 "):
            _write_shown(expected, page.directory)
        result = subprocess.run(
            ["bash", "-c", f"(exit {status}); {command}"],
            cwd=page.directory,
            env=environment,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        status = result.returncode
        actual = (result.stdout + result.stderr).splitlines()
        assert matches(expected, actual), (
            f"{block.where}: `{command}` printed\n" + "\n".join(actual) + "\n\nexpected\n"
        ) + "\n".join(expected)


def _write_shown(lines: list[str], directory: Path) -> None:
    """A page shows its example files with ``tail -n +1 FILES``: its output sets them up
    (``==> path <==``, the content, a blank line before the next header), and the
    commands after it run on them for real."""
    headers = [i for i, line in enumerate(lines) if re.fullmatch(r"==> \S+ <==", line)]
    for number, start in enumerate(headers):
        end = headers[number + 1] - 1 if number + 1 < len(headers) else len(lines)
        path = directory / lines[start][4:-4]
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o755)
        path.write_text("\n".join(lines[start + 1 : end]) + "\n", encoding="utf-8")
        os.chmod(path, 0o644)


def write_file(block: Block, page: Page) -> None:
    assert block.argument, f"{block.where}: `doctest: file` needs a path"
    path = page.directory / block.argument
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o755)
    path.write_text(block.text, encoding="utf-8")
    os.chmod(path, 0o644)


def check_script(block: Block, page: Page) -> None:
    audit = audit_source(textwrap.dedent(block.text), file=block.where)
    refused = [f for f in audit.findings if f.kind in ("syntax", "denied", "import")]
    assert not refused, f"{block.where}: {refused}"


def check_output(block: Block, page: Page) -> None:
    expected = block.text.splitlines()
    actual = page.printed.splitlines()
    assert matches(expected, actual), (
        f"{block.where}: the block before it printed\n" + page.printed + "\nexpected\n"
    ) + block.text


def check_watch_session(block: Block, page: Page) -> None:
    """docs/cli.md's `hookyard watch live` session: the saves it describes are made while
    it runs, each once the line showing the one before is printed."""
    original = "def pre(name, flavor):\n    pass\n"
    saves = [
        (
            "import json\n\n\ndef pre(name, flavor):\n    api.delete_instance(json.dumps(name))\n",
            "  + uses json.dumps",
        ),
        ("def pre(name, flavor:\n    pass\n", "FAILED"),
        (original, "  - uses json.dumps"),
    ]
    script = page.directory / "live" / "create" / "10-note.py"
    script.parent.mkdir(parents=True)
    for folder in (script.parent, script.parent.parent):
        os.chmod(folder, 0o755)
    script.write_text(original)
    os.chmod(script, 0o644)
    ((command, expected),) = list(commands_of(block.text))
    process = subprocess.Popen(
        ["bash", "-c", command],
        cwd=page.directory,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    printed: list[str] = []

    def read_until(prefix: str) -> None:
        while not printed or not printed[-1].startswith(prefix):
            line = process.stdout.readline() if process.stdout else ""
            assert line, f"{block.where}: the watch ended early: {printed}"
            printed.append(line.rstrip("\n"))

    try:
        read_until("watching ")
        for text, shown in saves:
            staged = script.with_name(".10-note.py.tmp")  # an editor's rename into place
            staged.write_text(text)
            os.chmod(staged, 0o644)
            staged.replace(script)
            read_until(shown)
        script.unlink()
        read_until("stopped")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=TIMEOUT)
    assert matches(expected, printed), "\n".join(printed)


CHECKS: dict[str, Callable[[Block, Page], None]] = {"watch-session": check_watch_session}


def run_block(block: Block, page: Page) -> None:
    directive = block.directive
    if directive == "skip":
        assert block.argument, f"{block.where}: `doctest: skip` needs a reason"
    elif directive == "file":
        write_file(block, page)
    elif directive == "script":
        check_script(block, page)
    elif directive == "output":
        check_output(block, page)
    elif directive == "check":
        assert block.argument in CHECKS, f"{block.where}: no check {block.argument!r}"
        CHECKS[block.argument](block, page)
    elif directive is not None:
        raise AssertionError(f"{block.where}: unknown directive `doctest: {directive}`")
    elif block.language == "python":
        run_python(block, page)
    elif block.is_transcript:
        run_transcript(block, page)
    elif block.language == "toml":
        tomllib.loads(block.text)
    elif block.language == "json":
        json.loads(block.text)
    else:
        raise AssertionError(
            f"{block.where}: a ```{block.info} block that is neither run nor checked: make "
            "it a transcript or Python, or say what it is with a `<!-- doctest: ... -->` "
            "comment (see tests/test_docs.py)"
        )


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_every_block_of_the_page_runs(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each block of the page runs (or is checked) in order and does what the page says."""
    _prepare(tmp_path)
    monkeypatch.chdir(tmp_path)
    # a page may make the default engine (configure/add_hook) or configure logging: both
    # are process state, put back afterwards so no other test sees them
    monkeypatch.setattr(_seed, "_default_points", {})
    monkeypatch.setattr(_seed, "_default_hosts", {})
    monkeypatch.setattr(_seed, "_default_engine", None)
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in ("hookyard", "hookyard.audit"))]
    saved = [(logger, logger.level, list(logger.handlers)) for logger in loggers]
    state = Page(tmp_path)
    try:
        for block in blocks_of(page):
            run_block(block, state)
    finally:
        _close_engines(state.namespace)
        if _seed._default_engine is not None:
            _seed._default_engine.close()
        for logger, level, handlers in saved:
            logger.setLevel(level)
            logger.handlers[:] = handlers


def test_blocks_are_found() -> None:
    """The discovery sees the README's and the docs' blocks (a guard for the parser)."""
    readme = blocks_of(REPO / "README.md")
    assert [b.language for b in readme][:2] == ["python", "python"]
    assert sum(len(blocks_of(page)) for page in PAGES) > 40


def test_wildcards() -> None:
    """``...`` matches within a line and across lines; times match any time."""
    assert matches(["a ... c"], ["a b c"])
    assert matches(["x", "...", "z"], ["x", "1", "2", "z"])
    assert matches(["x", "...", "z"], ["x", "z"])
    assert matches(["t (0.026 ms)"], ["t (3.5 ms)"])
    assert not matches(["x", "z"], ["x", "y", "z"])
    assert not matches(["a b"], ["a c"])
