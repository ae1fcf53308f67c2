"""« Débloquer mon compte »: a link to the verified backup address frees this browser.

Anyone who knows a login can spend its failures on purpose and hold its owner back for up
to a day. The owner proves they hold the verified backup address: a short-lived,
single-use link mailed there (asked for like « Mot de passe oublié »: the page, its status
and the work done on the request are the same whoever asks; the mail worker looks the
account up) sets, on the browser that opens it, the device cookie of the entry
(``ent_idp.core.devices``). That browser's attempts are then counted in a bucket of their
own. Nothing else changes: the password is still checked, by the same rule.
"""

from __future__ import annotations

from .. import audit, mails
from ..core import devices, links, requests
from ..core.flows import Kind
from ..core.notices import send_link
from ..core.resources import resources
from ..errors import AccountNotFound
from ..store import TokenPurpose, TokenRecord

PURPOSE = TokenPurpose.UNLOCK


def request_link(login: str) -> None:
    """Queue the request; the mail worker decides whether a link goes out."""
    requests.ask(resources().store.unlock_requests, "unlock-request", login)


def process_requests(most: int = 100) -> int:
    """Handle queued requests (the mail worker's job); returns how many were handled."""
    return requests.process(resources().store.unlock_requests, "unlock-request", _send, most)


def _send(login: str) -> None:
    try:
        account = resources().directory.find(login)
    except AccountNotFound:
        audit.event("unlock-link", login, "unknown")
        return
    if not account.backup_verified or not account.backup_mail:
        audit.event("unlock-link", login, "no-verified-address")
        return
    if not requests.within_link_limit("unlock-link", account.dn):
        audit.event("unlock-link", login, "limited")
        return
    send_link(PURPOSE, account, "unlock.link", mails.unlock_mail)
    audit.event("unlock-link", login, "sent")


def peek(token: str) -> TokenRecord:
    return links.peek(token, PURPOSE)


def open_link(token: str) -> tuple[TokenRecord, Kind | None]:
    """Use the link: this browser gets the entry's device cookie.

    Returns the record (its status says whether it worked) and the flow the account still
    has to go through, if any.
    """
    record, account = links.use(token, PURPOSE)
    if account is None:
        return record, None
    devices.remember(account.dn)
    audit.event("unlock-link", account.login, "used")
    return record, Kind.completing(account) if account.needs_completion else None
