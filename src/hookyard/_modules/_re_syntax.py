"""Python regular-expression syntax for RE2: translation, flags, replacement templates.

RE2 spells some of Python's syntax differently (``\\Z``, ``{,n}``, ``\\uXXXX``,
``\\N{name}``, octal escapes, verbose patterns) and cannot run some of it at all
(backreferences, lookaround, atomic groups, possessive quantifiers, conditionals): those
are refused here by name, before RE2 sees the pattern.
"""

from __future__ import annotations

import re as _stdlib_re  # Python's own syntax is scanned with it; never handed to scripts
import unicodedata
from typing import Any

import re2

__all__ = [
    "ASCII",
    "DOTALL",
    "IGNORECASE",
    "LOCALE",
    "MULTILINE",
    "NOFLAG",
    "UNICODE",
    "VERBOSE",
    "check_flags",
    "error",
    "options",
    "parse_template",
    "translate",
]

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


def translate(pattern: str, flags: int, text: bool) -> str:
    translator = _Translator(pattern, text, bool(flags & VERBOSE))
    translated = translator.run()
    inline = "".join(
        f for bit, f in ((IGNORECASE, "i"), (MULTILINE, "m"), (DOTALL, "s")) if flags & bit
    )
    return f"(?{inline})" + translated if inline else translated


def check_flags(flags: Any, pattern: Any) -> int:
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


def options(text: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every bad pattern to stderr
    # RE2's memory per pattern (program and DFA cache; past it, RE2 falls back to its
    # slower, still linear, NFA): a script may hold dozens of patterns
    options.max_mem = 2 << 20
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


def parse_template(template: Any, pattern: Any) -> list[Any]:
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
