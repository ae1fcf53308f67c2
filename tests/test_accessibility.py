"""Every page a user can meet, checked on a phone (360×740) in Chromium:

- axe-core's WCAG 2.0/2.1 A and AA rules (RGAA's basis) find nothing; axe-core comes from npm
  (tests/axe/package.json, installed by ``make test``) and is injected into each page as the
  user sees it, errors included;
- every touch target is at least 44×44 CSS px (WCAG 2.5.5): buttons, fields, checkboxes
  together with their label, links, except links inside a sentence (WCAG's inline exception);
- nothing scrolls sideways (WCAG 1.4.10, reflow).

Each test is a tour through one part of the product, reached the way users reach it (the real
CAS server, mails from the mail worker, real throttling, a real fault); ``Tour`` in
browser_support.py does the checks and saves screenshots at 360×740 and 1280×800 in
``var/screenshots/<flow>/<viewport>/`` (the activation steps are photographed by
test_browser.py).
"""

from __future__ import annotations

import contextlib

import pytest
import requests
from flask import Flask, abort
from playwright.sync_api import Page, expect

from devstack.ports import free_port

from .browser_support import VIEWPORTS, Tour, serve
from .conftest import CGU_VERSION, INTERRUPT_PASSWORD, store_of
from .pages import link_in

pytestmark = pytest.mark.browser

PASSWORD = "Deja-Actif-2026!"
NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"


@pytest.fixture
def settings(settings, live_url, cas_server):
    """The live app and the mail worker agree on the public URL; CAS is the real one."""
    return {**settings, "PUBLIC_URL": live_url, "CAS_URL": cas_server.url}


@pytest.fixture
def page(browser, live_app):
    context = browser.new_context(
        viewport=VIEWPORTS["telephone"],
        locale="fr-FR",
        bypass_csp=True,  # to inject axe
    )
    yield context.new_page()
    context.close()


@pytest.fixture
def tour(page):
    return Tour(page)


def press(page: Page, button: str = "Continuer") -> int:
    """Click a submit button; return the HTTP status of the page it leads to."""
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=button).click()
    return navigation.value.status


def identify(page: Page, login: str, password: str) -> int:
    page.get_by_label("Identifiant").fill(login)
    page.get_by_label("Mot de passe").first.fill(password)
    return press(page)


def choose_password(page: Page, password: str, confirm: str | None = None) -> int:
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_label("Confirmation mot de passe").fill(password if confirm is None else confirm)
    return press(page)


def test_the_activation_and_the_validation_link(tour, page, live_app, accounts, deliver):
    account = accounts.create("pending")
    page.goto(f"{live_app}activation")
    tour.visit("identification")
    press(page)
    tour.visit("identification-erreurs")
    identify(page, account["login"], "faux")
    tour.visit("identification-refus")
    identify(page, account["login"], account["password"])
    tour.visit("cgu")
    press(page)
    tour.visit("cgu-erreur")
    page.get_by_label("J'ai lu et j'accepte").check()
    press(page)
    tour.visit("adresses")
    press(page)
    tour.visit("adresses-erreurs")
    page.get_by_label("Adresse électronique de secours", exact=True).fill("emma.perso@example.net")
    page.get_by_label("Confirmation de l'adresse").fill("emma.perso@example.net")
    page.get_by_label("Rediriger mes messages internes ENT").check()
    press(page)
    tour.visit("mot-de-passe")
    page.get_by_label("Afficher le mot de passe").check()
    choose_password(page, "court")
    tour.visit("mot-de-passe-erreurs")
    choose_password(page, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Compte activé !")).to_be_visible()
    tour.visit("compte-active")
    press(page, "Recevoir un nouveau lien")
    expect(page.get_by_role("status").last).to_contain_text("Un nouveau message")
    tour.visit("compte-active-nouveau-lien")

    tour.photograph("validation")
    [_, message] = deliver(2)
    page.goto(link_in(message))
    tour.visit("lien")
    press(page, "Valider mon adresse")
    expect(page.get_by_role("heading", name="Adresse validée")).to_be_visible()
    tour.visit("adresse-validee")
    page.goto(link_in(message))
    expect(page.get_by_role("heading", name="Lien déjà utilisé")).to_be_visible()
    tour.visit("lien-deja-utilise")
    page.goto(f"{live_app}validation/inconnu")
    tour.visit("lien-inconnu")
    tour.assert_clean()


def test_the_reset_and_the_new_cgu_flows(tour, page, live_app, accounts):
    reset = accounts.create(
        "reset",
        password="Reinit-2026",
        backup_mail="bruno.perso@example.net",
        backup_verified=True,
        cgu_version="2024-09",
    )
    page.goto(f"{live_app}reinitialisation")
    tour.visit("reinitialisation-identification")
    identify(page, reset["login"], reset["password"])
    expect(page.get_by_text("Les Conditions Générales d'Utilisation ont changé")).to_be_visible()
    tour.visit("reinitialisation-cgu")
    page.get_by_label("J'ai lu et j'accepte").check()
    press(page)
    tour.visit("reinitialisation-adresses")
    press(page)
    choose_password(page, "Nouveau-Depart-2026!", "Nouveau-Depart-2027!")
    tour.visit("reinitialisation-mot-de-passe-erreurs")
    choose_password(page, "Nouveau-Depart-2026!")
    expect(page.get_by_role("heading", name="Compte activé !")).to_be_visible()
    tour.visit("reinitialisation-compte-active")

    tour.photograph("conditions")
    old_cgu = accounts.create("active", password=PASSWORD, cgu_version="2024-09")
    page.goto(f"{live_app}conditions")
    tour.visit("identification")
    identify(page, old_cgu["login"], "Pas-Le-Bon-2026!")
    expect(page.get_by_role("alert")).to_contain_text("Identifiant ou mot de passe incorrect.")
    tour.visit("identification-refus")
    identify(page, old_cgu["login"], PASSWORD)
    tour.visit("cgu")
    press(page)
    tour.visit("cgu-erreur")
    page.get_by_label("J'ai lu et j'accepte").check()
    press(page)
    expect(page.get_by_role("heading", name="Conditions acceptées")).to_be_visible()
    tour.visit("conditions-acceptees")
    page.goto(f"{live_app}conditions")
    identify(page, old_cgu["login"], PASSWORD)
    expect(page.get_by_role("heading", name="Votre compte est à jour")).to_be_visible()
    tour.visit("compte-a-jour")
    tour.assert_clean()


def test_the_side_pages_of_the_flows(tour, page, live_app, accounts, app, stack):
    """Already active, session expired, busy, conflict, and where CAS's interrupt sends users."""
    tour.photograph("situations")
    page.goto(f"{live_app}")
    tour.visit("accueil")
    active = accounts.create("active", password=PASSWORD, cgu_version=CGU_VERSION)
    page.goto(f"{live_app}activation")
    identify(page, active["login"], PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("provisoire incorrect")
    expect(page.get_by_text("Votre compte est déjà actif ?")).to_be_visible()
    tour.visit("compte-deja-actif")

    pending = accounts.create("pending")
    page.goto(f"{live_app}activation")
    identify(page, pending["login"], pending["password"])
    redis = store_of(app).redis
    for key in redis.scan_iter("ent-idp:flow:*"):
        redis.delete(key)
    page.goto(f"{live_app}activation/cgu")
    expect(page.get_by_text("Votre session a expiré")).to_be_visible()
    tour.visit("session-expiree")

    identify(page, pending["login"], pending["password"])
    page.get_by_label("J'ai lu et j'accepte").check()
    press(page)
    page.get_by_label("Adresse électronique de secours", exact=True).fill("emma.perso@example.net")
    page.get_by_label("Confirmation de l'adresse").fill("emma.perso@example.net")
    press(page)
    with store_of(app).locks.hold(pending["dn"]) as held:
        assert held
        assert choose_password(page, NEW_PASSWORD) == 409
    expect(page.get_by_role("heading", name="Votre compte est en cours")).to_be_visible()
    tour.visit("compte-occupe")
    admin = stack.slapd.admin_connection()
    admin.modify(pending["dn"], {"userPassword": [("MODIFY_REPLACE", ["Autre-Provisoire-2026"])]})
    admin.unbind()
    page.goto(f"{live_app}activation/mot-de-passe")
    assert choose_password(page, NEW_PASSWORD) == 409
    expect(page.get_by_role("heading", name="Votre compte a déjà été traité")).to_be_visible()
    tour.visit("compte-deja-traite")

    for kind, account in [
        ("activation", accounts.create("pending")),
        ("reinitialisation", accounts.create("reset")),
        ("conditions", accounts.create("active", password=PASSWORD, cgu_version="2024-09")),
    ]:
        answer = requests.get(
            f"{live_app}api/cas/interrupt",
            params={"username": account["login"], "service": "http://ent.test/portail/"},
            auth=("cas", INTERRUPT_PASSWORD),
            timeout=10,
        ).json()
        assert answer["interrupt"] is True, answer
        [link] = answer["links"].values()
        assert link.startswith(f"{live_app}{kind}?service="), link
        page.goto(link)
        tour.visit(f"interruption-{kind}")
    tour.assert_clean()


def log_in_at_cas(page: Page, live_app: str, login: str, password: str) -> None:
    page.goto(f"{live_app}compte")
    page.locator("#id_username").fill(login)
    page.locator("#id_password").fill(password)
    page.locator("#login_submit").click()
    expect(page.get_by_role("heading", name="Mon compte", exact=True)).to_be_visible()


def section(page: Page, title: str):
    """One of « Mon compte »'s forms: each has its own « Mot de passe actuel »."""
    return page.get_by_role("region", name=title, exact=True)


def test_mon_compte(tour, page, live_app, accounts, app, stack):
    """« Mon compte » through the real CAS: each form with its errors and its message, and
    the 403 page of a user whose account left the directory."""
    account = accounts.create(
        "active",
        password=PASSWORD,
        backup_mail="emma.perso@example.net",
        backup_verified=True,
        cgu_version=CGU_VERSION,
        forward=True,
    )
    tour.photograph("compte")
    log_in_at_cas(page, live_app, account["login"], PASSWORD)
    tour.visit("compte")

    assert press(page, "Envoyer le lien de validation") == 400
    expect(
        page.locator("#erreurs"), "a phone shows the errors, not the page's top"
    ).to_be_in_viewport()
    summary = page.locator("#erreurs a").evaluate_all("links => links.map(a => a.hash)")
    assert summary == ["#adresse-backup_mail", "#adresse-confirm", "#adresse-current"]
    tour.visit("adresse-erreurs")
    address = section(page, "Changer d'adresse de secours")
    address.get_by_label("Adresse électronique de secours", exact=True).fill("nouvelle@example.net")
    address.get_by_label("Confirmation de l'adresse").fill("nouvelle@example.net")
    address.get_by_label("Mot de passe actuel").fill(PASSWORD)
    press(page, "Envoyer le lien de validation")
    expect(page.get_by_role("status"), "the message, not the form").to_be_in_viewport()
    expect(page.get_by_text("lien envoyé")).to_be_visible()
    tour.visit("adresse-lien-envoye")

    forwarding = section(page, "Redirection")
    forwarding.get_by_label("Rediriger mes messages internes ENT").uncheck()
    assert press(page, "Enregistrer") == 400
    expect(page.locator("#erreurs")).to_be_in_viewport()
    expect(page.locator("#erreurs")).to_contain_text("Saisissez votre mot de passe actuel.")
    tour.visit("redirection-erreurs")
    forwarding.get_by_label("Rediriger mes messages internes ENT").uncheck()
    forwarding.get_by_label("Mot de passe actuel").fill(PASSWORD)
    press(page, "Enregistrer")
    expect(page.get_by_text("Votre choix de redirection est enregistré.")).to_be_visible()
    tour.visit("redirection-enregistree")

    assert press(page, "Changer mon mot de passe") == 400
    expect(page.locator("#erreurs")).to_be_in_viewport()
    summary = page.locator("#erreurs a").evaluate_all("links => links.map(a => a.hash)")
    assert summary == ["#mdp-current", "#mdp-password", "#mdp-confirm"], "in the page's order"
    tour.visit("mot-de-passe-erreurs")
    password = section(page, "Changer de mot de passe")
    password.get_by_label("Mot de passe actuel").fill("Pas-Le-Bon-2026!")
    password.get_by_label("Nouveau mot de passe", exact=True).fill(NEW_PASSWORD)
    password.get_by_label("Confirmation du nouveau mot de passe").fill(NEW_PASSWORD)
    assert press(page, "Changer mon mot de passe") == 400
    expect(page.get_by_text("Mot de passe actuel incorrect.").first).to_be_visible()
    tour.visit("mot-de-passe-actuel-incorrect")
    password.get_by_label("Mot de passe actuel").fill(PASSWORD)
    password.get_by_label("Nouveau mot de passe", exact=True).fill(NEW_PASSWORD)
    password.get_by_label("Confirmation du nouveau mot de passe").fill(NEW_PASSWORD)
    with store_of(app).locks.hold(account["dn"]) as held:
        assert held
        press(page, "Changer mon mot de passe")
    expect(page.get_by_text("Votre compte a été modifié entre-temps")).to_be_in_viewport()
    tour.visit("compte-modifie-entre-temps")
    password.get_by_label("Mot de passe actuel").fill(PASSWORD)
    password.get_by_label("Nouveau mot de passe", exact=True).fill(NEW_PASSWORD)
    password.get_by_label("Confirmation du nouveau mot de passe").fill(NEW_PASSWORD)
    press(page, "Changer mon mot de passe")
    expect(page.get_by_text("Votre mot de passe a été changé.")).to_be_in_viewport()
    tour.visit("mot-de-passe-change")

    page.goto(f"{live_app}compte?ticket=ST-1-pas-un-vrai-ticket")
    expect(page.get_by_role("heading", name="Connexion impossible")).to_be_visible()
    tour.visit("connexion-impossible")
    admin = stack.slapd.admin_connection()  # the account left the directory meanwhile
    admin.delete(account["dn"])
    admin.unbind()
    assert page.goto(f"{live_app}compte").status == 403
    tour.visit("403-compte-disparu")
    tour.assert_clean()


def test_mot_de_passe_oublie(tour, page, live_app, accounts, app, deliver):
    account = accounts.create(
        "active",
        password=PASSWORD,
        backup_mail="emma.perso@example.net",
        backup_verified=True,
        cgu_version=CGU_VERSION,
    )
    tour.photograph("mot-de-passe-oublie")
    page.goto(f"{live_app}mot-de-passe-oublie")
    tour.visit("demande")
    press(page)
    tour.visit("demande-erreurs")
    page.get_by_label("Identifiant").fill(account["login"])
    press(page)
    tour.visit("demande-envoyee")

    [message] = deliver(1)
    link = link_in(message, "mot-de-passe-oublie/lien")
    page.goto(link)
    tour.visit("lien")
    press(page, "Choisir un nouveau mot de passe")
    tour.visit("nouveau-mot-de-passe")
    choose_password(page, "court")
    tour.visit("nouveau-mot-de-passe-erreurs")
    with store_of(app).locks.hold(account["dn"]) as held:
        assert held
        assert choose_password(page, NEW_PASSWORD) == 409
    tour.visit("compte-occupe")
    page.goto(f"{live_app}mot-de-passe-oublie/nouveau")
    choose_password(page, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Mot de passe changé")).to_be_visible()
    tour.visit("mot-de-passe-change")
    page.goto(link)
    expect(page.get_by_role("heading", name="Lien déjà utilisé")).to_be_visible()
    tour.visit("lien-deja-utilise")
    page.goto(f"{live_app}mot-de-passe-oublie/lien/inconnu")
    tour.visit("lien-inconnu")
    tour.assert_clean()


def _broken_routes(app: Flask) -> None:
    """Test-only routes: the shipped app has no way to fail on purpose."""

    def fails():
        raise RuntimeError("a bug")

    app.add_url_rule("/panne", "panne", fails)
    app.add_url_rule("/demande-incorrecte", "demande_incorrecte", lambda: abort(400))


def test_the_error_pages(tour, page, live_app, settings, accounts):
    """400, 404, 413, 429, 500 and 503 as users get them."""
    tour.photograph("erreurs")
    # A second app whose directory is unreachable (nothing listens there), with two test-only
    # routes for a bug (500) and a request it cannot understand (400).
    broken = f"http://127.0.0.1:{free_port()}/"
    unreachable = {**settings, "LDAP_URL": f"ldap://127.0.0.1:{free_port()}"}
    with contextlib.contextmanager(serve)(unreachable, broken, _broken_routes):
        page.goto(f"{broken}activation")
        assert identify(page, "emma.durand", "Provisoire-2026") == 503
        expect(page.get_by_role("heading", name="Service momentanément")).to_be_visible()
        tour.visit("503-service-indisponible")
        assert page.goto(f"{broken}panne").status == 500
        tour.visit("500-erreur")
        assert page.goto(f"{broken}demande-incorrecte").status == 400
        tour.visit("400-demande-incorrecte")

    # A form posted with far more than it holds (a paste gone wrong, a script): 413.
    page.goto(f"{live_app}activation")
    page.get_by_label("Identifiant").evaluate("field => field.value = 'x'.repeat(70000)")
    assert press(page) == 413
    expect(page.get_by_role("heading", name="Envoi trop volumineux")).to_be_visible()
    tour.visit("413-envoi-trop-volumineux")

    assert page.goto(f"{live_app}nulle-part").status == 404
    tour.visit("404-page-introuvable")
    page.goto(f"{live_app}activation")
    page.context.clear_cookies()  # the session ended while the page stayed open
    assert identify(page, "emma.durand", "Provisoire-2026") == 400
    expect(page.get_by_role("heading", name="Cette page a expiré")).to_be_visible()
    tour.visit("400-page-expiree")

    account = accounts.create("pending")
    page.goto(f"{live_app}activation")
    for _ in range(5):
        assert identify(page, account["login"], "Mauvais-2026") == 200
    assert identify(page, account["login"], account["password"]) == 429
    expect(page.get_by_role("alert")).to_contain_text("Trop de tentatives")
    tour.visit("429-trop-de-tentatives")
    tour.assert_clean()
