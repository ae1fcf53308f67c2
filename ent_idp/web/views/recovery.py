"""« Mot de passe oublié »: ask for a link, follow it, choose a new password."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, session, url_for

from ...core import flows
from ...core.flows import Flow, Kind, Step
from ...domain import forgotten_password
from ...errors import AccountBusy, Conflict, FlowExpired
from ..ents import current_ent
from ..forms import password_form
from ..links import cas_login
from ..mailed_links import add_pages

bp = Blueprint("recovery", __name__, url_prefix="/mot-de-passe-oublie")


def _flow(step: Step) -> Flow:
    try:
        flow = flows.load(session.get("flow"))
    except FlowExpired:
        abort(redirect(url_for("recovery.ask")))
    if flow.kind is not Kind.FORGOTTEN_PASSWORD or flows.ent_of(flow) != current_ent():
        abort(redirect(url_for("recovery.ask")))
    if not flow.may_show(step):
        abort(redirect(url_for("recovery.done" if flow.completed else "recovery.password")))
    return flow


def _opened(token: str):
    """The link used: the new password's page, in a flow of its own."""
    outcome = forgotten_password.open_link(current_ent(), token)
    if not isinstance(outcome, Flow):
        return outcome
    session.clear()
    session["flow"] = outcome.id
    return redirect(url_for("recovery.password"))


add_pages(bp, "recovery", forgotten_password.request_link, forgotten_password.peek, _opened)


@bp.route("/nouveau", methods=["GET", "POST"])
def password():
    flow = _flow(Step.PASSWORD)
    form = password_form(flow.account)
    try:
        if form.written(lambda password: forgotten_password.choose_password(flow, password)):
            return redirect(url_for("recovery.done"))
    except (Conflict, AccountBusy):
        return render_template("recovery/conflict.html"), 409
    return render_template("recovery/password.html", form=form, flow=flow, policy=form.policy)


@bp.get("/termine")
def done():
    _flow(Step.DONE)
    return render_template("recovery/done.html", login_url=cas_login())
