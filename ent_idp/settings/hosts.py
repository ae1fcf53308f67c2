"""Several hosts: the LDAP servers and the Redis Sentinels, checked once and derived.

``[ldap] url`` (one server) or ``[ldap] urls`` (several, in the order writes and user binds
try them), and ``[ldap] read_urls`` for the reads that may lag behind a write; ``[redis] url``
(one server) or ``[redis] sentinels`` with ``master_name`` (the master they elect). Giving
both forms of one is refused: one of them would be silently ignored.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from .defaults import REQUIRED

_EMPTY = ("", [], None, REQUIRED)  # not given


def check_hosts(settings: dict) -> None:
    _check_ldap(settings)
    _check_redis(settings)


def _check_ldap(settings: dict) -> None:
    if settings["LDAP_URL"] not in _EMPTY and settings["LDAP_URLS"] not in _EMPTY:
        raise ConfigError(
            "settings [ldap] url and urls: give one server in url or several in urls, not both"
        )
    for key in ("urls", "read_urls"):
        if not isinstance(settings[f"LDAP_{key.upper()}"], list):
            raise ConfigError(f'setting [ldap] {key} must be a list of URLs, e.g. ["ldaps://a"]')
    for key, url in _ldap_urls(settings):
        parts = urlsplit(str(url))
        if parts.scheme.lower() not in ("ldap", "ldaps") or not parts.hostname:
            raise ConfigError(
                f"setting [ldap] {key}: {url!r} is not an LDAP URL such as "
                "ldaps://ldap.ent.example or ldap://ldap.ent.example:389"
            )
        if settings["LDAP_START_TLS"] and parts.scheme.lower() == "ldaps":
            raise ConfigError(
                f"settings [ldap] {key} and start_tls: an ldaps:// URL is encrypted from the "
                f"start ({url}); use StartTLS (start_tls = true) with ldap:// URLs only"
            )
    if settings["LDAP_RETRY_FAILED_AFTER"] <= 0:
        raise ConfigError(
            "setting [ldap] retry_failed_after must be more than 0 seconds (default 10): how "
            "long a server that failed is skipped before it is tried again"
        )


def _ldap_urls(settings: dict) -> list[tuple[str, Any]]:
    urls = [("url", settings["LDAP_URL"])] if settings["LDAP_URL"] not in _EMPTY else []
    urls += [("urls", url) for url in settings["LDAP_URLS"]]
    return urls + [("read_urls", url) for url in settings["LDAP_READ_URLS"]]


def _check_redis(settings: dict) -> None:
    sentinels = settings["REDIS_SENTINELS"]
    if not isinstance(sentinels, list):
        raise ConfigError('setting [redis] sentinels must be a list, e.g. ["10.0.0.5:26379"]')
    if sentinels and settings["REDIS_URL"] not in _EMPTY:
        raise ConfigError(
            "settings [redis] url and sentinels: give one server in url or the Sentinels that "
            "find the master in sentinels, not both"
        )
    if not sentinels:
        for key in ("master_name", "password", "sentinel_password"):
            if settings[f"REDIS_{key.upper()}"]:
                raise ConfigError(
                    f"setting [redis] {key} is for Sentinel only ([redis] sentinels); with "
                    "one server, put its password in [redis] url (redis://:PASSWORD@host:6379/0)"
                )
        return
    for address in sentinels:
        _address(address)
    if not settings["REDIS_MASTER_NAME"]:
        raise ConfigError(
            "setting [redis] master_name is required with [redis] sentinels: the name the "
            "Sentinels monitor the master under (sentinel monitor <name> ...)"
        )
    if settings["REDIS_WAIT_REPLICAS"] < 0 or settings["REDIS_WAIT_TIMEOUT"] <= 0:
        raise ConfigError(
            "settings [redis] wait_replicas (0 or more) and wait_timeout (more than 0 seconds): "
            "how many replicas acknowledge a write users are told about, and how long to wait"
        )
    if settings["REDIS_FAILOVER_WAIT"] < 0:
        raise ConfigError("setting [redis] failover_wait must be 0 seconds or more (default 5)")


def _address(value: Any) -> tuple[str, int]:
    host, _, port = str(value).strip().rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"setting [redis] sentinels: {value!r} is not HOST:PORT, e.g. 10.0.0.5:26379"
        )
    return host, int(port)


def servers(settings: dict) -> dict[str, tuple[str, ...]]:
    """The LDAP servers in order: where writes and binds go, where reads that may lag go."""
    write = tuple(settings["LDAP_URLS"]) or (settings["LDAP_URL"],)
    return {"servers": write, "read_servers": tuple(settings["LDAP_READ_URLS"]) or write}


def sentinels(settings: dict) -> dict[str, tuple[tuple[str, int], ...]]:
    return {"sentinel_addresses": tuple(_address(a) for a in settings["REDIS_SENTINELS"])}
