"""The ENTs one deployment serves: one ``Ent`` per ENT, built and checked once at load.

The top-level keys (``ent_key``, ``ent_name``, ``public_url``, ``allowed_hosts``,
``ent_domains``, ``[brand]``, ``[cgu]``, ``[cas]`` url / default_service /
allowed_services, ``[mail]`` sender / help_contact, ``[legal]``) are one ENT, and what
every ``[ent.<key>]`` table inherits; a table overrides only what it names. No table: one
ENT, today's configuration. Secrets, servers and limits stay global: a table names none.

An ENT is told apart by the host name of a request (``hosts``: its ``public_url``'s, then
its extra ones; the port is not compared, as Flask's ``TRUSTED_HOSTS`` does not): every
host belongs to one ENT only.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from .defaults import flask_name
from .legal import LegalSettings
from .sections import BrandSettings, CasSettings, CguSettings, MailSettings

# What an [ent.<key>] table may name: its own keys, and its nested tables' keys.
OWN_KEYS = ("name", "public_url", "hosts", "default", "domains")
TABLES: dict[str, tuple[str, ...]] = {
    "brand": ("colour", "colour_dark", "logo_file", "logo_alt"),
    "cgu": ("version", "service_id", "text_file", "text_file_en"),
    "cas": ("url", "default_service", "allowed_services"),
    "mail": ("sender", "help_contact"),
    "legal": tuple(f.name for f in dataclasses.fields(LegalSettings)),
}
_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


@dataclass(frozen=True)
class Ent:
    """One ENT: its name, where users reach it, how it looks, its CGU, CAS and mail."""

    key: str  # [ent.<key>], or the top-level ent_key: logs, --ent, queued work
    name: str
    public_url: str  # ends with "/": every link built for its users starts here
    hosts: tuple[str, ...]  # lower-case host names its requests come with
    default: bool  # the ENT of work that names none (a message queued before the upgrade)
    domains: tuple[str, ...]  # its ESCODomaines values; empty: the directory is not asked
    brand: BrandSettings
    cgu: CguSettings  # version, service id (the directory's), texts by language
    cas: CasSettings  # url, default_service, allowed_services; the rest global
    mail: MailSettings  # sender, help_contact; the server and its secrets global
    legal: LegalSettings
    top_level: bool = False  # described by the top-level keys (its CGU: today's attribute)

    def admits(self, domains: tuple[str, ...]) -> bool:
        """Whether an account listing ``domains`` may use this ENT. An account that lists
        none (a directory without ESCODomaines, an entry the feed did not tag) may: only
        where both sides say something can they disagree."""
        if not self.domains or not domains:
            return True
        return bool({d.lower() for d in self.domains} & {d.lower() for d in domains})


def ent_for_domains(ents: tuple[Ent, ...], domains: tuple[str, ...]) -> Ent | None:
    """The first ENT whose ``domains`` the account's name (None: they name none of ours)."""
    wanted = {d.lower() for d in domains}
    return next((e for e in ents if wanted & {d.lower() for d in e.domains}), None)


def build_ents(
    flat: dict[str, Any],
    top: dict[str, Any],
    tables: Any,
    check: Callable[[dict], None],
    cgu_texts: Callable[[dict], dict[str, list[str]]],
    base_dir: Path,
) -> tuple[Ent, ...]:
    """The ENTs: the top-level one (``top``: its typed sections), then each table's.

    ``check`` runs the per-ENT checks on flat settings; ``cgu_texts`` reads an ENT's CGU
    files from its flat settings and the directory of the configuration file.
    """
    if not isinstance(tables, dict):
        raise ConfigError('setting ent must be tables, e.g. [ent.cfa] name = "ENT CFA"')
    defaults = [
        key for key, table in tables.items() if isinstance(table, dict) and table.get("default")
    ]
    if len(defaults) > 1:
        raise ConfigError(
            f"settings [ent.{defaults[0]}] default and [ent.{defaults[1]}] default: at most one "
            "ENT is the default (without any, the top-level one is)"
        )
    first = _top_level(flat, top, default=not defaults)
    ents = [first]
    for key, table in tables.items():
        ents.append(_from_table(key, table, flat, first, check, cgu_texts, base_dir))
    _check_unique(ents)
    _check_charters(ents, flat["LDAP_CGU_FORMAT"])
    if (
        len(ents) > 1
        and flat["LDAP_CGU_FORMAT"] == "version"
        and not flat["LDAP_CGU_RECORD_ATTRIBUTE"]
    ):
        raise ConfigError(
            "setting [ldap] cgu_record_attribute is empty: the [ent.*] ENTs' CGU acceptances "
            'need it (the shipped schema\'s: cgu_record_attribute = "entIdpCguAcceptance")'
        )
    return tuple(ents)


def _top_level(flat: dict, top: dict, default: bool) -> Ent:
    key = flat["ENT_KEY"]
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ConfigError(
            f"setting ent_key must be a short name of lower-case letters, digits and -, "
            f'e.g. "lycees", not {key!r}'
        )
    return Ent(
        key=key,
        name=flat["ENT_NAME"],
        public_url=flat["PUBLIC_URL"],
        hosts=_hosts(flat["PUBLIC_URL"], flat["ALLOWED_HOSTS"]),
        default=default,
        domains=tuple(flat["ENT_DOMAINS"]),
        top_level=True,
        **top,
    )


def _from_table(key, table, flat, first: Ent, check, cgu_texts, base_dir: Path) -> Ent:
    where = f"[ent.{key}]"
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ConfigError(
            f"setting {where}: an ENT's key is a short name of lower-case letters, digits "
            "and -, e.g. [ent.cfa]"
        )
    if not isinstance(table, dict):
        raise ConfigError(f"setting {where} must be a table of the ENT's settings")
    _refuse_unknown(key, table)
    for required in ("name", "public_url"):
        if not table.get(required):
            raise ConfigError(f"missing required setting {where} {required}")
    merged = dict(flat)
    merged.update(ENT_NAME=table["name"], PUBLIC_URL=table["public_url"])
    merged["ALLOWED_HOSTS"] = table.get("hosts", [])
    for section in TABLES:
        for name, value in (table.get(section) or {}).items():
            merged[flask_name(section, name)] = value
    cgu = table.get("cgu") or {}
    if "text_file" in cgu and "text_file_en" not in cgu:
        merged["CGU_TEXT_FILE_EN"] = ""  # another text: the top level's translation is not its
    if merged["LDAP_CGU_FORMAT"] == "version" and "service_id" not in cgu:
        merged["CGU_SERVICE_ID"] = key  # what its acceptances are filed under (entidp)
    logo = merged["BRAND_LOGO_FILE"]
    if isinstance(logo, str) and logo and not Path(logo).is_absolute():
        merged["BRAND_LOGO_FILE"] = str(base_dir / logo)
    if not merged["PUBLIC_URL"].endswith("/"):
        merged["PUBLIC_URL"] += "/"
    if isinstance(merged["CAS_URL"], str) and not merged["CAS_URL"].endswith("/"):
        merged["CAS_URL"] += "/"
    for name in ("ALLOWED_HOSTS",):
        if not isinstance(merged[name], list):
            raise ConfigError(f"setting {where} hosts must be a list of host names")
    if not isinstance(table.get("domains", []), list):
        raise ConfigError(f'setting {where} domains must be a list, e.g. ["cfa.netocentre.fr"]')
    try:
        check(merged)
        texts = cgu_texts(merged) if "text_file" in cgu or "text_file_en" in cgu else None
    except ConfigError as exc:
        raise ConfigError(_named(str(exc), key)) from None
    return Ent(
        key=key,
        name=merged["ENT_NAME"],
        public_url=merged["PUBLIC_URL"],
        hosts=_hosts(merged["PUBLIC_URL"], merged["ALLOWED_HOSTS"]),
        default=bool(table.get("default")),
        domains=tuple(table.get("domains", first.domains)),
        brand=_section(BrandSettings, "brand", merged),
        cgu=dataclasses.replace(
            _section(CguSettings, "cgu", merged), texts=texts or first.cgu.texts
        ),
        cas=dataclasses.replace(first.cas, **_picked("cas", merged)),
        mail=dataclasses.replace(first.mail, **_picked("mail", merged)),
        legal=_section(LegalSettings, "legal", merged),
    )


def _refuse_unknown(key: str, table: dict) -> None:
    for name, value in table.items():
        if name in TABLES:
            if not isinstance(value, dict):
                raise ConfigError(f"setting [ent.{key}.{name}] must be a table")
            for sub in value:
                if sub not in TABLES[name]:
                    raise ConfigError(
                        f"setting [ent.{key}.{name}] {sub} is not a setting an ENT can change "
                        f"(those of [ent.{key}.{name}]: {', '.join(TABLES[name])})"
                    )
        elif name not in OWN_KEYS:
            raise ConfigError(
                f"setting [ent.{key}] {name} is not a setting an ENT can change (its own: "
                f"{', '.join(OWN_KEYS)}; tables {', '.join(TABLES)}); secrets, servers and "
                "limits are the deployment's, at the top level"
            )


def _named(message: str, key: str) -> str:
    """A check's message, naming the ENT's table instead of the top-level one."""
    message = re.sub(r"\[(brand|cgu|cas|mail|legal)\]", rf"[ent.{key}.\1]", message)
    message = re.sub(r"\bsetting (public_url|ent_name)\b", rf"setting [ent.{key}] \1", message)
    message = message.replace(f"[ent.{key}] ent_name", f"[ent.{key}] name")
    return re.sub(r" \(or ENT_IDP_[A-Z_]+\)", "", message)  # tables come from the file only


def _section(cls: type, section: str, flat: dict) -> Any:
    names = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("derived")]
    return cls(**{name: flat[flask_name(section, name)] for name in names})


def _picked(section: str, flat: dict) -> dict[str, Any]:
    return {name: flat[flask_name(section, name)] for name in TABLES[section]}


def _hosts(public_url: str, extra: list) -> tuple[str, ...]:
    names = [urlsplit(public_url).hostname or "", *(str(h) for h in extra)]
    return tuple(dict.fromkeys(name.lower() for name in names if name))


def _check_unique(ents: list[Ent]) -> None:
    owner: dict[str, str] = {}
    for ent in ents:
        for host in ent.hosts:
            if host in owner:
                raise ConfigError(
                    f"setting {_where(ent)} hosts: {host} is already the host of "
                    f"{_where_key(owner[host], ents)}; a host belongs to one ENT only"
                )
            owner[host] = ent.key
    keys = [ent.key for ent in ents]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"setting ent_key: {ents[0].key!r} is also the key of an [ent.*] table")
    schemes = {urlsplit(ent.public_url).scheme for ent in ents}
    if len(schemes) > 1:
        raise ConfigError(
            "settings public_url: every ENT's public_url is https (or, for a test, every "
            "one is http): the session cookie is Secure or not for the whole deployment"
        )


def charter_id(ent: Ent, cgu_format: str) -> str:
    """The service id the ENT's CGU acceptances are filed under in the directory: "" for
    the top-level ENT of a directory that keeps one version ("version", the shipped schema:
    today's single attribute), its [cgu] service_id otherwise."""
    return "" if ent.top_level and cgu_format == "version" else ent.cgu.service_id


def _check_charters(ents: list[Ent], cgu_format: str) -> None:
    seen: dict[str, Ent] = {}
    for ent in ents:
        service_id = charter_id(ent, cgu_format)
        if service_id in seen:
            raise ConfigError(
                f"setting {_table(ent)} service_id: {service_id!r} is also the CGU service id "
                f"of {_table(seen[service_id])}; each ENT's acceptances are filed under an id "
                "of their own, or raising one ENT's version would ask the other's users too"
            )
        seen[service_id] = ent


def _table(ent: Ent) -> str:
    return "[cgu]" if ent.top_level else f"[ent.{ent.key}.cgu]"


def _where(ent: Ent) -> str:
    return "allowed_hosts" if ent.top_level else f"[ent.{ent.key}]"


def _where_key(key: str, ents: list[Ent]) -> str:
    return next(
        ("the top-level ENT" if e.top_level else f"[ent.{e.key}]") for e in ents if e.key == key
    )
