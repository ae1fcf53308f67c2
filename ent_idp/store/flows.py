"""Flow records: one Redis hash per flow in progress, its idle timer restarted on use.

The store keeps strings under field names; what they mean (``ent_idp.core.flows``) is not
its business. A flow is keyed by a random id that the signed session cookie carries.

Each write sets the idle timer; a read restarts it only once a thirtieth of it has run
down (a minute of the default 30), so a flow is forgotten between 29/30 of ``idle_seconds``
and ``idle_seconds`` after its last request, never later. Restarting it on every read made
each of an activation's seven reads a write: with ``appendfsync always`` a disk sync on
the Redis master, a longer wait for the app's thread and a command sent to every replica.
"""

from __future__ import annotations

import redis

from .keys import Keys
from .transaction import Transactions

# Every field; if the flow is there with less than ARGV[2] seconds left, its idle timer
# restarted at ARGV[1]: one command (a pipeline of HGETALL and EXPIRE costs the client a
# third more, for each of the 7 reads of a flow).
_READ = """
local fields = redis.call('HGETALL', KEYS[1])
if #fields > 0 and redis.call('TTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return fields
"""

# Of the idle timer, what may run down before a read restarts it.
SLACK = 1 / 30


class FlowRecords:
    def __init__(
        self, client: redis.Redis, keys: Keys, transaction: Transactions, idle_seconds: int
    ):
        self.redis = client
        self.keys = keys
        self.transaction = transaction
        self.idle_seconds = idle_seconds
        self.restart_below = idle_seconds - int(idle_seconds * SLACK)
        self._read = client.register_script(_READ)

    def write(self, flow_id: str, fields: dict[str, str]) -> None:
        """Set ``fields`` (in the open transaction, if any) and restart the idle timer."""
        key = self.keys.flow(flow_id)
        writer = self.transaction.writer()
        target = writer if writer is not self.redis else self.redis.pipeline(transaction=False)
        target.hset(key, mapping=fields)
        target.expire(key, self.idle_seconds)
        if target is not writer:
            target.execute()

    def read(self, flow_id: str) -> dict[str, str]:
        """Every field (empty if the flow is gone), the idle timer restarted if it has run
        down by more than its ``SLACK``."""
        key, args = self.keys.flow(flow_id), [self.idle_seconds, self.restart_below]
        flat = self._read(keys=[key], args=args)
        return dict(zip(flat[::2], flat[1::2], strict=True))

    def field(self, flow_id: str, name: str) -> str | None:
        """One field as it is now (another request of the flow may have just changed it)."""
        return self.redis.hget(self.keys.flow(flow_id), name)
