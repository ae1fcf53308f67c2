"""What « Mon compte » does: backup address, forwarding, password, for a CAS-authenticated user.

A session found open is not the user: every change asks for the current password (checked by
bind, through the same throttle as identification) and is told to the verified backup
address in place, which can then ask the school for help. The same directory write rules as
activation apply: one Modify guarded by an assertion, passwords hashed and policy-checked by
the server, forwarding only to a verified address.
"""

from __future__ import annotations

from flask import current_app

from . import audit, devices, mails
from .activation import (
    notify_password_change,
    pending_change_key,
    send_validation,
    within_mail_limit,
)
from .directory import Account, AccountState
from .exceptions import (
    AccountBusy,
    Conflict,
    IdentificationFailed,
    PasswordRejected,
    TooManyMails,
)
from .extensions import services
from .identification import check_credentials


def pending_backup_mail(account: Account) -> str | None:
    """The address the user asked to switch to, waiting for its link to be used."""
    return services().redis.get(pending_change_key(account.dn))


def check_current_password(account: Account, password: str, event: str) -> None:
    """IdentificationFailed unless ``password`` is the account's; Throttled if held back.

    A wrong password counts as a failed identification of the login, like at the CAS, so
    someone who found a session open cannot try passwords here faster than there.
    """
    devices.remember(account.dn)  # logged in through CAS: this browser has its own bucket
    try:
        found = check_credentials(account.login, password, frozenset({AccountState.ACTIVE}))
    except IdentificationFailed:
        audit.event(event, account.login, "failed", reason="current-password")
        raise
    if found.dn != account.dn:  # the login names another entry now
        audit.event(event, account.login, "failed", reason="other-entry")
        raise IdentificationFailed()


def request_backup_change(account: Account, current: str, address: str) -> None:
    """Mail a link to ``address``; the current address stays in force until it is used.

    The verified address in place hears of the request. At most RESENDS_PER_DAY such mails
    per account and per address (TooManyMails: nothing is sent).
    """
    check_current_password(account, current, "backup-change-requested")
    if not within_mail_limit(account.dn, address):
        audit.event("backup-change-requested", account.login, "limited")
        raise TooManyMails()
    hours = current_app.config["MAIL_VALIDATION_HOURS"]
    pipe = services().redis.pipeline()
    send_validation(account.dn, account.login, address, previous=account.backup_mail, pipe=pipe)
    pipe.set(pending_change_key(account.dn), address, ex=hours * 3600)
    if account.backup_verified:
        notice = mails.backup_change_requested_mail(
            account.backup_mail, login=account.login, new=address
        )
        mails.queue(notice, pipe=pipe)
    pipe.execute()
    audit.event("backup-change-requested", account.login, "ok")


def set_forwarding(account: Account, current: str, wish: bool) -> None:
    """The forwarding wish; the verified address hears when forwarding starts or stops."""
    check_current_password(account, current, "forwarding")
    try:
        services().directory.set_forwarding(account, wish)
    except Conflict:
        audit.event("forwarding", account.login, "conflict")
        raise
    if wish != account.forward and account.backup_verified and account.backup_mail:
        notice = mails.forwarding_changed_mail(
            account.backup_mail, login=account.login, forwarding=wish
        )
        mails.queue(notice)
    audit.event("forwarding", account.login, "on" if wish else "off")


def change_password(account: Account, current: str, new: str) -> None:
    """Check the current password by bind, then write the new one (serialized per account)."""
    s = services()
    check_current_password(account, current, "password-change")
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
