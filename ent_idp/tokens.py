"""Single-use tokens for the links we mail: random, stored hashed, bound to a purpose.

A record lives in Redis under the SHA-256 of the token, so the token itself is never
stored and a lookup compares no secret. Records outlive their expiry by a grace period so
an expired or used link can still say what happened and offer a new one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

import redis

GRACE_SECONDS = 30 * 24 * 3600


class TokenStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    USED = "used"
    SUPERSEDED = "superseded"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class TokenRecord:
    status: TokenStatus
    purpose: str = ""
    dn: str = ""
    address: str = ""
    login: str = ""
    expires: float = 0.0
    previous: str | None = None  # for an address change: the address it replaces


# Atomically: check the record and mark it used. Returns the status before.
_CONSUME = """
local purpose = redis.call('HGET', KEYS[1], 'purpose')
if not purpose or purpose ~= ARGV[1] then return 'unknown' end
if redis.call('HEXISTS', KEYS[1], 'used') == 1 then return 'used' end
if redis.call('HEXISTS', KEYS[1], 'superseded') == 1 then return 'superseded' end
if tonumber(redis.call('HGET', KEYS[1], 'expires')) < tonumber(ARGV[2]) then
  return 'expired'
end
redis.call('HSET', KEYS[1], 'used', ARGV[2])
return 'valid'
"""

# Mark a record superseded, unless it is gone (never recreate an expired record).
_VOID = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'superseded', '1')
return 1
"""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Tokens:
    def __init__(self, client: redis.Redis, prefix: str):
        self.redis = client
        self.prefix = prefix
        self._consume = client.register_script(_CONSUME)

    def _key(self, token: str) -> str:
        return f"{self.prefix}:token:{_digest(token)}"

    def _latest_key(self, purpose: str, dn: str) -> str:
        return f"{self.prefix}:token-latest:{purpose}:{hashlib.sha256(dn.encode()).hexdigest()}"

    def issue(
        self,
        purpose: str,
        *,
        dn: str,
        address: str,
        login: str,
        lifetime: int,
        previous: str | None = None,
        pipe: redis.client.Pipeline | None = None,
    ) -> str:
        """A new token (256 bits); it voids the account's older tokens of the same purpose.

        With ``pipe`` the writes join the caller's transaction.
        """
        token = secrets.token_urlsafe(32)
        key = self._key(token)
        latest_key = self._latest_key(purpose, dn)
        older = self.redis.get(latest_key)
        p = pipe if pipe is not None else self.redis.pipeline()
        if older:
            p.hset(older, "superseded", "1")
        p.hset(
            key,
            mapping={
                "purpose": purpose,
                "dn": dn,
                "address": address,
                "login": login,
                "expires": f"{time.time() + lifetime:.0f}",
                **({"previous": previous} if previous is not None else {}),
            },
        )
        p.expire(key, lifetime + GRACE_SECONDS)
        p.set(latest_key, key, ex=lifetime + GRACE_SECONDS)
        if pipe is None:
            p.execute()
        return token

    def peek(self, token: str, purpose: str) -> TokenRecord:
        """What the token is for and whether it may still be used; consumes nothing."""
        record = self.redis.hgetall(self._key(token)) if token else {}
        if not record or record.get("purpose") != purpose:
            return TokenRecord(TokenStatus.UNKNOWN)
        if "used" in record:
            status = TokenStatus.USED
        elif "superseded" in record:
            status = TokenStatus.SUPERSEDED
        elif float(record["expires"]) < time.time():
            status = TokenStatus.EXPIRED
        else:
            status = TokenStatus.VALID
        return TokenRecord(
            status=status,
            purpose=record["purpose"],
            dn=record["dn"],
            address=record["address"],
            login=record.get("login", ""),
            expires=float(record["expires"]),
            previous=record.get("previous"),
        )

    def consume(self, token: str, purpose: str) -> TokenRecord:
        """Use the token once: of two concurrent calls, one only gets VALID."""
        if not token:
            return TokenRecord(TokenStatus.UNKNOWN)
        status = TokenStatus(self._consume(keys=[self._key(token)], args=[purpose, time.time()]))
        return dataclasses.replace(self.peek(token, purpose), status=status)

    def release(self, token: str) -> None:
        """Undo ``consume`` when the work the token allowed could not be done."""
        self.redis.hdel(self._key(token), "used")

    def void(self, purpose: str, dn: str) -> bool:
        """Void the account's pending token of ``purpose`` (an admin reset the account).

        Only the latest one can still be valid: each new token voids the one before.
        Returns whether there was one.
        """
        latest_key = self._latest_key(purpose, dn)
        key = self.redis.get(latest_key)
        if not key:
            return False
        self.redis.delete(latest_key)
        return bool(self.redis.eval(_VOID, 1, key))
