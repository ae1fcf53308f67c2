"""Activation for federated users (ÉduConnect), who have no provisional password.

``/activation-federee`` is a CAS service: without a ticket it sends the browser to the CAS
login (the ``service`` it came with kept in the session); with one, python-cas validates it
for this very URL and the flow the account needs starts: the CGU, the backup address if the
user profile asks for it, then the final write, without any password step.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session

from ...cas import CasUnavailable
from ...core.flows import Kind
from ...core.urls import public_url_for
from ...domain import activation
from ...errors import IdentificationFailed, NothingToDo
from ..ents import current_ent
from ..links import cas_login, requested_service
from .flow import advance

bp = Blueprint("federation", __name__)
SERVICE = "federation_service"  # where the user goes at the end, kept across the CAS login


@bp.get("/activation-federee")
def start():
    here = public_url_for(current_ent(), "federation.start")
    ticket = request.args.get("ticket")
    if not ticket:
        session[SERVICE] = requested_service(request.args.get("service"))
        return redirect(cas_login(here))
    service = requested_service(session.get(SERVICE))
    try:
        flow = activation.identify_federated(current_ent(), ticket, here, service)
    except CasUnavailable:
        return render_template("errors/503.html"), 503
    except IdentificationFailed:
        return render_template("federation/refused.html", login_url=cas_login(service)), 403
    except NothingToDo:
        login_url = cas_login(service)
        return render_template("flow/up_to_date.html", kind=Kind.CGU, login_url=login_url)
    session.clear()  # a new session for a new identity
    session.update(flow=flow.id, service=service)
    return advance(flow)
