"""The Redis client: built in one place, and its errors become ``StoreUnavailable`` here.

Every command goes through ``execute_command`` and every pipeline through ``execute``: a
connection refused, a timeout, or an answer that refuses the command (READONLY on a replica
after a failover, OOM, LOADING) is raised once as the project's own exception, ``from`` the
original, and counted by kind (``ent_idp_redis_errors_total``). ``NOSCRIPT`` passes
through: redis-py loads the script and retries.

``connect`` reaches one server (``[redis] url``) or the master that Redis Sentinel elects
(``[redis] sentinels``, redis-py's ``Sentinel.master_for``): every read and write goes to the
master, found again after a failover. With Sentinel:

* **a command is never sent twice**: one whose answer was lost may have been applied (a mail
  queued twice, a token issued twice and so superseded by itself), so it fails, and the
  user gets the 503 page; **a connection is retried** (nothing was sent on it yet), asking the
  Sentinels again every 0.1 s for up to ``[redis] failover_wait`` seconds, so a request that
  arrives during a failover waits for the new master instead of failing;
* **acknowledged writes**: ``acknowledged_pipeline()`` is a MULTI/EXEC followed, on the same
  connection, by ``WAIT <wait_replicas> <wait_timeout>`` (WAIT counts the writes of the
  connection it is sent on, and inside MULTI it would not wait). The store's transactions use
  it for the writes users are told about. Fewer replicas than asked: the answer goes out,
  logged, and counted in ``unacknowledged_writes``.
"""

from __future__ import annotations

import logging
import math
import threading

import redis
from redis.backoff import ConstantBackoff, NoBackoff
from redis.client import Pipeline
from redis.exceptions import (
    ConnectionError,
    NoScriptError,
    ReadOnlyError,
    ResponseError,
    TimeoutError,
)
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from ..errors import StoreUnavailable
from ..metrics import REDIS_ERRORS, REDIS_UNACKNOWLEDGED, RedisErrorKind
from ..settings.sections import RedisSettings

log = logging.getLogger("ent_idp.store")

_UNAVAILABLE = (ConnectionError, TimeoutError, ResponseError)
RECONNECT_EVERY = 0.1  # seconds between two tries of a connection during a failover


def _translated(exc: Exception) -> StoreUnavailable:
    REDIS_ERRORS.labels(error_kind(exc).value).inc()
    return StoreUnavailable(f"{type(exc).__name__}: {exc}")


def error_kind(exc: Exception) -> RedisErrorKind:
    if isinstance(exc, TimeoutError):
        return RedisErrorKind.TIMEOUT
    if isinstance(exc, ReadOnlyError) or str(exc).startswith("READONLY"):
        return RedisErrorKind.READONLY
    if isinstance(exc, ConnectionError):
        return RedisErrorKind.UNAVAILABLE
    return RedisErrorKind.OTHER


class _Pipeline(Pipeline):
    # (replicas, timeout in ms) of the WAIT after EXEC; None: no WAIT.
    acknowledge: tuple[int, int] | None = None
    owner: Client | None = None
    replicas: int | None = None  # what the WAIT answered

    def execute(self, raise_on_error: bool = True):
        try:
            result = super().execute(raise_on_error)
        except NoScriptError:
            raise
        except _UNAVAILABLE as exc:
            raise _translated(exc) from exc
        if self.acknowledge is not None and self.owner is not None:
            self.owner.check_acknowledged(self.replicas or 0)
        return result

    def _execute_transaction(self, connection, commands, raise_on_error):
        response = super()._execute_transaction(connection, commands, raise_on_error)
        if self.acknowledge is not None:
            connection.send_command("WAIT", *self.acknowledge)
            self.replicas = int(connection.read_response())
        return response


class Client(redis.Redis):
    """redis-py's client, speaking ent-idp's exceptions."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.wait_replicas = 0  # set by connect() with Sentinel
        self.wait_timeout_ms = 0
        self.unacknowledged_writes = 0  # for the logs and the metrics
        self._counting = threading.Lock()

    def execute_command(self, *args, **options):
        try:
            return super().execute_command(*args, **options)
        except NoScriptError:
            raise
        except _UNAVAILABLE as exc:
            raise _translated(exc) from exc

    def pipeline(self, transaction: bool = True, shard_hint=None) -> Pipeline:
        return _Pipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)

    def acknowledged_pipeline(self) -> Pipeline:
        """A MULTI/EXEC pipeline whose writes ``wait_replicas`` replicas hold (or
        ``wait_timeout`` passed) when ``execute()`` returns."""
        pipe = _Pipeline(self.connection_pool, self.response_callbacks, True, None)
        if self.wait_replicas:
            pipe.acknowledge = (self.wait_replicas, self.wait_timeout_ms)
            pipe.owner = self
        return pipe

    def check_acknowledged(self, replicas: int) -> None:
        """Log and count a write fewer replicas than ``wait_replicas`` acknowledged."""
        if replicas >= self.wait_replicas:
            return
        with self._counting:
            self.unacknowledged_writes += 1
        REDIS_UNACKNOWLEDGED.inc()
        log.warning(
            "redis: a write users were told about is on the master only: %d of %d replica(s) "
            "acknowledged it within %d ms (is a replica down or behind?)",
            replicas,
            self.wait_replicas,
            self.wait_timeout_ms,
        )


class _MasterConnection(SentinelManagedConnection):
    """A connection to the master the Sentinels name: connecting is retried by
    ``connect_retry`` (nothing was sent yet), commands by nothing."""

    def __init__(self, *, connect_retry: Retry, **kwargs):
        self.connect_retry = connect_retry
        super().__init__(**kwargs)

    def connect(self):
        return self.connect_retry.call_with_retry(self._connect_retry, lambda error: None)


def connect(settings: RedisSettings) -> Client:
    common = {
        "decode_responses": True,
        "socket_timeout": settings.timeout,
        "socket_connect_timeout": settings.timeout,
        "health_check_interval": 30,
    }
    if not settings.sentinel_addresses:
        return Client.from_url(settings.url, **common)
    never = Retry(NoBackoff(), 0)
    sentinel = Sentinel(
        list(settings.sentinel_addresses),
        sentinel_kwargs={
            "password": settings.sentinel_password or None,
            "socket_timeout": settings.timeout,
            "socket_connect_timeout": settings.timeout,
            "retry": never,  # a Sentinel down: ask the next one at once
        },
    )
    tries = math.ceil(settings.failover_wait / RECONNECT_EVERY)
    client = sentinel.master_for(
        settings.master_name,
        redis_class=Client,
        connection_class=_MasterConnection,
        connect_retry=Retry(ConstantBackoff(RECONNECT_EVERY), tries),
        retry=never,
        password=settings.password or None,
        db=settings.db,
        **common,
    )
    client.wait_replicas = settings.wait_replicas
    client.wait_timeout_ms = max(1, round(settings.wait_timeout * 1000))
    return client
