"""Attempt counters in Redis, per login and per client address, checked before any bind.

The default follows CNIL délibération 2022-100, case 2: after a few free failures each new
one costs a growing delay (at least a minute after 5 failures for a login), and a login gets
at most 25 failures in 24 hours. An address gets more free failures and a shorter delay: it
slows one client trying a password against many logins without locking those accounts (and
without locking out a school whose pupils share one address).

Acquiring an attempt and recording its outcome are each one atomic Lua script, and attempts
in flight count against the limit, so parallel attempts never exceed it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import redis

from .exceptions import Throttled

INFLIGHT_SECONDS = 30  # an attempt whose outcome never came back stops counting after this
MAX_DELAY_SECONDS = 3600

# KEYS: state hash, day counter, in-flight counter. ARGV: now, free failures, max per day.
# Returns the seconds to wait (0: the attempt may go on, and is now in flight).
_ACQUIRE = """
local now = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
local per_day = tonumber(ARGV[3])
local fails = tonumber(redis.call('HGET', KEYS[1], 'fails') or '0')
local wait_until = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
local day = tonumber(redis.call('GET', KEYS[2]) or '0')
local inflight = tonumber(redis.call('GET', KEYS[3]) or '0')
if per_day > 0 and day + inflight >= per_day then
  local ttl = redis.call('TTL', KEYS[2])
  return ttl > 0 and ttl or 60
end
if now < wait_until then return math.ceil(wait_until - now) end
if fails + inflight >= free and inflight > 0 then return 1 end
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[4])
return 0
"""

# KEYS as above. ARGV: now, outcome (fail | ok | none), free, base delay, max delay.
_RECORD = """
local left = redis.call('DECR', KEYS[3])
if left <= 0 then redis.call('DEL', KEYS[3]) end
if ARGV[2] == 'none' then return 0 end
if ARGV[2] == 'ok' then
  redis.call('HSET', KEYS[1], 'fails', 0, 'until', 0)
  return 0
end
local fails = redis.call('HINCRBY', KEYS[1], 'fails', 1)
redis.call('EXPIRE', KEYS[1], 86400)
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 86400, 'NX')
local free = tonumber(ARGV[3])
if fails >= free then
  local delay = math.min(tonumber(ARGV[4]) * 2 ^ (fails - free), tonumber(ARGV[5]))
  redis.call('HSET', KEYS[1], 'until', tonumber(ARGV[1]) + delay)
end
return fails
"""


@dataclass(frozen=True)
class Rule:
    free_failures: int
    delay_seconds: int
    max_failures_per_day: int  # 0: no daily cap


class Attempt:
    """One identification attempt, admitted by every counter; report how it ended."""

    def __init__(self, throttle: Throttle, scopes: list[tuple[list[str], Rule]]):
        self._throttle = throttle
        self._scopes = scopes
        self._done = False

    def failed(self) -> None:
        self._finish("fail")

    def succeeded(self) -> None:
        self._finish("ok")

    def abandoned(self) -> None:
        """Nothing was learnt (the directory was down): count nothing against the user."""
        self._finish("none")

    def _finish(self, outcome: str) -> None:
        if self._done:
            return
        self._done = True
        now = time.time()
        for keys, rule in self._scopes:
            self._throttle._record(
                keys=keys,
                args=[now, outcome, rule.free_failures, rule.delay_seconds, MAX_DELAY_SECONDS],
            )

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._done:
            self.abandoned()


class Throttle:
    def __init__(self, client: redis.Redis, prefix: str, per_login: Rule, per_address: Rule):
        self.redis = client
        self.prefix = prefix
        self.rules = {"login": per_login, "address": per_address}
        self._acquire = client.register_script(_ACQUIRE)
        self._record = client.register_script(_RECORD)

    def _keys(self, scope: str, value: str) -> list[str]:
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
        base = f"{self.prefix}:throttle:{scope}:{digest}"
        return [base, f"{base}:day", f"{base}:inflight"]

    def attempt(self, login: str, address: str | None) -> Attempt:
        """Admit one attempt for ``login`` from ``address``, or raise Throttled."""
        wanted = [("login", login.strip().casefold()), ("address", address or "unknown")]
        admitted: list[tuple[list[str], Rule]] = []
        now = time.time()
        for scope, value in wanted:
            rule = self.rules[scope]
            keys = self._keys(scope, value)
            wait = self._acquire(
                keys=keys,
                args=[now, rule.free_failures, rule.max_failures_per_day, INFLIGHT_SECONDS],
            )
            if wait:
                Attempt(self, admitted).abandoned()  # give back what was taken
                raise Throttled(int(wait))
            admitted.append((keys, rule))
        return Attempt(self, admitted)
