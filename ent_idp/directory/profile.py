"""A profile: the names a directory's schema gives to what ent-idp reads and writes.

``[ldap] profile`` picks one of ``ent_idp.settings.defaults.PROFILES`` ("entidp", "esco"),
and each ``[ldap] *_attribute`` / ``state_*`` setting may override one name. Everything that
spells an attribute or a state value goes through this object; reading an entry into an
``Account`` is here too (plain dicts, no ldap3).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..settings.sections import LdapSettings
from .accounts import Account, AccountState

# Our names of the attributes a profile names ([ldap] <name>_attribute).
ATTRIBUTES = (
    "login",
    "state",
    "cgu_version",
    "cgu_time",
    "backup_mail",
    "backup_verified",
    "forward_wish",
    "activated_time",
    "forward",
    "school",
)
# Read on every search besides the profile's own attributes.
STANDARD_ATTRIBUTES = ("mail", "givenName", "sn", "pwdChangedTime", "pwdAccountLockedTime")


@dataclass(frozen=True)
class Profile:
    object_class: str
    login: str
    state: str
    cgu_version: str
    cgu_time: str  # may be empty: the profile keeps no acceptance time
    backup_mail: str
    backup_verified: str
    forward_wish: str
    activated_time: str
    forward: str  # the MTA's attribute: only ever a verified address
    school: str  # may be empty: the directory names no school (« Identifiant oublié »)
    states: dict[AccountState, str]  # our state -> the directory's value

    @classmethod
    def from_settings(cls, ldap: LdapSettings) -> Profile:
        named = {name: getattr(ldap, f"{name}_attribute") for name in ATTRIBUTES}
        states = {state: getattr(ldap, f"state_{state.value}") for state in AccountState}
        return cls(object_class=ldap.account_object_class, states=states, **named)

    def names(self) -> dict[str, str]:
        """Our name -> the attribute's, for every attribute the profile names (not empty)."""
        return {name: getattr(self, name) for name in ATTRIBUTES if getattr(self, name)}

    @property
    def read_attributes(self) -> list[str]:
        mine = [self.login, self.state, self.cgu_version, self.backup_mail, self.backup_verified]
        return [*mine, self.forward_wish, *STANDARD_ATTRIBUTES]

    def state_of(self, raw: str, cgu_version: str) -> str:
        """Our state for the directory's value (pending and reset may share one)."""
        matches = [ours for ours, value in self.states.items() if value.lower() == raw.lower()]
        if matches == [AccountState.ACTIVE]:
            return AccountState.ACTIVE
        if set(matches) == {AccountState.PENDING, AccountState.RESET}:
            return AccountState.RESET if cgu_version else AccountState.PENDING
        return matches[0] if matches else "other"  # e.g. BLOQUE: nothing to do here

    def account(self, entry: dict) -> Account:
        """The account a search entry (``dn`` and ``attributes``) holds."""
        attrs = entry["attributes"]

        def first(name: str) -> str:
            values = attrs.get(name) or []
            if isinstance(values, (str, bytes)):
                values = [values]
            value = values[0] if values else ""
            return value.decode() if isinstance(value, bytes) else str(value)

        state_raw = first(self.state)
        return Account(
            dn=entry["dn"],
            login=first(self.login),
            state=self.state_of(state_raw, first(self.cgu_version)),
            state_raw=state_raw,
            mail=first("mail"),
            given_name=first("givenName"),
            surname=first("sn"),
            cgu_version=first(self.cgu_version),
            backup_mail=first(self.backup_mail),
            backup_verified=bool(first(self.backup_verified)),
            forward=first(self.forward_wish).upper() == "TRUE",
            pwd_changed_time=first("pwdChangedTime"),
            locked_time=first("pwdAccountLockedTime"),
        )
