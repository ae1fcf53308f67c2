"""A new version of the CGU: active accounts accept it in a short flow of its own."""

from __future__ import annotations

from .conftest import CGU_VERSION
from .pages import identify, submit, text

PASSWORD = "Deja-Actif-2026!"


def test_an_active_account_accepts_the_new_version(client, accounts):
    account = accounts.create("active", password=PASSWORD, cgu_version="2024-09")
    response = identify(client, "conditions", account["login"], PASSWORD)
    assert response.request.path == "/conditions/cgu"
    assert "Étape 2 sur 3" in text(response)
    response = submit(client, "/conditions/cgu", {"accept": "y"})
    assert response.request.path == "/conditions/compte-active"
    assert "Conditions acceptées" in text(response)
    entry = accounts.read(account["dn"])
    assert entry["entidpcguversion"] == [CGU_VERSION.encode()]
    assert entry["entidpaccountstate"] == [b"active"]
    assert accounts.binds(account["dn"], PASSWORD), "the password is untouched"


def test_an_up_to_date_account_has_nothing_to_do(client, accounts):
    account = accounts.create("active", password=PASSWORD, cgu_version=CGU_VERSION)
    response = identify(client, "conditions", account["login"], PASSWORD)
    assert "Votre compte est à jour" in text(response)


def test_a_pending_account_is_sent_to_its_activation(client, accounts):
    account = accounts.create("pending")
    response = identify(client, "conditions", account["login"], account["password"])
    assert response.request.path == "/activation/cgu"


def test_the_cgu_flow_needs_the_right_password(client, accounts):
    account = accounts.create("active", password=PASSWORD, cgu_version="2024-09")
    response = identify(client, "conditions", account["login"], "Mauvais-2026!")
    assert "Identifiant ou mot de passe" in text(response)
    assert accounts.read(account["dn"])["entidpcguversion"] == [b"2024-09"]
