"""Federated users (ÉduConnect) on the ESCO directory, through the real CAS.

They have no provisional password: CAS authenticates them (in the tests, the devstack CAS's
stand-in for ÉduConnect) and ent-idp starts their activation from the ticket it validates
for ``/activation-federee``. The CAS gives tickets to accounts not active yet for that
service only; ent-idp takes only accounts of a federated profile there.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qs, quote, urlsplit

import ldap3
import pytest

from devstack import esco_stack

from .cas_client import cas_login
from .conftest import INTERRUPT_PASSWORD, PUBLIC_URL
from .esco_support import EscoAccounts, esco_settings
from .pages import identify, submit, text

pytestmark = pytest.mark.security

HERE = f"{PUBLIC_URL}activation-federee"
SERVICE = "http://ent.test/portail/"
OUR_VALUE = re.compile(rf"^{esco_stack.SERVICE_ID};{esco_stack.CGU_VERSION};\d{{14}}Z$")


@pytest.fixture
def settings(settings, esco_slapd, esco_cas):
    return esco_settings(settings, esco_slapd, esco_cas)


@pytest.fixture
def esco(esco_slapd):
    factory = EscoAccounts(esco_slapd)
    yield factory
    factory.remove_all()


def through_cas(client, esco_cas, account, password=None):
    """/activation-federee → CAS login → back with a ticket: the page ent-idp answers."""
    response = client.get(f"/activation-federee?service={quote(SERVICE, safe='')}")
    assert response.location == f"{esco_cas.url}login?service={quote(HERE, safe='')}"
    secret = password or account.get("federation_password") or account["password"]
    ticket = cas_login(esco_cas.url, HERE, account["login"], secret)
    return client.get(f"/activation-federee?ticket={ticket}", follow_redirects=True)


def test_a_federated_pupil_activates_through_cas_without_any_password_step(
    client, esco_cas, esco, deliver
):
    """The ticket stands for the password they do not have: the CGU, the backup address,
    one guarded Modify (state and charter), « Compte activé », back to the service."""
    pupil = esco.create("federated")
    response = through_cas(client, esco_cas, pupil)
    assert response.request.path == "/activation/cgu"
    assert "Étape 1 sur 3" in text(response)
    response = submit(client, "/activation/cgu", {"accept": "y"})
    assert response.request.path == "/activation/adresses" and "Étape 2 sur 3" in text(response)
    mail = "hugo.perso@example.net"
    response = submit(client, "/activation/adresses", {"backup_mail": mail, "confirm": mail})
    assert response.request.path == "/activation/compte-active"
    page = text(response)
    assert "Compte activé" in page and "Étape 3 sur 3" in page
    assert "connectez-vous avec ÉduConnect" in page
    assert f"{esco_cas.url}login?service={quote(SERVICE, safe='')}" in response.get_data(
        as_text=True
    )
    entry = esco.read(pupil["dn"])
    assert entry["escopersonetatcompte"] == [b"VALIDE"]
    [value] = entry["escopersonvalidationcharteservice"]
    assert OUR_VALUE.match(value.decode())
    assert "userpassword" not in entry and "escodatemodificationpassword" not in entry
    assert entry["entidpbackupmail"] == [mail.encode()]
    [message] = deliver(1)
    assert message["To"] == mail
    # Now active, CAS lets them into the ENT's services.
    assert cas_login(esco_cas.url, SERVICE, pupil["login"], pupil["federation_password"])


def test_cas_gives_a_pending_federated_account_no_ticket_for_other_services(esco_cas, esco):
    """Only the federated activation takes accounts not active yet: CAS must not let a
    pending account into the ENT's services."""
    pupil = esco.create("federated")
    with pytest.raises(AssertionError):
        cas_login(esco_cas.url, SERVICE, pupil["login"], pupil["federation_password"])


def test_a_local_account_cannot_activate_through_cas(client, esco_cas, esco):
    """A pupil with a provisional password gets a ticket for /activation-federee (CAS takes
    any state there), but ent-idp starts nothing: the provisional password is not a
    password to keep, and the steps must choose one."""
    pupil = esco.create("pupil")
    response = through_cas(client, esco_cas, pupil)
    assert response.status_code == 403
    assert "Rien n'a été modifié" in text(response)
    assert esco.read(pupil["dn"])["escopersonetatcompte"] == [b"INVALIDE"]


def test_a_forged_or_replayed_ticket_starts_nothing(client, esco_cas, esco):
    """Only CAS vouches for a federated user: a made-up ticket, or one used already, or
    one given for another service, must not open their activation."""
    pupil = esco.create("federated")
    client.get("/activation-federee")
    assert client.get("/activation-federee?ticket=ST-1-forged").status_code == 403
    ticket = cas_login(esco_cas.url, HERE, pupil["login"], pupil["federation_password"])
    assert client.get(f"/activation-federee?ticket={ticket}").status_code == 302
    assert client.get(f"/activation-federee?ticket={ticket}").status_code == 403, "replayed"
    assert esco.read(pupil["dn"])["escopersonetatcompte"] == [b"INVALIDE"]


def test_a_federated_account_has_no_password_to_try_at_identification(client, esco):
    """Whatever is typed, a federated account is never bound here (it has no password):
    the generic answer, as for an unknown login."""
    pupil = esco.create("federated")
    response = identify(client, "activation", pupil["login"], pupil["federation_password"])
    assert "Identifiant ou mot de passe provisoire incorrect" in text(response)
    assert "Continuer avec ÉduConnect" in text(response), "the way in is shown to everyone"


def test_the_interrupt_sends_a_pending_federated_user_through_cas(client, esco):
    pupil = esco.create("federated")
    token = base64.b64encode(f"cas:{INTERRUPT_PASSWORD}".encode()).decode()
    answer = client.get(
        "/api/cas/interrupt",
        query_string={"username": pupil["login"], "service": SERVICE},
        headers={"Authorization": f"Basic {token}", "Accept-Language": "fr"},
    ).get_json()
    assert answer["interrupt"] and answer["block"]
    [link] = answer["links"].values()
    assert link.startswith(f"{HERE}?")
    assert parse_qs(urlsplit(link).query) == {"service": [SERVICE]}
    assert "acceptez les Conditions" in answer["message"]


def log_in_at_mon_compte(client, esco_cas, account):
    response = client.get("/compte")
    service = parse_qs(urlsplit(response.location).query)["service"][0]
    ticket = cas_login(esco_cas.url, service, account["login"], account["federation_password"])
    return client.get(f"/compte?ticket={ticket}", follow_redirects=True)


def test_mon_compte_sends_a_federated_account_to_complete_through_cas(client, esco_cas, esco):
    """Reset by the school while logged in: « Mon compte » sends them to the activation
    through CAS, not to a form asking for a provisional password they never had."""
    charter = f"{esco_stack.SERVICE_ID};{esco_stack.CGU_VERSION};20260902101500Z"
    pupil = esco.create("federated", state="VALIDE", charters=(charter,))
    assert "Mon compte" in text(log_in_at_mon_compte(client, esco_cas, pupil))
    esco.modify(pupil["dn"], {"ESCOPersonEtatCompte": [(ldap3.MODIFY_REPLACE, ["INVALIDE"])]})
    response = client.get("/compte")
    assert urlsplit(response.location).path == "/activation-federee"
    assert parse_qs(urlsplit(response.location).query) == {"service": [f"{PUBLIC_URL}compte"]}


def test_mot_de_passe_oublie_points_to_educonnect_and_sends_nothing(client, esco, deliver):
    """A federated user's password is ÉduConnect's: no link that would give them a second
    password here, and the page says where to go."""
    pupil = esco.create(
        "federated", state="VALIDE", backup_mail="hugo.perso@example.net", verified=True
    )
    response = submit(client, "/mot-de-passe-oublie", {"login": pupil["login"]})
    page = text(response)
    assert "Gérer mon mot de passe sur ÉduConnect" in page
    assert 'href="https://educonnect.education.gouv.fr/"' in response.get_data(as_text=True)
    assert deliver() == []


def test_mon_compte_of_a_federated_user_has_no_password_form(client, esco_cas, esco):
    charter = f"{esco_stack.SERVICE_ID};{esco_stack.CGU_VERSION};20260902101500Z"
    pupil = esco.create("federated", state="VALIDE", charters=(charter,))
    page = text(log_in_at_mon_compte(client, esco_cas, pupil))
    assert "Mon compte" in page and pupil["login"] in page
    assert "Gérer mon mot de passe sur ÉduConnect" in page
    assert "Mot de passe actuel" not in page
