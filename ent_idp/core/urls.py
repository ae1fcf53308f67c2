"""Links for mails, built from the configured public URL, never from the request's Host."""

from __future__ import annotations

from flask import current_app

from .resources import resources


def public_url_for(endpoint: str, **values: object) -> str:
    adapter = current_app.url_map.bind("localhost", script_name="/")
    path = adapter.build(endpoint, values)
    return resources().settings.public_url + path.lstrip("/")
