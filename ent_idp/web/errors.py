"""Error pages: clear words for the user, the right status for everyone else."""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError

from ..errors import DirectoryUnavailable, StoreUnavailable

log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    @app.errorhandler(DirectoryUnavailable)
    def directory_unavailable(exc: DirectoryUnavailable):
        log.error("directory unavailable: %s", exc)
        return render_template("errors/503.html"), 503

    # Redis down, or answering but refusing: a read-only replica after a failover
    # (READONLY), out of memory (OOM), still loading; the same page, not a 500.
    @app.errorhandler(StoreUnavailable)
    def store_unavailable(exc: StoreUnavailable):
        log.error("redis unavailable: %s", exc)
        return render_template("errors/503.html"), 503

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return render_template("errors/400.html", reason="csrf"), 400

    @app.errorhandler(SecurityError)
    def untrusted_host(exc: SecurityError):
        # No URL can be built for an untrusted Host: a bare answer, nothing from the request
        # but the language to say it in.
        message = gettext("400 Requête incorrecte : nom d'hôte inconnu.")
        return Response(message + "\n", 400, mimetype="text/plain")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code in (400, 403, 404, 405, 413, 429):
            return render_template(
                f"errors/{exc.code if exc.code != 405 else 404}.html", reason=None
            ), exc.code
        return exc

    @app.errorhandler(Exception)
    def internal_error(exc: Exception):
        log.exception("unexpected error")
        return render_template("errors/500.html"), 500
