"""« Mon compte »: backup address, forwarding, password, for a CAS-authenticated user.

Sessions live in the store, so that CAS single logout can end them. A session found open is
not the user: every change asks for the current password (checked by bind, through the same
throttle as identification) and is told to the verified backup address in place, which can
then ask the school for help. The same directory write rules as activation apply: one
Modify guarded by an assertion, passwords hashed and policy-checked by the server,
forwarding only to a verified address.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .. import audit, cas, mails
from ..core import devices
from ..core.flows import Flow, Kind, start_cgu_if_due
from ..core.identification import check_credentials
from ..core.notices import notify_password_change, queue, send_validation, within_mail_limit
from ..core.passwords import write_password
from ..core.resources import resources
from ..directory import Account, AccountState
from ..errors import AccountNotFound, Conflict, IdentificationFailed, TooManyMails
from ..settings import Ent


class Gate(StrEnum):
    """What a request to « Mon compte » meets before the page."""

    SIGNED_OUT = "signed-out"  # no session, or it ended: to CAS
    GONE = "gone"  # the account is gone: the session ends, 403
    TO_COMPLETE = "to-complete"  # pending or reset: its flow first
    FLOW = "flow"  # a flow started for them: a new version of the CGU to accept
    OPEN = "open"


@dataclass(frozen=True)
class Visit:
    gate: Gate
    account: Account | None = None
    kind: Kind | None = None  # TO_COMPLETE: the flow to go through
    flow: Flow | None = None  # FLOW: the flow started
    federated: bool = False  # their password is the federation's: they activate through CAS


def visit(ent: Ent, sid: str | None, here: str) -> Visit:
    """The account behind the session ``sid``, or what stands before it, on ``ent``.

    A federated account to complete has no provisional password: it activates through CAS
    (``Visit.federated``), where the user is logged in already.
    """
    r = resources()
    login = r.store.sessions.login_for(sid)
    if login is None:
        return Visit(Gate.SIGNED_OUT)
    try:
        account = r.directory.find(login)
    except AccountNotFound:
        r.store.sessions.close(sid)
        return Visit(Gate.GONE)
    profile = r.directory.user_profile(account.dn)
    federated = bool(profile and profile.federated)
    if account.needs_completion:
        kind = Kind.completing(account)
        return Visit(Gate.TO_COMPLETE, account, kind=kind, federated=federated)
    flow = start_cgu_if_due(account, here, ent, profile)
    if flow is not None:
        return Visit(Gate.FLOW, account, flow=flow)
    return Visit(Gate.OPEN, account, federated=federated)


def sign_in(ent: Ent, ticket: str, here: str) -> str | None:
    """A session for the user ``ent``'s CAS validated ``ticket`` for; None for an invalid
    ticket, or an account of another ENT (its domains, where the directory lists them).

    Raises cas.CasUnavailable when CAS does not answer.
    """
    r = resources()
    found = cas.validate_ticket(ent.cas.url, here, ticket, ent.cas.timeout)
    if found is None:
        audit.event("account-login", "", "invalid-ticket")
        return None
    login, _attributes = found
    if not _of(ent, login):
        audit.event("account-login", login, "other-ent")
        return None
    sid = r.store.sessions.open(login, ticket)
    audit.event("account-login", login, "ok")
    return sid


def _of(ent: Ent, login: str) -> bool:
    """Whether ``login``'s account may use ``ent`` (an unknown one: « Mon compte » says so)."""
    try:
        return ent.admits(resources().directory.find(login).domains)
    except AccountNotFound:
        return True


def sign_out(sid: str | None) -> None:
    resources().store.sessions.close(sid)


def single_logout(peer: str | None, logout_request: str) -> bool:
    """CAS single logout, only from the CAS server: anyone who saw a ticket (in a log, a
    Referer) must not be able to end that user's session. False: not from CAS."""
    r = resources()
    if not cas.comes_from(peer, r.cas_logout_networks):
        audit.event("account-logout", "", "refused", reason="not-from-cas")
        return False
    ticket = cas.logged_out_ticket(logout_request)
    if ticket and r.store.sessions.close_by_ticket(ticket):
        audit.event("account-logout", "", "single-logout")
    return True


def pending_backup_mail(account: Account) -> str | None:
    """The address the user asked to switch to, waiting for its link to be used."""
    return resources().store.pending_addresses.get(account.dn)


def check_current_password(ent: Ent, account: Account, password: str, event: str) -> None:
    """IdentificationFailed unless ``password`` is the account's; Throttled if held back.

    A wrong password counts as a failed identification of the login, like at the CAS, so
    someone who found a session open cannot try passwords here faster than there.
    """
    devices.remember(account.dn)  # logged in through CAS: this browser has its own bucket
    try:
        found, _ = check_credentials(
            ent, account.login, password, frozenset({AccountState.ACTIVE}), flow="compte"
        )
    except IdentificationFailed:
        audit.event(event, account.login, "failed", reason="current-password")
        raise
    if found.dn != account.dn:  # the login names another entry now
        audit.event(event, account.login, "failed", reason="other-entry")
        raise IdentificationFailed()
    audit.event("identification", account.login, "ok", flow="compte")


def request_backup_change(ent: Ent, account: Account, current: str, address: str) -> None:
    """Mail a link to ``address``; the current address stays in force until it is used.

    The verified address in place hears of the request. At most ``notices.RESENDS`` such
    mails per account and per address (TooManyMails: nothing is sent).
    """
    check_current_password(ent, account, current, "backup-change-requested")
    if not within_mail_limit(account.dn, address):
        audit.event("backup-change-requested", account.login, "limited")
        raise TooManyMails()
    with resources().store.transaction():
        send_validation(ent, account.dn, account.login, address, previous=account.backup_mail)
        if account.backup_verified:
            queue(
                mails.backup_change_requested_mail(
                    ent, account.backup_mail, login=account.login, new=address
                )
            )
    audit.event("backup-change-requested", account.login, "ok")


def set_forwarding(ent: Ent, account: Account, current: str, wish: bool) -> None:
    """The forwarding wish; the verified address hears when forwarding starts or stops."""
    check_current_password(ent, account, current, "forwarding")
    try:
        resources().directory.set_forwarding(account, wish)
    except Conflict:
        audit.event("forwarding", account.login, "conflict")
        raise
    if wish != account.forward and account.backup_verified and account.backup_mail:
        queue(
            mails.forwarding_changed_mail(
                ent, account.backup_mail, login=account.login, forwarding=wish
            )
        )
    audit.event("forwarding", account.login, "on" if wish else "off")


def change_password(ent: Ent, account: Account, current: str, new: str) -> None:
    """Check the current password by bind, then write the new one (serialized per account)."""
    check_current_password(ent, account, current, "password-change")
    write_password(account, new, "password-change")
    if account.backup_verified:
        notify_password_change(ent, account.backup_mail, account.login)
    audit.event("password-change", account.login, "ok")
