"""A browser over real HTTP for the cluster tests: its cookies, one connection per request
(so nginx picks an instance for each), and a User-Agent naming the session and the request's
number, which the instances' access logs repeat: that is how a test sees who served what."""

from __future__ import annotations

import http.client
import re
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

CSRF = re.compile(r'name="(?:[\w-]+-)?csrf_token" type="hidden" value="([^"]+)"')
UNAVAILABLE = "momentanément indisponible"


class WebSession:
    def __init__(self, base_url: str, name: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.name = name
        self.cookies: dict[str, str] = {}
        self.sent = 0
        self.unavailable = 0  # « momentanément indisponible » pages seen

    def request(self, method: str, path: str, form: dict | None = None):
        self.sent += 1
        headers = {
            "Host": f"{self.host}:{self.port}",
            "User-Agent": f"{self.name}#{self.sent}",
            "Accept": "text/html",
            "Accept-Language": "fr",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            html = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        if response.status == 503:
            assert UNAVAILABLE in html
            self.unavailable += 1
        return response.status, urlsplit(response.headers.get("Location", "")).path, html

    def page(self, path: str, tries: int = 2) -> str:
        """The page at ``path`` (200), reloaded once after a 503 as a user would."""
        for _ in range(tries):
            status, _, html = self.request("GET", path)
            if status != 503:
                break
        assert status == 200, (path, status)
        return html

    def post(self, path: str, fields: dict, tries: int = 2) -> tuple[int, str, str]:
        """The form at ``path`` filled with ``fields`` and sent; after a 503, the user
        reloads the form and sends it again (once)."""
        for _ in range(tries):
            html = self.page(path)
            match = CSRF.search(html)
            assert match, f"no form at {path}"
            status, location, answer = self.request(
                "POST", path, {"csrf_token": match[1], **fields}
            )
            if status != 503:
                break
        return status, location, answer


def activate(
    session: WebSession,
    login: str,
    provisional: str,
    new_password: str,
    *,
    upto: str = "compte-active",
    start: str = "identification",
) -> None:
    """An activation through its pages, from ``start`` to ``upto`` (the last page shown)."""
    backup = f"{login}@perso.example.net"
    steps = [
        ("identification", "/activation", {"login": login, "password": provisional}, "cgu"),
        ("cgu", "/activation/cgu", {"accept": "y"}, "adresses"),
        (
            "adresses",
            "/activation/adresses",
            {"backup_mail": backup, "confirm": backup, "forward": "y"},
            "mot-de-passe",
        ),
        (
            "mot-de-passe",
            "/activation/mot-de-passe",
            {"password": new_password, "confirm": new_password},
            "compte-active",
        ),
    ]
    names = [name for name, *_ in steps]
    for name, path, fields, then in steps[names.index(start) :]:
        if name == upto:
            return
        status, location, html = session.post(path, fields)
        said = re.findall(r'class="[^"]*(?:error|alert)[^"]*"[^>]*>\s*([^<]+)', html)
        assert (status, location) == (302, f"/activation/{then}"), (name, status, said)
    if upto == "compte-active":
        assert "activé" in session.page("/activation/compte-active")
