"""Readiness: can this process serve users now? What /readyz and the metrics report.

Three checks, each one round trip: the directory answers the app account (a WhoAmI on a
pooled connection, a new bind if it was dropped), Redis takes a write, and the oldest mail
waiting is younger than ``[health] mail_queue_max_age_seconds`` (the mail worker runs and
the SMTP server takes its mail). A load balancer asks every second, from several places: a
report is reused for ``FRESH_SECONDS``, and only one thread probes at a time (the others get
the last report at once), so a directory that hangs holds one thread, never all of them.
A check that changes state is logged once, with its reason; a call never is.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum

from ..directory import AppDirectory
from ..errors import DirectoryUnavailable, StoreUnavailable
from ..store import QueueSnapshot, Store

log = logging.getLogger("ent_idp.health")

FRESH_SECONDS = 1.0
KEY = "ent_idp.readiness"  # where the factory keeps the app's Readiness, on app.extensions


class Check(StrEnum):
    DIRECTORY = "directory"
    REDIS = "redis"
    MAIL_QUEUE = "mail_queue"


@dataclass(frozen=True)
class Report:
    checks: dict[Check, bool]
    queue: QueueSnapshot | None = None  # None: Redis did not answer
    at: float = field(default_factory=time.monotonic)

    @property
    def ready(self) -> bool:
        return all(self.checks.values())

    def body(self) -> dict:
        """What /readyz answers: ok or failing per check, nothing more (no host, no error)."""
        return {
            "status": "ready" if self.ready else "not ready",
            "checks": {check.value: "ok" if ok else "failing" for check, ok in self.checks.items()},
        }


class Readiness:
    def __init__(self, directory: AppDirectory, store: Store, mail_queue_max_age: int):
        self.directory = directory
        self.store = store
        self.max_age = mail_queue_max_age
        self._lock = threading.Lock()
        self._last: Report | None = None

    def report(self) -> Report:
        """A report at most FRESH_SECONDS old; the last one while another thread probes."""
        last = self._last
        if last is not None and time.monotonic() - last.at < FRESH_SECONDS:
            return last
        if not self._lock.acquire(blocking=last is None):
            return last  # another thread is probing (the first caller waits for it)
        try:
            report, reasons = self._probe()
            self._log_changes(last, report, reasons)
            self._last = report
            return report
        finally:
            self._lock.release()

    def _probe(self) -> tuple[Report, dict[Check, str]]:
        checks, reasons = {}, {}
        try:
            self.directory.check_bind()
            checks[Check.DIRECTORY] = True
        except DirectoryUnavailable as exc:
            checks[Check.DIRECTORY], reasons[Check.DIRECTORY] = False, str(exc)
        queue = None
        try:
            self.store.mark_ready()
            queue = self.store.mail_queue.snapshot()
            checks[Check.REDIS] = True
        except StoreUnavailable as exc:
            checks[Check.REDIS], reasons[Check.REDIS] = False, str(exc)
        young = queue is not None and (not self.max_age or queue.oldest_seconds < self.max_age)
        checks[Check.MAIL_QUEUE] = young
        if not young:
            reasons[Check.MAIL_QUEUE] = (
                f"the oldest mail has waited {queue.oldest_seconds:.0f} s "
                f"([health] mail_queue_max_age_seconds = {self.max_age}): is the mail worker "
                "running, and does the SMTP server take its mail?"
                if queue is not None
                else "Redis does not answer"
            )
        return Report(checks, queue), reasons

    def _log_changes(self, last: Report | None, report: Report, reasons: dict) -> None:
        for check, ok in report.checks.items():
            was = last.checks.get(check) if last is not None else True
            if ok and was is False:
                log.info("readiness: %s ok again", check.value)
            elif not ok and was is not False:
                log.warning("readiness: %s failing: %s", check.value, reasons[check])
