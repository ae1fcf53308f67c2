"""One rate limiter: a fixed window counter per (name, scope), for every limit but the
identification throttle (whose delays and in-flight counts need scripts of their own).

« Recevoir un nouveau lien » and « Mon compte »'s address changes (per account and per
address, a day), « Mot de passe oublié » and « Débloquer mon compte » (per client address
and per account, an hour) all count here.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from .keys import Keys


@dataclass(frozen=True)
class Limit:
    name: str  # the key family's name: limit:<name>:<scope>
    most: int  # events allowed per window
    window_seconds: int


class RateLimiter:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.redis = client
        self.keys = keys

    def admit(self, limit: Limit, *scopes: str) -> bool:
        """Count one more event in each scope (one round trip); False once any is past the
        limit. The window starts at a scope's first event."""
        pipe = self.redis.pipeline()
        for scope in scopes:
            key = self.keys.limit(limit.name, scope)
            pipe.incr(key).expire(key, limit.window_seconds, nx=True)
        counts = pipe.execute()[::2]
        return max(counts) <= limit.most
