"""« Mon compte a été réinitialisé »: what differs from a first activation."""

from __future__ import annotations

from .conftest import CGU_VERSION
from .pages import identify, submit, text

NEW_PASSWORD = "Nouveau-Depart-2026!"


def test_reset_prefills_the_known_backup_address(client, accounts, deliver):
    account = accounts.create(
        "reset", backup_mail="emma.perso@example.net", backup_verified=True, cgu_version=CGU_VERSION
    )
    response = identify(client, "reinitialisation", account["login"], account["password"])
    assert response.request.path == "/reinitialisation/adresses", "CGU already accepted"
    assert "Étape 2 sur 4" in text(response)
    html = response.get_data(as_text=True)
    assert 'value="emma.perso@example.net"' in html

    submit(
        client,
        "/reinitialisation/adresses",
        {"backup_mail": "emma.perso@example.net", "confirm": "emma.perso@example.net"},
    )
    response = submit(
        client,
        "/reinitialisation/mot-de-passe",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert "Compte activé" in text(response)
    assert "déjà validée" in text(response)
    entry = accounts.read(account["dn"])
    assert entry["entidpaccountstate"] == [b"active"]
    assert "pwdreset" not in entry
    assert "entidpbackupmailverifiedtime" in entry, "an unchanged verified address stays verified"
    assert entry["entidpcguacceptedtime"] == [b"20250901080000Z"], "CGU not accepted again"
    assert accounts.binds(account["dn"], NEW_PASSWORD)
    [notice] = deliver(1)
    assert "a été changé" in notice["Subject"], "no validation link, only the change notice"
    assert notice["To"] == "emma.perso@example.net"
    assert "/validation/" not in notice.get_body(preferencelist=("plain",)).get_content()


def test_reset_with_an_old_cgu_version_asks_to_accept_the_new_one(client, accounts):
    account = accounts.create("reset", backup_mail="emma.perso@example.net", cgu_version="2024-09")
    response = identify(client, "reinitialisation", account["login"], account["password"])
    assert response.request.path == "/reinitialisation/cgu"
    assert "Étape 2 sur 5" in text(response)
    submit(client, "/reinitialisation/cgu", {"accept": "y"})
    submit(
        client,
        "/reinitialisation/adresses",
        {"backup_mail": "emma.perso@example.net", "confirm": "emma.perso@example.net"},
    )
    submit(
        client,
        "/reinitialisation/mot-de-passe",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    entry = accounts.read(account["dn"])
    assert entry["entidpcguversion"] == [CGU_VERSION.encode()]
    assert entry["entidpcguacceptedtime"] != [b"20250901080000Z"]


def test_reset_with_a_new_backup_address_unverifies_it_and_mails_it(client, accounts, deliver):
    account = accounts.create(
        "reset",
        backup_mail="ancienne@example.net",
        backup_verified=True,
        cgu_version=CGU_VERSION,
        forward=True,
    )
    identify(client, "reinitialisation", account["login"], account["password"])
    submit(
        client,
        "/reinitialisation/adresses",
        {"backup_mail": "nouvelle@example.net", "confirm": "nouvelle@example.net", "forward": "y"},
    )
    submit(
        client,
        "/reinitialisation/mot-de-passe",
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    entry = accounts.read(account["dn"])
    assert entry["entidpbackupmail"] == [b"nouvelle@example.net"]
    assert "entidpbackupmailverifiedtime" not in entry
    assert "mailroutingaddress" not in entry
    messages = {m["To"]: m for m in deliver(2)}
    assert "/validation/" in messages["nouvelle@example.net"].get_body().get_content()
    assert "a été changé" in messages["ancienne@example.net"]["Subject"], (
        "the notice goes to the address verified before the reset"
    )
