"""/healthz and /readyz, answered before anything else: no session, no cookie, no log line.

WSGI middleware in front of the app (and of the Host check: a load balancer or Prometheus
may call 127.0.0.1:8080 by address). ``/healthz`` (liveness) says only that the process
answers; ``/readyz`` answers 200 or 503 with the state of each check of
``ent_idp.core.health`` (``{"status": "ready", "checks": {"directory": "ok", …}}``): no
host name, no error text, no count. Neither is throttled, logged or counted per call; each
costs a dictionary lookup and, for /readyz, at most three round trips a second per process.
"""

from __future__ import annotations

import json

from ..core.health import Readiness

PATHS = frozenset({"/healthz", "/readyz"})


class HealthEndpoints:
    def __init__(self, app, readiness: Readiness):
        self.app = app
        self.readiness = readiness

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path not in PATHS:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "")
        if method not in ("GET", "HEAD"):
            return _answer(start_response, method, 405, {"status": "use GET"})
        if path == "/healthz":
            return _answer(start_response, method, 200, {"status": "alive"})
        report = self.readiness.report()
        return _answer(start_response, method, 200 if report.ready else 503, report.body())


_REASONS = {200: "OK", 405: "METHOD NOT ALLOWED", 503: "SERVICE UNAVAILABLE"}


def _answer(start_response, method: str, status: int, body: dict) -> list[bytes]:
    data = json.dumps(body).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(data))),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if status == 405:
        headers.append(("Allow", "GET, HEAD"))
    start_response(f"{status} {_REASONS[status]}", headers)
    return [] if method == "HEAD" else [data]
