"""The link mailed to the backup address: a GET shows a button, the POST uses the link."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_wtf import FlaskForm

from ...domain import backup_address
from ...domain.backup_address import Resend
from ...store import TokenRecord, TokenStatus
from ..ents import current_ent
from ..links import cas_login

bp = Blueprint("validation", __name__, url_prefix="/validation")


def _page(template: str, record: TokenRecord, token: str):
    return render_template(
        template, record=record, token=token, form=FlaskForm(), login_url=cas_login()
    )


@bp.route("/<token>", methods=["GET"])
def show(token: str):
    return _page("validation/show.html", backup_address.peek(token), token)


@bp.route("/<token>", methods=["POST"])
def confirm(token: str):
    if not FlaskForm().validate_on_submit():
        return show(token)
    record = backup_address.confirm(current_ent(), token)
    used = record.status is TokenStatus.VALID
    return _page("validation/done.html" if used else "validation/show.html", record, token)


@bp.route("/<token>/nouveau-lien", methods=["POST"])
def resend(token: str):
    valid = FlaskForm().validate_on_submit()
    outcome = backup_address.resend(current_ent(), token) if valid else Resend.UNKNOWN
    return render_template("validation/resent.html", outcome=outcome, login_url=cas_login())
