"""CAS (python-cas): the service allow-list, login and logout URLs, ticket validation."""

from __future__ import annotations

import functools
import ipaddress
import logging
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit
from xml.etree import ElementTree

import requests
from cas import CASClient

_DEFAULT_PORTS = {"http": 80, "https": 443}

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AllowedService:
    """One entry of the allow-list: a scheme, an exact host and port, a path prefix."""

    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> AllowedService:
        parts = urlsplit(url)
        return cls(
            scheme=parts.scheme.lower(),
            host=(parts.hostname or "").lower(),
            port=parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0),
            path=parts.path or "/",
        )

    def admits(self, parts: SplitResult) -> bool:
        try:
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
        except ValueError:
            return False
        if (parts.scheme.lower(), (parts.hostname or ""), port) != (
            self.scheme,
            self.host,
            self.port,
        ):
            return False
        path = parts.path or "/"
        if self.path.endswith("/"):
            return path.startswith(self.path)
        return path == self.path or path.startswith(self.path + "/")


def parse_allow_list(urls: list[str]) -> tuple[AllowedService, ...]:
    return tuple(AllowedService.parse(url) for url in urls)


def safe_service(candidate: str | None, allowed: tuple[AllowedService, ...], default: str) -> str:
    """``candidate`` if the allow-list admits it, else the configured default."""
    if not candidate or len(candidate) > 2048:
        return default
    if any(ord(c) < 0x21 or ord(c) > 0x7E or c == "\\" for c in candidate):
        # Whitespace, CRLF, backslashes and raw non-ASCII (IDN look-alikes) are never a
        # service we sent users to; a legitimate URL is percent-encoded.
        return default
    parts = urlsplit(candidate)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return default
    if any(entry.admits(parts) for entry in allowed):
        return candidate
    return default


def admits(candidate: str, allowed: tuple[AllowedService, ...]) -> bool:
    """Whether the allow-list admits ``candidate`` (by the rules of ``safe_service``)."""
    return bool(candidate) and safe_service(candidate, allowed, "") == candidate


# python-cas builds a client (and its requests session) to write a URL: ≈ 0.1 ms a page.
# The URL depends on its two arguments only, and the services are the allow-list's few.
@functools.lru_cache(maxsize=256)
def login_url(cas_url: str, service: str) -> str:
    """``<CAS>/login?service=<service>``, the service URL-encoded once."""
    return CASClient(version=3, server_url=cas_url, service_url=service).get_login_url()


class CasUnavailable(Exception):
    """The CAS server did not answer the ticket validation."""


class _TimeoutSession(requests.Session):
    """python-cas calls ``session.get`` without a timeout; every call here has one."""

    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)


def validate_ticket(
    cas_url: str, service: str, ticket: str, timeout: float
) -> tuple[str, dict] | None:
    """CAS 3 validation (``p3/serviceValidate``): the user and attributes, or None."""
    with _TimeoutSession(timeout) as session:
        client = CASClient(version=3, server_url=cas_url, service_url=service, session=session)
        try:
            user, attributes, _ = client.verify_ticket(ticket)
        except requests.RequestException as exc:
            raise CasUnavailable(str(exc)) from exc
        except ElementTree.ParseError:
            return None
    return (user, attributes or {}) if user else None


@functools.lru_cache(maxsize=256)
def logout_url(cas_url: str, service: str) -> str:
    """``<CAS>/logout?service=<service>``: ends the CAS session, then back to ``service``."""
    return CASClient(version=3, server_url=cas_url, service_url=service).get_logout_url(service)


_SAMLP = "{urn:oasis:names:tc:SAML:2.0:protocol}"


def logged_out_ticket(logout_request: str) -> str | None:
    """The ticket a CAS single-logout request names (its SessionIndex), if any.

    Parsed with the standard library parser, which does not fetch external entities.
    """
    if not logout_request or len(logout_request) > 10_000:
        return None
    try:
        root = ElementTree.fromstring(logout_request)
    except ElementTree.ParseError:
        return None
    index = root.find(f"{_SAMLP}SessionIndex")
    return index.text.strip() if index is not None and index.text else None


def logout_networks(configured: list[str], cas_url: str) -> tuple[Network, ...]:
    """Where single-logout requests may come from: the configured addresses, or else the
    addresses the CAS server's host resolves to now (once, at start-up).

    If the host does not resolve, no request is accepted (and the log says so): a logout
    request from anyone else must not end anybody's session.
    """
    if configured:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in configured)
    parts = urlsplit(cas_url)
    try:
        found = socket.getaddrinfo(parts.hostname, parts.port or 0, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        log.warning(
            "CAS host %s does not resolve (%s): single logout is refused until a restart; "
            "set [cas] logout_addresses to its addresses",
            parts.hostname,
            exc,
        )
        return ()
    addresses = {ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in found}
    return tuple(ipaddress.ip_network(address) for address in sorted(addresses, key=str))


def comes_from(address: str | None, networks: tuple[Network, ...]) -> bool:
    """Whether a request from ``address`` (the TCP peer, or the proxies' word) is CAS's."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return any(ip in network for network in networks)
