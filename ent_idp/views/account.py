"""« Mon compte »: the account space, behind CAS (python-cas, CAS 3 with attributes)."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from .. import account as account_ops
from .. import activation, audit, cas
from ..directory import Account
from ..exceptions import (
    AccountBusy,
    AccountNotFound,
    Conflict,
    IdentificationFailed,
    PasswordRejected,
    Throttled,
    TooManyMails,
)
from ..extensions import services
from ..flows import Kind
from ..forms import AccountMailForm, ForwardForm, PasswordChangeForm
from ..urls import public_url_for

bp = Blueprint("account", __name__, url_prefix="/compte")


def _here() -> str:
    """The service URL CAS sends the user back to (built from the configured public URL)."""
    return public_url_for("account.index")


def _cas_login():
    return redirect(cas.login_url(current_app.config["CAS_URL"], _here()))


def _current_account() -> Account:
    """The logged-in user's account; otherwise a redirect to CAS, or to an unfinished flow."""
    login = services().account_sessions.login_for(session.get("account"))
    if login is None:
        if session.get("account") and request.method == "POST":
            session["account_expired"] = True  # said after the new login: nothing was changed
        abort(_cas_login())
    try:
        account = services().directory.find(login)
    except AccountNotFound:
        services().account_sessions.close(session.pop("account", None))
        abort(403)
    if account.needs_completion:
        kind = Kind.completing(account)
        abort(redirect(url_for("flow.identification", kind=kind, service=_here())))
    flow = activation.start_for(account, _here())
    if flow is not None:  # a new version of the CGU to accept first
        session["flow"] = flow.id
        abort(redirect(url_for("flow.cgu", kind=flow.kind)))
    return account


def _page(account: Account, status: int = 200, **forms):
    policy = services().policy
    forms.setdefault("mail_form", AccountMailForm(prefix="adresse"))
    forms.setdefault("forward_form", ForwardForm(prefix="redirection", forward=account.forward))
    forms.setdefault("password_form", PasswordChangeForm(prefix="mdp", policy=policy))
    return render_template(
        "account/index.html",
        account=account,
        pending=account_ops.pending_backup_mail(account),
        policy=policy,
        **forms,
    ), status


def _show_message():
    """Back to the page after a form, at the top where the message is.

    Each form posts to its own section's #anchor, so that a phone shows its errors; without
    an anchor of its own, the redirect would keep that one and hide the message.
    """
    return redirect(url_for("account.index", _anchor="contenu"))


@bp.get("")
def index():
    ticket = request.args.get("ticket")
    if ticket:
        return _login(ticket)
    return _page(_current_account())


def _login(ticket: str):
    config = current_app.config
    try:
        found = cas.validate_ticket(config["CAS_URL"], _here(), ticket, config["CAS_TIMEOUT"])
    except cas.CasUnavailable:
        return render_template("errors/503.html"), 503
    if found is None:
        audit.event("account-login", "", "invalid-ticket")
        return render_template("account/login_failed.html", login_url=_cas_login().location)
    login, _attributes = found
    expired = session.get("account_expired", False)
    session.clear()  # a new session for a new login; the cookie dies with the browser
    session["account"] = services().account_sessions.open(login, ticket)
    audit.event("account-login", login, "ok")
    if expired:
        flash("session-expired")
        return _show_message()
    return redirect(url_for("account.index"))


@bp.post("")
def single_logout():
    """CAS single logout: CAS posts a SAML LogoutRequest naming the ticket of a session.

    Only the CAS server may: anyone who saw a ticket (in a log, a Referer) must not be able
    to end that user's session.
    """
    if not cas.comes_from(request.remote_addr, services().cas_logout_networks):
        audit.event("account-logout", "", "refused", reason="not-from-cas")
        abort(403)
    ticket = cas.logged_out_ticket(request.form.get("logoutRequest", ""))
    if ticket and services().account_sessions.close_by_ticket(ticket):
        audit.event("account-logout", "", "single-logout")
    return "", 200


@bp.post("/adresse")
def change_backup_mail():
    account = _current_account()
    in_place = account.backup_mail if account.backup_verified else ""
    form = AccountMailForm(prefix="adresse", ent_mail=account.mail, in_place=in_place)
    status = 400
    if form.validate_on_submit():
        address = form.address
        try:
            account_ops.request_backup_change(account, form.current.data, address)
        except (IdentificationFailed, Throttled) as exc:
            form.current_refused(exc)
        except TooManyMails:
            form.too_many_mails()
            status = 429
        else:
            flash("backup-sent")
            return _show_message()
    return _page(account, status, mail_form=form)


@bp.post("/redirection")
def change_forwarding():
    account = _current_account()
    form = ForwardForm(prefix="redirection")
    if form.validate_on_submit():
        try:
            account_ops.set_forwarding(account, form.current.data, form.forward.data)
        except (IdentificationFailed, Throttled) as exc:
            form.current_refused(exc)
        except Conflict:
            flash("changed-meanwhile")
            return _show_message()
        else:
            flash("forward-saved")
            return _show_message()
    return _page(account, 400, forward_form=form)


@bp.post("/mot-de-passe")
def change_password():
    account = _current_account()
    personal = (account.login, account.given_name, account.surname)
    form = PasswordChangeForm(prefix="mdp", policy=services().policy, personal=personal)
    if form.validate_on_submit():
        try:
            account_ops.change_password(account, form.current.data, form.password.data)
        except (IdentificationFailed, Throttled) as exc:
            form.current_refused(exc)
        except PasswordRejected as exc:
            form.reject(exc.reason)
        except (Conflict, AccountBusy):
            flash("changed-meanwhile")
            return _show_message()
        else:
            flash("password-changed")
            return _show_message()
    return _page(account, 400, password_form=form)


@bp.post("/deconnexion")
def logout():
    services().account_sessions.close(session.get("account"))
    session.clear()
    config = current_app.config
    return redirect(cas.logout_url(config["CAS_URL"], config["PUBLIC_URL"]))
