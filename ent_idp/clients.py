"""The client's address: from forwarded headers only when a trusted proxy sent them.

``ClientAddresses`` wraps the WSGI app (in place of werkzeug's ProxyFix, which trusts a
number of hops whoever sent them). ``X-Forwarded-For`` is read only when the TCP peer is one
of ``trusted_proxies``, walked from the right: each trusted proxy appended the address it
saw, so the first hop that is not a trusted proxy is the client. ``X-Forwarded-Proto`` is
believed from a trusted peer only. Anything a client wrote further left is ignored.

A request from an untrusted peer that carries a forwarded header is noted in Redis (the
peer and when, kept a day) so that ``ent-idp check`` can warn: either that peer is a proxy
missing from ``trusted_proxies`` (every user behind it shares its address), or someone is
sending forged headers (ignored).

Throttles count an IPv6 client by its /64 (one household or phone gets a whole /64 and can
pick any address in it), an IPv4 client by its address, an IPv4-mapped IPv6 one as IPv4.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Callable, Iterable

import redis

log = logging.getLogger(__name__)

IPV6_PREFIX = 64
NOTE_SECONDS = 24 * 3600  # how long ent-idp check remembers an untrusted forwarded header
NOTE_EVERY_SECONDS = 60  # per process: a flood of forged headers costs one write a minute
FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse(value: str) -> Address | None:
    """An address as a client or proxy wrote it, IPv4-mapped IPv6 unwrapped; None if garbage."""
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Address | None, networks: Iterable[Network]) -> bool:
    return address is not None and any(address in network for network in networks)


def resolve(peer: str, forwarded_for: str, networks: tuple[Network, ...]) -> str:
    """The client's address: the peer's, or the first untrusted hop of a trusted chain."""
    current = parse(peer)
    if current is None:
        return peer
    if not _trusted(current, networks) or not forwarded_for:
        return str(current)
    for hop in reversed(forwarded_for.split(",")):
        address = parse(hop)
        if address is None:
            break  # a trusted proxy wrote something unreadable: count that proxy
        current = address
        if not _trusted(address, networks):
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


class ForwardedHeaderLog:
    """The last untrusted peer seen sending a forwarded header, for ``ent-idp check``."""

    def __init__(self, client: redis.Redis, prefix: str):
        self.redis = client
        self.key = f"{prefix}:untrusted-forwarded"
        self._last_note = 0.0  # per process (this object lives on app.extensions)

    def note(self, peer: str, header: str) -> None:
        now = time.time()
        if now - self._last_note < NOTE_EVERY_SECONDS:
            return
        self._last_note = now
        seen = json.dumps({"peer": peer, "header": header, "at": now})
        try:
            self.redis.set(self.key, seen, ex=NOTE_SECONDS)
        except redis.RedisError as exc:  # a note must never break a request
            log.warning("could not note an untrusted forwarded header: %s", exc)

    def last(self) -> dict | None:
        raw = self.redis.get(self.key)
        return json.loads(raw) if raw else None


class ClientAddresses:
    """WSGI middleware: REMOTE_ADDR becomes the client's address, the scheme the proxy's."""

    def __init__(self, app, networks: tuple[Network, ...], note: Callable[[str, str], None]):
        self.app = app
        self.networks = networks
        self.note = note

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR", "")
        environ["ent_idp.peer"] = peer
        if _trusted(parse(peer), self.networks):
            forwarded_for = environ.get("HTTP_X_FORWARDED_FOR", "")
            environ["REMOTE_ADDR"] = resolve(peer, forwarded_for, self.networks)
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        else:
            environ["REMOTE_ADDR"] = resolve(peer, "", self.networks)
            for header in FORWARDED_HEADERS:
                if environ.get(header):
                    self.note(peer, header.removeprefix("HTTP_").replace("_", "-").title())
                    break
        return self.app(environ, start_response)
