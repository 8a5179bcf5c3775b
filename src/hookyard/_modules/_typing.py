"""``typing`` for scripts: the names type hints use, inert.

A script's annotations are kept as text (the policy stringifies them), so the names a
typed script imports only have to exist and survive what module-level code does with
them: ``Vector = List[float]``, ``Optional[int] | None``, ``cast(int, x)``,
``T = TypeVar("T")``, ``class Box(Generic[T])``. Each hint is one inert object: indexing,
``|`` and ``[...]`` give a hint back without building anything (so no loop can grow one),
and it has no attribute a script may read. The real ``typing`` module is never handed
over (its objects reach ``sys.modules`` and the interpreter's internals).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._guards import NamedTupleBase, materialize
from ._containers import namedtuple

__all__ = ["TypeHint", "typing_facade"]


class TypeHint:
    """A name of ``typing`` in a script: an inert marker that only type checkers read."""

    __slots__ = ("_bases", "_name")

    def __init__(self, name: str, bases: tuple[type, ...] = ()) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_bases", bases)

    def __getitem__(self, parameters: Any) -> TypeHint:
        return self  # `List[int]`: nothing to check at run time, so nothing is built

    def __or__(self, other: Any) -> TypeHint:
        return _UNION

    def __ror__(self, other: Any) -> TypeHint:
        return _UNION

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = object.__getattribute__(self, "_name")
        raise TypeError(f"typing.{name} is a type hint: scripts cannot call it")

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        # `class Box(Generic[T])` / `(Protocol)`: the hint adds nothing to the class;
        # `class Movie(TypedDict)` is a dict, as a TypedDict's instances are
        added: tuple[type, ...] = object.__getattribute__(self, "_bases")
        return added

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("typing hints are read-only")

    def __repr__(self) -> str:
        return f"typing.{object.__getattribute__(self, '_name')}"


class _NamedTupleHint(TypeHint):
    """``typing.NamedTuple``: a base that makes a class a named tuple of its annotated
    fields (``_guards.ScriptMeta``), or ``NamedTuple("Row", [("x", int)])``."""

    __slots__ = ()

    def __call__(self, typename: Any, fields: Any = (), /, **kwargs: Any) -> Any:
        names = []
        for pair in materialize(fields, "NamedTuple fields"):
            if type(pair) is not tuple or len(pair) != 2:
                raise TypeError("NamedTuple(name, fields): fields are (name, type) pairs")
            names.append(pair[0])
        return namedtuple(typename, names + list(kwargs))

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        return (NamedTupleBase,)


_UNION = TypeHint("Union")

# Hints that only annotate (indexing and `|` give the hint back).
_HINTS = [
    "Annotated",
    "AbstractSet",
    "Any",
    "AnyStr",
    "AsyncGenerator",
    "AsyncIterable",
    "AsyncIterator",
    "Awaitable",
    "BinaryIO",
    "ByteString",
    "Callable",
    "ChainMap",
    "ClassVar",
    "Collection",
    "Concatenate",
    "Container",
    "Coroutine",
    "Counter",
    "DefaultDict",
    "Deque",
    "Dict",
    "Final",
    "FrozenSet",
    "Generator",
    "Hashable",
    "IO",
    "ItemsView",
    "Iterable",
    "Iterator",
    "KeysView",
    "List",
    "Literal",
    "LiteralString",
    "Mapping",
    "MappingView",
    "Match",
    "MutableMapping",
    "MutableSequence",
    "MutableSet",
    "Never",
    "NoReturn",
    "NotRequired",
    "Optional",
    "OrderedDict",
    "Pattern",
    "Required",
    "Reversible",
    "Self",
    "Sequence",
    "Set",
    "Sized",
    "SupportsAbs",
    "SupportsBytes",
    "SupportsComplex",
    "SupportsFloat",
    "SupportsIndex",
    "SupportsInt",
    "SupportsRound",
    "Text",
    "TextIO",
    "Tuple",
    "Type",
    "TypeAlias",
    "TypeGuard",
    "Union",
    "ValuesView",
]


def _identity(value: Any) -> Any:
    return value


def _cast(hint: Any, value: Any) -> Any:
    return value


def _type_var(name: Any, *constraints: Any, **options: Any) -> TypeHint:
    if type(name) is not str or len(name) > 100:
        raise TypeError("TypeVar(name, ...) takes the variable's name as a short string")
    return TypeHint(name)


def _new_type(name: Any, hint: Any) -> Callable[[Any], Any]:
    if type(name) is not str or len(name) > 100:
        raise TypeError("NewType(name, type) takes the new type's name as a short string")
    return _identity  # NewType("UserId", int)(5) is 5, as at run time in Python


def typing_facade() -> dict[str, Any]:
    names: dict[str, Any] = {name: TypeHint(name) for name in _HINTS}
    names["Generic"] = TypeHint("Generic")
    names["Protocol"] = TypeHint("Protocol")
    names["TypedDict"] = TypeHint("TypedDict", (dict,))
    names["NamedTuple"] = _NamedTupleHint("NamedTuple")
    names["TYPE_CHECKING"] = False
    names["cast"] = _cast
    names["TypeVar"] = names["ParamSpec"] = names["TypeVarTuple"] = _type_var
    names["NewType"] = _new_type
    for decorator in ("final", "overload", "no_type_check", "runtime_checkable", "override"):
        names[decorator] = _identity
    return names
