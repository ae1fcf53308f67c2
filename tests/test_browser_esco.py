"""The ESCO demo setup in Chromium: each user profile's activation, as its users meet it.

The app runs on the ESCO directory behind the ESCO CAS (tests/esco_support.py, the same
files as ``ENT_IDP_DEMO_PROFILE=esco make demo``). Each page is checked on a phone (axe-core,
touch targets, no sideways scroll) and photographed in ``var/screenshots/esco/<profile>/``.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .browser_support import VIEWPORTS, Tour
from .esco_support import NEW_PASSWORD, EscoAccounts, esco_settings
from .test_accessibility import choose_password, identify, press

pytestmark = pytest.mark.browser

SERVICE = "http://ent.test/portail/"


@pytest.fixture
def settings(settings, esco_slapd, esco_cas, live_url):
    return {**esco_settings(settings, esco_slapd, esco_cas), "PUBLIC_URL": live_url}


@pytest.fixture
def esco(esco_slapd):
    factory = EscoAccounts(esco_slapd)
    yield factory
    factory.remove_all()


@pytest.fixture
def page(browser, live_app):
    context = browser.new_context(viewport=VIEWPORTS["telephone"], locale="fr-FR", bypass_csp=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def tour(page):
    return Tour(page)


def fill_address(page: Page, address: str) -> None:
    page.get_by_label("Adresse électronique de secours", exact=True).fill(address)
    page.get_by_label("Confirmation de l'adresse").fill(address)


def accept_cgu(page: Page) -> None:
    page.get_by_label("J'ai lu et j'accepte").check()
    press(page)


def test_a_pupil_activates_with_the_backup_address_step(tour, page, live_app, esco):
    pupil = esco.create("pupil")
    tour.photograph("esco/eleve")
    page.goto(f"{live_app}activation?service={SERVICE}")
    tour.visit("identification")
    identify(page, pupil["login"], pupil["password"])
    expect(page.get_by_text("Étape 2 sur 5")).to_be_visible()
    tour.visit("cgu")
    accept_cgu(page)
    expect(page.get_by_text("Étape 3 sur 5")).to_be_visible()
    expect(page.get_by_role("button", name="Plus tard")).to_have_count(0)
    tour.visit("adresses")
    fill_address(page, "lea.perso@example.net")
    press(page)
    tour.visit("mot-de-passe")
    choose_password(page, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Compte activé !")).to_be_visible()
    tour.visit("compte-active")
    tour.assert_clean()


def test_a_teacher_with_a_known_address_skips_it(tour, page, live_app, esco):
    teacher = esco.create("teacher")
    tour.photograph("esco/enseignant")
    page.goto(f"{live_app}reinitialisation?service={SERVICE}")
    identify(page, teacher["login"], teacher["password"])
    expect(page.get_by_text("Étape 2 sur 4")).to_be_visible()
    tour.visit("cgu")
    accept_cgu(page)
    expect(page.get_by_text("Étape 3 sur 4")).to_be_visible()
    tour.visit("mot-de-passe")
    choose_password(page, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Compte activé !")).to_be_visible()
    expect(page.get_by_text("sophie.bernard@ac-orleans-tours.fr").first).to_be_visible()
    tour.visit("compte-active")
    tour.assert_clean()


def test_a_federated_pupil_activates_through_cas_and_is_pointed_to_educonnect(
    tour, page, live_app, esco, esco_cas
):
    pupil = esco.create("federated")
    tour.photograph("esco/educonnect")
    page.goto(f"{live_app}activation?service={SERVICE}")
    tour.visit("identification")
    with page.expect_navigation():
        page.get_by_role("link", name="Continuer avec ÉduConnect").click()
    assert page.url.startswith(esco_cas.login_url)
    page.locator("#id_username").fill(pupil["login"])
    page.locator("#id_password").fill(pupil["federation_password"])
    with page.expect_navigation():
        page.locator("#login_submit").click()
    expect(page.get_by_text("Étape 1 sur 3")).to_be_visible()
    expect(page.get_by_label("Mot de passe", exact=True)).to_have_count(0)
    tour.visit("cgu")
    accept_cgu(page)
    tour.visit("adresses")
    fill_address(page, "hugo.perso@example.net")
    press(page)
    expect(page.get_by_role("heading", name="Compte activé !")).to_be_visible()
    expect(page.get_by_text("connectez-vous avec ÉduConnect")).to_be_visible()
    tour.visit("compte-active")
    page.goto(f"{live_app}mot-de-passe-oublie")
    expect(page.get_by_role("link", name="Gérer mon mot de passe sur ÉduConnect")).to_be_visible()
    tour.visit("mot-de-passe-oublie")
    page.get_by_label("Identifiant").fill(pupil["login"])
    press(page)
    expect(page.get_by_role("link", name="Gérer mon mot de passe sur ÉduConnect")).to_be_visible()
    tour.visit("mot-de-passe-oublie-demande")
    tour.assert_clean()
