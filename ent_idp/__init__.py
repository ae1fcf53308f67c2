"""ent-idp: account activation and reset self-service for school ENTs."""

from __future__ import annotations

import logging

import jinja2
from flask import Flask
from flask_wtf.csrf import CSRFProtect

from . import clients, config, devices, extensions, headers, i18n, limits, mails, views
from .resources import templates_dir


def create_app(overrides: dict | None = None, config_file: str | None = None) -> Flask:
    settings = config.load(config_file, overrides)
    app = Flask(__name__, template_folder=str(templates_dir(settings["TEMPLATES_DIR"])))
    app.config.update(settings)
    if app.config.get("TESTING"):
        app.jinja_env.undefined = jinja2.StrictUndefined
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    limits.init_app(app)  # before the CSRF check, which reads the form
    csrf = CSRFProtect(app)
    mails.init_app(app)
    i18n.init_app(app)
    found = extensions.init_app(app)
    # The client address throttles and audit lines count: forwarded only by trusted proxies.
    app.wsgi_app = clients.ClientAddresses(
        app.wsgi_app, app.config["TRUSTED_PROXY_NETWORKS"], found.forwarded_headers.note
    )
    headers.init_app(app)
    devices.init_app(app)

    views.register(app, csrf)
    return app
