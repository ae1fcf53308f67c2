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

# For each scope (login, address), three KEYS: state hash, day counter, in-flight counter.
# ARGV: now, in-flight lifetime, then per scope: free failures, max per day.
# Returns the seconds to wait (0: the attempt may go on, and is now in flight everywhere).
_ACQUIRE = """
local now = tonumber(ARGV[1])
for i = 0, #KEYS / 3 - 1 do
  local state, daily, flying = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
  local free = tonumber(ARGV[3 + 2 * i])
  local per_day = tonumber(ARGV[4 + 2 * i])
  local fails = tonumber(redis.call('HGET', state, 'fails') or '0')
  local wait_until = tonumber(redis.call('HGET', state, 'until') or '0')
  local day = tonumber(redis.call('GET', daily) or '0')
  local inflight = tonumber(redis.call('GET', flying) or '0')
  if per_day > 0 and day + inflight >= per_day then
    local ttl = redis.call('TTL', daily)
    return ttl > 0 and ttl or 60
  end
  if now < wait_until then return math.ceil(wait_until - now) end
  if fails + inflight >= free and inflight > 0 then return 1 end
end
for i = 0, #KEYS / 3 - 1 do
  redis.call('INCR', KEYS[3 * i + 3])
  redis.call('EXPIRE', KEYS[3 * i + 3], ARGV[2])
end
return 0
"""

# KEYS as above. ARGV: now, outcome (fail | ok | none), max delay, then per scope: free
# failures, base delay.
_RECORD = """
local now = tonumber(ARGV[1])
for i = 0, #KEYS / 3 - 1 do
  local state, daily, flying = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
  local left = redis.call('DECR', flying)
  if left <= 0 then redis.call('DEL', flying) end
  if ARGV[2] == 'ok' then
    redis.call('HSET', state, 'fails', 0, 'until', 0)
  elseif ARGV[2] == 'fail' then
    local fails = redis.call('HINCRBY', state, 'fails', 1)
    redis.call('EXPIRE', state, 86400)
    redis.call('INCR', daily)
    redis.call('EXPIRE', daily, 86400, 'NX')
    local free = tonumber(ARGV[4 + 2 * i])
    if fails >= free then
      local delay = math.min(tonumber(ARGV[5 + 2 * i]) * 2 ^ (fails - free), tonumber(ARGV[3]))
      redis.call('HSET', state, 'until', now + delay)
    end
  end
end
return 0
"""


@dataclass(frozen=True)
class Rule:
    free_failures: int
    delay_seconds: int
    max_failures_per_day: int  # 0: no daily cap


class Attempt:
    """One identification attempt, admitted by every counter; report how it ended."""

    def __init__(self, throttle: Throttle, keys: list[str], rules: list[Rule]):
        self._throttle = throttle
        self._keys = keys
        self._rules = rules
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
        args: list = [time.time(), outcome, MAX_DELAY_SECONDS]
        for rule in self._rules:
            args += [rule.free_failures, rule.delay_seconds]
        self._throttle._record(keys=self._keys, args=args)

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
        """Admit one attempt for ``login`` from ``address``, or raise Throttled.

        Every counter is checked and taken in one script: one round trip, and no attempt is
        ever half admitted.
        """
        wanted = [("login", login.strip().casefold()), ("address", address or "unknown")]
        keys: list[str] = []
        rules: list[Rule] = []
        args: list = [time.time(), INFLIGHT_SECONDS]
        for scope, value in wanted:
            rule = self.rules[scope]
            keys += self._keys(scope, value)
            rules.append(rule)
            args += [rule.free_failures, rule.max_failures_per_day]
        wait = self._acquire(keys=keys, args=args)
        if wait:
            raise Throttled(int(wait))
        return Attempt(self, keys, rules)
