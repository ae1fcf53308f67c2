"""The backup address « Mon compte » asked to switch to, waiting for its link to be used."""

from __future__ import annotations

import redis

from .keys import Keys
from .transaction import Transactions


class PendingAddresses:
    def __init__(self, client: redis.Redis, keys: Keys, transaction: Transactions):
        self.redis = client
        self.keys = keys
        self.transaction = transaction

    def get(self, dn: str) -> str | None:
        return self.redis.get(self.keys.pending_backup(dn))

    def set(self, dn: str, address: str, seconds: int) -> None:
        """Kept as long as the link that validates it (in the open transaction, if any)."""
        self.transaction.writer().set(self.keys.pending_backup(dn), address, ex=seconds)

    def forget(self, dn: str) -> bool:
        """Whether there was one."""
        return bool(self.redis.delete(self.keys.pending_backup(dn)))
