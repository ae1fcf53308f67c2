"""The typed settings: one frozen dataclass per TOML section, built once by ``load``.

The fields are the keys of ``defaults.DEFAULTS`` (checked at import: a key declared on one
side only fails at once), so a reader sees each setting's type where it is used
(``settings.mail.validation_hours``). A few fields are derived at load time and come from no
key (``DERIVED``): the CGU texts read from their files, the trusted proxies as networks.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from .defaults import DEFAULTS, flask_name
from .legal import LegalSettings
from .user_profiles import UserProfile

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DERIVED = {"derived": True}


@dataclass(frozen=True)
class BrandSettings:
    colour: str
    colour_dark: str
    logo_file: str
    logo_alt: str


@dataclass(frozen=True)
class LdapSettings:
    url: str  # one server; or urls, several (``servers`` is the list in force)
    urls: list[str]
    read_urls: list[str]
    retry_failed_after: float
    bind_dn: str  # the app account: least privilege (ldap_schema/acl.ldif)
    bind_password: str
    people_dn: str
    timeout: int
    decoy_dn: str
    start_tls: bool
    tls_ca_file: str
    tls_verify: bool
    profile: str
    # The profile's names (ent_idp.directory.profile), each one filled in from PROFILES.
    account_object_class: str
    login_attribute: str
    state_attribute: str
    state_pending: str
    state_reset: str
    state_active: str
    cgu_version_attribute: str
    cgu_time_attribute: str
    cgu_format: str  # "version" | "service"
    cgu_record_attribute: str  # the [ent.*] ENTs' acceptances with "version"; may be empty
    domains_attribute: str  # ESCODomaines; may be empty: not read
    password_time_attribute: str
    backup_mail_attribute: str
    backup_verified_attribute: str
    forward_wish_attribute: str
    activated_time_attribute: str
    forward_attribute: str
    school_attribute: str  # may be empty: the directory names no school
    # Derived: where writes and user binds go, in order; where reads that may lag go.
    servers: tuple[str, ...] = field(default=(), metadata=DERIVED)
    read_servers: tuple[str, ...] = field(default=(), metadata=DERIVED)


@dataclass(frozen=True)
class RedisSettings:
    url: str  # one server; or the master the Sentinels elect
    sentinels: list[str]
    master_name: str
    password: str
    sentinel_password: str
    db: int
    wait_replicas: int
    wait_timeout: float
    failover_wait: float
    prefix: str
    timeout: float
    sentinel_addresses: tuple[tuple[str, int], ...] = field(default=(), metadata=DERIVED)


@dataclass(frozen=True)
class CasSettings:
    url: str
    allowed_services: list[str]
    default_service: str
    timeout: int
    interrupt_username: str
    interrupt_password: str
    logout_addresses: list[str]


@dataclass(frozen=True)
class MailSettings:
    server: str
    port: int
    use_tls: bool
    use_ssl: bool
    tls_verify: bool
    tls_ca_file: str
    username: str
    password: str
    sender: str
    timeout: int
    validation_hours: int
    reset_link_minutes: int
    retry_seconds: int
    worker_lease_seconds: int
    help_contact: str


@dataclass(frozen=True)
class CguSettings:
    version: str
    service_id: str
    text_file: str
    text_file_en: str
    texts: dict[str, list[str]] = field(default_factory=dict, metadata=DERIVED)  # by language


@dataclass(frozen=True)
class FederationSettings:
    name: str
    url: str


@dataclass(frozen=True)
class FlowSettings:
    idle_minutes: int


@dataclass(frozen=True)
class AccountSettings:
    session_max_minutes: float


@dataclass(frozen=True)
class HttpSettings:
    max_content_length: int
    max_form_memory_size: int
    max_form_parts: int
    limit_request_line: int
    limit_request_fields: int
    limit_request_field_size: int


@dataclass(frozen=True)
class PasswordSettings:
    min_length: int
    max_length: int
    min_entropy_bits: int
    min_strength: int


@dataclass(frozen=True)
class ThrottleSettings:
    login_free_failures: int
    login_delay_seconds: int
    login_max_failures_per_day: int
    address_free_failures: int
    address_delay_seconds: int
    address_max_failures_per_day: int
    device_days: int
    ppolicy_max_failure: int
    ppolicy_failure_count_interval: int
    ppolicy_lockout_duration: int


@dataclass(frozen=True)
class MetricsSettings:
    bind: str  # HOST:PORT of the app's metrics ("" for none)
    worker_bind: str  # the mail worker's


@dataclass(frozen=True)
class HealthSettings:
    mail_queue_max_age_seconds: int


@dataclass(frozen=True)
class AdminSettings:
    bind_dn: str  # the admin commands' account, with manage rights
    bind_password: str
    ent_url: str


@dataclass(frozen=True)
class Settings:
    # Top-level keys.
    secret_key: str
    public_url: str  # ends with "/"
    ent_name: str
    ent_key: str
    ent_domains: list[str]
    templates_dir: str
    allowed_hosts: list[str]
    trusted_proxies: list[str]
    user_profiles: tuple[UserProfile, ...]  # typed at load time (settings.user_profiles)
    # One per TOML section.
    brand: BrandSettings
    ldap: LdapSettings
    redis: RedisSettings
    cas: CasSettings  # its url ends with "/"
    mail: MailSettings
    cgu: CguSettings
    federation: FederationSettings
    flow: FlowSettings
    account: AccountSettings
    http: HttpSettings
    password: PasswordSettings
    throttle: ThrottleSettings
    metrics: MetricsSettings
    health: HealthSettings
    legal: LegalSettings
    admin: AdminSettings
    trusted_proxy_networks: tuple[Network, ...] = field(default=(), metadata=DERIVED)
    # The ENTs served (ent_idp.settings.ents.Ent): the top-level one first.
    ents: tuple = field(default=(), metadata=DERIVED)
    # Keys that are no setting of ours, passed to Flask as they are (tests: TESTING).
    flask_extra: dict[str, Any] = field(default_factory=dict, metadata=DERIVED)

    @property
    def testing(self) -> bool:
        return bool(self.flask_extra.get("TESTING"))

    @property
    def default_ent(self):  # -> Ent
        """The ENT of work that names none: ``default = true``'s, else the top-level one."""
        return next(ent for ent in self.ents if ent.default)

    def ent(self, key: object):  # -> Ent
        """The ENT ``key`` names; the default one for a key that names none (work queued
        before the upgrade, or for an ENT since removed from the configuration)."""
        return next((ent for ent in self.ents if ent.key == key), self.default_ent)

    def ent_for_host(self, host: str):  # -> Ent | None
        """The ENT of a request's ``Host`` (its name; the port is not compared)."""
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        name = name.strip("[]").lower()

        def serves(ent) -> bool:  # ".example.net" (TRUSTED_HOSTS' form): its subdomains too
            return any(name == h or (h[:1] == "." and f".{name}".endswith(h)) for h in ent.hosts)

        return next((ent for ent in self.ents if serves(ent)), None)

    @property
    def federated_profiles(self) -> bool:
        """Whether some users log in through the federation (the pages then point to it)."""
        return any(profile.federated for profile in self.user_profiles)


SECTIONS: dict[str, type] = {
    f.name: f.type if isinstance(f.type, type) else globals()[f.type]
    for f in dataclasses.fields(Settings)
    if isinstance(f.type, str) and f.type.endswith("Settings")
}


def _keys(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if not f.metadata.get("derived")]


def _declared() -> set[tuple[str, str]]:
    top = {("", name) for name in _keys(Settings) if name not in SECTIONS}
    return top | {(section, key) for section, cls in SECTIONS.items() for key in _keys(cls)}


if _declared() != set(DEFAULTS):  # pragma: no cover - a programming error, caught at import
    raise RuntimeError(f"settings declared on one side only: {_declared() ^ set(DEFAULTS)}")


def build_sections(flat: dict[str, Any], derived: dict[str, Any] | None = None) -> dict:
    """The typed sections from the flat, checked and derived settings."""
    derived = derived or {}
    return {
        section: cls(
            **{key: flat[flask_name(section, key)] for key in _keys(cls)},
            **derived.get(section, {}),
        )
        for section, cls in SECTIONS.items()
    }


def build(
    flat: dict[str, Any], sections: dict[str, Any], derived: dict[str, Any], ents: tuple
) -> Settings:
    """The typed settings from the flat ones, the sections and the ENTs."""
    top = {name: flat[flask_name("", name)] for name in _keys(Settings) if name not in SECTIONS}
    known = {flask_name(section, key) for section, key in DEFAULTS}
    extra = {name: value for name, value in flat.items() if name not in known}
    return Settings(**top, **sections, **derived.get("", {}), ents=ents, flask_extra=extra)
