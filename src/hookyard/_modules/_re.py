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
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import re2

from .._budget import current_budget
from ._common import Output, public

__all__ = ["make_re_facade"]

# RE2 flags, with the stdlib's values so `re.I | re.M` and stored flag ints mean the same.
NOFLAG = 0
IGNORECASE = 2
LOCALE = 4
MULTILINE = 8
DOTALL = 16
UNICODE = 32
VERBOSE = 64
ASCII = 256
_KNOWN_FLAGS = IGNORECASE | LOCALE | MULTILINE | DOTALL | UNICODE | VERBOSE | ASCII
_CACHE_SIZE = 64  # compiled patterns kept per script


class error(Exception):  # noqa: N801 - the stdlib's name, which scripts catch
    """``re.error``: a pattern that cannot be compiled (or that RE2 cannot run)."""

    def __init__(self, msg: str, pattern: Any = None, pos: int | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.pattern = pattern
        self.pos = pos


error.__module__ = "re"

# Constructs RE2 cannot run, by how they start inside "(?".
_UNSUPPORTED_GROUPS = (
    ("=", "a lookahead (?=...)"),
    ("!", "a negative lookahead (?!...)"),
    ("<=", "a lookbehind (?<=...)"),
    ("<!", "a negative lookbehind (?<!...)"),
    ("P=", "a named backreference (?P=name)"),
    (">", "an atomic group (?>...)"),
    ("(", "a conditional group (?(id)yes|no)"),
)
_WHY = "hookyard's re runs on RE2, which matches in linear time and so cannot run"
_REPEAT = _stdlib_re.compile(r"\{(\d*)(?:(,)(\d*))?\}")
_INLINE_FLAGS = _stdlib_re.compile(r"\(\?([aiLmsux]+)(?:-([imsx]+))?([:)])")
_SPACE = " \t\n\r\f\v"
_OCTAL = "01234567"


def _unsupported(construct: str, pattern: Any, pos: int) -> error:
    return error(f"{construct} is not supported: {_WHY} it (at position {pos})", pattern, pos)


def _char(code: int) -> str:
    return f"\\x{{{code:x}}}"


class _Translator:
    """Python pattern syntax -> RE2 syntax, refusing what RE2 cannot run by name."""

    def __init__(self, pattern: str, text: bool, verbose: bool) -> None:
        self.p = pattern
        self.text = text  # a str pattern (bytes patterns have no \u, \N escapes)
        self.verbose = verbose
        self.out: list[str] = []
        self.flags = ""  # global inline flags found at the start (for RE2)
        self.i = 0

    def run(self) -> str:
        p, n = self.p, len(self.p)
        self._global_flags()
        quantified = False  # the last token was a quantifier (a following + is possessive)
        while self.i < n:
            c = p[self.i]
            if self.verbose and c in _SPACE:
                self.i += 1
                continue
            if self.verbose and c == "#":
                end = p.find("\n", self.i)
                self.i = n if end < 0 else end + 1
                continue
            if c == "\\":
                self._escape(in_class=False)
                quantified = False
            elif c == "[":
                self._class()
                quantified = False
            elif c == "(":
                self._group()
                quantified = False
            elif c in "*+?":
                if quantified and c == "+":
                    raise _unsupported("a possessive quantifier (*+, ++, ?+, {m,n}+)", p, self.i)
                self.out.append(c)
                self.i += 1
                # a lazy "?" ends the quantifier; "a??" is lazy, "a?+" possessive
                quantified = not (quantified and c == "?")
            elif c == "{":
                quantified = self._repeat()
            else:
                self.out.append(c)
                self.i += 1
                quantified = False
        prefix = f"(?{self.flags})" if self.flags else ""
        return prefix + "".join(self.out)

    def _global_flags(self) -> None:
        # Python allows global inline flags only at the start; RE2 has no (?x), (?a),
        # (?u): they become translation modes here.
        while True:
            match = _INLINE_FLAGS.match(self.p, self.i)
            if match is None or match.group(3) != ")" or match.group(2):
                return
            letters = match.group(1)
            if "L" in letters:
                raise _unsupported("the LOCALE flag (?L)", self.p, self.i)
            if "x" in letters:
                self.verbose = True
            self.flags += "".join(f for f in letters if f in "ims" and f not in self.flags)
            self.i = match.end()

    def _escape(self, *, in_class: bool) -> None:
        p, i = self.p, self.i
        if i + 1 >= len(p):
            raise error("bad escape (end of pattern)", p, i)
        c = p[i + 1]
        if c in "123456789" and not in_class:
            digits = p[i + 1 : i + 4]
            if len(digits) == 3 and all(d in _OCTAL for d in digits):
                self.out.append(_char(int(p[i + 1 : i + 4], 8)))
                self.i = i + 4
                return
            raise _unsupported("a backreference (\\1 ... \\99)", p, i)
        if c in _OCTAL and (c == "0" or in_class):
            end = i + 2
            while end < len(p) and end < i + 4 and p[end] in _OCTAL:
                end += 1
            self.out.append(_char(int(p[i + 1 : end], 8)))
            self.i = end
            return
        if c == "Z" and not in_class:
            self.out.append("\\z")
        elif c == "b" and in_class:
            self.out.append(_char(8))  # [\b] is a backspace in Python
        elif self.text and c in "uU":
            width = 4 if c == "u" else 8
            digits = p[i + 2 : i + 2 + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise error(f"bad escape \\{c}", p, i)
            self.out.append(_char(int(digits, 16)))
            self.i = i + 2 + width
            return
        elif self.text and c == "N":
            end = p.find("}", i)
            if p[i + 2 : i + 3] != "{" or end < 0:
                raise error("missing {name} after \\N", p, i)
            try:
                self.out.append(_char(ord(unicodedata.lookup(p[i + 3 : end]))))
            except KeyError:
                raise error(f"undefined character name {p[i + 3 : end]!r}", p, i) from None
            self.i = end + 1
            return
        elif c in _SPACE:
            self.out.append(_char(ord(c)))  # "\ " in verbose patterns
        else:
            self.out.append(p[i : i + 2])
        self.i = i + 2

    def _class(self) -> None:
        p = self.p
        start = self.i
        self.out.append("[")
        self.i += 1
        if p[self.i : self.i + 1] == "^":
            self.out.append("^")
            self.i += 1
        first = True
        while self.i < len(p):
            c = p[self.i]
            if c == "]" and not first:
                self.out.append("]")
                self.i += 1
                return
            first = False
            if c == "\\":
                self._escape(in_class=True)
            elif c == "[":
                self.out.append("\\[")  # Python has no [:alpha:] classes: a literal "["
                self.i += 1
            elif c == "]":
                self.out.append("\\]")  # "[]...]": a literal "]" first
                self.i += 1
            else:
                self.out.append(c)
                self.i += 1
        raise error("unterminated character set", p, start)

    def _group(self) -> None:
        p, i = self.p, self.i
        if p[i + 1 : i + 2] != "?":
            self.out.append("(")
            self.i += 1
            return
        rest = p[i + 2 : i + 4]
        for start, construct in _UNSUPPORTED_GROUPS:
            if rest.startswith(start):
                raise _unsupported(construct, p, i)
        if rest.startswith("#"):
            end = p.find(")", i)
            if end < 0:
                raise error("missing ), unterminated comment", p, i)
            self.i = end + 1
            return
        match = _INLINE_FLAGS.match(p, i)
        if match is not None:
            on, off, kind = match.groups()
            if kind == ")":
                raise error("global flags not at the start of the expression", p, i)
            if "L" in on:
                raise _unsupported("the LOCALE flag (?L)", p, i)
            if "x" in on or (off and "x" in off):
                raise _unsupported("a scoped verbose flag (?x:...)", p, i)
            on = "".join(f for f in on if f in "ims")
            off = off or ""
            self.out.append(f"(?{on}-{off}:" if off else f"(?{on}:" if on else "(?:")
            self.i = match.end()
            return
        self.out.append("(?")
        self.i += 2

    def _repeat(self) -> bool:
        match = _REPEAT.match(self.p, self.i)
        if match is None:
            self.out.append("\\{")  # Python reads a "{" that starts no repeat literally
            self.i += 1
            return False
        low, comma, high = match.groups()
        if not comma:
            self.out.append(f"{{{low}}}" if low else "\\{\\}")
            self.i = match.end()
            return bool(low)
        if not low and not high:
            self.out.append("*")
        else:
            self.out.append(f"{{{low or 0},{high}}}")
        self.i = match.end()
        return True


def _translate(pattern: str, flags: int, text: bool) -> str:
    translator = _Translator(pattern, text, bool(flags & VERBOSE))
    translated = translator.run()
    inline = "".join(
        f for bit, f in ((IGNORECASE, "i"), (MULTILINE, "m"), (DOTALL, "s")) if flags & bit
    )
    return f"(?{inline})" + translated if inline else translated


def _check_flags(flags: Any, pattern: Any) -> int:
    if isinstance(flags, bool) or not isinstance(flags, int):
        raise TypeError(f"flags must be an int (re.I | re.M ...), not {type(flags).__name__}")
    if flags & ~_KNOWN_FLAGS:
        raise ValueError(f"unknown flags {flags & ~_KNOWN_FLAGS:#x} (re.DEBUG is not available)")
    if flags & LOCALE:
        raise _unsupported("the LOCALE flag", pattern, 0)
    if flags & ASCII and flags & UNICODE:
        raise ValueError("ASCII and UNICODE flags are incompatible")
    if isinstance(pattern, bytes) and flags & UNICODE:
        raise ValueError("cannot use UNICODE flag with a bytes pattern")
    return flags


def _options(text: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every bad pattern to stderr
    if not text:
        options.encoding = re2.Options.Encoding.LATIN1  # bytes: one byte, one character
    return options


# -- replacement templates ("\1", "\g<name>", "\n") -----------------------------------------
_TEMPLATE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}
_ASCII_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_template(template: Any, pattern: Pattern) -> list[Any]:
    """A replacement template as a list of literal pieces (str/bytes) and group numbers."""
    text = isinstance(template, str)
    src = template if text else template.decode("latin-1")
    groups = pattern.groups
    parts: list[Any] = []
    literal: list[str] = []
    i = 0
    while i < len(src):
        c = src[i]
        if c != "\\":
            literal.append(c)
            i += 1
            continue
        if i + 1 >= len(src):
            raise error("bad escape (end of pattern)", template, i)
        d = src[i + 1]
        group: int | None = None
        if d == "g":
            end = src.find(">", i)
            if src[i + 2 : i + 3] != "<" or end < 0:
                raise error("missing < or > in \\g<...>", template, i)
            name = src[i + 3 : end]
            if name.isdigit() and name.isascii():
                group = int(name)
            elif name in pattern.groupindex:
                group = pattern.groupindex[name]
            else:
                raise IndexError(f"unknown group name {name!r}")
            i = end + 1
        elif d == "0" or (d in _OCTAL and src[i + 1 : i + 4].isdigit() and len(src) >= i + 4):
            end = i + 2
            limit = i + 4
            while end < len(src) and end < limit and src[end] in _OCTAL:
                end += 1
            literal.append(chr(int(src[i + 1 : end], 8)))
            i = end
            continue
        elif d.isdigit() and d.isascii():
            end = i + 3 if src[i + 2 : i + 3].isdigit() and src[i + 2].isascii() else i + 2
            group = int(src[i + 1 : end])
            i = end
        elif d in _TEMPLATE_ESCAPES:
            literal.append(_TEMPLATE_ESCAPES[d])
            i += 2
            continue
        elif d in _ASCII_LETTERS:
            raise error(f"bad escape \\{d}", template, i)
        else:
            literal.append(src[i : i + 2])  # unknown non-letter escapes stay as written
            i += 2
            continue
        if group is not None and not 0 <= group <= groups:
            raise error(f"invalid group reference {group}", template, i)
        if literal:
            joined = "".join(literal)
            parts.append(joined if text else joined.encode("latin-1"))
            literal = []
        parts.append(group)
    if literal:
        joined = "".join(literal)
        parts.append(joined if text else joined.encode("latin-1"))
    return parts


# -- Pattern and Match ---------------------------------------------------------------------
_MAKE = object()  # only this module makes Pattern and Match objects


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
        parts = _parse_template(repl, self)
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
        flags = _check_flags(flags, pattern)
        key = (type(pattern), pattern, flags)
        found = cache.get(key)
        if found is not None:
            return found
        budget = current_budget()
        budget.charge_size(len(pattern) * 4, "regular expression")
        text = isinstance(pattern, str)
        source = pattern if isinstance(pattern, str) else pattern.decode("latin-1")
        translated = _translate(source, flags, text)
        try:
            regexp = re2._Regexp(
                translated if text else translated.encode("latin-1"),  # is process-wide
                _options(text),
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
            cache.pop(next(iter(cache)))
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
