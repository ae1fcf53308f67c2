"""Client addresses: parsing what clients and proxies wrote, and what throttles count.

``resolve`` walks a trusted ``X-Forwarded-For`` from the right (``ent_idp.web.clients``);
``throttle_scope`` is what the per-address counters count: an IPv6 client by its /64 (one
household or phone gets a whole /64 and can pick any address in it), an IPv4 client by its
address, an IPv4-mapped IPv6 one as IPv4.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from flask import has_request_context, request

IPV6_PREFIX = 64

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=4096)  # a few per request, the same few again and again
def parse(value: str) -> Address | None:
    """An address as a client or proxy wrote it, IPv4-mapped IPv6 unwrapped; None if garbage."""
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def trusted(address: Address | None, networks: Iterable[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def resolve(peer: str, forwarded_for: str, networks: tuple[Network, ...]) -> str:
    """The client's address: the peer's, or the first untrusted hop of a trusted chain."""
    current = parse(peer)
    if current is None:
        return peer
    if not trusted(current, networks) or not forwarded_for:
        return str(current)
    for hop in reversed(forwarded_for.split(",")):
        address = parse(hop)
        if address is None:
            break  # a trusted proxy wrote something unreadable: count that proxy
        current = address
        if not trusted(address, networks):
            break
    return str(current)


def throttle_scope(address: str | None) -> str:
    """What the per-address counters count: the address, or the /64 of an IPv6 one."""
    parsed = parse(address or "")
    if parsed is None:
        return address or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed)


def client_scope() -> str:
    """The throttle scope of this request's client (``unknown`` off a request)."""
    return throttle_scope(request.remote_addr if has_request_context() else None)
