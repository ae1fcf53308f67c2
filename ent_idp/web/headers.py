"""Security headers on every response, and no caching of forms."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request

from ..settings import Settings

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self' {cas}; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def init_app(app: Flask, settings: Settings) -> None:
    hsts = settings.public_url.startswith("https://")
    # Logging out posts a form that redirects to CAS: form-action must allow CAS's origin
    # (each ENT's).
    origins = [urlsplit(ent.cas.url) for ent in settings.ents]
    csp = CSP.format(cas=" ".join(dict.fromkeys(f"{o.scheme}://{o.netloc}" for o in origins)))

    @app.after_request
    def set_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if hsts:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        return response
