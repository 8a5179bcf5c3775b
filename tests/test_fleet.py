"""Hook directories delivered to fleets (issue 15): each delivery tool's real sequence of
system calls, step by step, with threads calling the hooks while it happens.

Every update must go live whole: a point's scripts switch together (a call's result names
every version it ran, and it must be all old or all new), the entries the update removed
stop, a script that fails to compile keeps its last good version while the rest switch.
Timing goals (100 ms at p99) live in benchmarks/reload.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

import hookyard
from tests._reload_support import (
    Callers,
    Events,
    apart,
    chain,
    configmap_write,
    make_root,
    release_deploy,
    rsync_delay_updates,
    version_of,
    wait_until,
)
from tests.conftest import PROCESS

BROKEN = "def post(rv, *args, **kwargs):\n    return (\n"  # SyntaxError at line 2

OLD = {
    "p/10-a.py": chain("a1"),
    "p/20-b.py": chain("b1"),
    "q/10-x.py": chain("x1"),
    "gone/10-g.py": chain("g1"),
}
NEW = {
    "p/10-a.py": chain("a2"),  # changed; 20-b.py removed
    "q/10-x.py": chain("x2"),
    "q/20-y.py": chain("y2"),  # added
    "fresh/10-f.py": chain("f2"),  # a new point; "gone" removed
}
POINTS = ("p", "q", "gone", "fresh")


class Host:
    """An engine over ``directory`` with one probe per point (each returns "none" unless
    scripts replace the result) and threads calling ``p`` and ``q`` throughout."""

    def __init__(self, directory: Path, **options: Any) -> None:
        self.engine = hookyard.HookEngine(directory, **options)
        self.events = Events(self.engine)
        self.calls: dict[str, Callable[[], Any]] = {}
        for point in POINTS:

            @self.engine.hook(point, result="replace")
            def probe() -> str:
                return "none"

            self.calls[point] = probe

    def call(self, point: str) -> Any:
        return self.calls[point]()

    def results(self) -> dict[str, Any]:
        return {point: self.call(point) for point in POINTS}


# what the probes answer before and after the update
BEFORE = {"p": "none|a1|b1", "q": "none|x1", "gone": "none|g1", "fresh": "none"}
AFTER = {"p": "none|a2", "q": "none|x2|y2", "gone": "none", "fresh": "none|f2"}


@contextmanager
def running(host: Host) -> Iterator[tuple[Callers, Callers]]:
    """The engine watching, and callers on ``p`` and ``q`` until the block ends."""
    with ExitStack() as stack:
        stack.callback(host.engine.close)
        host.engine.start()
        probe = Probe(host)
        on_p = stack.enter_context(Callers(probe, threads=2, point="p"))  # type: ignore[arg-type]
        on_q = stack.enter_context(Callers(probe, threads=2, point="q"))  # type: ignore[arg-type]
        yield on_p, on_q


class Probe:
    """What ``Callers`` needs: ``calls[point]``."""

    def __init__(self, host: Host) -> None:
        self.calls = host.calls


def plain_fingerprint(tmp_path: Path, files: dict[str, str]) -> str:
    """The fingerprint of an engine over a plain directory holding ``files``: what any
    other host serving the same files reports."""
    engine = hookyard.HookEngine(make_root(tmp_path / "elsewhere", files))
    try:
        return engine.fingerprint()
    finally:
        engine.close()


# rsync --delete-after deletes only once its renames are done (rsync generator.c), so the
# disk holds p's renamed 10-a.py beside the 20-b.py about to go for a while: a whole state
# of its own (never the old 10-a.py without 20-b.py).
RENAMED = {"p": "none|a2|b1"}


def check_switch(
    host: Host, on_p: Callers, on_q: Callers, tmp_path: Path, between: dict[str, str] | None = None
) -> None:
    """After an update of OLD to NEW: it went live whole and exactly (by way of the states
    ``between`` names, if a call saw them)."""
    wait_until(lambda: host.results() == AFTER, "the new generation to answer every call")
    on_p.__exit__()
    on_q.__exit__()
    middle = between or {}
    for point, callers in (("p", on_p), ("q", on_q)):
        steps = [BEFORE[point], *([middle[point]] if point in middle else []), AFTER[point]]
        callers.assert_whole_versions(steps)
    assert host.engine.points() == {
        "fresh": ("10-f.py",),
        "gone": (),
        "p": ("10-a.py",),
        "q": ("10-x.py", "20-y.py"),
    }
    assert host.engine.fingerprint() == plain_fingerprint(tmp_path, NEW)


MODES = [pytest.param(False, id="inotify"), pytest.param(0.05, id="polling")]


def inside(folder: str, files: dict[str, str]) -> dict[str, str]:
    """``files`` one folder deeper (the hook directory inside a repository or release)."""
    return {f"{folder}/{name}": text for name, text in files.items()}


# -- Kubernetes ConfigMap / Secret volumes ---------------------------------------------------
@pytest.mark.parametrize("polling", MODES)
def test_configmap_update_is_one_generation(tmp_path: Path, polling: Any) -> None:
    """A ConfigMap volume updated as the kubelet does it (new data folder, ``..data_tmp``
    renamed over ``..data``, new links, old links and folder removed) goes live whole: a
    point's changed, added and removed scripts switch together, a removed point stops, a
    new one starts, and the fingerprint is that of any host serving the new files."""
    volume = tmp_path / "volume"
    configmap_write(volume, OLD)
    assert os.path.islink(volume / "p") and os.path.islink(volume / "..data")
    host = Host(volume, polling=polling)
    assert host.results() == BEFORE
    with running(host) as (on_p, on_q):
        apart("configmap", volume, NEW)
        check_switch(host, on_p, on_q, tmp_path)


def test_configmap_update_in_process_isolation(tmp_path: Path) -> None:
    """The same ConfigMap update with scripts in worker processes."""
    volume = tmp_path / "volume"
    configmap_write(volume, OLD)
    host = Host(volume, isolation=PROCESS)
    with running(host) as (on_p, on_q):
        apart("configmap", volume, NEW)
        check_switch(host, on_p, on_q, tmp_path)


def test_configmap_broken_script_keeps_its_last_good_version(tmp_path: Path) -> None:
    """A script that fails to compile in the new generation keeps its last good version
    serving and is reported with ``file:line``, while the rest of the update switches."""
    volume = tmp_path / "volume"
    configmap_write(volume, OLD)
    host = Host(volume)
    with running(host) as (on_p, on_q):
        apart("configmap", volume, {**NEW, "q/10-x.py": BROKEN})
        wait_until(lambda: host.call("q") == "none|x1|y2", "the rest of q to switch")
        wait_until(lambda: host.call("p") == AFTER["p"], "p to switch")
        on_p.__exit__()
        on_q.__exit__()
        on_p.assert_whole_versions([BEFORE["p"], AFTER["p"]])
        on_q.assert_whole_versions([BEFORE["q"], "none|x1|y2"])
    [status] = [s for s in host.engine.status() if s.file.endswith("q/10-x.py")]
    assert not status.ok and status.version == version_of(chain("x1"))
    assert f"{volume / 'q' / '10-x.py'}:2" in (status.error or "")


def test_configmap_many_updates_in_a_row(tmp_path: Path) -> None:
    """Twenty updates in quick succession: every call sees one whole generation, in order,
    and the last one is what serves."""
    volume = tmp_path / "volume"
    configmap_write(volume, {"p/10-a.py": chain("a0"), "p/20-b.py": chain("b0")})
    host = Host(volume)
    with running(host) as (on_p, _):
        for n in range(1, 21):
            configmap_write(volume, {"p/10-a.py": chain(f"a{n}"), "p/20-b.py": chain(f"b{n}")})
        wait_until(lambda: host.call("p") == "none|a20|b20", "the last update to serve")
        on_p.__exit__()
        on_p.assert_whole_versions([f"none|a{n}|b{n}" for n in range(21)])


def reload_changing_under_the_first_read(host: Host, change: Callable[[], None]) -> None:
    """``reload()`` with ``change`` made right after the first script is read."""
    engine = host.engine
    real_read = engine._read
    changed: list[bool] = []

    def read_and_change(point: str, path: Path) -> Any:
        result = real_read(point, path)
        if not changed:
            changed.append(True)
            change()
        return result

    engine._read = read_and_change  # type: ignore[method-assign]
    engine.reload()


def test_configmap_swap_during_a_generation_read(tmp_path: Path) -> None:
    """A swap that lands while the engine is reading a generation makes it read again:
    what goes live is one generation, never half of each."""
    volume = tmp_path / "volume"
    configmap_write(volume, {"p/10-a.py": chain("a1"), "p/20-b.py": chain("b1")})
    host = Host(volume)
    configmap_write(volume, {"p/10-a.py": chain("a2"), "p/20-b.py": chain("b2")})
    # the first file read is of generation 2; swap to 3 under it
    reload_changing_under_the_first_read(
        host, lambda: configmap_write(volume, {"p/10-a.py": chain("a3"), "p/20-b.py": chain("b3")})
    )
    assert host.call("p") == "none|a3|b3"
    host.engine.close()


def test_point_folder_changed_during_a_read_is_read_again(tmp_path: Path) -> None:
    """A point folder whose files are renamed in while a generation reads it (an rsync
    run's renames landing under the read) is read again: what goes live is the folder as
    it was at one moment, never the file read before the renames beside one read after."""
    root = make_root(tmp_path, {"p/10-a.py": chain("a1"), "p/20-b.py": chain("b1")})
    host = Host(root)

    def rename_in() -> None:  # 10-a.py was read as a1; now a2 and b2 are renamed into place
        for name, tag in (("10-a.py", "a2"), ("20-b.py", "b2")):
            temp = root / "p" / f".{name}.tmp"
            temp.write_text(chain(tag))
            os.rename(temp, root / "p" / name)

    reload_changing_under_the_first_read(host, rename_in)
    assert host.call("p") == "none|a2|b2"
    host.engine.close()


def test_mounted_configmap_root_is_a_symlink(tmp_path: Path) -> None:
    """The hook directory given as a symlink to the volume works the same way."""
    volume = tmp_path / "volume"
    configmap_write(volume, OLD)
    (tmp_path / "hooks").symlink_to(volume)
    host = Host(tmp_path / "hooks")
    with running(host) as (on_p, on_q):
        apart("configmap", volume, NEW)
        check_switch(host, on_p, on_q, tmp_path)


# -- git-sync -------------------------------------------------------------------------------
@pytest.mark.parametrize("polling", MODES)
def test_git_sync_link_above_the_hook_directory(tmp_path: Path, polling: Any) -> None:
    """git-sync publishing a new worktree (``tmp-link`` renamed over its link, the old
    worktree removed) with the hook directory inside the repository: the swap above the
    hook directory is one generation."""
    git = tmp_path / "git"
    apart("git-sync", git, inside("hook_scripts", OLD))
    host = Host(git / "repo" / "hook_scripts", polling=polling)
    assert host.results() == BEFORE
    with running(host) as (on_p, on_q):
        apart("git-sync", git, inside("hook_scripts", NEW))
        check_switch(host, on_p, on_q, tmp_path)


def test_git_sync_link_is_the_hook_directory(tmp_path: Path) -> None:
    """The hook directory is git-sync's link itself."""
    git = tmp_path / "git"
    apart("git-sync", git, OLD)
    host = Host(git / "repo")
    with running(host) as (on_p, on_q):
        apart("git-sync", git, NEW)
        check_switch(host, on_p, on_q, tmp_path)


# -- current -> releases/N ------------------------------------------------------------------
@pytest.mark.parametrize("polling", MODES)
def test_release_switch(tmp_path: Path, polling: Any) -> None:
    """``current -> releases/N`` switched to a new release is one generation."""
    app = tmp_path / "app"
    release_deploy(app, OLD)
    host = Host(app / "current", polling=polling)
    with running(host) as (on_p, on_q):
        apart("release", app, NEW)
        check_switch(host, on_p, on_q, tmp_path)


def test_release_switch_back(tmp_path: Path) -> None:
    """Switching back to the previous release (a rollback) restores it whole."""
    app = tmp_path / "app"
    release_deploy(app, OLD)
    release_deploy(app, NEW)
    host = Host(app / "current")
    with running(host) as (on_p, _):
        os.symlink("releases/1", app / "current.tmp")
        os.rename(app / "current.tmp", app / "current")
        wait_until(lambda: host.results() == BEFORE, "the rollback to serve")
        on_p.__exit__()
        on_p.assert_whole_versions([AFTER["p"], BEFORE["p"]])


def test_release_hook_directory_below_the_link(tmp_path: Path) -> None:
    """The hook directory inside the release (``current/hook_scripts``)."""
    app = tmp_path / "app"
    release_deploy(app, inside("hook_scripts", OLD))
    host = Host(app / "current" / "hook_scripts")
    with running(host) as (on_p, on_q):
        apart("release", app, inside("hook_scripts", NEW))
        check_switch(host, on_p, on_q, tmp_path)


# -- rsync --delay-updates ------------------------------------------------------------------
@pytest.mark.parametrize("polling", MODES)
def test_rsync_delay_updates(tmp_path: Path, polling: Any) -> None:
    """``rsync --delay-updates --delete-after``: each point's updated and new files switch
    together, and the files it deletes stop with them or right after (never before)."""
    root = make_root(tmp_path, OLD)
    host = Host(root, polling=polling)
    with running(host) as (on_p, on_q):
        apart("rsync", root, NEW)
        check_switch(host, on_p, on_q, tmp_path, between=RENAMED)


@pytest.mark.parametrize("polling", MODES)
def test_rsync_deletions_after_the_generation(tmp_path: Path, polling: Any) -> None:
    """rsync's ``--delete-after`` pass held back until its renamed files serve: calls see
    the old files, then the renamed ones beside the files about to go, then the final
    state, in that order; the deletions never take effect before the renamed files."""
    root = make_root(tmp_path, OLD)
    host = Host(root, polling=polling)

    def renamed() -> None:
        wait_until(lambda: host.call("p") == RENAMED["p"], "the renamed files to serve")

    with running(host) as (on_p, on_q):
        rsync_delay_updates(root, NEW, on_renamed=renamed)
        check_switch(host, on_p, on_q, tmp_path, between=RENAMED)


# -- the directory itself ---------------------------------------------------------------------
def test_point_folder_renamed_into_place(tmp_path: Path) -> None:
    """A point folder built elsewhere and renamed over the old one's place (the old one
    renamed away first) switches whole: nothing of the old folder outlives the switch."""
    root = make_root(tmp_path, OLD)
    host = Host(root)
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "10-a.py").write_text(chain("a2"))
    with running(host) as (on_p, _):
        os.rename(root / "p", tmp_path / "p.old")
        os.rename(staged, root / "p")
        wait_until(lambda: host.call("p") == AFTER["p"], "the new folder to serve")
        on_p.__exit__()
        on_p.assert_whole_versions([BEFORE["p"], AFTER["p"]])


def test_editor_saves_in_a_symlinked_point_folder(tmp_path: Path) -> None:
    """A point folder that is a symlink inside the directory (``create -> _shared/p``) is
    followed: a save in its target goes live, known by the point's name."""
    root = make_root(tmp_path, {})
    (root / "_shared" / "p").mkdir(parents=True)
    (root / "_shared" / "p" / "10-a.py").write_text(chain("a1"))
    (root / "p").symlink_to("_shared/p")
    host = Host(root)
    with running(host):
        (root / "_shared" / "p" / "10-a.py").write_text(chain("a2"))
        wait_until(lambda: host.call("p") == "none|a2", "the save to serve")
    assert [s.file for s in host.engine.status()] == [str(root / "p" / "10-a.py")]


def test_symlinked_point_folder_leading_outside_is_refused(tmp_path: Path) -> None:
    """A point folder linked to a folder outside the hook directory's tree is still
    refused (a ConfigMap's links resolve into its own ``..data``, which is inside)."""
    outside = make_root(tmp_path / "outside", {"p/10-a.py": chain("a1")})
    root = make_root(tmp_path, {})
    (root / "p").symlink_to(outside / "p")
    host = Host(root)
    [status] = host.engine.status()
    assert not status.ok and "outside the hook directory" in (status.error or "")
    assert host.call("p") == "none"
    host.engine.close()


def test_directory_replaced_while_a_generation_loads_whole(tmp_path: Path) -> None:
    """``reload()`` by hand on a swapped directory (not watching) reads one generation:
    the removed scripts go in the same swap."""
    app = tmp_path / "app"
    release_deploy(app, OLD)
    host = Host(app / "current")
    release_deploy(app, NEW)
    host.engine.reload()
    assert host.results() == AFTER
    shutil.rmtree(tmp_path / "app" / "releases" / "1")
    host.engine.close()


# -- the fingerprint --------------------------------------------------------------------------
def test_fingerprint_changes_with_any_update(tmp_path: Path) -> None:
    """Any update changes the fingerprint: an edit, a new script, a rename, a removal;
    the same serving files give the same fingerprint again."""
    root = make_root(tmp_path, {"p/10-a.py": chain("a1")})
    engine = hookyard.HookEngine(root)
    seen = [engine.fingerprint()]
    steps: list[Callable[[], Any]] = [
        lambda: (root / "p" / "10-a.py").write_text(chain("a2")),
        lambda: (root / "p" / "20-b.py").write_text(chain("b")),
        lambda: os.rename(root / "p" / "20-b.py", root / "p" / "30-b.py"),
        lambda: os.rename(root / "p" / "30-b.py", root / "q.py"),
        lambda: (root / "p" / "10-a.py").write_text(chain("a1")),
    ]
    for step in steps:
        step()
        engine.reload()
        seen.append(engine.fingerprint())
    assert len(set(seen[:4])) == 4  # a1; a2; a2 + 20-b; a2 + 30-b
    assert seen[4] == seen[1]  # 30-b moved out: a2 alone again
    assert seen[5] == seen[0]  # a1 alone again
    engine.close()


def test_fingerprint_counts_the_version_serving(tmp_path: Path) -> None:
    """A broken save leaves the fingerprint of the version still serving, so a host that
    could not load an update does not look as if it had."""
    root = make_root(tmp_path, {"p/10-a.py": chain("a1")})
    engine = hookyard.HookEngine(root)
    before = engine.fingerprint()
    (root / "p" / "10-a.py").write_text(BROKEN)
    engine.reload()
    assert engine.fingerprint() == before
    engine.close()


def test_list_prints_the_fingerprint_of_a_volume(tmp_path: Path) -> None:
    """``hookyard list`` on a ConfigMap volume prints the fingerprint a host serving it
    reports."""
    volume = tmp_path / "volume"
    configmap_write(volume, OLD)
    host = Host(volume)
    result = subprocess.run(
        [sys.executable, "-m", "hookyard.cli", "list", str(volume)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"fingerprint: {host.engine.fingerprint()}"
    host.engine.close()
