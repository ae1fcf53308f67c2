"""A password binds everywhere exactly as it was chosen: the UTF-8 bytes typed, no SASLprep.

ldap3 applies SASLprep (RFC 4013) to a ``str`` password in a simple bind, not in a write:
``²`` was written as typed but checked as ``2``, so the account could no longer be opened
at the CGU flow, at « Mon compte » or at CAS, and some passwords (Latin and Arabic letters
mixed, a left-to-right mark) made the bind raise, a 500. Every bind and every write now
sends the same UTF-8 bytes, ent-idp's and the devstack CAS's alike. These tests choose such
passwords through the forms and use them through the others, against the real slapd and the
real django-cas-server.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import ldap3
import pytest
from ldap3.protocol.sasl.sasl import sasl_prep
from playwright.sync_api import expect

from .browser_support import VIEWPORTS, Shots
from .cas_client import cas_login
from .conftest import CGU_VERSION
from .pages import go_through, identify, link_in, submit, text

pytestmark = pytest.mark.security

PASSWORDS = {
    "superscript two": "Soleil²-Vert-2026",
    "micro sign": "Tempête-µ-Azur-27",
    "spacing diaeresis": "Naïve¨Lune-Rouge9",
    "no-break space": "Mer\u00a0Bleue-Orage-31",
    "ligature fi": "Oﬁce-Chaton-Brun8",
    # SASLprep refuses these outright: they gave a 500 at /conditions and at CAS.
    "latin and arabic letters": "Salam-سلام-Vert-2026",
    "left-to-right mark": "Gris\u200eCiel-Nuage-44",
}
CASES = pytest.mark.parametrize("password", PASSWORDS.values(), ids=PASSWORDS.keys())
PLAIN = "Deja-Actif-2026!"


@pytest.fixture
def settings(settings, cas_server):
    return {**settings, "CAS_URL": cas_server.url}


def binds(slapd, dn: str, password: str) -> bool:
    """A bind with exactly these UTF-8 bytes (a ``str`` would be SASLprep-ed by ldap3)."""
    conn = ldap3.Connection(slapd.url, user=dn, password=password.encode("utf-8"))
    try:
        return bool(conn.bind())
    finally:
        conn.unbind()


def open_mon_compte(client, cas_server, login: str, password: str):
    """« Mon compte » through the real CAS login form."""
    service = parse_qs(urlsplit(client.get("/compte").location).query)["service"][0]
    ticket = cas_login(cas_server.url, service, login, password)
    return client.get(f"/compte?ticket={ticket}", follow_redirects=True)


@CASES
def test_a_password_chosen_at_activation_opens_the_cgu_flow(client, accounts, stack, password):
    """The CGU flow identifies with the password chosen at activation, whatever its
    characters: the user must not be locked out by a normalisation they never saw."""
    account = accounts.create("pending")
    response = go_through(client, "activation", account, new_password=password)
    assert "Compte activé !" in text(response)
    assert binds(stack.slapd, account["dn"], password), "written as the bytes typed"

    response = identify(client.application.test_client(), "conditions", account["login"], password)
    assert response.status_code == 200
    assert "Votre compte est à jour" in text(response), "the password was accepted"


@CASES
def test_a_password_chosen_at_activation_logs_in_at_cas_and_in_mon_compte(
    client, accounts, stack, cas_server, password
):
    """CAS and « Mon compte »'s current-password check take the password as chosen, and a
    new password with the same characters is written the same way."""
    account = accounts.create("pending")
    go_through(client, "activation", account, new_password=password)
    client = client.application.test_client()
    assert "Mon compte" in text(open_mon_compte(client, cas_server, account["login"], password))

    new = f"Autre-{password}"
    fields = {"mdp-current": password, "mdp-password": new, "mdp-confirm": new}
    response = submit(client, "/compte", fields, action="/compte/mot-de-passe")
    assert "Votre mot de passe a été changé." in text(response)
    assert binds(stack.slapd, account["dn"], new)
    assert cas_login(cas_server.url, "http://ent.test/portail/", account["login"], new)


@CASES
def test_a_forgotten_password_replaced_with_such_characters_logs_in_at_cas(
    client, accounts, stack, cas_server, deliver, password
):
    """« Mot de passe oublié » writes the new password as typed; CAS then accepts it."""
    account = accounts.create(
        "active",
        password=PLAIN,
        backup_mail="emma.perso@example.net",
        backup_verified=True,
        cgu_version=CGU_VERSION,
    )
    submit(client, "/mot-de-passe-oublie", {"login": account["login"]})
    [message] = deliver(1)
    path = link_in(message, "mot-de-passe-oublie/lien").removeprefix("http://ent-idp.test")
    submit(client, path, {})
    response = submit(
        client, "/mot-de-passe-oublie/nouveau", {"password": password, "confirm": password}
    )
    assert "Mot de passe changé" in text(response)
    assert binds(stack.slapd, account["dn"], password)
    assert cas_login(cas_server.url, "http://ent.test/portail/", account["login"], password)


@pytest.mark.parametrize("typed", ["Soleil²-Vert-2026", "Oﬁce-Chaton-Brun8"])
def test_the_normalised_form_of_a_password_does_not_open_the_account(client, accounts, typed):
    """No normalisation on either side: ``Soleil2-Vert-2026`` is another password than
    ``Soleil²-Vert-2026``, at the directory as in the forms."""
    account = accounts.create("active", password=typed, cgu_version="2024-09")
    normalised = sasl_prep(typed)
    assert normalised != typed
    response = identify(client, "conditions", account["login"], normalised)
    assert "Identifiant ou mot de passe" in text(response)
    response = identify(client, "conditions", account["login"], typed)
    assert response.request.path == "/conditions/cgu"


@pytest.mark.parametrize("wrong", [PASSWORDS["latin and arabic letters"], "Tab\tTab-Wrong-2026"])
def test_a_wrong_password_saslprep_refuses_gets_the_generic_answer(client, accounts, wrong):
    """A password ldap3's SASLprep raised on was a 500 that told a wrong password from an
    unknown one; it is now one more wrong password."""
    account = accounts.create("active", password=PLAIN, cgu_version="2024-09")
    response = identify(client, "conditions", account["login"], wrong)
    assert response.status_code == 200
    assert "Identifiant ou mot de passe" in text(response)


@pytest.mark.browser
def test_a_no_break_space_typed_in_the_browser_opens_mon_compte_through_cas(
    browser, live_app, cas_server, accounts
):
    """As a new user meets it: Alt+Space types a no-break space on many French keyboards.
    The password is taken as typed at activation, and the same keys open the ENT."""
    password = PASSWORDS["no-break space"]
    account = accounts.create("pending", given_name="Lina", surname="Haddad")
    shots = Shots("mot-de-passe-insecable", "telephone")
    page = browser.new_page(viewport=VIEWPORTS["telephone"], locale="fr-FR")
    service = f"{live_app}compte"
    page.goto(f"{cas_server.url}login?service={quote(service, safe='')}")
    page.get_by_role("link", name="Activer mon compte").click()
    page.get_by_label("Identifiant").fill(account["login"])
    page.get_by_label("Mot de passe provisoire").fill(account["password"])
    page.get_by_role("button", name="Continuer").click()
    page.get_by_label("J'ai lu et j'accepte").check()
    page.get_by_role("button", name="Continuer").click()
    page.get_by_label("Adresse électronique de secours", exact=True).fill("lina.perso@example.net")
    page.get_by_label("Confirmation de l'adresse").fill("lina.perso@example.net")
    page.get_by_role("button", name="Continuer").click()
    page.get_by_label("Mot de passe", exact=True).press_sequentially(password)
    page.get_by_label("Confirmation mot de passe").press_sequentially(password)
    shots.take(page, "mot-de-passe")
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", name="Compte activé !")).to_be_visible()
    shots.take(page, "compte-active")

    page.get_by_role("link", name="Accès ENT").click()
    page.locator("#id_username").fill(account["login"])
    page.locator("#id_password").press_sequentially(password)
    page.locator("#login_submit").click()
    expect(page.get_by_role("heading", name="Mon compte")).to_be_visible()
    assert page.url == service
    shots.take(page, "mon-compte")
    page.close()
