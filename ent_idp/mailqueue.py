"""The mail queue in Redis, and the worker loop that delivers it.

Requests only push rendered messages; ``ent-idp mail-worker`` sends them. A message moves
atomically from the queue to a processing list while it is being sent, so a worker that
dies mid-send leaves it there to be picked up at the next start; a failed send goes to a
delayed set and comes back after a growing pause, until it is older than ``max_age``.
"""

from __future__ import annotations

import json
import logging
import smtplib
import time
from collections.abc import Callable
from typing import Any

import redis

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 600
MAX_AGE_SECONDS = 3 * 24 * 3600

# Moves every delayed message whose time has come back to the queue.
_PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, raw in ipairs(due) do
  redis.call('ZREM', KEYS[1], raw)
  redis.call('LPUSH', KEYS[2], raw)
end
return #due
"""


class MailQueue:
    def __init__(self, client: redis.Redis, prefix: str):
        self.redis = client
        self.queue = f"{prefix}:mail:queue"
        self.processing = f"{prefix}:mail:processing"
        self.delayed = f"{prefix}:mail:delayed"
        self.dead = f"{prefix}:mail:dead"
        self._promote = client.register_script(_PROMOTE)

    def push(self, message: dict[str, Any], pipe: redis.client.Pipeline | None = None) -> None:
        """Queue a rendered message: ``to``, ``lang``, ``subject``, ``text``, ``html``."""
        raw = json.dumps({**message, "queued": time.time(), "attempts": 0})
        (pipe if pipe is not None else self.redis).lpush(self.queue, raw)

    def pending(self) -> int:
        pipe = self.redis.pipeline()
        pipe.llen(self.queue).llen(self.processing).zcard(self.delayed)
        return sum(pipe.execute())

    def recover(self) -> int:
        """Put back what a previous worker was sending when it stopped."""
        moved = 0
        while self.redis.lmove(self.processing, self.queue, "RIGHT", "LEFT"):
            moved += 1
        return moved

    def work_once(
        self, send: Callable[[dict], None], wait: float = 1.0, retry_seconds: int = 30
    ) -> bool:
        """Send at most one message; False when there was none to send."""
        self._promote(keys=[self.delayed, self.queue], args=[time.time()])
        raw = self.redis.blmove(self.queue, self.processing, wait, "RIGHT", "LEFT")
        if raw is None:
            return False
        message = json.loads(raw)
        try:
            send(message)
        except smtplib.SMTPRecipientsRefused as exc:
            log.error("mail to %s refused for good: %s", _masked(message["to"]), exc)
            self._finish(raw, dead=True)
        except (smtplib.SMTPException, OSError) as exc:
            self._retry(raw, message, retry_seconds, exc)
        else:
            log.info("mail sent to %s", _masked(message["to"]))
            self._finish(raw)
        return True

    def _finish(self, raw: str, dead: bool = False) -> None:
        pipe = self.redis.pipeline()
        pipe.lrem(self.processing, 1, raw)
        if dead:
            pipe.lpush(self.dead, raw)
        pipe.execute()

    def _retry(self, raw: str, message: dict, retry_seconds: int, exc: Exception) -> None:
        message["attempts"] += 1
        if time.time() - message["queued"] > MAX_AGE_SECONDS:
            log.error(
                "mail to %s dropped after %d attempts: %s",
                _masked(message["to"]),
                message["attempts"],
                exc,
            )
            self._finish(raw, dead=True)
            return
        delay = min(retry_seconds * 2 ** (message["attempts"] - 1), MAX_BACKOFF_SECONDS)
        log.warning("mail to %s not sent (%s); retry in %ds", _masked(message["to"]), exc, delay)
        pipe = self.redis.pipeline()
        pipe.lrem(self.processing, 1, raw)
        pipe.zadd(self.delayed, {json.dumps(message): time.time() + delay})
        pipe.execute()


def _masked(address: str) -> str:
    """``a***@example.net``: enough to follow a message in the log, not to harvest it."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"
