"""« Mon compte » sessions, in Redis, so that CAS single logout can end them.

The signed cookie only carries a random session id; Redis maps it to the login, the end of
the session's absolute lifetime and the SHA-256 of the CAS ticket it was opened with, and
that digest back to the id, so a logout request from CAS (which names the ticket) ends the
session wherever the user is. The ticket itself is never stored.

A session ends after ``idle_seconds`` without a request, and in any case ``max_seconds``
after the CAS login: activity never extends it past that.
"""

from __future__ import annotations

import math
import secrets
import time

import redis

from .keys import Keys
from .keys import digest as _digest


class AccountSessions:
    def __init__(self, client: redis.Redis, keys: Keys, idle_seconds: int, max_seconds: float):
        self.redis = client
        self.keys = keys
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds

    def _key(self, sid: str) -> str:
        return self.keys.session(sid)

    def _ticket_key(self, digest: str) -> str:
        return self.keys.session_ticket(digest)

    def _lifetime(self, ends: float) -> int:
        """Seconds the keys may live: the idle timeout, never past the absolute end."""
        return max(1, math.ceil(min(self.idle_seconds, ends - time.time())))

    def open(self, login: str, ticket: str) -> str:
        sid = secrets.token_urlsafe(32)
        digest = _digest(ticket)
        ends = time.time() + self.max_seconds
        lifetime = self._lifetime(ends)
        pipe = self.redis.pipeline()
        pipe.hset(self._key(sid), mapping={"login": login, "ticket": digest, "ends": repr(ends)})
        pipe.expire(self._key(sid), lifetime)
        pipe.set(self._ticket_key(digest), sid, ex=lifetime)
        pipe.execute()
        return sid

    def login_for(self, sid: str | None) -> str | None:
        """The login of a live session, its idle timer restarted; None if it ended."""
        if not sid:
            return None
        record = self.redis.hgetall(self._key(sid))
        if not record:
            return None
        ends = float(record.get("ends") or 0)
        if ends <= time.time():
            self.close(sid)
            return None
        lifetime = self._lifetime(ends)
        pipe = self.redis.pipeline(transaction=False)
        pipe.expire(self._key(sid), lifetime)
        pipe.expire(self._ticket_key(record["ticket"]), lifetime)
        pipe.execute()
        return record["login"]

    def close(self, sid: str | None) -> None:
        if not sid:
            return
        digest = self.redis.hget(self._key(sid), "ticket")
        pipe = self.redis.pipeline()
        pipe.delete(self._key(sid))
        if digest:
            pipe.delete(self._ticket_key(digest))
        pipe.execute()

    def close_by_ticket(self, ticket: str) -> bool:
        """CAS single logout: end the session opened with ``ticket``."""
        sid = self.redis.get(self._ticket_key(_digest(ticket)))
        self.close(sid)
        return sid is not None
