"""The compiled-script cache (DESIGN "Host side"; issue 17, figure E).

One pack file per hook directory in the cache directory, read once and written once per
rescan (a temporary file renamed into place): for each script path, the sha256 of the
source it was compiled from and the ``marshal``-ed code. The whole pack is keyed by
hookyard's version, the policy's version (a hash of the code that compiles scripts:
hookyard's modules and RestrictedPython's), the interpreter's cache tag and its bytecode
magic number; an entry is used only for the same path and the same source hash.

Trust: whoever can write the cache can make the engine run code of their choosing, so
the cache is used only where nobody but the host's own user can write it, checked the way
sshd's StrictModes checks ``~/.ssh``: the directory must be owned by the host's user,
mode 0700 (no access for group or others), not a symlink; the pack file must be a regular
file owned by the same user and writable by nobody else. The checks are made on open
file descriptors (``fstat``), and the pack is opened relative to the checked directory,
so nothing can be swapped in between. Anything that fails a check, does not parse,
fails its checksum or is not exactly what the engine wrote (a code object compiled for
that path) is ignored and the script compiled from its source.
"""

from __future__ import annotations

import enum
import hashlib
import importlib.util
import logging
import marshal
import os
import stat
import sys
import types
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from ._loader import PathChecks

__all__ = ["USER_CACHE", "CacheSession", "ScriptCache", "default_cache_dir", "script_cache"]

logger = logging.getLogger("hookyard")

_MAGIC = b"hookyard-pack-1\n"
_DIGEST = 32  # sha256 of the body, after the magic
_MAX_PACK_BYTES = 256 * 1024 * 1024
_MAX_PACKS = 256  # pack files kept in one cache directory (oldest removed first)
_SUFFIX = ".pack"
_UNSAFE_DIRECTORY = stat.S_IRWXG | stat.S_IRWXO
_UNSAFE_FILE = stat.S_IWGRP | stat.S_IWOTH

Compile = Callable[[str, str], "types.CodeType | list[tuple[int | None, str]]"]


class _Default(enum.Enum):
    USER_CACHE = "the per-user cache directory"


USER_CACHE = _Default.USER_CACHE  # HookEngine(cache_dir=...)'s default


def script_cache(
    cache_dir: str | os.PathLike[str] | _Default | None, hook_dir: Path
) -> ScriptCache | None:
    """The cache for ``HookEngine(cache_dir=...)``: None when turned off or impossible."""
    if cache_dir is None:
        return None
    if cache_dir is USER_CACHE:
        folder = default_cache_dir()
        if folder is None:
            return None
    else:  # (its type checked by _options.check_engine_options)
        folder = Path(cache_dir)
    if not hasattr(os, "geteuid") or os.open not in os.supports_dir_fd:
        return None  # no POSIX ownership to check the directory with (Windows): off
    return ScriptCache(folder.absolute(), hook_dir)


def default_cache_dir() -> Path | None:
    """The per-user cache directory: ``$XDG_CACHE_HOME/hookyard`` (``~/.cache/hookyard``),
    ``~/Library/Caches/hookyard`` on macOS; None where the user has no home."""
    if sys.platform == "darwin":
        base = Path("~/Library/Caches").expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path("~/.cache").expanduser()
    if not base.is_absolute():  # no home directory to expand
        return None
    return base / "hookyard"


_POLICY_VERSION: str | None = None


def policy_version() -> str:
    """A hash of the code that turns a script into its code object: every module of
    hookyard and of RestrictedPython, so any change to either compiles afresh."""
    global _POLICY_VERSION
    if _POLICY_VERSION is None:
        digest = hashlib.sha256()
        spec = importlib.util.find_spec("RestrictedPython")
        folders = [Path(__file__).parent]
        if spec is not None and spec.origin is not None:
            folders.append(Path(spec.origin).parent)
        for folder in folders:
            for path in sorted(folder.glob("*.py")):
                digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        _POLICY_VERSION = digest.hexdigest()
    return _POLICY_VERSION


def pack_key() -> str:
    """What every entry of a pack was compiled with; a pack with another key is ignored."""
    from . import __version__

    magic = importlib.util.MAGIC_NUMBER.hex()
    tag = sys.implementation.cache_tag
    return f"hookyard {__version__}; policy {policy_version()}; {tag}; magic {magic}"


class ScriptCache:
    """The pack of one hook directory in one cache directory."""

    def __init__(self, cache_dir: Path, hook_dir: Path) -> None:
        self.cache_dir = cache_dir
        where = os.path.realpath(hook_dir)
        self.name = hashlib.sha256(where.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        self.name += _SUFFIX
        self._refused: str | None = None  # the last reason the directory was refused

    def session(self) -> CacheSession:
        """A rescan's view of the pack: read now, written by ``CacheSession.save``."""
        folder = self._open_directory()
        if folder is None:
            return CacheSession(self, None, {})
        try:
            return CacheSession(self, folder, self._read(folder))
        except BaseException:
            os.close(folder)
            raise

    # -- the directory ----------------------------------------------------------------
    def _refuse(self, reason: str) -> None:
        if reason != self._refused:  # once per reason, not once per rescan
            logger.warning("compiled-script cache not used: %s", reason)
        self._refused = reason

    def _open_directory(self) -> int | None:
        """A descriptor of the checked cache directory (made 0700 if missing), or None."""
        path = self.cache_dir
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            folder = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError as exc:
            self._refuse(f"cannot use {path}: {exc.strerror or exc}")
            return None
        info = os.fstat(folder)
        problem = None
        if info.st_uid != os.geteuid():
            problem = f"{path} is owned by uid {info.st_uid}, not by this process's user"
        elif info.st_mode & _UNSAFE_DIRECTORY:
            problem = (
                f"{path} has mode {stat.S_IMODE(info.st_mode):o}: others may write "
                "compiled code into it (chmod 700, or cache_dir=None)"
            )
        if problem is not None:
            os.close(folder)
            self._refuse(problem)
            return None
        self._refused = None
        return folder

    def _read(self, folder: int) -> dict[str, tuple[str, bytes]]:
        """The pack's entries (path -> (source sha256, marshalled code)); empty when there
        is none or it is not exactly what a host of this version wrote."""
        try:
            handle = os.open(self.name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=folder)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            logger.info("compiled-script cache: cannot open %s: %s", self.name, exc)
            return {}
        try:
            info = os.fstat(handle)
            if (
                not stat.S_ISREG(info.st_mode)
                or info.st_uid != os.geteuid()
                or info.st_mode & _UNSAFE_FILE
                or info.st_size > _MAX_PACK_BYTES
            ):
                self._refuse(
                    f"{self.cache_dir / self.name} is not a private regular file of this "
                    "user: ignored (scripts compiled from source)"
                )
                return {}
            with os.fdopen(handle, "rb", closefd=False) as stream:
                data = stream.read(_MAX_PACK_BYTES + 1)
        finally:
            os.close(handle)
        return _parse(data) or {}

    def write(self, folder: int, entries: dict[str, tuple[str, bytes]]) -> None:
        """Replace the pack with ``entries``: a private temporary file, renamed."""
        body = marshal.dumps((pack_key(), entries))
        data = _MAGIC + hashlib.sha256(body).digest() + body
        temporary = f".{self.name}.{os.getpid()}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            handle = os.open(temporary, flags, 0o600, dir_fd=folder)
        except FileExistsError:  # left by a process of this pid that died mid-write
            os.unlink(temporary, dir_fd=folder)
            handle = os.open(temporary, flags, 0o600, dir_fd=folder)
        try:
            with os.fdopen(handle, "wb", closefd=False) as stream:
                stream.write(data)
        finally:
            os.close(handle)
        os.rename(temporary, self.name, src_dir_fd=folder, dst_dir_fd=folder)
        _prune(folder, keep=self.name)


def _parse(data: bytes) -> dict[str, tuple[str, bytes]] | None:
    """The entries of a pack, or None when anything about it is unexpected."""
    start = len(_MAGIC) + _DIGEST
    if not data.startswith(_MAGIC) or len(data) > _MAX_PACK_BYTES:
        return None
    body = data[start:]
    if hashlib.sha256(body).digest() != data[len(_MAGIC) : start]:
        return None
    try:
        loaded = marshal.loads(body)
    except (EOFError, ValueError, TypeError):
        return None
    if type(loaded) is not tuple or len(loaded) != 2 or loaded[0] != pack_key():
        return None
    entries = loaded[1]
    if type(entries) is not dict:
        return None
    for path, entry in entries.items():
        if (
            type(path) is not str
            or type(entry) is not tuple
            or len(entry) != 2
            or type(entry[0]) is not str
            or type(entry[1]) is not bytes
        ):
            return None
    return entries


def _prune(folder: int, keep: str) -> None:
    """Remove the oldest packs past ``_MAX_PACKS`` (hook directories long gone)."""
    names = [name for name in os.listdir(folder) if name.endswith(_SUFFIX) and name != keep]
    if len(names) < _MAX_PACKS:
        return
    dated = []
    for name in names:
        try:
            dated.append((os.stat(name, dir_fd=folder, follow_symlinks=False).st_mtime, name))
        except OSError:
            continue
    dated.sort()
    for _, name in dated[: len(dated) - _MAX_PACKS + 1]:
        try:
            os.unlink(name, dir_fd=folder)
        except OSError:
            continue


def _code_for(code: Any, path: str) -> bool:
    """True for a code object compiled for ``path``, and every code object inside it."""
    if type(code) is not types.CodeType or code.co_filename != path:
        return False
    return all(
        _code_for(const, path) for const in code.co_consts if isinstance(const, types.CodeType)
    )


class CacheSession:
    """One rescan: entries looked up by path and source hash, new ones collected, the pack
    written once at the end when anything changed; and the rescan's memo of folder checks
    (``_loader.PathChecks``), kept with or without a cache."""

    def __init__(
        self,
        cache: ScriptCache | None = None,
        folder: int | None = None,
        entries: dict[str, tuple[str, bytes]] | None = None,
    ) -> None:
        self._cache = cache
        self._folder = folder
        self._old = entries or {}
        self._new: dict[str, tuple[str, bytes]] = {}
        self.hits = 0
        self.checks = PathChecks()

    def compile(
        self, source: str, version: str, path: str, compile_source: Compile
    ) -> types.CodeType | list[tuple[int | None, str]]:
        """The code of ``source`` (sha256 ``version``) for ``path``: from the pack when it
        holds exactly that, else ``compile_source(source, path)`` (and kept for the pack)."""
        entry = self._old.get(path)
        if entry is not None and entry[0] == version:
            try:
                code = marshal.loads(entry[1])
            except (EOFError, ValueError, TypeError):
                code = None
            if _code_for(code, path):
                self.hits += 1
                self._new[path] = entry
                return code  # type: ignore[no-any-return]  # checked by _code_for
        compiled = compile_source(source, path)
        if isinstance(compiled, types.CodeType) and self._folder is not None:
            self._new[path] = (version, marshal.dumps(compiled))
        return compiled

    def save(self, scanned: Collection[str] | None) -> None:
        """Write the pack: this scan's entries, and the old ones of paths outside the
        scanned folders (``scanned``: the point folders read; None: all of them)."""
        folder = self._folder
        if folder is None or self._cache is None:
            return
        self._folder = None
        try:
            entries = dict(self._new)
            if scanned is not None:
                for path, entry in self._old.items():
                    if path not in entries and Path(path).parent.name not in scanned:
                        entries[path] = entry
            if entries != self._old:
                self._cache.write(folder, entries)
        except OSError as exc:
            logger.info("compiled-script cache: cannot write %s: %s", self._cache.name, exc)
        finally:
            os.close(folder)

    def close(self) -> None:
        """Give up the session without writing (the scan failed)."""
        if self._folder is not None:
            os.close(self._folder)
            self._folder = None
