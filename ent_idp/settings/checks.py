"""The checks start-up makes once, on the flat settings: one ConfigError naming the key."""

from __future__ import annotations

import ipaddress
import re
import time
from datetime import date
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from .defaults import (
    ALTERNATIVES,
    DEFAULTS,
    ENV_PREFIX,
    MIN_SECRET_KEY_LENGTH,
    REQUIRED,
    flask_name,
    toml_name,
)
from .hosts import check_hosts


def _where(section: str, key: str) -> str:
    return f"{toml_name(section, key)} (or {ENV_PREFIX}{flask_name(section, key)})"


def check(settings: dict) -> None:
    for (section, key), default in DEFAULTS.items():
        value = settings[flask_name(section, key)]
        where = _where(section, key)
        if value is REQUIRED or value in ("", [], None):
            other = ALTERNATIVES.get((section, key))
            if other and settings[flask_name(*other)] not in ("", [], None):
                continue  # given the other way ([ldap] urls, [redis] sentinels)
            if default is REQUIRED:
                instead = f", or {toml_name(*other)} instead" if other else ""
                raise ConfigError(f"missing required setting {where}{instead}")
            continue
        if default is not REQUIRED and type(value) is not type(default):
            if not (isinstance(default, float) and isinstance(value, int)):
                kind = type(default).__name__
                raise ConfigError(f"setting {where} must be of type {kind}, not {value!r}")
    if len(settings["SECRET_KEY"]) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            "setting secret_key (or ENT_IDP_SECRET_KEY) is too short: use at least "
            f"{MIN_SECRET_KEY_LENGTH} random characters, e.g. the output of "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    check_ent(settings)
    check_hosts(settings)
    if settings["MAIL_WORKER_LEASE_SECONDS"] < 3:
        raise ConfigError(
            "setting [mail] worker_lease_seconds must be 3 or more (default 30): a worker "
            "renews its lease three times within it"
        )
    if not isinstance(settings["ALLOWED_HOSTS"], list):
        raise ConfigError("setting allowed_hosts must be a list of host names")
    if (
        settings["THROTTLE_PPOLICY_MAX_FAILURE"]
        and settings["THROTTLE_PPOLICY_FAILURE_COUNT_INTERVAL"] <= 0
    ):
        raise ConfigError(
            "setting [throttle] ppolicy_failure_count_interval must be your policy's "
            "pwdFailureCountInterval in seconds (more than 0), or set ppolicy_max_failure = 0"
        )
    for name in ("METRICS_BIND", "METRICS_WORKER_BIND"):
        if settings[name]:
            host_and_port(settings[name], f"[metrics] {name[8:].lower()}")
    if settings["HEALTH_MAIL_QUEUE_MAX_AGE_SECONDS"] < 0:
        raise ConfigError(
            "setting [health] mail_queue_max_age_seconds must be 0 (no such check) or more"
        )
    if settings["ACCOUNT_SESSION_MAX_MINUTES"] <= 0:
        raise ConfigError("setting [account] session_max_minutes must be more than 0, e.g. 60")
    for entry in settings["CAS_LOGOUT_ADDRESSES"]:
        try:
            ipaddress.ip_network(entry, strict=False)
        except (TypeError, ValueError):
            raise ConfigError(
                f"setting [cas] logout_addresses: {entry!r} is not an IP address or a network "
                "such as 192.0.2.10 or 192.0.2.0/28"
            ) from None
    if settings["MAIL_USE_TLS"] and settings["MAIL_USE_SSL"]:
        raise ConfigError(
            "settings [mail] use_tls (STARTTLS) and use_ssl (TLS from the start) exclude each "
            "other: set only the one your SMTP server speaks on its port"
        )
    for (section, key), default in DEFAULTS.items():
        if section == "http" and settings[flask_name(section, key)] <= 0:
            raise ConfigError(
                f"setting [http] {key} must be a positive number (default {default}): "
                "ent-idp never accepts requests of unbounded size"
            )


def check_ent(settings: dict) -> None:
    """What each ENT sets for itself (the top-level one, and each [ent.<key>] table)."""
    for name in ("BRAND_COLOUR", "BRAND_COLOUR_DARK"):
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", str(settings[name])):
            raise ConfigError(f"setting [brand] {name[6:].lower()} must look like #0b5394")
    for section, key in (("", "public_url"), ("cas", "url"), ("cas", "default_service")):
        parts = urlsplit(str(settings[flask_name(section, key)]))
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigError(f"setting {toml_name(section, key)} must be an absolute http(s) URL")
    if not isinstance(settings["CAS_ALLOWED_SERVICES"], list):
        raise ConfigError("setting [cas] allowed_services must be a list of URLs")
    address = parseaddr(settings["MAIL_SENDER"])[1]
    if not re.fullmatch(
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", address
    ):
        raise ConfigError(
            "setting [mail] sender must hold a plain ASCII address with its domain, "
            f'e.g. "ENT <ne-pas-repondre@ent.example>", not {settings["MAIL_SENDER"]!r}'
        )
    _check_legal(settings)


def _check_legal(settings: dict) -> None:
    """The accessibility statement claims only what an audit can back."""
    status = settings["LEGAL_ACCESSIBILITY_STATUS"]
    if status not in {"none", "partial", "full"}:
        raise ConfigError(
            'setting [legal] accessibility_status must be "none", "partial" or "full" '
            f"(non, partiellement or totalement conforme), not {status!r}"
        )
    if status != "none" and not settings["LEGAL_AUDIT_BY"]:
        raise ConfigError(
            f'setting [legal] accessibility_status = "{status}" claims a conformity only an '
            "audit establishes: set [legal] audit_by (who audited) and compliance_rate, "
            'or declare "none"'
        )
    if not 0 <= settings["LEGAL_COMPLIANCE_RATE"] <= 100:
        raise ConfigError("setting [legal] compliance_rate is a percentage, from 0 to 100")
    if settings["LEGAL_STATEMENT_DATE"]:
        try:
            date.fromisoformat(settings["LEGAL_STATEMENT_DATE"])
        except ValueError:
            raise ConfigError(
                "setting [legal] statement_date must be a date written YYYY-MM-DD, e.g. "
                f'"2026-09-01", not {settings["LEGAL_STATEMENT_DATE"]!r}'
            ) from None
    url = urlsplit(settings["LEGAL_LEGAL_NOTICES_URL"])
    if url.geturl() and (url.scheme not in {"http", "https"} or not url.hostname):
        raise ConfigError("setting [legal] legal_notices_url must be an absolute http(s) URL")


CHARTER_FORMATS = ("version", "service")


def check_charter(settings: dict) -> None:
    """How the CGU acceptance is kept, once the profile filled in its names.

    Where the directory keeps one value per service ("service": ESCO), ent-idp writes
    ``serviceId;yyyyMMdd;yyyyMMddHHmmssZ`` as the region's own account app does, so the
    service id must be a plain token and the version a date.
    """
    kept = settings["LDAP_CGU_FORMAT"]
    if kept not in CHARTER_FORMATS:
        raise ConfigError(f"setting [ldap] cgu_format must be version or service, not {kept!r}")
    if kept != "service":
        return
    service_id = settings["CGU_SERVICE_ID"]
    if not re.fullmatch(r"[A-Za-z0-9._:/@-]+", service_id or ""):
        raise ConfigError(
            "setting [cgu] service_id (or ENT_IDP_CGU_SERVICE_ID) is required with the "
            f"{settings['LDAP_PROFILE']} profile: the id this deployment's CGU acceptances are "
            'filed under, letters, digits and . _ : / @ - only, e.g. service_id = "ent-idp"'
        )
    version = settings["CGU_VERSION"]
    try:
        valid = re.fullmatch(r"\d{8}", version) and time.strptime(version, "%Y%m%d")
    except ValueError:
        valid = False
    if not valid:
        raise ConfigError(
            f"setting [cgu] version must be a date, yyyyMMdd, with the {settings['LDAP_PROFILE']} "
            'profile (the date the CGU came into force), e.g. version = "20260901", '
            f"not {version!r}"
        )


def networks(values: Any) -> tuple:
    """The trusted proxies as networks (a single address is a /32 or /128)."""
    if not isinstance(values, list):
        raise ConfigError("setting trusted_proxies must be a list of IP addresses or networks")
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"setting trusted_proxies: {value!r} is not an IP address or network "
                '(e.g. "10.0.0.2", "10.0.0.0/24" or "2001:db8::/64")'
            ) from None
    return tuple(networks)


def host_and_port(value: str, where: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9101`` for IPv6) as (host, port); ConfigError naming ``where``."""
    host, _, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(
            f'setting {where} must be HOST:PORT, e.g. 127.0.0.1:9101 (or "" for none), '
            f"not {value!r}"
        )
    return host, int(port)
