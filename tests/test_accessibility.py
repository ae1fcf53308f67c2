"""Every page passes axe-core's WCAG 2.0/2.1 A and AA rules in Chromium (RGAA's basis).

axe-core comes from npm (tests/axe/package.json, installed by ``make test``) and is injected
into each page as the user sees it, errors included.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page

from .browser_support import VIEWPORTS
from .pages import link_in

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def violations(page: Page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
    ]


@pytest.fixture
def page(browser, live_app):
    context = browser.new_context(
        viewport=VIEWPORTS["telephone"],
        locale="fr-FR",
        bypass_csp=True,  # to inject axe
    )
    yield context.new_page()
    context.close()


def check(page: Page, seen: dict, name: str) -> None:
    seen[name] = violations(page)


def test_every_page_of_the_activation_passes_axe(page, live_app, accounts, deliver):
    account = accounts.create("pending")
    seen: dict[str, list] = {}
    page.goto(f"{live_app}activation")
    check(page, seen, "identification")
    page.get_by_role("button", name="Continuer").click()
    check(page, seen, "identification-erreurs")
    page.get_by_label("Identifiant").fill(account["login"])
    page.get_by_label("Mot de passe provisoire").fill("faux")
    page.get_by_role("button", name="Continuer").click()
    check(page, seen, "identification-refus")
    page.get_by_label("Mot de passe provisoire").fill(account["password"])
    page.get_by_role("button", name="Continuer").click()
    check(page, seen, "cgu")
    page.get_by_role("button", name="Continuer").click()
    check(page, seen, "cgu-erreur")
    page.get_by_label("J'ai lu et j'accepte").check()
    page.get_by_role("button", name="Continuer").click()
    check(page, seen, "adresses")
    page.get_by_role("button", name="Continuer").click()
    check(page, seen, "adresses-erreurs")
    page.get_by_label("Adresse électronique de secours", exact=True).fill("emma.perso@example.net")
    page.get_by_label("Confirmation de l'adresse").fill("emma.perso@example.net")
    page.get_by_role("button", name="Continuer").click()
    check(page, seen, "mot-de-passe")
    page.get_by_label("Mot de passe", exact=True).fill("court")
    page.get_by_role("button", name="Continuer").click()
    check(page, seen, "mot-de-passe-erreurs")
    page.get_by_label("Mot de passe", exact=True).fill("Tr0mbone-Vert-Soleil!")
    page.get_by_label("Confirmation mot de passe").fill("Tr0mbone-Vert-Soleil!")
    page.get_by_role("button", name="Continuer").click()
    check(page, seen, "compte-active")
    [message] = deliver(1)
    page.goto(link_in(message))
    check(page, seen, "lien-de-validation")
    page.get_by_role("button", name="Valider mon adresse").click()
    check(page, seen, "adresse-validee")
    assert {name: found for name, found in seen.items() if found} == {}, json.dumps(
        seen, indent=1, ensure_ascii=False
    )


def test_the_other_pages_pass_axe(page, live_app, accounts):
    seen: dict[str, list] = {}
    for name, path in [
        ("accueil", ""),
        ("reinitialisation", "reinitialisation"),
        ("conditions", "conditions"),
        ("mot-de-passe-oublie", "mot-de-passe-oublie"),
        ("lien-inconnu", "validation/inconnu"),
        ("lien-oublie-inconnu", "mot-de-passe-oublie/lien/inconnu"),
        ("404", "nulle-part"),
    ]:
        page.goto(live_app + path)
        check(page, seen, name)
    page.goto(f"{live_app}mot-de-passe-oublie")
    page.get_by_label("Identifiant").fill("quelqu.un")
    page.get_by_role("button", name="Continuer").click()
    check(page, seen, "mot-de-passe-oublie-envoye")
    assert {name: found for name, found in seen.items() if found} == {}, json.dumps(
        seen, indent=1, ensure_ascii=False
    )
