"""Links mailed on request to the verified backup address (« Mot de passe oublié »,
« Débloquer mon compte »): asked for by login, sent by the mail worker, used once, and only
while that address is still the account's verified one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import audit
from ..directory import Account
from ..errors import AccountNotFound, DirectoryUnavailable
from ..settings import Ent
from ..store import TokenPurpose, TokenRecord, TokenStatus
from ..store.requests import RequestQueue
from . import requests
from .notices import send_link
from .resources import resources


@dataclass(frozen=True)
class MailedLink:
    name: str  # audit events <name>-request and <name>-link
    purpose: TokenPurpose
    endpoint: str  # the page the link opens
    mail: Callable[..., dict]  # ent_idp.mails' function for its message
    eligible: Callable[[Account], bool]  # who may get one (a verified address, at least)
    queue: Callable[[], RequestQueue]

    def request(self, ent: Ent, login: str) -> None:
        """Queue the request (for ``ent``); the mail worker decides whether a link goes out."""
        requests.ask(ent, self.queue(), f"{self.name}-request", {"login": login}, login=login)

    def process(self, most: int = 100) -> int:
        """Handle queued requests (the mail worker's job); returns how many were handled."""
        return requests.process(self.queue(), f"{self.name}-request", self._send, most)

    def _send(self, ent: Ent, queued: dict) -> None:
        event, login = f"{self.name}-link", queued["login"]
        try:
            account = resources().directory.find(login, may_lag=True)
        except AccountNotFound:
            audit.event(event, login, "unknown")
            return
        if not ent.admits(account.domains):  # another ENT's account: as if unknown here
            audit.event(event, login, "other-ent")
            return
        if not (self.eligible(account) and account.backup_verified and account.backup_mail):
            audit.event(event, login, "no-verified-address")
            return
        if not requests.within_link_limit(event, account.dn):
            audit.event(event, login, "limited")
            return
        send_link(ent, self.purpose, account, self.endpoint, self.mail)
        audit.event(event, login, "sent")

    def peek(self, token: str) -> TokenRecord:
        return resources().store.tokens.peek(token, self.purpose)

    def use(self, ent: Ent, token: str) -> tuple[TokenRecord, Account | None]:
        """Consume the link; the account it is for, if the link was valid and still applies.

        A directory that does not answer gives the link back (nothing happened: it must work
        later). A link whose address is no longer the verified one is superseded.
        """
        r = resources()
        record = r.store.tokens.consume(token, self.purpose)
        if record.status is not TokenStatus.VALID:
            return record, None
        try:
            account = r.directory.get(record.dn)
        except AccountNotFound:
            return TokenRecord(TokenStatus.UNKNOWN), None
        except DirectoryUnavailable:
            r.store.tokens.release(token)
            raise
        if not ent.admits(account.domains):  # mailed for one ENT, opened on another's host
            return TokenRecord(TokenStatus.UNKNOWN), None
        if account.backup_mail.lower() != record.address.lower() or not account.backup_verified:
            return TokenRecord(TokenStatus.SUPERSEDED), None
        audit.event(f"{self.name}-link", account.login, "used")
        return record, account
