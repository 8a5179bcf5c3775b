"""Text facades: ``json``, ``string`` (with a safe ``Template``), ``textwrap``, ``base64``,
``hashlib``.

Each function charges its output before building it: ``json.dumps`` walks the value first
(indent and separators multiply the size, issue 12), ``textwrap`` charges the quadratic
cost of breaking very long runs, the base64 family charges the expansion of its encoding,
hash objects charge the data they digest and the length of extendable-output digests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re as _stdlib_re  # textwrap's run lengths only; never handed to scripts
import string
import textwrap
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from .._budget import current_budget
from .._guards import safe_str
from ._common import Output, public, text_size
from ._re import IGNORECASE, VERBOSE, Pattern, make_re_facade

__all__ = [
    "base64_facade",
    "hashlib_facade",
    "json_facade",
    "string_facade",
    "textwrap_facade",
]


# -- json ---------------------------------------------------------------------------------
_JSON_LEAF = 24  # a float, true/false/null or a small int, written out


def _json_size(
    obj: Any, *, indent: int, item_separator: int, key_separator: int, ascii: bool, limit: int
) -> tuple[int, int]:
    """(characters ``json.dumps`` may write for ``obj``, deepest nesting), an upper bound
    computed without building it; stops once past ``limit``. Shared values count every
    time they are reached (the encoder writes them out each time)."""
    per_char = 6 if ascii else 2  # "\\uXXXX" for each character, or a two-character escape
    total = 0
    deepest = 0
    active: set[int] = set()
    stack: list[tuple[Any, int, bool]] = [(obj, 0, False)]
    while stack and total <= limit:
        ob, depth, leaving = stack.pop()
        if leaving:
            active.discard(id(ob))
            continue
        cls = type(ob)
        if isinstance(ob, str):
            total += len(ob) * per_char + 2
        elif cls is int or isinstance(ob, int):
            total += int(ob).bit_length() // 3 + 2
        elif isinstance(ob, dict | list | tuple):
            if id(ob) in active:
                continue  # a cycle: json refuses it ("Circular reference detected")
            deepest = max(deepest, depth + 1)
            active.add(id(ob))
            stack.append((ob, depth, True))
            n = len(ob)
            # brackets, one separator per item, and (indented) a line per item
            total += 2 + n * (item_separator + (indent * (depth + 1) + 1 if indent else 0))
            if isinstance(ob, dict):
                total += n * key_separator
                for key, value in dict.items(ob):
                    stack.append((key, depth + 1, False))
                    stack.append((value, depth + 1, False))
            else:
                stack.extend((item, depth + 1, False) for item in ob)
        else:
            total += _JSON_LEAF
    return total, deepest


def _indent_width(indent: Any) -> int:
    if indent is None:
        return 0
    if isinstance(indent, int):
        return max(indent, 0)
    if isinstance(indent, str):
        return len(indent)
    raise TypeError(f"json.dumps: indent must be an int or a str, not {type(indent).__name__}")


@public("json.dumps")
def json_dumps(
    obj: Any,
    *,
    skipkeys: bool = False,
    ensure_ascii: bool = True,
    check_circular: bool = True,
    allow_nan: bool = True,
    cls: Any = None,
    indent: Any = None,
    separators: Any = None,
    default: Any = None,
    sort_keys: bool = False,
) -> str:
    """``json.dumps``; its output size (indent and separators included) is charged before
    it is built. ``default`` is called (under the budget, like any script function) for
    values json cannot encode; what it returns is charged as it comes."""
    if cls is not None:
        raise TypeError("json.dumps: cls= is not available to scripts (use default=)")
    if default is not None and not callable(default):
        raise TypeError("json.dumps: default must be callable")
    budget = current_budget()
    limit = budget.limits.size
    width = _indent_width(indent)
    if separators is None:
        item_sep, key_sep = (", " if indent is None else ","), ": "
    else:
        item_sep, key_sep = separators
        if not isinstance(item_sep, str) or not isinstance(key_sep, str):
            raise TypeError("json.dumps: separators must be a pair of str")
    measure = dict(
        indent=width,
        item_separator=len(item_sep),
        key_separator=len(key_sep),
        ascii=bool(ensure_ascii),
        limit=limit,
    )
    size, deepest = _json_size(obj, **measure)  # type: ignore[arg-type]
    output = Output("json text", budget)
    output.add(size)
    hook = None
    if default is not None:

        def hook(value: Any) -> Any:
            result = default(value)
            # it may land at the deepest level of the value: measured from there
            more, _ = _json_size(result, **measure)  # type: ignore[arg-type]
            output.add(more + deepest * width)
            return result

    return json.dumps(
        obj,
        skipkeys=skipkeys,
        ensure_ascii=ensure_ascii,
        check_circular=True,  # never off: a cycle would recurse in C
        allow_nan=allow_nan,
        indent=indent,
        separators=(item_sep, key_sep),
        default=hook,
        sort_keys=sort_keys,
    )


@public("json.loads")
def json_loads(
    s: Any,
    *,
    cls: Any = None,
    object_hook: Any = None,
    parse_float: Any = None,
    parse_int: Any = None,
    parse_constant: Any = None,
    object_pairs_hook: Any = None,
    strict: bool = True,
) -> Any:
    """``json.loads``; the text is charged by its length (the value built is at most a few
    objects per character). The hooks are called like any script function."""
    if cls is not None:
        raise TypeError("json.loads: cls= is not available to scripts")
    if not isinstance(s, str | bytes | bytearray):
        raise TypeError(f"json.loads: the JSON object must be str or bytes, not {type(s).__name__}")
    current_budget().charge_size(len(s), "json text")
    return json.loads(
        s,
        object_hook=object_hook,
        parse_float=parse_float,
        parse_int=parse_int,
        parse_constant=parse_constant,
        object_pairs_hook=object_pairs_hook,
        strict=strict,
    )


def json_facade() -> dict[str, Any]:
    return {"dumps": json_dumps, "loads": json_loads, "JSONDecodeError": json.JSONDecodeError}


# -- string --------------------------------------------------------------------------------
_TEMPLATE_PATTERNS: weakref.WeakKeyDictionary[type, Pattern] = weakref.WeakKeyDictionary()
_compile_for_templates = make_re_facade()["compile"]


def _template_pattern(cls: type) -> Pattern:
    """The pattern of a Template class, compiled with RE2 (the stdlib compiles a subclass's
    pattern with the backtracking ``re``: a script-chosen ``idpattern`` could hang it)."""
    found = _TEMPLATE_PATTERNS.get(cls)
    if found is not None:
        return found
    custom = next((vars(k)["pattern"] for k in cls.__mro__ if "pattern" in vars(k)), None)
    flags = getattr(cls, "flags", IGNORECASE)
    if isinstance(custom, str):
        source = custom
    else:
        delimiter = _stdlib_re.escape(str(cls.delimiter))  # type: ignore[attr-defined]
        idpattern = cls.idpattern  # type: ignore[attr-defined]
        braced = cls.braceidpattern or idpattern  # type: ignore[attr-defined]
        source = (
            rf"{delimiter}(?:(?P<escaped>{delimiter})|(?P<named>{idpattern})"
            rf"|{{(?P<braced>{braced})}}|(?P<invalid>))"
        )
    compiled = _compile_for_templates(source, flags | VERBOSE if isinstance(custom, str) else flags)
    _TEMPLATE_PATTERNS[cls] = compiled
    return compiled  # type: ignore[no-any-return]


class Template:
    """``string.Template``, matching with RE2; subclasses may set ``delimiter``,
    ``idpattern``, ``braceidpattern``, ``flags`` or ``pattern`` as with the stdlib."""

    delimiter = "$"
    idpattern = r"(?a:[_a-z][_a-z0-9]*)"
    braceidpattern: str | None = None
    flags = IGNORECASE
    pattern: Any = None

    def __init__(self, template: str) -> None:
        if not isinstance(template, str):
            raise TypeError(f"Template() takes a str, not {type(template).__name__}")
        self.template = template

    def _invalid(self, match: Any) -> None:
        i = match.start("invalid")
        lines = self.template[:i].splitlines(keepends=True)
        colno = i - len("".join(lines[:-1])) + 1 if lines else 1
        lineno = len(lines) if lines else 1
        raise ValueError(f"Invalid placeholder in string: line {lineno}, col {colno}")

    def _replace(self, mapping: Any, kws: Mapping[str, Any], safe: bool) -> str:
        if mapping is None:
            values: Any = kws
        elif kws:
            values = {**mapping, **kws} if isinstance(mapping, dict) else _Chain(kws, mapping)
        else:
            values = mapping
        pattern = _template_pattern(type(self))
        delimiter = type(self).delimiter

        def convert(match: Any) -> str:
            named = match.group("named") or match.group("braced")
            if named is not None:
                try:
                    return str(safe_str(values[named]))
                except KeyError:
                    if safe:
                        return str(match.group())
                    raise
            if match.group("escaped") is not None:
                return str(delimiter)
            if match.group("invalid") is not None:
                if safe:
                    return str(match.group())
                self._invalid(match)
            raise ValueError("Unrecognized named group in pattern", pattern.pattern)

        return pattern.sub(convert, self.template)  # type: ignore[no-any-return]

    def substitute(self, mapping: Any = None, /, **kws: Any) -> str:
        return self._replace(mapping, kws, safe=False)

    def safe_substitute(self, mapping: Any = None, /, **kws: Any) -> str:
        return self._replace(mapping, kws, safe=True)

    def get_identifiers(self) -> list[str]:
        ids: list[str] = []
        for match in _template_pattern(type(self)).finditer(self.template):
            named = match.group("named") or match.group("braced")
            if named is not None and named not in ids:
                ids.append(named)
            elif (
                named is None and match.group("invalid") is None and match.group("escaped") is None
            ):
                raise ValueError("Unrecognized named group in pattern")
        return ids

    def is_valid(self) -> bool:
        return all(
            match.group("invalid") is None
            for match in _template_pattern(type(self)).finditer(self.template)
        )


Template.__module__ = "string"


class _Chain:
    """Keyword arguments first, then the mapping (``substitute(mapping, **kws)``)."""

    __slots__ = ("__first__", "__second__")

    def __init__(self, first: Mapping[str, Any], second: Any) -> None:
        self.__first__ = first
        self.__second__ = second

    def __getitem__(self, key: str) -> Any:
        if key in self.__first__:
            return self.__first__[key]
        return self.__second__[key]


@public("string.capwords")
def capwords(s: str, sep: str | None = None) -> str:
    current_budget().charge_size(text_size(s) * 3, "string.capwords result")
    return string.capwords(s, sep)


def string_facade() -> dict[str, Any]:
    # string.Formatter walks attributes (CVE-2024-47532): not offered
    constants = {
        name: getattr(string, name)
        for name in (
            "ascii_letters",
            "ascii_lowercase",
            "ascii_uppercase",
            "digits",
            "hexdigits",
            "octdigits",
            "punctuation",
            "printable",
            "whitespace",
        )
    }
    return {**constants, "capwords": capwords, "Template": Template}


# -- textwrap ------------------------------------------------------------------------------
_RUN = _stdlib_re.compile(r"\s+|\S+")


def _check_wrap(text: Any, width: Any, options: dict[str, Any], what: str) -> None:
    """Charge ``textwrap.wrap``'s work and output before it runs.

    Breaking a run of L characters into lines of ``width`` slices the rest of the run once
    per line: L*L/width work (measured: 200,000 tabs take over a minute). The output is the
    text plus an indent per line.
    """
    if not isinstance(text, str):
        raise TypeError(f"{what} takes a str, not {type(text).__name__}")
    if not isinstance(width, int) or isinstance(width, bool):
        raise TypeError(f"{what}: width must be an int")
    budget = current_budget()
    tabsize = options.get("tabsize", 8)
    if not isinstance(tabsize, int):
        raise TypeError(f"{what}: tabsize must be an int")
    expanded = len(text) + text.count("\t") * max(tabsize, 0)
    budget.charge_size(expanded, f"{what} text")
    indents = [options.get(k, "") for k in ("initial_indent", "subsequent_indent", "placeholder")]
    if not all(isinstance(i, str) for i in indents):
        raise TypeError(f"{what}: indents and placeholder must be str")
    lines = expanded + 1
    budget.charge_size(expanded + lines * (max(len(i) for i in indents) + 1), f"{what} result")
    longest = max(
        (len(run) + run.count("\t") * max(tabsize, 0) for run in _RUN.findall(text)), default=0
    )
    budget.charge((longest * expanded // max(width, 1)) >> 12)


_WRAP_OPTIONS = frozenset(
    {
        "initial_indent",
        "subsequent_indent",
        "expand_tabs",
        "replace_whitespace",
        "fix_sentence_endings",
        "break_long_words",
        "drop_whitespace",
        "break_on_hyphens",
        "tabsize",
        "max_lines",
        "placeholder",
    }
)


def _options(what: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    unknown = set(kwargs) - _WRAP_OPTIONS
    if unknown:
        raise TypeError(f"{what}() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    return kwargs


@public("textwrap.wrap")
def wrap(text: str, width: int = 70, **kwargs: Any) -> list[str]:
    _check_wrap(text, width, _options("textwrap.wrap", kwargs), "textwrap.wrap")
    return textwrap.wrap(text, width, **kwargs)


@public("textwrap.fill")
def fill(text: str, width: int = 70, **kwargs: Any) -> str:
    _check_wrap(text, width, _options("textwrap.fill", kwargs), "textwrap.fill")
    return textwrap.fill(text, width, **kwargs)


@public("textwrap.shorten")
def shorten(text: str, width: int, **kwargs: Any) -> str:
    # whitespace is collapsed first, then one line is filled: linear in the text
    options = _options("textwrap.shorten", kwargs)
    if not isinstance(text, str):
        raise TypeError("textwrap.shorten takes a str")
    placeholder = options.get("placeholder", " [...]")
    current_budget().charge_size(len(text) + text_size(placeholder), "textwrap.shorten text")
    return textwrap.shorten(text, width, **kwargs)


@public("textwrap.dedent")
def dedent(text: str) -> str:
    if not isinstance(text, str):
        raise TypeError("textwrap.dedent takes a str")
    current_budget().charge_size(len(text), "textwrap.dedent text")
    return textwrap.dedent(text)


@public("textwrap.indent")
def indent(text: str, prefix: str, predicate: Callable[[str], bool] | None = None) -> str:
    if not isinstance(text, str) or not isinstance(prefix, str):
        raise TypeError("textwrap.indent takes a str text and a str prefix")
    lines = text.count("\n") + 1
    current_budget().charge_size(len(text) + lines * len(prefix), "textwrap.indent result")
    return textwrap.indent(text, prefix, predicate)


def textwrap_facade() -> dict[str, Any]:
    return {"wrap": wrap, "fill": fill, "shorten": shorten, "dedent": dedent, "indent": indent}


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


def _constructor(name: str) -> Callable[..., Hash]:
    make = getattr(hashlib, name)

    def construct(data: Any = b"", *, usedforsecurity: bool = True, **kwargs: Any) -> Hash:
        # blake2's keyword parameters (key, salt, person, digest_size...) are sizes the
        # C code checks against small maxima
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
