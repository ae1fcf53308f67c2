"""« Activer mon compte » through the pages, against the real slapd, Redis and SMTP sink."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from .conftest import CAS_URL, CGU_VERSION, DEFAULT_SERVICE
from .pages import go_through, identify, link_in, submit, text

NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"


def test_activation_writes_the_account_and_mails_a_link(client, accounts, deliver):
    account = accounts.create("pending")

    response = identify(client, "activation", account["login"], account["password"])
    assert response.request.path == "/activation/cgu"
    assert "Étape 2 sur 5" in text(response)
    assert "J'ai lu et j'accepte les Conditions Générales d'Utilisation" in text(response)

    response = submit(client, "/activation/cgu", {"accept": "y"})
    assert response.request.path == "/activation/adresses"
    assert account["mail"] in text(response)

    backup = "emma.perso@example.net"
    response = submit(
        client, "/activation/adresses", {"backup_mail": backup, "confirm": backup, "forward": "y"}
    )
    assert response.request.path == "/activation/mot-de-passe"

    response = submit(
        client, "/activation/mot-de-passe", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    page = text(response)
    assert response.request.path == "/activation/compte-active"
    assert "Compte activé" in page and account["mail"] in page and backup in page
    assert "48 heures" in page

    entry = accounts.read(account["dn"])
    assert entry["userpassword"][0].startswith(b"{ARGON2}")
    assert accounts.binds(account["dn"], NEW_PASSWORD)
    assert not accounts.binds(account["dn"], account["password"])
    assert entry["entidpaccountstate"] == [b"active"]
    assert entry["entidpcguversion"] == [CGU_VERSION.encode()]
    assert "entidpcguacceptedtime" in entry and "entidpactivatedtime" in entry
    assert entry["entidpbackupmail"] == [backup.encode()]
    assert entry["entidpmailforward"] == [b"TRUE"]
    assert "pwdreset" not in entry
    assert "entidpbackupmailverifiedtime" not in entry
    assert "mailroutingaddress" not in entry, "no forwarding before the address is verified"

    [message] = deliver(1)
    assert message["To"] == backup
    assert "Validez" in message["Subject"]
    assert link_in(message).startswith("http://ent-idp.test/validation/")


def test_acces_ent_goes_back_to_cas_with_the_original_service(client, accounts):
    account = accounts.create("pending")
    service = "http://ent.test/portail/eleve?onglet=1&x=2"
    response = go_through(client, "activation", account, service=quote(service, safe=""))
    expected = f"{CAS_URL}login?service={quote(service, safe='')}"
    assert f'href="{expected}"' in response.get_data(as_text=True).replace("&amp;", "&")


def test_service_outside_the_allow_list_falls_back_to_the_default(client, accounts):
    account = accounts.create("pending")
    response = go_through(client, "activation", account, service="https://evil.example/")
    html = response.get_data(as_text=True)
    assert "evil.example" not in html
    assert f"login?service={quote(DEFAULT_SERVICE, safe='')}" in html


def test_validation_link_get_shows_a_button_and_post_verifies(client, accounts, deliver):
    """A GET never uses the link: mail scanners open links, only the user's click counts."""
    account = accounts.create("pending")
    go_through(client, "activation", account, forward=True)
    [message] = deliver(1)
    path = link_in(message).removeprefix("http://ent-idp.test")

    for _ in range(2):
        page = client.get(path)
        assert page.status_code == 200
        assert "Valider mon adresse" in text(page)
    assert "entidpbackupmailverifiedtime" not in accounts.read(account["dn"])

    response = submit(client, path, {})
    assert "Adresse validée" in text(response)
    entry = accounts.read(account["dn"])
    assert "entidpbackupmailverifiedtime" in entry
    assert entry["mailroutingaddress"] == [b"emma.perso@example.net"]

    again = client.get(path)
    assert "Lien déjà utilisé" in text(again)
    assert "Recevoir un nouveau lien" not in text(again), "a used link is not renewed"


def test_validation_without_forwarding_writes_no_forward_address(client, accounts, deliver):
    account = accounts.create("pending")
    go_through(client, "activation", account, forward=False)
    [message] = deliver(1)
    submit(client, link_in(message).removeprefix("http://ent-idp.test"), {})
    entry = accounts.read(account["dn"])
    assert "entidpbackupmailverifiedtime" in entry
    assert entry["entidpmailforward"] == [b"FALSE"]
    assert "mailroutingaddress" not in entry


def test_homonyms_each_see_their_own_ent_address(app, accounts):
    first = accounts.create("pending", login="lucas.moreau", given_name="Lucas", surname="Moreau")
    second = accounts.create(
        "pending",
        login="lucas.moreau2",
        given_name="Lucas",
        surname="Moreau",
        password="Autre-2026",
    )
    for account in (first, second):
        client = app.test_client()
        identify(client, "activation", account["login"], account["password"])
        submit(client, "/activation/cgu", {"accept": "y"})
        page = text(client.get("/activation/adresses"))
        assert f"{account['login']}@ent.test" in page


@pytest.mark.parametrize("kind", ["activation", "reinitialisation"])
def test_both_entry_points_accept_any_account_waiting_for_completion(client, accounts, kind):
    """Users click the wrong link: a reset account on « Activer mon compte » still goes on."""
    account = accounts.create("reset" if kind == "activation" else "pending")
    response = go_through(client, kind, account)
    assert response.request.path == f"/{kind}/compte-active"
