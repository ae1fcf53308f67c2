"""What backup addresses ent-idp accepts, at every form that takes one, end to end.

The rule: an ASCII part before the @ (what every mail server carries), a domain that may be
international, stored and mailed in its ASCII (IDNA A-label) form. The directory's
attribute is IA5, the queue and SMTP are ASCII: every layer takes what the form accepts,
so an accepted address always ends in a delivered mail and a validated address.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wtforms.validators import ValidationError

from ent_idp import create_app
from ent_idp.mail_records import check_message
from ent_idp.web.forms import deliverable_address

from .cas_client import cas_login
from .conftest import CGU_VERSION, resources_of, store_of
from .pages import go_through, identify, link_in, submit, text

pytestmark = pytest.mark.security

ACCENTED = "élève.lucas@example.net"
REFUSED_ACCENTS = (
    "Cette adresse contient des caractères accentués ou spéciaux avant le @, que la "
    "messagerie ne peut pas acheminer : utilisez une adresse sans accent."
)
PASSWORD = "Deja-Actif-2026!"


def nothing_queued(app) -> bool:
    with app.app_context():
        return store_of(app).mail_queue.pending() == 0


def at_mails(client, accounts) -> dict:
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    submit(client, "/activation/cgu", {"accept": "y"})
    return account


def test_an_accented_address_is_refused_at_activation_and_the_user_goes_on(
    app, client, accounts, deliver
):
    """« élève.lucas@… » passed the form, then the directory refused it at the last step:
    the pupil could never activate. Now the form says why at once, and with an address
    without accents the activation finishes, nothing lost on the way."""
    account = at_mails(client, accounts)
    response = submit(
        client, "/activation/adresses", {"backup_mail": ACCENTED, "confirm": ACCENTED}
    )
    assert response.request.path == "/activation/adresses"
    assert REFUSED_ACCENTS in text(response)
    assert client.get("/activation/mot-de-passe").status_code == 302, "the step is not done"
    assert "entidpbackupmail" not in accounts.read(account["dn"])
    assert nothing_queued(app)

    plain = "eleve.lucas@example.net"
    submit(client, "/activation/adresses", {"backup_mail": plain, "confirm": plain})
    password = "Tr0mbone-Vert-Soleil!"
    response = submit(
        client, "/activation/mot-de-passe", {"password": password, "confirm": password}
    )
    assert response.request.path == "/activation/compte-active"
    assert accounts.read(account["dn"])["entidpbackupmail"] == [plain.encode()]
    [message] = deliver(1)
    assert message["To"] == plain


@pytest.fixture
def with_cas(settings, cas_server):
    return {**settings, "CAS_URL": cas_server.url}


@pytest.fixture
def account_app(with_cas, stack):
    app = create_app(with_cas)
    store_of(app).redis.flushdb()
    stack.smtp.clear()
    yield app
    resources_of(app).close()


def log_in(client, cas_server, account) -> None:
    service = parse_qs(urlsplit(client.get("/compte").location).query)["service"][0]
    ticket = cas_login(cas_server.url, service, account["login"], PASSWORD)
    client.get(f"/compte?ticket={ticket}", follow_redirects=True)


def test_an_accented_address_is_refused_at_mon_compte(account_app, cas_server, accounts):
    """« Mon compte » queued it without a directory write, and the mail worker died on it.
    Now it is refused with the same clear message; nothing is queued or written."""
    account = accounts.create(
        "active",
        password=PASSWORD,
        backup_mail="emma.perso@example.net",
        backup_verified=True,
        cgu_version=CGU_VERSION,
    )
    client = account_app.test_client()
    log_in(client, cas_server, account)
    before = accounts.read(account["dn"])
    fields = {"adresse-backup_mail": ACCENTED, "adresse-confirm": ACCENTED}
    response = submit(client, "/compte", fields, action="/compte/adresse")
    assert response.status_code == 400
    assert REFUSED_ACCENTS in text(response)
    assert "lien envoyé" not in text(response)
    assert accounts.read(account["dn"]) == before
    assert nothing_queued(account_app)
    with account_app.app_context():
        assert not store_of(account_app).redis.keys("*pending-backup*")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("lucas@exämple.fr", "lucas@xn--exmple-cua.fr"),
        ("Lucas.Martin@EXAMPLE.net", "Lucas.Martin@example.net"),
        ("o'neil+ent@example.net", "o'neil+ent@example.net"),
        ("a!#$%&*/=?^_`{|}~-@example.net", "a!#$%&*/=?^_`{|}~-@example.net"),
        ("x" * 64 + "@example.net", "x" * 64 + "@example.net"),
        ("  lucas@example.net  ", "lucas@example.net"),
    ],
    ids=["idn-domain", "case", "apostrophe-plus", "every-atext", "longest-local", "spaces"],
)
def test_every_accepted_address_is_stored_mailed_and_validated(
    client, accounts, deliver, typed, stored
):
    """Whatever the form accepts, the directory stores, the mail server takes and the link
    validates: no accepted address can end in « Service momentanément indisponible »."""
    account = accounts.create("pending")
    response = go_through(client, "activation", account, backup_mail=typed, forward=False)
    assert response.request.path == "/activation/compte-active"
    assert accounts.read(account["dn"])["entidpbackupmail"] == [stored.encode()]
    [message] = deliver(1)
    assert message["To"] == stored
    response = submit(client, link_in(message).removeprefix("http://ent-idp.test"), {})
    assert "Adresse validée" in text(response)
    assert "entidpbackupmailverifiedtime" in accounts.read(account["dn"])


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (ACCENTED, REFUSED_ACCENTS),
        ("zoë@example.net", REFUSED_ACCENTS),
        ("用户@example.net", REFUSED_ACCENTS),
        ('"lucas martin"@example.net', "Cette adresse n'est pas valide"),
        ("lucas@[127.0.0.1]", "Cette adresse n'est pas valide"),
        ("lucas\x00@example.net", "Cette adresse n'est pas valide"),
        ("lucas@exa mple.net", "Cette adresse n'est pas valide"),
        ("Lucas <lucas@example.net>", "Cette adresse n'est pas valide"),
    ],
    ids=["accented", "diaeresis", "cjk", "quoted", "ip-literal", "nul", "space", "display-name"],
)
def test_an_address_no_layer_can_carry_is_refused_at_the_form(
    app, client, accounts, typed, message
):
    account = at_mails(client, accounts)
    response = submit(client, "/activation/adresses", {"backup_mail": typed, "confirm": typed})
    assert response.request.path == "/activation/adresses"
    assert message in text(response)
    assert "entidpbackupmail" not in accounts.read(account["dn"])
    assert nothing_queued(app)


@given(st.one_of(st.emails(), st.text(max_size=80)))
def test_what_the_form_accepts_the_queue_and_the_directory_accept(typed):
    """The form and the layers behind it agree on every input: an accepted address is
    plain ASCII (IA5 for the directory, no SMTPUTF8 for the mail server), at most 254
    characters, and the mail queue takes it."""
    try:
        address = deliverable_address(typed.strip())
    except ValidationError:
        return
    assert address.isascii() and address.isprintable() and len(address) <= 254
    check_message({"to": address, "subject": "s", "text": "t", "html": "h"})
