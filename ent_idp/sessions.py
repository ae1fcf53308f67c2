"""« Mon compte » sessions, in Redis, so that CAS single logout can end them.

The signed cookie only carries a random session id; Redis maps it to the login and the
CAS ticket, and the ticket back to the id, so a logout request from CAS (which names the
ticket) ends the session wherever the user is.
"""

from __future__ import annotations

import hashlib
import secrets

import redis


class AccountSessions:
    def __init__(self, client: redis.Redis, prefix: str, idle_seconds: int):
        self.redis = client
        self.prefix = prefix
        self.idle_seconds = idle_seconds

    def _key(self, sid: str) -> str:
        return f"{self.prefix}:account-session:{sid}"

    def _ticket_key(self, ticket: str) -> str:
        return f"{self.prefix}:account-ticket:{hashlib.sha256(ticket.encode()).hexdigest()}"

    def open(self, login: str, ticket: str) -> str:
        sid = secrets.token_urlsafe(32)
        pipe = self.redis.pipeline()
        pipe.hset(self._key(sid), mapping={"login": login, "ticket": ticket})
        pipe.expire(self._key(sid), self.idle_seconds)
        pipe.set(self._ticket_key(ticket), sid, ex=self.idle_seconds)
        pipe.execute()
        return sid

    def login_for(self, sid: str | None) -> str | None:
        """The login of a live session, its idle timer restarted; None if it ended."""
        if not sid:
            return None
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self._key(sid))
        pipe.expire(self._key(sid), self.idle_seconds)
        record, _ = pipe.execute()
        if not record:
            return None
        self.redis.expire(self._ticket_key(record["ticket"]), self.idle_seconds)
        return record["login"]

    def close(self, sid: str | None) -> None:
        if not sid:
            return
        ticket = self.redis.hget(self._key(sid), "ticket")
        pipe = self.redis.pipeline()
        pipe.delete(self._key(sid))
        if ticket:
            pipe.delete(self._ticket_key(ticket))
        pipe.execute()

    def close_by_ticket(self, ticket: str) -> bool:
        """CAS single logout: end the session opened with ``ticket``."""
        sid = self.redis.get(self._ticket_key(ticket))
        self.close(sid)
        return sid is not None
