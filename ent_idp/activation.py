"""What each step of « Activer mon compte » and « Mon compte a été réinitialisé » does.

Views call these functions; they use the directory, the flow store, tokens and the mail
queue, and raise the exceptions of ``ent_idp.exceptions``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from enum import StrEnum

from flask import current_app

from . import audit, mails
from .directory import Account, AccountState, PasswordCheck
from .exceptions import (
    AccountBusy,
    AccountNotFound,
    Conflict,
    DirectoryUnavailable,
    NothingToDo,
    PasswordRejected,
    WriteUnconfirmed,
)
from .extensions import services
from .flows import Flow, Kind
from .identification import ALL_STATES, check_credentials
from .tokens import TokenRecord, TokenStatus
from .urls import public_url_for

VALIDATION = "validate-backup-mail"


# The states each flow binds for; any other account gets the decoy bind and the generic
# answer (an active account on « Activer mon compte » included: its password is not checked).
COMPLETING = frozenset({AccountState.PENDING, AccountState.RESET})


def identify(kind: Kind, login: str, password: str, service: str) -> Flow:
    """Check the login and password; start the flow the account needs.

    « Activer mon compte » and « Mon compte a été réinitialisé » take any pending or reset
    account (users click the wrong link); the CGU flow takes active accounts whose accepted
    version is not the current one, and sends pending or reset ones to their own flow.
    """
    s = services()
    account = check_credentials(login, password, ALL_STATES if kind is Kind.CGU else COMPLETING)
    current_cgu = current_app.config["CGU_VERSION"]
    if kind is Kind.CGU and account.needs_completion:
        kind = Kind.completing(account)
    elif kind is Kind.CGU and account.cgu_version == current_cgu:
        audit.event("identification", login, "failed", reason="nothing-to-do")
        raise NothingToDo()
    audit.event("identification", login, "ok", flow=kind.value)
    return s.flows.start(kind, account, service, current_cgu)


def flow_needed(login: str) -> Kind | None:
    """Which flow an account must go through before using the ENT, if any (for CAS)."""
    try:
        account = services().directory.find(login)
    except AccountNotFound:
        return None
    if account.needs_completion:
        return Kind.completing(account)
    if account.cgu_version != current_app.config["CGU_VERSION"]:
        return Kind.CGU
    return None


def start_for(account: Account, service: str) -> Flow | None:
    """A flow for an account already authenticated (by CAS), if it has something to do."""
    current_cgu = current_app.config["CGU_VERSION"]
    if account.needs_completion:
        return None  # completing needs the provisional password: the user identifies
    if account.cgu_version == current_cgu:
        return None
    return services().flows.start(Kind.CGU, account, service, current_cgu)


def accept_cgu(flow: Flow) -> None:
    """Accepting the CGU is a step of activation; in the CGU flow it is the write itself."""
    s = services()
    if flow.kind != Kind.CGU:
        s.flows.update(flow, cgu_accepted=True)
        return
    version = current_app.config["CGU_VERSION"]
    try:
        s.directory.accept_cgu(flow.account(), version)
    except Conflict:
        audit.event("cgu", flow.login, "conflict")
        raise
    audit.event("cgu", flow.login, "ok", version=version)
    s.flows.update(flow, cgu_accepted=True, completed=True)


def choose_mails(flow: Flow, backup_mail: str, forward: bool) -> None:
    services().flows.update(flow, backup_mail=backup_mail, forward=forward, mails_done=True)


def complete(flow: Flow, password: str) -> None:
    """The final write, then the validation mail and the notices; each at most once.

    A fault may leave the directory written and the flow not told (the Modify's answer lost,
    Redis down right after it): the flow then carries ``write_pending``, and when the user
    submits again and the directory refuses, we look whether it holds this user's own write
    (the account active with the password just submitted). If so the flow finishes as a
    success, so no one reads « déjà traité » about their own activation.
    """
    s = services()
    with s.flows.account_lock(flow.dn, writing=flow) as acquired:
        if not acquired:
            raise AccountBusy(flow.dn)
        try:
            _write(flow, password)
        except Conflict as exc:
            if s.flows.is_completed(flow):
                return  # a double submit: the other request finished the flow meanwhile
            maybe_ours = isinstance(exc, WriteUnconfirmed) or flow.write_pending
            account = _holding_own_write(flow, password) if maybe_ours else None
            if account is None:
                s.flows.update(flow, write_pending=False)
                audit.event(flow.kind, flow.login, "conflict")
                raise
            audit.event(flow.kind, flow.login, "ok", recovered=True)
            _finish(flow, account)
            return
        except PasswordRejected as exc:
            s.flows.update(flow, write_pending=False)
            audit.event(flow.kind, flow.login, "password-rejected", reason=exc.reason)
            raise
        except (AccountNotFound, DirectoryUnavailable):
            audit.event(flow.kind, flow.login, "unavailable")
            raise
        audit.event(flow.kind, flow.login, "ok")
        _finish(flow)


def _write(flow: Flow, password: str) -> None:
    services().directory.complete(
        flow.account(),
        password=password,
        cgu_version=current_app.config["CGU_VERSION"]
        if flow.cgu_accepted
        else flow.stored_cgu_version,
        backup_mail=flow.backup_mail,
        forward=flow.forward,
    )


def _holding_own_write(flow: Flow, password: str) -> Account | None:
    """The account, if it is active with ``password``: the write was this flow's own.

    One bind on the bind-only connections, only after a fault left the outcome unknown.
    """
    s = services()
    if s.directory.check_password(flow.dn, password) is not PasswordCheck.OK:
        return None
    account = s.directory.get(flow.dn)
    return account if account.state == AccountState.ACTIVE else None


def _finish(flow: Flow, account: Account | None = None) -> None:
    """Queue the validation mail and the notice, and mark the flow completed: one transaction.

    ``account``: the account as read after a fault, whose address decides whether the
    validation mail is still due.
    """
    s = services()
    needs_validation = flow.backup_needs_validation()
    if account is not None:
        needs_validation = needs_validation and _still_unverified(account, flow.backup_mail)
    pipe = s.redis.pipeline()
    if needs_validation:
        send_validation(flow.dn, flow.login, flow.backup_mail, pipe=pipe)
    if flow.stored_backup_verified:
        # A reset account's verified address hears that its password changed.
        notify_password_change(flow.stored_backup_mail, flow.login, pipe=pipe)
    s.flows.update(
        flow, pipe=pipe, completed=True, validation_sent=needs_validation, write_pending=False
    )
    pipe.execute()


def _still_unverified(account: Account, address: str) -> bool:
    return account.backup_mail.lower() == address.lower() and not account.backup_verified


def send_validation(
    dn: str, login: str, address: str, previous: str | None = None, pipe=None
) -> None:
    """Issue a validation token and queue the mail carrying its link.

    With ``previous`` the link confirms a change of backup address: until it is used,
    ``previous`` stays the account's address.
    """
    s = services()
    hours = current_app.config["MAIL_VALIDATION_HOURS"]
    token = s.tokens.issue(
        VALIDATION,
        dn=dn,
        address=address,
        login=login,
        lifetime=hours * 3600,
        previous=previous,
        pipe=pipe,
    )
    link = public_url_for("validation.confirm", token=token)
    mails.queue(mails.validation_mail(address, link=link, login=login, hours=hours), pipe=pipe)


RESENDS_PER_DAY = 5  # per account, and as many per address


def within_mail_limit(dn: str, address: str) -> bool:
    """Count one more validation mail asked for by hand (a new link, a change of address in
    « Mon compte »); False once the account or the address is past RESENDS_PER_DAY."""
    s = services()
    pipe = s.redis.pipeline()
    for scope in (dn, address.lower()):
        counter = f"{s.flows.prefix}:resend:{hashlib.sha256(scope.encode()).hexdigest()}"
        pipe.incr(counter).expire(counter, 24 * 3600, nx=True)
    per_account, _, per_address, _ = pipe.execute()
    return max(per_account, per_address) <= RESENDS_PER_DAY


def notify_password_change(address: str, login: str, pipe=None) -> None:
    """Tell the verified backup address, so a change the user did not make gets noticed."""
    mails.queue(mails.password_changed_mail(address, login=login), pipe=pipe)


def confirm_backup_mail(token: str) -> TokenRecord:
    """Use a validation link: the address becomes verified, forwarding starts if asked.

    A link confirming a change of address tells the verified address it replaces.
    """
    s = services()
    record = s.tokens.consume(token, VALIDATION)
    if record.status is not TokenStatus.VALID:
        return record
    replaced = None
    try:
        if record.previous is None:
            forwarding = s.directory.confirm_backup_mail(record.dn, record.address)
        else:
            before = s.directory.replace_backup_mail(record.dn, record.previous, record.address)
            forwarding, replaced = before.forward, before
            s.redis.delete(pending_change_key(record.dn))
    except (Conflict, AccountNotFound):
        audit.event("verification", record.login, "stale-address")
        return dataclasses.replace(record, status=TokenStatus.SUPERSEDED)
    except DirectoryUnavailable:
        s.tokens.release(token)  # nothing happened: the same link must work later
        raise
    if replaced is not None and replaced.backup_verified:
        notice = mails.backup_replaced_mail(
            replaced.backup_mail, login=record.login, new=record.address
        )
        mails.queue(notice)
    audit.event("verification", record.login, "ok", forwarding=forwarding)
    return record


class Resend(StrEnum):
    """What « Recevoir un nouveau lien » did."""

    SENT = "sent"
    STILL_VALID = "still-valid"
    USED = "used"
    SUPERSEDED = "superseded"
    VOIDED = "voided"
    ADDRESS_CHANGED = "address-changed"
    ALREADY_VERIFIED = "already-verified"
    LIMITED = "limited"
    UNKNOWN = "unknown"


def resend_validation(token: str) -> Resend:
    """A new link in place of an expired one, if that one is still the account's latest.

    A used, superseded (a newer link, or the address changed) or voided (an admin reset)
    link gets no new one: its page points to the newest mail or to « Mon compte ».
    """
    s = services()
    record = s.tokens.peek(token, VALIDATION)
    if record.status is TokenStatus.UNKNOWN:
        return Resend.UNKNOWN
    if record.status is TokenStatus.VALID:
        return Resend.STILL_VALID
    if record.status is not TokenStatus.EXPIRED:
        return Resend(record.status.value)
    try:
        account = s.directory.get(record.dn)
    except AccountNotFound:
        return Resend.VOIDED
    in_place = record.address if record.previous is None else record.previous
    if account.needs_completion:
        return Resend.VOIDED
    if account.backup_mail.lower() != in_place.lower():
        return Resend.ADDRESS_CHANGED
    if record.previous is None and account.backup_verified:
        return Resend.ALREADY_VERIFIED
    if not within_mail_limit(record.dn, record.address):
        audit.event("validation-resend", record.login, "limited")
        return Resend.LIMITED
    pipe = s.redis.pipeline()
    send_validation(record.dn, record.login, record.address, previous=record.previous, pipe=pipe)
    if record.previous is not None:  # « Mon compte » shows the change as waiting again
        hours = current_app.config["MAIL_VALIDATION_HOURS"]
        pipe.set(pending_change_key(record.dn), record.address, ex=hours * 3600)
    pipe.execute()
    audit.event("validation-resend", record.login, "ok")
    return Resend.SENT


def resend_for_flow(flow: Flow) -> Resend:
    """From « Compte activé »: the validation mail again (it may never have arrived)."""
    s = services()
    if not (flow.completed and flow.validation_sent):
        return Resend.UNKNOWN
    try:
        account = s.directory.get(flow.dn)
    except AccountNotFound:
        return Resend.VOIDED
    if account.needs_completion:
        return Resend.VOIDED
    if account.backup_mail.lower() != flow.backup_mail.lower():
        return Resend.ADDRESS_CHANGED
    if account.backup_verified:
        return Resend.ALREADY_VERIFIED
    if not within_mail_limit(flow.dn, flow.backup_mail):
        audit.event("validation-resend", flow.login, "limited")
        return Resend.LIMITED
    send_validation(flow.dn, flow.login, flow.backup_mail)
    audit.event("validation-resend", flow.login, "ok", source="flow")
    return Resend.SENT


def peek_validation(token: str) -> TokenRecord:
    return services().tokens.peek(token, VALIDATION)


def pending_change_key(dn: str) -> str:
    """Where the address a user asked to switch to waits for its link to be used."""
    return f"{services().flows.prefix}:pending-backup:{hashlib.sha256(dn.encode()).hexdigest()}"
