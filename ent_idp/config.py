"""Settings: defaults, one TOML file, ``ENT_IDP_*`` environment variables, test overrides.

Every key is declared once in ``DEFAULTS`` below, with its TOML section and name; the
commented example in ``config/ent-idp.example.toml`` mirrors it. Flask sees each setting
as ``SECTION_KEY`` in upper case (``[ldap] url`` becomes ``LDAP_URL``; top-level keys keep
their own name, ``secret_key`` becomes ``SECRET_KEY``), and so does the environment with the
``ENT_IDP_`` prefix (``ENT_IDP_LDAP_URL``). Start-up checks everything once and refuses to
run with a one-line message naming the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "ENT_IDP_"
REQUIRED = object()

# (section, key) -> default; REQUIRED marks a setting without a safe default.
DEFAULTS: dict[tuple[str, str], Any] = {
    ("", "secret_key"): REQUIRED,
    ("", "public_url"): REQUIRED,
    ("", "ent_name"): "ENT",
    ("brand", "colour"): "#0b5394",
    ("brand", "colour_dark"): "#073763",
    ("brand", "logo_file"): "",
    ("brand", "logo_alt"): "",
    ("", "templates_dir"): "",
    ("", "allowed_hosts"): [],
    ("", "trusted_proxies"): [],
    ("ldap", "url"): REQUIRED,
    ("ldap", "bind_dn"): REQUIRED,
    ("ldap", "bind_password"): REQUIRED,
    ("ldap", "people_dn"): REQUIRED,
    ("ldap", "timeout"): 5,
    ("ldap", "decoy_dn"): REQUIRED,
    # TLS (ent_idp.ldap_tls): StartTLS on ldap:// URLs; certificates verified by default.
    ("ldap", "start_tls"): False,
    ("ldap", "tls_ca_file"): "",
    ("ldap", "tls_verify"): True,
    ("ldap", "profile"): "entidp",
    # Empty: the profile's value (PROFILES below).
    ("ldap", "account_object_class"): "",
    ("ldap", "login_attribute"): "",
    ("ldap", "state_attribute"): "",
    ("ldap", "state_pending"): "",
    ("ldap", "state_reset"): "",
    ("ldap", "state_active"): "",
    ("ldap", "cgu_version_attribute"): "",
    ("ldap", "cgu_time_attribute"): "",
    ("ldap", "backup_mail_attribute"): "entIdpBackupMail",
    ("ldap", "backup_verified_attribute"): "entIdpBackupMailVerifiedTime",
    ("ldap", "forward_wish_attribute"): "entIdpMailForward",
    ("ldap", "activated_time_attribute"): "entIdpActivatedTime",
    ("ldap", "forward_attribute"): "mailRoutingAddress",
    ("redis", "url"): REQUIRED,
    ("redis", "prefix"): "ent-idp",
    ("redis", "timeout"): 2.0,
    ("cas", "url"): REQUIRED,
    ("cas", "allowed_services"): REQUIRED,
    ("cas", "default_service"): REQUIRED,
    ("cas", "timeout"): 5,
    ("cas", "interrupt_username"): "cas",
    ("cas", "interrupt_password"): "",
    # Where CAS single-logout requests may come from (IPs or CIDRs). Empty: the addresses
    # the host of [cas] url resolves to, resolved once at start-up.
    ("cas", "logout_addresses"): [],
    ("mail", "server"): "localhost",
    ("mail", "port"): 25,
    ("mail", "use_tls"): False,
    ("mail", "use_ssl"): False,
    # TLS to the SMTP server checks its certificate against the system's CA store and this
    # file (PEM); tls_verify = false turns the check off (logged as a warning at start).
    ("mail", "tls_verify"): True,
    ("mail", "tls_ca_file"): "",
    ("mail", "username"): "",
    ("mail", "password"): "",
    ("mail", "sender"): REQUIRED,
    ("mail", "timeout"): 10,
    ("mail", "validation_hours"): 48,
    ("mail", "reset_link_minutes"): 30,
    ("mail", "retry_seconds"): 30,
    # How users get help, named in the notices of changes to their account. Empty: their
    # school only.
    ("mail", "help_contact"): "",
    ("cgu", "version"): REQUIRED,
    ("cgu", "text_file"): REQUIRED,
    ("cgu", "text_file_en"): "",
    ("flow", "idle_minutes"): 30,
    # « Mon compte » sessions end this long after the CAS login, whatever the activity.
    ("account", "session_max_minutes"): 60.0,
    # Request bounds: the forms here are tiny; anything bigger gets 413 before it is read.
    ("http", "max_content_length"): 64 * 1024,
    ("http", "max_form_memory_size"): 16 * 1024,
    ("http", "max_form_parts"): 50,
    ("http", "limit_request_line"): 4094,
    ("http", "limit_request_fields"): 50,
    ("http", "limit_request_field_size"): 8190,
    ("password", "min_length"): 8,
    ("password", "max_length"): 256,
    ("password", "min_entropy_bits"): 50,
    ("password", "min_strength"): 3,
    ("throttle", "login_free_failures"): 5,
    ("throttle", "login_delay_seconds"): 60,
    ("throttle", "login_max_failures_per_day"): 25,
    ("throttle", "address_free_failures"): 30,
    ("throttle", "address_delay_seconds"): 10,
    ("throttle", "address_max_failures_per_day"): 0,
    ("throttle", "device_days"): 180,
    ("throttle", "ppolicy_max_failure"): 10,
    ("throttle", "ppolicy_failure_count_interval"): 900,
    ("throttle", "ppolicy_lockout_duration"): 900,
    # The admin commands (ent-idp reset, import, check): an account with manage rights.
    ("admin", "bind_dn"): "",
    ("admin", "bind_password"): "",
    ("admin", "ent_url"): "",
}

MIN_SECRET_KEY_LENGTH = 32

# Attribute profiles: the names (and state values) of a directory's schema, so a deployment
# maps its own instead of migrating. "esco": the ESCO/SDET schema of the regional ENTs, where
# a pending and a reset account are both INVALIDE (a reset one has accepted a CGU before) and
# no CGU acceptance time is kept; the backup-mail attributes stay entIdp ones (auxiliary class
# entIdpAccount on the entries).
PROFILES: dict[str, dict[str, str]] = {
    "entidp": {
        "account_object_class": "entIdpAccount",
        "login_attribute": "uid",
        "state_attribute": "entIdpAccountState",
        "state_pending": "pending",
        "state_reset": "reset",
        "state_active": "active",
        "cgu_version_attribute": "entIdpCguVersion",
        "cgu_time_attribute": "entIdpCguAcceptedTime",
    },
    "esco": {
        "account_object_class": "ENTPerson",
        "login_attribute": "ENTPersonLogin",
        "state_attribute": "ESCOPersonEtatCompte",
        "state_pending": "INVALIDE",
        "state_reset": "INVALIDE",
        "state_active": "VALIDE",
        "cgu_version_attribute": "ESCOPersonValidationCharteService",
        "cgu_time_attribute": "",
    },
}


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the key and how to fix it."""


def flask_name(section: str, key: str) -> str:
    return f"{section}_{key}".upper() if section else key.upper()


def toml_name(section: str, key: str) -> str:
    return f"[{section}] {key}" if section else key


def load(path: str | os.PathLike | None = None, overrides: dict | None = None) -> dict:
    """Return the Flask settings: defaults < TOML file < environment < ``overrides``."""
    data: dict = {}
    base_dir = Path.cwd()
    path = path or os.environ.get(ENV_PREFIX + "CONFIG")
    if path:
        path = Path(path)
        base_dir = path.resolve().parent
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"configuration file {path} not found (ENT_IDP_CONFIG)") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None

    settings: dict[str, Any] = {}
    for (section, key), default in DEFAULTS.items():
        table = data.get(section, {}) if section else data
        value = table.get(key, default)
        env = os.environ.get(ENV_PREFIX + flask_name(section, key))
        if env is not None:
            value = _from_env(env, default, section, key)
        settings[flask_name(section, key)] = value
    settings.update(overrides or {})
    _refuse_removed(data, overrides or {})
    _check(settings)
    _derive(settings, base_dir)
    return settings


def _from_env(raw: str, default: Any, section: str, key: str) -> Any:
    name = ENV_PREFIX + flask_name(section, key)
    if isinstance(default, bool):
        if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
            raise ConfigError(f"{name} must be true or false, not {raw!r}")
        return raw.lower() in {"1", "true", "yes"}
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if key in ("allowed_services", "allowed_hosts", "trusted_proxies", "logout_addresses"):
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def _refuse_removed(data: dict, overrides: dict) -> None:
    """A setting that no longer exists must not be silently ignored: say what replaced it."""
    if (
        "proxy_count" in data
        or ENV_PREFIX + "PROXY_COUNT" in os.environ
        or "PROXY_COUNT" in (overrides)
    ):
        raise ConfigError(
            "setting proxy_count is gone: list your reverse proxies' addresses in "
            'trusted_proxies (or ENT_IDP_TRUSTED_PROXIES), e.g. trusted_proxies = ["10.0.0.2"]'
        )


def _check(settings: dict) -> None:
    for (section, key), default in DEFAULTS.items():
        value = settings[flask_name(section, key)]
        where = f"{toml_name(section, key)} (or {ENV_PREFIX}{flask_name(section, key)})"
        if value is REQUIRED or value in ("", [], None):
            if default is REQUIRED:
                raise ConfigError(f"missing required setting {where}")
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
    for name in ("BRAND_COLOUR", "BRAND_COLOUR_DARK"):
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", settings[name]):
            raise ConfigError(f"setting [brand] {name[6:].lower()} must look like #0b5394")
    for name in ("PUBLIC_URL", "CAS_URL", "CAS_DEFAULT_SERVICE"):
        parts = urlsplit(settings[name])
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConfigError(f"setting {name.lower()} must be an absolute http(s) URL")
    if settings["LDAP_START_TLS"] and urlsplit(settings["LDAP_URL"]).scheme.lower() == "ldaps":
        raise ConfigError(
            "settings [ldap] url and start_tls: an ldaps:// URL is encrypted from the start; "
            "use StartTLS (start_tls = true) with an ldap:// URL only"
        )
    if not isinstance(settings["CAS_ALLOWED_SERVICES"], list):
        raise ConfigError("setting [cas] allowed_services must be a list of URLs")
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
    address = parseaddr(settings["MAIL_SENDER"])[1]
    if not re.fullmatch(
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", address
    ):
        raise ConfigError(
            "setting [mail] sender must hold a plain ASCII address with its domain, "
            f'e.g. "ENT <ne-pas-repondre@ent.example>", not {settings["MAIL_SENDER"]!r}'
        )
    for (section, key), default in DEFAULTS.items():
        if section == "http" and settings[flask_name(section, key)] <= 0:
            raise ConfigError(
                f"setting [http] {key} must be a positive number (default {default}): "
                "ent-idp never accepts requests of unbounded size"
            )


def _networks(values: Any) -> tuple:
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


def _derive(settings: dict, base_dir: Path) -> None:
    """Settings computed once from the others."""
    profile = PROFILES.get(settings["LDAP_PROFILE"])
    if profile is None:
        raise ConfigError(
            f"setting [ldap] profile must be one of {', '.join(PROFILES)}, "
            f"not {settings['LDAP_PROFILE']!r}"
        )
    for key, value in profile.items():
        settings.setdefault(flask_name("ldap", key), "")
        if not settings[flask_name("ldap", key)]:
            settings[flask_name("ldap", key)] = value
    for name in ("PUBLIC_URL", "CAS_URL"):
        if not settings[name].endswith("/"):
            settings[name] += "/"
    # The CGU text by language: French always, another language when its text_file_<code> is
    # set (else its pages show the French text, marked as French).
    settings["CGU_TEXTS"] = {"fr": _cgu_paragraphs(settings, "text_file", base_dir)}
    for section, key in DEFAULTS:
        if section == "cgu" and key.startswith("text_file_") and settings[flask_name(section, key)]:
            settings["CGU_TEXTS"][key.removeprefix("text_file_")] = _cgu_paragraphs(
                settings, key, base_dir
            )
    # Forwarded headers are believed only from these peers (ent_idp.clients).
    settings["TRUSTED_PROXY_NETWORKS"] = _networks(settings["TRUSTED_PROXIES"])
    public = urlsplit(settings["PUBLIC_URL"])
    settings["SESSION_COOKIE_SECURE"] = public.scheme == "https"
    # Requests for any other Host are refused (400): nothing is built from the request's host.
    settings["TRUSTED_HOSTS"] = [public.hostname, *settings["ALLOWED_HOSTS"]]
    for name in ("BRAND_LOGO_FILE", "LDAP_TLS_CA_FILE"):
        if settings[name] and not Path(settings[name]).is_absolute():
            settings[name] = str(base_dir / settings[name])
    settings["SESSION_COOKIE_HTTPONLY"] = True
    settings["SESSION_COOKIE_SAMESITE"] = "Lax"
    settings["SESSION_COOKIE_NAME"] = "ent_idp_session"
    # The cookie is a browser-session cookie (no Expires: it dies with the browser); idle
    # expiry is Redis's (flows and « Mon compte » sessions): the signed cookie only carries
    # their ids, so it is not re-signed and re-sent on every response. Its signature is
    # still refused after this many seconds, whatever the browser keeps.
    settings["PERMANENT_SESSION_LIFETIME"] = 12 * 3600
    settings["SESSION_REFRESH_EACH_REQUEST"] = False
    settings["WTF_CSRF_TIME_LIMIT"] = None  # the session itself expires
    # Flask's and Werkzeug's own names for the request bounds ([http]).
    settings["MAX_CONTENT_LENGTH"] = settings["HTTP_MAX_CONTENT_LENGTH"]
    settings["MAX_FORM_MEMORY_SIZE"] = settings["HTTP_MAX_FORM_MEMORY_SIZE"]
    settings["MAX_FORM_PARTS"] = settings["HTTP_MAX_FORM_PARTS"]
    settings["MAIL_DEFAULT_SENDER"] = settings["MAIL_SENDER"]
    settings["MAIL_SUPPRESS_SEND"] = False  # Flask-Mail would stay silent under TESTING
    if settings["MAIL_TLS_CA_FILE"]:
        ca_file = Path(settings["MAIL_TLS_CA_FILE"])
        settings["MAIL_TLS_CA_FILE"] = str(ca_file if ca_file.is_absolute() else base_dir / ca_file)
        if not os.access(settings["MAIL_TLS_CA_FILE"], os.R_OK):
            raise ConfigError(
                f"setting [mail] tls_ca_file: cannot read {settings['MAIL_TLS_CA_FILE']} "
                "(a PEM file of the CA that signed the SMTP server's certificate)"
            )


def _cgu_paragraphs(settings: dict, key: str, base_dir: Path) -> list[str]:
    text_file = Path(settings[flask_name("cgu", key)])
    if not text_file.is_absolute():
        text_file = base_dir / text_file
    try:
        return _paragraphs(text_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"setting [cgu] {key}: cannot read {text_file} ({exc.strerror})"
        ) from None


def _paragraphs(text: str) -> list[str]:
    return [" ".join(block.split()) for block in text.split("\n\n") if block.strip()]
