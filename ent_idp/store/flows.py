"""Flow records: one Redis hash per flow in progress, its idle timer restarted on each use.

The store keeps strings under field names; what they mean (``ent_idp.core.flows``) is not
its business. A flow is keyed by a random id that the signed session cookie carries.
"""

from __future__ import annotations

import redis

from .keys import Keys
from .transaction import Transactions

# Every field, and the idle timer restarted if the flow is there: one command (a pipeline
# of HGETALL and EXPIRE costs the client a third more, for each of the 7 reads of a flow).
_READ = """
local fields = redis.call('HGETALL', KEYS[1])
if #fields > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return fields
"""


class FlowRecords:
    def __init__(
        self, client: redis.Redis, keys: Keys, transaction: Transactions, idle_seconds: int
    ):
        self.redis = client
        self.keys = keys
        self.transaction = transaction
        self.idle_seconds = idle_seconds
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
        """Every field (empty if the flow is gone), the idle timer restarted."""
        flat = self._read(keys=[self.keys.flow(flow_id)], args=[self.idle_seconds])
        return dict(zip(flat[::2], flat[1::2], strict=True))

    def field(self, flow_id: str, name: str) -> str | None:
        """One field as it is now (another request of the flow may have just changed it)."""
        return self.redis.hget(self.keys.flow(flow_id), name)
