"""The mails the flows send, queued for the mail worker: "sending a mail", for everyone.

Rendering is ``ent_idp.mails``' (one function per message); here a message is queued (in the
open ``store.transaction()``, if any), a link's token issued with it, and the daily limit of
mails asked for by hand counted.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import mails
from ..directory import Account
from ..logs import current_request_id
from ..settings import Ent
from ..store import Limit, TokenPurpose
from .resources import resources
from .urls import public_url_for

# Validation mails asked for by hand (a new link, a change of address in « Mon compte »):
# at most this many a day per account, and as many per address.
RESENDS = Limit("resend", most=5, window_seconds=24 * 3600)


def queue(message: dict) -> None:
    """Queue ``message``, with the id of the request that asked for it (for the logs)."""
    request_id = current_request_id()
    extra = {"request_id": request_id} if request_id else {}
    resources().store.mail_queue.push({**message, **extra})


def send_validation(
    ent: Ent, dn: str, login: str, address: str, previous: str | None = None
) -> None:
    """Issue a validation token and queue the mail carrying its link (at ``ent``'s URL).

    With ``previous`` the link confirms a change of backup address: until it is used,
    ``previous`` stays the account's address, and « Mon compte » shows ``address`` waiting.
    """
    r = resources()
    hours = r.settings.mail.validation_hours
    with r.store.transaction():
        token = r.store.tokens.issue(
            TokenPurpose.VALIDATION,
            dn=dn,
            address=address,
            login=login,
            lifetime=hours * 3600,
            previous=previous,
        )
        link = public_url_for(ent, "validation.confirm", token=token)
        queue(mails.validation_mail(ent, address, link=link, login=login, hours=hours))
        if previous is not None:
            r.store.pending_addresses.set(dn, address, hours * 3600)


def within_mail_limit(dn: str, address: str) -> bool:
    """Count one more validation mail asked for by hand; False once the account or the
    address is past ``RESENDS``."""
    return resources().store.limits.admit(RESENDS, dn, address.lower())


def notify_password_change(ent: Ent, address: str, login: str) -> None:
    """Tell the verified backup address, so a change the user did not make gets noticed."""
    queue(mails.password_changed_mail(ent, address, login=login))


def send_link(
    ent: Ent, purpose: TokenPurpose, account: Account, endpoint: str, mail: Callable[..., dict]
) -> None:
    """A short-lived link to the account's verified backup address (« Mot de passe oublié »,
    « Débloquer mon compte »): the token and its mail in one transaction."""
    r = resources()
    minutes = r.settings.mail.reset_link_minutes
    with r.store.transaction():
        token = r.store.tokens.issue(
            purpose,
            dn=account.dn,
            address=account.backup_mail,
            login=account.login,
            lifetime=minutes * 60,
        )
        link = public_url_for(ent, endpoint, token=token)
        queue(mail(ent, account.backup_mail, link=link, login=account.login, minutes=minutes))
