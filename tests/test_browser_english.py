"""The whole activation in English in a real Chromium, after the switch in the page's header.

A pupil whose browser speaks French clicks « English » on the first page and goes through
every step in English: each page is read for French text (tests/language.py), checked by
axe-core (WCAG 2.0/2.1 A and AA, zero violations) and photographed in
``var/screenshots/activation-en/<viewport>/``; the validation mail comes in English too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .browser_support import VIEWPORTS, Shots, assert_no_horizontal_scroll
from .language import french_in, read_html
from .pages import link_in

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SERVICE = "http://ent.test/portail/"
BACKUP = "alice.perso@example.net"
NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"


class EnglishPages:
    """Looks at each page as it is shown: French left, axe violations, then a screenshot."""

    def __init__(self, page: Page, shots: Shots, allowed: tuple[str, ...]):
        self.page = page
        self.shots = shots
        self.allowed = allowed
        self.problems: dict[str, list] = {}

    def check(self, name: str) -> None:
        french = french_in(read_html(self.page.content()), self.allowed)
        self.page.add_script_tag(path=str(AXE))
        result = self.page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
        )
        violations = [
            {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:3]}
            for v in result["violations"]
        ]
        if french or violations:
            self.problems[name] = french + violations
        assert_no_horizontal_scroll(self.page)
        self.shots.take(self.page, name)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_activation_in_english_after_the_switch(
    browser, live_app, accounts, deliver, settings, viewport
):
    account = accounts.create("pending", given_name="Alice", surname="Martin")
    context = browser.new_context(
        viewport=VIEWPORTS[viewport],
        locale="fr-FR",  # the browser asks for French: the switch wins
        bypass_csp=True,  # to inject axe
    )
    page = context.new_page()
    pages = EnglishPages(
        page,
        Shots("activation-en", viewport),
        (account["login"], account["mail"], BACKUP, settings["ENT_NAME"], "Alice", "Martin"),
    )
    page.goto(f"{live_app}activation?service={SERVICE}")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Identification")).to_be_visible()

    switch = page.get_by_role("link", name="English")
    expect(switch).to_have_attribute("hreflang", "en")
    switch.focus()  # a real link, reached by keyboard
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.url == f"{live_app}activation?service={SERVICE}"
    back = page.get_by_role("link", name="Français")
    expect(back).to_have_attribute("lang", "fr")
    box = back.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44, box
    expect(page.get_by_text("Step 1 of 5")).to_be_visible()
    pages.check("identification")

    page.get_by_label("Username").fill(account["login"])
    page.get_by_label("Temporary password").fill("not-the-password")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("Incorrect username or temporary password")
    pages.check("identification-error")

    page.get_by_label("Temporary password").fill(account["password"])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Terms of use")).to_be_visible()
    expect(page.get_by_text("Step 2 of 5")).to_be_visible()
    expect(page.get_by_text("ARTICLE 1: Every user")).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("Tick the box to accept the terms of use.")
    pages.check("terms-of-use-error")
    page.get_by_label("I have read and accept the terms of use above.").check()
    pages.check("terms-of-use")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="E-mail addresses")).to_be_visible()
    expect(page.get_by_text(account["mail"])).to_be_visible()
    page.get_by_label("Backup e-mail address", exact=True).fill(BACKUP)
    page.get_by_label("Confirm your backup e-mail address").fill("alice.other@example.net")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("The two addresses do not match.")
    pages.check("addresses-error")
    page.get_by_label("Confirm your backup e-mail address").fill(BACKUP)
    page.get_by_label("Forward my internal ENT messages to this e-mail address.").check()
    pages.check("addresses")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Password", exact=True)).to_be_visible()
    page.get_by_label("Password", exact=True).fill("short")
    expect(page.locator('li[data-rule="too_short"]')).to_have_class("ko")
    expect(page.get_by_text("be at least 8 characters long;")).to_be_visible()
    pages.check("password-rules")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm password").fill(NEW_PASSWORD)
    page.get_by_label("Show the password").check()
    expect(page.locator("li.ko")).to_have_count(0)
    pages.check("password")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Account activated!")).to_be_visible()
    expect(page.get_by_text("The link expires in 48 hours.")).to_be_visible()
    link = page.get_by_role("link", name="Go to the ENT")
    assert link.get_attribute("href") == (
        "http://cas.test/cas/login?service=http%3A%2F%2Fent.test%2Fportail%2F"
    )
    pages.check("account-activated")

    [message] = deliver(1)
    assert message["Subject"] == "Confirm your personal e-mail address"
    assert message["Content-Language"] == "en"
    page.goto(link_in(message))
    expect(page.get_by_role("button", name="Confirm my address")).to_be_visible()
    pages.check("validation-link")
    page.get_by_role("button", name="Confirm my address").click()
    expect(page.get_by_role("heading", name="Address confirmed")).to_be_visible()
    pages.check("address-confirmed")
    assert "entidpbackupmailverifiedtime" in accounts.read(account["dn"])
    context.close()
    assert pages.problems == {}, json.dumps(pages.problems, indent=1, ensure_ascii=False)
