"""Which mail worker is sending what: one processing list per worker, held by a lease.

A worker moves each message it sends from the queue to its own processing list
(``mail:processing:<worker id>``) and holds a lease on it: its id in ``mail:workers``, a
sorted set scored by when the lease ends, renewed every few seconds by a thread of its
own. A worker that dies (SIGKILL, the host lost) stops renewing; once its lease has ended,
any other worker (or the next one started) puts that list back in the queue, oldest first.
A live worker's list is never touched: with several workers on several hosts, a worker
that starts cannot take back a message another one is sending, so no mail goes out twice
because a colleague restarted.

The one shared list of earlier versions (``mail:processing``) is put back at start, as
those versions did: after an upgrade nobody uses it any more.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time

import redis

from .keys import Keys

log = logging.getLogger("ent_idp.mailqueue")

LEASE_SECONDS = 30  # a worker that has not renewed its lease for this long is dead
RENEW_EVERY = 5  # seconds between two renewals
WORKERS_TTL_SECONDS = 24 * 3600  # the set of leases, after the last renewal

# Put back in the queue the list of every worker whose lease ended (ARGV[1]: now), and
# forget it. KEYS[1]: the leases, KEYS[2]: the queue; ARGV[2]: the lists' name prefix.
_RECLAIM = """
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local moved = 0
for _, id in ipairs(dead) do
  local list = ARGV[2] .. id
  while redis.call('LMOVE', list, KEYS[2], 'RIGHT', 'LEFT') do
    moved = moved + 1
  end
  redis.call('ZREM', KEYS[1], id)
end
return moved
"""


class WorkerLeases:
    def __init__(self, client: redis.Redis, keys: Keys, lease_seconds: float = LEASE_SECONDS):
        self.redis = client
        self.leases = keys.mail("workers")
        self.legacy = keys.mail("processing")  # the one list of earlier versions
        self.prefix = self.legacy + ":"
        self.queue = keys.mail("queue")
        self.lease_seconds = lease_seconds
        self.worker_id: str | None = None
        self._stop = threading.Event()
        self._reclaim = client.register_script(_RECLAIM)

    @property
    def mine(self) -> str:
        """This worker's processing list (``start`` gives it an id)."""
        if self.worker_id is None:
            raise RuntimeError("the worker has not started: WorkerLeases.start()")
        return self.prefix + self.worker_id

    def start(self) -> int:
        """Take a lease, renewed until ``stop``; put back what dead workers held. Returns
        how many messages were put back."""
        self.worker_id = secrets.token_hex(8)
        self.renew()
        threading.Thread(target=self._renewing, name="mail-lease", daemon=True).start()
        moved = 0
        while self.redis.lmove(self.legacy, self.queue, "RIGHT", "LEFT"):
            moved += 1
        return moved + self.reclaim()

    def renew(self) -> None:
        pipe = self.redis.pipeline()
        pipe.zadd(self.leases, {self.worker_id: time.time() + self.lease_seconds})
        pipe.expire(self.leases, WORKERS_TTL_SECONDS)
        pipe.execute()

    def reclaim(self) -> int:
        """Put back in the queue what every worker whose lease ended was sending."""
        return int(self._reclaim(keys=[self.leases, self.queue], args=[time.time(), self.prefix]))

    def stop(self) -> None:
        """A clean stop: give back the lease, and anything still held (nothing, normally)."""
        self._stop.set()
        if self.worker_id is None:
            return
        while self.redis.lmove(self.mine, self.queue, "RIGHT", "LEFT"):
            pass
        self.redis.zrem(self.leases, self.worker_id)

    def processing_lists(self) -> list[str]:
        """Every list a message may be in while it is sent: each worker's, and the old one."""
        ids = self.redis.zrange(self.leases, 0, -1)
        return [self.legacy, *(self.prefix + worker for worker in ids)]

    def _renewing(self) -> None:
        every = min(RENEW_EVERY, self.lease_seconds / 3)
        while not self._stop.wait(every):
            try:
                self.renew()
            except Exception as exc:  # noqa: BLE001 - Redis down: the next renewal retries
                log.warning("mail worker lease not renewed: %s", exc)
