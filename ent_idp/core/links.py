"""Using a link mailed to the verified backup address (« Mot de passe oublié »,
« Débloquer mon compte »): once, and only while that address is still in place."""

from __future__ import annotations

from ..directory import Account
from ..errors import AccountNotFound, DirectoryUnavailable
from ..store import TokenPurpose, TokenRecord, TokenStatus
from .resources import resources


def peek(token: str, purpose: TokenPurpose) -> TokenRecord:
    return resources().store.tokens.peek(token, purpose)


def use(token: str, purpose: TokenPurpose) -> tuple[TokenRecord, Account | None]:
    """Consume the link; the account it is for, if the link was valid and still applies.

    A directory that does not answer gives the link back (nothing happened: it must work
    later). A link whose address is no longer the verified one is superseded.
    """
    r = resources()
    record = r.store.tokens.consume(token, purpose)
    if record.status is not TokenStatus.VALID:
        return record, None
    try:
        account = r.directory.get(record.dn)
    except AccountNotFound:
        return TokenRecord(TokenStatus.UNKNOWN), None
    except DirectoryUnavailable:
        r.store.tokens.release(token)
        raise
    if account.backup_mail.lower() != record.address.lower() or not account.backup_verified:
        return TokenRecord(TokenStatus.SUPERSEDED), None
    return record, account
