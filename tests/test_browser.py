"""Both flows in a real Chromium, as a user goes through them, with a screenshot per step.

Screenshots land in ``var/screenshots/`` (phone 360×740 and desktop 1280×800).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .browser_support import VIEWPORTS, Shots, assert_no_horizontal_scroll
from .conftest import CGU_VERSION
from .pages import link_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_activation_in_a_browser(browser, live_app, accounts, deliver, stack, viewport):
    account = accounts.create("pending", given_name="Alice", surname="Martin")
    shots = Shots("activation", viewport)
    page = browser.new_page(viewport=VIEWPORTS[viewport], locale="fr-FR")
    service = "http://ent.test/portail/"
    page.goto(f"{live_app}activation?service={service}")
    expect(page.get_by_role("heading", name="Identification")).to_be_visible()
    shots.take(page, "identification")

    page.get_by_label("Identifiant").fill(account["login"])
    page.get_by_label("Mot de passe provisoire").fill("faux-mot-de-passe")
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Identifiant ou mot de passe provisoire incorrect"
    )
    shots.take(page, "identification-erreur")

    page.get_by_label("Mot de passe provisoire").fill(account["password"])
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", name="Conditions Générales d'Utilisation")).to_be_visible()
    expect(page.get_by_text("Étape 2 sur 5")).to_be_visible()
    shots.take(page, "cgu")
    page.get_by_label("J'ai lu et j'accepte les Conditions Générales d'Utilisation").check()
    page.get_by_role("button", name="Continuer").click()

    expect(page.get_by_role("heading", name="Adresses de messagerie")).to_be_visible()
    expect(page.get_by_text(account["mail"])).to_be_visible()
    page.get_by_label("Adresse électronique de secours", exact=True).fill("alice.perso@example.net")
    page.get_by_label("Confirmation de l'adresse électronique de secours").fill(
        "alice.autre@example.net"
    )
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("alert")).to_contain_text("Les deux adresses ne sont pas identiques.")
    shots.take(page, "adresses-erreur")
    page.get_by_label("Confirmation de l'adresse électronique de secours").fill(
        "alice.perso@example.net"
    )
    page.get_by_label("Rediriger mes messages internes ENT").check()
    shots.take(page, "adresses")
    page.get_by_role("button", name="Continuer").click()

    expect(page.get_by_role("heading", name="Mot de passe")).to_be_visible()
    page.get_by_label("Mot de passe", exact=True).fill("court")
    expect(page.locator('li[data-rule="too_short"]')).to_have_class("ko")
    shots.take(page, "mot-de-passe-regles")
    page.get_by_label("Mot de passe", exact=True).fill("Tr0mbone-Vert-Soleil!")
    page.get_by_label("Confirmation mot de passe").fill("Tr0mbone-Vert-Soleil!")
    expect(page.locator("li.ko")).to_have_count(0)
    shots.take(page, "mot-de-passe")
    page.get_by_role("button", name="Continuer").click()

    expect(page.get_by_role("heading", name="Compte activé !")).to_be_visible()
    expect(page.get_by_text("alice.perso@example.net").first).to_be_visible()
    link = page.get_by_role("link", name="Accès ENT")
    assert link.get_attribute("href") == (
        "http://cas.test/cas/login?service=http%3A%2F%2Fent.test%2Fportail%2F"
    )
    assert_no_horizontal_scroll(page)
    shots.take(page, "compte-active")

    [message] = deliver(1)
    page.goto(link_in(message))
    expect(page.get_by_role("button", name="Valider mon adresse")).to_be_visible()
    shots.take(page, "lien-de-validation")
    page.get_by_role("button", name="Valider mon adresse").click()
    expect(page.get_by_role("heading", name="Adresse validée")).to_be_visible()
    shots.take(page, "adresse-validee")
    entry = accounts.read(account["dn"])
    assert "entidpbackupmailverifiedtime" in entry
    assert entry["mailroutingaddress"] == [b"alice.perso@example.net"]
    page.close()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_reset_in_a_browser(browser, live_app, accounts, viewport):
    account = accounts.create(
        "reset",
        password="Reinit-2026",
        given_name="Bruno",
        surname="Petit",
        backup_mail="bruno.perso@example.net",
        backup_verified=True,
        cgu_version="2024-09",
    )
    shots = Shots("reinitialisation", viewport)
    page = browser.new_page(viewport=VIEWPORTS[viewport], locale="fr-FR")
    page.goto(f"{live_app}reinitialisation")
    expect(page.get_by_text("Mon compte a été réinitialisé")).to_be_visible()
    page.get_by_label("Identifiant").fill(account["login"])
    page.get_by_label("Mot de passe provisoire").fill(account["password"])
    shots.take(page, "identification")
    page.get_by_role("button", name="Continuer").click()

    expect(page.get_by_text("Les Conditions Générales d'Utilisation ont changé")).to_be_visible()
    expect(page.get_by_text(f"version {CGU_VERSION}").first).to_be_visible()
    shots.take(page, "cgu")
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("alert")).to_contain_text("Cochez la case")
    shots.take(page, "cgu-erreur")
    page.get_by_label("J'ai lu et j'accepte").check()
    page.get_by_role("button", name="Continuer").click()

    expect(page.get_by_label("Adresse électronique de secours", exact=True)).to_have_value(
        "bruno.perso@example.net"
    )
    shots.take(page, "adresses")
    page.get_by_role("button", name="Continuer").click()

    page.get_by_label("Mot de passe", exact=True).fill("Nouveau-Depart-2026!")
    page.get_by_label("Confirmation mot de passe").fill("Nouveau-Depart-2026!")
    page.get_by_label("Afficher le mot de passe").check()
    expect(page.get_by_label("Mot de passe", exact=True)).to_have_attribute("type", "text")
    shots.take(page, "mot-de-passe")
    page.get_by_role("button", name="Continuer").click()
    expect(page.get_by_role("heading", name="Compte activé !")).to_be_visible()
    shots.take(page, "compte-active")
    assert accounts.binds(account["dn"], "Nouveau-Depart-2026!")
    page.close()
