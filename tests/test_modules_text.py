"""``json``, ``string``, ``textwrap``, ``base64`` and ``hashlib`` in scripts: documented uses
work, amplifying calls are refused, and errors name the public function (issue 18, 9)."""

from __future__ import annotations

import base64
import hashlib
import json
import textwrap

import pytest

from tests.conftest import BOTH_MODES, MakeEngine
from tests.modules_support import explodes, fails, run

pytestmark = BOTH_MODES

MODULES = ("json", "string", "textwrap", "base64", "hashlib", "datetime")
VALUE = {"b": [1, 2.5, None, True], "a": "é"}

LEGITIMATE = {
    "json.dumps options": (
        "v = {'b': [1, 2.5, None, True], 'a': 'é'}\n"
        "return [json.dumps(v), json.dumps(v, sort_keys=True, indent=2),"
        " json.dumps(v, separators=(',', ':'), ensure_ascii=False), json.dumps(v, indent='\\t')]",
        [
            json.dumps(VALUE),
            json.dumps(VALUE, sort_keys=True, indent=2),
            json.dumps(VALUE, separators=(",", ":"), ensure_ascii=False),
            json.dumps(VALUE, indent="\t"),
        ],
    ),
    "json.dumps default=str": (
        "return json.dumps({'when': datetime.date(2024, 5, 1)}, default=str)",
        '{"when": "2024-05-01"}',
    ),
    "json.dumps default function": (
        "class P:\n    def __init__(self):\n        self.x = 1\n"
        "return json.dumps([P()], default=lambda o: {'x': o.x})",
        '[{"x": 1}]',
    ),
    "json.loads hooks": (
        "return [json.loads('{\"a\": [1, 2]}'), json.loads('[1.5]', parse_float=str),"
        " json.loads('{\"a\": 1}', object_pairs_hook=list)]",
        [{"a": [1, 2]}, ["1.5"], [("a", 1)]],
    ),
    "json.JSONDecodeError": (
        "try:\n    json.loads('{')\nexcept json.JSONDecodeError as exc:\n    return exc.msg",
        "Expecting property name enclosed in double quotes",
    ),
    "string constants and capwords": (
        "return [string.ascii_lowercase[:3], string.digits, string.capwords('hello  world')]",
        ["abc", "0123456789", "Hello World"],
    ),
    "string.Template": (
        "t = string.Template('$who likes ${what}; $$5')\n"
        "return [t.substitute(who='tim', what='kung pao'), t.substitute({'who': 'a', 'what': 'b'}),"
        " string.Template('$who and $other').safe_substitute(who='x'),"
        " t.get_identifiers(), t.is_valid()]",
        ["tim likes kung pao; $5", "a likes b; $5", "x and $other", ["who", "what"], True],
    ),
    "string.Template subclass": (
        "class Percent(string.Template):\n    delimiter = '%'\n    idpattern = '[a-z]+_[a-z]+'\n"
        "return Percent('%first_name %x').safe_substitute(first_name='Ann')",
        "Ann %x",
    ),
    "textwrap": (
        "s = 'The quick brown fox jumped over the lazy dog.'\n"
        "return [textwrap.wrap(s, 15), textwrap.fill(s, 20, initial_indent='* '),"
        " textwrap.shorten('Hello  world!', width=12), textwrap.dedent('  a\\n  b'),"
        " textwrap.indent('a\\nb', '> ')]",
        [
            textwrap.wrap("The quick brown fox jumped over the lazy dog.", 15),
            textwrap.fill("The quick brown fox jumped over the lazy dog.", 20, initial_indent="* "),
            textwrap.shorten("Hello  world!", width=12),
            "a\nb",
            "> a\n> b",
        ],
    ),
    "base64": (
        "e = base64.b64encode(b'hook data')\n"
        "return [e, base64.b64decode(e), base64.urlsafe_b64encode(b'\\xfb\\xff'),"
        " base64.b16encode(b'\\x01'), base64.b32decode(base64.b32encode(b'x'))]",
        [base64.b64encode(b"hook data"), b"hook data", b"-_8=", b"01", b"x"],
    ),
    "hashlib": (
        "h = hashlib.sha256()\nh.update(b'hook')\nh.update(b' data')\n"
        "return [h.hexdigest(), hashlib.md5(b'x').hexdigest(), hashlib.new('sha1', b'x').name,"
        " hashlib.shake_128(b'x').hexdigest(4), h.digest_size, h.copy().hexdigest() == h.hexdigest()]",
        [
            hashlib.sha256(b"hook data").hexdigest(),
            hashlib.md5(b"x").hexdigest(),
            "sha1",
            hashlib.shake_128(b"x").hexdigest(4),
            32,
            True,
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(LEGITIMATE))
def test_documented_uses_work(make_engine: MakeEngine, name: str) -> None:
    """The Python docs' examples give the documented results."""
    body, expected = LEGITIMATE[name]
    assert run(make_engine, body, *MODULES) == expected


EXPLODING = {
    "json indent amplification": "x = [[[[[[[[[[1]]]]]]]]]] * 1000\njson.dumps(x, indent=1000)",
    "json separators amplification": "json.dumps([0] * 10000, separators=(',' * 1000, ':'))",
    "json billion laughs": "a = ['x'] * 1000\nb = [a] * 1000\njson.dumps([b] * 1000)",
    "json default returning a big value": (
        "big = ['x'] * 10000\nclass O:\n    pass\njson.dumps([O()] * 1000, default=lambda o: big)"
    ),
    "json.loads of a huge text": "json.loads('[' + '1,' * 500000 + '1]')",
    "textwrap of long whitespace runs": "textwrap.wrap('\\t' * 100000, 10)",
    "textwrap indent amplification": "textwrap.indent('\\n' * 100000, 'x' * 100)",
    "textwrap wrap indent amplification": "textwrap.fill('a ' * 50000, 3, initial_indent='', subsequent_indent='x' * 1000)",
    "Template substituting a big value many times": (
        "string.Template('$x' * 10000).substitute(x='y' * 1000)"
    ),
    "base64 of a huge input": "base64.b64encode(b'x' * 150000)",
    "a85decode expansion": "base64.a85decode(b'z' * 100000)",
    "shake digest of a huge length": "hashlib.shake_256(b'x').digest(10**10)",
    "pbkdf2 with a huge iteration count": "hashlib.pbkdf2_hmac('sha256', b'pw', b'salt', 10**9)",
}


@pytest.mark.parametrize("name", sorted(EXPLODING))
def test_exploding_calls_stop_within_the_budget(make_engine: MakeEngine, name: str) -> None:
    """Output that grows faster than the input is refused before it is built; the host
    keeps serving."""
    explodes(make_engine, EXPLODING[name], *MODULES)


def test_argument_errors_name_the_public_function(make_engine: MakeEngine) -> None:
    """A wrong keyword is reported against json.dumps, never an internal name."""
    message = fails(make_engine, "json.dumps(1, bogus=2)", *MODULES)
    assert "json.dumps() got an unexpected keyword argument 'bogus'" in message
    message = fails(make_engine, "json.loads()", *MODULES)
    assert message.startswith("TypeError: json.loads()"), message
    message = fails(make_engine, "textwrap.wrap('x', width=5, colour=1)", *MODULES)
    assert "textwrap.wrap() got an unexpected keyword argument 'colour'" in message
    message = fails(make_engine, "json.dumps(1, cls=dict)", *MODULES)
    assert "json.dumps: cls=" in message


def test_template_patterns_use_re2(make_engine: MakeEngine) -> None:
    """A Template subclass's pattern is compiled by RE2: a lookahead in it is refused by
    name."""
    body = "class T(string.Template):\n    idpattern = '(?=x)x'\nT('$x').substitute(x=1)"
    assert "lookahead" in fails(make_engine, body, *MODULES)


def test_a_catastrophic_template_pattern_runs_in_linear_time(make_engine: MakeEngine) -> None:
    """A Template subclass whose idpattern backtracks exponentially in the stdlib finishes
    at once: the placeholder is reported invalid."""
    body = "class T(string.Template):\n    idpattern = '(a+)+$'\nT('$' + 'a' * 100000 + '!').substitute(a=1)"
    assert "Invalid placeholder" in fails(make_engine, body, *MODULES)
