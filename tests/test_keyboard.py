"""The whole activation with the keyboard only: Tab to move, Space to tick, Enter to send."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .browser_support import VIEWPORTS

pytestmark = pytest.mark.browser


def tab_to(page: Page, element_id: str) -> None:
    """Press Tab until ``element_id`` has the focus, and check the focus is visible."""
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"no visible focus on #{element_id}"
            return
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def tab_to_button(page: Page, label: str) -> None:
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == label:
            return
    raise AssertionError(f"button {label!r} cannot be reached with Tab")


def test_activation_with_the_keyboard_only(browser, live_app, accounts):
    account = accounts.create("pending")
    page = browser.new_page(viewport=VIEWPORTS["ordinateur"], locale="fr-FR")
    page.goto(f"{live_app}activation")
    tab_to(page, "login")
    page.keyboard.type(account["login"])
    tab_to(page, "password")
    page.keyboard.type(account["password"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Conditions Générales d'Utilisation")).to_be_visible()

    tab_to(page, "accept")
    page.keyboard.press("Space")
    tab_to_button(page, "Continuer")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Adresses de messagerie")).to_be_visible()

    tab_to(page, "backup_mail")
    page.keyboard.type("emma.perso@example.net")
    tab_to(page, "confirm")
    page.keyboard.type("emma.perso@example.net")
    tab_to(page, "forward")
    page.keyboard.press("Space")
    tab_to_button(page, "Continuer")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Mot de passe")).to_be_visible()

    tab_to(page, "password")
    page.keyboard.type("Tr0mbone-Vert-Soleil!")
    tab_to(page, "confirm")
    page.keyboard.type("Tr0mbone-Vert-Soleil!")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Compte activé !")).to_be_visible()
    tab_to_button(page, "Accès ENT")
    assert accounts.binds(account["dn"], "Tr0mbone-Vert-Soleil!")
    page.close()
