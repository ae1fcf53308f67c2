"""« Débloquer mon compte »: ask for a link, follow it (a GET shows a button, the POST uses it)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_wtf import FlaskForm

from ...domain import unlock
from ...store import TokenStatus
from ..forms import RecoveryForm
from ..links import cas_login

bp = Blueprint("unlock", __name__, url_prefix="/deblocage")


@bp.route("", methods=["GET", "POST"])
def ask():
    form = RecoveryForm()
    if form.validate_on_submit():
        unlock.request_link(form.login.data.strip())
        return render_template("unlock/requested.html", login_url=cas_login())
    return render_template("unlock/ask.html", form=form)


@bp.get("/lien/<token>")
def link(token: str):
    record = unlock.peek(token)
    return render_template("unlock/link.html", record=record, token=token, form=FlaskForm())


@bp.post("/lien/<token>")
def use_link(token: str):
    form = FlaskForm()
    if not form.validate_on_submit():
        return link(token)
    record, kind = unlock.open_link(token)
    if record.status is not TokenStatus.VALID:
        return render_template("unlock/link.html", record=record, token=token, form=form)
    return render_template("unlock/done.html", kind=kind, login_url=cas_login())
