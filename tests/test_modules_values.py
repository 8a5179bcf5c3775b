"""``time``, ``datetime``, ``uuid`` and ``ipaddress`` in scripts: clock reads, formatting
and identifiers work; nothing sleeps, and huge address ranges are iterated on budget."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.conftest import BOTH_MODES, MakeEngine
from tests.modules_support import explodes, fails, run

pytestmark = BOTH_MODES

MODULES = ("time", "datetime", "uuid", "ipaddress")

LEGITIMATE = {
    "clocks": (
        "a = time.monotonic()\nb = time.perf_counter()\n"
        "return [time.time() > 1.7e9, time.monotonic() >= a, time.perf_counter() >= b,"
        " time.time_ns() > 0]",
        [True, True, True, True],
    ),
    "time formatting": (
        "t = time.gmtime(0)\nreturn [time.strftime('%Y-%m-%d %H:%M', t), t.tm_year,"
        " time.strptime('2024-05-01', '%Y-%m-%d').tm_yday, time.mktime(time.localtime(100)) == 100.0,"
        " time.asctime(t)]",
        ["1970-01-01 00:00", 1970, 122, True, time.asctime(time.gmtime(0))],
    ),
    "datetime": (
        "d = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc)\n"
        "return [d.isoformat(), (d + datetime.timedelta(days=1)).date().isoformat(),"
        " f'{d:%H:%M}', datetime.date(2024, 1, 1).weekday(), d.tzinfo is datetime.UTC]",
        ["2024-05-01T12:30:00+00:00", "2024-05-02", "12:30", 0, True],
    ),
    "uuid": (
        "u = uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org')\n"
        "return [str(u), uuid.UUID(str(u)) == u, uuid.uuid4().version, u]",
        [
            str(uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")),
            True,
            4,
            uuid.uuid5(uuid.NAMESPACE_DNS, "python.org"),
        ],
    ),
    "ipaddress": (
        "net = ipaddress.ip_network('192.168.0.0/29')\n"
        "return [str(ipaddress.ip_address('10.0.0.1') + 1), [str(h) for h in net.hosts()][:2],"
        " net.num_addresses, ipaddress.ip_address('192.168.0.3') in net,"
        " [str(s) for s in net.subnets(prefixlen_diff=1)], str(ipaddress.ip_interface('10.1.2.3/24').network),"
        " ipaddress.ip_address('::1').is_loopback, isinstance(net, ipaddress.IPv4Network),"
        " [str(n) for n in ipaddress.collapse_addresses([ipaddress.ip_network('10.0.0.0/25'),"
        " ipaddress.ip_network('10.0.0.128/25')])]]",
        [
            "10.0.0.2",
            ["192.168.0.1", "192.168.0.2"],
            8,
            True,
            ["192.168.0.0/30", "192.168.0.4/30"],
            "10.1.2.0/24",
            True,
            True,
            ["10.0.0.0/24"],
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(LEGITIMATE))
def test_documented_uses_work(make_engine: MakeEngine, name: str) -> None:
    """Clock reads, formatting, parsing and identifiers give the documented results."""
    body, expected = LEGITIMATE[name]
    assert run(make_engine, body, *MODULES) == expected


EXPLODING = {
    "hosts of an IPv6 /64 in a membership test": (
        "net = ipaddress.ip_network('2001:db8::/64')\nipaddress.ip_address('2001:db9::1') in net.hosts()"
    ),
    "list of an IPv4 /8": "list(ipaddress.ip_network('10.0.0.0/8'))",
    "subnets of an IPv6 /32 into /128": (
        "for s in ipaddress.ip_network('2001:db8::/32').subnets(new_prefix=128):\n    pass"
    ),
    "hosts of an interface's network": "list(ipaddress.ip_interface('10.1.2.3/8').network.hosts())",
    "strftime of a huge format": "time.strftime('%c' * 10000)",
    "strptime of a huge text": "time.strptime('1' * 100000, '%Y')",
}


@pytest.mark.parametrize("name", sorted(EXPLODING))
def test_exploding_calls_stop_within_the_budget(make_engine: MakeEngine, name: str) -> None:
    """Huge address ranges are iterated on the budget; formats are bounded."""
    explodes(make_engine, EXPLODING[name], *MODULES)


def test_time_offers_no_sleep(make_engine: MakeEngine) -> None:
    """time.sleep would hold the thread past the budget: it is not there."""
    assert "has no attribute 'sleep'" in fails(make_engine, "time.sleep(1)", *MODULES)
    assert "has no attribute 'tzset'" in fails(make_engine, "time.tzset()", *MODULES)


def test_uuid1_is_not_offered(make_engine: MakeEngine) -> None:
    """uuid1 may read system files or run a program to find the MAC address."""
    assert "has no attribute 'uuid1'" in fails(make_engine, "uuid.uuid1()", *MODULES)
