"""Chromium through both ENTs of one app on one port: two host names under ``localhost``
(which Chromium resolves to the loopback by itself, as in ``make demo``), each ENT's pages
with its name, colours and CGU, axe at zero violations; screenshots in
``var/screenshots/ents/<ENT>/``."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from devstack.ports import free_port

from .browser_support import VIEWPORTS, Tour, serve
from .test_ents import CFA_TEXT, CFA_VERSION, ents_settings

pytestmark = pytest.mark.browser

HOSTS = ("lycees.localhost", "cfa.localhost")


@pytest.fixture
def two_ents(settings, tmp_path):
    port = free_port()
    lycees, cfa = (f"http://{host}:{port}/" for host in HOSTS)
    both = ents_settings(settings, tmp_path)
    table = {**both["ENTS"]["cfa"], "public_url": cfa}
    table["cas"] = {**table["cas"], "allowed_services": [*table["cas"]["allowed_services"], cfa]}
    yield from serve({**both, "ENTS": {"cfa": table}}, lycees)


def test_a_tour_of_both_ents(browser, two_ents, accounts):
    context = browser.new_context(
        viewport=VIEWPORTS["telephone"],
        locale="fr-FR",
        bypass_csp=True,  # axe is injected
    )
    page = context.new_page()
    tour = Tour(page)
    port = two_ents.rsplit(":", 1)[1]
    for key, host, name, colour, version in (
        ("lycees", HOSTS[0], "ENT de test", "rgb(11, 83, 148)", "2026-09"),
        ("cfa", HOSTS[1], "ENT des CFA", "rgb(106, 27, 77)", CFA_VERSION),
    ):
        tour.photograph(f"ents/{key}")
        base = f"http://{host}:{port}"
        page.goto(f"{base}/activation")
        expect(page).to_have_title(f"Identification – {name}")
        banner = page.locator(".banner")
        expect(banner).to_contain_text(name)
        assert banner.evaluate("e => getComputedStyle(e).backgroundColor") == colour
        tour.visit("identification")
        account = accounts.create("pending")
        page.get_by_label("Identifiant").fill(account["login"])
        page.get_by_label("Mot de passe provisoire").fill(account["password"])
        page.get_by_role("button", name="Continuer").click()
        expect(
            page.get_by_role("heading", name="Conditions Générales d'Utilisation")
        ).to_be_visible()
        cgu = page.locator("section.cgu")
        expect(cgu).to_have_attribute(
            "aria-label", f"Texte des Conditions Générales d'Utilisation, version {version}"
        )
        if key == "cfa":
            expect(cgu).to_contain_text(CFA_TEXT)
        else:
            expect(cgu).not_to_contain_text(CFA_TEXT)
        tour.visit("cgu")
        page.goto(f"{base}/accessibilite")
        expect(page.get_by_text(f"au service de gestion des comptes de {name}")).to_be_visible()
        tour.visit("accessibilite")
    context.close()
    tour.assert_clean()
