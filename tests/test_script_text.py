"""Text a script makes: ``print`` and ``log`` cost the same output budget (none when nobody
listens), and the reprs a script sees carry no memory addresses (issue 18, items 3 and 13).
"""

from __future__ import annotations

import logging
import re

import pytest

import hookyard
from tests.conftest import BOTH_MODES, MakeEngine, limit_exceeded

pytestmark = BOTH_MODES

# 100 lines of 100 characters: ten times the output budget below
LOUD = {
    "print": "def pre():\n    for i in range(100):\n        print('x' * 100)\n",
    "log.info": "def pre():\n    for i in range(100):\n        log.info('x' * 100)\n",
    "print of two values": "def pre():\n    for i in range(100):\n        print('x' * 50, 'y' * 50)\n",
}


@pytest.mark.parametrize("source", LOUD.values(), ids=list(LOUD))
def test_output_nobody_listens_to_costs_nothing(
    make_engine: MakeEngine, source: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With the scripts' logger above INFO, ``print`` and ``log.info`` alike are dropped
    before they are formatted or charged: no output limit is reached."""
    caplog.set_level(logging.WARNING, logger="hookyard.script")
    engine = make_engine({"p/10-x.py": source}, limits=hookyard.Limits(output=1000))

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return "ran"

    assert host() == "ran"
    assert not [r for r in caplog.records if r.name.startswith("hookyard.script")]


@pytest.mark.parametrize("source", LOUD.values(), ids=list(LOUD))
def test_output_someone_hears_is_charged(
    make_engine: MakeEngine, source: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With the logger at INFO, ``print`` and ``log.info`` alike run out of the output
    budget and the rest is not logged."""
    caplog.set_level(logging.INFO, logger="hookyard.script")
    engine = make_engine({"p/10-x.py": source}, limits=hookyard.Limits(output=1000))

    @engine.hook("p", on_error="raise")
    def host() -> str:
        return "ran"

    assert limit_exceeded(host).limit == "output"
    heard = [r for r in caplog.records if r.name.startswith("hookyard.script")]
    assert 0 < len(heard) <= 10


ADDRESSES = """
def helper():
    pass


class Thing:
    pass


def post(rv):
    thing = Thing()
    return [
        repr(helper), str(helper), f"{helper!r}", "%r" % (helper,), "{!r}".format(helper),
        repr(thing), str(thing), f"{thing}", "%s" % (thing,), format(thing),
        repr(Thing), repr(object()), repr(post), repr(lambda: 1),
        repr(iter([1])), repr(x for x in [1]), repr(api.notify), repr(log),
        str([helper, thing]), repr({"k": thing}),
    ]
"""


def test_reprs_carry_no_addresses(make_engine: MakeEngine) -> None:
    """Default reprs of functions, objects, classes, iterators and generators never show
    an address (``id()`` is denied for the same reason: the heap layout)."""
    engine = make_engine({"p/10-x.py": ADDRESSES}, api={"notify": print})

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> None:
        return None

    texts = host()
    assert isinstance(texts, list) and len(texts) == 20
    for text in texts:
        assert not re.search(r"0x[0-9a-fA-F]{4,}", text), text
    assert texts[0] == "<function helper>"
    assert texts[5].endswith("Thing object>")


def test_log_offers_a_loggers_methods(
    make_engine: MakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """``log`` has a logger's methods (``critical``, ``log(level, ...)``,
    ``isEnabledFor``, levels 0 to 50: the host's logger caches a lookup per level) and takes ``exc_info``/``stack_info``/``stacklevel`` without adding
    a traceback of the host's frames; ``extra=`` and unknown keywords are clear errors."""
    caplog.set_level(logging.INFO, logger="hookyard.script")
    source = (
        "def post(rv):\n"
        "    try:\n        1 / 0\n    except ZeroDivisionError:\n"
        "        log.exception('failed %s', 'here', exc_info=True, stack_info=True)\n"
        "    log.error('e', exc_info=False, stacklevel=2)\n"
        "    log.critical('c %d', 1)\n"
        "    log.log(25, 'custom %s', 'level')\n"
        "    out = [log.isEnabledFor(10), log.isEnabledFor(20)]\n"
        "    for call in (lambda: log.info('x', extra={'a': 1}), lambda: log.info('x', bad=1),\n"
        "                 lambda: log.log('INFO', 'x'), lambda: log.isEnabledFor(10**6)):\n"
        "        try:\n            call()\n        except TypeError as error:\n"
        "            out.append(str(error))\n"
        "    return out\n"
    )
    engine = make_engine({"p/10-x.py": source})

    @engine.hook("p", result="replace", on_error="raise")
    def host() -> object:
        return None

    assert host() == [
        False,
        True,
        "log: extra= is not available to scripts: put the values in the text",
        "log: unexpected keyword argument 'bad'",
        "log level must be an int from 0 to 50 (10 debug, 20 info, 30 warning, 40 error)",
        "log level must be an int from 0 to 50 (10 debug, 20 info, 30 warning, 40 error)",
    ]
    heard = [
        (r.levelno, r.getMessage(), r.exc_info, r.stack_info)
        for r in caplog.records
        if r.name.startswith("hookyard.script")
    ]
    assert heard == [
        (40, "failed here", None, None),
        (40, "e", None, None),
        (50, "c 1", None, None),
        (25, "custom level", None, None),
    ]
