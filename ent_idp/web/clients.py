"""The client's address: from forwarded headers only when a trusted proxy sent them.

``ClientAddresses`` wraps the WSGI app (in place of werkzeug's ProxyFix, which trusts a
number of hops whoever sent them). ``X-Forwarded-For`` is read only when the TCP peer is one
of ``trusted_proxies``, walked from the right: each trusted proxy appended the address it
saw, so the first hop that is not a trusted proxy is the client. ``X-Forwarded-Proto`` is
believed from a trusted peer only. Anything a client wrote further left is ignored.

A request from an untrusted peer that carries a forwarded header is noted in Redis (the
peer and when, kept a day: ``ent_idp.store.forwarded``) so that ``ent-idp check`` can warn.
"""

from __future__ import annotations

from collections.abc import Callable

from ..core.addresses import Network, parse, resolve, trusted

FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED")


class ClientAddresses:
    """WSGI middleware: REMOTE_ADDR becomes the client's address, the scheme the proxy's."""

    def __init__(self, app, networks: tuple[Network, ...], note: Callable[[str, str], None]):
        self.app = app
        self.networks = networks
        self.note = note

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR", "")
        environ["ent_idp.peer"] = peer
        if trusted(parse(peer), self.networks):
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
