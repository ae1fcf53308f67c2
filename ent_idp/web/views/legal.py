"""The legal pages of the ENT: its « Déclaration d'accessibilité » (content from [legal])."""

from __future__ import annotations

import re

from flask import Blueprint, render_template

from ..ents import current_ent

bp = Blueprint("legal", __name__)

_MAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@bp.get("/accessibilite")
def accessibility():
    ent = current_ent()
    contact = ent.legal.contact or ent.mail.help_contact
    return render_template(
        "legal/accessibility.html",
        legal=ent.legal,
        contact=contact,
        contact_href=_href(contact),
    )


def _href(contact: str) -> str | None:
    """A contact that is an address or a web page is a link; anything else is text."""
    if re.match(r"https?://\S+$", contact):
        return contact
    if _MAIL.fullmatch(contact):
        return f"mailto:{contact}"
    return None
