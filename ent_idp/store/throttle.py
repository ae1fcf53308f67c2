"""Attempt counters in Redis, per client address and per account, checked before any bind.

The default follows CNIL délibération 2022-100, case 2: after a few free failures each new
one costs a growing delay (at least a minute after 5 failures for an account), and an
account gets at most 25 failures in 24 hours. An address gets more free failures and a
shorter delay: it slows one client trying a password against many logins without locking
those accounts (and without locking out a school whose pupils share one address).

An attempt is admitted in two steps, each one atomic Lua script: first per client address,
before any LDAP call; then, once the search has found the entry, per **entry** (its DN),
so every spelling the directory matches to it (``ＡLICE.martin``, ``alice.martin\\u00a0``…)
shares one counter. A login the directory does not know is counted by its folded form
(``fold_login``: what the directory's caseIgnoreMatch does). A client holding a device
cookie for the entry (it succeeded there before, or proved it owns the verified backup
address) is counted in a bucket of its own, with the same rule: someone else's failures do
not hold it back. Attempts in flight count against every limit, so parallel attempts never
exceed them.

Whatever the buckets, the binds that fail on one entry are kept below ppolicy's lockout
(``DirectoryGuard``: fewer than ``pwdMaxFailure`` in any ``pwdFailureCountInterval``), so
the directory never locks an account because of attempts made here, and the pupil can still
log in at CAS.

A success resets the bucket it was counted in, nothing else: never the address's counters,
never another login's.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import redis

from ..errors import Throttled
from .keys import INFLIGHT_SECONDS, Keys, fold_login

MAX_DELAY_SECONDS = 3600

# Both scripts walk the scopes' keys: a counter has three (state hash, day counter,
# in-flight counter), a guard two (failure times, in-flight counter). Returns the first
# key, the day counter (counters only), the in-flight key, and where the next scope starts.
_SCOPE_KEYS = """
local function scope_keys(kind, k)
  if kind == 'c' then return KEYS[k], KEYS[k + 1], KEYS[k + 2], k + 3 end
  return KEYS[k], nil, KEYS[k + 1], k + 2
end
"""

# KEYS: per scope its keys (counter: state hash, day counter, in-flight counter; guard:
# failure times, in-flight counter), then the in-flight keys the attempt already holds.
# ARGV: now, in-flight lifetime, how many held keys; per scope: kind ('c' counter, 'g'
# guard) and two limits (counter: free failures, max per day; guard: max, window).
# Returns the seconds to wait (0: admitted, and now in flight in each scope). A refused
# attempt lets go of the keys it held: it ends there.
_ACQUIRE = (
    _SCOPE_KEYS
    + """
local now, ttl, held = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local last = #KEYS - held
local k, a, flying, wait = 1, 4, {}, 0
while k <= last do
  local kind, first, second = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  a = a + 3
  local state, daily, inflight
  state, daily, inflight, k = scope_keys(kind, k)
  if kind == 'c' then
    local fails = tonumber(redis.call('HGET', state, 'fails') or '0')
    local wait_until = tonumber(redis.call('HGET', state, 'until') or '0')
    local day = tonumber(redis.call('GET', daily) or '0')
    local n = tonumber(redis.call('GET', inflight) or '0')
    if second > 0 and day + n >= second then
      local left = redis.call('TTL', daily)
      wait = left > 0 and left or 60
    elseif now < wait_until then
      wait = math.ceil(wait_until - now)
    elseif fails + n >= first and n > 0 then
      wait = 1
    end
  else
    local failures = state
    redis.call('ZREMRANGEBYSCORE', failures, '-inf', now - second)
    local n = redis.call('ZCARD', failures) + tonumber(redis.call('GET', inflight) or '0')
    if n >= first - 1 then
      local oldest = redis.call('ZRANGE', failures, 0, 0, 'WITHSCORES')
      wait = oldest[2] and math.max(1, math.ceil(tonumber(oldest[2]) + second - now)) or 1
    end
  end
  if wait > 0 then
    for i = last + 1, #KEYS do
      if redis.call('DECR', KEYS[i]) <= 0 then redis.call('DEL', KEYS[i]) end
    end
    return wait
  end
  flying[#flying + 1] = inflight
end
for _, key in ipairs(flying) do
  redis.call('INCR', key)
  redis.call('EXPIRE', key, ttl)
end
return 0
"""
)

# KEYS as above, without held keys. ARGV: now, outcome (fail | ok | none), max delay, the
# attempt's id; per scope: kind and three numbers (counter: free failures, base delay,
# whether a success resets it; guard: window, 0, 0).
_RECORD = (
    _SCOPE_KEYS
    + """
local now, outcome, max_delay, id = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4]
local k, a = 1, 5
while k <= #KEYS do
  local kind, p1, p2, p3 = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), ARGV[a + 3]
  a = a + 4
  local state, daily, inflight
  state, daily, inflight, k = scope_keys(kind, k)
  if kind == 'c' then
    if outcome == 'ok' and p3 == '1' then
      redis.call('DEL', state)
    elseif outcome == 'fail' then
      local fails = redis.call('HINCRBY', state, 'fails', 1)
      redis.call('EXPIRE', state, 86400)
      redis.call('INCR', daily)
      redis.call('EXPIRE', daily, 86400, 'NX')
      if fails >= p1 then
        redis.call('HSET', state, 'until', now + math.min(p2 * 2 ^ (fails - p1), max_delay))
      end
    end
  else
    local failures = state
    if outcome == 'ok' then
      redis.call('DEL', failures)
    elseif outcome == 'fail' then
      redis.call('ZADD', failures, now, id)
      redis.call('EXPIRE', failures, p1)
    end
  end
  if redis.call('DECR', inflight) <= 0 then redis.call('DEL', inflight) end
end
return 0
"""
)


@dataclass(frozen=True)
class Rule:
    free_failures: int
    delay_seconds: int
    max_failures_per_day: int  # 0: no daily cap


@dataclass(frozen=True)
class DirectoryGuard:
    """The directory's own lockout (ppolicy's pwdMaxFailure, pwdFailureCountInterval)."""

    max_failures: int  # 0: no guard
    window_seconds: int


@dataclass(frozen=True)
class _Scope:
    keys: tuple[str, ...]
    acquire: tuple  # kind and two limits
    record: tuple  # kind and three numbers

    @property
    def inflight(self) -> str:
        return self.keys[-1]


class Attempt:
    """One identification attempt, admitted scope by scope; report how it ended."""

    def __init__(self, throttle: Throttle, scopes: list[_Scope]):
        self._throttle = throttle
        self._scopes = scopes
        self._id = secrets.token_hex(8)
        self._done = False

    def admit_account(
        self, dn: str | None, login: str, device: str | None = None, bind: bool = False
    ) -> None:
        """The second step, once the search is done: per entry (or per folded login).

        ``device``: the client's device id for this entry (its own bucket); ``bind``: a
        bind on the entry itself will follow (the directory's lockout is then guarded).
        Raises Throttled, and the attempt is over.
        """
        scopes = self._throttle.account_scopes(dn, login, device, bind)
        try:
            self._throttle.acquire(scopes, held=self._scopes)
        except Throttled:
            self._done = True
            raise
        self._scopes = self._scopes + scopes

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
        self._throttle.record(self._scopes, outcome, self._id)

    def __enter__(self) -> Attempt:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._done:
            self.abandoned()


class Throttle:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        per_login: Rule,
        per_address: Rule,
        directory_guard: DirectoryGuard = DirectoryGuard(0, 0),
    ):
        self.redis = client
        self.keys = keys
        self.per_login = per_login
        self.per_address = per_address
        self.guard = directory_guard
        self._acquire = client.register_script(_ACQUIRE)
        self._record = client.register_script(_RECORD)

    # -- keys: each family, hashed (no login or DN in clear in Redis) ------------------

    def key(self, scope: str, value: str) -> str:
        """The state key of a counter: scope "address", "entry", "login", "device" or "binds"."""
        return self.keys.throttle(scope, value)

    def _counter(self, scope: str, value: str, rule: Rule, resets: bool) -> _Scope:
        base = self.key(scope, value)
        return _Scope(
            keys=(base, f"{base}:day", f"{base}:inflight"),
            acquire=("c", rule.free_failures, rule.max_failures_per_day),
            record=("c", rule.free_failures, rule.delay_seconds, 1 if resets else 0),
        )

    def account_scopes(
        self, dn: str | None, login: str, device: str | None, bind: bool
    ) -> list[_Scope]:
        if dn is None:
            return [self._counter("login", fold_login(login), self.per_login, resets=True)]
        entry = dn.lower()
        if device:
            scopes = [self._counter("device", f"{entry}\n{device}", self.per_login, resets=True)]
        else:
            scopes = [self._counter("entry", entry, self.per_login, resets=True)]
        if bind and self.guard.max_failures:
            base = self.key("binds", entry)
            window = self.guard.window_seconds
            scopes.append(
                _Scope(
                    keys=(base, f"{base}:inflight"),
                    acquire=("g", self.guard.max_failures, window),
                    record=("g", window, 0, 0),
                )
            )
        return scopes

    # -- the two steps and the outcome -------------------------------------------------

    def attempt(self, address: str) -> Attempt:
        """Admit one attempt from ``address`` (a throttle scope), or raise Throttled.

        The first step, before any LDAP call; ``Attempt.admit_account`` is the second.
        """
        scopes = [self._counter("address", address, self.per_address, resets=False)]
        self.acquire(scopes, held=[])
        return Attempt(self, scopes)

    def acquire(self, scopes: list[_Scope], held: list[_Scope]) -> None:
        """Take every scope in one script (one round trip), or none and let ``held`` go."""
        keys = [key for scope in scopes for key in scope.keys] + [s.inflight for s in held]
        args: list = [time.time(), INFLIGHT_SECONDS, len(held)]
        for scope in scopes:
            args += scope.acquire
        wait = self._acquire(keys=keys, args=args)
        if wait:
            raise Throttled(int(wait))

    def record(self, scopes: list[_Scope], outcome: str, attempt_id: str) -> None:
        keys = [key for scope in scopes for key in scope.keys]
        args: list = [time.time(), outcome, MAX_DELAY_SECONDS, attempt_id]
        for scope in scopes:
            args += scope.record
        self._record(keys=keys, args=args)

    def clear(self, dn: str, login: str) -> None:
        """Forget an account's failures (``ent-idp reset``: the help desk lifts the lock)."""
        entry, folded = self.key("entry", dn.lower()), self.key("login", fold_login(login))
        self.redis.delete(
            entry, f"{entry}:day", folded, f"{folded}:day", self.key("binds", dn.lower())
        )
