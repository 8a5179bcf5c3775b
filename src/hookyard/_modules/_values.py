"""Identifier facades: ``uuid`` and ``ipaddress``.

``uuid1`` and ``getnode`` are not offered: finding the MAC address may read system files
or run a program. The ``ipaddress`` network classes are subclasses whose generators
(``hosts()``, ``subnets()``, iteration, ``address_exclude``) charge one operation per item:
an IPv6 ``/64`` has 2**64 hosts, and ``x in net.hosts()`` would iterate them in Python code
no budget check reaches. Networks stay on the script's side (``str(net)`` crosses).
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from typing import Any

from .._budget import current_budget
from .._guards import materialize
from ._common import bounded_output, public, public_class

__all__ = ["ipaddress_facade", "uuid_facade"]


def _name(name: Any, what: str) -> Any:
    if isinstance(name, str | bytes):
        current_budget().charge_size(len(name), what)
    return name


@public("uuid.uuid3")
def uuid3(namespace: Any, name: Any) -> uuid.UUID:
    return uuid.uuid3(namespace, _name(name, "uuid.uuid3 name"))


@public("uuid.uuid5")
def uuid5(namespace: Any, name: Any) -> uuid.UUID:
    return uuid.uuid5(namespace, _name(name, "uuid.uuid5 name"))


def uuid_facade() -> dict[str, Any]:
    names = ("UUID", "uuid4", "NAMESPACE_DNS", "NAMESPACE_URL", "NAMESPACE_OID", "NAMESPACE_X500")
    attributes: dict[str, Any] = {name: getattr(uuid, name) for name in names}
    attributes.update(uuid3=uuid3, uuid5=uuid5)
    return attributes


# -- ipaddress -------------------------------------------------------------------------------
class _Bounded:
    """The generators of a network, one operation per item."""

    def __iter__(self) -> Iterator[Any]:
        return bounded_output(super().__iter__())  # type: ignore[misc, no-any-return]

    def hosts(self) -> Iterator[Any]:
        return bounded_output(super().hosts())  # type: ignore[misc, no-any-return]

    def subnets(self, prefixlen_diff: int = 1, new_prefix: int | None = None) -> Iterator[Any]:
        return bounded_output(super().subnets(prefixlen_diff, new_prefix))  # type: ignore[misc, no-any-return]

    def address_exclude(self, other: Any) -> Iterator[Any]:
        return bounded_output(super().address_exclude(other))  # type: ignore[misc, no-any-return]


class IPv4Network(_Bounded, ipaddress.IPv4Network):
    pass


class IPv6Network(_Bounded, ipaddress.IPv6Network):
    pass


class IPv4Interface(ipaddress.IPv4Interface):
    def __init__(self, address: Any) -> None:
        super().__init__(address)
        self.network = IPv4Network(self.network)


class IPv6Interface(ipaddress.IPv6Interface):
    def __init__(self, address: Any) -> None:
        super().__init__(address)
        self.network = IPv6Network(self.network)


for _cls in (IPv4Network, IPv6Network, IPv4Interface, IPv6Interface):
    public_class(_cls, _cls.__name__, "ipaddress")
public_class(_Bounded, "network", "ipaddress")


def _as_network(network: Any) -> Any:
    if type(network) is ipaddress.IPv4Network:
        return IPv4Network(network)
    if type(network) is ipaddress.IPv6Network:
        return IPv6Network(network)
    return network


@public("ipaddress.ip_network")
def ip_network(address: Any, strict: bool = True) -> Any:
    for cls in (IPv4Network, IPv6Network):
        try:
            return cls(address, strict)
        except (ipaddress.AddressValueError, ipaddress.NetmaskValueError):
            pass
    raise ValueError(f"{address!r} does not appear to be an IPv4 or IPv6 network")


@public("ipaddress.ip_interface")
def ip_interface(address: Any) -> Any:
    for cls in (IPv4Interface, IPv6Interface):
        try:
            return cls(address)
        except (ipaddress.AddressValueError, ipaddress.NetmaskValueError):
            pass
    raise ValueError(f"{address!r} does not appear to be an IPv4 or IPv6 interface")


@public("ipaddress.summarize_address_range")
def summarize_address_range(first: Any, last: Any) -> Iterator[Any]:
    # at most 128 networks
    return (_as_network(n) for n in ipaddress.summarize_address_range(first, last))


@public("ipaddress.collapse_addresses")
def collapse_addresses(addresses: Any) -> Iterator[Any]:
    items = materialize(addresses, "ipaddress.collapse_addresses")
    return (_as_network(n) for n in ipaddress.collapse_addresses(items))


def ipaddress_facade() -> dict[str, Any]:
    plain = (
        "ip_address", "IPv4Address", "IPv6Address", "AddressValueError",
        "NetmaskValueError", "v4_int_to_packed", "v6_int_to_packed", "get_mixed_type_key",
    )  # fmt: skip
    attributes: dict[str, Any] = {name: getattr(ipaddress, name) for name in plain}
    attributes.update(
        ip_network=ip_network,
        ip_interface=ip_interface,
        IPv4Network=IPv4Network,
        IPv6Network=IPv6Network,
        IPv4Interface=IPv4Interface,
        IPv6Interface=IPv6Interface,
        summarize_address_range=summarize_address_range,
        collapse_addresses=collapse_addresses,
    )
    return attributes
