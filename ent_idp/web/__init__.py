"""The Flask face of ent-idp: the factory, read as a table of contents.

Views are thin (``views/``): parse the form, call one domain function, render or redirect.
"""

from __future__ import annotations

import logging

import jinja2
from flask import Flask
from flask_wtf.csrf import CSRFProtect

from .. import mails, settings
from ..core import devices
from ..core.flows import Kind
from ..core.resources import KEY as RESOURCES
from ..core.resources import Resources
from ..domain.backup_address import Resend
from ..settings.sections import Conformity
from ..shipped import templates_dir
from ..store import TokenStatus
from . import clients, errors, headers, i18n, limits, views
from .config import flask_config


def create_app(overrides: dict | None = None, config_file: str | None = None) -> Flask:
    loaded = settings.load(config_file, overrides)
    # "ent_idp": static/ and translations/ sit beside the package's top module.
    app = Flask("ent_idp", template_folder=str(templates_dir(loaded.templates_dir)))
    app.config.update(flask_config(loaded))
    if loaded.testing:
        app.jinja_env.undefined = jinja2.StrictUndefined
    # What templates compare with: enum members, never literal strings.
    app.jinja_env.globals.update(
        settings=loaded, Kind=Kind, Resend=Resend, Status=TokenStatus, Conformity=Conformity
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    app.extensions[settings.KEY] = loaded
    found = app.extensions[RESOURCES] = Resources.build(loaded)
    limits.init_app(app)  # before the CSRF check, which reads the form
    csrf = CSRFProtect(app)
    mails.init_app(app)
    i18n.init_app(app)
    # The client address throttles and audit lines count: forwarded only by trusted proxies.
    app.wsgi_app = clients.ClientAddresses(
        app.wsgi_app, loaded.trusted_proxy_networks, found.store.forwarded_headers.note
    )
    headers.init_app(app, loaded)
    app.after_request(devices.write_cookie)

    views.register(app, csrf)
    errors.register(app)
    return app
