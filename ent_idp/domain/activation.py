"""« Activer mon compte » and « Mon compte a été réinitialisé »: what each step does.

Identification starts the flow the account needs; the addresses step keeps the user's
choice; the password step makes the final write (one guarded Modify), then queues the
validation mail and the notices, each at most once. Views call these functions; they raise
the exceptions of ``ent_idp.errors``.
"""

from __future__ import annotations

from .. import audit
from ..core import flows
from ..core.flows import Flow, Kind
from ..core.identification import ALL_STATES, check_credentials
from ..core.notices import notify_password_change, send_validation
from ..core.resources import resources
from ..directory import Account, AccountState, PasswordCheck
from ..errors import (
    AccountBusy,
    AccountNotFound,
    Conflict,
    DirectoryUnavailable,
    NothingToDo,
    PasswordRejected,
    WriteUnconfirmed,
)

# The states each flow binds for; any other account gets the decoy bind and the generic
# answer (an active account on « Activer mon compte » included: its password is not checked).
COMPLETING = frozenset({AccountState.PENDING, AccountState.RESET})


def identify(kind: Kind, login: str, password: str, service: str) -> Flow:
    """Check the login and password; start the flow the account needs.

    « Activer mon compte » and « Mon compte a été réinitialisé » take any pending or reset
    account (users click the wrong link); the CGU flow takes active accounts whose accepted
    version is not the current one, and sends pending or reset ones to their own flow.
    """
    states = ALL_STATES if kind is Kind.CGU else COMPLETING
    account = check_credentials(login, password, states, flow=kind.value)
    asked = kind.value
    if kind is Kind.CGU and account.needs_completion:
        kind = Kind.completing(account)
    elif kind is Kind.CGU and account.cgu_version == resources().settings.cgu.version:
        audit.event("identification", login, "failed", flow=asked, reason="nothing-to-do")
        raise NothingToDo()
    audit.event("identification", login, "ok", flow=asked, started=kind.value)
    return flows.start(kind, account, service)


def choose_mails(flow: Flow, backup_mail: str, forward: bool) -> None:
    flows.update(flow, backup_mail=backup_mail, forward=forward, mails_done=True)


def complete(flow: Flow, password: str) -> None:
    """The final write, then the validation mail and the notices; each at most once.

    A fault may leave the directory written and the flow not told (the Modify's answer lost,
    Redis down right after it): the flow then carries ``write_pending``, and when the user
    submits again and the directory refuses, we look whether it holds this user's own write
    (the account active with the password just submitted). If so the flow finishes as a
    success, so no one reads « déjà traité » about their own activation.
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
    version = resources().settings.cgu.version
    if flow.cgu_accepted and flow.account.cgu_version != version:
        return {"cgu_version": version}
    return {}


def _write(flow: Flow, password: str) -> None:
    current_cgu = resources().settings.cgu.version
    resources().directory.complete(
        flow.account,
        password=password,
        cgu_version=current_cgu if flow.cgu_accepted else flow.account.cgu_version,
        backup_mail=flow.backup_mail,
        forward=flow.forward,
    )


def _holding_own_write(flow: Flow, password: str) -> Account | None:
    """The account, if it is active with ``password``: the write was this flow's own.

    One bind on the bind-only connections, only after a fault left the outcome unknown.
    """
    directory = resources().directory
    if directory.check_password(flow.account.dn, password) is not PasswordCheck.OK:
        return None
    account = directory.get(flow.account.dn)
    return account if account.state == AccountState.ACTIVE else None


def _finish(flow: Flow, account: Account | None = None) -> None:
    """Queue the validation mail and the notice, and mark the flow completed: one transaction.

    ``account``: the account as read after a fault, whose address decides whether the
    validation mail is still due.
    """
    needs_validation = flow.backup_needs_validation()
    if account is not None:
        needs_validation = needs_validation and _still_unverified(account, flow.backup_mail)
    read = flow.account
    with resources().store.transaction():
        if needs_validation:
            send_validation(read.dn, read.login, flow.backup_mail)
        if read.backup_verified:
            # A reset account's verified address hears that its password changed.
            notify_password_change(read.backup_mail, read.login)
        flows.update(flow, completed=True, validation_sent=needs_validation, write_pending=False)


def _still_unverified(account: Account, address: str) -> bool:
    return account.backup_mail.lower() == address.lower() and not account.backup_verified
