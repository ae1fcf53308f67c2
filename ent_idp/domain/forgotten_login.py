"""« Identifiant oublié »: the login, mailed to the verified backup address of the one active
account with the names and the address typed.

A request only queues what was typed (``ent_idp.core.requests``, throttled per client and
per typed address), so the page, its status and its time are the same whatever matched;
the mail worker asks the directory, which answers with at most two accounts: two homonyms
sharing an address get nothing, as if none matched. The login goes to the address typed
only if it is that account's verified one (the search says so, and it is checked again).
Audit lines name the typed names and address by a keyed hash, never in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import asdict, dataclass

from .. import audit, cas, mails
from ..core import requests
from ..core.notices import queue as queue_mail
from ..core.resources import resources
from ..core.urls import public_url_for
from ..directory import Account, AccountState
from ..settings import Ent
from ..store import Limit

EVENT = "forgotten-login"
# Requests naming one backup address, an hour (besides the requests per client address).
PER_TYPED_ADDRESS = Limit(f"{EVENT}-typed-address", most=5, window_seconds=3600)


@dataclass(frozen=True)
class Identity:
    """Who the user says they are."""

    given_name: str
    surname: str
    backup_mail: str  # as ent-idp stores addresses: the domain in ASCII
    school: str = ""  # where the directory names schools ([ldap] school_attribute)


def request_login(ent: Ent, identity: Identity) -> None:
    """Queue the request (for ``ent``); the mail worker decides whether a mail goes out."""
    requests.ask(
        ent,
        resources().store.forgotten_login_requests,
        f"{EVENT}-request",
        asdict(identity),
        scopes=[(PER_TYPED_ADDRESS, identity.backup_mail.lower())],
        **_tags(identity),
    )


def process_requests(most: int = 100) -> int:
    """Handle queued requests (the mail worker's job); returns how many were handled."""
    queue = resources().store.forgotten_login_requests
    return requests.process(queue, f"{EVENT}-request", _send, most)


def _send(ent: Ent, queued: dict) -> None:
    event = f"{EVENT}-mail"
    identity = Identity(
        queued["given_name"], queued["surname"], queued["backup_mail"], queued.get("school", "")
    )
    found = resources().directory.find_by_identity(
        identity.given_name, identity.surname, identity.backup_mail, identity.school
    )
    found = [account for account in found if ent.admits(account.domains)]  # this ENT's only
    if len(found) != 1 or not _verified_for(found[0], identity.backup_mail):
        outcome = "ambiguous" if len(found) > 1 else "no-match"
        audit.event(event, "", outcome, **_tags(identity))
        return
    [account] = found
    if not requests.within_link_limit(event, account.dn):
        audit.event(event, account.login, "limited", **_tags(identity))
        return
    queue_mail(_mail(ent, account))
    audit.event(event, account.login, "sent", **_tags(identity))


def _verified_for(account: Account, address: str) -> bool:
    return (
        account.state == AccountState.ACTIVE
        and account.backup_verified
        and account.backup_mail.lower() == address.lower()
    )


def _mail(ent: Ent, account: Account) -> dict:
    return mails.forgotten_login_mail(
        ent,
        account.backup_mail,
        login=account.login,
        login_url=cas.login_url(ent.cas.url, ent.cas.default_service),
        recovery_url=public_url_for(ent, "recovery.ask"),
    )


def _tags(identity: Identity) -> dict[str, str]:
    """The names and the address as audit lines carry them: keyed hashes (the same for
    every spelling the directory matches alike), so requests can be told apart and grouped,
    never read back."""
    key = resources().settings.secret_key.encode()

    def tag(*values: str) -> str:
        folded = "\0".join(unicodedata.normalize("NFC", value).casefold() for value in values)
        digest = hmac.new(key, folded.encode("utf-8", "surrogatepass"), hashlib.sha256)
        return digest.hexdigest()[:16]

    return {
        "names": tag(identity.given_name, identity.surname, identity.school),
        "address": tag(identity.backup_mail),
    }
