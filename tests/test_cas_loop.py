"""The whole loop in a browser, with the real CAS: from the CAS login page to « Mon compte »."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from .browser_support import VIEWPORTS, Shots, serve

pytestmark = pytest.mark.browser


@pytest.fixture
def live_app(settings: dict, live_url: str, cas_server) -> Iterator[str]:
    yield from serve({**settings, "CAS_URL": cas_server.url}, live_url)


def test_activation_from_the_cas_login_page_to_mon_compte(
    browser,
    live_app,
    cas_server,
    accounts,
    deliver,  # noqa: F811
):
    account = accounts.create("pending", given_name="Alice", surname="Martin")
    shots = Shots("cas", "telephone")
    page = browser.new_page(viewport=VIEWPORTS["telephone"], locale="fr-FR")
    service = f"{live_app}compte"
    page.goto(f"{cas_server.url}login?service={quote(service, safe='')}")
    shots.take(page, "cas-login")
    page.get_by_role("link", name="Activer mon compte").click()
    assert page.url == f"{live_app}activation?service={quote(service, safe='')}"

    page.get_by_label("Identifiant").fill(account["login"])
    page.get_by_label("Mot de passe provisoire").fill(account["password"])
    page.get_by_role("button", name="Continuer").click()
    page.get_by_label("J'ai lu et j'accepte").check()
    page.get_by_role("button", name="Continuer").click()
    page.get_by_label("Adresse électronique de secours", exact=True).fill("alice.perso@example.net")
    page.get_by_label("Confirmation de l'adresse").fill("alice.perso@example.net")
    page.get_by_role("button", name="Continuer").click()
    page.get_by_label("Mot de passe", exact=True).fill("Tr0mbone-Vert-Soleil!")
    page.get_by_label("Confirmation mot de passe").fill("Tr0mbone-Vert-Soleil!")
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", name="Compte activé !")).to_be_visible()
    shots.take(page, "compte-active")

    page.get_by_role("link", name="Accès ENT").click()
    assert page.url.startswith(f"{cas_server.url}login?service={quote(service, safe='')}")
    page.locator("#id_username").fill(account["login"])
    page.locator("#id_password").fill("Tr0mbone-Vert-Soleil!")
    shots.take(page, "cas-login-nouveau-mot-de-passe")
    page.locator("#login_submit").click()

    # CAS sent a ticket to /compte; python-cas validated it with the CAS server.
    expect(page.get_by_role("heading", name="Mon compte")).to_be_visible()
    assert page.url == service
    expect(page.get_by_text(account["login"], exact=True)).to_be_visible()
    expect(page.get_by_text("alice.perso@example.net")).to_be_visible()
    shots.take(page, "mon-compte")

    page.get_by_role("button", name="Se déconnecter").click()
    assert page.url == live_app, "through CAS logout, back to ent-idp's home"
    page.goto(service)
    assert page.url.startswith(f"{cas_server.url}login"), "logged out of « Mon compte » too"

    # Logging out at CAS itself (from any service) ends « Mon compte » too: single logout.
    page.locator("#id_username").fill(account["login"])
    page.locator("#id_password").fill("Tr0mbone-Vert-Soleil!")
    page.locator("#login_submit").click()
    expect(page.get_by_role("heading", name="Mon compte")).to_be_visible()
    page.goto(f"{cas_server.url}logout")
    page.goto(service)
    assert page.url.startswith(f"{cas_server.url}login")
    page.close()
