"""The Flask subclass keeps what Flask recomputes per request, and changes nothing else."""

from __future__ import annotations

import flask.app
from flask import session

from ent_idp.web.application import Application


def _app(secret: str = "s" * 32) -> Application:
    app = Application("probe")
    app.secret_key = secret
    seen = []

    @app.before_request
    def counted() -> None:
        seen.append(1)

    @app.get("/set")
    def set_value() -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    app.seen = seen
    return app


def test_each_hook_is_asked_once_whether_it_is_a_coroutine_and_still_runs_each_time(monkeypatch):
    """Flask asks ``iscoroutinefunction`` of every hook and view on every request; the
    answer is kept, and the hooks still run on every request."""
    asked = []
    real = flask.app.iscoroutinefunction
    monkeypatch.setattr(flask.app, "iscoroutinefunction", lambda f: asked.append(f) or real(f))
    app = _app()
    client = app.test_client()
    for expected in ("1", "2", "3"):
        assert client.get("/set").get_data(as_text=True) == expected
    assert len(app.seen) == 3
    assert len(asked) == len(set(asked)) == 2  # the before_request hook and the view


def test_the_session_serializer_is_built_once_per_set_of_keys():
    app = _app()
    with app.test_request_context():
        first = app.session_interface.get_signing_serializer(app)
        assert app.session_interface.get_signing_serializer(app) is first
        app.config["SECRET_KEY_FALLBACKS"] = ["old" * 11]
        assert app.session_interface.get_signing_serializer(app) is not first


def test_a_cookie_signed_with_a_retired_key_opens_with_it_in_the_fallbacks_only():
    """Key rotation behaves as Flask's: the kept serializer follows the keys, so a cookie
    signed with a key that is no longer listed is refused (a fresh session)."""
    old = _app("o" * 32)
    cookie = old.test_client()
    assert cookie.get("/set").get_data(as_text=True) == "1"
    value = cookie.get_cookie("session").value

    new = _app("n" * 32)
    client = new.test_client()
    client.set_cookie("session", value)
    assert client.get("/set").get_data(as_text=True) == "1"  # not readable: a new session
    new.config["SECRET_KEY_FALLBACKS"] = ["o" * 32]
    client.set_cookie("session", value)
    assert client.get("/set").get_data(as_text=True) == "2"  # read with the old key
