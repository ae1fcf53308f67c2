"""What « Mon compte » does: backup address, forwarding, password, for a CAS-authenticated user.

The same directory write rules as activation apply: one Modify guarded by an assertion,
passwords hashed and policy-checked by the server, forwarding only to a verified address.
"""

from __future__ import annotations

from flask import current_app

from . import audit, devices
from .activation import notify_password_change, pending_change_key, send_validation
from .directory import Account, AccountState
from .exceptions import AccountBusy, Conflict, IdentificationFailed, PasswordRejected
from .extensions import services
from .identification import check_credentials


def pending_backup_mail(account: Account) -> str | None:
    """The address the user asked to switch to, waiting for its link to be used."""
    return services().redis.get(pending_change_key(account.dn))


def request_backup_change(account: Account, address: str) -> None:
    """Mail a link to ``address``; the current address stays in force until it is used."""
    s = services()
    hours = current_app.config["MAIL_VALIDATION_HOURS"]
    pipe = s.redis.pipeline()
    send_validation(account.dn, account.login, address, previous=account.backup_mail, pipe=pipe)
    pipe.set(pending_change_key(account.dn), address, ex=hours * 3600)
    pipe.execute()
    audit.event("backup-change-requested", account.login, "ok")


def set_forwarding(account: Account, wish: bool) -> None:
    services().directory.set_forwarding(account, wish)
    audit.event("forwarding", account.login, "on" if wish else "off")


def change_password(account: Account, current: str, new: str) -> None:
    """Check the current password by bind, then write the new one (serialized per account)."""
    s = services()
    devices.remember(account.dn)  # logged in through CAS: this browser has its own bucket
    try:
        check_credentials(account.login, current, frozenset({AccountState.ACTIVE}))
    except IdentificationFailed:
        audit.event("password-change", account.login, "failed", reason="current-password")
        raise
    with s.flows.account_lock(account.dn) as acquired:
        if not acquired:
            raise AccountBusy(account.dn)
        try:
            s.directory.change_password(account, new)
        except (Conflict, PasswordRejected) as exc:
            audit.event("password-change", account.login, type(exc).__name__.lower())
            raise
    if account.backup_verified:
        notify_password_change(account.backup_mail, account.login)
    audit.event("password-change", account.login, "ok")
