"""Apereo CAS's REST « interrupt » contract: CAS asks, after authentication, whether to stop.

CAS calls ``GET <url>?username=…&service=…&registeredService=…`` (``cas.interrupt.rest.url``,
basic auth from ``cas.interrupt.rest.basic-auth-*``). A 200 JSON answer with
``"interrupt": true`` sends the user to the first link right away (``autoRedirect``) without
establishing single sign-on; any other answer lets the login go on.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, jsonify, render_template, request

from ...core.resources import resources
from ...core.urls import public_url_for
from ...domain import terms
from ..links import service_of

bp = Blueprint("interrupt", __name__, url_prefix="/api/cas")


def _authorized() -> bool:
    cas = resources().settings.cas
    auth = request.authorization
    if not cas.interrupt_password or auth is None or auth.type != "basic":
        return False
    user_ok = hmac.compare_digest((auth.username or "").encode(), cas.interrupt_username.encode())
    password_ok = hmac.compare_digest(
        (auth.password or "").encode(), cas.interrupt_password.encode()
    )
    return user_ok and password_ok


@bp.route("/interrupt", methods=["GET", "POST"])
def interrupt():
    if not _authorized():
        response = jsonify(error="authentication required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Basic realm="ent-idp interrupt"'
        return response
    # A call from CAS: its ENT is the one of the service the user is logging into.
    asked = request.values.get("service")
    ent = resources().ent_for_service(asked) or resources().settings.default_ent
    needed = terms.flow_needed(ent, request.values.get("username", ""))
    if needed is None:
        return jsonify(interrupt=False, block=False, ssoEnabled=True)
    kind, service = needed.kind, service_of(ent, asked)
    if needed.federated:  # no provisional password: the activation through CAS
        link = public_url_for(ent, "federation.start", service=service)
    else:
        link = public_url_for(ent, "flow.identification", kind=kind.value, service=service)
    return jsonify(
        interrupt=True,
        block=True,
        ssoEnabled=False,
        autoRedirect=True,
        autoRedirectAfterSeconds=-1,
        message=render_template(
            "cas/interrupt_message.html", kind=kind, federated=needed.federated
        ).strip(),
        links={render_template("cas/interrupt_link.txt", kind=kind).strip(): link},
    )
