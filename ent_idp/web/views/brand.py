"""The ENT's brand: colours and logo from its configuration, as files (no inline style)."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Blueprint, abort, render_template, send_file

from ..ents import current_ent

bp = Blueprint("brand", __name__, url_prefix="/marque")


@bp.get("/couleurs.css")
def colours():
    css = render_template("brand.css")
    return css, 200, {"Content-Type": "text/css; charset=utf-8"}


@bp.get("/logo")
def logo():
    path = current_ent().brand.logo_file
    if not path:
        abort(404)
    mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return send_file(Path(path), mimetype=mimetype, max_age=3600)
