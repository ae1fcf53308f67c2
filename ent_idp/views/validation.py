"""The link mailed to the backup address: a GET shows a button, the POST uses the link."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_wtf import FlaskForm

from .. import activation, cas
from ..tokens import TokenStatus

bp = Blueprint("validation", __name__, url_prefix="/validation")


def _cas_login() -> str:
    config = current_app.config
    return cas.login_url(config["CAS_URL"], config["CAS_DEFAULT_SERVICE"])


@bp.route("/<token>", methods=["GET"])
def show(token: str):
    record = activation.peek_validation(token)
    return render_template(
        "validation/show.html",
        record=record,
        token=token,
        form=FlaskForm(),
        Status=TokenStatus,
        login_url=_cas_login(),
    )


@bp.route("/<token>", methods=["POST"])
def confirm(token: str):
    form = FlaskForm()
    if not form.validate_on_submit():
        return show(token)
    record = activation.confirm_backup_mail(token)
    template = (
        "validation/done.html" if record.status is TokenStatus.VALID else "validation/show.html"
    )
    return render_template(
        template,
        record=record,
        token=token,
        form=FlaskForm(),
        Status=TokenStatus,
        login_url=_cas_login(),
    )


@bp.route("/<token>/nouveau-lien", methods=["POST"])
def resend(token: str):
    form = FlaskForm()
    outcome = (
        activation.resend_validation(token)
        if form.validate_on_submit()
        else activation.Resend.UNKNOWN
    )
    return render_template(
        "validation/resent.html",
        outcome=outcome,
        Resend=activation.Resend,
        login_url=_cas_login(),
    )
