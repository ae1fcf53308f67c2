"""Links for users, built from their ENT's configured public URL, never from a request's Host."""

from __future__ import annotations

from flask import current_app

from ..settings import Ent


def public_url_for(ent: Ent, endpoint: str, **values: object) -> str:
    """``endpoint``'s URL at ``ent``'s public URL (mails, CAS services, the interrupt)."""
    adapter = current_app.url_map.bind("localhost", script_name="/")
    path = adapter.build(endpoint, values)
    return ent.public_url + path.lstrip("/")
