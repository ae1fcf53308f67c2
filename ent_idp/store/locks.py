"""The per-account write lock: one directory write per account at a time.

ppolicy's history check races otherwise (two changes at once both pass it). The lock is
ours only while its random token is in the key: an expired lock taken by another is never
deleted by us.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import redis

from .keys import ACCOUNT_LOCK_SECONDS, Keys

# Deletes the lock only if it is still ours, even if it expired and another took it.
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# Takes the account's lock (KEYS[1]) and, if it got it, records on the flow (KEYS[2]) that a
# directory write is about to be sent, in the same round trip.
_LOCK_FOR_WRITE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
if KEYS[2] ~= '' then redis.call('HSET', KEYS[2], 'write_pending', '1') end
return 1
"""


class AccountLocks:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.keys = keys
        self._unlock = client.register_script(_UNLOCK)
        self._lock_for_write = client.register_script(_LOCK_FOR_WRITE)

    @contextlib.contextmanager
    def hold(self, dn: str, flow_id: str | None = None) -> Iterator[bool]:
        """Yields whether the lock is ours; with ``flow_id``, that flow is marked
        ``write_pending`` once it is."""
        key = self.keys.lock(dn)
        token = secrets.token_hex(8)
        flow_key = self.keys.flow(flow_id) if flow_id is not None else ""
        acquired = bool(
            self._lock_for_write(keys=[key, flow_key], args=[token, ACCOUNT_LOCK_SECONDS])
        )
        try:
            yield acquired
        finally:
            if acquired:
                self._unlock(keys=[key], args=[token])
