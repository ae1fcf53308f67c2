"""The ENT of a request: chosen once, from its Host, among the configured hosts only.

``TRUSTED_HOSTS`` (``web.config``) already answers 400 to a host no ENT has; the ENT whose
hosts name the request's is kept on ``g`` and read through ``current_ent``. Pages get it as
``ent`` (name, brand, help, footer links, CGU); domain code gets it as an argument. The CAS
interrupt, a call from CAS itself, chooses by the service instead (``views.interrupt``).
"""

from __future__ import annotations

from flask import Flask, abort, g, has_request_context, request

from ..core.resources import resources
from ..logs import ENT
from ..settings import Ent


def init_app(app: Flask) -> None:
    app.before_request(_choose)
    app.context_processor(lambda: {"ent": _in_force()})


def _choose() -> None:
    ent = resources().settings.ent_for_host(request.host)  # an untrusted Host: 400 here
    if ent is None:
        abort(400)
    g.ent = ent
    request.environ[ENT] = ent.key  # the "ent" of the request's log lines


def current_ent() -> Ent:
    """The ENT of the request in context."""
    return g.ent


def _in_force() -> Ent:
    """The request's ENT; the default one for a page shown before it was chosen (a 400 for
    an unknown host, a 413 answered before any view)."""
    ent = g.get("ent") if has_request_context() else None
    return ent or resources().settings.default_ent
