"""« Mot de passe oublié »: a short-lived link to the verified backup address, then a new password.

A request only queues the login in Redis, so the page, its status and its timing are the same
whether the account exists, has a verified address or not; the mail worker looks the account
up and sends the link, in the language the request was made in. Following the link (GET
shows a button, POST uses it) starts a small flow whose one step is the new password, written
like every password: one Modify guarded by an assertion, under the per-account lock, hashed
and policy-checked by the server.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time

import redis
from flask import current_app, has_request_context, request
from flask_babel import force_locale

from . import audit, clients, mails
from .activation import notify_password_change
from .directory import AccountState
from .exceptions import (
    AccountBusy,
    AccountNotFound,
    Conflict,
    DirectoryUnavailable,
    PasswordRejected,
)
from .extensions import services
from .flows import Flow, Kind
from .i18n import DEFAULT, LANGUAGES, current_language
from .tokens import TokenRecord, TokenStatus
from .urls import public_url_for

log = logging.getLogger(__name__)

PURPOSE = "reset-password"
LINKS_PER_HOUR = 3  # per account: more requests are ignored (the page is the same)
REQUESTS_PER_HOUR = 30  # per client address
# Requests waiting for the mail worker: at most this many (past it, a new one is dropped and
# audited; the page is the same), kept a day after the last one if no worker takes them.
MAX_QUEUED_REQUESTS = 10_000
REQUESTS_TTL_SECONDS = 24 * 3600


def _key(name: str) -> str:
    return f"{services().flows.prefix}:recovery:{name}"


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
        audit.event("recovery-request", login, "held-back")
        return
    queued = {"login": login, "at": time.time(), "lang": current_language()}
    if not _enqueue(json.dumps(queued)):
        audit.event("recovery-request", login, "dropped", reason="queue-full")
        return
    audit.event("recovery-request", login, "queued")


def _enqueue(raw: str) -> bool:
    """Add a request unless MAX_QUEUED_REQUESTS wait already; False when it was dropped."""
    key = _key("requests")
    pipe = services().redis.pipeline()
    # LTRIM keeps the oldest (right-hand) requests: past the bound, the new one goes.
    pipe.lpush(key, raw).ltrim(key, -MAX_QUEUED_REQUESTS, -1).expire(key, REQUESTS_TTL_SECONDS)
    length, _, _ = pipe.execute()
    return length <= MAX_QUEUED_REQUESTS


def process_requests(limit: int = 100) -> int:
    """Handle queued requests (the mail worker's job); returns how many were handled.

    A request that cannot be handled (damaged, or an error of ours) is logged and dropped:
    one request must not stop the worker, nor the mail of everyone else.
    """
    s = services()
    handled = 0
    while handled < limit:
        raw = s.redis.rpop(_key("requests"))
        if raw is None:
            break
        try:
            _handle(raw)
        except DirectoryUnavailable:
            pipe = s.redis.pipeline()  # the oldest again, next time
            pipe.rpush(_key("requests"), raw).expire(_key("requests"), REQUESTS_TTL_SECONDS)
            pipe.execute()
            raise
        except redis.RedisError:
            raise
        except Exception:  # whatever it is, one request must not stop the worker
            log.exception("« mot de passe oublié » request dropped: it could not be handled")
            audit.event("recovery-request", "", "failed")
        handled += 1
    return handled


def _handle(raw: str) -> None:
    queued = json.loads(raw)
    language = queued.get("lang") if queued.get("lang") in LANGUAGES else DEFAULT
    with force_locale(language):  # the mail in the language the user asked in
        _process(queued["login"])


def _process(login: str) -> None:
    s = services()
    try:
        account = s.directory.find(login)
    except AccountNotFound:
        audit.event("recovery-link", login, "unknown")
        return
    if account.state != AccountState.ACTIVE or not account.backup_verified:
        audit.event("recovery-link", login, "no-verified-address")
        return
    if not _count(f"login:{account.dn}", LINKS_PER_HOUR):
        audit.event("recovery-link", login, "limited")
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
    link = public_url_for("recovery.link", token=token)
    message = mails.password_reset_mail(
        account.backup_mail, link=link, login=account.login, minutes=minutes
    )
    mails.queue(message, pipe=pipe)
    pipe.execute()
    audit.event("recovery-link", login, "sent")


def peek(token: str) -> TokenRecord:
    return services().tokens.peek(token, PURPOSE)


def open_link(token: str) -> Flow | TokenRecord:
    """Use the link: a flow for the new password, or the record saying why not."""
    s = services()
    record = s.tokens.consume(token, PURPOSE)
    if record.status is not TokenStatus.VALID:
        return record
    try:
        account = s.directory.get(record.dn)
    except AccountNotFound:
        return record
    except DirectoryUnavailable:
        s.tokens.release(token)
        raise
    if account.backup_mail.lower() != record.address.lower() or not account.backup_verified:
        return TokenRecord(TokenStatus.SUPERSEDED)
    audit.event("recovery-link", account.login, "used")
    return s.flows.start(
        Kind.RECOVERY, account, current_app.config["CAS_DEFAULT_SERVICE"], account.cgu_version
    )


def choose_password(flow: Flow, password: str) -> None:
    s = services()
    with s.flows.account_lock(flow.dn) as acquired:
        if not acquired:
            raise AccountBusy(flow.dn)
        try:
            s.directory.change_password(flow.account(), password)
        except (Conflict, PasswordRejected) as exc:
            audit.event("password-reset", flow.login, type(exc).__name__.lower())
            raise
        pipe = s.redis.pipeline()
        notify_password_change(flow.stored_backup_mail, flow.login, pipe=pipe)
        s.flows.update(flow, pipe=pipe, completed=True)
        pipe.execute()
    audit.event("password-reset", flow.login, "ok")
