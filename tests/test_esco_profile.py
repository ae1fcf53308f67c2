"""The "esco" attribute profile, against a slapd loaded with those attribute types.

The regional ENTs keep the login in ENTPersonLogin, the state in ESCOPersonEtatCompte
(INVALIDE / VALIDE / BLOQUE…) and the accepted charter in ESCOPersonValidationCharteService;
a deployment selects ``[ldap] profile = "esco"`` instead of migrating.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest

from devstack.ports import free_port
from devstack.slapd import Slapd
from ent_idp import create_app

from .conftest import CGU_VERSION
from .pages import go_through, identify, text

HERE = Path(__file__).resolve().parent
ESCO_WRITE_ACL = (
    '{2}to dn.subtree="ou=people,dc=ent,dc=test" '
    "attrs=ESCOPersonEtatCompte,ESCOPersonValidationCharteService "
    'by dn.exact="cn=ent-idp,ou=services,dc=ent,dc=test" write by self read by * none'
)


@pytest.fixture(scope="module")
def esco_slapd(tmp_path_factory) -> Iterator[Slapd]:
    slapd = Slapd(
        tmp_path_factory.mktemp("esco"),
        free_port(),
        service_password="esco-service-2026",
        extra_schemas=(HERE / "esco" / "esco-standin.ldif",),
    )
    slapd.start()
    config = slapd.connection(slapd.config_admin_dn, slapd.admin_password)
    config.modify(
        "olcDatabase={1}mdb,cn=config", {"olcAccess": [(ldap3.MODIFY_ADD, [ESCO_WRITE_ACL])]}
    )
    assert config.result["result"] == 0, config.result
    config.unbind()
    yield slapd
    slapd.stop()


@pytest.fixture
def esco_app(settings, esco_slapd):
    app = create_app(
        {
            **settings,
            "LDAP_URL": esco_slapd.url,
            "LDAP_BIND_DN": esco_slapd.service_dn,
            "LDAP_BIND_PASSWORD": esco_slapd.service_password,
            "LDAP_PEOPLE_DN": esco_slapd.people_dn,
            "LDAP_PROFILE": "esco",
        }
    )
    app.extensions["ent_idp"].store.redis.flushdb()
    yield app
    app.extensions["ent_idp"].close()


def esco_account(slapd: Slapd, login: str, state: str, charter: str | None = None) -> dict:
    uid = f"F{abs(hash(login)) % 10**6:06d}"  # the ESCO uid is an opaque id, not the login
    dn = f"uid={uid},{slapd.people_dn}"
    attributes = {
        "objectClass": ["inetOrgPerson", "entIdpAccount", "ENTPerson", "inetLocalMailRecipient"],
        "uid": uid,
        "ENTPersonLogin": login,
        "cn": "Emma Esco",
        "givenName": "Emma",
        "sn": "Esco",
        "mail": f"{login}@netocentre.test",
        "userPassword": "Provisoire-2026",
        "ESCOPersonEtatCompte": state,
        "pwdReset": "TRUE",
    }
    if charter:
        attributes["ESCOPersonValidationCharteService"] = charter
    conn = slapd.admin_connection()
    conn.delete(dn)
    assert conn.add(dn, attributes=attributes), conn.result
    conn.unbind()
    return {"dn": dn, "login": login, "password": "Provisoire-2026", "mail": attributes["mail"]}


def read(slapd: Slapd, dn: str) -> dict:
    conn = slapd.admin_connection()
    conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["*", "+"])
    entry = {k.lower(): v for k, v in conn.response[0]["raw_attributes"].items()}
    conn.unbind()
    return entry


def test_an_invalide_account_activates_through_its_esco_login(esco_app, esco_slapd):
    account = esco_account(esco_slapd, "emma.esco", "INVALIDE")
    client = esco_app.test_client()
    response = go_through(client, "activation", account)
    assert response.request.path == "/activation/compte-active"
    entry = read(esco_slapd, account["dn"])
    assert entry["escopersonetatcompte"] == [b"VALIDE"]
    assert entry["escopersonvalidationcharteservice"] == [CGU_VERSION.encode()]
    assert entry["entidpbackupmail"] == [b"emma.perso@example.net"]
    assert entry["userpassword"][0].startswith(b"{ARGON2}")
    assert "pwdreset" not in entry and "entidpaccountstate" not in entry


def test_an_invalide_account_that_accepted_a_charter_before_is_a_reset_one(esco_app, esco_slapd):
    account = esco_account(esco_slapd, "emma.reinit", "INVALIDE", charter=CGU_VERSION)
    client = esco_app.test_client()
    response = identify(client, "reinitialisation", account["login"], account["password"])
    assert response.request.path == "/reinitialisation/adresses", "charter already current"


def test_a_blocked_account_gets_the_generic_answer(esco_app, esco_slapd):
    account = esco_account(esco_slapd, "emma.bloque", "BLOQUE")
    response = identify(esco_app.test_client(), "activation", account["login"], account["password"])
    assert "Identifiant ou mot de passe provisoire incorrect" in text(response)
    assert read(esco_slapd, account["dn"])["escopersonetatcompte"] == [b"BLOQUE"]
