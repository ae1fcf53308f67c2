"""Requests waiting for the mail worker (« Mot de passe oublié », « Débloquer mon compte »,
« Identifiant oublié »).

A bounded list per kind: at most ``most`` requests wait (past it, a new one is dropped and
the caller audits it; the page is the same), kept ``REQUESTS_TTL_SECONDS`` after the last one
if no worker takes them. The worker takes the oldest first and puts one back when the
directory could not answer.
"""

from __future__ import annotations

from .client import Client
from .keys import REQUESTS_TTL_SECONDS, Keys


class RequestQueue:
    def __init__(self, client: Client, keys: Keys, name: str, most: int):
        self.redis = client
        self.key = keys.requests(name)
        self.most = most

    def push(self, raw: str) -> bool:
        """Add a request unless ``most`` wait already; False when it was dropped.

        The page then says a mail is on its way: the request is acknowledged by the
        replicas, as a transaction is (``Client.acknowledged_pipeline``).
        """
        pipe = self.redis.acknowledged_pipeline()
        # LTRIM keeps the oldest (right-hand) requests: past the bound, the new one goes.
        pipe.lpush(self.key, raw).ltrim(self.key, -self.most, -1)
        pipe.expire(self.key, REQUESTS_TTL_SECONDS)
        length, _, _ = pipe.execute()
        return length <= self.most

    def pop(self) -> str | None:
        """The oldest request, taken off the list; None when there is none."""
        return self.redis.rpop(self.key)

    def put_back(self, raw: str) -> None:
        """The request comes first again, next time."""
        pipe = self.redis.pipeline()
        pipe.rpush(self.key, raw).expire(self.key, REQUESTS_TTL_SECONDS)
        pipe.execute()
