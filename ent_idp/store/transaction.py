"""One way to group writes: ``with store.transaction():`` (MULTI/EXEC, one round trip).

Inside the block, every write of every store object (a token issued, a mail queued, a flow
updated…) joins the same transaction instead of going out at once; they are sent together
when the block ends, and not at all if it raises. Nothing is passed around: the store
objects ask ``writer()`` where to write. Reads inside the block are not part of it (they go
out at once). Blocks nest: an inner one joins the outer.

A transaction is what users are told about (a link and its mail, a finished flow): with
Sentinel it is acknowledged by ``[redis] wait_replicas`` replicas before the block ends
(``Client.acknowledged_pipeline``), so a failover right after cannot lose it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

import redis
from redis.commands.core import Script

from .client import Client

# (the client it belongs to, its pipeline), per thread and per task.
_current: ContextVar[tuple[redis.Redis, redis.client.Pipeline] | None] = ContextVar(
    "ent_idp_transaction", default=None
)


class Transactions:
    def __init__(self, client: Client):
        self._client = client

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        found = _current.get()
        if found is not None and found[0] is self._client:
            yield  # nested: the outer block sends everything
            return
        pipe = self._client.acknowledged_pipeline()
        token = _current.set((self._client, pipe))
        try:
            yield
        except BaseException:
            pipe.reset()
            raise
        finally:
            _current.reset(token)
        pipe.execute()

    def writer(self) -> redis.Redis:
        """Where a write goes now: the open transaction's pipeline, or the client."""
        found = _current.get()
        return found[1] if found is not None and found[0] is self._client else self._client

    def run_script(self, script: Script, keys: list, args: list) -> object:
        """``script`` in the open transaction (as EVAL, its text), or at once (EVALSHA).

        A Script in a pipeline makes redis-py ask SCRIPT EXISTS first, one more round trip
        per transaction; EVALSHA itself inside MULTI would fail alone (NOSCRIPT) after a
        restart of Redis while the rest of the transaction is applied. EVAL carries the
        text: Redis compiles it once and keeps it by its SHA1.
        """
        writer = self.writer()
        if writer is self._client:
            return script(keys=keys, args=args)
        return writer.eval(script.script, len(keys), *keys, *args)
