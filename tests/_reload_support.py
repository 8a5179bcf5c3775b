"""Helpers for the hot-reload tests: a probe engine, editor save patterns, caller threads.

No test sleeps to synchronise: it waits on a condition (a reload listener's event, or a
predicate polled until a generous deadline). Timing goals live in benchmarks/reload.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hookyard

# Generous: a loaded 2-core machine must never fail a test by being slow.
DEADLINE = 10.0


def script(tag: str) -> str:
    """A script whose ``post`` replaces the probe's result with ``tag``."""
    return f'def post(rv, *args, **kwargs):\n    return "{tag}"\n'


def version_of(text: str) -> str:
    """The version (sha256) the engine gives ``text``."""
    return hashlib.sha256(text.encode()).hexdigest()


# -- save patterns (each writes the whole content in one write(2): a reader sees the file
#    empty or whole, never torn) ----------------------------------------------------------
def write_inplace(path: Path, text: str) -> None:
    """Truncate, write, close: what most tools and ``echo > file`` do."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def write_replace(path: Path, text: str) -> None:
    """Write a hidden temp file next to it, then rename it into place."""
    temp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    write_inplace(temp, text)
    os.replace(temp, path)


def save_vim(path: Path, text: str) -> None:
    """vim's default (backupcopy=auto, writebackup): probe ``4913``, rename the original to
    ``name~``, write a new ``name``, delete the backup."""
    probe = path.with_name("4913")
    probe.touch()
    probe.unlink()
    backup = path.with_name(path.name + "~")
    os.rename(path, backup)
    write_inplace(path, text)
    backup.unlink()


def save_jetbrains(path: Path, text: str) -> None:
    """JetBrains "safe write": ``X___jb_tmp___`` written, ``X`` -> ``X___jb_old___``,
    tmp -> ``X``, old deleted."""
    temp = path.with_name(path.name + "___jb_tmp___")
    old = path.with_name(path.name + "___jb_old___")
    write_inplace(temp, text)
    os.rename(path, old)
    os.rename(temp, path)
    old.unlink()


def save_emacs(path: Path, text: str) -> None:
    """Emacs' default: a ``.#name`` lock symlink and ``#name#`` auto-save, the original
    renamed to ``name~``, the new file written."""
    lock = path.with_name(".#" + path.name)
    autosave = path.with_name("#" + path.name + "#")
    os.symlink("user@host.1234:1700000000", lock)
    write_inplace(autosave, text)
    os.rename(path, path.with_name(path.name + "~"))
    write_inplace(path, text)
    autosave.unlink()
    lock.unlink()


SAVES: dict[str, Callable[[Path, str], None]] = {
    "in-place": write_inplace,
    "temp-then-rename": write_replace,
    "vim": save_vim,
    "jetbrains": save_jetbrains,
    "emacs": save_emacs,
}


# -- waiting ---------------------------------------------------------------------------
def wait_until(predicate: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    """Poll ``predicate`` until it is truthy (returned) or the deadline fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.001)  # a poll interval, not a synchronisation: the predicate decides


class Events:
    """A reload listener that keeps every event and lets a test wait for one."""

    def __init__(self, engine: hookyard.HookEngine) -> None:
        self.seen: list[hookyard.ReloadEvent] = []
        self._cond = threading.Condition()
        engine.add_reload_listener(self)

    def __call__(self, event: hookyard.ReloadEvent) -> None:
        with self._cond:
            self.seen.append(event)
            self._cond.notify_all()

    def wait_for(
        self, predicate: Callable[[hookyard.ReloadEvent], bool], what: str, start: int = 0
    ) -> hookyard.ReloadEvent:
        """The first event from index ``start`` on that satisfies ``predicate``."""
        deadline = time.monotonic() + DEADLINE
        with self._cond:
            while True:
                for event in self.seen[start:]:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; saw {self.seen}")
                self._cond.wait(left)

    def loaded(self, text: str, start: int = 0) -> hookyard.ReloadEvent:
        version = version_of(text)
        return self.wait_for(
            lambda e: e.ok and e.new_version == version, f"version {version[:12]} live", start
        )

    def removed(self, file: Path, start: int = 0) -> hookyard.ReloadEvent:
        return self.wait_for(lambda e: e.removed and e.file == str(file), f"{file} removed", start)

    def mark(self) -> int:
        with self._cond:
            return len(self.seen)


# -- a probe engine -----------------------------------------------------------------------
@dataclass
class Probe:
    """An engine over ``root`` with one hooked function per point that returns "none"
    unless a script replaces the result."""

    engine: hookyard.HookEngine
    root: Path
    events: Events
    calls: dict[str, Callable[[], Any]] = field(default_factory=dict)

    def hook(self, point: str) -> Callable[[], Any]:
        """The probe function for ``point`` (decorated once)."""
        if point not in self.calls:

            @self.engine.hook(point, result="replace")
            def probe() -> str:
                return "none"

            self.calls[point] = probe
        return self.calls[point]

    def call(self, point: str = "p") -> Any:
        return self.hook(point)()

    def path(self, name: str = "a.py", point: str = "p") -> Path:
        return self.root / point / name


def make_root(base: Path, scripts: dict[str, str]) -> Path:
    """A hook directory under ``base`` with ``{"point/name.py": source}``."""
    root = base / "hooks"
    root.mkdir(parents=True, exist_ok=True)
    for relative, source in scripts.items():
        path = root / relative
        path.parent.mkdir(exist_ok=True)
        write_inplace(path, source)
    return root


@contextmanager
def probe_engine(
    base: Path, scripts: dict[str, str], *, start: bool = True, **options: Any
) -> Iterator[Probe]:
    """A probe over a fresh hook directory, watching unless ``start=False``; closed after."""
    root = make_root(base, scripts)
    engine = hookyard.HookEngine(root, **options)
    probe = Probe(engine, root, Events(engine))
    for point in {relative.split("/")[0] for relative in scripts} | {"p"}:
        probe.hook(point)  # decorate up front: callers never race the decoration
    try:
        if start:
            engine.start()
        yield probe
    finally:
        engine.close()


# -- concurrent callers -----------------------------------------------------------------
class Callers:
    """Threads calling ``probe.call()`` until stopped, each keeping the distinct
    consecutive results it saw (so ``v1 v1 v2`` is kept as ``v1 v2``) and any exception."""

    def __init__(self, probe: Probe, threads: int = 4, point: str = "p") -> None:
        self._probe = probe
        self._point = point
        self._stop = threading.Event()
        self.sequences: list[list[Any]] = [[] for _ in range(threads)]
        self.errors: list[BaseException] = []
        self.calls = 0
        self._threads = [
            threading.Thread(target=self._run, args=(i,), name=f"caller-{i}", daemon=True)
            for i in range(threads)
        ]

    def _run(self, index: int) -> None:
        sequence = self.sequences[index]
        call = self._probe.calls[self._point]
        count = 0
        while not self._stop.is_set():
            try:
                value = call()
            except BaseException as exc:
                self.errors.append(exc)
                return
            count += 1
            if not sequence or sequence[-1] != value:
                sequence.append(value)
        self.calls += count  # a race on += across threads is harmless: only a rough count

    def __enter__(self) -> Callers:
        for thread in self._threads:
            thread.start()
        # every caller has answered at least once before the test starts changing files
        wait_until(lambda: all(self.sequences), "every caller to answer once")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def assert_whole_versions(self, order: list[str]) -> None:
        """No call failed, every result is one of ``order`` (never "none": no gap), and
        each thread saw versions only move forward (calls never see an older version
        come back)."""
        assert not self.errors, f"calls failed during reloads: {self.errors!r}"
        rank = {tag: i for i, tag in enumerate(order)}
        for sequence in self.sequences:
            assert all(value in rank for value in sequence), f"gap or stray result: {sequence}"
            ranks = [rank[value] for value in sequence]
            assert ranks == sorted(ranks), f"a version went backwards: {sequence}"


# -- fleet deliveries: each reproduces a real tool's sequence of system calls ------------
def chain(tag: str) -> str:
    """A script whose ``post`` appends ``|tag`` to the result: a point's scripts chain in
    file order, so a call's result names every version it ran ("none|a1|b1")."""
    return f'def post(rv, *args, **kwargs):\n    return rv + "|{tag}"\n'


def _tree(files: dict[str, str]) -> set[str]:
    """Every relative path of ``files`` and of the folders on the way to them."""
    paths = set()
    for relative in files:
        parts = relative.split("/")
        paths.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return paths


def _now() -> None:
    """The default ``on_switch``: nothing to record."""


def configmap_write(
    target: Path, payload: dict[str, str], mode: int = 0o644, on_switch: Callable[[], None] = _now
) -> None:
    """Write a ConfigMap or Secret volume the way the kubelet's AtomicWriter does
    (kubernetes ``pkg/volume/util/atomic_writer.go``, ``Write``): the payload in a new
    ``..<timestamp>.<random>`` folder, a ``..data_tmp`` symlink to it renamed over
    ``..data``, user-visible ``<name> -> ..data/<name>`` links for new top-level names,
    old top-level names removed, the old data folder removed."""
    target.mkdir(parents=True, exist_ok=True)
    data = target / "..data"
    old = os.readlink(data) if os.path.islink(data) else ""
    remove: set[str] = set()
    if old:
        old_dir = target / old
        current = {str(path.relative_to(old_dir)) for path in old_dir.rglob("*")}
        remove = current - _tree(payload)
        unchanged = all(
            (old_dir / name).is_file() and (old_dir / name).read_text() == text
            for name, text in payload.items()
        )
        if unchanged and not remove:
            return  # the kubelet writes nothing when nothing changed
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    fresh = Path(tempfile.mkdtemp(prefix=stamp, dir=target))
    fresh.chmod(0o755)
    for name, text in payload.items():
        path = fresh / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_inplace(path, text)
        path.chmod(mode)
    os.symlink(fresh.name, target / "..data_tmp")
    on_switch()
    os.rename(target / "..data_tmp", data)
    for name in payload:
        top = name.split("/")[0]
        if not os.path.lexists(target / top):
            os.symlink(f"..data/{top}", target / top)
    for name in sorted(remove, reverse=True):
        if "/" not in name:
            os.remove(target / name)
    if old:
        shutil.rmtree(target / old)


def git_sync(
    root: Path, files: dict[str, str], link: str = "repo", on_switch: Callable[[], None] = _now
) -> None:
    """Publish a revision as git-sync does (kubernetes/git-sync ``main.go``): checked out
    in ``<root>/.worktrees/<hash>``, a ``tmp-link`` symlink to it renamed over the
    ``link``, the old worktree removed after (``--stale-worktree-timeout`` 0)."""
    digest = hashlib.sha1(repr(sorted(files.items())).encode()).hexdigest()
    worktree = root / ".worktrees" / digest
    worktree.mkdir(parents=True)
    write_inplace(worktree / ".git", f"gitdir: ../../.git/worktrees/{digest}\n")
    for name, text in files.items():
        path = worktree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_inplace(path, text)
    old = os.readlink(root / link) if os.path.islink(root / link) else ""
    os.symlink(os.path.relpath(worktree, root), root / "tmp-link")
    on_switch()
    os.rename(root / "tmp-link", root / link)
    if old:
        shutil.rmtree(root / old)


def release_deploy(base: Path, files: dict[str, str], on_switch: Callable[[], None] = _now) -> None:
    """Write ``releases/<n+1>`` and switch ``current`` to it atomically (``ln -s
    releases/<n> current.tmp && mv -T current.tmp current``); old releases are kept."""
    releases = base / "releases"
    number = len(list(releases.iterdir())) + 1 if releases.is_dir() else 1
    for name, text in files.items():
        path = releases / str(number) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_inplace(path, text)
    os.symlink(f"releases/{number}", base / "current.tmp")
    on_switch()
    os.rename(base / "current.tmp", base / "current")


def rsync_delay_updates(
    dest: Path,
    files: dict[str, str],
    on_switch: Callable[[], None] = _now,
    on_renamed: Callable[[], None] = _now,
) -> None:
    """``rsync -a --delay-updates --delete-after SRC/ DEST/`` as its processes touch DEST
    (rsync ``receiver.c``, ``util1.c``): new folders made first; each changed file written
    to a ``.<name>.XXXXXX`` temp file beside it, then renamed into ``.~tmp~/<name>``; at the
    end every held file renamed into place, ``rmdir .~tmp~`` tried after each (it works
    after the last); then files and folders not in the source deleted (rsync's generator
    does that once the receiver reports its renames done: ``on_renamed`` runs between)."""
    wanted = _tree(files)
    for relative in sorted(wanted):
        if relative not in files:
            (dest / relative).mkdir(parents=True, exist_ok=True)
    held = []
    for relative, text in sorted(files.items()):
        path = dest / relative
        if path.is_file() and path.read_text() == text:
            continue  # quick check: unchanged
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temp, 0o644)
        holding = path.parent / ".~tmp~"
        holding.mkdir(mode=0o700, exist_ok=True)
        os.rename(temp, holding / path.name)
        held.append(path)
    on_switch()  # the first file goes into place: the update starts to show
    for path in held:
        os.rename(path.parent / ".~tmp~" / path.name, path)
        with contextlib.suppress(OSError):  # not empty yet
            os.rmdir(path.parent / ".~tmp~")
    on_renamed()
    for path in sorted(dest.rglob("*"), reverse=True):
        if str(path.relative_to(dest)) not in wanted:
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()


DELIVERIES: dict[str, Callable[..., None]] = {
    "configmap": configmap_write,
    "git-sync": git_sync,
    "release": release_deploy,
    "rsync": rsync_delay_updates,
}


def apart(delivery: str, where: Path, files: dict[str, str]) -> None:
    """Run a delivery in a process of its own, as the real tool runs: its system calls
    follow each other as fast as the tool's do, not at the pace the host's threads leave
    this interpreter's lock."""
    code = (
        "import json, sys; from pathlib import Path; "
        "from tests._reload_support import DELIVERIES; "
        "DELIVERIES[sys.argv[1]](Path(sys.argv[2]), json.loads(sys.argv[3]))"
    )
    subprocess.run(
        [sys.executable, "-c", code, delivery, str(where), json.dumps(files)],
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
