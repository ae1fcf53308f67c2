"""What each step of « Activer mon compte » and « Mon compte a été réinitialisé » does.

Views call these functions; they use the directory, the flow store, tokens and the mail
queue, and raise the exceptions of ``ent_idp.exceptions``.
"""

from __future__ import annotations

import dataclasses
import hashlib

from flask import current_app

from . import audit, mails
from .directory import PasswordCheck
from .exceptions import (
    AccountNotFound,
    AlreadyActive,
    Conflict,
    DirectoryUnavailable,
    IdentificationFailed,
    PasswordRejected,
)
from .extensions import services
from .flows import Flow, Kind
from .tokens import TokenRecord, TokenStatus
from .urls import public_url_for

VALIDATION = "validate-backup-mail"


def identify(kind: Kind, login: str, password: str, service: str) -> Flow:
    """Check the login and provisional password; start a flow for a pending or reset account."""
    s = services()
    try:
        account = s.directory.find(login)
    except AccountNotFound:
        audit.event("identification", login, "failed", reason="unknown")
        raise IdentificationFailed() from None
    if s.directory.check_password(account.dn, password) is not PasswordCheck.OK:
        audit.event("identification", login, "failed", reason="password")
        raise IdentificationFailed()
    if not account.needs_completion:
        audit.event("identification", login, "failed", reason="already-active")
        raise AlreadyActive()
    audit.event("identification", login, "ok", flow=kind.value)
    return s.flows.start(kind, account, service, current_app.config["CGU_VERSION"])


def accept_cgu(flow: Flow) -> None:
    services().flows.update(flow, cgu_accepted=True)


def choose_mails(flow: Flow, backup_mail: str, forward: bool) -> None:
    services().flows.update(flow, backup_mail=backup_mail, forward=forward, mails_done=True)


def complete(flow: Flow, password: str) -> None:
    """The final write, then the validation mail; each at most once per account."""
    s = services()
    config = current_app.config
    with s.flows.account_lock(flow.dn) as acquired:
        if not acquired:
            raise Conflict(flow.dn)
        try:
            s.directory.complete(
                flow.account(),
                password=password,
                cgu_version=config["CGU_VERSION"] if flow.cgu_accepted else flow.stored_cgu_version,
                backup_mail=flow.backup_mail,
                forward=flow.forward,
            )
        except Conflict:
            audit.event(flow.kind, flow.login, "conflict")
            raise
        except PasswordRejected as exc:
            audit.event(flow.kind, flow.login, "password-rejected", reason=exc.reason)
            raise
        except (AccountNotFound, DirectoryUnavailable):
            audit.event(flow.kind, flow.login, "unavailable")
            raise
        audit.event(flow.kind, flow.login, "ok")
        pipe = s.redis.pipeline()
        needs_validation = flow.backup_needs_validation()
        if needs_validation:
            send_validation(flow.dn, flow.login, flow.backup_mail, pipe=pipe)
        s.flows.update(flow, pipe=pipe, completed=True, validation_sent=needs_validation)
        pipe.execute()


def send_validation(dn: str, login: str, address: str, pipe=None) -> None:
    """Issue a validation token and queue the mail carrying its link."""
    s = services()
    hours = current_app.config["MAIL_VALIDATION_HOURS"]
    token = s.tokens.issue(
        VALIDATION, dn=dn, address=address, login=login, lifetime=hours * 3600, pipe=pipe
    )
    link = public_url_for("validation.confirm", token=token)
    mails.queue(mails.validation_mail(address, link=link, login=login, hours=hours), pipe=pipe)


RESENDS_PER_DAY = 5


def confirm_backup_mail(token: str) -> TokenRecord:
    """Use a validation link: the address becomes verified, forwarding starts if asked."""
    s = services()
    record = s.tokens.consume(token, VALIDATION)
    if record.status is not TokenStatus.VALID:
        return record
    try:
        forwarding = s.directory.confirm_backup_mail(record.dn, record.address)
    except (Conflict, AccountNotFound):
        audit.event("verification", record.login, "stale-address")
        return dataclasses.replace(record, status=TokenStatus.SUPERSEDED)
    except DirectoryUnavailable:
        s.tokens.release(token)  # nothing happened: the same link must work later
        raise
    audit.event("verification", record.login, "ok", forwarding=forwarding)
    return record


def resend_validation(token: str) -> str:
    """A new link for the address an old one was sent to. Returns what happened."""
    s = services()
    record = s.tokens.peek(token, VALIDATION)
    if record.status is TokenStatus.UNKNOWN:
        return "unknown"
    if record.status is TokenStatus.VALID:
        return "still-valid"
    account = s.directory.get(record.dn)
    if account.backup_mail.lower() != record.address.lower():
        return "address-changed"
    if account.backup_verified:
        return "already-verified"
    counter = f"{s.flows.prefix}:resend:{hashlib.sha256(record.dn.encode()).hexdigest()}"
    pipe = s.redis.pipeline()
    pipe.incr(counter).expire(counter, 24 * 3600, nx=True)
    sent_today, _ = pipe.execute()
    if sent_today > RESENDS_PER_DAY:
        audit.event("validation-resend", record.login, "limited")
        return "limited"
    send_validation(record.dn, record.login, record.address)
    audit.event("validation-resend", record.login, "ok")
    return "sent"


def peek_validation(token: str) -> TokenRecord:
    return services().tokens.peek(token, VALIDATION)
