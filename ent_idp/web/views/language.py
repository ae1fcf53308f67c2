"""The language switch in every page's header: remember the choice, back to the same page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, request

from ...languages import LANGUAGES
from ..i18n import COOKIE, COOKIE_MAX_AGE, local_path

bp = Blueprint("language", __name__)


@bp.get("/langue/<code>")
def switch(code: str):
    """Only the cookie changes: the session, and the flow it points to, carry on."""
    if code not in LANGUAGES:
        abort(404)
    response = redirect(local_path(request.args.get("next")) or "/")
    response.set_cookie(
        COOKIE,
        code,
        max_age=COOKIE_MAX_AGE,
        path=current_app.session_interface.get_cookie_path(current_app),
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
    return response
