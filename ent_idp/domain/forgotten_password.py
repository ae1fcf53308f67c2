"""« Mot de passe oublié »: a short-lived link to the verified backup address, then a new password.

A request only queues the login (``ent_idp.core.requests``), so the page, its status and its
timing are the same whether the account exists, has a verified address or not; the mail
worker looks the account up and sends the link. Following the link (GET shows a button,
POST uses it) starts a small flow whose one step is the new password, written like every
password: one Modify guarded by an assertion, under the per-account lock, hashed and
policy-checked by the server.
"""

from __future__ import annotations

from .. import audit, mails
from ..core import flows, links, requests
from ..core.flows import Flow, Kind
from ..core.notices import notify_password_change, send_link
from ..core.resources import resources
from ..directory import AccountState
from ..errors import AccountBusy, AccountNotFound, Conflict, PasswordRejected
from ..store import TokenPurpose, TokenRecord

PURPOSE = TokenPurpose.FORGOTTEN_PASSWORD


def request_link(login: str) -> None:
    """Queue the request; the mail worker decides whether a link goes out."""
    requests.ask(resources().store.recovery_requests, "recovery-request", login)


def process_requests(most: int = 100) -> int:
    """Handle queued requests (the mail worker's job); returns how many were handled."""
    return requests.process(resources().store.recovery_requests, "recovery-request", _send, most)


def _send(login: str) -> None:
    try:
        account = resources().directory.find(login)
    except AccountNotFound:
        audit.event("recovery-link", login, "unknown")
        return
    if account.state != AccountState.ACTIVE or not account.backup_verified:
        audit.event("recovery-link", login, "no-verified-address")
        return
    if not requests.within_link_limit("recovery-link", account.dn):
        audit.event("recovery-link", login, "limited")
        return
    send_link(PURPOSE, account, "recovery.link", mails.password_reset_mail)
    audit.event("recovery-link", login, "sent")


def peek(token: str) -> TokenRecord:
    return links.peek(token, PURPOSE)


def open_link(token: str) -> Flow | TokenRecord:
    """Use the link: a flow for the new password, or the record saying why not."""
    record, account = links.use(token, PURPOSE)
    if account is None:
        return record
    audit.event("recovery-link", account.login, "used")
    return flows.start(Kind.FORGOTTEN_PASSWORD, account, resources().settings.cas.default_service)


def choose_password(flow: Flow, password: str) -> None:
    account = flow.account
    with resources().store.locks.hold(account.dn) as acquired:
        if not acquired:
            raise AccountBusy(account.dn)
        try:
            resources().directory.change_password(account, password)
        except (Conflict, PasswordRejected) as exc:
            audit.event("password-reset", account.login, type(exc).__name__.lower())
            raise
        with resources().store.transaction():
            notify_password_change(account.backup_mail, account.login)
            flows.update(flow, completed=True)
    audit.event("password-reset", account.login, "ok")
