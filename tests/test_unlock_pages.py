"""The pages and the mail of « Débloquer mon compte »: accessible on a phone in Chromium
(axe-core, 44 px targets, reflow; screenshots in var/screenshots/deblocage/), and in the
user's language, French or English, with nothing of the other."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .browser_support import VIEWPORTS, Tour
from .conftest import resources_of
from .language import english_in, french_in, read_html, read_mail
from .pages import identify as identify_by_post
from .pages import link_in, submit
from .test_languages import ACCEPT

BACKUP = "emma.perso@example.net"
WRONG = "Mauvais-2026"


@pytest.fixture
def settings(settings, live_url):
    """The live app and the mail worker agree on the public URL."""
    return {**settings, "PUBLIC_URL": live_url}


@pytest.fixture
def page(browser, live_app):
    context = browser.new_context(viewport=VIEWPORTS["telephone"], locale="fr-FR", bypass_csp=True)
    yield context.new_page()
    context.close()


def press(page: Page, button: str) -> int:
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=button).click()
    return navigation.value.status


def identify(page: Page, login: str, password: str) -> int:
    page.get_by_label("Identifiant").fill(login)
    page.get_by_label("Mot de passe").first.fill(password)
    return press(page, "Continuer")


@pytest.mark.browser
def test_the_unblocking_pages(page, live_app, accounts, deliver):
    """From the held-back page to a browser unblocked, every page a user meets."""
    tour = Tour(page)
    tour.photograph("deblocage")
    account = accounts.create("reset", backup_mail=BACKUP, backup_verified=True)
    page.goto(f"{live_app}reinitialisation")
    for _ in range(5):
        identify(page, account["login"], WRONG)
    assert identify(page, account["login"], account["password"]) == 429
    tour.visit("retenu")
    page.get_by_role("link", name="Débloquer mon compte").click()
    tour.visit("demande")
    assert press(page, "Continuer") == 200
    tour.visit("demande-erreurs")
    page.get_by_label("Identifiant").fill(account["login"])
    assert press(page, "Continuer") == 200
    expect(page.get_by_role("heading", name="Consultez votre messagerie")).to_be_visible()
    tour.visit("demande-envoyee")
    [message] = deliver(1)
    link = link_in(message, "deblocage/lien")
    page.goto(link)
    tour.visit("lien")
    assert press(page, "Débloquer sur cet appareil") == 200
    expect(page.get_by_role("heading", name="Compte débloqué sur cet appareil")).to_be_visible()
    tour.visit("debloque")
    page.goto(link)
    expect(page.get_by_role("heading", name="Lien déjà utilisé")).to_be_visible()
    tour.visit("lien-utilise")
    tour.assert_clean()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_unblocking_speaks_the_users_language(app, accounts, deliver, language):
    """Every page and the mail in the language asked for, and none of the other."""
    check = french_in if language == "en" else english_in
    account = accounts.create("reset", backup_mail=BACKUP, backup_verified=True)
    allowed = (account["login"], resources_of(app).settings.ent_name, "example.net")
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = ACCEPT[language]
    pages = {}
    for _ in range(5):
        identify_by_post(client, "reinitialisation", account["login"], WRONG)
    pages["held back"] = identify_by_post(client, "reinitialisation", account["login"], WRONG)
    pages["ask"] = client.get("/deblocage")
    pages["ask, nothing typed"] = submit(client, "/deblocage", {})
    pages["asked"] = submit(client, "/deblocage", {"login": account["login"]})
    [message] = deliver(1)
    path = link_in(message, "deblocage/lien").removeprefix("http://ent-idp.test")
    pages["link"] = client.get(path)
    pages["unblocked"] = submit(client, path, {})
    pages["link, used"] = client.get(path)
    found = {
        name: check(read_html(response.get_data(as_text=True)), allowed)
        for name, response in pages.items()
    }
    assert message["Content-Language"] == language
    for part, reading in read_mail(message).items():
        found[f"mail ({part})"] = check(reading, allowed)
    assert {name: problems for name, problems in found.items() if problems} == {}
