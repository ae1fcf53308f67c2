"""« Activer mon compte » and « Mon compte a été réinitialisé »: what each step does.

Identification starts the flow the account needs (with the provisional password, or, for a
federated user, from a CAS ticket); the CGU and addresses steps keep the user's choices; the
last step makes the final write (one guarded Modify) -- the password step, or, for a
federated user who has none, the last choice -- then queues the validation mail and the
notices, each at most once. Views call these functions; they raise the exceptions of
``ent_idp.errors``.
"""

from __future__ import annotations

from .. import audit, cas
from ..core import flows
from ..core.flows import Flow, Kind, ent_of
from ..core.identification import ALL_STATES, check_credentials
from ..core.notices import notify_password_change, send_validation
from ..core.resources import resources
from ..directory import Account, AccountState, PasswordCheck
from ..errors import (
    AccountBusy,
    AccountNotFound,
    Conflict,
    DirectoryUnavailable,
    IdentificationFailed,
    NothingToDo,
    PasswordRejected,
    WriteUnconfirmed,
)
from ..settings import Ent

# The states each flow binds for; any other account gets the decoy bind and the generic
# answer (an active account on « Activer mon compte » included: its password is not checked).
COMPLETING = frozenset({AccountState.PENDING, AccountState.RESET})


def identify(ent: Ent, kind: Kind, login: str, password: str, service: str) -> Flow:
    """Check the login and password; start the flow the account needs, on ``ent``.

    « Activer mon compte » and « Mon compte a été réinitialisé » take any pending or reset
    account (users click the wrong link); the CGU flow takes active accounts whose accepted
    version is not the current one, and sends pending or reset ones to their own flow.
    """
    states = ALL_STATES if kind is Kind.CGU else COMPLETING
    account, profile = check_credentials(ent, login, password, states, flow=kind.value)
    asked = kind.value
    if kind is Kind.CGU and account.needs_completion:
        kind = Kind.completing(account)
    elif kind is Kind.CGU and resources().charter(ent).accepted_by(account):
        audit.event("identification", login, "failed", flow=asked, reason="nothing-to-do")
        raise NothingToDo()
    audit.event("identification", login, "ok", flow=asked, started=kind.value, profile=profile.name)
    return flows.start(kind, account, service, ent, profile)


def identify_federated(ent: Ent, ticket: str, here: str, service: str) -> Flow:
    """The flow a federated user needs, started from the CAS ticket ``here`` was given.

    CAS (python-cas, CAS 3, the service checked) proved who they are: it stands for the
    provisional password they do not have. Only an account of a federated profile is taken
    (IdentificationFailed otherwise: a local account identifies with its password); one with
    nothing to do raises NothingToDo. Raises cas.CasUnavailable when CAS does not answer.
    """
    r = resources()
    found = cas.validate_ticket(ent.cas.url, here, ticket, ent.cas.timeout)
    if found is None:
        audit.event("identification", "", "failed", reason="invalid-ticket", via="cas")
        raise IdentificationFailed()
    login = found[0]
    try:
        account = r.directory.find(login)
    except AccountNotFound:
        account = None
    profile = r.directory.user_profile(account.dn) if account else None
    if account is None or profile is None or not profile.federated:
        audit.event("identification", login, "failed", reason="not-federated", via="cas")
        raise IdentificationFailed()
    if not ent.admits(account.domains):
        audit.event("identification", login, "failed", reason="other-ent", via="cas")
        raise IdentificationFailed()
    if account.needs_completion:
        kind = Kind.completing(account)
    elif account.state == AccountState.ACTIVE and not r.charter(ent).accepted_by(account):
        kind = Kind.CGU
    else:
        audit.event("identification", login, "failed", reason="nothing-to-do", via="cas")
        raise NothingToDo()
    audit.event("identification", login, "ok", flow=kind.value, profile=profile.name, via="cas")
    return flows.start(kind, account, service, ent, profile)


def accept_cgu(flow: Flow) -> None:
    """The CGU step of an activation: kept on the flow (written with the rest at the end)."""
    flows.update(flow, cgu_accepted=True)


def choose_mails(flow: Flow, backup_mail: str, forward: bool) -> None:
    flows.update(flow, backup_mail=backup_mail, forward=forward, mails_done=True)


def skip_mails(flow: Flow) -> None:
    """« Plus tard »: the backup address stays as it is (none, or the one the account has)."""
    account = flow.account
    flows.update(
        flow,
        backup_mail=account.backup_mail,
        forward=account.forward,
        mails_done=True,
        mails_skipped=True,
    )


def complete(flow: Flow, password: str | None) -> None:
    """The final write, then the validation mail and the notices; each at most once.

    A fault may leave the directory written and the flow not told (the Modify's answer lost,
    Redis down right after it): the flow then carries ``write_pending``, and when the user
    submits again and the directory refuses, we look whether it holds this user's own write
    (the account active with the password just submitted). If so the flow finishes as a
    success, so no one reads « déjà traité » about their own activation. ``password`` is
    None for a federated account, which has none here.
    """
    login = flow.account.login
    with resources().store.locks.hold(flow.account.dn, flow_id=flow.id) as acquired:
        if not acquired:
            raise AccountBusy(flow.account.dn)
        try:
            _write(flow, password)
        except Conflict as exc:
            if flows.is_completed(flow):
                return  # a double submit: the other request finished the flow meanwhile
            maybe_ours = isinstance(exc, WriteUnconfirmed) or flow.write_pending
            account = _holding_own_write(flow, password) if maybe_ours else None
            if account is None:
                flows.update(flow, write_pending=False)
                audit.event(flow.kind, login, "conflict")
                raise
            audit.event(flow.kind, login, "ok", recovered=True, **_accepted(flow))
            _finish(flow, account)
            return
        except PasswordRejected as exc:
            flows.update(flow, write_pending=False)
            audit.event(flow.kind, login, "password-rejected", reason=exc.reason)
            raise
        except (AccountNotFound, DirectoryUnavailable):
            audit.event(flow.kind, login, "unavailable")
            raise
        audit.event(flow.kind, login, "ok", **_accepted(flow))
        _finish(flow)


def _accepted(flow: Flow) -> dict[str, str]:
    """The CGU version the final write recorded, when the user accepted it in this flow."""
    charter = resources().charter(ent_of(flow))
    if flow.cgu_accepted and not charter.accepted_by(flow.account):
        return {"cgu_version": charter.version}
    return {}


def _write(flow: Flow, password: str | None) -> None:
    r = resources()
    r.directory.complete(
        flow.account,
        password=password,
        charter=r.charter(ent_of(flow)) if flow.cgu_accepted else None,
        backup_mail=None if flow.mails_skipped else flow.backup_mail,
        forward=flow.forward,
    )


def _holding_own_write(flow: Flow, password: str | None) -> Account | None:
    """The account, if it is active with ``password``: the write was this flow's own.

    One bind on the bind-only connections, only after a fault left the outcome unknown. A
    federated account (no password) is ours if it is active with the CGU accepted.
    """
    r = resources()
    if password is not None:
        if r.directory.check_password(flow.account.dn, password) is not PasswordCheck.OK:
            return None
    account = r.directory.get(flow.account.dn)
    if account.state != AccountState.ACTIVE:
        return None
    return account if password is not None or r.charter(ent_of(flow)).accepted_by(account) else None


def _finish(flow: Flow, account: Account | None = None) -> None:
    """Queue the validation mail and the notice, and mark the flow completed: one transaction.

    ``account``: the account as read after a fault, whose address decides whether the
    validation mail is still due.
    """
    needs_validation = flow.backup_needs_validation()
    if account is not None:
        needs_validation = needs_validation and _still_unverified(account, flow.backup_mail)
    read, ent = flow.account, ent_of(flow)
    with resources().store.transaction():
        if needs_validation:
            send_validation(ent, read.dn, read.login, flow.backup_mail)
        if read.backup_verified and not flow.federated:
            # A reset account's verified address hears that its password changed.
            notify_password_change(ent, read.backup_mail, read.login)
        flows.update(flow, completed=True, validation_sent=needs_validation, write_pending=False)


def _still_unverified(account: Account, address: str) -> bool:
    return account.backup_mail.lower() == address.lower() and not account.backup_verified
