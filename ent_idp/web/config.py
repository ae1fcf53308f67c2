"""Flask's own configuration, from the typed settings: the only string keys in ent-idp.

Flask, Werkzeug, Flask-WTF and Flask-Mail read these from ``app.config``; nothing of ours
does (``ent_idp.settings.current()``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..settings import Settings


def flask_config(settings: Settings) -> dict[str, Any]:
    public = urlsplit(settings.public_url)
    return {
        "SECRET_KEY": settings.secret_key,
        "SESSION_COOKIE_SECURE": public.scheme == "https",
        # Requests for any other Host are refused (400): nothing is built from its host,
        # which only chooses among the configured ENTs (ent_idp.web.ents).
        "TRUSTED_HOSTS": [host for ent in settings.ents for host in ent.hosts],
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "ent_idp_session",
        # The cookie is a browser-session cookie (no Expires: it dies with the browser); idle
        # expiry is Redis's (flows and « Mon compte » sessions): the signed cookie only
        # carries their ids, so it is not re-signed and re-sent on every response. Its
        # signature is still refused after this many seconds, whatever the browser keeps.
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        "SESSION_REFRESH_EACH_REQUEST": False,
        "WTF_CSRF_TIME_LIMIT": None,  # the session itself expires
        # Flask's and Werkzeug's own names for the request bounds ([http]).
        "MAX_CONTENT_LENGTH": settings.http.max_content_length,
        "MAX_FORM_MEMORY_SIZE": settings.http.max_form_memory_size,
        "MAX_FORM_PARTS": settings.http.max_form_parts,
        # Flask-Mail builds the messages (ent_idp.mails opens the connection itself).
        "MAIL_DEFAULT_SENDER": settings.mail.sender,
        "MAIL_SUPPRESS_SEND": False,  # Flask-Mail would stay silent under TESTING
        **settings.flask_extra,
    }
