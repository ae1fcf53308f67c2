"""French and English: every page and mail in the user's language, and none of the other.

Each tour goes through an area of the app the way users do (right and wrong answers, the
error pages, the mails they get) with a browser asking for English or French, and reads
every page and mail as they would (tests/language.py): no French on the English ones, no
English on the French ones, except what is marked with its own ``lang`` and the user's own
data.
"""

from __future__ import annotations

import base64
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import abort

from ent_idp import create_app
from ent_idp.errors import DirectoryUnavailable
from ent_idp.store import TokenPurpose

from .cas_client import cas_login
from .conftest import CGU_VERSION, INTERRUPT_PASSWORD, resources_of, store_of
from .language import Reading, english_in, french_in, read_html, read_mail
from .pages import choose_password, identify, link_in, reach_password, submit, text

ACCEPT = {"en": "en-GB,en;q=0.9", "fr": "fr-FR,fr;q=0.9"}
PASSWORD = "Deja-Actif-2026!"
NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"
OTHER_PASSWORD = "Autre-Chemin-2027!"
BACKUP = "emma.perso@example.net"


class Tour:
    """The pages and mails of one tour, read in one language."""

    def __init__(self, app, language: str, accounts, deliver, cas_server):
        self.app = app
        self.language = language
        self.accounts = accounts
        self.deliver = deliver
        self.cas_server = cas_server
        self.allowed = [resources_of(app).settings.ent_name, "example.net"]
        self.problems: dict[str, list[str]] = {}
        self.seen: list[str] = []

    def client(self):
        client = self.app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = ACCEPT[self.language]
        return client

    def allow(self, *values: str) -> None:
        """The user's own data (login, names, addresses) is not text to translate."""
        self.allowed += [v for v in values if v]

    def account(self, *args, **kwargs) -> dict:
        account = self.accounts.create(*args, **kwargs)
        self.allow(
            account["login"],
            account["mail"],
            kwargs.get("given_name", "Emma"),
            kwargs.get("surname", "Durand"),
            kwargs.get("backup_mail") or "",
        )
        return account

    def check(self, name: str, reading: Reading) -> None:
        check = french_in if self.language == "en" else english_in
        found = check(reading, tuple(self.allowed))
        self.seen.append(name)
        if found:
            self.problems[name] = found

    def page(self, name: str, response, status: int = 200) -> None:
        assert response.status_code == status, (name, response.status_code, text(response))
        self.check(name, read_html(response.get_data(as_text=True)))

    def mail(self, name: str, message) -> None:
        assert message["Content-Language"] == self.language, name
        for part, reading in read_mail(message).items():
            self.check(f"{name} ({part})", reading)

    def assert_clean(self) -> None:
        assert self.seen
        assert self.problems == {}, "\n".join(
            f"{name}:\n  " + "\n  ".join(found) for name, found in self.problems.items()
        )


def new_link(client, path: str):
    """Post « Recevoir un nouveau lien » for an old link (its page shows the button only
    when the link expired: the form's token comes from another page)."""
    return submit(client, "/mot-de-passe-oublie", {}, action=f"{path}/nouveau-lien")


def expire(app, path: str) -> None:
    tokens = store_of(app).tokens
    store_of(app).redis.hset(tokens._key(path.rsplit("/", 1)[1]), "expires", "0")


def local(link: str) -> str:
    return link.removeprefix("http://ent-idp.test")


def activation_tour(tour: Tour) -> None:
    app, client, deliver = tour.app, tour.client(), tour.deliver
    account = tour.account("pending", password="Ancien-Chemin-2026!")
    login = account["login"]
    tour.page("home", client.get("/"))
    tour.page("identification", client.get("/activation"))
    tour.page("identification, nothing typed", submit(client, "/activation", {}))
    tour.page("identification, refused", identify(client, "activation", login, "Mauvais-2026"))
    for _ in range(5):
        identify(client, "activation", "quelqu.un", "Mauvais-2026")
    tour.page(
        "identification, too many attempts",
        identify(client, "activation", "quelqu.un", "Mauvais-2026"),
        status=429,
    )
    tour.page("cgu", identify(client, "activation", login, account["password"]))
    tour.page("cgu, box not ticked", submit(client, "/activation/cgu", {}))
    tour.page("addresses", submit(client, "/activation/cgu", {"accept": "y"}))
    tour.page("addresses, nothing typed", submit(client, "/activation/adresses", {}))
    tour.page(
        "addresses, invalid and different",
        submit(client, "/activation/adresses", {"backup_mail": "pas.valide", "confirm": "x@y.z"}),
    )
    tour.page(
        "addresses, the ENT address",
        submit(
            client, "/activation/adresses", {"backup_mail": account["mail"], "confirm": "x@y.z"}
        ),
    )
    fields = {"backup_mail": BACKUP, "confirm": BACKUP, "forward": "y"}
    tour.page("password", submit(client, "/activation/adresses", fields))
    tour.page(
        "password, every rule broken",
        submit(client, "/activation/mot-de-passe", {"password": " emma ", "confirm": "x"}),
    )
    tour.page("password, too long", choose_password(client, "activation", "Aa1!" * 70))
    tour.page(
        "password, used before (the directory refuses)",
        choose_password(client, "activation", account["password"]),
    )
    with store_of(app).locks.hold(account["dn"]):
        tour.page("password, busy", choose_password(client, "activation", NEW_PASSWORD), 409)
    tour.page("account activated", choose_password(client, "activation", NEW_PASSWORD))
    [message] = deliver(1)
    tour.mail("validation mail", message)
    path = local(link_in(message))
    tour.page("validation link", client.get(path))
    tour.page("validation link, new link while valid", new_link(client, path))
    tour.page("address validated", submit(client, path, {}))
    tour.page("validation link, used", client.get(path))
    tour.page("validation link, new link asked with a used one", new_link(client, path))
    tour.page("validation link, unknown", client.get("/validation/inconnu"))
    tour.page("already active", identify(client, "activation", login, NEW_PASSWORD))

    other = tour.account("pending")
    second = tour.client()
    reach_password(client, "activation", other)
    reach_password(second, "activation", other)
    choose_password(client, "activation", NEW_PASSWORD)
    tour.page("conflict", choose_password(second, "activation", NEW_PASSWORD), 409)

    idle = tour.client()
    identify(idle, "activation", tour.account("pending")["login"], "Provisoire-2026")
    redis = store_of(app).redis
    redis.delete(*redis.scan_iter("ent-idp:flow:*"))  # what idle minutes do
    tour.page("session expired", idle.get("/activation/cgu", follow_redirects=True))


def validation_tour(tour: Tour) -> None:
    app, client, deliver = tour.app, tour.client(), tour.deliver
    account = tour.account("pending")
    reach_password(client, "activation", account, backup_mail=BACKUP)
    choose_password(client, "activation", NEW_PASSWORD)
    done = "/activation/compte-active"
    tour.page(
        "account activated, new link sent",
        submit(client, done, {}, action=f"{done}/nouveau-lien"),
    )
    [*_, message] = deliver(2)
    path = local(link_in(message))
    expire(app, path)
    tour.page("validation link, expired", client.get(path))
    tour.page("validation link, new link sent", new_link(client, path))
    [*_, message] = deliver(3)
    tour.mail("validation mail, new link", message)
    tour.page("validation link, replaced", client.get(path))
    tour.page("validation link, new link asked with a replaced one", new_link(client, path))
    for _ in range(3):
        path = local(link_in(deliver()[-1]))
        expire(app, path)
        new_link(client, path)
    path = local(link_in(deliver()[-1]))
    expire(app, path)
    tour.page("validation link, too many new links", new_link(client, path))
    tour.page(
        "account activated, too many new links",
        submit(client, done, {}, action=f"{done}/nouveau-lien"),
    )
    unknown = submit(client, "/mot-de-passe-oublie", {}, action="/validation/x/nouveau-lien")
    tour.page("validation link, new link for an unknown one", unknown)
    store_of(app).tokens.void(TokenPurpose.VALIDATION, account["dn"])  # an admin reset
    tour.page("validation link, voided", client.get(path))
    tour.page("validation link, new link asked with a voided one", new_link(client, path))


def reset_tour(tour: Tour) -> None:
    client, deliver = tour.client(), tour.deliver
    account = tour.account(
        "reset",
        password="Reinit-2026",
        given_name="Bruno",
        surname="Petit",
        backup_mail="bruno.perso@example.net",
        backup_verified=True,
        cgu_version="2024-09",
    )
    tour.page("identification", client.get("/reinitialisation"))
    tour.page(
        "cgu, a new version", identify(client, "reinitialisation", account["login"], "Reinit-2026")
    )
    tour.page("addresses, filled in", submit(client, "/reinitialisation/cgu", {"accept": "y"}))
    fields = {"backup_mail": "bruno.perso@example.net", "confirm": "bruno.perso@example.net"}
    tour.page("password", submit(client, "/reinitialisation/adresses", fields))
    tour.page("account reactivated", choose_password(client, "reinitialisation", NEW_PASSWORD))
    [notice] = deliver(1)
    tour.mail("password changed mail", notice)


def conditions_tour(tour: Tour) -> None:
    client = tour.client()
    account = tour.account("active", password=PASSWORD, cgu_version="2024-09")
    login = account["login"]
    tour.page("identification", client.get("/conditions"))
    tour.page("identification, refused", identify(client, "conditions", login, "Mauvais-2026"))
    tour.page("cgu", identify(client, "conditions", login, PASSWORD))
    tour.page("terms accepted", submit(client, "/conditions/cgu", {"accept": "y"}))
    tour.page("up to date", identify(client, "conditions", login, PASSWORD))


def recovery_tour(tour: Tour) -> None:
    app, client, deliver = tour.app, tour.client(), tour.deliver
    account = tour.account(
        "active",
        password=PASSWORD,
        backup_mail=BACKUP,
        backup_verified=True,
        cgu_version=CGU_VERSION,
    )
    tour.page("ask", client.get("/mot-de-passe-oublie"))
    tour.page("ask, nothing typed", submit(client, "/mot-de-passe-oublie", {}))
    tour.page("asked", submit(client, "/mot-de-passe-oublie", {"login": account["login"]}))
    [message] = deliver(1)
    tour.mail("password reset mail", message)
    path = local(link_in(message, "mot-de-passe-oublie/lien"))
    tour.page("link", client.get(path))
    tour.page("new password", submit(client, path, {}))
    new = "/mot-de-passe-oublie/nouveau"
    tour.page("new password, errors", submit(client, new, {"password": "court", "confirm": "x"}))
    fields = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    with store_of(app).locks.hold(account["dn"]):
        tour.page("new password, busy", submit(client, new, fields), 409)
    tour.page("password changed", submit(client, new, fields))
    [_, notice] = deliver(2)
    tour.mail("password changed mail", notice)
    tour.page("link, used", client.get(path))
    tour.page("link, unknown", client.get("/mot-de-passe-oublie/lien/inconnu"))
    submit(client, "/mot-de-passe-oublie", {"login": account["login"]})
    [*_, message] = deliver(3)
    path = local(link_in(message, "mot-de-passe-oublie/lien"))
    expire(app, path)
    tour.page("link, expired", client.get(path))


def error_tour(tour: Tour) -> None:
    client = tour.client()
    tour.page("404", client.get("/nulle-part"), 404)
    tour.page("405, shown as a 404", client.post("/"), 405)
    tour.page("400, form expired", client.post("/activation", data={"login": "x"}), 400)
    huge = client.post("/activation", data={"login": "x" * 70_000})
    tour.page("413, request too large", huge, 413)
    tour.page("400", client.get("/_test/400"), 400)
    tour.page("403", client.get("/_test/403"), 403)
    tour.page("429", client.get("/_test/429"), 429)
    tour.page("500", client.get("/_test/500"), 500)
    tour.page("503", client.get("/_test/503"), 503)
    unknown_host = client.get("/activation", headers={"Host": "ailleurs.example"})
    assert unknown_host.status_code == 400 and unknown_host.mimetype == "text/plain"
    tour.check("400, unknown host", Reading(tour.language, [unknown_host.get_data(as_text=True)]))


def interrupt_tour(tour: Tour) -> None:
    """What Apereo CAS shows the user, in the language it forwards (its Accept-Language)."""
    client = tour.client()
    credentials = base64.b64encode(f"cas:{INTERRUPT_PASSWORD}".encode()).decode()
    for state, cgu in (("pending", None), ("reset", CGU_VERSION), ("active", "2024-09")):
        account = tour.account(state, cgu_version=cgu)
        answer = client.get(
            "/api/cas/interrupt",
            query_string={"username": account["login"], "service": "http://ent.test/"},
            headers={"Authorization": f"Basic {credentials}"},
        ).get_json()
        assert answer["interrupt"] is True, answer
        shown = Reading(tour.language, [answer["message"], *answer["links"]])
        tour.check(f"CAS interrupt, {state}", shown)


def account_tour(tour: Tour) -> None:
    client, deliver, cas_server = tour.client(), tour.deliver, tour.cas_server
    account = tour.account(
        "active",
        password=PASSWORD,
        backup_mail=BACKUP,
        backup_verified=True,
        cgu_version=CGU_VERSION,
        forward=True,
    )
    tour.page("my account", log_in(client, cas_server, account))
    tour.page(
        "backup address, errors",
        submit(
            client,
            "/compte",
            {"adresse-backup_mail": "pas.valide", "adresse-confirm": "x@y.z"},
            action="/compte/adresse",
        ),
        400,
    )
    tour.page(
        "backup address, the same again",
        submit(
            client,
            "/compte",
            {"adresse-backup_mail": BACKUP, "adresse-confirm": BACKUP},
            action="/compte/adresse",
        ),
        400,
    )
    fields = {
        "adresse-backup_mail": "nouvelle@example.net",
        "adresse-confirm": "nouvelle@example.net",
        "adresse-current": PASSWORD,
    }
    tour.page(
        "backup address, link sent", submit(client, "/compte", fields, action="/compte/adresse")
    )
    messages = {message["To"]: message for message in deliver(2)}
    tour.mail("validation mail, new address", messages["nouvelle@example.net"])
    tour.mail("notice, change of address requested", messages[BACKUP])
    forwarding = "/compte/redirection"
    tour.page(
        "forwarding, no password",
        submit(client, "/compte", {}, action=forwarding),
        400,
    )
    tour.page(
        "forwarding saved",
        submit(client, "/compte", {"redirection-current": PASSWORD}, action=forwarding),
    )
    tour.mail("notice, forwarding stopped", deliver(3)[-1])
    password = "/compte/mot-de-passe"
    tour.page(
        "password, errors",
        submit(client, "/compte", {"mdp-password": "court", "mdp-confirm": "x"}, action=password),
        400,
    )
    fields = {
        "mdp-current": PASSWORD,
        "mdp-password": OTHER_PASSWORD,
        "mdp-confirm": OTHER_PASSWORD,
    }
    with store_of(tour.app).locks.hold(account["dn"]):
        tour.page("password, changed meanwhile", submit(client, "/compte", fields, action=password))
    tour.page("password changed", submit(client, "/compte", fields, action=password))
    tour.mail("password changed mail", deliver(4)[-1])
    submit(client, local(link_in(messages["nouvelle@example.net"])), {})
    tour.mail("notice, backup address replaced", deliver(5)[-1])
    wrong = {**fields, "mdp-current": "Mauvais-2026!"}
    tour.page("password, wrong current", submit(client, "/compte", wrong, action=password), 400)
    for _ in range(5):
        response = submit(client, "/compte", wrong, action=password)
    tour.page("password, too many attempts", response, 400)

    unverified = tour.account(
        "active",
        password=PASSWORD,
        backup_mail="emma.autre@example.net",
        cgu_version=CGU_VERSION,
        forward=True,
    )
    tour.page("my account, forwarding waits", log_in(tour.client(), cas_server, unverified))
    tour.page("login failed", tour.client().get("/compte?ticket=ST-1-forged"))


def log_in(client, cas_server, account, password=PASSWORD):
    service = "http://ent-idp.test/compte"
    ticket = cas_login(cas_server.url, service, account["login"], password)
    return client.get(f"/compte?ticket={ticket}", follow_redirects=True)


TOURS = {
    "activation": activation_tour,
    "mon-compte": account_tour,
    "validation": validation_tour,
    "reinitialisation": reset_tour,
    "conditions": conditions_tour,
    "mot-de-passe-oublie": recovery_tour,
    "erreurs": error_tour,
    "interruption-cas": interrupt_tour,
}


@pytest.fixture
def settings(settings, cas_server):
    """« Mon compte » logs users in through the real CAS."""
    return {**settings, "CAS_URL": cas_server.url}


@pytest.fixture
def error_app(app):
    """The app, with routes that fail the ways the error pages are for."""

    def fail(code: int):
        if code == 500:
            raise RuntimeError("a bug")
        if code == 503:
            raise DirectoryUnavailable("slapd is down")
        abort(code)

    app.add_url_rule("/_test/<int:code>", "test_failure", fail)
    return app


@pytest.mark.parametrize("tour", TOURS)
def test_no_french_on_the_english_pages(error_app, accounts, deliver, cas_server, tour):
    """Pages, their errors and the mails of each area, in English: not a word of French."""
    walk = Tour(error_app, "en", accounts, deliver, cas_server)
    TOURS[tour](walk)
    walk.assert_clean()


@pytest.mark.parametrize("tour", TOURS)
def test_no_english_on_the_french_pages(error_app, accounts, deliver, cas_server, tour):
    """The same in French, the reference wording: not a word of English."""
    walk = Tour(error_app, "fr", accounts, deliver, cas_server)
    TOURS[tour](walk)
    walk.assert_clean()


def test_the_reader_finds_the_other_language(client):
    """The tours above would pass on anything if the reader missed French or English."""
    english = client.get("/activation", headers={"Accept-Language": "en"}).get_data(as_text=True)
    french = client.get("/activation", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert french_in(read_html(english)) == []
    assert english_in(read_html(french)) == []
    assert "msgid 'Continuer'" in french_in(read_html(english.replace(">Continue<", ">Continuer<")))
    assert "msgstr 'Continue'" in english_in(read_html(french.replace(">Continuer<", ">Continue<")))
    assert "character 'é'" in french_in(read_html(english.replace("Username", "Identité")))
    assert "language 'fr', not 'en'" in french_in(read_html(french))


def switch_link(response) -> dict[str, str]:
    """The language switch of a page: its link's attributes and text."""
    html = response.get_data(as_text=True)
    match = re.search(r'<nav class="language"[^>]*>\s*<a ([^>]+)>([^<]+)</a>\s*</nav>', html)
    assert match, "no language switch in the page"
    attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(1)))
    return {**{k: unescape(v) for k, v in attributes.items()}, "text": match.group(2)}


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "fr"),
        ("fr", "fr"),
        ("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr"),
        ("en", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("en-US,en;q=0.9,fr;q=0.8", "en"),
        ("de", "fr"),
        ("de-DE,de;q=0.9,en;q=0.5", "en"),
        ("fr;q=0.4,en;q=0.8", "en"),
        ("*", "fr"),
    ],
)
def test_accept_language_picks_a_supported_language_else_french(client, header, language):
    headers = {"Accept-Language": header} if header else {}
    response = client.get("/activation", headers=headers)
    page = read_html(response.get_data(as_text=True))
    assert page.language == language
    heading = {"fr": "Activer mon compte", "en": "Activate my account"}[language]
    assert heading in page.text
    assert "Accept-Language" in response.headers["Vary"]


@pytest.mark.parametrize(
    "path",
    ["/", "/activation", "/conditions", "/mot-de-passe-oublie", "/validation/x", "/nulle-part"],
)
@pytest.mark.parametrize(
    ("language", "other", "name"), [("fr", "en", "English"), ("en", "fr", "Français")]
)
def test_every_page_links_to_itself_in_the_other_language(client, path, language, other, name):
    """A visible link, named in its own language, marked as such for screen readers."""
    link = switch_link(client.get(path, headers={"Accept-Language": language}))
    href = urlsplit(link.pop("href"))
    assert (href.path, parse_qs(href.query)) == (f"/langue/{other}", {"next": [path]})
    assert link == {"lang": other, "hreflang": other, "text": name}


def test_the_switch_overrides_the_browser_and_keeps_the_flow(client, accounts, deliver):
    """Switching to English on step 2 leaves the pupil on step 2, with what they did so far."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = ACCEPT["fr"]
    account = accounts.create("pending")
    response = identify(client, "activation", account["login"], account["password"])
    assert response.request.path == "/activation/cgu"
    assert "Étape 2 sur 5" in text(response)
    session = client.get_cookie("ent_idp_session").value

    answer = client.get(switch_link(response)["href"])
    assert answer.status_code == 302 and answer.location == "/activation/cgu"
    assert [c.split("=")[0] for c in answer.headers.getlist("Set-Cookie")] == ["ent_idp_lang"]
    page = client.get("/activation/cgu")
    assert read_html(page.get_data(as_text=True)).language == "en"
    assert "Step 2 of 5" in text(page) and "Terms of use" in text(page)
    assert switch_link(page)["text"] == "Français"

    response = submit(client, "/activation/cgu", {"accept": "y"})
    assert response.request.path == "/activation/adresses" and "E-mail addresses" in text(response)
    fields = {"backup_mail": BACKUP, "confirm": BACKUP}
    submit(client, "/activation/adresses", fields)
    response = choose_password(client, "activation", NEW_PASSWORD)
    assert "Account activated!" in text(response)
    assert client.get_cookie("ent_idp_session").value == session
    [message] = deliver(1)
    assert message["Content-Language"] == "en", "the mail follows the choice, not the browser"
    assert message["Subject"] == "Confirm your personal e-mail address"

    back = client.get(switch_link(response)["href"], follow_redirects=True)
    assert "Compte activé !" in text(back) and "Étape 5 sur 5" in text(back)


def test_the_choice_is_a_cookie_scripts_cannot_read(settings, client):
    response = client.get("/langue/en?next=/activation")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("ent_idp_lang=en;")
    for flag in ("HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=31536000"):
        assert flag in cookie
    assert "Secure" not in cookie  # plain http here; https below
    app = create_app({**settings, "PUBLIC_URL": "https://ent-idp.test/"})
    try:
        secure = app.test_client().get("/langue/fr?next=/")
        assert "Secure" in secure.headers["Set-Cookie"]
    finally:
        resources_of(app).close()
    assert client.get("/langue/de?next=/").status_code == 404


def test_a_page_posted_to_a_post_only_address_switches_to_its_form(client, cas_server, accounts):
    """« Mon compte »'s forms post to their own URLs: the switch goes back to « Mon compte »."""
    account = accounts.create(
        "active",
        password=PASSWORD,
        backup_mail=BACKUP,
        backup_verified=True,
        cgu_version=CGU_VERSION,
    )
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = ACCEPT["en"]
    log_in(client, cas_server, account)
    fields = {"adresse-backup_mail": "pas.valide", "adresse-confirm": "x"}
    response = submit(client, "/compte", fields, action="/compte/adresse")
    assert response.status_code == 400
    assert switch_link(response)["href"] == "/langue/fr?next=/compte"
    page = client.get(switch_link(response)["href"], follow_redirects=True)
    assert page.request.path == "/compte" and "Mon compte" in text(page)


def test_without_an_english_cgu_the_french_text_is_shown_marked_french(settings, accounts):
    app = create_app({**settings, "CGU_TEXT_FILE_EN": ""})
    try:
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = ACCEPT["en"]
        account = accounts.create("pending")
        response = identify(client, "activation", account["login"], account["password"])
        page = read_html(response.get_data(as_text=True))
        assert "The terms of use are only available in French; here is the French text." in (
            page.text
        )
        cgu = [text for lang, text in page.other_language if lang == "fr" and "ARTICLE" in text]
        assert cgu and cgu == resources_of(app).settings.cgu.texts["fr"][1:]
        assert french_in(page, (account["login"], resources_of(app).settings.ent_name)) == []
    finally:
        resources_of(app).close()


SUBJECTS = {
    "validation": {
        "fr": "Validez votre adresse électronique personnelle",
        "en": "Confirm your personal e-mail address",
    },
    "password changed": {
        "fr": "Le mot de passe de votre compte ENT a été changé",
        "en": "The password of your ENT account has been changed",
    },
    "password reset": {
        "fr": "Choisir un nouveau mot de passe pour votre compte ENT",
        "en": "Choose a new password for your ENT account",
    },
}
WHEN = {
    "fr": r"\(\d\d/\d\d/\d{4} à \d\d:\d\d UTC\)",
    "en": r"\(\d{1,2} (January|February|March|April|May|June|July|August|September|October|"
    r"November|December) \d{4} at \d\d:\d\d UTC\)",
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_mails_arrive_in_the_language_the_user_used(client, accounts, deliver, language):
    """Activation, the notice of a password change, and « Mot de passe oublié », whose mail
    the worker renders later, off the request: each in the language of the user's request."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = ACCEPT[language]
    check = french_in if language == "en" else english_in
    pending = accounts.create("pending")
    reach_password(client, "activation", pending, backup_mail="nouvelle@example.net")
    choose_password(client, "activation", NEW_PASSWORD)
    account = accounts.create("reset", backup_mail=BACKUP, backup_verified=True)
    reach_password(client, "reinitialisation", account, backup_mail=BACKUP)
    choose_password(client, "reinitialisation", NEW_PASSWORD)
    submit(client, "/mot-de-passe-oublie", {"login": account["login"]})
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = ACCEPT["fr" if language == "en" else "en"]
    messages = deliver(3)  # the worker runs with no request, in no language of its own
    by_subject = {m["Subject"]: m for m in messages}
    assert set(by_subject) == {subjects[language] for subjects in SUBJECTS.values()}
    allowed = (account["login"], pending["login"], "ENT de test", "example.net")
    for message in messages:
        assert message["Content-Language"] == language
        for part, reading in read_mail(message).items():
            assert check(reading, allowed) == [], (message["Subject"], part)
    notice = by_subject[SUBJECTS["password changed"][language]]
    html = notice.get_body(preferencelist=("html",)).get_content()
    assert re.search(WHEN[language], html), html


def test_the_remembered_choice_is_werkzeugs_and_hostile_headers_are_not_kept():
    """The language an Accept-Language header picks is remembered (parsing it is most of
    the cost of choosing), the same as werkzeug's match each time; a header longer than
    any browser's is matched afresh and not kept, so junk headers cannot fill memory."""
    from werkzeug.datastructures import LanguageAccept
    from werkzeug.http import parse_accept_header

    from ent_idp.languages import DEFAULT, LANGUAGES
    from ent_idp.web import i18n

    headers = ["", "fr", "en-GB,en;q=0.9", "de-DE,de;q=0.9,en;q=0.5", "fr;q=0.4,en;q=0.8",
               "*", "en;q=0", "EN", "x" * 10, "é,ü;q=0.5,en"]  # fmt: skip
    for header in headers * 2:
        expected = parse_accept_header(header, LanguageAccept).best_match(LANGUAGES, DEFAULT)
        assert i18n.best_language(header) == expected
    before = i18n._best_match.cache_info().currsize
    long = "en;q=0.1," * 40 + "fr"
    assert len(long) > i18n.REMEMBERED_HEADER
    assert i18n.best_language(long) == "fr"
    assert i18n._best_match.cache_info().currsize == before
