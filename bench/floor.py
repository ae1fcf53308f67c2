"""The floor of the stack: what the same nine requests cost with no LDAP and no policy.

A bare Flask app with the pieces ent-idp cannot do without, and nothing else: the same five
paths, each GET a Jinja page (a layout, a Flask-WTF form with its CSRF token) as big as the
app's own page for that step, a signed session cookie, one Redis ``HGETALL`` per request and
one ``HSET`` + ``EXPIRE`` per POST. It runs under gunicorn with the app's server settings
(``floor_server``), driven by the same load generator, so ``floor_ratio`` = app CPU / floor
CPU says how much the app spends above the framework itself.

``FLOOR_REDIS_URL`` and ``FLOOR_PAGE_BYTES`` (JSON: step -> bytes of the app's page) come
from the environment (``bench.run``).
"""

from __future__ import annotations

import json
import os
import secrets

import redis
from flask import Flask, redirect, render_template_string, session
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField

LAYOUT = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>{{ title }} — ENT</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><header><p>ENT</p></header><main><h1>{{ title }}</h1>
<form method="post" novalidate>{{ form.csrf_token }}
{% for field in form if field.name != "csrf_token" %}
<p>{{ field.label }} {{ field(autocomplete="off") }}</p>
{% endfor %}<button type="submit">Continuer</button></form>
<p>{{ filler }}</p></main><footer><p>ENT</p></footer></body></html>"""

# path -> (step of the load generator, next path or None, form fields)
STEPS = {
    "/activation": ("identification GET", "/activation/cgu", ("login", "password")),
    "/activation/cgu": ("cgu GET", "/activation/adresses", ("accept",)),
    "/activation/adresses": (
        "adresses GET",
        "/activation/mot-de-passe",
        ("backup_mail", "confirm", "forward"),
    ),
    "/activation/mot-de-passe": (
        "mot-de-passe GET",
        "/activation/compte-active",
        ("password", "confirm"),
    ),
    "/activation/compte-active": ("compte-active GET", None, ()),
}
FIELDS = {
    "login": StringField("Identifiant"),
    "password": PasswordField("Mot de passe"),
    "accept": BooleanField("J'accepte"),
    "backup_mail": StringField("Adresse"),
    "confirm": StringField("Confirmation"),
    "forward": BooleanField("Transférer"),
}


def form_class(names: tuple[str, ...]) -> type[FlaskForm]:
    return type("StepForm", (FlaskForm,), {name: FIELDS[name] for name in names})


def create_app() -> Flask:
    app = Flask(__name__)
    app.secret_key = secrets.token_urlsafe(32)  # one per process is enough: no restart
    app.config["SECRET_KEY"] = os.environ.get("FLOOR_SECRET_KEY", app.secret_key)
    store = redis.Redis.from_url(os.environ["FLOOR_REDIS_URL"])
    sizes = json.loads(os.environ.get("FLOOR_PAGE_BYTES") or "{}")
    template = app.jinja_env.from_string(LAYOUT)

    def view(path: str, step: str, then: str | None, fields: tuple[str, ...]):
        forms = form_class(fields)
        skeleton = len(render_template_string(LAYOUT, title=step, form=forms(), filler=""))
        filler = "x" * max(0, sizes.get(step, 0) - skeleton - 40)

        def handle():
            key = "floor:flow:" + session.setdefault("flow", secrets.token_urlsafe(16))
            store.hgetall(key)
            form = forms()
            if then is not None and form.validate_on_submit():
                store.hset(key, path, "1")
                store.expire(key, 1800)
                return redirect(then)
            return template.render(title=step, form=form, filler=filler)

        app.add_url_rule(path, step, handle, methods=["GET", "POST"])

    with app.test_request_context():
        for path, (step, then, fields) in STEPS.items():
            view(path, step, then, fields)
    return app


def floor_server(bind: str, workers: int, threads: int, app: Flask):
    """gunicorn with ``ent-idp serve``'s options of how requests are served; gunicorn's own
    access log for the app's request lines, none of its other logs and metrics."""
    from gunicorn.app.base import BaseApplication

    from ent_idp.cli.serve import server_options

    class Server(BaseApplication):
        def load_config(self) -> None:
            for name, value in server_options(bind, workers, threads).items():
                self.cfg.set(name, value)
            self.cfg.set("accesslog", "-")

        def load(self):
            return app

    return Server()


def main() -> None:
    import sys

    bind, workers, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    floor_server(bind, workers, threads, create_app()).run()


if __name__ == "__main__":
    main()
