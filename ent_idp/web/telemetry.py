"""Each request: an id, one log line, two metrics. WSGI middleware around the whole app.

The id is 32 hex characters from ``secrets`` (the shape of nginx's ``$request_id``), or the
``X-Request-ID`` a trusted proxy (``trusted_proxies``) sent, if it is 8 to 64 letters,
digits, ``.``, ``_`` or ``-``: nginx passes its own, so its access log and ours share it; a
client's own header never reaches us through it, and one from any other peer is ignored.
The id is in every log line of the request (``ent_idp.logs``), in the mail it queues, and
in the response's ``X-Request-ID`` header, for a user to quote.

Once the body is sent: ``ent_idp_http_requests_total{endpoint,method,status}`` and
``ent_idp_http_request_duration_seconds{endpoint}``, and one ``ent_idp.request`` line with
the method, the path and the Referer (redacted: ``redaction``), the status, the duration,
the client and its user agent.
/healthz and /readyz never get here (``health``): no line, no count, per call.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable

from flask import Flask, request
from werkzeug.wsgi import ClosingIterator

from ..core.addresses import Network, parse, trusted
from ..logs import ENT, FIELDS, REQUEST_ID
from ..metrics import HTTP_DURATION, HTTP_REQUESTS

log = logging.getLogger("ent_idp.request")

ENDPOINT = "ent_idp.endpoint"  # in the WSGI environ: the Flask endpoint that answered
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
_INCOMING = re.compile(r"[A-Za-z0-9._-]{8,64}")
MAX_LOGGED_PATH = 512


def init_app(app: Flask) -> None:
    @app.teardown_request
    def note_endpoint(exc: BaseException | None) -> None:
        request.environ[ENDPOINT] = request.endpoint


class RequestTelemetry:
    def __init__(self, app, networks: tuple[Network, ...], redact: Callable[[str], str]):
        self.app = app
        self.networks = networks
        self.redact = redact
        self._counted: dict[tuple[str, str, int], tuple] = {}  # the metrics' labelled children

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        environ[REQUEST_ID] = request_id = self._request_id(environ)
        answered: list[int] = []

        def start(status: str, headers: list, exc_info=None):
            answered[:] = [int(status[:3])]
            headers.append(("X-Request-ID", request_id))
            return start_response(status, headers, exc_info)

        def done() -> None:
            self._record(environ, answered[0] if answered else 500, started)

        try:
            body = self.app(environ, start)
        except BaseException:
            done()
            raise
        return ClosingIterator(body, done)

    def _request_id(self, environ) -> str:
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        if incoming and _INCOMING.fullmatch(incoming):
            if trusted(parse(environ.get("REMOTE_ADDR", "")), self.networks):
                return incoming
        return secrets.token_hex(16)

    def _record(self, environ, status: int, started: float) -> None:
        duration = time.perf_counter() - started
        endpoint = environ.get(ENDPOINT) or "none"
        method = environ.get("REQUEST_METHOD", "")
        method = method if method in METHODS else "other"
        labels = (endpoint, method, status)
        counted = self._counted.get(labels)
        if counted is None:  # bounded: endpoints x methods x statuses
            counted = self._counted[labels] = (
                HTTP_REQUESTS.labels(endpoint, method, str(status)),
                HTTP_DURATION.labels(endpoint),
            )
        counted[0].inc()
        counted[1].observe(duration)
        path = self.redact(_target(environ))[:MAX_LOGGED_PATH]
        referer = environ.get("HTTP_REFERER")
        fields = {
            "request_id": environ[REQUEST_ID],
            "ent": environ.get(ENT),  # None before an ENT was chosen (an unknown host: 400)
            "route": environ.get(ENDPOINT),
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(duration * 1000, 1),
            "client": environ.get("REMOTE_ADDR"),
            "referer": self.redact(referer)[:MAX_LOGGED_PATH] if referer else None,
            "user_agent": environ.get("HTTP_USER_AGENT", "")[:MAX_LOGGED_PATH] or None,
        }
        log.info("%s %s %s", method, path, status, extra={FIELDS: fields})


def _target(environ) -> str:
    """The path and query as the client sent them (gunicorn's RAW_URI, else rebuilt)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return raw
    path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1")
    query = environ.get("QUERY_STRING")
    return path.decode("utf-8", "replace") + (f"?{query}" if query else "")
