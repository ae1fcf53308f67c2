"""The account as the rest of ent-idp sees it: plain data, no ldap3.

``Account`` is what a search reads (and what a flow keeps of it, for the assertion of its
final write); ``AccountState`` our names for the directory's states, whatever the profile
spells them; ``PasswordCheck`` the outcome of a bind. ``Acceptance`` is one CGU acceptance
as the directory keeps it, and ``Charter`` the CGU this deployment asks for (its service id
and version): it decides whether an account's acceptances cover it, and is what the
directory's writes record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum


class AccountState(StrEnum):
    PENDING = "pending"
    RESET = "reset"
    ACTIVE = "active"


class PasswordCheck(StrEnum):
    OK = "ok"
    WRONG = "wrong"


@dataclass(frozen=True)
class Acceptance:
    """One CGU acceptance read from the directory (``ent_idp.directory.profile`` parses it)."""

    service_id: str  # "" where the directory keeps one version for the deployment (entidp)
    version: str  # "" for a value that gives only its time (the schema's service-id$time)
    time: str  # GeneralizedTime; "" when not kept
    raw: str  # the value as stored: what a write deletes, exactly

    def covers(self, version: str) -> bool:
        """Whether it accepts ``version``: the same version, or, for a value that names no
        version, an acceptance on or after the version's date (yyyyMMdd, the one in force)."""
        if self.version:
            return self.version == version
        return bool(self.time) and self.time[:8] >= version


@dataclass(frozen=True)
class Charter:
    """The CGU to accept here: the service id acceptances are filed under, and the version.

    One per ENT, read from the settings in one place (``Resources.charter(ent)``); the
    directory's writes take it as an argument. ``service_id`` "" is the shipped schema's
    one version attribute: the top-level ENT's, as before there were several.
    """

    service_id: str
    version: str

    def acceptances(self, account: Account) -> tuple[Acceptance, ...]:
        """The account's acceptances of this service's CGU (any version)."""
        return tuple(a for a in account.charters if a.service_id == self.service_id)

    def accepted_by(self, account: Account) -> bool:
        return any(a.covers(self.version) for a in self.acceptances(account))

    def accepted_before(self, account: Account) -> bool:
        """An older version of this service's CGU was accepted (the page says they changed)."""
        return bool(self.acceptances(account)) and not self.accepted_by(account)


@dataclass(frozen=True)
class Account:
    dn: str
    login: str
    state: str  # an AccountState, or "other" (e.g. BLOQUE: nothing to do here)
    mail: str
    given_name: str
    surname: str
    charters: tuple[Acceptance, ...]  # every CGU acceptance of the entry, of any service
    backup_mail: str
    backup_verified: bool
    forward: bool
    pwd_changed_time: str
    state_raw: str = ""  # the state as the directory spells it (the profile's value)
    locked_time: str = ""  # ppolicy's pwdAccountLockedTime, when the directory locked it
    domains: tuple[str, ...] = ()  # the ENT domains the directory lists (ESCODomaines)

    @property
    def needs_completion(self) -> bool:
        return self.state in (AccountState.PENDING, AccountState.RESET)

    @property
    def personal_words(self) -> tuple[str, str, str]:
        """What a password must not contain: the login and the names."""
        return (self.login, self.given_name, self.surname)


def ldap_time(epoch: float | None = None) -> str:
    """A GeneralizedTime in UTC, as the directory stores it."""
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(epoch))
