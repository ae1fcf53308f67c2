"""Flask, less what it redoes on every request for the same answer.

Flask asks ``inspect.iscoroutinefunction`` of each hook and view on every request (eight to
ten a request here), and builds a new session serializer (its signer, its JSON tagger and a
trial ``dumps``) each time it opens or saves a session. Both answers depend only on the
function and on the secret keys: they are kept.

Each page links to the style sheets, the accessibility statement and its other language,
and each POST redirects to the next page: ``url_for`` builds each link again (7 to 19 µs,
four or five a page). A link inside the site depends only on the script root, the endpoint
and its values, so the last ``URLS_KEPT`` are kept; links with the scheme or host, links
carrying a token (a secret) and long values are built each time. The behaviour is Flask's.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from functools import lru_cache

from flask import Flask
from flask.globals import _cv_request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

KEPT = 512  # hooks and views are a few dozen; past this, whatever comes is asked each time
URLS_KEPT = 1024  # the site's pages, in each language, with room for the ways back to them
LONGEST_KEPT_VALUE = 256  # characters; a longer value (a hostile ``next``) is built each time
SECRET_VALUES = frozenset({"token"})  # never kept in memory longer than the request


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
        self._kept_url = lru_cache(maxsize=URLS_KEPT)(self._internal_url)

    def ensure_sync(self, func: Callable) -> Callable:
        try:
            return self._sync[func]
        except KeyError:
            made = super().ensure_sync(func)
            if len(self._sync) < KEPT:
                self._sync[func] = made
            return made

    def url_for(
        self,
        /,
        endpoint: str,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values,
    ) -> str:
        request = _cv_request.get(None)
        if (
            request is None
            or request.url_adapter is None
            or _method is not None
            or _scheme is not None
            or _external
            or endpoint[:1] == "."
            or self.url_default_functions  # they could change the values: none here
            or not _keepable(values)
        ):
            return super().url_for(
                endpoint,
                _anchor=_anchor,
                _method=_method,
                _scheme=_scheme,
                _external=_external,
                **values,
            )
        script_root = request.url_adapter.script_name
        return self._kept_url(script_root, endpoint, _anchor, tuple(sorted(values.items())))

    def _internal_url(self, script_root: str, endpoint: str, anchor, values: tuple) -> str:
        return super().url_for(endpoint, _anchor=anchor, _external=False, **dict(values))


def _keepable(values: dict) -> bool:
    for name, value in values.items():
        if name in SECRET_VALUES:
            return False
        if isinstance(value, str):
            if len(value) > LONGEST_KEPT_VALUE:
                return False
        elif not (value is None or isinstance(value, (int, Enum))):
            return False
    return True
