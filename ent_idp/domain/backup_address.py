"""The backup address's validation links: using one, and « Recevoir un nouveau lien ».

A link (``TokenPurpose.VALIDATION``) either verifies the address an activation gave, or
confirms a change asked in « Mon compte » (``previous``: the address it replaces, which stays
in force until then). Only the account's latest link works; an admin reset voids them all.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum

from .. import audit, mails
from ..core.flows import Flow, ent_of
from ..core.notices import queue, send_validation, within_mail_limit
from ..core.resources import resources
from ..directory import Account
from ..errors import AccountNotFound, Conflict, DirectoryUnavailable
from ..settings import Ent
from ..store import TokenPurpose, TokenRecord, TokenStatus


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


def peek(token: str) -> TokenRecord:
    return resources().store.tokens.peek(token, TokenPurpose.VALIDATION)


def confirm(ent: Ent, token: str) -> TokenRecord:
    """Use a validation link: the address becomes verified, forwarding starts if asked.

    A link confirming a change of address tells the verified address it replaces.
    """
    r = resources()
    record = r.store.tokens.consume(token, TokenPurpose.VALIDATION)
    if record.status is not TokenStatus.VALID:
        return record
    replaced = None
    try:
        if record.previous is None:
            forwarding = r.directory.confirm_backup_mail(record.dn, record.address)
        else:
            before = r.directory.replace_backup_mail(record.dn, record.previous, record.address)
            forwarding, replaced = before.forward, before
            r.store.pending_addresses.forget(record.dn)
    except (Conflict, AccountNotFound):
        audit.event("verification", record.login, "stale-address")
        return dataclasses.replace(record, status=TokenStatus.SUPERSEDED)
    except DirectoryUnavailable:
        r.store.tokens.release(token)  # nothing happened: the same link must work later
        raise
    if replaced is not None and replaced.backup_verified:
        queue(
            mails.backup_replaced_mail(
                ent, replaced.backup_mail, login=record.login, new=record.address
            )
        )
    audit.event("verification", record.login, "ok", forwarding=forwarding)
    return record


def resend(ent: Ent, token: str) -> Resend:
    """A new link in place of an expired one, if that one is still the account's latest.

    A used, superseded (a newer link, or the address changed) or voided (an admin reset)
    link gets no new one: its page points to the newest mail or to « Mon compte ».
    """
    record = peek(token)
    if record.status is TokenStatus.UNKNOWN:
        return Resend.UNKNOWN
    if record.status is TokenStatus.VALID:
        return Resend.STILL_VALID
    if record.status is not TokenStatus.EXPIRED:
        return Resend(record.status.value)
    in_place = record.address if record.previous is None else record.previous
    refused = _refusal(record.dn, in_place, record.address, record.previous is None)
    if refused is not None:
        if refused is Resend.LIMITED:
            audit.event("validation-resend", record.login, "limited")
        return refused
    send_validation(ent, record.dn, record.login, record.address, previous=record.previous)
    audit.event("validation-resend", record.login, "ok")
    return Resend.SENT


def resend_for_flow(flow: Flow) -> Resend:
    """From « Compte activé »: the validation mail again (it may never have arrived)."""
    if not (flow.completed and flow.validation_sent):
        return Resend.UNKNOWN
    dn, login = flow.account.dn, flow.account.login
    refused = _refusal(dn, flow.backup_mail, flow.backup_mail, verifying=True)
    if refused is not None:
        if refused is Resend.LIMITED:
            audit.event("validation-resend", login, "limited")
        return refused
    send_validation(ent_of(flow), dn, login, flow.backup_mail)
    audit.event("validation-resend", login, "ok", source="flow")
    return Resend.SENT


def _refusal(dn: str, in_place: str, address: str, verifying: bool) -> Resend | None:
    """Why no new link goes out, if one must not: the account reset or gone, the address in
    place changed, already verified (``verifying``: the link verifies it), or too many."""
    try:
        account: Account = resources().directory.get(dn)
    except AccountNotFound:
        return Resend.VOIDED
    if account.needs_completion:
        return Resend.VOIDED
    if account.backup_mail.lower() != in_place.lower():
        return Resend.ADDRESS_CHANGED
    if verifying and account.backup_verified:
        return Resend.ALREADY_VERIFIED
    if not within_mail_limit(dn, address):
        return Resend.LIMITED
    return None
