"""Apereo CAS's REST interrupt, called the way CAS calls it.

CAS (``cas.interrupt.rest.url``) sends ``GET ?username=…&service=…&registeredService=…`` with
basic auth and reads the JSON answer: ``interrupt``, ``block``, ``ssoEnabled``,
``autoRedirect``, ``autoRedirectAfterSeconds``, ``message``, ``links`` (label → URL).
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import INTERRUPT_PASSWORD

pytestmark = pytest.mark.security

SERVICE = "http://ent.test/portail/"


def call(client, username, password=INTERRUPT_PASSWORD, user="cas", service=SERVICE):
    headers = {"Accept": "application/json", "Accept-Language": "fr"}
    if password is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    return client.get(
        "/api/cas/interrupt",
        query_string={"username": username, "service": service, "registeredService": "42"},
        headers=headers,
    )


@pytest.mark.parametrize(
    ("state", "cgu", "path"),
    [
        ("pending", None, "/activation"),
        ("reset", "2026-09", "/reinitialisation"),
        ("active", "2024-09", "/conditions"),
    ],
)
def test_accounts_with_something_to_do_are_interrupted(client, accounts, state, cgu, path):
    account = accounts.create(state, cgu_version=cgu)
    response = call(client, account["login"])
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["interrupt"] is True
    assert answer["block"] is True and answer["ssoEnabled"] is False
    assert answer["autoRedirect"] is True
    assert answer["message"]
    [link] = answer["links"].values()
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}/" == "http://ent-idp.test/"
    assert parts.path == path
    assert parse_qs(parts.query) == {"service": [SERVICE]}


@pytest.mark.parametrize("login", ["up-to-date", "nobody.here"])
def test_up_to_date_and_unknown_accounts_go_on(client, accounts, login):
    if login == "up-to-date":
        login = accounts.create("active", cgu_version="2026-09")["login"]
    answer = call(client, login).get_json()
    assert answer["interrupt"] is False


def test_a_service_outside_the_allow_list_is_not_echoed(client, accounts):
    account = accounts.create("pending")
    answer = call(client, account["login"], service="https://evil.example/").get_json()
    [link] = answer["links"].values()
    assert "evil.example" not in link


@pytest.mark.parametrize(
    ("user", "password"), [("cas", None), ("cas", "wrong"), ("other", INTERRUPT_PASSWORD)]
)
def test_unauthenticated_calls_are_refused(client, accounts, user, password):
    """Unauthenticated, the endpoint would tell anyone which accounts exist and their state."""
    account = accounts.create("pending")
    response = call(client, account["login"], password=password, user=user)
    assert response.status_code == 401
    assert "interrupt" not in response.get_json()
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_without_a_configured_password_every_call_is_refused(app, settings, accounts):
    from ent_idp import create_app

    closed = create_app({**settings, "CAS_INTERRUPT_PASSWORD": ""}).test_client()
    account = accounts.create("pending")
    assert call(closed, account["login"], password="").status_code == 401
    closed.application.extensions["ent_idp"].close()
