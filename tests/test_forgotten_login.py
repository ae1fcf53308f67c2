"""« Identifiant oublié »: names and a verified backup address in, the login mailed there when
exactly one active account matches; the same page, status and time whatever matched.
Against the real app, slapd, redis-server and SMTP sink (the mail worker's own code)."""

from __future__ import annotations

import json
import logging
import random
import secrets
import statistics
import time
import unicodedata

import pytest

from ent_idp import create_app
from ent_idp.core.resources import resources
from ent_idp.domain import forgotten_login

from .conftest import resources_of, store_of
from .language import english_in, french_in, read_html, read_mail
from .pages import csrf_token, submit, text

pytestmark = pytest.mark.security

PASSWORD = "Deja-Actif-2026!"
BACKUP = "eloise.famille@example.net"
SAME_PAGE = (
    "Si ces informations correspondent à un compte activé dont c'est l'adresse électronique "
    "de secours validée, un message avec votre identifiant vient d'y être envoyé"
)


def person(accounts, state="active", *, backup_mail=BACKUP, verified=True, **names):
    names = {"given_name": "Éloïse", "surname": "Le Gall", **names}
    names.setdefault("login", f"eleve.{secrets.token_hex(4)}")  # nothing of the names in it
    return accounts.create(
        state,
        password=PASSWORD,
        backup_mail=backup_mail,
        backup_verified=verified,
        cgu_version="2026-09",
        **names,
    )


def ask(client, given_name="Éloïse", surname="Le Gall", backup_mail=BACKUP, **more):
    fields = {"given_name": given_name, "surname": surname, "backup_mail": backup_mail, **more}
    return submit(client, "/identifiant-oublie", fields)


def waiting(app) -> int:
    """Requests queued for the mail worker."""
    return store_of(app).redis.llen(store_of(app).forgotten_login_requests.key)


def audit_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "ent_idp.audit"]


def test_one_match_mails_the_login_to_its_verified_address_only(client, accounts, deliver):
    eloise = person(accounts)
    person(accounts, given_name="Lucas")  # her brother, the same family address
    response = ask(client)
    assert response.status_code == 200 and SAME_PAGE in text(response)
    [message] = deliver(1)
    assert message["To"] == BACKUP
    assert message["Cc"] is None and message["Bcc"] is None
    assert message["Subject"] == "Votre identifiant ENT"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert f"Votre identifiant : {eloise['login']}" in body
    assert "http://cas.test/cas/login?service=" in body, "« Accès ENT »"
    assert "http://ent-idp.test/mot-de-passe-oublie" in body, "links from public_url"
    assert PASSWORD not in body


@pytest.mark.parametrize(
    ("language", "subject", "says"),
    [
        ("fr", "Votre identifiant ENT", "Votre identifiant : {}"),
        ("en", "Your ENT username", "Your username: {}"),
    ],
)
def test_pages_and_mail_in_the_users_language(
    app, client, accounts, deliver, language, subject, says
):
    """The mail is written by the mail worker, later: in the language the user asked in."""
    eloise = person(accounts)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = f"{language};q=1"
    ent_name = resources_of(app).settings.ent_name
    allowed = (eloise["login"], "Éloïse", "Le Gall", BACKUP, "example.net", ent_name)
    other_language_in = french_in if language == "en" else english_in
    pages = {
        "ask": client.get("/identifiant-oublie"),
        "ask, nothing typed": submit(client, "/identifiant-oublie", {}),
        "asked": ask(client),
    }
    for name, response in pages.items():
        assert other_language_in(read_html(response.get_data(as_text=True)), allowed) == [], name
    [message] = deliver(1)
    assert (message["Content-Language"], message["Subject"]) == (language, subject)
    assert says.format(eloise["login"]) in message.get_body(("plain",)).get_content()
    for part, reading in read_mail(message).items():
        assert other_language_in(reading, allowed) == [], part


@pytest.mark.parametrize(
    "kind", ["one match", "no match", "two matches", "unverified address", "inactive account"]
)
def test_the_answer_is_the_same_whatever_matched(client, accounts, deliver, kind):
    """The page, its status and what it says must not tell whether such a person has an
    account here, nor whether that address is theirs: only the owner of the verified
    address learns something, by mail."""
    if kind == "one match":
        person(accounts)
    elif kind == "two matches":  # homonyms sharing an address: neither is told
        person(accounts)
        person(accounts)
    elif kind == "unverified address":
        person(accounts, verified=False)
    elif kind == "inactive account":
        person(accounts, "pending")
        person(accounts, "blocked")
    response = ask(client)
    assert response.status_code == 200
    assert response.request.path == "/identifiant-oublie"
    reference = text(ask(client.application.test_client(), given_name="Personne"))
    assert text(response) == reference
    sent = deliver()
    assert len(sent) == (1 if kind == "one match" else 0), [m["To"] for m in sent]


def test_only_the_address_typed_and_verified_gets_the_login(client, accounts, deliver):
    """The login goes to the account's verified address, never to one the user types: a
    typed address that is not the account's (another person's, an attacker's) gets nothing."""
    person(accounts)
    for address in ("attaquant@example.org", "eloise.famille@example.ne"):
        ask(client, backup_mail=address)
    assert deliver() == []


def test_the_request_makes_no_directory_call(client, accounts, stack, deliver):
    """Timing cannot tell anything: the request only queues, the mail worker searches."""
    person(accounts)
    stack.slapd.stop()
    try:
        response = ask(client)
    finally:
        stack.slapd.start()
    assert response.status_code == 200 and SAME_PAGE in text(response)
    [message] = deliver(1)
    assert message["To"] == BACKUP


@pytest.mark.parametrize(
    ("given_name", "surname", "found"),
    [
        ("ÉLOÏSE", "LE GALL", True),  # case: caseIgnoreMatch folds it
        (unicodedata.normalize("NFD", "Éloïse"), "Le Gall", True),  # a Mac's keyboard
        ("Éloïse", "Le   Gall", True),  # runs of spaces count as one
        ("Eloise", "Le Gall", False),  # accents count: another name for the directory
        ("Éloïse", "Le-Gall", False),  # so do hyphens
        ("Éloïse", "LeGall", False),
        ("Élo*", "Le Gall", False),  # no wildcard: the filter is escaped
        ("*", "*", False),
    ],
)
def test_names_match_as_the_directory_matches_them(
    client, accounts, deliver, given_name, surname, found
):
    """The directory's own equality rule decides (caseIgnoreMatch for givenName and sn,
    measured on slapd 2.5): case, Unicode normal forms and runs of spaces do not count,
    accents and hyphens do. A rule of our own could only disagree with the directory's
    indexes; the form asks for the names « accents compris »."""
    person(accounts)
    ask(client, given_name=given_name, surname=surname, backup_mail="Eloise.Famille@EXAMPLE.net")
    assert len(deliver()) == (1 if found else 0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Saisissez votre prénom."),
        ({"given_name": "Éloïse", "surname": "   "}, "Saisissez votre nom."),
        ({"given_name": "É" * 129}, "Ce prénom est trop long."),
        ({"backup_mail": "pas.une.adresse"}, "Cette adresse n'est pas valide"),
        ({"backup_mail": "éloïse@example.net"}, "caractères accentués ou spéciaux avant le @"),
    ],
)
def test_bad_input_is_told_and_queues_nothing(app, client, fields, message):
    response = submit(client, "/identifiant-oublie", fields)
    assert response.status_code == 200
    assert message in text(response) and SAME_PAGE not in text(response)
    assert waiting(app) == 0


def test_an_international_domain_matches_its_stored_form(client, accounts, deliver):
    """Backup addresses are stored with their domain as an A-label: so is the one typed."""
    person(accounts, backup_mail="eloise@xn--exmple-cua.fr")
    ask(client, backup_mail="eloise@exämple.fr")
    [message] = deliver(1)
    assert message["To"] == "eloise@xn--exmple-cua.fr"


def test_requests_are_throttled_per_client_address(app, client, accounts, deliver, caplog):
    """One client cannot try names against addresses, nor flood mailboxes, at will: past
    30 requests an hour its requests are dropped (the page stays the same)."""
    caplog.set_level(logging.INFO, logger="ent_idp.audit")
    client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    for n in range(30):
        ask(client, backup_mail=f"quelqu.un.{n}@example.net")
    person(accounts)
    response = ask(client)
    assert SAME_PAGE in text(response)
    assert audit_lines(caplog)[-1]["outcome"] == "held-back"
    assert deliver() == []
    client.environ_base["REMOTE_ADDR"] = "198.51.100.8"  # another client is not held back
    ask(client)
    assert len(deliver()) == 1


def test_requests_are_throttled_per_typed_address(client, accounts, deliver):
    """Requests naming one address, from however many clients, are capped (5 an hour), and
    the mails to one account too (3 an hour): a known address cannot be flooded."""
    person(accounts)
    for n in range(8):
        client.environ_base["REMOTE_ADDR"] = f"203.0.113.{n + 1}"
        response = ask(client)
        assert SAME_PAGE in text(response)
    assert len(deliver()) == 3


def test_the_audit_never_shows_the_names_typed(client, accounts, deliver, caplog):
    """The audit log says who asked, what happened and to which account, but names and
    addresses typed by anyone (often someone else's) are personal data: a keyed hash,
    the same for every spelling the directory takes alike, lets lines be grouped."""
    caplog.set_level(logging.INFO, logger="ent_idp.audit")
    eloise = person(accounts)
    ask(client)
    ask(client, given_name="ÉLOÏSE", surname="LE GALL", backup_mail="ELOISE.famille@example.net")
    ask(client, given_name="Personne", surname="Inconnue", backup_mail="qui@example.org")
    deliver()
    lines = audit_lines(caplog)
    raw = "\n".join(r.getMessage() for r in caplog.records if r.name == "ent_idp.audit")
    for typed in ("Éloïse", "ÉLOÏSE", "Gall", "GALL", "Personne", "Inconnue", "eloise", "qui@"):
        assert typed.lower() not in raw.lower(), typed
    requests = [line for line in lines if line["event"] == "forgotten-login-request"]
    assert [line["outcome"] for line in requests] == ["queued"] * 3
    assert requests[0]["names"] == requests[1]["names"] != requests[2]["names"]
    assert requests[0]["address"] == requests[1]["address"] != requests[2]["address"]
    assert all(line["client"] == "127.0.0.1" for line in requests)
    mails = [line for line in lines if line["event"] == "forgotten-login-mail"]
    assert [(line["outcome"], line["login"]) for line in mails] == [
        ("sent", eloise["login"]),
        ("sent", eloise["login"]),
        ("no-match", ""),
    ]


def test_homonyms_are_audited_as_ambiguous(client, accounts, deliver, caplog):
    caplog.set_level(logging.INFO, logger="ent_idp.audit")
    person(accounts)
    person(accounts)
    ask(client)
    assert deliver() == []
    [line] = [line for line in audit_lines(caplog) if line["event"] == "forgotten-login-mail"]
    assert (line["outcome"], line["login"]) == ("ambiguous", "")


@pytest.fixture
def school_app(settings):
    """A directory that names each account's school (here inetOrgPerson's ``o``)."""
    app = create_app({**settings, "LDAP_SCHOOL_ATTRIBUTE": "o"})
    yield app
    resources_of(app).close()


def test_where_the_directory_names_schools_the_school_must_match(
    school_app, accounts, admin, deliver
):
    """The hook for directories that know each pupil's school ([ldap] school_attribute):
    the form asks for it, and it must match too (by the attribute's equality rule)."""
    eloise = person(accounts)
    admin.modify(eloise["dn"], {"o": [("MODIFY_REPLACE", ["Lycée Descartes"])]})
    client = school_app.test_client()
    assert "Établissement" in text(client.get("/identifiant-oublie"))
    assert "Saisissez votre établissement." in text(ask(client))
    ask(client, school="Lycée Balzac")
    ask(client, school="lycée descartes")
    with school_app.app_context():  # the mail worker, with the same settings as the app
        assert forgotten_login.process_requests() == 2
    [message] = deliver(1)
    assert eloise["login"] in message.get_body(preferencelist=("plain",)).get_content()


def test_without_a_school_attribute_no_school_is_asked(client):
    assert "Établissement" not in text(client.get("/identifiant-oublie"))


@pytest.mark.parametrize(
    ("path", "link"),
    [
        ("/activation", "Identifiant oublié"),
        ("/reinitialisation", "Identifiant oublié"),
        ("/conditions", "Identifiant oublié ?"),
        ("/mot-de-passe-oublie", "Identifiant oublié ?"),
    ],
)
def test_the_identification_pages_link_to_it(client, path, link):
    html = client.get(path).get_data(as_text=True)
    assert f'href="/identifiant-oublie">{link}</a>' in html


def test_the_cas_login_page_links_to_it(cas_server):
    import requests as http

    page = http.get(f"{cas_server.url}login", timeout=10).text
    assert 'id="ent-idp-identifiant-oublie"' in page
    assert f'href="{cas_server.ent_idp_url}identifiant-oublie"' in page


ROUNDS = 96  # samples of each kind, interleaved
GROUP = 4  # rounds per set of accounts: within the per-address limit (5 an hour)
KINDS = ("one match", "no match", "two matches", "unverified address", "inactive account")


def test_the_answer_takes_the_same_time_whatever_matched(app, accounts):
    """Were the directory searched (or the mail written) while the user waits, the time of
    the answer would tell a match from none. Each round times one request of each kind,
    in a random order, from its own client address and on accounts of its own (so that no
    limit turns a request away), and the cost of the search itself; rounds are compared
    pair by pair, so the drifting load of a shared machine cancels out. A request that
    searched would differ by a whole search; the tolerance is half of one."""
    groups = [
        {
            "one match": person(accounts, backup_mail=f"un.{n}@example.net"),
            "two matches": [
                person(accounts, backup_mail=f"deux.{n}@example.net") for _ in range(2)
            ],
            "unverified address": person(
                accounts, backup_mail=f"nv.{n}@example.net", verified=False
            ),
            "inactive account": person(accounts, "pending", backup_mail=f"inactif.{n}@example.net"),
        }
        for n in range(ROUNDS // GROUP)
    ]
    address = {
        "one match": "un.{}@example.net",
        "no match": "personne.{}@example.net",
        "two matches": "deux.{}@example.net",
        "unverified address": "nv.{}@example.net",
        "inactive account": "inactif.{}@example.net",
    }
    assert len(groups) * GROUP == ROUNDS
    client = app.test_client()
    token = csrf_token(client.get("/identifiant-oublie").get_data(as_text=True))
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    searches: list[float] = []
    for n in range(ROUNDS):
        for i, kind in enumerate(random.sample(KINDS, len(KINDS))):
            data = {
                "csrf_token": token,
                "given_name": "Éloïse",
                "surname": "Le Gall",
                "backup_mail": address[kind].format(n // GROUP),
            }
            environ = {"REMOTE_ADDR": f"10.{n}.{i}.1"}
            began = time.perf_counter()
            response = client.post("/identifiant-oublie", data=data, environ_base=environ)
            times[kind].append(time.perf_counter() - began)
            assert response.status_code == 200 and SAME_PAGE in text(response), kind
        with app.app_context():
            directory = resources().directory
            began = time.perf_counter()
            directory.find_by_identity("Éloïse", "Le Gall", address["one match"].format(n // GROUP))
            searches.append(time.perf_counter() - began)
    cost = statistics.median(searches)
    baseline = times["no match"]
    report = [f"search {cost * 1000:.2f} ms, tolerance {cost * 500:.2f} ms"]
    gaps = {}
    for kind, spent in times.items():
        gaps[kind] = [mine - theirs for mine, theirs in zip(spent, baseline, strict=True)]
        report.append(
            f"{kind}: median {statistics.median(spent) * 1000:.2f} ms, against no match "
            f"{statistics.median(gaps[kind]) * 1000:+.2f} ms"
        )
    print("\n".join(report))
    assert waiting(app) == ROUNDS * len(KINDS), "every request queued, none held back"
    for kind, gap in gaps.items():
        assert abs(statistics.median(gap)) < cost / 2, (kind, report)
