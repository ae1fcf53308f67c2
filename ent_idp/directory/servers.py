"""Several LDAP servers: the order connections try them in, and which ones failed lately.

``[ldap] urls`` lists the providers for writes and user binds, ``[ldap] read_urls`` the
servers for reads that may lag behind a write; each list is one ``ServerOrder``. A new
connection tries the servers in their order, each at most once (so opening one is bounded by
the servers' count times ``[ldap] timeout``); a server that failed (refused, timed out, cut
off) goes to the end for ``[ldap] retry_failed_after`` seconds, and then takes its place
again. While every server has failed, each is still tried, oldest failure first: a directory
back after an outage is used at the next request, not after a penalty.

Writes go to one provider at a time: ``preferred()`` is where new connections go, and a
pooled connection to another server is not reused once the preferred one is back (the
Assertion control is checked on the provider the Modify reaches: two providers taking writes
for the same account at the same moment could both accept them).

Why not ldap3's ``ServerPool``: its servers are shared ``Server`` objects whose
``current_address`` every connection's open and close rewrites (one thread's close can make
another's open fail with "invalid server address"), it probes each server with a TCP
connection of its own before opening the real one, it sleeps ``POOLING_LOOP_TIMEOUT`` (a
process-wide 10 s) after each cycle, the last one included, and once every server is marked
off (``exhaust``) it refuses without trying until the period ends, so a one-second outage of a
single directory becomes a ten-second one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class ServerOrder:
    """``urls`` in their order, those that failed within ``retry_after`` seconds last."""

    def __init__(
        self,
        urls: tuple[str, ...],
        retry_after: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not urls:
            raise ValueError("no LDAP server")
        self.urls = tuple(urls)
        self.retry_after = retry_after
        self._clock = clock
        self._failed: dict[str, float] = {}  # url -> when it last failed
        self._lock = threading.Lock()

    def candidates(self) -> list[str]:
        """The servers to try, in order: the healthy ones, then the failed ones (oldest
        failure first)."""
        now = self._clock()
        with self._lock:
            failed = {url: at for url, at in self._failed.items() if now - at < self.retry_after}
        healthy = [url for url in self.urls if url not in failed]
        return healthy + sorted(failed, key=failed.__getitem__)

    def preferred(self) -> str:
        """Where a new connection goes now."""
        return self.candidates()[0]

    def failed(self, url: str) -> None:
        with self._lock:
            self._failed[url] = self._clock()

    def answered(self, url: str) -> None:
        with self._lock:
            self._failed.pop(url, None)
