"""Settings: defaults, one TOML file, ``ENT_IDP_*`` environment variables, test overrides.

Every key is declared once (``defaults.DEFAULTS``), with its TOML section and name; the
commented example in ``config/ent-idp.example.toml`` mirrors it. Each has a flat name,
``SECTION_KEY`` in upper case (``[ldap] url`` is ``LDAP_URL``; top-level keys keep their own
name, ``secret_key`` is ``SECRET_KEY``), which the environment takes with the ``ENT_IDP_``
prefix (``ENT_IDP_LDAP_URL``) and tests as overrides. Start-up checks everything once
(``checks``) and refuses to run with a one-line message naming the key.

``load`` returns the typed ``Settings`` (one frozen dataclass per section, ``sections``):
the rest of ent-idp reads ``settings.ldap.url``, never a string key, through ``current()``
inside the app. Flask gets only its own keys (``ent_idp.web.config``).
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from flask import current_app

from ..errors import ConfigError
from . import user_profiles
from .checks import check, check_charter, check_ent, networks
from .defaults import (
    ALTERNATIVES,
    DEFAULTS,
    ENV_PREFIX,
    LISTS,
    PROFILES,
    REQUIRED,
    flask_name,
    toml_name,
)
from .ents import Ent, build_ents
from .hosts import sentinels, servers
from .sections import Settings, build, build_sections

__all__ = [
    "DEFAULTS",
    "ConfigError",
    "Ent",
    "Settings",
    "current",
    "flask_name",
    "load",
    "toml_name",
]

KEY = "ent_idp.settings"  # where the factory keeps them, on app.extensions


def current() -> Settings:
    """The settings of the app in context."""
    return current_app.extensions[KEY]


def load(path: str | os.PathLike | None = None, overrides: dict | None = None) -> Settings:
    """The settings: defaults < TOML file < environment < ``overrides`` (flat names)."""
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

    overrides = dict(overrides or {})
    # The [ent.<key>] tables (tests give them as the override ENTS, in the same shape).
    tables = overrides.pop("ENTS", None) or data.get("ent", {})
    settings: dict[str, Any] = {}
    for (section, key), default in DEFAULTS.items():
        table = data.get(section, {}) if section else data
        value = table.get(key, default)
        env = os.environ.get(ENV_PREFIX + flask_name(section, key))
        if env is not None:
            value = _from_env(env, default, section, key)
        settings[flask_name(section, key)] = value
    settings.update(overrides)
    _refuse_removed(data, overrides)
    check(settings)
    derived = _derive(settings, base_dir)
    sections = build_sections(settings, derived)
    top = {name: sections[name] for name in ("brand", "cgu", "cas", "mail", "legal")}

    def per_ent_checks(flat: dict) -> None:
        check_ent(flat)
        check_charter(flat)

    def cgu_texts(flat: dict) -> dict[str, list[str]]:
        return _cgu_texts(flat, base_dir)

    ents = build_ents(settings, top, tables, per_ent_checks, cgu_texts, base_dir)
    return build(settings, sections, derived, ents)


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
    if key == "user_profiles":
        try:
            return json.loads(raw)
        except ValueError:
            raise ConfigError(
                f'{name} must be a JSON list, e.g. [{{"name": "eleve", "filter": '
                '"(objectClass=ENTEleve)", "backup_address": "required", "password": "local"}]'
            ) from None
    if key in LISTS:
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


def _derive(settings: dict, base_dir: Path) -> dict[str, dict[str, Any]]:
    """Settings computed once from the others: some in place, the rest returned by section."""
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
    if settings["LDAP_PROFILE"] == "esco":  # the region's states are written in upper case
        for state in ("PENDING", "RESET", "ACTIVE"):
            settings[f"LDAP_STATE_{state}"] = settings[f"LDAP_STATE_{state}"].upper()
    check_charter(settings)
    settings["USER_PROFILES"] = user_profiles.parse(
        settings["USER_PROFILES"], settings["LDAP_PROFILE"]
    )
    for section, key in ALTERNATIVES:  # the other one was given (checked)
        if settings[flask_name(section, key)] is REQUIRED:
            settings[flask_name(section, key)] = ""
    for name in ("PUBLIC_URL", "CAS_URL"):
        if not settings[name].endswith("/"):
            settings[name] += "/"
    texts = _cgu_texts(settings, base_dir)
    # Forwarded headers are believed only from these peers (ent_idp.web.clients).
    proxies = networks(settings["TRUSTED_PROXIES"])
    for name in ("BRAND_LOGO_FILE", "LDAP_TLS_CA_FILE"):
        if settings[name] and not Path(settings[name]).is_absolute():
            settings[name] = str(base_dir / settings[name])
    if settings["MAIL_TLS_CA_FILE"]:
        ca_file = Path(settings["MAIL_TLS_CA_FILE"])
        settings["MAIL_TLS_CA_FILE"] = str(ca_file if ca_file.is_absolute() else base_dir / ca_file)
        if not os.access(settings["MAIL_TLS_CA_FILE"], os.R_OK):
            raise ConfigError(
                f"setting [mail] tls_ca_file: cannot read {settings['MAIL_TLS_CA_FILE']} "
                "(a PEM file of the CA that signed the SMTP server's certificate)"
            )
    return {
        "cgu": {"texts": texts},
        "ldap": servers(settings),
        "redis": sentinels(settings),
        "": {"trusted_proxy_networks": proxies},
    }


def _cgu_texts(settings: dict, base_dir: Path) -> dict[str, list[str]]:
    """The CGU text by language: French always, another language when its text_file_<code>
    is set (else its pages show the French text, marked as French)."""
    texts = {"fr": _cgu_paragraphs(settings, "text_file", base_dir)}
    for section, key in DEFAULTS:
        if section == "cgu" and key.startswith("text_file_") and settings[flask_name(section, key)]:
            texts[key.removeprefix("text_file_")] = _cgu_paragraphs(settings, key, base_dir)
    return texts


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
