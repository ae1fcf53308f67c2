"""« Débloquer mon compte »: a link to the verified backup address frees this browser.

Anyone who knows a login can spend its failures on purpose and hold its owner back for up
to a day. The owner proves they hold the verified backup address: a short-lived,
single-use link mailed there (asked for like « Mot de passe oublié »: the page, its status
and the work done on the request are the same whoever asks; the mail worker looks the
account up) sets, on the browser that opens it, the device cookie of the entry
(``ent_idp.devices``). That browser's attempts are then counted in a bucket of their own.
Nothing else changes: the password is still checked, by the same rule.
"""

from __future__ import annotations

import hashlib
import json
import time

from flask import current_app, has_request_context, request
from flask_babel import force_locale

from . import audit, clients, devices, mails
from .exceptions import AccountNotFound, DirectoryUnavailable
from .extensions import services
from .flows import Kind
from .i18n import DEFAULT, LANGUAGES, current_language
from .tokens import TokenRecord, TokenStatus
from .urls import public_url_for

PURPOSE = "unlock-device"
LINKS_PER_HOUR = 3  # per account: more requests are ignored (the page is the same)
REQUESTS_PER_HOUR = 30  # per client address
QUEUE_SECONDS = 24 * 3600  # requests the mail worker has not taken by then are dropped


def _key(name: str) -> str:
    return f"{services().flows.prefix}:unlock:{name}"


def _count(scope: str, limit: int) -> bool:
    """Count one more event for ``scope`` this hour; False once past ``limit``."""
    key = _key("count:" + hashlib.sha256(scope.encode("utf-8", "surrogatepass")).hexdigest())
    pipe = services().redis.pipeline()
    pipe.incr(key).expire(key, 3600, nx=True)
    count, _ = pipe.execute()
    return count <= limit


def request_link(login: str) -> None:
    """Queue the request; the mail worker decides whether a link goes out."""
    address = clients.throttle_scope(request.remote_addr if has_request_context() else None)
    if not _count(f"address:{address}", REQUESTS_PER_HOUR):
        audit.event("unlock-request", login, "held-back")
        return
    queued = json.dumps({"login": login, "at": time.time(), "lang": current_language()})
    pipe = services().redis.pipeline()
    pipe.lpush(_key("requests"), queued).expire(_key("requests"), QUEUE_SECONDS)
    pipe.execute()
    audit.event("unlock-request", login, "queued")


def process_requests(limit: int = 100) -> int:
    """Handle queued requests (the mail worker's job); returns how many were handled."""
    s = services()
    handled = 0
    while handled < limit:
        raw = s.redis.rpop(_key("requests"))
        if raw is None:
            break
        queued = json.loads(raw)
        language = queued.get("lang") if queued.get("lang") in LANGUAGES else DEFAULT
        try:
            with force_locale(language):
                _process(queued["login"])
        except DirectoryUnavailable:
            s.redis.rpush(_key("requests"), raw)  # the oldest again, next time
            raise
        handled += 1
    return handled


def _process(login: str) -> None:
    s = services()
    try:
        account = s.directory.find(login)
    except AccountNotFound:
        audit.event("unlock-link", login, "unknown")
        return
    if not account.backup_verified or not account.backup_mail:
        audit.event("unlock-link", login, "no-verified-address")
        return
    if not _count(f"login:{account.dn}", LINKS_PER_HOUR):
        audit.event("unlock-link", login, "limited")
        return
    minutes = current_app.config["MAIL_RESET_LINK_MINUTES"]
    pipe = s.redis.pipeline()
    token = s.tokens.issue(
        PURPOSE,
        dn=account.dn,
        address=account.backup_mail,
        login=account.login,
        lifetime=minutes * 60,
        pipe=pipe,
    )
    link = public_url_for("unlock.link", token=token)
    mails.queue(
        mails.unlock_mail(account.backup_mail, link=link, login=account.login, minutes=minutes),
        pipe=pipe,
    )
    pipe.execute()
    audit.event("unlock-link", login, "sent")


def peek(token: str) -> TokenRecord:
    return services().tokens.peek(token, PURPOSE)


def open_link(token: str) -> tuple[TokenRecord, Kind | None]:
    """Use the link: this browser gets the entry's device cookie.

    Returns the record (its status says whether it worked) and the flow the account still
    has to go through, if any.
    """
    s = services()
    record = s.tokens.consume(token, PURPOSE)
    if record.status is not TokenStatus.VALID:
        return record, None
    try:
        account = s.directory.get(record.dn)
    except AccountNotFound:
        return TokenRecord(TokenStatus.UNKNOWN), None
    except DirectoryUnavailable:
        s.tokens.release(token)  # nothing happened: the same link must work later
        raise
    if account.backup_mail.lower() != record.address.lower() or not account.backup_verified:
        return TokenRecord(TokenStatus.SUPERSEDED), None
    devices.remember(account.dn)
    audit.event("unlock-link", account.login, "used")
    return record, Kind.completing(account) if account.needs_completion else None
