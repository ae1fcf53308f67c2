"""« Identifiant oublié »: names and backup address in, the same page out whoever matched."""

from __future__ import annotations

from flask import Blueprint

from ...core.resources import resources
from ...domain import forgotten_login
from ..ents import current_ent
from ..identity_form import ForgottenLoginForm
from ..mailed_links import ask_page

bp = Blueprint("forgotten_login", __name__, url_prefix="/identifiant-oublie")


@bp.route("", methods=["GET", "POST"])
def ask():
    form = ForgottenLoginForm(asks_school=bool(resources().settings.ldap.school_attribute))
    return ask_page(
        "forgotten_login",
        form,
        lambda form: forgotten_login.request_login(current_ent(), form.identity()),
    )
