"""Encoding facades: ``base64`` (each codec charges its expansion before it runs) and
``hashlib`` (data and digest lengths charged; no file access)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from typing import Any

from .._budget import current_budget
from ._common import public

__all__ = ["base64_facade", "hashlib_facade"]


# -- base64 --------------------------------------------------------------------------------
def _coded(function: Callable[..., bytes], name: str, factor: int) -> Callable[..., bytes]:
    """A base64-family function whose output is at most ``factor`` times its input."""

    def coded(s: Any, *args: Any, **kwargs: Any) -> bytes:
        size = len(s) if isinstance(s, str | bytes | bytearray | memoryview) else 0
        wrapcol = kwargs.get("wrapcol", 0)
        extra = size if isinstance(wrapcol, int) and wrapcol > 0 else 0  # a newline per line
        current_budget().charge_size(size * factor + extra + 8, f"base64.{name} result")
        return function(s, *args, **kwargs)

    return public(f"base64.{name}")(coded)


def base64_facade() -> dict[str, Any]:
    factors = {
        "b64encode": 2,
        "b64decode": 1,
        "standard_b64encode": 2,
        "standard_b64decode": 1,
        "urlsafe_b64encode": 2,
        "urlsafe_b64decode": 1,
        "b32encode": 2,
        "b32decode": 1,
        "b32hexencode": 2,
        "b32hexdecode": 1,
        "b16encode": 2,
        "b16decode": 1,
        "a85encode": 2,
        "a85decode": 5,  # "z" and "y" stand for four bytes each
        "b85encode": 2,
        "b85decode": 1,
        "encodebytes": 2,
        "decodebytes": 1,
    }
    attributes: dict[str, Any] = {
        name: _coded(getattr(base64, name), name, factor) for name, factor in factors.items()
    }
    attributes["Error"] = binascii.Error
    return attributes


# -- hashlib -------------------------------------------------------------------------------
_ALGORITHMS = tuple(sorted(hashlib.algorithms_guaranteed))


def _data(data: Any, what: str) -> Any:
    if isinstance(data, str):
        raise TypeError(f"{what}: Strings must be encoded before hashing")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{what}: object supporting the buffer API required")
    current_budget().charge_size(len(data), f"{what} data")
    return data


class Hash:
    """A hash object (``hashlib.sha256()``): data and digest lengths charged."""

    __slots__ = ("__hash_object__",)

    def __init__(self, token: object, inner: Any) -> None:
        if token is not _MAKE_HASH:
            raise TypeError("use hashlib.new() or hashlib.sha256() ...")
        self.__hash_object__ = inner

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("hash objects cannot be subclassed")

    def update(self, data: Any) -> None:
        self.__hash_object__.update(_data(data, "update"))

    def digest(self, *length: Any) -> bytes:
        if length:
            current_budget().charge_size(int(length[0]), "digest")
        return self.__hash_object__.digest(*length)  # type: ignore[no-any-return]

    def hexdigest(self, *length: Any) -> str:
        if length:
            current_budget().charge_size(int(length[0]) * 2, "hexdigest")
        return self.__hash_object__.hexdigest(*length)  # type: ignore[no-any-return]

    def copy(self) -> Hash:
        return Hash(_MAKE_HASH, self.__hash_object__.copy())

    @property
    def name(self) -> str:
        return str(self.__hash_object__.name)

    @property
    def digest_size(self) -> int:
        return int(self.__hash_object__.digest_size)

    @property
    def block_size(self) -> int:
        return int(self.__hash_object__.block_size)

    def __repr__(self) -> str:
        return f"<{self.name} hash object>"


_MAKE_HASH = object()


_BLAKE2_OPTIONS = frozenset(
    {
        "digest_size", "key", "salt", "person", "fanout", "depth", "leaf_size",
        "node_offset", "node_depth", "inner_size", "last_node",
    }
)  # fmt: skip


def _constructor(name: str) -> Callable[..., Hash]:
    make = getattr(hashlib, name)

    allowed = _BLAKE2_OPTIONS if name.startswith("blake2") else frozenset()

    def construct(data: Any = b"", *, usedforsecurity: bool = True, **kwargs: Any) -> Hash:
        # blake2's keyword parameters (key, salt, person, digest_size...) are sizes the
        # C code checks against small maxima; other algorithms take none
        unknown = sorted(set(kwargs) - allowed)
        if unknown:
            raise TypeError(f"hashlib.{name}() got an unexpected keyword argument {unknown[0]!r}")
        return Hash(
            _MAKE_HASH,
            make(_data(data, f"hashlib.{name}"), usedforsecurity=usedforsecurity, **kwargs),
        )

    return public(f"hashlib.{name}")(construct)


@public("hashlib.new")
def hash_new(name: str, data: Any = b"", **kwargs: Any) -> Hash:
    if name not in _ALGORITHMS:
        raise ValueError(f"unsupported hash type {name!r} (available: {', '.join(_ALGORITHMS)})")
    return _CONSTRUCTORS[name](data, **kwargs)


@public("hashlib.pbkdf2_hmac")
def pbkdf2_hmac(
    hash_name: str, password: Any, salt: Any, iterations: int, dklen: int | None = None
) -> bytes:
    budget = current_budget()
    if not isinstance(iterations, int) or not isinstance(dklen, int | None):
        raise TypeError("hashlib.pbkdf2_hmac: iterations and dklen must be int")
    # one HMAC per iteration and output block: about a microsecond each
    blocks = 1 + (dklen or 64) // 32
    budget.charge(max(iterations, 0) * blocks)
    budget.charge_size(dklen or 0, "derived key")
    return hashlib.pbkdf2_hmac(
        hash_name, _data(password, "password"), _data(salt, "salt"), iterations, dklen
    )


_CONSTRUCTORS: dict[str, Callable[..., Hash]] = {name: _constructor(name) for name in _ALGORITHMS}


def hashlib_facade() -> dict[str, Any]:
    return {
        **_CONSTRUCTORS,
        "new": hash_new,
        "pbkdf2_hmac": pbkdf2_hmac,
        "algorithms_guaranteed": frozenset(_ALGORITHMS),
        "algorithms_available": frozenset(_ALGORITHMS),
    }
