"""The admins' work on accounts: provisional passwords, resets (``ent-idp reset``).

No click here: ``ent_idp.cli`` parses the arguments and prints. These functions run inside
an app context and return what happened, row by row. Directory writes go through the admin
account (``[admin] bind_dn``: ``AdminDirectory``, given by the caller); the app's account
keeps its least privilege.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from ... import audit
from ...core.flows import Kind
from ...core.resources import resources
from ...directory import Account, AccountState, AdminDirectory
from ...errors import AccountNotFound, DirectoryUnavailable, StoreUnavailable
from ...store import TokenPurpose

log = logging.getLogger(__name__)

# Provisional passwords: lower-case letters and digits without the look-alikes 0/o, 1/l/i,
# in groups, so they are read aloud, copied from paper and typed on a phone without doubt.
# 3 groups of 5 out of 31 symbols: 15 × log2(31) ≈ 74 bits.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
GROUPS = 3
GROUP_LENGTH = 5
PASSWORD_BITS = 74


def provisional_password() -> str:
    """A random provisional password, e.g. ``k7mpx-3xndq-h4wr9``."""
    return "-".join(
        "".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS)
    )


class Outcome(StrEnum):
    CREATED = "created"
    RESET = "reset"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass
class Issued:
    """A provisional password handed out: one line of the CSV, one letter."""

    login: str
    first_name: str
    last_name: str
    group: str
    mail: str
    password: str
    flow: Kind  # the page the letter sends to: activation or reinitialisation
    domains: tuple[str, ...] = ()  # the ENT domains the directory lists (its letter's ENT)


@dataclass
class Report:
    """What happened to one login (a command-line argument or a row of the file)."""

    login: str
    outcome: Outcome
    reason: str = ""
    line: int = 0
    issued: Issued | None = None
    warning: str = ""  # done, but something the admin must know


def reset(admin: AdminDirectory, logins: Iterable[str]) -> Iterator[Report]:
    """A new provisional password for each account, ``pwdReset``, every mailed link voided.

    The same Modify takes the backup address's verification and the forwarding away (see
    ``AdminDirectory.reset_password``): nothing reaches that address until its owner verifies it.

    An active account becomes ``reset``; a pending one (never activated) stays pending.
    Unknown logins and blocked accounts are reported, the others still done. Reports come
    one by one, so a password is shown as soon as it is in force.
    """
    for login in dict.fromkeys(logins):  # each login once, in the order given
        try:
            account = admin.reads.find(login)
        except AccountNotFound:
            yield Report(login, Outcome.ERROR, "unknown login")
            continue
        yield reset_account(admin, account, group="")


def void_links(dn: str) -> list[str]:
    """Void every link mailed for the account: validation and address change (one purpose),
    « Mot de passe oublié », and forget the address change waiting. Returns what was voided."""
    store = resources().store
    purposes = (TokenPurpose.VALIDATION, TokenPurpose.FORGOTTEN_PASSWORD)
    voided = [purpose.value for purpose in purposes if store.tokens.void(purpose, dn)]
    if store.pending_addresses.forget(dn):
        voided.append("pending-address-change")
    return voided


def reset_account(admin: AdminDirectory, account: Account, group: str) -> Report:
    if account.state not in (AccountState.PENDING, AccountState.RESET, AccountState.ACTIVE):
        reason = f"account in state {account.state_raw!r}: not reset"
        return Report(account.login, Outcome.ERROR, reason)
    state = AccountState.PENDING if account.state == AccountState.PENDING else AccountState.RESET
    password = provisional_password()
    try:
        admin.reset_password(account, password, state)
    except (DirectoryUnavailable, AccountNotFound) as exc:
        return Report(account.login, Outcome.ERROR, str(exc))
    # From here on the password is in force: whatever happens, it must reach the admin.
    warning = ""
    try:
        voided = void_links(account.dn)
    except StoreUnavailable as exc:
        # The directory still refuses them (the address is no longer verified, the account
        # not active), but « Mon compte » may show a change waiting: say so.
        log.error("reset %s: links mailed before could not be voided: %s", account.login, exc)
        warning = (
            f"links mailed before could not be voided (Redis: {exc}); the directory refuses "
            "them anyway. Run the reset again once Redis is back to void them"
        )
        voided = ["failed"]
    try:
        resources().store.throttle.clear(account.dn, account.login)  # the help desk lifts it
    except StoreUnavailable as exc:
        log.error("reset %s: its failed attempts could not be forgotten: %s", account.login, exc)
    audit.event("admin-reset", account.login, "ok", state=state.value, voided=voided)
    issued = Issued(
        login=account.login,
        first_name=account.given_name,
        last_name=account.surname,
        group=group,
        mail=account.mail,
        password=password,
        flow=Kind.ACTIVATION if state == AccountState.PENDING else Kind.RESET,
        domains=account.domains,
    )
    return Report(account.login, Outcome.RESET, issued=issued, warning=warning)
