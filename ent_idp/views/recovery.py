"""« Mot de passe oublié »: ask for a link, follow it, choose a new password."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, session, url_for
from flask_wtf import FlaskForm

from .. import cas, recovery
from ..exceptions import AccountBusy, Conflict, FlowExpired, PasswordRejected
from ..extensions import services
from ..flows import Flow, Kind, Step
from ..forms import PasswordForm, RecoveryForm
from ..tokens import TokenStatus

bp = Blueprint("recovery", __name__, url_prefix="/mot-de-passe-oublie")


def _login_url() -> str:
    config = current_app.config
    return cas.login_url(config["CAS_URL"], config["CAS_DEFAULT_SERVICE"])


def _flow(step: Step) -> Flow:
    try:
        flow = services().flows.load(session.get("flow"))
    except FlowExpired:
        abort(redirect(url_for("recovery.ask")))
    if flow.kind != Kind.RECOVERY:
        abort(redirect(url_for("recovery.ask")))
    if not flow.may_show(step):
        abort(redirect(url_for("recovery.done" if flow.completed else "recovery.password")))
    return flow


@bp.route("", methods=["GET", "POST"])
def ask():
    form = RecoveryForm()
    if form.validate_on_submit():
        recovery.request_link(form.login.data.strip())
        return render_template("recovery/requested.html", login_url=_login_url())
    return render_template("recovery/ask.html", form=form)


@bp.get("/lien/<token>")
def link(token: str):
    return render_template(
        "recovery/link.html",
        record=recovery.peek(token),
        token=token,
        form=FlaskForm(),
        Status=TokenStatus,
    )


@bp.post("/lien/<token>")
def use_link(token: str):
    form = FlaskForm()
    if not form.validate_on_submit():
        return link(token)
    outcome = recovery.open_link(token)
    if not isinstance(outcome, Flow):
        return render_template(
            "recovery/link.html", record=outcome, token=token, form=form, Status=TokenStatus
        )
    session.clear()
    session["flow"] = outcome.id
    return redirect(url_for("recovery.password"))


@bp.route("/nouveau", methods=["GET", "POST"])
def password():
    flow = _flow(Step.PASSWORD)
    personal = (flow.login, flow.given_name, flow.surname)
    form = PasswordForm(policy=services().policy, personal=personal)
    if form.validate_on_submit():
        try:
            recovery.choose_password(flow, form.password.data)
        except PasswordRejected as exc:
            form.reject(exc.reason)
        except (Conflict, AccountBusy):
            return render_template("recovery/conflict.html"), 409
        else:
            return redirect(url_for("recovery.done"))
    return render_template("recovery/password.html", form=form, flow=flow, policy=services().policy)


@bp.get("/termine")
def done():
    _flow(Step.DONE)
    return render_template("recovery/done.html", login_url=_login_url())
