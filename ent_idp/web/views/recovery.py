"""« Mot de passe oublié »: ask for a link, follow it, choose a new password."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, session, url_for
from flask_wtf import FlaskForm

from ...core import flows
from ...core.flows import Flow, Kind, Step
from ...domain import forgotten_password
from ...domain.password_policy import current_policy
from ...errors import AccountBusy, Conflict, FlowExpired, PasswordRejected
from ..forms import PasswordForm, RecoveryForm
from ..links import cas_login

bp = Blueprint("recovery", __name__, url_prefix="/mot-de-passe-oublie")


def _flow(step: Step) -> Flow:
    try:
        flow = flows.load(session.get("flow"))
    except FlowExpired:
        abort(redirect(url_for("recovery.ask")))
    if flow.kind is not Kind.FORGOTTEN_PASSWORD:
        abort(redirect(url_for("recovery.ask")))
    if not flow.may_show(step):
        abort(redirect(url_for("recovery.done" if flow.completed else "recovery.password")))
    return flow


@bp.route("", methods=["GET", "POST"])
def ask():
    form = RecoveryForm()
    if form.validate_on_submit():
        forgotten_password.request_link(form.login.data.strip())
        return render_template("recovery/requested.html", login_url=cas_login())
    return render_template("recovery/ask.html", form=form)


@bp.get("/lien/<token>")
def link(token: str):
    record = forgotten_password.peek(token)
    return render_template("recovery/link.html", record=record, token=token, form=FlaskForm())


@bp.post("/lien/<token>")
def use_link(token: str):
    form = FlaskForm()
    if not form.validate_on_submit():
        return link(token)
    outcome = forgotten_password.open_link(token)
    if not isinstance(outcome, Flow):
        return render_template("recovery/link.html", record=outcome, token=token, form=form)
    session.clear()
    session["flow"] = outcome.id
    return redirect(url_for("recovery.password"))


@bp.route("/nouveau", methods=["GET", "POST"])
def password():
    flow, policy = _flow(Step.PASSWORD), current_policy()
    form = PasswordForm(policy=policy, personal=flow.account.personal_words)
    if form.validate_on_submit():
        try:
            forgotten_password.choose_password(flow, form.password.data)
        except PasswordRejected as exc:
            form.reject(exc.reason)
        except (Conflict, AccountBusy):
            return render_template("recovery/conflict.html"), 409
        else:
            return redirect(url_for("recovery.done"))
    return render_template("recovery/password.html", form=form, flow=flow, policy=policy)


@bp.get("/termine")
def done():
    _flow(Step.DONE)
    return render_template("recovery/done.html", login_url=cas_login())
