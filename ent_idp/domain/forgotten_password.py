"""« Mot de passe oublié »: a short-lived link to the verified backup address, then a new password.

A request only queues the login (``ent_idp.core.links``), so the page, its status and its
timing are the same whether the account exists, has a verified address or not; the mail
worker looks the account up and sends the link. Federated users (ÉduConnect) get none: their
password is the federation's, and the page points every visitor there. Following the link
(GET shows a button, POST uses it) starts a small flow whose one step is the new password,
written like every password: one Modify guarded by an assertion, under the per-account
lock, hashed and policy-checked by the server.
"""

from __future__ import annotations

from .. import audit, mails
from ..core import flows
from ..core.flows import Flow, Kind
from ..core.links import MailedLink
from ..core.notices import notify_password_change
from ..core.passwords import write_password
from ..core.resources import resources
from ..directory import Account, AccountState
from ..settings import Ent
from ..store import TokenPurpose, TokenRecord


def _eligible(account: Account) -> bool:
    """An active account with a password of ours: a federated user's is the federation's
    (the page points them there; a link would give them a second password here)."""
    if account.state != AccountState.ACTIVE:
        return False
    profile = resources().directory.user_profile(account.dn)
    return profile is not None and not profile.federated


LINK = MailedLink(
    name="recovery",
    purpose=TokenPurpose.FORGOTTEN_PASSWORD,
    endpoint="recovery.link",
    mail=mails.forgotten_password_mail,
    eligible=_eligible,
    queue=lambda: resources().store.recovery_requests,
)
PURPOSE = LINK.purpose
request_link = LINK.request
process_requests = LINK.process
peek = LINK.peek


def open_link(ent: Ent, token: str) -> Flow | TokenRecord:
    """Use the link (opened on ``ent``): a flow for the new password, or the record saying
    why not."""
    record, account = LINK.use(ent, token)
    if account is None:
        return record
    return flows.start(Kind.FORGOTTEN_PASSWORD, account, ent.cas.default_service, ent)


def choose_password(flow: Flow, password: str) -> None:
    account = flow.account

    def finish() -> None:  # the notice and the flow's end, in one transaction
        with resources().store.transaction():
            notify_password_change(flows.ent_of(flow), account.backup_mail, account.login)
            flows.update(flow, completed=True)

    write_password(account, password, "password-reset", then=finish)
    audit.event("password-reset", account.login, "ok")
