"""The landing page: the two ways in, as on the CAS login page."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    return render_template("home.html")
