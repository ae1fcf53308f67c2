"""Identification: one generic answer, no LDAP injection, CSRF on the form."""

from __future__ import annotations

import pytest

from .pages import csrf_token, identify, text

pytestmark = pytest.mark.security

GENERIC = "Identifiant ou mot de passe provisoire incorrect"


def _error_block(response) -> str:
    page = text(response)
    start = page.index(GENERIC)
    return page[start : start + 200]


def test_unknown_login_wrong_password_and_active_account_look_the_same(client, accounts):
    """Telling them apart would let anyone list which logins exist and which are waiting."""
    pending = accounts.create("pending")
    active = accounts.create("active", password="Deja-Actif-2026!")
    answers = [
        identify(client, "activation", "personne.inconnue", "Provisoire-2026"),
        identify(client, "activation", pending["login"], "Mauvais-2026"),
        identify(client, "activation", active["login"], "Mauvais-2026"),
    ]
    assert {r.status_code for r in answers} == {200}
    assert len({_error_block(r) for r in answers}) == 1
    assert all(r.request.path == "/activation" for r in answers)


def test_right_password_of_an_active_account_gets_the_generic_answer(client, accounts):
    """Saying « déjà actif » would confirm the password to whoever typed it; the generic
    answer tells active users to log in to the ENT instead (tests/test_timing.py)."""
    active = accounts.create("active", password="Deja-Actif-2026!")
    response = identify(client, "activation", active["login"], active["password"])
    assert GENERIC in text(response) and "connectez-vous directement à l'ENT" in text(response)
    assert client.get("/activation/cgu").headers["Location"].startswith("/activation"), "no flow"


@pytest.mark.parametrize("password", ["", "   ", "\t"])
def test_blank_passwords_are_refused_before_any_bind(client, accounts, password):
    """An empty password is an unauthenticated LDAP bind, which succeeds (RFC 4513 §5.1.2)."""
    account = accounts.create("pending")
    response = identify(client, "activation", account["login"], password)
    assert response.request.path == "/activation"
    assert "Saisissez votre mot de passe provisoire." in text(response)


@pytest.mark.parametrize(
    "login",
    [
        "*",
        "*)(uid=*",
        ")(uid=*))(|(uid=*",
        "emma*",
        "\\",
        "a\x00b",
        ',+=;"#<>',
        "é" * 200,
        "x" * 10_000,
    ],
)
def test_filter_metacharacters_and_huge_logins_get_a_clean_answer(client, accounts, login):
    """LDAP filter input is escaped: a wildcard must never match someone else's entry."""
    accounts.create("pending")
    response = identify(client, "activation", login, "Provisoire-2026")
    assert response.status_code == 200
    assert response.request.path == "/activation"
    page = text(response)
    assert GENERIC in page or "trop long" in page


def test_a_post_without_csrf_token_gets_a_friendly_400(client, accounts):
    """A form posted from another site must not act for the user (CSRF)."""
    account = accounts.create("pending")
    response = client.post(
        "/activation", data={"login": account["login"], "password": account["password"]}
    )
    assert response.status_code == 400
    assert "Cette page a expiré" in text(response)


def test_identification_renews_the_session(client, accounts):
    """A session id chosen before login must not carry into the flow (session fixation)."""
    account = accounts.create("pending")
    page = client.get("/activation")
    token = csrf_token(page.get_data(as_text=True))
    client.post(
        "/activation",
        data={"csrf_token": token, "login": account["login"], "password": account["password"]},
    )
    # The pre-login CSRF token belonged to the old session: it no longer works.
    response = client.post("/activation/cgu", data={"csrf_token": token, "accept": "y"})
    assert response.status_code == 400
