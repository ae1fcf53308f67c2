"""The Redis client: built in one place, and its errors become ``StoreUnavailable`` here.

Every command goes through ``execute_command`` and every pipeline through ``execute``: a
connection refused, a timeout, or an answer that refuses the command (READONLY on a replica
after a failover, OOM, LOADING) is raised once as the project's own exception, ``from`` the
original, and counted by kind (``ent_idp_redis_errors_total``). ``NOSCRIPT`` passes
through: redis-py loads the script and retries. Sentinel (a master found by name) would
change ``connect`` only.
"""

from __future__ import annotations

import redis
from redis.client import Pipeline
from redis.exceptions import (
    ConnectionError,
    NoScriptError,
    ReadOnlyError,
    ResponseError,
    TimeoutError,
)

from ..errors import StoreUnavailable
from ..metrics import REDIS_ERRORS, RedisErrorKind
from ..settings.sections import RedisSettings

_UNAVAILABLE = (ConnectionError, TimeoutError, ResponseError)


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
    def execute(self, raise_on_error: bool = True):
        try:
            return super().execute(raise_on_error)
        except NoScriptError:
            raise
        except _UNAVAILABLE as exc:
            raise _translated(exc) from exc


class Client(redis.Redis):
    """redis-py's client, speaking ent-idp's exceptions."""

    def execute_command(self, *args, **options):
        try:
            return super().execute_command(*args, **options)
        except NoScriptError:
            raise
        except _UNAVAILABLE as exc:
            raise _translated(exc) from exc

    def pipeline(self, transaction: bool = True, shard_hint=None) -> Pipeline:
        return _Pipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)


def connect(settings: RedisSettings) -> Client:
    return Client.from_url(
        settings.url,
        decode_responses=True,
        socket_timeout=settings.timeout,
        socket_connect_timeout=settings.timeout,
        health_check_interval=30,
    )
