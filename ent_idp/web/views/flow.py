"""« Activer mon compte », « Mon compte a été réinitialisé », the CGU flow: each step's page."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm

from ...core import flows
from ...core.flows import Flow, Kind, Step
from ...domain import activation, backup_address, terms
from ...errors import (
    AccountBusy,
    Conflict,
    FlowExpired,
    IdentificationFailed,
    NothingToDo,
    Throttled,
)
from ..ents import current_ent
from ..forms import CguForm, IdentificationForm, MailsForm, password_form
from ..links import cas_login, requested_service

bp = Blueprint("flow", __name__)
KIND = "<any(activation, reinitialisation, conditions):kind>"


def _flow(kind: str, step: Step) -> Flow:
    """The browser's flow, if it may show ``step``; otherwise a redirect to the right page."""
    try:
        flow = flows.load(session.get("flow"))
    except FlowExpired:
        session["expired"] = True
        abort(redirect(url_for("flow.identification", kind=kind, service=session.get("service"))))
    if flows.ent_of(flow) != current_ent():  # one host's cookie, another ENT's flow: start again
        abort(redirect(url_for("flow.identification", kind=kind)))
    if flow.kind != kind or not flow.may_show(step):
        abort(_next(flow))
    return flow


def _render(template: str, flow: Flow, step: Step, **context):
    return render_template(
        template, flow=flow, kind=flow.kind, step=step, steps=flow.steps(), **context
    )


def _conflict(flow: Flow, step: Step):
    return _render("flow/conflict.html", flow, step, login_url=cas_login(flow.service)), 409


def _next(flow: Flow):
    if flow.kind is Kind.FORGOTTEN_PASSWORD:  # « Mot de passe oublié » has pages of its own
        return redirect(url_for("recovery.done" if flow.completed else "recovery.password"))
    return redirect(url_for(f"flow.{flow.next_step().name.lower()}", kind=flow.kind))


def advance(flow: Flow):
    """To the next step; a flow without a password step is written once nothing is left to
    ask (a federated user's: CAS stood for the password)."""
    if flow.ready_to_complete():
        try:
            activation.complete(flow, None)
        except Conflict:
            return _conflict(flow, Step.DONE)
        except AccountBusy:
            return _render("flow/busy.html", flow, Step.DONE), 409
    return _next(flow)


@bp.route(f"/{KIND}", methods=["GET", "POST"])
def identification(kind: str):
    form, service = IdentificationForm(), requested_service(request.args.get("service"))
    error, status, wait_minutes = None, 200, 0
    if form.validate_on_submit():
        try:
            flow = activation.identify(current_ent(), Kind(kind), *form.credentials, service)
        except IdentificationFailed:
            error = "identification"
        except Throttled as exc:
            error, status, wait_minutes = "throttled", 429, -(-exc.wait_seconds // 60)
        except NothingToDo:
            login_url = cas_login(service)
            return render_template("flow/up_to_date.html", kind=Kind(kind), login_url=login_url)
        else:
            session.clear()  # a new session for a new identity
            session.update(flow=flow.id, service=service)
            return _next(flow)
    return render_template(
        "flow/identification.html",
        form=form,
        kind=Kind(kind),
        service=service,
        error=error,
        wait_minutes=wait_minutes,
        expired=session.pop("expired", False),
        total=flows.announced_total(Kind(kind)),
        steps=None,
        step=Step.IDENTIFICATION,
        login_url=cas_login(service),
    ), status


@bp.route(f"/{KIND}/cgu", methods=["GET", "POST"])
def cgu(kind: str):
    flow, form = _flow(kind, Step.CGU), CguForm()
    if form.validate_on_submit():
        try:
            (terms.accept if flow.kind is Kind.CGU else activation.accept_cgu)(flow)
        except Conflict:
            return _conflict(flow, Step.CGU)
        return advance(flow)
    return _render("flow/cgu.html", flow, Step.CGU, form=form)


@bp.route(f"/{KIND}/adresses", methods=["GET", "POST"])
def mails(kind: str):
    flow = _flow(kind, Step.MAILS)
    form = MailsForm(ent_mail=flow.account.mail)
    if request.method == "GET":
        form.prefill(flow.backup_mail, flow.forward)
    if flow.backup_optional and form.later_pressed():  # « Plus tard »
        activation.skip_mails(flow)
        return advance(flow)
    if form.validate_on_submit():
        activation.choose_mails(flow, form.address, form.forward.data)
        return advance(flow)
    return _render("flow/mails.html", flow, Step.MAILS, form=form)


@bp.route(f"/{KIND}/mot-de-passe", methods=["GET", "POST"])
def password(kind: str):
    flow = _flow(kind, Step.PASSWORD)
    form = password_form(flow.account)
    try:
        if form.written(lambda password: activation.complete(flow, password)):
            return redirect(url_for("flow.done", kind=kind))
    except Conflict:
        return _conflict(flow, Step.PASSWORD)
    except AccountBusy:
        return _render("flow/busy.html", flow, Step.PASSWORD), 409
    return _render("flow/password.html", flow, Step.PASSWORD, form=form, policy=form.policy)


@bp.route(f"/{KIND}/compte-active")
def done(kind: str):
    flow = _flow(kind, Step.DONE)
    outcome = next(iter(get_flashed_messages(category_filter=["resend"])), None)
    resent = backup_address.Resend(outcome) if outcome else None
    login_url = cas_login(flow.service)
    return _render(
        "flow/done.html", flow, Step.DONE, login_url=login_url, form=FlaskForm(), resent=resent
    )


@bp.post(f"/{KIND}/compte-active/nouveau-lien")
def resend(kind: str):
    """« Recevoir un nouveau lien » on « Compte activé »: the mail may never have arrived."""
    flow = _flow(kind, Step.DONE)
    flash(backup_address.resend_for_flow(flow).value, "resend")
    return redirect(url_for("flow.done", kind=kind))
