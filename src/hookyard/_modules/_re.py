"""``re`` for scripts: Python's regular-expression API over RE2 (``google-re2``).

RE2 matches in time linear in the input, so no pattern can backtrack for hours inside one
C call (the stdlib ``re`` can: ``(a+)+$`` on 30 characters). The price is what RE2 cannot
run: backreferences, lookaround, atomic groups, possessive quantifiers, conditionals. A
pattern using one fails at compile time with a ``re.error`` naming the construct.

Python's syntax is translated where RE2 spells the same thing differently (``\\Z``,
``{,n}``, ``\\uXXXX``, ``\\N{name}``, octal escapes, ``re.VERBOSE``). Known differences,
documented in docs/modules.md: ``$`` matches only at the very end (or at a line end with
``re.MULTILINE``), never before a final newline; ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are
ASCII-only (as with ``re.ASCII``).

Bounds: the text is charged before RE2 reads it (linear work), each match found costs an
operation, and everything built from matches (``findall``'s list, ``sub``'s and
``split``'s output, a group's slice) is charged, and refused past the size limit, before
it is built. Compiled programs are charged by their size; RE2's own memory budget per
pattern is its default 8 MiB. Patterns are cached per script, never in re2's process-wide
cache.

Scripts only ever hold ``Pattern`` and ``Match`` objects of this module: their state lives
in dunder-named slots, which the attribute guards refuse, and their public attributes
return plain values (str, int, tuple, dict) or each other.
"""

from __future__ import annotations

import re as _stdlib_re  # for re.escape's table only; never handed to scripts
from collections.abc import Callable, Iterator
from typing import Any

import re2

from .._budget import current_budget
from ._common import Output, public
from ._re_syntax import (
    ASCII,
    DOTALL,
    IGNORECASE,
    LOCALE,
    MULTILINE,
    NOFLAG,
    UNICODE,
    VERBOSE,
    check_flags,
    error,
    options,
    parse_template,
    translate,
)

__all__ = ["IGNORECASE", "VERBOSE", "Pattern", "make_re_facade"]


# -- Pattern and Match ---------------------------------------------------------------------
_MAKE = object()  # only this module makes Pattern and Match objects
_CACHE_SIZE = 32  # compiled patterns (and replacement templates) kept per script


def _span_length(span: tuple[int, int]) -> int:
    return span[1] - span[0] if span[0] >= 0 else 0


class Pattern:
    """``re.Pattern``: a compiled regular expression."""

    __slots__ = ("__flags__", "__groupindex__", "__regexp__", "__source__", "__templates__")

    def __init__(self, token: object, regexp: Any, source: Any, flags: int) -> None:
        if token is not _MAKE:
            raise TypeError("cannot create 're.Pattern' instances; use re.compile")
        self.__regexp__ = regexp
        self.__source__ = source
        self.__flags__ = flags
        self.__groupindex__ = dict(regexp.groupindex)
        self.__templates__: dict[Any, list[Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("re.Pattern cannot be subclassed")

    # -- attributes ---------------------------------------------------------------------
    @property
    def pattern(self) -> Any:
        return self.__source__

    @property
    def flags(self) -> int:
        return self.__flags__ | (
            UNICODE if isinstance(self.__source__, str) and not self.__flags__ & ASCII else 0
        )

    @property
    def groups(self) -> int:
        return int(self.__regexp__.groups)

    @property
    def groupindex(self) -> dict[str, int]:
        return dict(self.__groupindex__)

    def __repr__(self) -> str:
        shown = repr(self.__source__)
        if len(shown) > 200:
            shown = shown[:200]
        flags = self.__flags__
        names = [name for bit, name in _FLAG_NAMES if flags & bit]
        suffix = ", " + "|".join(f"re.{name}" for name in names) if names else ""
        return f"re.compile({shown}{suffix})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pattern):
            return NotImplemented
        return (type(self.__source__), self.__source__, self.__flags__) == (
            type(other.__source__),
            other.__source__,
            other.__flags__,
        )

    def __hash__(self) -> int:
        return hash((self.__source__, self.__flags__))

    # -- matching -----------------------------------------------------------------------

    def search(self, string: Any, pos: Any = 0, endpos: Any = None) -> Match | None:
        return _one(self, "search", string, pos, endpos)

    def match(self, string: Any, pos: Any = 0, endpos: Any = None) -> Match | None:
        return _one(self, "match", string, pos, endpos)

    def fullmatch(self, string: Any, pos: Any = 0, endpos: Any = None) -> Match | None:
        return _one(self, "fullmatch", string, pos, endpos)

    def finditer(self, string: Any, pos: Any = 0, endpos: Any = None) -> Iterator[Match]:
        text = _text(self, string, "Pattern.finditer")
        return (Match(_MAKE, found, self) for found in _matches(self, text, pos, endpos))

    def findall(self, string: Any, pos: Any = 0, endpos: Any = None) -> list[Any]:
        text = _text(self, string, "Pattern.findall")
        output = Output("re.findall result")
        groups = self.groups
        empty = text[:0]
        items: list[Any] = []
        for found in _matches(self, text, pos, endpos):
            if groups == 0:
                output.add(_span_length(found.span()) + 1)
                items.append(found.group())
            elif groups == 1:
                output.add(_span_length(found.span(1)) + 1)
                items.append(found.group(1) or empty)
            else:
                output.add(sum(_span_length(found.span(g)) for g in range(1, groups + 1)) + 1)
                items.append(found.groups(default=empty))
        return items

    def split(self, string: Any, maxsplit: Any = 0) -> list[Any]:
        text = _text(self, string, "Pattern.split")
        limit = _index(maxsplit)
        if limit < 0:
            return [text]
        output = Output("re.split result")
        groups = self.groups
        pieces: list[Any] = []
        end = 0
        for count, found in enumerate(_matches(self, text), 1):
            start, stop = found.span()
            output.add(start - end + groups + 1)
            pieces.append(text[end:start])
            for g in range(1, groups + 1):
                output.add(_span_length(found.span(g)))
                pieces.append(found.group(g))
            end = stop
            if count == limit:
                break
        output.add(len(text) - end + 1)
        pieces.append(text[end:])
        return pieces

    def subn(self, repl: Any, string: Any, count: Any = 0) -> tuple[Any, int]:
        text = _text(self, string, "Pattern.subn")
        limit = _index(count)
        template: list[Any] | None = None
        if not callable(repl):
            template = _template(self, repl)
        output = Output("re.sub result")
        empty = text[:0]
        pieces: list[Any] = []
        end = 0
        done = 0
        if limit >= 0:
            for found in _matches(self, text):
                start, stop = found.span()
                output.add(start - end)
                pieces.append(text[end:start])
                if template is None:
                    value = repl(Match(_MAKE, found, self))
                    if value is None:
                        value = empty
                    elif type(value) is not type(text):
                        raise TypeError(
                            f"re.sub: the replacement function returned a "
                            f"{type(value).__name__}, not a {type(text).__name__}"
                        )
                    output.add(len(value))
                    pieces.append(value)
                else:
                    for part in template:
                        if type(part) is int:
                            output.add(_span_length(found.span(part)))
                            pieces.append(found.group(part) or empty)
                        else:
                            output.add(len(part))
                            pieces.append(part)
                end = stop
                done += 1
                if done == limit:
                    break
        output.add(len(text) - end)
        pieces.append(text[end:])
        return empty.join(pieces), done

    def sub(self, repl: Any, string: Any, count: Any = 0) -> Any:
        return self.subn(repl, string, count)[0]


class Match:
    """``re.Match``: one match of a pattern in a text."""

    __slots__ = ("__found__", "__pattern__")

    def __init__(self, token: object, found: Any, pattern: Pattern) -> None:
        if token is not _MAKE:
            raise TypeError("cannot create 're.Match' instances")
        self.__found__ = found
        self.__pattern__ = pattern

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError("re.Match cannot be subclassed")

    def group(self, *groups: Any) -> Any:
        if not groups:
            return _group(self, 0)
        if len(groups) == 1:
            return _group(self, groups[0])
        return tuple(_group(self, g) for g in groups)

    def __getitem__(self, group: Any) -> Any:
        return _group(self, group)

    def groups(self, default: Any = None) -> tuple[Any, ...]:
        return tuple(_group(self, g, default) for g in range(1, self.__pattern__.groups + 1))

    def groupdict(self, default: Any = None) -> dict[str, Any]:
        return {
            name: _group(self, index, default)
            for name, index in self.__pattern__.__groupindex__.items()
        }

    def start(self, group: Any = 0) -> int:
        return int(self.__found__.span(_group_number(self, group))[0])

    def end(self, group: Any = 0) -> int:
        return int(self.__found__.span(_group_number(self, group))[1])

    def span(self, group: Any = 0) -> tuple[int, int]:
        start, end = self.__found__.span(_group_number(self, group))
        return (int(start), int(end))

    def expand(self, template: Any) -> Any:
        parts = _template(self.__pattern__, template)
        output = Output("Match.expand result")
        found = self.__found__
        empty = found.string[:0]
        pieces: list[Any] = []
        for part in parts:
            if type(part) is int:
                output.add(_span_length(found.span(part)))
                pieces.append(found.group(part) or empty)
            else:
                output.add(len(part))
                pieces.append(part)
        return empty.join(pieces)

    @property
    def string(self) -> Any:
        return self.__found__.string

    @property
    def re(self) -> Pattern:
        return self.__pattern__

    @property
    def pos(self) -> int:
        return int(self.__found__.pos)

    @property
    def endpos(self) -> int:
        return int(self.__found__.endpos)

    @property
    def lastindex(self) -> int | None:
        return self.__found__.lastindex  # type: ignore[no-any-return]

    @property
    def lastgroup(self) -> str | None:
        index = self.lastindex
        for name, number in self.__pattern__.__groupindex__.items():
            if number == index:
                return str(name)
        return None

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        start, end = self.span()
        text = self.__found__.string[start : min(end, start + 200)]
        return f"<re.Match object; span=({start}, {end}), match={text!r}>"


def _text(self: Pattern, string: Any, what: str) -> Any:
    source = self.__source__
    if isinstance(source, str):
        if not isinstance(string, str):
            raise TypeError(f"{what}: cannot use a string pattern on a bytes-like object")
    elif not isinstance(string, bytes):
        if isinstance(string, bytearray | memoryview):
            string = bytes(string)
        else:
            raise TypeError(f"{what}: cannot use a bytes pattern on a string-like object")
    # RE2 reads the whole text (and re2 encodes a str to UTF-8 first): linear work
    current_budget().charge_size(len(string), f"{what} text")
    return string


def _one(self: Pattern, method: str, string: Any, pos: Any, endpos: Any) -> Match | None:
    text = _text(self, string, f"Pattern.{method}")
    found = getattr(self.__regexp__, method)(text, _index(pos), _index(endpos))
    return None if found is None else Match(_MAKE, found, self)


def _matches(self: Pattern, text: Any, pos: Any = 0, endpos: Any = None) -> Iterator[Any]:
    """re2 matches over an already charged text, one operation each (more with many
    groups: RE2 reports every group's span per match)."""
    cost = 1 + self.groups // 16
    for found in self.__regexp__.finditer(text, _index(pos), _index(endpos)):
        current_budget().charge(cost)
        yield found


def _template(self: Pattern, repl: Any) -> list[Any]:
    source = self.__source__
    if not isinstance(repl, str | bytes) or isinstance(repl, str) != isinstance(source, str):
        raise TypeError(
            f"re.sub: the replacement must be a {type(source).__name__} or a function, "
            f"not {type(repl).__name__}"
        )
    templates = self.__templates__
    parts = templates.get(repl)
    if parts is None:
        current_budget().charge_size(len(repl), "replacement template")
        parts = parse_template(repl, self)
        if len(templates) >= _CACHE_SIZE:
            templates.clear()
        templates[repl] = parts
    return parts


def _group_number(self: Match, group: Any) -> int:
    if isinstance(group, str):
        index = self.__pattern__.__groupindex__.get(group)
        if index is None:
            raise IndexError("no such group")
        return int(index)
    try:
        number = _index(group)
    except TypeError:
        raise IndexError("no such group") from None
    if not 0 <= number <= self.__pattern__.groups:
        raise IndexError("no such group")
    return int(number)


def _group(self: Match, group: Any, default: Any = None) -> Any:
    number = _group_number(self, group)
    span = self.__found__.span(number)
    if span[0] < 0:
        return default
    current_budget().charge_size(span[1] - span[0], "match group")
    return self.__found__.group(number)


_FLAG_NAMES = (
    (IGNORECASE, "IGNORECASE"),
    (LOCALE, "LOCALE"),
    (MULTILINE, "MULTILINE"),
    (DOTALL, "DOTALL"),
    (ASCII, "ASCII"),
    (VERBOSE, "VERBOSE"),
)

Pattern.__module__ = Match.__module__ = "re"
Pattern.__qualname__ = Pattern.__name__ = "Pattern"
Match.__qualname__ = Match.__name__ = "Match"


def _index(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"an integer is required, not {type(value).__name__}")
    return value


# -- the module facade ---------------------------------------------------------------------
def make_re_facade() -> dict[str, Any]:
    """The attributes of one script's ``re``: functions over a cache of its own."""
    cache: dict[tuple[type, Any, int], Pattern] = {}

    def compile_pattern(pattern: Any, flags: Any = 0) -> Pattern:
        if isinstance(pattern, Pattern):
            if flags:
                raise ValueError("cannot process flags argument with a compiled pattern")
            return pattern
        if not isinstance(pattern, str | bytes):
            raise TypeError(
                f"first argument must be string or compiled pattern, not {type(pattern).__name__}"
            )
        flags = check_flags(flags, pattern)
        key = (type(pattern), pattern, flags)
        found = cache.get(key)
        if found is not None:
            return found
        budget = current_budget()
        budget.charge_size(len(pattern) * 4, "regular expression")
        text = isinstance(pattern, str)
        source = pattern if isinstance(pattern, str) else pattern.decode("latin-1")
        translated = translate(source, flags, text)
        try:
            regexp = re2._Regexp(
                translated if text else translated.encode("latin-1"),  # is process-wide
                options(text),
            )
        except re2.error as exc:
            detail = exc.args[0] if exc.args else "invalid pattern"
            if isinstance(detail, bytes):
                detail = detail.decode("utf-8", "replace")
            if "repetition size" in detail:
                detail += " (RE2 allows counted repetition up to {1000})"
            raise error(f"{detail} in pattern {pattern!r:.200}", pattern) from None
        # the compiled program is memory the script holds: charged by its size
        budget.charge_size(int(regexp.programsize), "compiled regular expression")
        compiled = Pattern(_MAKE, regexp, pattern, flags)
        if len(cache) >= _CACHE_SIZE:
            # emptied whole: one atomic step, safe while another thread of the host runs
            # the same script
            cache.clear()
        cache[key] = compiled
        return compiled

    def search(pattern: Any, string: Any, flags: Any = 0) -> Match | None:
        return compile_pattern(pattern, flags).search(string)

    def match(pattern: Any, string: Any, flags: Any = 0) -> Match | None:
        return compile_pattern(pattern, flags).match(string)

    def fullmatch(pattern: Any, string: Any, flags: Any = 0) -> Match | None:
        return compile_pattern(pattern, flags).fullmatch(string)

    def findall(pattern: Any, string: Any, flags: Any = 0) -> list[Any]:
        return compile_pattern(pattern, flags).findall(string)

    def finditer(pattern: Any, string: Any, flags: Any = 0) -> Iterator[Match]:
        return compile_pattern(pattern, flags).finditer(string)

    def sub(pattern: Any, repl: Any, string: Any, count: Any = 0, flags: Any = 0) -> Any:
        return compile_pattern(pattern, flags).sub(repl, string, count)

    def subn(
        pattern: Any, repl: Any, string: Any, count: Any = 0, flags: Any = 0
    ) -> tuple[Any, int]:
        return compile_pattern(pattern, flags).subn(repl, string, count)

    def split(pattern: Any, string: Any, maxsplit: Any = 0, flags: Any = 0) -> list[Any]:
        return compile_pattern(pattern, flags).split(string, maxsplit)

    def escape(pattern: Any) -> Any:
        if not isinstance(pattern, str | bytes):
            raise TypeError(f"re.escape takes a str or bytes, not {type(pattern).__name__}")
        current_budget().charge_size(len(pattern) * 2, "escaped pattern")
        return _stdlib_re.escape(pattern)  # type: ignore[type-var]

    def purge() -> None:
        cache.clear()

    functions: dict[str, Callable[..., Any]] = {
        "compile": compile_pattern,
        "search": search,
        "match": match,
        "fullmatch": fullmatch,
        "findall": findall,
        "finditer": finditer,
        "sub": sub,
        "subn": subn,
        "split": split,
        "escape": escape,
        "purge": purge,
    }
    for name, function in functions.items():
        public(f"re.{name}")(function)
    return {
        **functions,
        "error": error,
        "PatternError": error,
        "Pattern": Pattern,
        "Match": Match,
        "NOFLAG": NOFLAG,
        "I": IGNORECASE,
        "IGNORECASE": IGNORECASE,
        "M": MULTILINE,
        "MULTILINE": MULTILINE,
        "S": DOTALL,
        "DOTALL": DOTALL,
        "X": VERBOSE,
        "VERBOSE": VERBOSE,
        "A": ASCII,
        "ASCII": ASCII,
        "U": UNICODE,
        "UNICODE": UNICODE,
        "L": LOCALE,
        "LOCALE": LOCALE,
    }
