"""The tours of test_accessibility.py (axe-core at zero violations, 44 px touch targets, no
sideways scroll at 360 px) through « Identifiant oublié », the « Déclaration
d'accessibilité » (its default and a configured one) and the footer links of every page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from devstack.ports import free_port

from .browser_support import VIEWPORTS, Tour, serve
from .conftest import CGU_VERSION
from .test_accessibility import page, press, settings, tour  # noqa: F401  (fixtures)
from .test_legal_pages import CONFIGURED

pytestmark = pytest.mark.browser


def test_identifiant_oublie(tour, page, live_app, accounts, deliver):  # noqa: F811
    account = accounts.create(
        "active",
        login="eloise.legall",
        password="Deja-Actif-2026!",
        given_name="Éloïse",
        surname="Le Gall",
        backup_mail="eloise.famille@example.net",
        backup_verified=True,
        cgu_version=CGU_VERSION,
    )
    tour.photograph("identifiant-oublie")
    page.goto(f"{live_app}activation")
    page.get_by_role("link", name="Identifiant oublié").click()
    expect(page.get_by_role("heading", name="Identifiant oublié")).to_be_visible()
    tour.visit("demande")
    press(page, "Recevoir mon identifiant")
    tour.visit("demande-erreurs")
    page.get_by_label("Prénom").fill("Éloïse")
    page.get_by_label("Nom", exact=True).fill("Le Gall")
    page.get_by_label("Adresse électronique de secours").fill("eloise.famille@example.net")
    assert press(page, "Recevoir mon identifiant") == 200
    expect(page.get_by_role("heading", name="Consultez votre messagerie")).to_be_visible()
    tour.visit("demande-envoyee")
    [message] = deliver(1)
    assert account["login"] in message.get_body(preferencelist=("plain",)).get_content()
    tour.assert_clean()


def test_the_default_accessibility_statement(tour, page, live_app):  # noqa: F811
    tour.photograph("accessibilite")
    page.goto(f"{live_app}mot-de-passe-oublie")
    page.get_by_role("link", name="Accessibilité : non conforme").click()
    expect(page.get_by_role("heading", name="Déclaration d'accessibilité")).to_be_visible()
    tour.visit("declaration-par-defaut")
    tour.assert_clean()


@pytest.fixture
def configured_app(settings):  # noqa: F811
    yield from serve({**settings, **CONFIGURED}, f"http://127.0.0.1:{free_port()}/")


def test_a_configured_accessibility_statement(browser, configured_app):
    context = browser.new_context(viewport=VIEWPORTS["telephone"], locale="fr-FR", bypass_csp=True)
    page = context.new_page()  # noqa: F811
    tour = Tour(page)  # noqa: F811
    tour.photograph("accessibilite-renseignee")
    page.goto(f"{configured_app}activation")
    expect(page.get_by_role("link", name="Mentions légales")).to_have_attribute(
        "href", CONFIGURED["LEGAL_LEGAL_NOTICES_URL"]
    )
    tour.visit("pied-de-page")
    page.get_by_role("link", name="Accessibilité : partiellement conforme").click()
    expect(page.get_by_role("heading", name="Contenus non accessibles")).to_be_visible()
    tour.visit("declaration-renseignee")
    context.close()
    tour.assert_clean()
