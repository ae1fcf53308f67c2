"""« Mon compte »: the account space, behind CAS (python-cas, CAS 3 with attributes)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for

from ...cas import CasUnavailable
from ...core.urls import public_url_for
from ...directory import Account
from ...domain import my_account
from ...domain.my_account import Gate
from ...domain.password_policy import current_policy
from ...errors import (
    AccountBusy,
    Conflict,
    IdentificationFailed,
    Throttled,
    TooManyMails,
)
from ..ents import current_ent
from ..forms import AccountMailForm, ForwardForm, PasswordChangeForm
from ..links import cas_login, cas_logout

bp = Blueprint("account", __name__, url_prefix="/compte")
REFUSED = (IdentificationFailed, Throttled)  # the current password: said on its field


def _here() -> str:
    """The service URL CAS sends the user back to (built from the configured public URL)."""
    return public_url_for(current_ent(), "account.index")


def _current_account() -> Account:
    return _visit().account


def _visit() -> my_account.Visit:
    """The logged-in user's account; otherwise a redirect to CAS, or to an unfinished flow."""
    visit = my_account.visit(current_ent(), session.get("account"), _here())
    if visit.gate is Gate.SIGNED_OUT:
        if session.get("account") and request.method == "POST":
            session["account_expired"] = True  # said after the new login: nothing was changed
        abort(redirect(cas_login(_here())))
    if visit.gate is Gate.GONE:
        session.pop("account", None)
        abort(403)
    if visit.gate is Gate.TO_COMPLETE and visit.federated:  # no provisional password
        abort(redirect(url_for("federation.start", service=_here())))
    if visit.gate is Gate.TO_COMPLETE:
        abort(redirect(url_for("flow.identification", kind=visit.kind, service=_here())))
    if visit.gate is Gate.FLOW:
        session["flow"] = visit.flow.id
        abort(redirect(url_for("flow.cgu", kind=visit.flow.kind)))
    return visit


def _page(account: Account, status: int = 200, federated: bool = False, **forms):
    policy = current_policy()
    forms.setdefault("mail_form", AccountMailForm(prefix="adresse"))
    forms.setdefault("forward_form", ForwardForm(prefix="redirection", forward=account.forward))
    forms.setdefault("password_form", PasswordChangeForm(prefix="mdp", policy=policy))
    pending = my_account.pending_backup_mail(account)
    return render_template(
        "account/index.html",
        account=account,
        pending=pending,
        policy=policy,
        federated=federated,
        **forms,
    ), status


def _show(message: str):
    """Back to the page after a form, at the top where the message is.

    Each form posts to its own section's #anchor, so that a phone shows its errors; without
    an anchor of its own, the redirect would keep that one and hide the message.
    """
    flash(message)
    return redirect(url_for("account.index", _anchor="contenu"))


@bp.get("")
def index():
    ticket = request.args.get("ticket")
    if ticket:
        return _login(ticket)
    visit = _visit()
    return _page(visit.account, federated=visit.federated)


def _login(ticket: str):
    try:
        sid = my_account.sign_in(current_ent(), ticket, _here())
    except CasUnavailable:
        return render_template("errors/503.html"), 503
    if sid is None:
        return render_template("account/login_failed.html", login_url=cas_login(_here()))
    expired = session.get("account_expired", False)
    session.clear()  # a new session for a new login; the cookie dies with the browser
    session["account"] = sid
    return _show("session-expired") if expired else redirect(url_for("account.index"))


@bp.post("")
def single_logout():
    """CAS single logout: CAS posts a SAML LogoutRequest naming the ticket of a session."""
    if not my_account.single_logout(request.remote_addr, request.form.get("logoutRequest", "")):
        abort(403)
    return "", 200


@bp.post("/adresse")
def change_backup_mail():
    account = _current_account()
    in_place = account.backup_mail if account.backup_verified else ""
    form = AccountMailForm(prefix="adresse", ent_mail=account.mail, in_place=in_place)
    status = 400
    if form.validate_on_submit():
        try:
            my_account.request_backup_change(
                current_ent(), account, form.current.data, form.address
            )
        except REFUSED as exc:
            form.current_refused(exc)
        except TooManyMails:
            form.too_many_mails()
            status = 429
        else:
            return _show("backup-sent")
    return _page(account, status, mail_form=form)


@bp.post("/redirection")
def change_forwarding():
    account = _current_account()
    form = ForwardForm(prefix="redirection")
    if form.validate_on_submit():
        try:
            my_account.set_forwarding(current_ent(), account, form.current.data, form.forward.data)
        except REFUSED as exc:
            form.current_refused(exc)
        except Conflict:
            return _show("changed-meanwhile")
        else:
            return _show("forward-saved")
    return _page(account, 400, forward_form=form)


@bp.post("/mot-de-passe")
def change_password():
    account = _current_account()
    form = PasswordChangeForm(
        prefix="mdp", policy=current_policy(), personal=account.personal_words
    )
    try:
        ent, current = current_ent(), form.current.data
        if form.written(lambda new: my_account.change_password(ent, account, current, new)):
            return _show("password-changed")
    except REFUSED as exc:
        form.current_refused(exc)
    except (Conflict, AccountBusy):
        return _show("changed-meanwhile")
    return _page(account, 400, password_form=form)


@bp.post("/deconnexion")
def logout():
    my_account.sign_out(session.get("account"))
    session.clear()
    return redirect(cas_logout())
