"""User profiles decide the steps, on the ESCO directory: the counter, the pages and
« Compte activé » follow the profile the directory matched (first match wins)."""

from __future__ import annotations

import pytest

from ent_idp import create_app
from ent_idp.errors import ConfigError

from .esco_support import NEW_PASSWORD, EscoAccounts, esco_settings
from .pages import choose_password, identify, submit, text

MAIL = "perso@example.net"


@pytest.fixture
def settings(settings, esco_slapd):
    return esco_settings(settings, esco_slapd)


@pytest.fixture
def esco(esco_slapd):
    factory = EscoAccounts(esco_slapd)
    yield factory
    factory.remove_all()


def steps_seen(client, account, kind="activation"):
    """Go through the flow with valid answers; the (path, counter) of every page seen."""
    seen = []
    response = identify(client, kind, account["login"], account["password"])
    for _ in range(6):
        page, path = text(response), response.request.path
        assert response.status_code == 200, (path, response.status_code)
        counter = page.split("Étape ", 1)[1].split(" ", 3)[:3] if "Étape " in page else []
        seen.append((path.rsplit("/", 1)[-1], " ".join(counter)))
        if path.endswith("/cgu"):
            response = submit(client, path, {"accept": "y"})
        elif path.endswith("/adresses"):
            response = submit(client, path, {"backup_mail": MAIL, "confirm": MAIL})
        elif path.endswith("/mot-de-passe"):
            response = choose_password(client, kind, NEW_PASSWORD)
        else:
            return seen
    raise AssertionError(f"the flow never ended: {seen}")


@pytest.mark.parametrize("kind", ["pupil", "parent"])
def test_pupils_and_parents_always_get_the_backup_address_step(client, esco, kind):
    account = esco.create(kind, backup_mail="deja@example.net", verified=True)
    assert steps_seen(client, account) == [
        ("cgu", "2 sur 5"),
        ("adresses", "3 sur 5"),
        ("mot-de-passe", "4 sur 5"),
        ("compte-active", "5 sur 5"),
    ]


def test_a_teacher_with_an_academic_address_skips_it(client, esco, deliver):
    teacher = esco.create("teacher")
    assert steps_seen(client, teacher, "reinitialisation") == [
        ("cgu", "2 sur 4"),
        ("mot-de-passe", "3 sur 4"),
        ("compte-active", "4 sur 4"),
    ]
    entry = esco.read(teacher["dn"])
    assert entry["entidpbackupmail"] == [b"sophie.bernard@ac-orleans-tours.fr"]
    assert entry["entidpbackupmailverifiedtime"], "the verified address stays verified"


def test_a_teacher_without_a_backup_address_is_asked_for_one(client, esco):
    teacher = esco.create("teacher")
    gone = {"entIdpBackupMail": [("MODIFY_DELETE", [])]}
    esco.modify(teacher["dn"], {**gone, "entIdpBackupMailVerifiedTime": [("MODIFY_DELETE", [])]})
    seen = steps_seen(client, teacher, "reinitialisation")
    assert [page for page, _ in seen] == ["cgu", "adresses", "mot-de-passe", "compte-active"]


def test_the_identification_page_announces_no_total_when_profiles_differ(client):
    """Pupils take 5 steps, teachers with an address 4: before identification nobody knows."""
    page = text(client.get("/activation"))
    assert "Étape 1" in page and "Étape 1 sur" not in page


def test_an_optional_address_is_skipped_with_plus_tard(settings, esco, stack):
    """« Plus tard » moves on and writes no address; « Compte activé » says so, and no
    validation mail is sent."""
    profiles = [
        {"name": "eleve", "filter": "(objectClass=ENTEleve)", "backup_address": "optional",
         "password": "local"},
    ]  # fmt: skip
    app = create_app({**settings, "USER_PROFILES": profiles})
    app.extensions["ent_idp"].store.redis.flushdb()
    stack.smtp.clear()
    client = app.test_client()
    pupil = esco.create("pupil")
    identify(client, "activation", pupil["login"], pupil["password"])
    response = submit(client, "/activation/cgu", {"accept": "y"})
    assert "Plus tard" in text(response) and "facultative" in text(response)
    response = submit(client, "/activation/adresses", {"later": "Plus tard"})
    assert response.request.path == "/activation/mot-de-passe"
    response = choose_password(client, "activation", NEW_PASSWORD)
    assert "Vous n'avez pas indiqué d'adresse électronique de secours" in text(response)
    entry = esco.read(pupil["dn"])
    assert entry["escopersonetatcompte"] == [b"VALIDE"] and "entidpbackupmail" not in entry
    assert stack.smtp.messages() == []
    app.extensions["ent_idp"].close()


def test_plus_tard_is_refused_where_the_address_is_required(client, esco):
    """A required step cannot be skipped by posting « Plus tard » by hand."""
    pupil = esco.create("pupil")
    identify(client, "activation", pupil["login"], pupil["password"])
    submit(client, "/activation/cgu", {"accept": "y"})
    response = submit(client, "/activation/adresses", {"later": "Plus tard"})
    assert response.request.path == "/activation/adresses"
    assert "Plus tard" not in text(response)


def test_profiles_are_matched_by_the_directory_with_its_matching_rules(client, esco):
    """ESCOPersonProfils is caseIgnoreMatch: a feed writing « EduConnect » makes a
    federated account, which has no password to try here."""
    pupil = esco.create("pupil")
    esco.modify(pupil["dn"], {"ESCOPersonProfils": [("MODIFY_ADD", ["EduConnect"])]})
    response = identify(client, "activation", pupil["login"], pupil["password"])
    assert "Identifiant ou mot de passe provisoire incorrect" in text(response)


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        ([{"name": "x"}], "exactly the keys"),
        (
            [{"name": "x", "filter": "(objectClass=", "backup_address": "required",
              "password": "local"}],
            "LDAP filter",
        ),
        (
            [{"name": "x", "filter": "(objectClass=*)", "backup_address": "sometimes",
              "password": "local"}],
            "one of required, optional, if-missing",
        ),
    ],
)  # fmt: skip
def test_a_bad_profile_is_refused_at_start_up(plain_settings, profiles, message):
    with pytest.raises(ConfigError, match=message):
        create_app({**plain_settings, "USER_PROFILES": profiles})
