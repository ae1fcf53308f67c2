"""Several ENTs in the settings: what each [ent.<key>] table inherits and overrides, and
the one-line refusals at start-up. No service is started."""

from __future__ import annotations

import pytest

from ent_idp import settings as settings_module
from ent_idp.errors import ConfigError

from .conftest import ROOT

CFA = {
    "name": "ENT des CFA",
    "public_url": "http://compte.cfa.test",
    "hosts": ["cfa-interne.test"],
    "domains": ["cfa.netocentre.fr"],
    "brand": {"colour": "#6a1b4d"},
    "cgu": {"version": "2026-10-cfa", "text_file": str(ROOT / "config" / "cgu.example.txt")},
    "cas": {
        "default_service": "http://cfa.test/portail/",
        "allowed_services": ["http://cfa.test/"],
    },
    "mail": {"sender": "ENT des CFA <ne-pas-repondre@cfa.test>"},
    "legal": {"publisher": "La Région, pour les CFA"},
}


def load(plain_settings: dict, ents: dict, **flat):
    return settings_module.load(None, {**plain_settings, **flat, "ENTS": ents})


def refusal(plain_settings: dict, ents: dict, **flat) -> str:
    with pytest.raises(ConfigError) as caught:
        load(plain_settings, ents, **flat)
    message = str(caught.value)
    assert "\n" not in message, "one line"
    return message


def test_without_tables_the_top_level_keys_are_the_one_ent(plain_settings):
    """Today's configurations keep working: one ENT, the top-level keys, the default."""
    loaded = settings_module.load(None, plain_settings)
    [ent] = loaded.ents
    assert ent is loaded.default_ent and ent.top_level and ent.key == "ent"
    assert (ent.name, ent.public_url, ent.cgu.version) == (
        "ENT de test",
        plain_settings["PUBLIC_URL"],
        plain_settings["CGU_VERSION"],
    )
    assert ent.hosts == ("ent-idp.test", "localhost")
    assert ent.mail.sender == plain_settings["MAIL_SENDER"] and ent.cas == loaded.cas


def test_a_table_overrides_only_what_it_names(plain_settings):
    loaded = load(plain_settings, {"cfa": CFA}, ENT_KEY="lycees")
    lycees, cfa = loaded.ents
    assert (lycees.key, cfa.key, loaded.default_ent) == ("lycees", "cfa", lycees)
    assert cfa.public_url == "http://compte.cfa.test/", "ends with a slash, as public_url"
    assert cfa.hosts == ("compte.cfa.test", "cfa-interne.test")
    assert (cfa.brand.colour, cfa.brand.colour_dark) == ("#6a1b4d", lycees.brand.colour_dark)
    assert cfa.cgu.version == "2026-10-cfa" and cfa.cgu.service_id == "cfa"
    assert set(cfa.cgu.texts) == {"fr"}, "its own French text: no other ENT's translation"
    assert cfa.cas.url == lycees.cas.url, "inherited"
    assert cfa.cas.timeout == loaded.cas.timeout, "the rest of [cas] is the deployment's"
    assert cfa.mail.sender == CFA["mail"]["sender"]
    assert cfa.mail.server == loaded.mail.server and cfa.mail.password == loaded.mail.password
    assert cfa.legal.publisher == "La Région, pour les CFA"
    assert cfa.domains == ("cfa.netocentre.fr",)
    assert loaded.ent_for_host("compte.cfa.test:8080") is cfa, "the port is not compared"
    assert loaded.ent_for_host("CFA-INTERNE.test") is cfa
    assert loaded.ent_for_host("ent-idp.test") is lycees
    assert loaded.ent_for_host("autre.test") is None
    assert loaded.ent("gone") is lycees, "work naming no ENT we have: the default's"


def test_one_table_may_be_the_default(plain_settings):
    loaded = load(plain_settings, {"cfa": {**CFA, "default": True}})
    assert loaded.default_ent.key == "cfa"
    assert [ent.default for ent in loaded.ents] == [False, True]


@pytest.mark.parametrize(
    ("ents", "expected"),
    [
        ({"cfa": {**CFA, "hosts": ["localhost"]}}, "setting [ent.cfa] hosts: localhost is "),
        (
            {"cfa": CFA, "agri": {**CFA, "public_url": "http://agri.test/"}},
            "setting [ent.agri] hosts: cfa-interne.test is already the host of [ent.cfa]",
        ),
        (
            {"cfa": {**CFA, "default": True}, "agri": {**CFA, "default": True}},
            "settings [ent.cfa] default and [ent.agri] default: at most one",
        ),
        ({"cfa": {k: v for k, v in CFA.items() if k != "public_url"}}, "[ent.cfa] public_url"),
        ({"cfa": {k: v for k, v in CFA.items() if k != "name"}}, "[ent.cfa] name"),
        ({"cfa": {**CFA, "public_url": "compte.cfa.test"}}, "[ent.cfa] public_url must be an"),
        ({"cfa": {**CFA, "brand": {"colour": "violet"}}}, "[ent.cfa.brand] colour must look"),
        ({"cfa": {**CFA, "mail": {"sender": "CFA"}}}, "[ent.cfa.mail] sender must hold"),
        ({"cfa": {**CFA, "mail": {"password": "x"}}}, "[ent.cfa.mail] password is not a setting"),
        ({"cfa": {**CFA, "secret_key": "x" * 40}}, "[ent.cfa] secret_key is not a setting"),
        (
            {"cfa": {**CFA, "cgu": {"text_file": "/nowhere/cgu.txt"}}},
            "setting [ent.cfa.cgu] text_file: cannot read /nowhere/cgu.txt",
        ),
        (
            {
                "cfa": {**CFA, "cgu": {"service_id": "agri"}},
                "agri": {**CFA, "public_url": "http://agri.test/", "hosts": []},
            },
            "setting [ent.agri.cgu] service_id: 'agri' is also the CGU service id of [ent.cfa.cgu]",
        ),
        ({"Cfa": CFA}, "an ENT's key is a short name"),
        ({"cfa": {**CFA, "public_url": "https://compte.cfa.test/"}}, "every ENT's public_url"),
    ],
)
def test_a_wrong_table_is_refused_in_one_line_naming_it(plain_settings, ents, expected):
    """A table silently ignored, or half applied, would serve an ENT the wrong CGU or send
    its users' mail from another ENT: start-up refuses, naming the table and the key."""
    assert expected in refusal(plain_settings, ents)


def test_the_esco_profile_needs_a_service_id_of_its_own_per_ent(plain_settings):
    """Two ENTs filing acceptances under one service id would share them: raising one's
    version would ask the other's users too, or accepting one would pass for both."""
    esco = {"LDAP_PROFILE": "esco", "CGU_SERVICE_ID": "ent-idp", "CGU_VERSION": "20260901"}
    cfa = {**CFA, "cgu": {"version": "20261001"}}
    message = refusal(plain_settings, {"cfa": cfa}, **esco)
    assert "[ent.cfa.cgu] service_id: 'ent-idp' is also the CGU service id of [cgu]" in message
    assert "[ent.cfa.cgu] version must be a date" in refusal(
        plain_settings, {"cfa": {**CFA, "cgu": {"service_id": "cfa", "version": "2026-10"}}}, **esco
    )
    loaded = load(
        plain_settings, {"cfa": {**CFA, "cgu": {"service_id": "cfa", **cfa["cgu"]}}}, **esco
    )
    assert [ent.cgu.service_id for ent in loaded.ents] == ["ent-idp", "cfa"]


@pytest.mark.parametrize("profile", ["entidp", "esco"])
def test_the_demo_serves_two_ents(profile, tmp_path, monkeypatch):
    """``make demo`` writes one configuration with the lycées' and the CFA's ENTs."""
    from types import SimpleNamespace

    from devstack import demo

    monkeypatch.setenv("ENT_IDP_DEMO_PROFILE", profile)
    monkeypatch.setattr(demo, "VAR", tmp_path)
    slapd = SimpleNamespace(
        url="ldap://127.0.0.1:3389",
        service_dn="cn=ent-idp,ou=services,dc=ent,dc=test",
        service_password="x" * 20,
        people_dn="ou=people,dc=ent,dc=test",
        decoy_dn="uid=decoy,ou=people,dc=ent,dc=test",
        admin_dn="cn=admin,dc=ent,dc=test",
        admin_password="demo-admin",
    )
    loaded = settings_module.load(demo.write_config(slapd, SimpleNamespace(url="redis://x/0")))
    lycees, cfa = loaded.ents
    assert (lycees.public_url, cfa.public_url) == (demo.LYCEES_URL, demo.CFA_URL)
    assert lycees.name != cfa.name and lycees.brand.colour != cfa.brand.colour
    assert lycees.cgu.version != cfa.cgu.version and lycees.cgu.texts != cfa.cgu.texts
    assert lycees.mail.sender != cfa.mail.sender
    assert loaded.ent_for_host("127.0.0.1:5000") is lycees, "the demo's other URLs still work"
    for url in (demo.LYCEES_URL, demo.CFA_URL):
        assert any(url.startswith(service) for service in demo.CAS_SERVICES), url
    if profile == "esco":
        assert (lycees.domains, cfa.domains) == (("lycees.netocentre.fr",), ("cfa.netocentre.fr",))
