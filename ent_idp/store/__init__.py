"""Everything Redis, and the only package that imports redis-py.

One ``Store`` per app: the client (``client``: built in one place, its errors translated
into ``StoreUnavailable``), the key families and their lifetimes (``keys``), one way to
group writes (``store.transaction()``), one rate limiter (``limits``), and one object per
kind of record. No module outside this package builds a key or sends a command.
"""

from __future__ import annotations

import secrets

from ..errors import StoreUnavailable
from ..settings import Settings
from .client import connect
from .flows import FlowRecords
from .forwarded import ForwardedHeaderLog
from .keys import CHECK_SECONDS, READY_SECONDS, Keys
from .limits import Limit, RateLimiter
from .locks import AccountLocks
from .mail_queue import MailQueue, QueueSnapshot
from .pending import PendingAddresses
from .requests import RequestQueue
from .sessions import AccountSessions
from .throttle import DirectoryGuard, Rule, Throttle, fold_login
from .tokens import TokenPurpose, TokenRecord, Tokens, TokenStatus
from .transaction import Transactions

__all__ = [
    "Limit",
    "QueueSnapshot",
    "Store",
    "TokenPurpose",
    "TokenRecord",
    "TokenStatus",
    "fold_login",
]

# Requests waiting for the mail worker, per kind: at most this many (see requests).
MAX_QUEUED_REQUESTS = 10_000


class Store:
    def __init__(self, settings: Settings):
        idle_seconds = settings.flow.idle_minutes * 60
        self.redis = client = connect(settings.redis)
        self.keys = keys = Keys(settings.redis.prefix)
        self.transaction = Transactions(client)
        self.limits = RateLimiter(client, keys)
        self.flows = FlowRecords(client, keys, self.transaction, idle_seconds)
        self.locks = AccountLocks(client, keys)
        self.tokens = Tokens(client, keys, self.transaction)
        self.pending_addresses = PendingAddresses(client, keys, self.transaction)
        self.sessions = AccountSessions(
            client,
            keys,
            idle_seconds=idle_seconds,
            max_seconds=settings.account.session_max_minutes * 60,
        )
        t = settings.throttle
        self.throttle = Throttle(
            client,
            keys,
            per_login=Rule(
                t.login_free_failures, t.login_delay_seconds, t.login_max_failures_per_day
            ),
            per_address=Rule(
                t.address_free_failures, t.address_delay_seconds, t.address_max_failures_per_day
            ),
            directory_guard=DirectoryGuard(t.ppolicy_max_failure, t.ppolicy_failure_count_interval),
        )
        self.mail_queue = MailQueue(
            client, keys, self.transaction, lease_seconds=settings.mail.worker_lease_seconds
        )
        self.recovery_requests = RequestQueue(client, keys, "recovery", MAX_QUEUED_REQUESTS)
        self.unlock_requests = RequestQueue(client, keys, "unlock", MAX_QUEUED_REQUESTS)
        self.forgotten_login_requests = RequestQueue(
            client, keys, "forgotten-login", MAX_QUEUED_REQUESTS
        )
        self.forwarded_headers = ForwardedHeaderLog(client, keys)

    def check_writable(self) -> None:
        """A write and a delete (``ent-idp check``); raises StoreUnavailable."""
        key = self.keys.check(secrets.token_hex(8))
        self.redis.set(key, "1", ex=CHECK_SECONDS)
        self.redis.delete(key)

    def mark_ready(self) -> None:
        """One write that expires by itself (/readyz, every second); raises StoreUnavailable."""
        self.redis.set(self.keys.ready(), "1", ex=READY_SECONDS)

    def close(self) -> None:
        try:
            self.mail_queue.stop_worker()  # if this process was a mail worker
        except StoreUnavailable:
            pass  # its lease ends by itself
        self.redis.close()
