"""Going through pages as a browser would: read the form, keep its CSRF token, submit."""

from __future__ import annotations

import re
from html import unescape

_CSRF = re.compile(r'name="(?:[\w-]+-)?csrf_token" type="hidden" value="([^"]+)"')
_TOKEN_NAMES = re.compile(r'name="((?:[\w-]+-)?csrf_token)"')


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def text(response) -> str:
    """The page as a user reads it: tags removed, entities decoded, spaces collapsed."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def submit(client, url: str, data: dict, follow: bool = True, action: str | None = None):
    """GET the page at ``url``, then POST ``data`` with the page's CSRF token (to ``action``)."""
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    html = page.get_data(as_text=True)
    token = csrf_token(html)
    # Forms with a prefix carry their token as "<prefix>-csrf_token".
    form = {name: token for name in _TOKEN_NAMES.findall(html)}
    form.update({k: v for k, v in data.items() if v is not None and v is not False})
    return client.post(action or url, data=form, follow_redirects=follow)


def prepare_post(client, url: str, data: dict):
    """Load the page now, submit it later: the user pressed « Continuer » on an old page."""
    token = csrf_token(client.get(url, follow_redirects=True).get_data(as_text=True))
    return lambda: client.post(url, data={"csrf_token": token, **data}, follow_redirects=True)


def identify(client, kind: str, login: str, password: str, service: str | None = None):
    url = f"/{kind}" + (f"?service={service}" if service else "")
    return submit(client, url, {"login": login, "password": password})


def reach_password(
    client,
    kind: str,
    account: dict,
    *,
    backup_mail: str = "emma.perso@example.net",
    forward: bool = False,
    service: str | None = None,
):
    """Identification, CGU if asked, the addresses: the browser stands on « Mot de passe »."""
    response = identify(client, kind, account["login"], account["password"], service)
    if response.request.path.endswith("/cgu"):
        submit(client, f"/{kind}/cgu", {"accept": "y"})
    return submit(
        client,
        f"/{kind}/adresses",
        {"backup_mail": backup_mail, "confirm": backup_mail, "forward": "y" if forward else None},
    )


def choose_password(client, kind: str, password: str):
    return submit(client, f"/{kind}/mot-de-passe", {"password": password, "confirm": password})


def go_through(
    client,
    kind: str,
    account: dict,
    *,
    backup_mail: str = "emma.perso@example.net",
    forward: bool = True,
    new_password: str = "Tr0mbone-Vert-Soleil!",
    service: str | None = None,
):
    """Every step of a flow with valid answers; returns the last response."""
    reach_password(client, kind, account, backup_mail=backup_mail, forward=forward, service=service)
    return choose_password(client, kind, new_password)


def link_in(message, path: str = "validation") -> str:
    body = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(rf"https?://\S+/{path}/\S+", body)
    assert match, body
    return match.group(0)
