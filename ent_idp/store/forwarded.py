"""The last untrusted peer seen sending a forwarded header, for ``ent-idp check``.

Either that peer is a proxy missing from ``trusted_proxies`` (every user behind it shares
its address), or someone is sending forged headers (ignored). One write a minute per
process at most, so a flood of forged headers costs nothing.
"""

from __future__ import annotations

import json
import logging
import time

import redis

from ..errors import StoreUnavailable
from .keys import NOTE_SECONDS, Keys

log = logging.getLogger(__name__)

NOTE_EVERY_SECONDS = 60


class ForwardedHeaderLog:
    def __init__(self, client: redis.Redis, keys: Keys):
        self.redis = client
        self.key = keys.untrusted_forwarded()
        self._last_note = 0.0  # per process (this object lives on app.extensions)

    def note(self, peer: str, header: str) -> None:
        now = time.time()
        if now - self._last_note < NOTE_EVERY_SECONDS:
            return
        self._last_note = now
        seen = json.dumps({"peer": peer, "header": header, "at": now})
        try:
            self.redis.set(self.key, seen, ex=NOTE_SECONDS)
        except StoreUnavailable as exc:  # a note must never break a request
            log.warning("could not note an untrusted forwarded header: %s", exc)

    def last(self) -> dict | None:
        raw = self.redis.get(self.key)
        return json.loads(raw) if raw else None
