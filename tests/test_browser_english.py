"""The whole activation in English in a real Chromium, after the switch in the page's header.

A pupil whose browser speaks French clicks « English » on the first page and goes through
every step in English. Each page is read for French text (tests/language.py) and checked by
browser_support's ``Tour`` as every other page is (axe-core's WCAG 2.0/2.1 A and AA rules,
44 px touch targets, no horizontal scroll: English wording is longer in places), and
photographed in ``var/screenshots/activation-en/<viewport>/``; the validation mail comes in
English too.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from .browser_support import VIEWPORTS, Tour
from .language import french_in, read_html
from .pages import link_in

pytestmark = pytest.mark.browser

SERVICE = "http://ent.test/portail/"
BACKUP = "alice.perso@example.net"
NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"


class EnglishTour(Tour):
    """A tour that also reads each page for French left on it."""

    def __init__(self, page, allowed: tuple[str, ...]):
        super().__init__(page)
        self.allowed = allowed
        self.french: dict[str, list[str]] = {}

    def visit(self, name: str) -> None:
        found = french_in(read_html(self.page.content()), self.allowed)
        if found:
            self.french[name] = found
        super().visit(name)


def test_activation_in_english_after_the_switch(browser, live_app, accounts, deliver, settings):
    account = accounts.create("pending", given_name="Alice", surname="Martin")
    context = browser.new_context(
        viewport=VIEWPORTS["telephone"],
        locale="fr-FR",  # the browser asks for French: the switch wins
        bypass_csp=True,  # to inject axe
    )
    page = context.new_page()
    pages = EnglishTour(
        page,
        (account["login"], account["mail"], BACKUP, settings["ENT_NAME"], "Alice", "Martin"),
    )
    pages.photograph("activation-en")
    page.goto(f"{live_app}activation?service={SERVICE}")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Identification")).to_be_visible()

    switch = page.get_by_role("link", name="English")
    expect(switch).to_have_attribute("hreflang", "en")
    page.keyboard.press("Tab")  # « Aller au contenu », then the switch: a real link
    page.keyboard.press("Tab")
    expect(switch).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.url == f"{live_app}activation?service={SERVICE}"
    back = page.get_by_role("link", name="Français")
    expect(back).to_have_attribute("lang", "fr")
    box = back.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44, box
    expect(page.get_by_text("Step 1 of 5")).to_be_visible()
    pages.visit("identification")

    page.get_by_label("Username").fill(account["login"])
    page.get_by_label("Temporary password").fill("not-the-password")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("Incorrect username or temporary password")
    pages.visit("identification-error")

    page.get_by_label("Temporary password").fill(account["password"])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Terms of use")).to_be_visible()
    expect(page.get_by_text("Step 2 of 5")).to_be_visible()
    expect(page.get_by_text("ARTICLE 1: Every user")).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("Tick the box to accept the terms of use.")
    pages.visit("terms-of-use-error")
    page.get_by_label("I have read and accept the terms of use above.").check()
    pages.visit("terms-of-use")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="E-mail addresses")).to_be_visible()
    expect(page.get_by_text(account["mail"])).to_be_visible()
    page.get_by_label("Backup e-mail address", exact=True).fill(BACKUP)
    page.get_by_label("Confirm your backup e-mail address").fill("alice.other@example.net")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("The two addresses do not match.")
    pages.visit("addresses-error")
    page.get_by_label("Confirm your backup e-mail address").fill(BACKUP)
    page.get_by_label("Forward my internal ENT messages to this e-mail address.").check()
    pages.visit("addresses")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Password", exact=True)).to_be_visible()
    page.get_by_label("Password", exact=True).fill("short")
    expect(page.locator('li[data-rule="too_short"]')).to_have_class("ko")
    expect(page.get_by_text("be at least 8 characters long;")).to_be_visible()
    pages.visit("password-rules")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm password").fill(NEW_PASSWORD)
    page.get_by_label("Show the password").check()
    expect(page.locator("li.ko")).to_have_count(0)
    pages.visit("password")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Account activated!")).to_be_visible()
    expect(page.get_by_text("The link expires in 48 hours.")).to_be_visible()
    link = page.get_by_role("link", name="Go to the ENT")
    assert link.get_attribute("href") == (
        "http://cas.test/cas/login?service=http%3A%2F%2Fent.test%2Fportail%2F"
    )
    pages.visit("account-activated")

    [message] = deliver(1)
    assert message["Subject"] == "Confirm your personal e-mail address"
    assert message["Content-Language"] == "en"
    page.goto(link_in(message))
    expect(page.get_by_role("button", name="Confirm my address")).to_be_visible()
    pages.visit("validation-link")
    page.get_by_role("button", name="Confirm my address").click()
    expect(page.get_by_role("heading", name="Address confirmed")).to_be_visible()
    pages.visit("address-confirmed")
    assert "entidpbackupmailverifiedtime" in accounts.read(account["dn"])
    context.close()
    assert pages.french == {}, json.dumps(pages.french, indent=1, ensure_ascii=False)
    pages.assert_clean()
