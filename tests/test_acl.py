"""The shipped ACL (ldap_schema/acl.ldif) hides every password hash, the old ones too.

ppolicy keeps the hashes of the last passwords in ``pwdHistory``: whoever reads them can
crack them offline, and people reuse old passwords elsewhere. The service account needs none
of them (ppolicy checks the history itself), nor does the user. ``ent-idp check`` proves it
on each deployment and fails when the service account can read them.
"""

from __future__ import annotations

import secrets

import ldap3
import pytest
from click.testing import CliRunner

from devstack.ports import free_port
from devstack.slapd import Slapd
from ent_idp.cli import main

from .conftest import resources_of
from .test_admin_cli import environment

pytestmark = pytest.mark.security

PASSWORD = "Deja-Actif-2026!"
EVERYTHING = [ldap3.ALL_ATTRIBUTES, ldap3.ALL_OPERATIONAL_ATTRIBUTES]


def with_history(app, accounts) -> dict:
    """An active account whose password the app changed twice: two old hashes kept."""
    account = accounts.create("active", password=PASSWORD, cgu_version="2024-09")
    directory = resources_of(app).directory
    for new in ("Premier-Chemin-2027!", "Second-Chemin-2028!"):
        directory.change_password(directory.find(account["login"]), new)
    history = accounts.read(account["dn"]).get("pwdhistory", [])
    assert len(history) == 2, "the rootdn sees two old hashes: there is something to hide"
    account["password"] = new
    return account


def read_as(slapd: Slapd, dn: str, password: str, entry: str) -> dict:
    conn = slapd.connection(dn, password)
    try:
        assert conn.search(entry, "(objectClass=*)", ldap3.BASE, attributes=EVERYTHING)
        return {name.lower(): values for name, values in conn.response[0]["raw_attributes"].items()}
    finally:
        conn.unbind()


def test_the_service_account_reads_no_password_hash_old_or_current(app, accounts, stack):
    """Asked for every user and operational attribute ('*', '+'), the service account gets
    what the app needs (state, pwdChangedTime for the assertion) and no hash at all."""
    account = with_history(app, accounts)
    slapd = stack.slapd
    seen = read_as(slapd, slapd.service_dn, slapd.service_password, account["dn"])
    assert "pwdhistory" not in seen
    assert "userpassword" not in seen
    assert seen["entidpaccountstate"] == [b"active"] and seen["pwdchangedtime"]


def test_a_user_cannot_read_their_own_old_password_hashes(app, accounts, stack):
    """Someone who learnt today's password must not get the older ones from the hashes."""
    account = with_history(app, accounts)
    seen = read_as(stack.slapd, account["dn"], account["password"], account["dn"])
    assert "pwdhistory" not in seen
    assert "userpassword" not in seen
    assert seen["uid"] == [account["login"].encode()]


@pytest.fixture(scope="module")
def leaky_slapd(tmp_path_factory):
    """A second slapd built the same way, whose ACL then lets the service account read
    pwdHistory (rule {1} of acl.ldif replaced)."""
    slapd = Slapd(
        tmp_path_factory.mktemp("leaky-slapd"),
        free_port(),
        service_password=secrets.token_urlsafe(16),
    )
    slapd.start()
    try:
        conn = slapd.connection(slapd.config_admin_dn, slapd.admin_password)
        leaky = f'{{1}}to attrs=pwdHistory by dn.exact="{slapd.service_dn}" read by * none'
        try:
            assert conn.modify(
                "olcDatabase={1}mdb,cn=config",
                {"olcAccess": [(ldap3.MODIFY_DELETE, ["{1}"]), (ldap3.MODIFY_ADD, [leaky])]},
            ), conn.result
        finally:
            conn.unbind()
        yield slapd
    finally:
        slapd.stop()


def test_check_fails_when_the_service_account_can_read_pwd_history(settings, leaky_slapd):
    slapd = leaky_slapd
    env = environment(
        {
            **settings,
            "LDAP_URL": slapd.url,
            "LDAP_BIND_DN": slapd.service_dn,
            "LDAP_BIND_PASSWORD": slapd.service_password,
            "LDAP_PEOPLE_DN": slapd.people_dn,
            "ADMIN_BIND_DN": slapd.admin_dn,
            "ADMIN_BIND_PASSWORD": slapd.admin_password,
        }
    )
    result = CliRunner().invoke(main, ["check"], env=env)
    assert result.exit_code == 1
    assert (
        "FAIL  LDAP: service account reads accounts, not password hashes: it can read "
        "pwdHistory (the hashes of old passwords)"
    ) in result.stdout
    assert "ok    LDAP: service account writes the ent-idp attributes" in result.stdout
    conn = slapd.admin_connection()
    try:
        conn.search(slapd.people_dn, "(uid=ent-idp-check-*)")
        assert conn.entries == [], "the disposable entry is gone"
    finally:
        conn.unbind()
