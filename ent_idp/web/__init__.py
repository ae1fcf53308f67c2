"""The Flask face of ent-idp: the factory, read as a table of contents.

Views are thin (``views/``): parse the form, call one domain function, render or redirect.
Around them, outermost first: /healthz and /readyz (``health``), each request's id, log line
and metrics (``telemetry``), the client's address (``clients``).
"""

from __future__ import annotations

import jinja2
from flask import Flask
from flask_wtf.csrf import CSRFProtect

from .. import logs, mails, settings
from ..core import devices
from ..core.flows import Kind
from ..core.health import KEY as READINESS
from ..core.health import Readiness
from ..core.resources import KEY as RESOURCES
from ..core.resources import Resources
from ..domain import password_policy
from ..domain.backup_address import Resend
from ..settings.legal import Conformity
from ..shipped import templates_dir
from ..store import TokenStatus
from . import clients, ents, errors, headers, i18n, limits, telemetry, views, widgets
from .application import Application
from .config import flask_config
from .health import HealthEndpoints
from .redaction import KEY as REDACTOR
from .redaction import Redactor
from .templating import PageEnvironment


def create_app(overrides: dict | None = None, config_file: str | None = None) -> Flask:
    loaded = settings.load(config_file, overrides)
    # "ent_idp": static/ and translations/ sit beside the package's top module.
    app = Application("ent_idp", template_folder=str(templates_dir(loaded.templates_dir)))
    app.jinja_environment = PageEnvironment  # before anything reads app.jinja_env
    app.config.update(flask_config(loaded))
    if loaded.testing:
        app.jinja_env.undefined = jinja2.StrictUndefined
    # What templates compare with: enum members, never literal strings.
    app.jinja_env.globals.update(
        settings=loaded, Kind=Kind, Resend=Resend, Status=TokenStatus, Conformity=Conformity
    )
    redactor = app.extensions[REDACTOR] = Redactor()  # learns the routes once they exist
    logs.configure(loaded.default_ent.key, redactor.redact)  # JSON lines on stderr

    app.extensions[settings.KEY] = loaded
    found = app.extensions[RESOURCES] = Resources.build(loaded)
    readiness = app.extensions[READINESS] = Readiness(
        found.directory, found.store, loaded.health.mail_queue_max_age_seconds
    )
    limits.init_app(app)  # before the CSRF check, which reads the form
    ents.init_app(app)  # the request's ENT, from its Host: before any view
    password_policy.prepare()  # zxcvbn's dictionaries, before gunicorn forks
    widgets.install()  # WTForms' html_params, the same output without Markup.format
    csrf = CSRFProtect(app)
    mails.init_app(app)
    i18n.init_app(app)
    headers.init_app(app, loaded)
    app.after_request(devices.write_cookie)
    telemetry.init_app(app)

    views.register(app, csrf)
    errors.register(app)
    redactor.learn(app.url_map)

    # The client address throttles and audit lines count: forwarded only by trusted proxies.
    proxies = loaded.trusted_proxy_networks
    wsgi = clients.ClientAddresses(app.wsgi_app, proxies, found.store.forwarded_headers.note)
    wsgi = telemetry.RequestTelemetry(wsgi, proxies, redactor.redact)
    app.wsgi_app = HealthEndpoints(wsgi, readiness)
    return app
