"""« Débloquer mon compte »: ask for a link, follow it (a GET shows a button, the POST uses it)."""

from __future__ import annotations

from flask import Blueprint, render_template

from ...domain import unlock
from ...store import TokenStatus
from ..ents import current_ent
from ..links import cas_login
from ..mailed_links import add_pages

bp = Blueprint("unlock", __name__, url_prefix="/deblocage")


def _opened(token: str):
    """The link used: this browser is freed, and told where to go on."""
    record, kind = unlock.open_link(current_ent(), token)
    if record.status is not TokenStatus.VALID:
        return record
    return render_template("unlock/done.html", kind=kind, login_url=cas_login())


add_pages(bp, "unlock", unlock.request_link, unlock.peek, _opened)
