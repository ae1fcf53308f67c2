"""Every validation case: a clear message in French, and nothing written."""

from __future__ import annotations

import pytest

from .pages import identify, reach_password, submit, text


@pytest.fixture
def at_mails(client, accounts):
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    submit(client, "/activation/cgu", {"accept": "y"})
    return account


@pytest.fixture
def at_password(client, accounts):
    account = accounts.create("pending")
    reach_password(client, "activation", account)
    return account


def test_cgu_must_be_accepted(client, accounts):
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    response = submit(client, "/activation/cgu", {})
    assert response.request.path == "/activation/cgu"
    assert "Cochez la case pour accepter" in text(response)
    assert client.get("/activation/adresses").headers["Location"].endswith("/activation/cgu")


@pytest.mark.parametrize(
    ("backup", "confirm", "message"),
    [
        ("", "", "Saisissez votre adresse électronique de secours."),
        (
            "emma.perso@example.net",
            "emma.autre@example.net",
            "Les deux adresses ne sont pas identiques.",
        ),
        ("emma.perso", "emma.perso", "Cette adresse n'est pas valide"),
        ("emma@perso@example.net", "emma@perso@example.net", "Cette adresse n'est pas valide"),
        (
            "a@example.net\r\nBcc: x@evil.test",
            "a@example.net\r\nBcc: x@evil.test",
            "Cette adresse n'est pas valide",
        ),
        ("x" * 250 + "@example.net", "x" * 250 + "@example.net", "Cette adresse est trop longue."),
    ],
)
def test_backup_address_errors(client, at_mails, accounts, backup, confirm, message):
    response = submit(client, "/activation/adresses", {"backup_mail": backup, "confirm": confirm})
    assert response.request.path == "/activation/adresses"
    assert message in text(response)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert client.get("/activation/mot-de-passe").status_code == 302


def test_backup_address_must_not_be_the_ent_address(client, at_mails):
    ent = at_mails["mail"].upper()
    response = submit(client, "/activation/adresses", {"backup_mail": ent, "confirm": ent})
    assert "différente de votre adresse ENT" in text(response)


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("Ab1!xyz", "Ab1!xyz", "au moins 8 caractères"),
        ("abcdefgh", "abcdefgh", "trop simple"),
        ("Abcdefgh", "Abcdefgh", "trop simple"),
        ("Emma-Durand-2026!", "Emma-Durand-2026!", "ni votre identifiant, ni votre prénom"),
        ("Tr0mbone-Vert-Soleil!", "Tr0mbone-Vert-Soleil?", "Les deux mots de passe ne sont pas"),
        (
            " Tr0mbone-Vert-Soleil!",
            " Tr0mbone-Vert-Soleil!",
            "ni commencer ni finir par une espace",
        ),
        ("", "", "Saisissez un mot de passe."),
    ],
)
def test_password_errors(client, at_password, accounts, password, confirm, message):
    response = submit(
        client, "/activation/mot-de-passe", {"password": password, "confirm": confirm}
    )
    assert response.request.path == "/activation/mot-de-passe"
    assert message in text(response)
    entry = accounts.read(at_password["dn"])
    assert entry["entidpaccountstate"] == [b"pending"], "nothing written"


def test_reusing_the_provisional_password_is_refused_by_the_directory_in_french(
    client, accounts, settings
):
    """ppolicy's history check is the directory's own rule: its refusal reads in French."""
    account = accounts.create("pending", password="Provisoire-Long-2026!")
    reach_password(client, "activation", account)
    response = submit(
        client,
        "/activation/mot-de-passe",
        {"password": account["password"], "confirm": account["password"]},
    )
    assert response.status_code == 200
    assert "ni le mot de passe provisoire" in text(response)
    assert accounts.read(account["dn"])["entidpaccountstate"] == [b"pending"]


def test_long_unicode_passwords_are_accepted_whole(client, at_password, accounts):
    password = "Écureuil-Été-" + "ß" * 40 + "-Ğüñ-2026-" + "z" * 20
    assert len(password) >= 64
    response = submit(
        client, "/activation/mot-de-passe", {"password": password, "confirm": password}
    )
    assert response.request.path == "/activation/compte-active"
    assert accounts.binds(at_password["dn"], password)
    assert not accounts.binds(at_password["dn"], password[:-1])
