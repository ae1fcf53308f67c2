"""The account as the rest of ent-idp sees it: plain data, no ldap3.

``Account`` is what a search reads (and what a flow keeps of it, for the assertion of its
final write); ``AccountState`` our names for the directory's states, whatever the profile
spells them; ``PasswordCheck`` the outcome of a bind.
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
class Account:
    dn: str
    login: str
    state: str  # an AccountState, or "other" (e.g. BLOQUE: nothing to do here)
    mail: str
    given_name: str
    surname: str
    cgu_version: str
    backup_mail: str
    backup_verified: bool
    forward: bool
    pwd_changed_time: str
    state_raw: str = ""  # the state as the directory spells it (the profile's value)
    locked_time: str = ""  # ppolicy's pwdAccountLockedTime, when the directory locked it

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
