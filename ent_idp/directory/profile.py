"""A profile: the names a directory's schema gives to what ent-idp reads and writes.

``[ldap] profile`` picks one of ``ent_idp.settings.defaults.PROFILES`` ("entidp", "esco"),
and each ``[ldap] *_attribute`` / ``state_*`` setting may override one name. Everything that
spells an attribute or a state value goes through this object; reading an entry into an
``Account`` is here too (plain dicts, no ldap3).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..settings.sections import LdapSettings
from .accounts import Acceptance, Account, AccountState, Charter

# Our names of the attributes a profile names ([ldap] <name>_attribute).
ATTRIBUTES = (
    "login",
    "state",
    "cgu_version",
    "cgu_time",
    "cgu_record",
    "domains",
    "backup_mail",
    "backup_verified",
    "forward_wish",
    "activated_time",
    "forward",
    "school",
    "password_time",
)
# Read on every search besides the profile's own attributes.
STANDARD_ATTRIBUTES = ("mail", "givenName", "sn", "pwdChangedTime", "pwdAccountLockedTime")


@dataclass(frozen=True)
class Profile:
    name: str  # [ldap] profile: "entidp", "esco"
    object_class: str
    login: str
    state: str
    cgu_version: str
    cgu_time: str  # may be empty: the profile keeps no acceptance time
    cgu_record: str  # "version": the other ENTs' acceptances, one value each; may be empty
    domains: str  # the account's ENT domains (ESCODomaines); may be empty: not read
    backup_mail: str
    backup_verified: str
    forward_wish: str
    activated_time: str
    forward: str  # the MTA's attribute: only ever a verified address
    school: str  # may be empty: the directory names no school (« Identifiant oublié »)
    password_time: str  # may be empty: the profile keeps no password-change date
    states: dict[AccountState, str]  # our state -> the directory's value
    cgu_format: str  # "version": one version, replaced; "service": one value per service

    @classmethod
    def from_settings(cls, ldap: LdapSettings) -> Profile:
        named = {name: getattr(ldap, f"{name}_attribute") for name in ATTRIBUTES}
        states = {state: getattr(ldap, f"state_{state.value}") for state in AccountState}
        return cls(
            name=ldap.profile,
            object_class=ldap.account_object_class,
            states=states,
            cgu_format=ldap.cgu_format,
            **named,
        )

    def new_entry(self, login: str) -> dict[str, object]:
        """The classes (and mandatory attributes) of an account the admin adds: the shipped
        schema's; on ESCO, an ENTPerson with ESCOAddons (the ESCO attributes need it), whose
        join key names ent-idp as the feed that made it (``ent-idp check``'s entry)."""
        if self.name == "esco":
            return {
                "objectClass": [self.object_class, "ESCOAddons", "entIdpAccount",
                                "inetLocalMailRecipient"],
                "uid": login,
                "ENTPersonJointure": f"ENT-IDP${login}",
            }  # fmt: skip
        return {"objectClass": ["inetOrgPerson", self.object_class, "inetLocalMailRecipient"]}

    def names(self) -> dict[str, str]:
        """Our name -> the attribute's, for every attribute the profile names (not empty)."""
        return {name: getattr(self, name) for name in ATTRIBUTES if getattr(self, name)}

    @property
    def read_attributes(self) -> list[str]:
        mine = [self.login, self.state, self.cgu_version, self.backup_mail, self.backup_verified]
        kept = [name for name in (self.cgu_time, self.cgu_record, self.domains) if name]
        return [*mine, *kept, self.forward_wish, *STANDARD_ATTRIBUTES]

    def state_of(self, raw: str, accepted_before: bool) -> str:
        """Our state for the directory's value (pending and reset may share one: an account
        that accepted a CGU before, of any service, was active once)."""
        matches = [ours for ours, value in self.states.items() if value.lower() == raw.lower()]
        if matches == [AccountState.ACTIVE]:
            return AccountState.ACTIVE
        if set(matches) == {AccountState.PENDING, AccountState.RESET}:
            return AccountState.RESET if accepted_before else AccountState.PENDING
        return matches[0] if matches else "other"  # e.g. BLOQUE, DELETE: nothing to do here

    def acceptances(self, values: list[str], time: str) -> tuple[Acceptance, ...]:
        """The CGU acceptances an entry holds, in either format it may be in.

        "version": the one version, with the time attribute's value. "service": one value
        per service, ``serviceId;yyyyMMdd;yyyyMMddHHmmssZ`` (the region's account app) or
        ``service-id$YYYYMMDDHHMMSSZ`` (the schema's description); other values are not
        ours to read, and are left alone.
        """
        if self.cgu_format != "service":
            return tuple(Acceptance("", value, time, value) for value in values[:1] if value)
        found = []
        for value in values:
            parts = value.split(";")
            if len(parts) == 3 and all(parts):
                found.append(Acceptance(parts[0], parts[1], parts[2], value))
            elif "$" in value and ";" not in value:
                service_id, _, stamp = value.rpartition("$")
                if service_id and stamp:
                    found.append(Acceptance(service_id, "", stamp, value))
        return tuple(found)

    def records(self, values: list[str]) -> tuple[Acceptance, ...]:
        """The acceptances of ``cgu_record`` (the other ENTs', where the one version
        attribute is the top-level ENT's): ``serviceId;version;time``, as ESCO's."""
        found = []
        for value in values:
            parts = value.split(";")
            if len(parts) == 3 and all(parts):
                found.append(Acceptance(parts[0], parts[1], parts[2], value))
        return tuple(found)

    def charter_attribute(self, charter: Charter) -> str:
        """Where ``charter``'s acceptance is kept: the one version attribute (``service_id``
        "", "version"), else one value per service (ESCO's attribute, or ``cgu_record``)."""
        if self.cgu_format == "service":
            return self.cgu_version
        return self.cgu_record if charter.service_id else self.cgu_version

    def charter_value(self, charter: Charter, stamp: str) -> str:
        """What records the acceptance of ``charter`` at ``stamp`` (the region's format)."""
        if self.cgu_format != "service" and not charter.service_id:
            return charter.version
        return f"{charter.service_id};{charter.version};{stamp}"

    def account(self, entry: dict) -> Account:
        """The account a search entry (``dn`` and ``attributes``) holds."""
        attrs = entry["attributes"]

        def every(name: str) -> list[str]:
            values = attrs.get(name) or [] if name else []
            if isinstance(values, (str, bytes)):
                values = [values]
            return [v.decode() if isinstance(v, bytes) else str(v) for v in values]

        def first(name: str) -> str:
            return next(iter(every(name)), "")

        state_raw = first(self.state)
        charters = self.acceptances(every(self.cgu_version), first(self.cgu_time))
        if self.cgu_format != "service" and self.cgu_record:
            charters += self.records(every(self.cgu_record))
        return Account(
            dn=entry["dn"],
            login=first(self.login),
            state=self.state_of(state_raw, bool(charters)),
            state_raw=state_raw,
            mail=first("mail"),
            given_name=first("givenName"),
            surname=first("sn"),
            charters=charters,
            backup_mail=first(self.backup_mail),
            # A verified time without an address (a hand edit) verifies nothing.
            backup_verified=bool(first(self.backup_verified) and first(self.backup_mail)),
            forward=first(self.forward_wish).upper() == "TRUE",
            pwd_changed_time=first("pwdChangedTime"),
            locked_time=first("pwdAccountLockedTime"),
            domains=tuple(every(self.domains)),
        )
