"""Steps are enforced on the server; back button and double submit never write twice."""

from __future__ import annotations

import pytest

from .pages import csrf_token, identify, prepare_post, reach_password, submit, text

pytestmark = pytest.mark.security

NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"


def test_steps_cannot_be_skipped(client, accounts):
    assert client.get("/activation/mot-de-passe").headers["Location"].startswith("/activation")
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    assert client.get("/activation/mot-de-passe").headers["Location"] == "/activation/cgu"
    assert client.get("/activation/compte-active").headers["Location"] == "/activation/cgu"
    token = csrf_token(client.get("/activation/cgu").get_data(as_text=True))
    response = client.post(
        "/activation/mot-de-passe",
        data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/activation/cgu"
    assert accounts.read(account["dn"])["entidpaccountstate"] == [b"pending"]


def test_back_button_lets_the_user_change_an_earlier_answer(client, accounts):
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    submit(client, "/activation/cgu", {"accept": "y"})
    submit(
        client, "/activation/adresses", {"backup_mail": "a@example.net", "confirm": "a@example.net"}
    )
    page = client.get("/activation/adresses")
    assert page.status_code == 200 and 'value="a@example.net"' in page.get_data(as_text=True)
    submit(
        client, "/activation/adresses", {"backup_mail": "b@example.net", "confirm": "b@example.net"}
    )
    submit(client, "/activation/mot-de-passe", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert accounts.read(account["dn"])["entidpbackupmail"] == [b"b@example.net"]


def test_double_submit_writes_once(client, accounts, deliver):
    account = accounts.create("pending")
    reach_password(client, "activation", account)
    fields = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    first_click = prepare_post(client, "/activation/mot-de-passe", fields)
    second_click = prepare_post(client, "/activation/mot-de-passe", fields)
    assert first_click().request.path == "/activation/compte-active"
    written = accounts.read(account["dn"])
    # The same form posted again (back button, double click): nothing more is written.
    assert second_click().request.path == "/activation/compte-active"
    assert accounts.read(account["dn"]) == written
    assert len(deliver()) == 1
    for path in ("/activation/cgu", "/activation/adresses", "/activation/mot-de-passe"):
        assert client.get(path).headers["Location"] == "/activation/compte-active"


def test_two_browsers_finishing_the_same_account_one_wins(app, accounts):
    """The Assertion control makes the second write fail instead of overwriting the first."""
    account = accounts.create("pending")
    first, second = app.test_client(), app.test_client()
    for browser in (first, second):
        reach_password(browser, "activation", account)
    won = submit(
        first, "/activation/mot-de-passe", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    lost = submit(
        second,
        "/activation/mot-de-passe",
        {"password": "Autre-Mot-De-Passe-2026!", "confirm": "Autre-Mot-De-Passe-2026!"},
    )
    assert won.request.path == "/activation/compte-active"
    assert lost.status_code == 409
    assert "Votre compte a déjà été traité" in text(lost)
    assert accounts.binds(account["dn"], NEW_PASSWORD)
    assert not accounts.binds(account["dn"], "Autre-Mot-De-Passe-2026!")


def test_an_admin_reset_during_the_flow_voids_it(client, accounts, stack):
    """A re-reset with a new provisional password must not be overwritten by an old flow."""
    account = accounts.create("reset", password="Premier-Provisoire-2026")
    reach_password(client, "reinitialisation", account)
    conn = stack.slapd.admin_connection()
    conn.modify(account["dn"], {"userPassword": [("MODIFY_REPLACE", ["Second-Provisoire-2026"])]})
    conn.unbind()
    response = submit(
        client,
        "/reinitialisation/mot-de-passe",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 409
    assert accounts.binds(account["dn"], "Second-Provisoire-2026")


def test_an_expired_flow_restarts_cleanly(client, app, accounts):
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    with app.app_context():
        from ent_idp.core.resources import resources

        for key in resources().store.redis.scan_iter("ent-idp:flow:*"):
            resources().store.redis.delete(key)
    response = client.get("/activation/adresses", follow_redirects=True)
    assert response.request.path == "/activation"
    assert "Votre session a expiré" in text(response)
    again = identify(client, "activation", account["login"], account["password"])
    assert again.request.path == "/activation/cgu"
