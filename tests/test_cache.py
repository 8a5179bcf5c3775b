"""The compiled-script cache (DESIGN "Host side"; issue 17): a restart loads compiled code
from the host's own cache directory, and an entry is never trusted blindly.

Trust is the directory's: only the host's user may write it (mode 0700, owned by that
user, no symlink; the pack file private too). A forged entry -- code that is not what the
script's source compiles to -- is never run from a directory anybody else could write,
and anything unexpected in a pack (a bad checksum, another interpreter's key, something
that is not a code object for that file) is compiled afresh from the source.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

import hookyard
from hookyard import _cache, _loader
from tests.conftest import PROCESS, MakeEngine

SCRIPT = """\
def pre(x):
    if x == "forged?":
        raise Veto("the real script ran")
"""
FORGED = """\
def pre(x):
    raise Veto("FORGED CODE RAN")
"""


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files compiled from source from now on (a cache hit compiles nothing)."""
    seen: list[str] = []
    real = _loader.compile_source

    def counting(source: str, filename: str) -> Any:
        seen.append(filename)
        return real(source, filename)

    monkeypatch.setattr(_loader, "compile_source", counting)
    return seen


def _engine(root: Path, cache: Path | None, **options: Any) -> hookyard.HookEngine:
    engine = hookyard.HookEngine(root, cache_dir=cache, **options)

    @engine.hook("p", veto=True)
    def p(x: str) -> str:
        return x

    engine.p = p  # type: ignore[attr-defined]  # the hooked function, for the test
    return engine


def _write(root: Path, name: str = "10-a.py", source: str = SCRIPT) -> Path:
    path = root / "p" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def _outcome(engine: hookyard.HookEngine) -> str:
    try:
        engine.p("forged?")  # type: ignore[attr-defined]
    except hookyard.HookVetoed as vetoed:
        return vetoed.reason
    return "no veto"


def _pack(cache: Path) -> Path:
    (pack,) = cache.glob("*.pack")
    return pack


def _forge(cache: Path, script: Path, source: str, *, filename: str | None = None) -> None:
    """Rewrite the pack as an attacker who knows the format would: the script's entry
    (right path, right source hash) holds code compiled from ``source``, checksum right."""
    pack = _pack(cache)
    entries = _cache._parse(pack.read_bytes())
    assert entries is not None and str(script) in entries
    code = compile(source, filename or str(script), "exec")
    entries[str(script)] = (entries[str(script)][0], marshal.dumps(code))
    body = marshal.dumps((_cache.pack_key(), entries))
    data = _cache._MAGIC + hashlib.sha256(body).digest() + body
    pack.write_bytes(data)


def test_a_restart_loads_from_the_cache(tmp_path: Path, compiles: list[str]) -> None:
    """The first load compiles and writes one private pack; a restart compiles nothing
    and its scripts behave the same."""
    root, cache = tmp_path / "hooks", tmp_path / "cache"
    _write(root, "10-a.py")
    _write(root, "20-b.py")
    first = _engine(root, cache)
    assert len(compiles) == 2
    assert _outcome(first) == "the real script ran"
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    assert oct(_pack(cache).stat().st_mode & 0o777) == "0o600"
    compiles.clear()
    second = _engine(root, cache)
    assert compiles == []
    assert _outcome(second) == "the real script ran"
    assert [s.ok for s in second.status()] == [True, True]


def test_an_edited_script_is_compiled_again(tmp_path: Path, compiles: list[str]) -> None:
    """A changed source misses (its hash is the key) and the pack is updated; a removed
    script's entry goes with the next rescan."""
    root, cache = tmp_path / "hooks", tmp_path / "cache"
    script = _write(root, "10-a.py")
    gone = _write(root, "20-b.py")
    _engine(root, cache)
    _write(root, "10-a.py", 'def pre(x):\n    raise Veto("edited")\n')
    gone.unlink()
    compiles.clear()
    engine = _engine(root, cache)
    assert compiles == [str(script)]
    assert _outcome(engine) == "edited"
    entries = _cache._parse(_pack(cache).read_bytes())
    assert entries is not None and list(entries) == [str(script)]
    compiles.clear()
    _engine(root, cache)
    assert compiles == []


def test_none_turns_the_cache_off(
    tmp_path: Path, compiles: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """cache_dir=None compiles every time and writes nothing, in the default place or any."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = tmp_path / "hooks"
    _write(root)
    _engine(root, None)
    _engine(root, None)
    assert len(compiles) == 2
    assert not (tmp_path / "xdg").exists()


def test_the_default_is_a_per_user_cache_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compiles: list[str]
) -> None:
    """Without cache_dir the engine caches under $XDG_CACHE_HOME/hookyard (0700)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    root = tmp_path / "hooks"
    _write(root)
    hookyard.HookEngine(root)
    hookyard.HookEngine(root)
    assert len(compiles) == 1
    cache = tmp_path / "xdg" / "hookyard"
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    assert len(list(cache.glob("*.pack"))) == 1


def _owned_by_someone_else(cache: Path) -> None:
    os.chown(cache, 65534, 65534)


UNSAFE_DIRECTORIES = {
    "group-writable directory": lambda cache: cache.chmod(0o770),
    "world-readable directory": lambda cache: cache.chmod(0o755),
    "group-writable pack file": lambda cache: _pack(cache).chmod(0o660),
    "world-writable pack file": lambda cache: _pack(cache).chmod(0o666),
}
if os.geteuid() == 0:  # only root can give a file away; as another user, the modes above
    UNSAFE_DIRECTORIES["directory owned by another user"] = _owned_by_someone_else
    UNSAFE_DIRECTORIES["pack owned by another user"] = lambda cache: os.chown(
        _pack(cache), 65534, 65534
    )


@pytest.mark.parametrize("unsafe", sorted(UNSAFE_DIRECTORIES))
def test_a_forged_entry_where_others_can_write_is_never_run(
    tmp_path: Path, unsafe: str, hook_log: pytest.LogCaptureFixture
) -> None:
    """A pack holding forged code for the script (right path, right source hash, right
    checksum) in a cache others could have written: ignored with a warning naming the
    fix, the script compiled from its source."""
    root, cache = tmp_path / "hooks", tmp_path / "cache"
    script = _write(root)
    _engine(root, cache)
    _forge(cache, script, FORGED)
    UNSAFE_DIRECTORIES[unsafe](cache)
    engine = _engine(root, cache)
    assert _outcome(engine) == "the real script ran"
    assert any(
        "compiled-script cache not used" in record.getMessage() for record in hook_log.records
    )


def test_a_symlinked_cache_directory_is_not_used(tmp_path: Path, compiles: list[str]) -> None:
    """The cache directory itself may not be a symlink (it could be pointed elsewhere)."""
    root, real = tmp_path / "hooks", tmp_path / "real-cache"
    script = _write(root)
    _engine(root, real)
    _forge(real, script, FORGED)
    link = tmp_path / "cache"
    link.symlink_to(real)
    compiles.clear()
    engine = _engine(root, link)
    assert _outcome(engine) == "the real script ran"
    assert compiles == [str(script)]


def test_code_for_another_file_is_not_used(tmp_path: Path, compiles: list[str]) -> None:
    """An entry whose code was compiled for another path (copied from another script's
    entry) is recompiled: only code made for exactly that file is used."""
    root, cache = tmp_path / "hooks", tmp_path / "cache"
    script = _write(root)
    _engine(root, cache)
    _forge(cache, script, FORGED, filename=str(root / "p" / "99-other.py"))
    compiles.clear()
    engine = _engine(root, cache)
    assert _outcome(engine) == "the real script ran"
    assert compiles == [str(script)]


BROKEN_PACKS = {
    "truncated": lambda data: data[: len(data) // 2],
    "bad checksum": lambda data: data[:-1] + bytes([data[-1] ^ 1]),
    "not a pack": lambda data: b"#!/bin/sh\nrm -rf /\n",
    "empty": lambda data: b"",
    "another interpreter's": lambda data: _repacked(data, key="hookyard 0.0; cpython-299"),
    "not a code object": lambda data: _repacked(data, code=marshal.dumps(("pre", 1))),
    "garbled code": lambda data: _repacked(data, code=b"\xe3garbage"),
    "wrong shape": lambda data: _signed(marshal.dumps((_cache.pack_key(), [1, 2]))),
}


def _signed(body: bytes) -> bytes:
    return _cache._MAGIC + hashlib.sha256(body).digest() + body


def _repacked(data: bytes, *, key: str | None = None, code: bytes | None = None) -> bytes:
    entries = _cache._parse(data)
    assert entries is not None
    if code is not None:
        entries = {path: (version, code) for path, (version, _) in entries.items()}
    return _signed(marshal.dumps((key or _cache.pack_key(), entries)))


@pytest.mark.parametrize("broken", sorted(BROKEN_PACKS))
def test_anything_unexpected_in_a_pack_is_compiled_again(
    tmp_path: Path, broken: str, compiles: list[str]
) -> None:
    """A pack that is damaged, foreign or not what the engine wrote: every script is
    compiled from source, behaves as written, and the pack is written anew."""
    root, cache = tmp_path / "hooks", tmp_path / "cache"
    script = _write(root)
    _engine(root, cache)
    pack = _pack(cache)
    pack.write_bytes(BROKEN_PACKS[broken](pack.read_bytes()))
    compiles.clear()
    engine = _engine(root, cache)
    assert _outcome(engine) == "the real script ran"
    assert compiles == [str(script)]
    compiles.clear()
    _engine(root, cache)
    assert compiles == [], "the pack was rewritten whole"


def test_an_unusable_cache_directory_still_loads(
    tmp_path: Path, hook_log: pytest.LogCaptureFixture
) -> None:
    """A cache path that cannot be made (a file is in the way): scripts load, a warning
    says why the cache is not used."""
    root = tmp_path / "hooks"
    _write(root)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    engine = _engine(root, blocker / "cache")
    assert _outcome(engine) == "the real script ran"
    assert any("cannot use" in record.getMessage() for record in hook_log.records)


def test_process_isolation_compiles_in_the_workers(make_engine: MakeEngine, tmp_path: Path) -> None:
    """Under process isolation the workers compile: the host writes no pack."""
    cache = tmp_path / "cache"
    engine = make_engine({"p/10-a.py": SCRIPT}, isolation=PROCESS, cache_dir=cache)
    assert [s.ok for s in engine.status()] == [True]
    assert not cache.exists() or not list(cache.glob("*.pack"))


def test_failed_compiles_are_not_cached(tmp_path: Path, compiles: list[str]) -> None:
    """A script that does not compile is reported with file:line on every load (nothing
    about it is kept in the pack)."""
    root, cache = tmp_path / "hooks", tmp_path / "cache"
    _write(root, source="def pre(x):\n    return x +\n")
    for _ in range(2):
        engine = _engine(root, cache)
        (status,) = engine.status()
        assert not status.ok and status.error is not None and ":2:" in status.error
    assert len(compiles) == 2


def test_old_packs_are_pruned(tmp_path: Path) -> None:
    """A cache directory keeps a bounded number of packs: the oldest go first."""
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    for n in range(_cache._MAX_PACKS + 5):
        stale = cache / f"{n:032x}.pack"
        stale.write_bytes(b"")
        os.utime(stale, (n, n))
    root = tmp_path / "hooks"
    _write(root)
    _engine(root, cache)
    packs = sorted(cache.glob("*.pack"))
    assert len(packs) == _cache._MAX_PACKS
    assert not (cache / f"{0:032x}.pack").exists()
