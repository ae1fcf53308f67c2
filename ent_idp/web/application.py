"""Flask, less what it redoes on every request for the same answer.

Flask asks ``inspect.iscoroutinefunction`` of each hook and view on every request (eight to
ten a request here), and builds a new session serializer (its signer, its JSON tagger and a
trial ``dumps``) each time it opens or saves a session. Both answers depend only on the
function and on the secret keys: they are kept. The behaviour is Flask's own.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

KEPT = 512  # hooks and views are a few dozen; past this, whatever comes is asked each time


class Sessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, one serializer per set of secret keys."""

    def __init__(self) -> None:
        self._serializers: dict[tuple, URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        try:
            return self._serializers[keys]
        except KeyError:
            made = self._serializers[keys] = super().get_signing_serializer(app)
            return made


class Application(Flask):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.session_interface = Sessions()
        self._sync: dict[Callable, Callable] = {}

    def ensure_sync(self, func: Callable) -> Callable:
        try:
            return self._sync[func]
        except KeyError:
            made = super().ensure_sync(func)
            if len(self._sync) < KEPT:
                self._sync[func] = made
            return made
