"""« Débloquer mon compte »: ask for a link, follow it (a GET shows a button, the POST uses it)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_wtf import FlaskForm

from .. import cas, unlock
from ..forms import RecoveryForm
from ..tokens import TokenStatus

bp = Blueprint("unlock", __name__, url_prefix="/deblocage")


def _login_url() -> str:
    config = current_app.config
    return cas.login_url(config["CAS_URL"], config["CAS_DEFAULT_SERVICE"])


@bp.route("", methods=["GET", "POST"])
def ask():
    form = RecoveryForm()
    if form.validate_on_submit():
        unlock.request_link(form.login.data.strip())
        return render_template("unlock/requested.html", login_url=_login_url())
    return render_template("unlock/ask.html", form=form)


@bp.get("/lien/<token>")
def link(token: str):
    return render_template(
        "unlock/link.html",
        record=unlock.peek(token),
        token=token,
        form=FlaskForm(),
        Status=TokenStatus,
    )


@bp.post("/lien/<token>")
def use_link(token: str):
    form = FlaskForm()
    if not form.validate_on_submit():
        return link(token)
    record, kind = unlock.open_link(token)
    if record.status is not TokenStatus.VALID:
        return render_template(
            "unlock/link.html", record=record, token=token, form=form, Status=TokenStatus
        )
    return render_template("unlock/done.html", kind=kind, login_url=_login_url())
