"""User profiles: who the users are, and so which steps their activation has.

A user profile is configuration (``[[user_profiles]]``): a name, an LDAP filter, and its
steps. The CGU are always asked; the backup address is ``required``, ``optional`` (« Plus
tard » skips it) or ``if-missing`` (only for an account that has none); the password is
``local`` (a provisional password, then the user's own) or ``federated`` (ÉduConnect: the
user logs in through CAS and has no password here). The list is read in order and the first
profile whose filter matches the account wins (the directory evaluates the filters, with its
own matching rules: ``ent_idp.directory.user_profiles``).

Not to be confused with the attribute profile, ``[ldap] profile``, which names the schema's
attributes. Without ``[[user_profiles]]`` the attribute profile's defaults below apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..errors import ConfigError


class BackupAddress(StrEnum):
    REQUIRED = "required"
    OPTIONAL = "optional"  # « Plus tard » skips it
    IF_MISSING = "if-missing"  # asked only of an account that has none


class PasswordKind(StrEnum):
    LOCAL = "local"  # a provisional password, then one chosen here
    FEDERATED = "federated"  # CAS authenticates them (ÉduConnect): no password here


@dataclass(frozen=True)
class UserProfile:
    name: str
    filter: str  # LDAP filter, evaluated by the directory on the account's entry
    backup_address: BackupAddress
    password: PasswordKind

    @property
    def federated(self) -> bool:
        return self.password is PasswordKind.FEDERATED


CATCH_ALL = "(objectClass=*)"

# The defaults of each attribute profile ([ldap] profile), first match wins.
# "entidp": everyone as before profiles existed (the backup address asked, a local password).
# "esco": the regional ENTs. ÉduConnect users (their feed marks them with the ESCO profile
# name EDUCONNECT: set the filter to how yours does) log in through CAS; pupils and parents
# always give a backup address (their way back in when they forget their password); staff
# whose academic address the feed already gives skip that step.
DEFAULTS: dict[str, list[dict[str, str]]] = {
    "entidp": [
        {"name": "compte", "filter": CATCH_ALL, "backup_address": "required", "password": "local"},
    ],
    "esco": [
        {
            "name": "educonnect",
            "filter": "(ESCOPersonProfils=EDUCONNECT)",
            "backup_address": "required",
            "password": "federated",
        },
        {
            "name": "eleve",
            "filter": "(objectClass=ENTEleve)",
            "backup_address": "required",
            "password": "local",
        },
        {
            "name": "parent",
            "filter": "(objectClass=ENTAuxPersRelEleve)",
            "backup_address": "required",
            "password": "local",
        },
        {
            "name": "personnel",
            "filter": "(|(objectClass=ENTAuxEnseignant)(objectClass=ENTAuxNonEnsEtab))",
            "backup_address": "if-missing",
            "password": "local",
        },
        {"name": "autre", "filter": CATCH_ALL, "backup_address": "required", "password": "local"},
    ],
}

_KEYS = {"name", "filter", "backup_address", "password"}


def parse(raw: Any, attribute_profile: str) -> tuple[UserProfile, ...]:
    """The typed list from ``[[user_profiles]]`` (empty: the attribute profile's defaults)."""
    if not isinstance(raw, list):
        raise ConfigError("setting user_profiles must be a list of tables ([[user_profiles]])")
    tables = raw or DEFAULTS.get(attribute_profile, DEFAULTS["entidp"])
    profiles = tuple(_one(table, index) for index, table in enumerate(tables, start=1))
    names = [profile.name for profile in profiles]
    if len(set(names)) != len(names):
        raise ConfigError(f"setting user_profiles: two profiles share a name ({', '.join(names)})")
    return profiles


def _one(table: Any, index: int) -> UserProfile:
    where = f"setting user_profiles, profile {index}"
    if not isinstance(table, dict) or set(table) != _KEYS:
        raise ConfigError(
            f"{where} must have exactly the keys name, filter, backup_address and password, "
            'e.g. {name = "eleve", filter = "(objectClass=ENTEleve)", '
            'backup_address = "required", password = "local"}'
        )
    name, search_filter = str(table["name"]).strip(), str(table["filter"]).strip()
    if not name:
        raise ConfigError(f"{where}: name is empty")
    if not (search_filter.startswith("(") and search_filter.endswith(")")):
        raise ConfigError(f"{where} ({name}): filter must be an LDAP filter in parentheses")
    try:
        backup = BackupAddress(table["backup_address"])
        password = PasswordKind(table["password"])
    except ValueError:
        raise ConfigError(
            f"{where} ({name}): backup_address is one of required, optional, if-missing and "
            "password one of local, federated"
        ) from None
    return UserProfile(name, search_filter, backup, password)
