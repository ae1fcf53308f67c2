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


def _linking_app() -> Application:
    app = Application("links")
    app.secret_key = "s" * 32
    app.add_url_rule("/page/<kind>", "page", lambda kind: kind)
    app.add_url_rule("/plain", "plain", lambda: "")
    return app


def test_a_kept_link_is_the_one_flask_builds():
    """Links are kept per script root, endpoint and values: each is what Flask builds for
    that request, under another script root too (a site behind a path prefix)."""
    app = _linking_app()
    cases = [
        ("page", {"kind": "activation"}),
        ("page", {"kind": "activation", "next": "/a?b=c d"}),
        ("plain", {"_anchor": "titre"}),
        ("plain", {"code": 3, "flag": None}),
    ]
    for root in ("", "/ent"):
        for endpoint, values in cases:
            with app.test_request_context("/plain", base_url="http://ent.example.net" + root):
                kept = [app.url_for(endpoint, **values) for _ in range(2)]
                built = flask.app.Flask.url_for(app, endpoint, **values)
            assert kept == [built, built]
            assert built.startswith(root + "/")


def test_links_with_a_secret_or_the_host_are_never_kept():
    """A link's token is a secret: it is built for the request and not kept in the process
    afterwards. External links (mails) carry the host and scheme: built each time too."""
    app = _linking_app()
    with app.test_request_context("/plain", base_url="https://ent.example.net"):
        assert app.url_for("page", kind="x", token="secret-token").endswith("token=secret-token")
        assert app.url_for("page", kind="x", _external=True) == "https://ent.example.net/page/x"
        assert app.url_for("plain", next="/" + "x" * 300).endswith("x" * 300)
        listed = {"kind": ["a", "b"]}  # not hashable: built each time
        assert app.url_for("page", **listed) == flask.app.Flask.url_for(app, "page", **listed)
    with app.test_request_context("/plain", base_url="https://other.example.net"):
        assert app.url_for("page", kind="x", _external=True) == "https://other.example.net/page/x"
    kept = app._kept_url.cache_info()
    assert kept.currsize == 0, "nothing with a token, the host, a long or unhashable value"
