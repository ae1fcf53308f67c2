"""Logging in at the real CAS server the way a browser does, to get a service ticket."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import requests


class _HiddenInputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") == "hidden" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""


def cas_login(
    cas_url: str,
    service: str,
    login: str,
    password: str,
    browser: requests.Session | None = None,
) -> str:
    """Post the CAS login form; return the ticket CAS hands the service.

    With ``browser`` the CAS session (its cookie) stays there, e.g. to log out of CAS later.
    """
    with requests.Session() as own:
        browser = browser if browser is not None else own
        page = browser.get(f"{cas_url}login", params={"service": service}, timeout=10)
        page.raise_for_status()
        form = _HiddenInputs()
        form.feed(page.text)
        answer = browser.post(
            page.url,
            data={**form.fields, "username": login, "password": password},
            allow_redirects=False,
            timeout=10,
        )
    location = answer.headers.get("Location", "")
    assert location.startswith(service), (answer.status_code, location, answer.text[:500])
    return parse_qs(urlsplit(location).query)["ticket"][0]
