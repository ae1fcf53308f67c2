"""CAS: the service allow-list and the way back to the CAS login page (python-cas)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from cas import CASClient

_DEFAULT_PORTS = {"http": 80, "https": 443}


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


def login_url(cas_url: str, service: str) -> str:
    """``<CAS>/login?service=<service>``, the service URL-encoded once."""
    return CASClient(version=3, server_url=cas_url, service_url=service).get_login_url()
