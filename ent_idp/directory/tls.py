"""TLS to the directory: the context every LDAP connection uses, and what its failures mean.

``ldaps://`` URLs and ``[ldap] start_tls`` verify the directory's certificate by default:
the chain against the system's CA store (plus ``[ldap] tls_ca_file`` if set) and the host
name in the server's URL (``[ldap] url``, or each of ``urls`` and ``read_urls``), with TLS 1.2
at least. ``[ldap] tls_verify = false`` turns the verification off, loudly. ``VerifiedTls``
hands that context to ldap3; a refused certificate becomes a sentence saying which setting
fixes it (``explain``).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import ssl
from urllib.parse import urlsplit

import ldap3

from ..errors import ConfigError
from ..settings.sections import LdapSettings

log = logging.getLogger(__name__)

_VERIFY_FAILED = re.compile(r"certificate verify failed: (?P<reason>.+?)\.? \(_ssl\.c")

# What a verification failure means -> how to fix it (the first fragment found wins).
_HINTS = (
    (
        ("hostname mismatch", "ip address mismatch"),
        "the certificate is for another host name: write in [ldap] url the name (or address) "
        "the directory's certificate was issued for",
    ),
    (
        ("has expired", "not yet valid"),
        "renew the directory's certificate (or set the clock of one of the two hosts right)",
    ),
    (
        ("local issuer", "self-signed", "self signed", "unable to get issuer"),
        "set [ldap] tls_ca_file to the certificate (PEM) of the CA that signed the "
        "directory's certificate",
    ),
)
_GENERIC_HINT = "see [ldap] tls_ca_file and tls_verify in config/ent-idp.example.toml"


def uses_tls(ldap: LdapSettings, url: str) -> bool:
    """Whether connections to ``url`` are encrypted (ldaps:// or StartTLS)."""
    return urlsplit(url).scheme.lower() == "ldaps" or ldap.start_tls


def context(ldap: LdapSettings) -> ssl.SSLContext | None:
    """The client context of every LDAP connection (each server's own host name checked),
    or None when every server is on plain ``ldap://``."""
    urls = list(dict.fromkeys(ldap.servers + ldap.read_servers))
    for url in urls:
        if not uses_tls(ldap, url):
            _warn_if_clear(url)
    if not any(uses_tls(ldap, url) for url in urls):
        return None
    if not ldap.tls_verify:
        log.warning(
            "[ldap] tls_verify = false: the directory's certificate is NOT checked, so anyone "
            "on the network path to %s can pose as the directory and read every password "
            "checked or set; set tls_verify = true and, for a private CA, [ldap] tls_ca_file",
            ", ".join(urls),
        )
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    else:
        tls = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)  # the system's CA store
        ca_file = ldap.tls_ca_file
        if ca_file:
            try:
                tls.load_verify_locations(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"setting [ldap] tls_ca_file: cannot load {ca_file} as PEM CA "
                    f"certificates ({getattr(exc, 'strerror', None) or exc})"
                ) from None
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    return tls


def explain(url: str, message: str) -> str:
    """The cause of a failed TLS set-up, and how to fix it; empty if it was no TLS failure."""
    match = _VERIFY_FAILED.search(message)
    if match:
        reason = match.group("reason").replace("\\'", "'")  # ldap3 nests reprs
        lowered = reason.lower()
        hint = next(
            (fix for fragments, fix in _HINTS if any(f in lowered for f in fragments)),
            _GENERIC_HINT,
        )
        return f"TLS to {url}: the directory's certificate was refused ({reason}): {hint}"
    if "[SSL" in message or "startTLS failed" in message:
        detail = re.sub(r"^.*?(\[SSL|startTLS failed)", r"\1", message)
        detail = re.sub(r"\s*\(_ssl\.c:\d+\).*$", "", detail).rstrip("',)\"")
        return (
            f"TLS to {url} failed ({detail}): check that the directory serves TLS on this "
            "port (ldaps://, usually port 636) or accepts StartTLS ([ldap] start_tls on "
            "ldap://, usually port 389), with TLS 1.2 or later"
        )
    return ""


def _warn_if_clear(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if urlsplit(url).scheme.lower() == "ldap" and not local:
        log.warning(
            "LDAP server %s is not encrypted: passwords cross the network in clear; use "
            "ldaps:// or set [ldap] start_tls = true",
            url,
        )


class VerifiedTls(ldap3.Tls):
    """ldap3's TLS settings, wrapping sockets with our context.

    The handshake itself checks the chain and the host name of the server's URL; ldap3's own
    host-name check (``ssl.match_hostname``, deprecated) is not used.
    """

    def __init__(self, context: ssl.SSLContext):
        super().__init__(validate=context.verify_mode)
        self.context = context

    def wrap_socket(self, connection: ldap3.Connection, do_handshake: bool = False) -> None:
        connection.socket = self.context.wrap_socket(
            connection.socket,
            server_side=False,
            do_handshake_on_connect=do_handshake,
            server_hostname=connection.server.host,
        )
