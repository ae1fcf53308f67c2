"""The mail queue in Redis, and the worker loop that delivers it.

Requests only push rendered messages; ``ent-idp mail-worker`` sends them. A message moves
atomically from the queue to the worker's own processing list while it is being sent, so a
worker that dies mid-send leaves it there, to be put back once its lease has ended
(``mail_workers``), never while it is alive. A send that fails for a
reason that may pass (the server down or answering 4xx, a timeout, a TLS failure) goes to
a delayed set and comes back after a growing pause, until it is older than ``max_age``.
Anything else (a record that is not a message, an address SMTP cannot carry, a 5xx refusal)
cannot succeed by retrying: the message goes to the dead list with its reason and the
worker goes on with the next one.

Each outcome is counted (``ent_idp_mails_total{result}``: sent, retried, dead) and logged
with the id of the request that queued the message. A message being retried is also noted
in ``mail:waiting`` with the time it was first queued, so the age of the oldest message
waiting (``snapshot``: /readyz and the metrics) is read in one round trip, whichever list
holds it.
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from ..logs import FIELDS
from ..mail_records import NotAMessage, check_message, masked
from ..metrics import MAILS, MailResult
from .keys import DEAD_TTL_SECONDS, MAIL_WAITING_SECONDS, Keys, digest
from .mail_workers import LEASE_SECONDS, WorkerLeases
from .transaction import Transactions

log = logging.getLogger("ent_idp.mailqueue")

MAX_BACKOFF_SECONDS = 600
MAX_AGE_SECONDS = 3 * 24 * 3600
# The dead list keeps the newest DEAD_MAX messages, for DEAD_TTL_SECONDS after the last one.
DEAD_MAX = 1000

# Moves every delayed message whose time has come back to the queue.
_PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, raw in ipairs(due) do
  redis.call('ZREM', KEYS[1], raw)
  redis.call('LPUSH', KEYS[2], raw)
end
return #due
"""


def is_transient(exc: BaseException) -> bool:
    """Whether a failed send may succeed later: network and TLS trouble, 4xx answers."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError | smtplib.SMTPSenderRefused):
        return exc.smtp_code < 500
    return isinstance(exc, smtplib.SMTPException | OSError)


@dataclass(frozen=True)
class QueueSnapshot:
    depth: int  # messages waiting: queued, being sent, waiting for a retry
    oldest_seconds: float  # how long the oldest of them has waited; 0 if none
    dead: int  # entries in the dead list


class MailQueue:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        transaction: Transactions,
        lease_seconds: float = LEASE_SECONDS,
    ):
        self.redis = client
        self.transaction = transaction
        self.queue = keys.mail("queue")
        self.workers = WorkerLeases(client, keys, lease_seconds)
        self.delayed = keys.mail("delayed")
        self.dead = keys.mail("dead")
        self.waiting = keys.mail("waiting")
        self._promote = client.register_script(_PROMOTE)

    def push(self, message: dict[str, Any]) -> None:
        """Queue a rendered message: ``to``, ``lang``, ``subject``, ``text``, ``html``.

        Raises NotPlainAddress (and queues nothing) for a recipient SMTP cannot carry.
        """
        check_message(message)
        raw = json.dumps({**message, "queued": time.time(), "attempts": 0})
        with self.transaction():  # its own, acknowledged, unless one is open
            self.transaction.writer().lpush(self.queue, raw)

    def pending(self) -> int:
        pipe = self.redis.pipeline()
        pipe.llen(self.queue).zcard(self.delayed)
        for processing in self.workers.processing_lists():
            pipe.llen(processing)
        return sum(pipe.execute())

    def snapshot(self, now: float | None = None) -> QueueSnapshot:
        """Depth, age of the oldest message waiting, dead entries: one round trip.

        The oldest is the first queued of the queue (its right end), of the messages being
        sent (each worker's, and the list of earlier versions), and of those being retried
        (``mail:waiting``).
        """
        lists = self.workers.processing_lists()
        pipe = self.redis.pipeline(transaction=False)
        pipe.llen(self.queue).zcard(self.delayed).llen(self.dead)
        pipe.lindex(self.queue, -1).zrange(self.waiting, 0, 0, withscores=True)
        for processing in lists:
            pipe.llen(processing).lrange(processing, 0, 9)
        queued, delayed, dead, last, retried, *held = pipe.execute()
        processing = sum(held[0::2])
        sending = [raw for batch in held[1::2] for raw in batch]
        times = [_queued_time(raw) for raw in [last, *sending] if raw is not None]
        times += [score for _, score in retried]
        times = [t for t in times if t is not None]
        now = time.time() if now is None else now
        depth = queued + processing + delayed
        oldest = max(0.0, now - min(times)) if times and depth else 0.0
        return QueueSnapshot(depth=depth, oldest_seconds=oldest, dead=dead)

    def start_worker(self) -> int:
        """This process becomes a worker (a lease of its own); returns how many messages
        dead workers were sending, put back in the queue."""
        return self.workers.start()

    def stop_worker(self) -> None:
        self.workers.stop()

    def reclaim(self) -> int:
        """Put back what workers whose lease ended were sending (each worker does it now
        and then: a worker killed on one host is covered by the others)."""
        return self.workers.reclaim()

    def requeue_dead(self) -> tuple[int, int]:
        """Queue the dead messages again, oldest first, as new ones (after the cause is
        fixed: a mail server's configuration, say). Records that are not messages, or that
        still cannot be sent, stay. Returns (queued again, left)."""
        queued = left = 0
        for _ in range(self.redis.llen(self.dead)):
            raw = self.redis.lindex(self.dead, -1)
            if raw is None:
                break
            message = _dead_message(raw)
            pipe = self.redis.pipeline()
            pipe.rpop(self.dead)
            if message is None:
                pipe.lpush(self.dead, raw)  # to the other end: each record is seen once
                left += 1
            else:
                pipe.lpush(
                    self.queue, json.dumps({**message, "queued": time.time(), "attempts": 0})
                )
                queued += 1
            pipe.execute()
        return queued, left

    def work_once(
        self, send: Callable[[dict], None], wait: float = 1.0, retry_seconds: int = 30
    ) -> bool:
        """Send at most one message; False when there was none to send."""
        if self.workers.worker_id is None:
            self.workers.start()  # called without start_worker (the tests' deliver)
        self._promote(keys=[self.delayed, self.queue], args=[time.time()])
        raw = self.redis.blmove(self.queue, self.workers.mine, wait, "RIGHT", "LEFT")
        if raw is None:
            return False
        record = message = None
        try:
            record = json.loads(raw)
            message = _checked(record)
            send(message)
        except Exception as exc:  # whatever it is, one message must not stop the worker
            if message is not None and is_transient(exc):
                self._retry(raw, message, retry_seconds, exc)
            else:
                self._bury(raw, record, _reason(exc, record))
        else:
            MAILS.labels(MailResult.SENT.value).inc()
            log.info("mail sent to %s", masked(message["to"]), extra=_about(message))
            self._finish(raw, message)
        return True

    def _finish(self, raw: str, message: dict) -> None:
        pipe = self.redis.pipeline()
        pipe.lrem(self.workers.mine, 1, raw)
        pipe.zrem(self.waiting, _waiting_id(message))
        pipe.execute()

    def _bury(self, raw: str, record: Any, reason: str) -> None:
        """Move a message that cannot be sent to the dead list, with its reason and time."""
        MAILS.labels(MailResult.DEAD.value).inc()
        log.error(
            "mail to %s moved to the dead list: %s",
            _recipient(record),
            reason,
            extra=_about(record),
        )
        entry = {"reason": reason, "at": time.time()}
        entry.update({"message": record} if isinstance(record, dict) else {"raw": raw})
        pipe = self.redis.pipeline()
        pipe.lrem(self.workers.mine, 1, raw)
        if isinstance(record, dict) and isinstance(record.get("queued"), int | float):
            pipe.zrem(self.waiting, _waiting_id(record))
        pipe.lpush(self.dead, json.dumps(entry))
        pipe.ltrim(self.dead, 0, DEAD_MAX - 1)
        pipe.expire(self.dead, DEAD_TTL_SECONDS)
        pipe.execute()

    def _retry(self, raw: str, message: dict, retry_seconds: int, exc: Exception) -> None:
        message["attempts"] += 1
        if time.time() - message["queued"] > MAX_AGE_SECONDS:
            reason = f"not sent after {message['attempts']} attempts: {_reason(exc, message)}"
            self._bury(raw, message, reason)
            return
        delay = min(retry_seconds * 2 ** (message["attempts"] - 1), MAX_BACKOFF_SECONDS)
        MAILS.labels(MailResult.RETRIED.value).inc()
        log.warning(
            "mail to %s not sent (%s); retry in %ds",
            masked(message["to"]),
            _reason(exc, message),
            delay,
            extra=_about(message),
        )
        pipe = self.redis.pipeline()
        pipe.lrem(self.workers.mine, 1, raw)
        pipe.zadd(self.delayed, {json.dumps(message): time.time() + delay})
        pipe.zadd(self.waiting, {_waiting_id(message): message["queued"]}, nx=True)
        pipe.expire(self.waiting, MAIL_WAITING_SECONDS)
        pipe.execute()


def _waiting_id(message: dict) -> str:
    """A message's name in ``mail:waiting``: the same through every retry (its record is
    rewritten at each one), never its address in clear."""
    return f"{message['queued']!r}:{digest(str(message.get('to')))[:16]}"


def _queued_time(raw: str) -> float | None:
    try:
        queued = json.loads(raw).get("queued")
    except (ValueError, AttributeError):
        return None
    return queued if isinstance(queued, int | float) else None


def _about(record: Any) -> dict:
    """The log fields of a message: the request that queued it, to follow it end to end."""
    request_id = record.get("request_id") if isinstance(record, dict) else None
    return {FIELDS: {"request_id": request_id}} if isinstance(request_id, str) else {}


def _checked(record: Any) -> dict[str, Any]:
    """The message a queue record holds, with its bookkeeping; ValueError if it holds none."""
    message = check_message(record)
    if not isinstance(message.get("queued"), int | float):
        raise NotAMessage("field 'queued' missing or not a number")
    if not isinstance(message.get("attempts"), int):
        raise NotAMessage("field 'attempts' missing or not a number")
    return message


def _dead_message(raw: str) -> dict[str, Any] | None:
    """The message a dead-list entry holds, if it could be sent now."""
    try:
        message = json.loads(raw).get("message")
        return check_message(message)
    except (ValueError, AttributeError):
        return None


def _reason(exc: BaseException, record: Any) -> str:
    """What went wrong, for the log and the dead list; the recipient's address masked."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        detail = "; ".join(
            f"{code} {answer.decode(errors='replace')}" for code, answer in exc.recipients.values()
        )
    elif isinstance(exc, smtplib.SMTPResponseException):
        detail = f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}"
    else:
        detail = str(exc)
    reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    to = record.get("to") if isinstance(record, dict) else None
    if isinstance(to, str) and to:
        reason = re.sub(re.escape(to), masked(to), reason, flags=re.IGNORECASE)
    return reason


def _recipient(record: Any) -> str:
    """The masked recipient of a queue record, or ``?`` when it names none."""
    to = record.get("to") if isinstance(record, dict) else None
    return masked(to) if isinstance(to, str) else "?"
