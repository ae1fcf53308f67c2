"""gunicorn's access log, without the secrets that travel in URLs.

A validation link (``/validation/<token>``), a « Mot de passe oublié » link
(``/mot-de-passe-oublie/lien/<token>``) and a CAS service ticket (``?ticket=ST-…``) are each
enough to act as their user while they are valid. They reach the access log in the request
line and, for the requests a page makes next (its style sheet, a form it posts), in the
Referer. They are replaced by ``…``; the rest of the line is kept.
"""

from __future__ import annotations

import re

from gunicorn.glogging import Logger

REDACTED = "…"

_TOKEN_PATHS = re.compile(r"(/validation/|/mot-de-passe-oublie/lien/)[^/?#\s\"]+")
_TICKET = re.compile(r"([?&;]ticket=)[^&#\s\"]*", re.IGNORECASE)


def redact(text: str | None) -> str | None:
    """``text`` with link tokens and CAS tickets replaced by ``…``."""
    if not text:
        return text
    text = _TOKEN_PATHS.sub(rf"\g<1>{REDACTED}", text)
    return _TICKET.sub(rf"\g<1>{REDACTED}", text)


class RedactingLogger(Logger):
    """gunicorn's logger, with tokens and tickets taken out of every value it may log.

    Every atom a log format can name is redacted (request line, path, query, Referer, any
    header or environ value), so a custom ``access_log_format`` cannot bring them back.
    """

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            name: redact(value) if isinstance(value, str) else value
            for name, value in atoms.items()
        }
