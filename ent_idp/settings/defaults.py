"""Every setting, declared once: its TOML section and key, and its default.

``REQUIRED`` marks a setting without a safe default. The commented example in
``config/ent-idp.example.toml`` mirrors this table; the typed sections of
``ent_idp.settings.sections`` carry the same keys (checked at import).
"""

from __future__ import annotations

from typing import Any

ENV_PREFIX = "ENT_IDP_"
REQUIRED = object()

# (section, key) -> default; REQUIRED marks a setting without a safe default.
DEFAULTS: dict[tuple[str, str], Any] = {
    ("", "secret_key"): REQUIRED,
    ("", "public_url"): REQUIRED,
    ("", "ent_name"): "ENT",
    # The key of the ENT the top-level keys describe (logs, --ent, queued work): every
    # [ent.<key>] table is another ENT, inheriting these keys (ent_idp.settings.ents).
    ("", "ent_key"): "ent",
    # The ESCODomaines values of that ENT (where the directory lists an account's domains:
    # [ldap] domains_attribute). Empty: accounts are not told apart by domain.
    ("", "ent_domains"): [],
    ("brand", "colour"): "#0b5394",
    ("brand", "colour_dark"): "#073763",
    ("brand", "logo_file"): "",
    ("brand", "logo_alt"): "",
    ("", "templates_dir"): "",
    ("", "allowed_hosts"): [],
    ("", "trusted_proxies"): [],
    # One server ("url"), or several ("urls": writes and user binds go to the first that
    # answers, in this order); reads that may lag behind a write can go to "read_urls".
    ("ldap", "url"): REQUIRED,
    ("ldap", "urls"): [],
    ("ldap", "read_urls"): [],
    # A server that failed is skipped this many seconds, then tried again.
    ("ldap", "retry_failed_after"): 10.0,
    ("ldap", "bind_dn"): REQUIRED,
    ("ldap", "bind_password"): REQUIRED,
    ("ldap", "people_dn"): REQUIRED,
    ("ldap", "timeout"): 5,
    ("ldap", "decoy_dn"): REQUIRED,
    # TLS (ent_idp.directory.tls): StartTLS on ldap:// URLs; certificates verified by default.
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
    # Where the CGU acceptances of the [ent.<key>] ENTs are kept, one value per ENT,
    # "serviceId;version;time", when cgu_format = "version" keeps the top-level ENT's in
    # cgu_version_attribute (the shipped schema: entIdpCguAcceptance).
    ("ldap", "cgu_record_attribute"): "",
    # The domains an account belongs to (ESCODomaines); empty: not read.
    ("ldap", "domains_attribute"): "",
    # How the CGU acceptance is kept: "version" (one version attribute, replaced) or
    # "service" (one value per service, "serviceId;yyyyMMdd;time": only ours is touched).
    ("ldap", "cgu_format"): "",
    # When the password last changed, written with every password (empty: not kept).
    ("ldap", "password_time_attribute"): "",
    ("ldap", "backup_mail_attribute"): "entIdpBackupMail",
    ("ldap", "backup_verified_attribute"): "entIdpBackupMailVerifiedTime",
    ("ldap", "forward_wish_attribute"): "entIdpMailForward",
    ("ldap", "activated_time_attribute"): "entIdpActivatedTime",
    ("ldap", "forward_attribute"): "mailRoutingAddress",
    # « Identifiant oublié » also asks for the school where the directory names it (the
    # attribute matched, by equality, with what the user gives). Empty: not asked.
    ("ldap", "school_attribute"): "",
    # One server ("url"), or a master found through Sentinel (ent_idp.store.client).
    ("redis", "url"): REQUIRED,
    ("redis", "sentinels"): [],
    ("redis", "master_name"): "",
    ("redis", "password"): "",
    ("redis", "sentinel_password"): "",
    ("redis", "db"): 0,
    # With Sentinel: the writes users are told about wait for this many replicas (WAIT), at
    # most wait_timeout seconds; a request waits failover_wait seconds for a new master.
    ("redis", "wait_replicas"): 1,
    ("redis", "wait_timeout"): 0.5,
    ("redis", "failover_wait"): 5.0,
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
    # A mail worker that has not renewed its lease for this long is taken for dead: what it
    # was sending goes back to the queue (ent_idp.store.mail_workers).
    ("mail", "worker_lease_seconds"): 30,
    # How users get help, named in the notices of changes to their account. Empty: their
    # school only.
    ("mail", "help_contact"): "",
    ("cgu", "version"): REQUIRED,
    # The service id the acceptances are filed under, where the directory keeps one per
    # service ([ldap] cgu_format = "service", the esco profile): required there.
    ("cgu", "service_id"): "",
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
    # Prometheus metrics, each on a port of its own (never the app's): HOST:PORT, "" for
    # none. On the loopback by default: they say who uses the service and how it fails.
    ("metrics", "bind"): "127.0.0.1:9101",
    ("metrics", "worker_bind"): "127.0.0.1:9102",
    # /readyz fails once the oldest queued mail has waited this long (0: never).
    ("health", "mail_queue_max_age_seconds"): 900,
    # The legal pages of the ENT (the « Déclaration d'accessibilité », the legal notices): its
    # own content, one section per ENT once there are several.
    ("legal", "publisher"): "",
    ("legal", "accessibility_status"): "none",
    ("legal", "statement_date"): "",
    ("legal", "audit_by"): "",
    ("legal", "compliance_rate"): 0,
    ("legal", "non_compliant"): "",
    ("legal", "contact"): "",
    ("legal", "recourse_text"): "",
    ("legal", "legal_notices_url"): "",
    # The admin commands (ent-idp reset, import, check): an account with manage rights.
    ("admin", "bind_dn"): "",
    ("admin", "bind_password"): "",
    ("admin", "ent_url"): "",
    # Who the users are, and their steps ([[user_profiles]]; ent_idp.settings.user_profiles).
    # Empty: the attribute profile's defaults.
    ("", "user_profiles"): [],
    # The federation federated profiles log in through: its name and where users manage
    # their password there (shown instead of ent-idp's password pages).
    ("federation", "name"): "ÉduConnect",
    ("federation", "url"): "https://educonnect.education.gouv.fr/",
}

MIN_SECRET_KEY_LENGTH = 32

# A required setting that another one can stand for: [ldap] urls lists several servers
# instead of one url, [redis] sentinels finds the master instead of a url.
ALTERNATIVES: dict[tuple[str, str], tuple[str, str]] = {
    ("ldap", "url"): ("ldap", "urls"),
    ("redis", "url"): ("redis", "sentinels"),
}
# Settings that are lists: the environment gives them comma-separated.
LISTS = frozenset(
    {
        "allowed_services",
        "allowed_hosts",
        "ent_domains",
        "trusted_proxies",
        "logout_addresses",
        "urls",
        "read_urls",
        "sentinels",
    }
)

# Attribute profiles: the names (and state values) of a directory's schema, so a deployment
# maps its own instead of migrating. "esco": the ESCO/SDET schema of the regional ENTs, where
# a pending and a reset account are both INVALIDE (a reset one has accepted a CGU before),
# states are written in upper case, the CGU acceptance is one value per service in a
# multi-valued attribute and the password's modification date is kept; the backup-mail
# attributes stay entIdp ones (auxiliary class entIdpAccount on the entries).
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
        "cgu_format": "version",
        "cgu_record_attribute": "entIdpCguAcceptance",
        "domains_attribute": "",
        "password_time_attribute": "",
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
        "cgu_format": "service",
        "cgu_record_attribute": "",
        "domains_attribute": "ESCODomaines",
        "password_time_attribute": "ESCODateModificationPassword",
    },
}


def flask_name(section: str, key: str) -> str:
    """The flat name of a setting: ``[ldap] url`` is ``LDAP_URL`` (environment, overrides)."""
    return f"{section}_{key}".upper() if section else key.upper()


def toml_name(section: str, key: str) -> str:
    return f"[{section}] {key}" if section else key
