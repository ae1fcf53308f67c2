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

from .. import mails
from ..core import devices
from ..core.flows import Kind
from ..core.links import MailedLink
from ..core.resources import resources
from ..settings import Ent
from ..store import TokenPurpose, TokenRecord

LINK = MailedLink(
    name="unlock",
    purpose=TokenPurpose.UNLOCK,
    endpoint="unlock.link",
    mail=mails.unlock_mail,
    eligible=lambda account: True,  # any state: a pending account can be held back too
    queue=lambda: resources().store.unlock_requests,
)
PURPOSE = LINK.purpose
request_link = LINK.request
process_requests = LINK.process
peek = LINK.peek


def open_link(ent: Ent, token: str) -> tuple[TokenRecord, Kind | None]:
    """Use the link: this browser gets the entry's device cookie.

    Returns the record (its status says whether it worked) and the flow the account still
    has to go through, if any.
    """
    record, account = LINK.use(ent, token)
    if account is None:
        return record, None
    devices.remember(account.dn)
    return record, Kind.completing(account) if account.needs_completion else None
