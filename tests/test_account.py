"""« Mon compte » through the real CAS server: login, backup address, forwarding, password."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import pytest

from .cas_client import cas_login
from .conftest import CGU_VERSION
from .pages import csrf_token, link_in, submit, text

PASSWORD = "Deja-Actif-2026!"
HERE = "http://ent-idp.test/compte"


@pytest.fixture
def settings(settings, cas_server):
    return {**settings, "CAS_URL": cas_server.url}


@pytest.fixture
def active(accounts):
    return accounts.create(
        "active",
        password=PASSWORD,
        backup_mail="emma.perso@example.net",
        backup_verified=True,
        cgu_version=CGU_VERSION,
        forward=True,
    )


def log_in(client, cas_server, account, password=PASSWORD):
    response = client.get("/compte")
    assert response.status_code == 302
    service = parse_qs(urlsplit(response.location).query)["service"][0]
    ticket = cas_login(cas_server.url, service, account["login"], password)
    return client.get(f"/compte?ticket={ticket}", follow_redirects=True)


def test_mon_compte_sends_anonymous_users_to_cas(client, cas_server):
    response = client.get("/compte")
    assert response.location == f"{cas_server.url}login?service={quote(HERE, safe='')}"


def test_after_cas_login_the_account_is_shown(client, cas_server, active):
    page = text(log_in(client, cas_server, active))
    assert "Mon compte" in page
    assert active["login"] in page and active["mail"] in page
    assert "emma.perso@example.net validée" in page
    assert "vers emma.perso@example.net" in page


def test_a_forged_ticket_logs_nobody_in(client, cas_server, active):
    """Only CAS can vouch for a user: a made-up ticket must not open « Mon compte »."""
    response = client.get("/compte?ticket=ST-123-forged", follow_redirects=True)
    assert "Connexion impossible" in text(response)
    assert client.get("/compte").status_code == 302


def test_a_new_backup_address_waits_for_its_link(client, cas_server, active, accounts, deliver):
    """Until the new address proves it is the user's, mail and recovery use the old one."""
    log_in(client, cas_server, active)
    response = submit(
        client,
        "/compte",
        {
            "adresse-backup_mail": "nouvelle@example.net",
            "adresse-confirm": "nouvelle@example.net",
            "adresse-current": PASSWORD,
        },
        action="/compte/adresse",
    )
    page = text(response)
    assert "Un message avec un lien de validation a été envoyé" in page
    assert "nouvelle@example.net lien envoyé" in page
    entry = accounts.read(active["dn"])
    assert entry["entidpbackupmail"] == [b"emma.perso@example.net"]
    assert "entidpbackupmailverifiedtime" in entry
    assert entry["mailroutingaddress"] == [b"emma.perso@example.net"]

    [message] = [m for m in deliver(2) if m["To"] == "nouvelle@example.net"]
    response = submit(client, link_in(message).removeprefix("http://ent-idp.test"), {})
    assert "Adresse validée" in text(response)
    entry = accounts.read(active["dn"])
    assert entry["entidpbackupmail"] == [b"nouvelle@example.net"]
    assert entry["entidpbackupmailverifiedtime"] != [b"20250901080000Z"]
    assert entry["mailroutingaddress"] == [b"nouvelle@example.net"]
    assert "lien envoyé" not in text(client.get("/compte"))


def test_the_same_address_again_is_refused(client, cas_server, active, deliver):
    log_in(client, cas_server, active)
    response = submit(
        client,
        "/compte",
        {
            "adresse-backup_mail": "emma.perso@example.net",
            "adresse-confirm": "emma.perso@example.net",
            "adresse-current": PASSWORD,
        },
        action="/compte/adresse",
    )
    assert response.status_code == 400
    assert "C'est déjà votre adresse de secours." in text(response)
    assert deliver() == []


def test_forwarding_follows_the_choice_and_only_to_a_verified_address(client, cas_server, accounts):
    unverified = accounts.create(
        "active",
        password=PASSWORD,
        backup_mail="emma.perso@example.net",
        cgu_version=CGU_VERSION,
        forward=False,
    )
    log_in(client, cas_server, unverified)
    fields = {"redirection-forward": "y", "redirection-current": PASSWORD}
    submit(client, "/compte", fields, action="/compte/redirection")
    entry = accounts.read(unverified["dn"])
    assert entry["entidpmailforward"] == [b"TRUE"]
    assert "mailroutingaddress" not in entry, "never forward to an unverified address"
    assert "elle commencera quand l'adresse de secours sera validée" in text(client.get("/compte"))


def test_turning_forwarding_off(client, cas_server, active, accounts):
    log_in(client, cas_server, active)
    submit(client, "/compte", {"redirection-current": PASSWORD}, action="/compte/redirection")
    entry = accounts.read(active["dn"])
    assert entry["entidpmailforward"] == [b"FALSE"]
    assert "mailroutingaddress" not in entry


def test_changing_the_password_needs_the_current_one(client, cas_server, active, accounts):
    log_in(client, cas_server, active)
    new = "Autre-Chemin-2027!"
    fields = {"mdp-current": "Mauvais-2026!", "mdp-password": new, "mdp-confirm": new}
    response = submit(client, "/compte", fields, action="/compte/mot-de-passe")
    assert "Mot de passe actuel incorrect." in text(response)
    assert accounts.binds(active["dn"], PASSWORD)

    fields["mdp-current"] = PASSWORD
    response = submit(client, "/compte", fields, action="/compte/mot-de-passe")
    assert "Votre mot de passe a été changé." in text(response)
    assert accounts.binds(active["dn"], new)
    assert not accounts.binds(active["dn"], PASSWORD)
    assert accounts.read(active["dn"])["userpassword"][0].startswith(b"{ARGON2}")


def test_the_new_password_follows_the_policy(client, cas_server, active, accounts):
    log_in(client, cas_server, active)
    fields = {"mdp-current": PASSWORD, "mdp-password": "court", "mdp-confirm": "court"}
    response = submit(client, "/compte", fields, action="/compte/mot-de-passe")
    assert response.status_code == 400
    assert "au moins 8 caractères" in text(response)
    assert accounts.binds(active["dn"], PASSWORD)


def test_an_account_reset_meanwhile_goes_to_its_flow(client, cas_server, active, stack):
    log_in(client, cas_server, active)
    conn = stack.slapd.admin_connection()
    conn.modify(active["dn"], {"entIdpAccountState": [("MODIFY_REPLACE", ["reset"])]})
    conn.unbind()
    location = urlsplit(client.get("/compte").location)
    assert location.path == "/reinitialisation"
    assert parse_qs(location.query) == {"service": [HERE]}


def test_an_old_cgu_version_is_accepted_first(client, cas_server, accounts):
    account = accounts.create("active", password=PASSWORD, cgu_version="2024-09")
    response = log_in(client, cas_server, account)
    assert response.request.path == "/conditions/cgu"
    response = submit(client, "/conditions/cgu", {"accept": "y"})
    assert "Conditions acceptées" in text(response)
    assert f"login?service={quote(HERE, safe='')}" in response.get_data(as_text=True)
    assert accounts.read(account["dn"])["entidpcguversion"] == [CGU_VERSION.encode()]
    assert "Mon compte" in text(client.get("/compte"))


def test_logout_ends_the_session_and_goes_through_cas(client, cas_server, active):
    log_in(client, cas_server, active)
    token = csrf_token(client.get("/compte").get_data(as_text=True))
    response = client.post("/compte/deconnexion", data={"csrf_token": token})
    assert response.location.startswith(f"{cas_server.url}logout?service=")
    assert client.get("/compte").status_code == 302


def test_cas_single_logout_ends_the_session(client, cas_server, active):
    """Logging out of the ENT must close « Mon compte » too, even in another tab."""
    response = client.get("/compte")
    service = parse_qs(urlsplit(response.location).query)["service"][0]
    ticket = cas_login(cas_server.url, service, active["login"], PASSWORD)
    client.get(f"/compte?ticket={ticket}")
    assert client.get("/compte").status_code == 200
    logout_request = (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="x" Version="2.0" '
        f'IssueInstant="2026-11-28T00:00:00Z"><saml:NameID>{active["login"]}</saml:NameID>'
        f"<samlp:SessionIndex>{ticket}</samlp:SessionIndex></samlp:LogoutRequest>"
    )
    assert client.post("/compte", data={"logoutRequest": logout_request}).status_code == 200
    assert client.get("/compte").status_code == 302
