"""Apereo CAS's REST « interrupt » contract: CAS asks, after authentication, whether to stop.

CAS calls ``GET <url>?username=…&service=…&registeredService=…`` (``cas.interrupt.rest.url``,
basic auth from ``cas.interrupt.rest.basic-auth-*``). A 200 JSON answer with
``"interrupt": true`` sends the user to the first link right away (``autoRedirect``) without
establishing single sign-on; any other answer lets the login go on.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, render_template, request

from .. import activation, cas
from ..extensions import services
from ..urls import public_url_for

bp = Blueprint("interrupt", __name__, url_prefix="/api/cas")


def _authorized() -> bool:
    expected_user = current_app.config["CAS_INTERRUPT_USERNAME"]
    expected_password = current_app.config["CAS_INTERRUPT_PASSWORD"]
    auth = request.authorization
    if not expected_password or auth is None or auth.type != "basic":
        return False
    user_ok = hmac.compare_digest((auth.username or "").encode(), expected_user.encode())
    password_ok = hmac.compare_digest((auth.password or "").encode(), expected_password.encode())
    return user_ok and password_ok


@bp.route("/interrupt", methods=["GET", "POST"])
def interrupt():
    if not _authorized():
        response = jsonify(error="authentication required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Basic realm="ent-idp interrupt"'
        return response
    kind = activation.flow_needed(request.values.get("username", ""))
    if kind is None:
        return jsonify(interrupt=False, block=False, ssoEnabled=True)
    config = current_app.config
    service = cas.safe_service(
        request.values.get("service"), services().allowed_services, config["CAS_DEFAULT_SERVICE"]
    )
    link = public_url_for("flow.identification", kind=kind.value, service=service)
    label = render_template("cas/interrupt_link.txt", kind=kind.value).strip()
    return jsonify(
        interrupt=True,
        block=True,
        ssoEnabled=False,
        autoRedirect=True,
        autoRedirectAfterSeconds=-1,
        message=render_template("cas/interrupt_message.html", kind=kind.value).strip(),
        links={label: link},
    )
