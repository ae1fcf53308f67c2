"""The metrics endpoint: Prometheus' text format, on a port of its own ([metrics] bind).

Never on the app's port (nginx refuses /metrics, and the port is not proxied), on the
loopback by default. What it serves: every counter and histogram of ``ent_idp.metrics``
(under gunicorn, the sum over the workers' files in ``$PROMETHEUS_MULTIPROC_DIR``), and what
is read when Prometheus asks: readiness (``ent_idp_ready``, ``ent_idp_ready_check``) for the
app, and the mail queue (``ent_idp_mail_queue_depth``, ``…_oldest_seconds``,
``ent_idp_mail_dead_depth``) for the app and the mail worker.

``ent-idp serve`` opens the socket once, in gunicorn's master, and each worker answers on it
(as gunicorn's own socket), so any live worker answers a scrape, with the totals of all.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler

from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.multiprocess import MultiProcessCollector

from ..core.health import Readiness, Report
from ..errors import StoreUnavailable
from ..settings.checks import host_and_port
from ..store import QueueSnapshot

log = logging.getLogger("ent_idp.metrics")

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS) or None


def listen(bind: str, where: str) -> socket.socket | None:
    """The listening socket for ``bind`` (HOST:PORT); None, logged, if it cannot be had.

    The app runs on without its metrics rather than not at all; Prometheus sees the target
    down (alert EntIdpDown) and the log says why.
    """
    host, port = host_and_port(bind, where)
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family)
    except OSError as exc:
        log.error("metrics: cannot listen on %s (%s): no metrics from this process", bind, exc)
        return None
    if not _loopback(host):
        log.warning(
            "metrics served on %s (%s): anyone who reaches this address reads them; keep "
            "it on the loopback or a network only Prometheus reaches",
            bind,
            where,
        )
    return sock


def serve(sock: socket.socket, registry: CollectorRegistry) -> ThreadingWSGIServer:
    """Answer scrapes on ``sock`` from a thread of this process."""
    host, port = sock.getsockname()[:2]
    server = ThreadingWSGIServer((host, port), _Quiet, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.server_name, server.server_port = str(host), port
    server.setup_environ()
    server.set_app(make_wsgi_app(registry))
    threading.Thread(target=server.serve_forever, name="ent-idp-metrics", daemon=True).start()
    return server


def registry(*collectors) -> CollectorRegistry:
    """What a scrape gets: the counters (all workers' under gunicorn), then ``collectors``."""
    found = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path:
        MultiProcessCollector(found, path=path)
    else:
        found.register(_Process())
    for collector in collectors:
        found.register(collector)
    return found


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        """A scrape every 15 s is no news: nothing logged per call."""


class _Process:
    """This process's own registry (one process: the mail worker, a single gunicorn worker)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class ReadinessCollector:
    """``ent_idp_ready`` and each check, and the mail queue, as /readyz sees them now."""

    def __init__(self, readiness: Readiness):
        self.readiness = readiness

    def collect(self) -> Iterable[Metric]:
        report: Report = self.readiness.report()
        yield GaugeMetricFamily(
            "ent_idp_ready", "1 when /readyz answers 200, else 0.", value=int(report.ready)
        )
        checks = GaugeMetricFamily(
            "ent_idp_ready_check", "1 per check of /readyz that passes.", labels=["check"]
        )
        for check, ok in report.checks.items():
            checks.add_metric([check.value], int(ok))
        yield checks
        if report.queue is not None:
            yield from queue_metrics(report.queue)


class QueueCollector:
    """The mail queue, read from Redis at each scrape (the mail worker's endpoint)."""

    def __init__(self, snapshot: Callable[[], QueueSnapshot]):
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        try:
            snapshot = self.snapshot()
        except StoreUnavailable:
            return  # counted in ent_idp_redis_errors_total; no stale figure
        yield from queue_metrics(snapshot)


def queue_metrics(snapshot: QueueSnapshot) -> Iterable[Metric]:
    yield GaugeMetricFamily(
        "ent_idp_mail_queue_depth",
        "Messages waiting: queued, being sent, waiting for a retry.",
        value=snapshot.depth,
    )
    yield GaugeMetricFamily(
        "ent_idp_mail_queue_oldest_seconds",
        "How long the oldest waiting message has waited (0 if none).",
        value=snapshot.oldest_seconds,
    )
    yield GaugeMetricFamily(
        "ent_idp_mail_dead_depth", "Entries in the dead list.", value=snapshot.dead
    )


def _loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    return address.is_loopback
