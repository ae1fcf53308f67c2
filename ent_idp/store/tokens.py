"""Single-use tokens for the links we mail: random, stored hashed, bound to a purpose.

A record lives in Redis under the SHA-256 of the token, so the token itself is never
stored and a lookup compares no secret. Records outlive their expiry by a grace period so
an expired or used link can still say what happened (and, while it is the account's latest,
offer a new one).

Each (purpose, account) keeps a set of the records that may still be valid. Issuing a token
supersedes every member and records the new one, in one Lua script: of two issues at the
same moment, exactly one token stays valid. Voiding (an admin reset) marks every member.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

import redis

from .keys import TOKEN_GRACE_SECONDS, Keys
from .transaction import Transactions


class TokenPurpose(StrEnum):
    """What a link is for (the value is stored in Redis: never change one)."""

    VALIDATION = "validate-backup-mail"  # a backup address, or a change of it
    FORGOTTEN_PASSWORD = "reset-password"  # « Mot de passe oublié »
    UNLOCK = "unlock-device"  # « Débloquer mon compte »


class TokenStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    USED = "used"
    SUPERSEDED = "superseded"  # a newer link of the same purpose, or the address changed
    VOIDED = "voided"  # an admin reset the account after it was sent
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
if redis.call('HEXISTS', KEYS[1], 'voided') == 1 then return 'voided' end
if redis.call('HEXISTS', KEYS[1], 'superseded') == 1 then return 'superseded' end
if tonumber(redis.call('HGET', KEYS[1], 'expires')) < tonumber(ARGV[2]) then
  return 'expired'
end
redis.call('HSET', KEYS[1], 'used', ARGV[2])
return 'valid'
"""

# Mark, with field ARGV[1], every record of the live set KEYS[1] and the one a version
# before this one pointed at (KEYS[2], "token-latest"), then forget them. A record already
# gone is not recreated. Returns how many were marked.
_MARK_ALL = """
local function mark(key)
  if redis.call('EXISTS', key) == 1 then
    redis.call('HSET', key, ARGV[1], '1')
    return 1
  end
  return 0
end
local marked = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do marked = marked + mark(key) end
local legacy = redis.call('GET', KEYS[2])
if legacy then marked = marked + mark(legacy) end
redis.call('DEL', KEYS[1], KEYS[2])
"""

_VOID = _MARK_ALL + "return marked\n"

# Supersede every live record (as above), then write the new one (KEYS[3]) and make it the
# only member of the live set. ARGV: 'superseded', lifetime in Redis, then field/value pairs.
_ISSUE = (
    _MARK_ALL
    + """
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[3], unpack(fields))
redis.call('EXPIRE', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[1], KEYS[3])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return marked
"""
)


class Tokens:
    def __init__(self, client: redis.Redis, keys: Keys, transaction: Transactions):
        self.redis = client
        self.keys = keys
        self.transaction = transaction
        self._consume = client.register_script(_CONSUME)
        self._issue = client.register_script(_ISSUE)
        self._void = client.register_script(_VOID)

    def _key(self, token: str) -> str:
        return self.keys.token(token)

    def _account_keys(self, purpose: str, dn: str) -> list[str]:
        """The live set of (purpose, account), and the single pointer older versions kept."""
        return [self.keys.token_live(purpose, dn), self.keys.token_latest(purpose, dn)]

    def issue(
        self,
        purpose: TokenPurpose,
        *,
        dn: str,
        address: str,
        login: str,
        lifetime: int,
        previous: str | None = None,
    ) -> str:
        """A new token (256 bits); it supersedes every other token of (purpose, account).

        Inside ``store.transaction()`` the script joins the transaction.
        """
        token = secrets.token_urlsafe(32)
        fields = {
            "purpose": purpose.value,
            "dn": dn,
            "address": address,
            "login": login,
            "expires": f"{time.time() + lifetime:.0f}",
            **({"previous": previous} if previous is not None else {}),
        }
        pairs = [item for field in fields.items() for item in field]
        self.transaction.run_script(
            self._issue,
            keys=[*self._account_keys(purpose, dn), self._key(token)],
            args=["superseded", lifetime + TOKEN_GRACE_SECONDS, *pairs],
        )
        return token

    def peek(self, token: str, purpose: TokenPurpose) -> TokenRecord:
        """What the token is for and whether it may still be used; consumes nothing."""
        record = self.redis.hgetall(self._key(token)) if token else {}
        if not record or record.get("purpose") != purpose.value:
            return TokenRecord(TokenStatus.UNKNOWN)
        if "used" in record:
            status = TokenStatus.USED
        elif "voided" in record:
            status = TokenStatus.VOIDED
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

    def consume(self, token: str, purpose: TokenPurpose) -> TokenRecord:
        """Use the token once: of two concurrent calls, one only gets VALID."""
        if not token:
            return TokenRecord(TokenStatus.UNKNOWN)
        status = TokenStatus(
            self._consume(keys=[self._key(token)], args=[purpose.value, time.time()])
        )
        return dataclasses.replace(self.peek(token, purpose), status=status)

    def release(self, token: str) -> None:
        """Undo ``consume`` when the work the token allowed could not be done."""
        self.redis.hdel(self._key(token), "used")

    def void(self, purpose: TokenPurpose, dn: str) -> int:
        """Void every token of (purpose, account) still on record (an admin reset it).

        Expired ones too: « Recevoir un nouveau lien » must not revive them. Returns how
        many there were.
        """
        return int(self._void(keys=self._account_keys(purpose, dn), args=["voided"]))
