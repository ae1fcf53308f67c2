"""« Mot de passe oublié »: a link to the verified backup address, then a new password."""

from __future__ import annotations

import pytest

from .pages import csrf_token, link_in, submit, text

pytestmark = pytest.mark.security

PASSWORD = "Deja-Actif-2026!"
NEW_PASSWORD = "Nouvelle-Route-2027!"
SAME_PAGE = "Si cet identifiant correspond à un compte qui a une adresse électronique de secours"


@pytest.fixture
def verified(accounts):
    return accounts.create(
        "active",
        password=PASSWORD,
        backup_mail="emma.perso@example.net",
        backup_verified=True,
        cgu_version="2026-09",
    )


def ask(client, login):
    return submit(client, "/mot-de-passe-oublie", {"login": login})


def test_a_verified_address_gets_a_link_that_sets_a_new_password(
    client, verified, accounts, deliver
):
    response = ask(client, verified["login"])
    assert SAME_PAGE in text(response)
    [message] = deliver(1)
    assert message["To"] == "emma.perso@example.net"
    link = link_in(message, "mot-de-passe-oublie/lien")
    assert link.startswith("http://ent-idp.test/mot-de-passe-oublie/lien/")
    path = link.removeprefix("http://ent-idp.test")
    assert "Choisir un nouveau mot de passe" in text(client.get(path)), "a GET uses nothing"
    response = submit(client, path, {})
    assert response.request.path == "/mot-de-passe-oublie/nouveau"
    response = submit(
        client, "/mot-de-passe-oublie/nouveau", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert "Mot de passe changé" in text(response)
    assert accounts.binds(verified["dn"], NEW_PASSWORD)
    assert not accounts.binds(verified["dn"], PASSWORD)
    [_, notice] = deliver(2)
    assert "a été changé" in notice["Subject"]
    assert "Lien déjà utilisé" in text(client.get(path)), "single use"


@pytest.mark.parametrize("kind", ["unknown", "unverified", "pending"])
def test_the_answer_is_the_same_whoever_asks(client, accounts, deliver, kind):
    """The page must not tell who has an account, nor who has a verified address."""
    login = {
        "unknown": "personne.inconnue",
        "unverified": accounts.create("active", password=PASSWORD, backup_mail="x@example.net")[
            "login"
        ],
        "pending": accounts.create("pending")["login"],
    }[kind]
    response = ask(client, login)
    assert response.status_code == 200
    assert SAME_PAGE in text(response)
    assert deliver() == []


def test_the_request_makes_no_directory_call(client, verified, stack, deliver):
    """Timing cannot tell accounts apart: the request only queues, the worker looks up."""
    stack.slapd.stop()
    try:
        response = ask(client, verified["login"])
    finally:
        stack.slapd.start()
    assert response.status_code == 200 and SAME_PAGE in text(response)
    [message] = deliver(1)
    assert message["To"] == "emma.perso@example.net"


def test_a_validation_link_does_not_open_a_password_reset(client, accounts, deliver):
    """A token is bound to its purpose: a backup-address link cannot reset a password."""
    from .pages import go_through

    account = accounts.create("pending")
    go_through(client, "activation", account)
    [message] = deliver(1)
    token = link_in(message).rsplit("/", 1)[1]
    path = f"/mot-de-passe-oublie/lien/{token}"
    assert "Lien non reconnu" in text(client.get(path))
    form_token = csrf_token(client.get("/mot-de-passe-oublie").get_data(as_text=True))
    response = client.post(path, data={"csrf_token": form_token})
    assert "Lien non reconnu" in text(response)
    assert client.get("/mot-de-passe-oublie/nouveau").status_code == 302


def test_links_are_limited_per_account(client, verified, deliver):
    """Asking again and again must not flood the owner's mailbox."""
    for _ in range(5):
        ask(client, verified["login"])
    assert len(deliver()) == 3


def test_an_expired_link_offers_a_new_one(app, client, verified, deliver):
    ask(client, verified["login"])
    [message] = deliver(1)
    path = link_in(message, "mot-de-passe-oublie/lien").removeprefix("http://ent-idp.test")
    tokens = app.extensions["ent_idp"].store.tokens
    app.extensions["ent_idp"].store.redis.hset(tokens._key(path.rsplit("/", 1)[1]), "expires", "0")
    page = text(client.get(path))
    assert "Lien expiré" in page and "Demander un nouveau lien" in page
