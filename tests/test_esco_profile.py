"""The "esco" profile on the real ESCO/SDET schema (devstack/esco/esco-schema.ldif).

Every account here is shaped as the region's feed makes it (tests/esco_support.py, from the
demo LDIF): an ENTEleve pupil, an ENTPerson parent with ENTAuxPersRelEleve, an ENTPerson
teacher with ENTAuxEnseignant and an academic backup address, all with ESCOAddons. The
charter attribute holds one value per service, and only this deployment's is ours to touch.
"""

from __future__ import annotations

import re

import ldap3
import pytest

from devstack import esco_stack

from .esco_support import NEW_PASSWORD, EscoAccounts, esco_settings
from .pages import choose_password, go_through, identify, link_in, submit, text

pytestmark = pytest.mark.security

OURS = esco_stack.SERVICE_ID
VERSION = esco_stack.CGU_VERSION
OTHERS = ("compte-region;20240901;20240903101500Z", "mediacentre$20250110083000Z")
GENERIC = "Identifiant ou mot de passe provisoire incorrect"
OUR_VALUE = re.compile(rf"^{OURS};{VERSION};\d{{14}}Z$")


@pytest.fixture
def settings(settings, esco_slapd):
    return esco_settings(settings, esco_slapd)


@pytest.fixture
def esco(esco_slapd):
    factory = EscoAccounts(esco_slapd)
    yield factory
    factory.remove_all()


def charters(esco: EscoAccounts, dn: str) -> set[str]:
    return {v.decode() for v in esco.read(dn).get("escopersonvalidationcharteservice", [])}


def test_a_pupil_activates_and_the_entry_is_as_the_region_writes_it(client, esco):
    """The state in upper case, the charter in the region's format with its acceptance
    time, the password's modification date: what the region's other applications read."""
    pupil = esco.create("pupil")
    response = go_through(client, "activation", pupil)
    assert response.request.path == "/activation/compte-active"
    entry = esco.read(pupil["dn"])
    assert entry["escopersonetatcompte"] == [b"VALIDE"]
    [value] = charters(esco, pupil["dn"])
    assert OUR_VALUE.match(value), value
    assert re.fullmatch(rb"\d{14}Z", entry["escodatemodificationpassword"][0])
    assert entry["userpassword"][0].startswith(b"{ARGON2}")
    assert entry["entidpbackupmail"] == [b"emma.perso@example.net"]
    assert "pwdreset" not in entry and "entidpaccountstate" not in entry


def test_other_services_charter_values_survive_an_acceptance(client, esco):
    """One value per service: writing ours must never remove another service's acceptance
    (a REPLACE would have erased the region's account app's and the mediacentre's)."""
    parent = esco.create("parent", charters=OTHERS)
    go_through(client, "activation", parent)
    values = charters(esco, parent["dn"])
    assert set(OTHERS) < values and len(values) == 3
    assert any(OUR_VALUE.match(v) for v in values)


@pytest.mark.parametrize(
    "ours",
    [f"{OURS};{VERSION};20260902101500Z", f"{OURS}$20260915080000Z"],
    ids=["region-format", "schema-format"],
)
def test_both_charter_formats_are_read(client, esco, ours):
    """An acceptance in either format written in the wild counts: a reset teacher who
    accepted the current CGU is not asked again, whoever wrote the value."""
    teacher = esco.create("teacher", charters=(*OTHERS, ours))
    response = identify(client, "reinitialisation", teacher["login"], teacher["password"])
    assert response.request.path == "/reinitialisation/mot-de-passe", "no CGU, no address"
    assert "Étape 2 sur 3" in text(response)
    choose_password(client, "reinitialisation", NEW_PASSWORD)
    assert charters(esco, teacher["dn"]) == {*OTHERS, ours}, "nothing to record: untouched"
    assert esco.read(teacher["dn"])["escopersonetatcompte"] == [b"VALIDE"]


def test_an_acceptance_before_the_version_in_the_schema_format_asks_again(client, esco):
    teacher = esco.create("teacher", charters=(f"{OURS}$20250101080000Z",))
    response = identify(client, "reinitialisation", teacher["login"], teacher["password"])
    assert response.request.path == "/reinitialisation/cgu"
    assert "ont changé" in text(response)


def test_a_new_version_replaces_only_this_services_value(client, esco):
    """A second acceptance deletes our old value by its exact value and adds the new one;
    every other service's stays, and nothing is written over."""
    old = f"{OURS};20240901;20240903101500Z"
    teacher = esco.create("teacher", state="VALIDE", charters=(*OTHERS, old))
    response = identify(client, "conditions", teacher["login"], teacher["password"])
    assert response.request.path == "/conditions/cgu"
    assert "ont changé" in text(response)
    submit(client, "/conditions/cgu", {"accept": "y"})
    values = charters(esco, teacher["dn"])
    assert old not in values and set(OTHERS) < values and len(values) == 3
    assert any(OUR_VALUE.match(v) for v in values)


def test_the_final_write_is_one_guarded_modify(client, esco):
    """An admin changing the account between identification and the last step makes the
    whole Modify fail: no password, no state, no charter written, the admin's change kept."""
    pupil = esco.create("pupil", charters=(f"{OURS};20240901;20240903101500Z",))
    response = identify(client, "reinitialisation", pupil["login"], pupil["password"])
    submit(client, "/reinitialisation/cgu", {"accept": "y"})
    mail = "lea.perso@example.net"
    submit(client, "/reinitialisation/adresses", {"backup_mail": mail, "confirm": mail})
    before = esco.read(pupil["dn"])
    esco.modify(pupil["dn"], {"ESCOPersonEtatCompte": [(ldap3.MODIFY_REPLACE, ["BLOQUE"])]})
    response = choose_password(client, "reinitialisation", NEW_PASSWORD)
    assert "déjà été traité" in text(response)
    after = esco.read(pupil["dn"])
    assert after["escopersonetatcompte"] == [b"BLOQUE"]
    for name in ("userpassword", "escopersonvalidationcharteservice", "pwdchangedtime"):
        assert after.get(name) == before.get(name), name
    assert "escodatemodificationpassword" not in after and "entidpbackupmail" not in after


def test_the_charter_value_deleted_is_asserted_too(client, esco):
    """Our old value rewritten meanwhile (the region's app re-recorded it): the Modify, which
    deletes the value read at identification, fails whole instead of deleting another."""
    pupil = esco.create("pupil", charters=(f"{OURS};20240901;20240903101500Z",))
    identify(client, "reinitialisation", pupil["login"], pupil["password"])
    submit(client, "/reinitialisation/cgu", {"accept": "y"})
    mail = "lea.perso@example.net"
    submit(client, "/reinitialisation/adresses", {"backup_mail": mail, "confirm": mail})
    rewritten = f"{OURS};20240901;20250101000000Z"
    esco.modify(
        pupil["dn"],
        {"ESCOPersonValidationCharteService": [(ldap3.MODIFY_REPLACE, [rewritten])]},
    )
    response = choose_password(client, "reinitialisation", NEW_PASSWORD)
    assert "déjà été traité" in text(response)
    after = esco.read(pupil["dn"])
    assert charters(esco, pupil["dn"]) == {rewritten}
    assert after["escopersonetatcompte"] == [b"INVALIDE"]


def test_another_services_acceptance_written_meanwhile_survives(client, esco):
    """The Modify adds and deletes exact values: what another service records in between
    (not guarded: it is not ours) stays."""
    pupil = esco.create("pupil")
    identify(client, "activation", pupil["login"], pupil["password"])
    submit(client, "/activation/cgu", {"accept": "y"})
    mail = "lea.perso@example.net"
    submit(client, "/activation/adresses", {"backup_mail": mail, "confirm": mail})
    esco.modify(
        pupil["dn"],
        {"ESCOPersonValidationCharteService": [(ldap3.MODIFY_ADD, [OTHERS[0]])]},
    )
    response = choose_password(client, "activation", NEW_PASSWORD)
    assert response.request.path == "/activation/compte-active"
    values = charters(esco, pupil["dn"])
    assert OTHERS[0] in values and len(values) == 2


@pytest.mark.parametrize("state", ["BLOQUE", "DELETE", "bloque", "Delete"])
def test_blocked_and_deleted_accounts_get_the_generic_refusal(client, esco, state):
    """A blocked or deleted account must not be (re)activated here, nor told apart from a
    wrong password, whatever the case the feed wrote the state in."""
    pupil = esco.create("pupil", state=state)
    for kind in ("activation", "reinitialisation", "conditions"):
        response = identify(client, kind, pupil["login"], pupil["password"])
        assert GENERIC in text(response) or "Identifiant ou mot de passe incorrect" in text(
            response
        )
        assert response.request.path == f"/{kind}"
    assert esco.read(pupil["dn"])["escopersonetatcompte"] == [state.encode()]


def test_states_are_compared_ignoring_case_and_written_in_upper_case(client, esco):
    pupil = esco.create("pupil", state="invalide")
    go_through(client, "activation", pupil)
    assert esco.read(pupil["dn"])["escopersonetatcompte"] == [b"VALIDE"]


def test_the_login_is_entpersonlogin_not_the_opaque_uid(client, esco):
    pupil = esco.create("pupil")
    uid = pupil["dn"].split(",")[0].removeprefix("uid=")
    assert GENERIC in text(identify(client, "activation", uid, pupil["password"]))
    response = identify(client, "activation", pupil["login"].upper(), pupil["password"])
    assert response.request.path == "/activation/cgu", "caseIgnoreMatch, as the directory"


def test_esco_date_modification_password_is_written_by_forgotten_password(client, esco, deliver):
    """Every password change dates ESCODateModificationPassword: the region's applications
    (password expiry, support) read it."""
    teacher = esco.create(
        "teacher", state="VALIDE", charters=(f"{OURS};{VERSION};20260902101500Z",)
    )
    assert "escodatemodificationpassword" not in esco.read(teacher["dn"])
    submit(client, "/mot-de-passe-oublie", {"login": teacher["login"]})
    [message] = deliver(1)
    link = link_in(message, "mot-de-passe-oublie/lien").removeprefix("http://ent-idp.test")
    submit(client, link, {})
    submit(
        client, "/mot-de-passe-oublie/nouveau", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    entry = esco.read(teacher["dn"])
    assert re.fullmatch(rb"\d{14}Z", entry["escodatemodificationpassword"][0])
