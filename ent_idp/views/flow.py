"""« Activer mon compte » and « Mon compte a été réinitialisé »: the pages of each step."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm

from .. import activation, cas
from ..exceptions import (
    AccountBusy,
    Conflict,
    FlowExpired,
    IdentificationFailed,
    NothingToDo,
    PasswordRejected,
    Throttled,
)
from ..extensions import services
from ..flows import Flow, Kind, Step
from ..forms import CguForm, IdentificationForm, MailsForm, PasswordForm

bp = Blueprint("flow", __name__)
KIND = "<any(activation, reinitialisation, conditions):kind>"


def _service() -> str:
    config = current_app.config
    return cas.safe_service(
        request.args.get("service"), services().allowed_services, config["CAS_DEFAULT_SERVICE"]
    )


def _flow(kind: str, step: Step) -> Flow:
    """The browser's flow, if it may show ``step``; otherwise a redirect to the right page."""
    try:
        flow = services().flows.load(session.get("flow"))
    except FlowExpired:
        session["expired"] = True
        abort(redirect(url_for("flow.identification", kind=kind, service=session.get("service"))))
    if flow.kind != kind or not flow.may_show(step):
        abort(_next(flow))
    return flow


def _render(template: str, flow: Flow, step: Step, **context):
    return render_template(
        template, flow=flow, kind=flow.kind, step=step, steps=flow.steps(), **context
    )


def _next(flow: Flow):
    if flow.kind == Kind.RECOVERY:  # « Mot de passe oublié » has pages of its own
        return redirect(url_for("recovery.done" if flow.completed else "recovery.password"))
    return redirect(url_for(f"flow.{flow.next_step().name.lower()}", kind=flow.kind))


def _cas_login(service: str) -> str:
    return cas.login_url(current_app.config["CAS_URL"], service)


@bp.route(f"/{KIND}", methods=["GET", "POST"])
def identification(kind: str):
    form = IdentificationForm()
    service = _service()
    error, status, wait_minutes = None, 200, 0
    if form.validate_on_submit():
        try:
            flow = activation.identify(Kind(kind), form.login.data, form.password.data, service)
        except IdentificationFailed:
            error = "identification"
        except Throttled as exc:
            error, status, wait_minutes = "throttled", 429, -(-exc.wait_seconds // 60)
        except NothingToDo:
            return render_template("flow/up_to_date.html", kind=kind, login_url=_cas_login(service))
        else:
            session.clear()  # a new session for a new identity
            session.update(flow=flow.id, service=service)
            return _next(flow)
    expired = session.pop("expired", False)
    return render_template(
        "flow/identification.html",
        form=form,
        kind=kind,
        service=service,
        error=error,
        wait_minutes=wait_minutes,
        expired=expired,
        steps=None,
        step=Step.IDENTIFICATION,
        login_url=_cas_login(service),
    ), status


@bp.route(f"/{KIND}/cgu", methods=["GET", "POST"])
def cgu(kind: str):
    flow = _flow(kind, Step.CGU)
    form = CguForm()
    if form.validate_on_submit():
        try:
            activation.accept_cgu(flow)
        except Conflict:
            login_url = _cas_login(flow.service)
            return _render("flow/conflict.html", flow, Step.CGU, login_url=login_url), 409
        return _next(flow)
    return _render("flow/cgu.html", flow, Step.CGU, form=form)


@bp.route(f"/{KIND}/adresses", methods=["GET", "POST"])
def mails(kind: str):
    flow = _flow(kind, Step.MAILS)
    form = MailsForm(ent_mail=flow.mail)
    if request.method == "GET" and flow.backup_mail:
        form.backup_mail.data = form.confirm.data = flow.backup_mail
        form.forward.data = flow.forward
    if form.validate_on_submit():
        activation.choose_mails(flow, form.address, form.forward.data)
        return redirect(url_for("flow.password", kind=kind))
    return _render("flow/mails.html", flow, Step.MAILS, form=form)


@bp.route(f"/{KIND}/mot-de-passe", methods=["GET", "POST"])
def password(kind: str):
    flow = _flow(kind, Step.PASSWORD)
    personal = (flow.login, flow.given_name, flow.surname)
    form = PasswordForm(policy=services().policy, personal=personal)
    if form.validate_on_submit():
        try:
            activation.complete(flow, form.password.data)
        except PasswordRejected as exc:
            form.reject(exc.reason)
        except Conflict:
            login_url = _cas_login(flow.service)
            return _render("flow/conflict.html", flow, Step.PASSWORD, login_url=login_url), 409
        except AccountBusy:
            return _render("flow/busy.html", flow, Step.PASSWORD), 409
        else:
            return redirect(url_for("flow.done", kind=kind))
    return _render("flow/password.html", flow, Step.PASSWORD, form=form, policy=services().policy)


@bp.route(f"/{KIND}/compte-active")
def done(kind: str):
    flow = _flow(kind, Step.DONE)
    outcome = next(iter(get_flashed_messages(category_filter=["resend"])), None)
    return _render(
        "flow/done.html",
        flow,
        Step.DONE,
        login_url=_cas_login(flow.service),
        form=FlaskForm(),
        resent=activation.Resend(outcome) if outcome else None,
        Resend=activation.Resend,
    )


@bp.post(f"/{KIND}/compte-active/nouveau-lien")
def resend(kind: str):
    """« Recevoir un nouveau lien » on « Compte activé »: the mail may never have arrived."""
    flow = _flow(kind, Step.DONE)
    flash(activation.resend_for_flow(flow).value, "resend")
    return redirect(url_for("flow.done", kind=kind))
