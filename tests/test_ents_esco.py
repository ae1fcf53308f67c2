"""Two ENTs on the ESCO directory: each files its charter under its own service id, and an
account whose ESCODomaines do not include the request's ENT is refused as any other.

The lycées' ENT is the top level (domain ``lycees.netocentre.fr``, the demo entries'); the
CFA's is ``[ent.cfa]`` (``cfa.netocentre.fr``, service id ``ent-idp-cfa``).
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from devstack import esco_stack
from ent_idp.cli import main

from .esco_support import NEW_PASSWORD, EscoAccounts, esco_settings
from .pages import go_through, identify, submit, text
from .test_admin_cli import environment
from .test_ents import CFA_HOST, CFA_URL, browser_on
from .test_interrupt import call

pytestmark = pytest.mark.security

LYCEES, CFA = "lycees.netocentre.fr", "cfa.netocentre.fr"
CFA_ID, CFA_VERSION = "ent-idp-cfa", "20261001"
GENERIC = "Identifiant ou mot de passe provisoire incorrect"
OTHER_SERVICE = "compte-region;20240901;20240903101500Z"
CFA_TABLE = {
    "name": "ENT des CFA",
    "public_url": CFA_URL,
    "domains": [CFA],
    "cgu": {"service_id": CFA_ID, "version": CFA_VERSION},
    "cas": {
        "default_service": "http://cfa.test/portail/",
        "allowed_services": ["http://cfa.test/"],
    },
    "mail": {"sender": "ENT des CFA <ne-pas-repondre@cfa.test>"},
}


@pytest.fixture
def settings(settings, esco_slapd):
    esco = esco_settings(settings, esco_slapd)
    return {**esco, "ENT_KEY": "lycees", "ENT_DOMAINS": [LYCEES], "ENTS": {"cfa": CFA_TABLE}}


@pytest.fixture
def esco(esco_slapd):
    factory = EscoAccounts(esco_slapd)
    yield factory
    factory.remove_all()


@pytest.fixture
def lycees(app):
    return browser_on(app, "ent-idp.test")


@pytest.fixture
def cfa(app):
    return browser_on(app, CFA_HOST)


def charters(esco: EscoAccounts, dn: str) -> set[str]:
    return {v.decode() for v in esco.read(dn).get("escopersonvalidationcharteservice", [])}


def domains(esco: EscoAccounts, dn: str, *values: str) -> None:
    esco.modify(dn, {"ESCODomaines": [("MODIFY_REPLACE", list(values))]})


def test_an_account_of_another_ent_gets_the_generic_refusal(cfa, esco):
    """A lycées pupil's provisional password must not open the CFA's flow (its CGU, its
    address): the same page, status and cost as a wrong password, nothing written. The
    decoy is bound, never the account: its entry records no failure."""
    pupil = esco.create("pupil", charters=(OTHER_SERVICE,))
    refused = identify(cfa, "activation", pupil["login"], pupil["password"])
    wrong = identify(cfa, "activation", esco.create("pupil")["login"], "Mauvais-2026")
    assert (refused.status_code, GENERIC in text(refused)) == (wrong.status_code, True)
    assert refused.request.path == wrong.request.path == "/activation"
    entry = esco.read(pupil["dn"])
    assert entry["escopersonetatcompte"] == [b"INVALIDE"]
    assert charters(esco, pupil["dn"]) == {OTHER_SERVICE}
    assert "pwdfailuretime" not in entry, "the account itself was not bound"


def test_each_ent_files_its_own_charter_value(cfa, lycees, esco):
    """An account of both domains accepts the CFA's charter on the CFA: one value under the
    CFA's service id, the other services' kept; the lycées' is still to accept there."""
    pupil = esco.create("pupil", charters=(OTHER_SERVICE,))
    domains(esco, pupil["dn"], LYCEES, CFA)
    done = go_through(cfa, "activation", pupil, new_password=NEW_PASSWORD)
    assert done.request.path == "/activation/compte-active"
    values = charters(esco, pupil["dn"])
    [ours] = values - {OTHER_SERVICE}
    assert OTHER_SERVICE in values and re.fullmatch(rf"{CFA_ID};{CFA_VERSION};\d{{14}}Z", ours)
    asked = identify(lycees, "conditions", pupil["login"], NEW_PASSWORD)
    assert asked.request.path == "/conditions/cgu"
    submit(lycees, "/conditions/cgu", {"accept": "y"})
    lycees_id = esco_stack.SERVICE_ID
    assert {v.split(";")[0] for v in charters(esco, pupil["dn"])} == {
        "compte-region",
        CFA_ID,
        lycees_id,
    }, "the CFA's value untouched by the lycées' acceptance"


def test_an_account_listing_no_domain_may_use_any_ent(cfa, esco):
    """An entry the feed did not tag says nothing against any ENT: refusing it would lock
    out every account of a directory that does not fill ESCODomaines."""
    pupil = esco.create("pupil")
    domains(esco, pupil["dn"])
    assert go_through(cfa, "activation", pupil).request.path == "/activation/compte-active"


def test_forgotten_password_sends_nothing_for_another_ents_account(cfa, lycees, esco, deliver):
    """Asked on the CFA for a lycées account: the same page, and no mail at all (a link
    from the CFA would let its pages act on an account that is not the CFA's)."""
    teacher = esco.create("teacher", state="VALIDE", charters=(f"{esco_stack.SERVICE_ID};x;y",))
    asked = submit(cfa, "/mot-de-passe-oublie", {"login": teacher["login"]})
    assert asked.status_code == 200
    assert deliver() == []
    submit(lycees, "/mot-de-passe-oublie", {"login": teacher["login"]})
    [message] = deliver(1)
    assert message["To"] == esco.read(teacher["dn"])["entidpbackupmail"][0].decode()


def test_the_interrupt_leaves_another_ents_accounts_alone(app, esco):
    """A lycées pupil logging into a CFA service is not this ENT's to stop (nor to send to
    the CFA's activation); logging into a lycées service, it is sent to activate."""
    pupil = esco.create("pupil")
    client = browser_on(app, "ent-idp.test")
    assert (
        call(client, pupil["login"], service="http://cfa.test/x").get_json()["interrupt"] is False
    )
    assert call(client, pupil["login"], service="http://ent.test/portail/").get_json()["interrupt"]


@pytest.fixture
def admin_cli(settings, esco_slapd, tmp_path):
    """``ent-idp`` as an admin runs it: the [ent.cfa] table in the file, the rest from the
    environment."""
    config = tmp_path / "ent-idp.toml"
    config.write_text(
        '[ent.cfa]\nname = "ENT des CFA"\n'
        f'public_url = "{CFA_URL}"\ndomains = ["{CFA}"]\n'
        f'[ent.cfa.cgu]\nservice_id = "{CFA_ID}"\nversion = "{CFA_VERSION}"\n',
        encoding="utf-8",
    )
    base = {
        **settings,
        "ADMIN_BIND_DN": esco_slapd.admin_dn,
        "ADMIN_BIND_PASSWORD": esco_slapd.admin_password,
    }

    def run(*args: str):
        env = {**environment(base), "ENT_IDP_CONFIG": str(config)}
        return CliRunner().invoke(main, list(args), env=env)

    return run


def pdf_title(path) -> str:
    """The document's title: a literal string, or UTF-16 in hex beyond ASCII."""
    [(literal, utf16)] = re.findall(rb"/Title (?:\((.*?)\)|<feff([0-9a-f]+)>)", path.read_bytes())
    return literal.decode() if literal else bytes.fromhex(utf16.decode()).decode("utf-16-be")


def test_letters_name_each_accounts_ent(admin_cli, esco, tmp_path):
    """A letter sent to a CFA apprentice with the lycées' address sends them to pages that
    refuse them: each letter carries the ENT its account's domains name."""
    pupil, apprentice = esco.create("pupil"), esco.create("pupil")
    domains(esco, apprentice["dn"], CFA)
    out = tmp_path / "letters.pdf"
    result = admin_cli("reset", pupil["login"], apprentice["login"], "--letters", str(out))
    assert result.exit_code == 0, result.output
    assert pdf_title(out) == "ENT de test, ENT des CFA : mots de passe provisoires"
    untagged = esco.create("pupil")
    domains(esco, untagged["dn"])
    only_cfa = tmp_path / "cfa.pdf"
    result = admin_cli("reset", untagged["login"], "--letters", str(only_cfa), "--ent", "cfa")
    assert result.exit_code == 0, result.output
    assert pdf_title(only_cfa) == "ENT des CFA : mots de passe provisoires"


def test_an_unknown_ent_is_refused_before_any_reset(admin_cli, esco, tmp_path):
    pupil = esco.create("pupil")
    before = esco.read(pupil["dn"])["userpassword"]
    result = admin_cli("reset", pupil["login"], "--letters", str(tmp_path / "l.pdf"), "--ent", "x")
    assert (
        result.exit_code == 2 and "--ent x: no such ENT (configured: lycees, cfa)" in result.output
    )
    assert esco.read(pupil["dn"])["userpassword"] == before
