"""« Mon compte » on a shared computer: a session found open does not hand the account over.

Against the real slapd, redis-server, SMTP sink and CAS server (django-cas-server) of
tests/conftest.py. Each test names one rule and says why it matters.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ent_idp import create_app
from ent_idp.cas import comes_from, logout_networks
from ent_idp.core.notices import RESENDS

from .browser_support import serve
from .cas_client import cas_login
from .conftest import CGU_VERSION, resources_of, store_of
from .pages import csrf_token, link_in, submit, text

RESENDS_PER_DAY = RESENDS.most

pytestmark = pytest.mark.security

PASSWORD = "Deja-Actif-2026!"
OWN = "emma.perso@example.net"
STRANGER = "quelqu.un.autre@example.org"
HELP = "01 23 45 67 89"


@pytest.fixture
def settings(settings, cas_server):
    return {**settings, "CAS_URL": cas_server.url, "MAIL_HELP_CONTACT": HELP}


@pytest.fixture
def active(accounts):
    return accounts.create(
        "active",
        password=PASSWORD,
        backup_mail=OWN,
        backup_verified=True,
        cgu_version=CGU_VERSION,
        forward=True,
    )


def log_in(client, cas_server, account, password=PASSWORD):
    response = client.get("/compte")
    assert response.status_code == 302
    service = parse_qs(urlsplit(response.location).query)["service"][0]
    ticket = cas_login(cas_server.url, service, account["login"], password)
    return client.get(f"/compte?ticket={ticket}", follow_redirects=True)


def change_address(client, address: str, current: str | None = PASSWORD):
    fields = {
        "adresse-backup_mail": address,
        "adresse-confirm": address,
        "adresse-current": current,
    }
    return submit(client, "/compte", fields, action="/compte/adresse")


def set_forwarding(client, forward: bool, current: str | None = PASSWORD):
    fields = {"redirection-forward": "y" if forward else None, "redirection-current": current}
    return submit(client, "/compte", fields, action="/compte/redirection")


# What a change through « Mon compte » could touch (a wrong password also leaves ppolicy's
# pwdFailureTime, the directory's own count of failures).
WRITABLE = (
    "entidpbackupmail",
    "entidpbackupmailverifiedtime",
    "entidpmailforward",
    "mailroutingaddress",
    "userpassword",
    "pwdchangedtime",
)


def held(accounts, account) -> dict:
    entry = accounts.read(account["dn"])
    return {name: entry.get(name) for name in WRITABLE}


def queued(app) -> int:
    return store_of(app).mail_queue.pending()


def body(message) -> str:
    return " ".join(message.get_body(preferencelist=("plain",)).get_content().split())


def html(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def test_an_open_session_without_the_password_cannot_take_the_account_over(
    client, cas_server, active, accounts, app, deliver
):
    """Someone who finds « Mon compte » open on a shared computer must not be able to put
    their own address in, validate it (forwarding follows) and then reset the password
    through « Mot de passe oublié »: without the current password nothing changes."""
    log_in(client, cas_server, active)
    before = held(accounts, active)

    response = change_address(client, STRANGER, current=None)
    assert response.status_code == 400
    assert "Saisissez votre mot de passe actuel." in text(response)
    response = set_forwarding(client, False, current=None)
    assert response.status_code == 400
    assert "Saisissez votre mot de passe actuel." in text(response)

    assert held(accounts, active) == before, "nothing written to the directory"
    assert queued(app) == 0, "no validation link for the stranger's address"
    assert "lien envoyé" not in text(client.get("/compte"))
    submit(client, "/mot-de-passe-oublie", {"login": active["login"]})
    [message] = deliver(1)
    assert message["To"] == OWN, "the reset link still goes to the owner"


def test_a_wrong_current_password_changes_nothing_and_is_counted(
    client, cas_server, active, accounts, app
):
    """A wrong password on any « Mon compte » form counts against the login like a failed
    CAS login: whoever found the session cannot guess the password here faster than there.
    After the free failures even the right password is held back, with no bind made."""
    log_in(client, cas_server, active)
    before = held(accounts, active)
    for attempt in range(5):  # [throttle] login_free_failures
        if attempt % 2:
            response = set_forwarding(client, False, current=f"Essai-Numero-{attempt}!")
        else:
            response = change_address(client, STRANGER, current=f"Essai-Numero-{attempt}!")
        assert response.status_code == 400
        assert "Mot de passe actuel incorrect." in text(response)

    response = change_address(client, STRANGER)
    assert response.status_code == 400
    assert "Trop de tentatives : patientez 1 min avant de réessayer." in text(response)
    assert held(accounts, active) == before
    assert queued(app) == 0


def test_the_verified_address_hears_of_a_change_and_of_its_validation(
    client, cas_server, active, deliver
):
    """If someone else asks to replace the backup address, its owner learns it while it is
    still the account's address, in time to have the school reset the account; and learns
    again when it stops being it. Neither notice has a link a click could act on."""
    new = "nouvelle.adresse@example.org"
    log_in(client, cas_server, active)
    assert "Un message avec un lien de validation a été envoyé" in text(change_address(client, new))
    messages = {m["To"]: m for m in deliver(2)}
    notice = messages[OWN]
    assert notice["Subject"] == "Changement d'adresse de secours demandé pour votre compte ENT"
    assert notice["Content-Language"] == "fr"
    said = body(notice)
    assert f"le compte ENT « {active['login']} »" in said
    assert "la nouvelle adresse serait n***e@example.org" in said
    assert new not in said and new not in html(notice), "the new address is only shown masked"
    assert "Tant qu'il n'a pas été utilisé, la vôtre reste l'adresse de secours" in said
    assert "contactez votre établissement au plus vite" in said
    assert f"Vous pouvez aussi contacter l'assistance de l'ENT : {HELP}." in said
    assert "http" not in said and "<a " not in html(notice), "no link in a notice"

    submit(client, link_in(messages[new]).removeprefix("http://ent-idp.test"), {})
    replaced = deliver(3)[-1]
    assert replaced["To"] == OWN
    assert (
        replaced["Subject"] == "Cette adresse n'est plus l'adresse de secours de votre compte ENT"
    )
    said = body(replaced)
    assert "la nouvelle adresse n***e@example.org a été validée" in said
    assert "n'arriveront plus ici" in said
    assert "http" not in said and "<a " not in html(replaced)


def test_the_verified_address_hears_when_forwarding_stops_or_starts(
    client, cas_server, active, deliver
):
    """Forwarding decides where the account's mail goes: its owner must hear of every change
    of it, at the address concerned."""
    log_in(client, cas_server, active)
    assert "Votre choix de redirection est enregistré." in text(set_forwarding(client, False))
    assert "Votre choix de redirection est enregistré." in text(set_forwarding(client, True))
    set_forwarding(client, True)  # saved again, unchanged: nothing to tell
    off, on = deliver(2)
    assert off["To"] == on["To"] == OWN
    assert off["Subject"] == "La redirection de votre messagerie ENT a été désactivée"
    assert "ne sont plus redirigés vers cette adresse" in body(off)
    assert on["Subject"] == "La redirection de votre messagerie ENT a été activée"
    assert "sont désormais redirigés vers cette adresse" in body(on)
    assert len(deliver()) == 2
    for notice in (off, on):
        assert "http" not in body(notice) and "<a " not in html(notice)


def test_an_address_never_validated_is_told_nothing(client, cas_server, accounts, deliver):
    """An address that was never validated may be a typo, someone else's mailbox: nothing
    about the account is sent there."""
    account = accounts.create(
        "active", password=PASSWORD, backup_mail=OWN, cgu_version=CGU_VERSION, forward=False
    )
    log_in(client, cas_server, account)
    set_forwarding(client, True)
    change_address(client, STRANGER)
    assert [m["To"] for m in deliver(1)] == [STRANGER], "only the validation link"


LIFETIME = 3.0  # seconds, for this test only ([account] session_max_minutes = 60)


def test_mon_compte_sessions_end_after_their_absolute_lifetime(
    settings, cas_server, active, accounts
):
    """A session left open on a shared computer must not stay usable as long as someone
    keeps it busy: it ends a fixed time after the CAS login, whatever the activity. What was
    being sent then changes nothing, and the user is told so after logging in again."""
    app = create_app({**settings, "ACCOUNT_SESSION_MAX_MINUTES": LIFETIME / 60})
    try:
        client = app.test_client()
        page = log_in(client, cas_server, active)
        logged_in = time.monotonic()
        token = csrf_token(page.get_data(as_text=True))
        assert client.get("/compte").status_code == 200
        while time.monotonic() < logged_in + LIFETIME + 0.2:
            client.get("/compte")  # busy all along: activity does not extend it
            time.sleep(0.25)
        before = held(accounts, active)
        fields = {"adresse-backup_mail": STRANGER, "adresse-confirm": STRANGER}
        fields.update({"adresse-current": PASSWORD, "adresse-csrf_token": token})
        response = client.post("/compte/adresse", data=fields)
        assert response.status_code == 302
        assert response.location.startswith(f"{cas_server.url}login?service=")
        assert held(accounts, active) == before
        assert queued(app) == 0

        page = text(log_in(client, cas_server, active))
        assert "Votre session « Mon compte » avait expiré : rien n'a été modifié." in page
    finally:
        resources_of(app).close()


def session_cookie(last) -> str:
    for response in (*last.history, last):
        for cookie in response.headers.getlist("Set-Cookie"):
            if cookie.startswith("ent_idp_session="):
                return cookie
    raise AssertionError("no session cookie set")


def test_session_cookies_die_with_the_browser(client, cas_server, active, accounts, deliver):
    """On a shared computer, closing the browser must end every session: a cookie with an
    Expires or a Max-Age (12 hours until now) would outlive it, for the next user."""
    service = parse_qs(urlsplit(client.get("/compte").location).query)["service"][0]
    ticket = cas_login(cas_server.url, service, active["login"], PASSWORD)
    answers = {"Mon compte": client.get(f"/compte?ticket={ticket}")}

    pending = accounts.create("pending")
    answers["activation"] = submit(
        client, "/activation", {"login": pending["login"], "password": pending["password"]}
    )
    submit(client, "/mot-de-passe-oublie", {"login": active["login"]})
    [message] = deliver(1)
    link = link_in(message, "mot-de-passe-oublie/lien").removeprefix("http://ent-idp.test")
    answers["mot de passe oublié"] = submit(client, link, {})

    for flow, response in answers.items():
        cookie = session_cookie(response).lower()
        assert "expires=" not in cookie and "max-age=" not in cookie, (flow, cookie)
        assert "httponly" in cookie, flow


def logout_request(ticket: str) -> str:
    return (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="x" Version="2.0" '
        'IssueInstant="2026-11-28T00:00:00Z"><saml:NameID>x</saml:NameID>'
        f"<samlp:SessionIndex>{ticket}</samlp:SessionIndex></samlp:LogoutRequest>"
    )


def test_single_logout_is_accepted_only_from_the_cas_server(client, cas_server, active):
    """A logoutRequest only names a ticket, and tickets leak (an access log, a Referer, a
    screen): from anyone but the CAS server it must end nothing."""
    service = parse_qs(urlsplit(client.get("/compte").location).query)["service"][0]
    ticket = cas_login(cas_server.url, service, active["login"], PASSWORD)
    client.get(f"/compte?ticket={ticket}")

    forged = client.post(
        "/compte",
        data={"logoutRequest": logout_request(ticket)},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert forged.status_code == 403
    assert client.get("/compte").status_code == 200, "the session is still open"

    from_cas = client.post("/compte", data={"logoutRequest": logout_request(ticket)})
    assert from_cas.status_code == 200  # 127.0.0.1: where the CAS host resolves
    assert client.get("/compte").status_code == 302


@pytest.mark.parametrize(
    ("logout_addresses", "ended"),
    [([], True), (["192.0.2.0/24"], False)],
    ids=["from-the-cas-host", "cas-not-listed"],
)
def test_the_real_cas_single_logout(
    settings, live_url, cas_server, active, logout_addresses, ended
):
    """The CAS server's own logout request ends the session when it comes from the CAS
    host (the default) and is refused when [cas] logout_addresses does not list it."""
    live = serve({**settings, "CAS_LOGOUT_ADDRESSES": logout_addresses}, live_url)
    url = next(live)
    try:
        with requests.Session() as browser:
            service = f"{url}compte"
            ticket = cas_login(cas_server.url, service, active["login"], PASSWORD, browser)
            assert browser.get(f"{service}?ticket={ticket}", timeout=10).status_code == 200
            browser.get(f"{cas_server.url}logout", timeout=20)  # CAS posts to each service
            after = browser.get(service, allow_redirects=False, timeout=10)
        assert after.status_code == (302 if ended else 200)
    finally:
        live.close()


def test_validation_mails_from_mon_compte_are_limited(client, cas_server, active, accounts, app):
    """Each change of address mails a link: without a limit an open session (or a script
    with the password) could flood any mailbox from the ENT's servers. The limit is the one
    of « Recevoir un nouveau lien », per account and per address; past it nothing is sent."""
    log_in(client, cas_server, active)
    for _ in range(RESENDS_PER_DAY):
        response = change_address(client, "premiere@example.org")
        assert "Un message avec un lien de validation a été envoyé" in text(response)
    waiting = queued(app)
    response = change_address(client, "seconde@example.org")  # this account's 6th today
    assert response.status_code == 429
    assert "Trop de liens de validation ont été envoyés aujourd'hui" in text(response)
    assert queued(app) == waiting, "nothing queued"
    assert "seconde@example.org" not in text(client.get("/compte"))

    other = accounts.create("active", password=PASSWORD, cgu_version=CGU_VERSION)
    other_client = app.test_client()
    log_in(other_client, cas_server, other)
    response = change_address(other_client, "premiere@example.org")  # that address's 6th
    assert response.status_code == 429
    assert queued(app) == waiting
    response = change_address(other_client, "seconde.bis@example.org")
    assert "Un message avec un lien de validation a été envoyé" in text(response)


def test_single_logout_addresses_default_to_the_cas_host_and_match_as_the_socket_says():
    """The default must be the CAS server itself, seen the way a dual-stack socket reports
    it (``::ffff:127.0.0.1``); an unresolvable CAS host must accept nobody, not everybody."""
    networks = logout_networks([], "http://localhost:8443/cas/")
    assert comes_from("127.0.0.1", networks)
    assert comes_from("::ffff:127.0.0.1", networks)
    assert not comes_from("127.0.0.2", networks)
    assert not comes_from("203.0.113.7", networks)
    assert not comes_from(None, networks) and not comes_from("", networks)
    assert logout_networks([], "http://cas.invalid/cas/") == ()
    listed = logout_networks(["192.0.2.0/28", "2001:db8::1"], "http://localhost/cas/")
    assert comes_from("192.0.2.15", listed) and not comes_from("192.0.2.16", listed)
    assert comes_from("2001:db8::1", listed) and not comes_from("127.0.0.1", listed)
