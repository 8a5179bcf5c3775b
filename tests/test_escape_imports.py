"""Escapes through imports: only allow-listed modules, only as facades, no fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.escapes import assert_contained, run_payload

# the plain way in: os at module level
IMPORT_OS = "import os\ndef pre(*a):\n    api.leak('escaped')\n"
# a name from a forbidden module
FROM_OS_IMPORT = "from os import system\ndef pre(*a):\n    api.leak('escaped')\n"
# a submodule of an allowed package name
IMPORT_OS_PATH = "def pre(*a):\n    import os.path\n    api.leak('escaped')\n"
# the import machinery itself
IMPORT_IMPORTLIB = "def pre(*a):\n    import importlib\n    api.leak('escaped')\n"
IMPORT_SYS = "def pre(*a):\n    import sys\n    api.leak(str(sys.modules))\n"
IMPORT_BUILTINS = "def pre(*a):\n    import builtins\n    api.leak('escaped')\n"
# CPython's IMPORT_FROM falls back to sys.modules["json.decoder"] when the attribute is
# missing on a package: a facade must not trigger that fallback
FROM_JSON_IMPORT_SUBMODULE = (
    "def pre(*a):\n    from json import decoder\n    api.leak(str(decoder))\n"
)
FROM_JSON_IMPORT_CODECS = "def pre(*a):\n    from json import codecs\n    api.leak(str(codecs))\n"
# attributes of a facade that the real module has (json imports codecs; datetime imports sys)
JSON_CODECS_ATTRIBUTE = "import json\ndef pre(*a):\n    api.leak(str(json.codecs))\n"
JSON_SCANNER_ATTRIBUTE = "import json\ndef pre(*a):\n    api.leak(str(json.scanner))\n"
# dunder names on modules refused at compile time
MODULE_LOADER = "import math\ndef pre(*a):\n    api.leak(str(math.__loader__))\n"
MODULE_DICT_BY_GETATTR = "import math\ndef pre(*a):\n    api.leak(str(getattr(math, '__dict__')))\n"
# __import__ by name, and through the builtins dict
DUNDER_IMPORT = "def pre(*a):\n    __import__('os').system('true')\n    api.leak('escaped')\n"
BUILTINS_DICT = "def pre(*a):\n    __builtins__['__import__']('os')\n    api.leak('escaped')\n"
# relative and star imports
RELATIVE_IMPORT = "def pre(*a):\n    from . import secrets\n    api.leak('escaped')\n"
STAR_IMPORT = "from math import *\ndef pre(*a):\n    api.leak('escaped')\n"
# a random module facade must not hand out the module's private os/_inst
RANDOM_PRIVATE = "import random\ndef pre(*a):\n    api.leak(str(getattr(random, '_os')))\n"
# string.Formatter (CVE-2024-47532): not in the string facade at all
STRING_FORMATTER = (
    "import string\ndef pre(*a):\n    api.leak(string.Formatter().format('{0.__class__}', 1))\n"
)
# a module function's globals
FUNCTION_GLOBALS = (
    "import json\ndef pre(*a):\n    api.leak(str(getattr(json.dumps, '__globals__')))\n"
)
# rebinding an import name to reach another module's facade is harmless; import of an
# allowed module under a forbidden alias must still give the facade only
IMPORT_AS = "import json as os\ndef pre(*a):\n    api.leak(str(os.codecs))\n"

PAYLOADS = {
    name: value for name, value in globals().items() if name.isupper() and isinstance(value, str)
}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_import_payload_is_contained(tmp_path: Path, name: str) -> None:
    """No import trick reaches a real module, the import system or sys.modules."""
    assert_contained(run_payload(tmp_path, PAYLOADS[name]))


def test_allowed_import_works(tmp_path: Path) -> None:
    """Allow-listed modules import as facades that do their job."""
    outcome = run_payload(
        tmp_path,
        "import math, json\nfrom datetime import timedelta\n"
        "def post(rv, *a):\n    return [math.sqrt(9), json.dumps({'a': 1}), timedelta(days=1).days]\n",
    )
    assert outcome.result == [3.0, '{"a": 1}', 1]


def test_forbidden_module_cannot_be_offered() -> None:
    """A host cannot offer a module that opens the sandbox; the error says why."""
    import hookyard

    for module in ("os", "sys", "operator", "functools", "pickle", "importlib", "os.path"):
        with pytest.raises(ValueError, match="cannot be offered"):
            hookyard.HookEngine("/nonexistent-hookyard-dir", modules=(module,))


def test_random_facade_is_per_script(tmp_path: Path) -> None:
    """Seeding random in a script does not touch the process-wide random state."""
    import random

    random.seed(1234)
    expected = random.random()
    random.seed(1234)
    outcome = run_payload(
        tmp_path,
        "import random\ndef post(rv, *a):\n    random.seed(1)\n    return random.random()\n",
    )
    assert isinstance(outcome.result, float)
    assert random.random() == expected
