"""Two ENTs on one app (the shipped schema): the lycées' (the top-level keys) and the CFA's
(an [ent.cfa] table), told apart by the request's Host. Each has its name, colours, CGU
text and version, CAS, allowed services and mail sender; raising one's version asks only
its users again; its mails come from its sender with links to its own public URL."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from .conftest import CGU_VERSION, PUBLIC_URL, resources_of, store_of
from .pages import go_through, identify, link_in, submit, text
from .test_interrupt import call

pytestmark = pytest.mark.security

CFA_HOST = "compte.cfa.test"
CFA_URL = f"http://{CFA_HOST}/"
CFA_CAS = "http://cas.cfa.test/cas/"
CFA_VERSION = "2026-10-cfa"
CFA_SENDER = "ENT des CFA <ne-pas-repondre@cfa.test>"
CFA_SERVICE = "http://cfa.test/portail/"
CFA_TEXT = "Charte des centres de formation d'apprentis : article premier."
NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"


class HostClient(FlaskClient):
    """A browser on one host: every request (and the redirects it follows) names it."""

    host = "localhost"

    def open(self, *args, **kwargs):
        if not args or isinstance(args[0], str):
            kwargs.setdefault("base_url", f"http://{self.host}/")
        return super().open(*args, **kwargs)


def ents_settings(settings: dict, tmp_path) -> dict:
    cgu = tmp_path / "cgu-cfa.txt"
    cgu.write_text(f"{CFA_TEXT}\n\nDeuxième article, propre aux CFA.\n", encoding="utf-8")
    cfa = {
        "name": "ENT des CFA",
        "public_url": CFA_URL,
        "brand": {"colour": "#6a1b4d", "colour_dark": "#4a1236"},
        "cgu": {"version": CFA_VERSION, "text_file": str(cgu)},
        "cas": {
            "url": CFA_CAS,
            "default_service": CFA_SERVICE,
            "allowed_services": ["http://cfa.test/"],
        },
        "mail": {"sender": CFA_SENDER, "help_contact": "assistance@cfa.test"},
    }
    return {**settings, "ENT_KEY": "lycees", "ENTS": {"cfa": cfa}}


@pytest.fixture
def settings(settings, tmp_path):
    return ents_settings(settings, tmp_path)


def browser_on(app, host: str) -> HostClient:
    app.test_client_class = HostClient
    client = app.test_client()
    client.host = host
    return client


@pytest.fixture
def lycees(app):
    return browser_on(app, "ent-idp.test")


@pytest.fixture
def cfa(app):
    return browser_on(app, CFA_HOST)


def cfa_record(version: str = CFA_VERSION) -> str:
    return f"cfa;{version};20250901080000Z"


def with_record(accounts, dn: str, value: str) -> None:
    conn = accounts.slapd.admin_connection()
    try:
        assert conn.modify(dn, {"entIdpCguAcceptance": [("MODIFY_ADD", [value])]}), conn.result
    finally:
        conn.unbind()


def records(accounts, dn: str) -> list[str]:
    return sorted(v.decode() for v in accounts.read(dn).get("entidpcguacceptance", []))


def test_each_ent_has_its_name_colours_and_cgu(lycees, cfa, accounts):
    """The ENT comes from the Host: its name in every page, its brand, its own CGU."""
    page = lycees.get("/activation")
    assert page.status_code == 200 and "ENT de test" in text(page)
    assert "ENT des CFA" not in text(page)
    cfa_page = cfa.get("/activation")
    assert "ENT des CFA" in text(cfa_page) and "ENT de test" not in text(cfa_page)
    assert "l'assistance de l'ENT : assistance@cfa.test" in text(cfa_page), "its help"
    assert "assistance@cfa.test" not in text(page)
    assert "--brand: #0b5394" in lycees.get("/marque/couleurs.css").get_data(as_text=True)
    assert "--brand: #6a1b4d" in cfa.get("/marque/couleurs.css").get_data(as_text=True)
    account = accounts.create("pending")
    cgu = identify(cfa, "activation", account["login"], account["password"])
    assert cgu.request.path == "/activation/cgu"
    assert CFA_TEXT in text(cgu) and f"version {CFA_VERSION}" in cgu.get_data(as_text=True)
    other = accounts.create("pending")
    cgu = identify(lycees, "activation", other["login"], other["password"])
    assert CFA_TEXT not in text(cgu) and f"version {CGU_VERSION}" in cgu.get_data(as_text=True)


def test_an_unknown_host_gets_400(app):
    """A Host no ENT has must not choose one by default: links, CGU and mails would be
    another ENT's; it gets 400 as before, and nothing is built from it."""
    for host in ("evil.example", "cfa.test", "compte.cfa.test.evil.example"):
        response = browser_on(app, host).get("/activation")
        assert response.status_code == 400, host


def test_activation_on_one_ent_records_its_cgu_and_mails_from_it(cfa, accounts, deliver):
    """The acceptance is filed under the CFA's service id only; the mail comes from the
    CFA's sender, names it, carries its colour, and links to its own public URL."""
    account = accounts.create("pending")
    done = go_through(cfa, "activation", account, new_password=NEW_PASSWORD)
    assert done.request.path == "/activation/compte-active"
    [access] = re.findall(r'href="([^"]+)"[^>]*>\s*Accès ENT', done.get_data(as_text=True))
    assert access.startswith(f"{CFA_CAS}login?service=") and "cfa.test" in access
    entry = accounts.read(account["dn"])
    assert "entidpcguversion" not in entry, "the lycées' acceptance is not the CFA's"
    [value] = records(accounts, account["dn"])
    assert re.fullmatch(rf"cfa;{CFA_VERSION};\d{{14}}Z", value)
    [message] = deliver(1)
    assert message["From"] == CFA_SENDER
    assert message["Subject"] == "ENT des CFA : Validez votre adresse électronique personnelle"
    assert link_in(message).startswith(f"{CFA_URL}validation/")
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "#6a1b4d" in html and "ENT des CFA" in html
    assert re.search(r"@cfa\.test>$", message["Message-ID"]), "Message-IDs of its domain"


def test_the_mails_are_in_the_users_language_for_each_ent(cfa, lycees, accounts, deliver):
    """Each ENT's name prefixes the subject in both languages, and its sender sends it."""
    cases = (
        (cfa, "cfa", CFA_SENDER, "ENT des CFA: Confirm your personal e-mail address", CFA_URL),
        (lycees, "lyc", "ENT <ne-pas-repondre@ent.test>", "ENT de test: Confirm", PUBLIC_URL),
    )
    for browser, name, *_ in cases:
        browser.set_cookie("ent_idp_lang", "en", domain=browser.host)
        go_through(
            browser, "activation", accounts.create("pending"), backup_mail=f"{name}@example.net"
        )
    received = {message["To"]: message for message in deliver(2)}
    for _, name, sender, subject, url in cases:
        message = received[f"{name}@example.net"]
        assert (message["From"], message["Content-Language"]) == (sender, "en")
        assert message["Subject"].startswith(subject)
        assert link_in(message).startswith(f"{url}validation/")


@pytest.fixture
def both_accepted(accounts):
    """Active, with the lycées' CGU in today's attribute and the CFA's in its record."""
    account = accounts.create("active", password=NEW_PASSWORD, cgu_version=CGU_VERSION)
    with_record(accounts, account["dn"], cfa_record())
    return account


@pytest.fixture
def raised(settings, stack):
    """The same deployment once the CFA published a new version of its CGU."""
    from ent_idp import create_app

    cfa = settings["ENTS"]["cfa"]
    raised_cfa = {**cfa, "cgu": {**cfa["cgu"], "version": "2027-01-cfa"}}
    app = create_app({**settings, "ENTS": {"cfa": raised_cfa}})
    yield app
    resources_of(app).close()


def test_raising_one_ents_version_asks_only_its_users(raised, both_accepted, accounts):
    """The CFA's new CGU must be accepted on the CFA; the lycées' users, and the CFA users
    on the lycées, are asked nothing: each ENT's acceptance is its own."""
    cfa, lycees = browser_on(raised, CFA_HOST), browser_on(raised, "ent-idp.test")
    login = both_accepted["login"]
    up_to_date = identify(lycees, "conditions", login, NEW_PASSWORD)
    assert "à jour" in text(up_to_date), text(up_to_date)[:300]
    asked = identify(cfa, "conditions", login, NEW_PASSWORD)
    assert asked.request.path == "/conditions/cgu"
    assert "ont changé depuis votre dernière acceptation" in text(asked)
    submit(cfa, "/conditions/cgu", {"accept": "y"})
    entry = accounts.read(both_accepted["dn"])
    assert entry["entidpcguversion"] == [CGU_VERSION.encode()], "the lycées' untouched"
    [value] = records(accounts, both_accepted["dn"])
    assert value.startswith("cfa;2027-01-cfa;"), "the CFA's old value replaced by its new one"


def test_the_interrupt_asks_for_the_ent_of_the_service_accessed(raised, both_accepted):
    """CAS calls the interrupt for every ENT's services: the ENT is the service's, so a
    user entering a lycées service is not stopped for the CFA's new CGU, and one entering a
    CFA service is sent to the CFA's own pages."""
    client = browser_on(raised, "ent-idp.test")  # CAS calls one address for every ENT
    lycees_answer = call(client, both_accepted["login"], service="http://ent.test/portail/")
    assert lycees_answer.get_json()["interrupt"] is False
    answer = call(client, both_accepted["login"], service="http://cfa.test/cours/").get_json()
    assert answer["interrupt"] is True
    [link] = answer["links"].values()
    parts = urlsplit(link)
    assert (f"{parts.scheme}://{parts.netloc}/", parts.path) == (CFA_URL, "/conditions")
    assert parse_qs(parts.query) == {"service": ["http://cfa.test/cours/"]}


def test_accounts_activated_before_the_upgrade_are_not_asked_again(cfa, lycees, accounts):
    """Today's single attribute is the top-level ENT's acceptance: an upgrade to several
    ENTs asks its users nothing; the new ENT, which they never accepted, does."""
    account = accounts.create("active", password=NEW_PASSWORD, cgu_version=CGU_VERSION)
    assert "à jour" in text(identify(lycees, "conditions", account["login"], NEW_PASSWORD))
    asked = identify(cfa, "conditions", account["login"], NEW_PASSWORD)
    assert asked.request.path == "/conditions/cgu"
    assert "ont changé" not in text(asked), "never accepted there: not a new version"


def test_mon_compte_asks_for_its_ents_new_cgu_only(raised, both_accepted):
    """« Mon compte » of the CFA sends to the CFA's new CGU; the lycées' shows the page."""
    for host, expected in ((CFA_HOST, "/conditions/cgu"), ("ent-idp.test", None)):
        browser = browser_on(raised, host)
        sid = store_of(raised).sessions.open(both_accepted["login"], f"ST-{host}-{time.time()}")
        with browser.session_transaction(base_url=f"http://{host}/") as session:
            session["account"] = sid
        page = browser.get("/compte", follow_redirects=True)
        if expected:
            assert page.request.path == expected and "2027-01-cfa" in text(page)
        else:
            assert page.request.path == "/compte" and both_accepted["login"] in text(page)


def test_a_link_asked_for_on_one_ent_is_mailed_from_it(cfa, accounts, deliver):
    """« Mot de passe oublié » asked on the CFA's host: worked later by the mail worker,
    the mail still comes from the CFA, with a link to the CFA's pages."""
    account = accounts.create(
        "active",
        password=NEW_PASSWORD,
        backup_mail="emma.perso@example.net",
        backup_verified=True,
        cgu_version=CGU_VERSION,
    )
    submit(cfa, "/mot-de-passe-oublie", {"login": account["login"]})
    [message] = deliver(1)
    assert message["From"] == CFA_SENDER
    assert link_in(message, "mot-de-passe-oublie/lien").startswith(CFA_URL)


def test_a_request_queued_before_the_upgrade_is_the_default_ents(app, accounts, deliver):
    """A request queued by the previous version names no ENT: the default one sends it."""
    account = accounts.create("active", backup_mail="emma.perso@example.net", backup_verified=True)
    queued = {"login": account["login"], "at": time.time(), "lang": "fr", "request_id": None}
    store_of(app).recovery_requests.push(json.dumps(queued))
    [message] = deliver(1)
    assert message["From"] == "ENT <ne-pas-repondre@ent.test>"
    assert link_in(message, "mot-de-passe-oublie/lien").startswith(PUBLIC_URL)


def test_a_flow_started_on_one_ent_does_not_go_on_under_another(cfa, lycees, accounts):
    """A session carried to another ENT's host (a shared cookie, a copied one) must not
    write that ENT's CGU with the first one's flow: it starts again at identification."""
    account = accounts.create("pending")
    assert identify(cfa, "activation", account["login"], account["password"]).request.path == (
        "/activation/cgu"
    )
    cookie = cfa.get_cookie("ent_idp_session", domain=CFA_HOST)
    lycees.set_cookie("ent_idp_session", cookie.value, domain="ent-idp.test")
    moved = lycees.get("/activation/cgu")
    assert moved.status_code == 302 and urlsplit(moved.location).path == "/activation"
    assert "entidpcguacceptance" not in accounts.read(account["dn"])


def test_mon_compte_logs_in_through_its_ents_cas(cfa, lycees):
    """« Mon compte » of the CFA sends to the CFA's CAS, with the CFA's own page as the
    service (the ticket is validated there for that URL)."""
    for browser, cas, here in (
        (cfa, CFA_CAS, CFA_URL),
        (lycees, "http://cas.test/cas/", PUBLIC_URL),
    ):
        answer = browser.get("/compte")
        assert answer.status_code == 302
        location = urlsplit(answer.location)
        assert f"{location.scheme}://{location.netloc}{location.path}" == f"{cas}login"
        assert parse_qs(location.query)["service"] == [f"{here}compte"]
