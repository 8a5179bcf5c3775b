"""Red team, lying lengths: a script's subclass of a built-in type redefining ``__len__``.

The size checks read ``len()`` of a value; C code (``str * n``, ``"".join``, ``list * n``)
reads the built-in's own storage. ``class S(str)`` with ``__len__`` returning 1 made
``S("x" * 100_000) * 100_000`` pass the check and build ten gigabytes in one C call
(the host hung or ran out of memory, 3.11, 3.12 and 3.13; ``"".join`` likewise). A class
whose ``__len__`` would shadow a built-in's (directly, through a base or a mixin) is now
refused when it is made; ``__len__`` on a class of the script's own stays ordinary Python.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attack_support import MODES, run_host

ATTACKS = {
    "str_repeat": """
        class S(str):
            def __len__(self):
                return 1
        def pre():
            api.leak(len(S("x" * 100000) * 100000))
        """,
    "join": """
        class S(str):
            def __len__(self):
                return 0
        def pre():
            big = S("y" * 1000000)
            api.leak(len("".join([big] * 20000)))
        """,
    "list_repeat_through_a_base": """
        class Base(list):
            pass
        class L(Base):
            def __len__(self):
                return 1
        def pre():
            api.leak(len(L([1] * 100000) * 100000))
        """,
    "mixin": """
        class Small:
            def __len__(self):
                return 1
        class S(Small, str):
            pass
        def pre():
            api.leak(len(S("x" * 100000) * 100000))
        """,
    "facade_deque": """
        import collections
        class D(collections.deque):
            def __len__(self):
                return 0
        def pre():
            api.leak(len(D([1] * 100000) * 100000))
        """,
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_builtin_length_cannot_be_redefined(tmp_path: Path, mode: str, attack: str) -> None:
    """The class is refused at load, naming __len__; nothing is built or leaked."""
    report = run_host(tmp_path, ATTACKS[attack], mode)
    assert report["leaked"] == "[]"
    assert report["ok"] is False, report
    assert "__len__ cannot be redefined" in report["error"]


@pytest.mark.parametrize("mode", MODES)
def test_ordinary_lengths_still_work(tmp_path: Path, mode: str) -> None:
    """``__len__`` on a script's own class, and subclasses of list and str that keep the
    built-in length, work as in Python."""
    report = run_host(
        tmp_path,
        """
        class Bag:
            def __init__(self, n):
                self.n = n
            def __len__(self):
                return self.n
        class Tags(list):
            def first(self):
                return self[0]
        class Name(str):
            def shout(self):
                return self.upper()
        def pre():
            api.leak([len(Bag(3)), len(Tags([1, 2]) * 2), Tags("ab").first(), Name("x").shout()])
        """,
        mode,
    )
    assert report["cause"] is None, report
    assert report["leaked"] == repr([[3, 4, "a", "X"]])
