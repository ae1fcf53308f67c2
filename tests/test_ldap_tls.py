"""TLS to the directory verifies its certificate by default: ldaps:// and StartTLS.

Every password ent-idp checks or sets crosses this connection: without verification,
anyone on the network path could pose as the directory and collect them. A slapd of its own
here serves a certificate from a test CA (trustme) on ldaps:// and StartTLS; the rest of the
suite keeps its plain slapd.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner

from devstack.ports import free_port
from devstack.slapd import Slapd, SlapdTls
from ent_idp import create_app
from ent_idp.cli import main
from ent_idp.settings import ConfigError

from .accounts import AccountFactory
from .conftest import resources_of, store_of
from .pages import choose_password, go_through, identify, reach_password, text
from .test_admin_cli import environment

pytestmark = pytest.mark.security

UNAVAILABLE = "Service momentanément indisponible"
NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"


@dataclass
class TlsDirectory:
    slapd: Slapd
    ca_file: Path
    accounts: AccountFactory

    def url(self, how: str) -> str:
        return self.slapd.ldaps_url if how == "ldaps" else self.slapd.url


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> Iterator[TlsDirectory]:
    """A slapd with a certificate for 127.0.0.1 signed by a CA no system trusts."""
    folder = tmp_path_factory.mktemp("tls-slapd")
    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1")
    certificate.cert_chain_pems[0].write_to_path(folder / "cert.pem")
    certificate.private_key_pem.write_to_path(folder / "key.pem")
    ca.cert_pem.write_to_path(folder / "ca.pem")
    slapd = Slapd(
        folder / "slapd",
        free_port(),
        service_password=secrets.token_urlsafe(16),
        tls=SlapdTls(folder / "cert.pem", folder / "key.pem", free_port()),
    )
    slapd.start()
    factory = AccountFactory(slapd)
    try:
        yield TlsDirectory(slapd, folder / "ca.pem", factory)
    finally:
        factory.remove_all()
        slapd.stop()


def tls_settings(settings: dict, tls: TlsDirectory, how: str, *, ca: bool = True, **more) -> dict:
    """The test settings pointed at the TLS slapd, by ldaps:// or by StartTLS on ldap://."""
    return {
        **settings,
        "LDAP_URL": tls.url(how),
        "LDAP_START_TLS": how == "starttls",
        "LDAP_TLS_CA_FILE": str(tls.ca_file) if ca else "",
        "LDAP_BIND_DN": tls.slapd.service_dn,
        "LDAP_BIND_PASSWORD": tls.slapd.service_password,
        "LDAP_PEOPLE_DN": tls.slapd.people_dn,
        **more,
    }


@contextmanager
def app_with(settings: dict):
    app = create_app(settings)
    try:
        yield app
    finally:
        resources_of(app).close()


def check(settings: dict, tls: TlsDirectory):
    """``ent-idp check`` as an admin runs it, the TLS slapd's rootdn as admin account."""
    admin = {"ADMIN_BIND_DN": tls.slapd.admin_dn, "ADMIN_BIND_PASSWORD": tls.slapd.admin_password}
    return CliRunner().invoke(main, ["check"], env=environment({**settings, **admin}))


BOTH = pytest.mark.parametrize("how", ["ldaps", "starttls"])


@BOTH
def test_with_the_ca_file_identification_and_the_final_modify_go_over_tls(settings, tls, app, how):
    """The CA of the directory's certificate, given in [ldap] tls_ca_file, is trusted."""
    account = tls.accounts.create("pending")
    with app_with(tls_settings(settings, tls, how)) as tls_app:
        response = go_through(tls_app.test_client(), "activation", account)
    assert "Compte activé !" in text(response)
    entry = tls.accounts.read(account["dn"])
    assert entry["entidpaccountstate"] == [b"active"]
    assert tls.accounts.binds(account["dn"], NEW_PASSWORD)


@BOTH
def test_without_the_ca_file_users_get_the_503_page_and_nothing_changes(settings, tls, app, how):
    """An unknown certificate is refused: the user sees the 503 page, the account is as it
    was, and no failure is counted against the user."""
    account = tls.accounts.create("pending")
    with app_with(tls_settings(settings, tls, how, ca=False)) as tls_app:
        client = tls_app.test_client()
        response = identify(client, "activation", account["login"], account["password"])
        assert response.status_code == 503
        assert UNAVAILABLE in text(response)
        assert store_of(tls_app).redis.keys("*throttle*") == []
    entry = tls.accounts.read(account["dn"])
    assert entry["entidpaccountstate"] == [b"pending"]
    assert tls.accounts.binds(account["dn"], account["password"])


def test_a_final_step_refused_by_tls_loses_nothing(settings, tls, app):
    """The deployment lost its CA file between two steps: the final write is refused with
    the 503 page, nothing is written, and once the file is back the same flow completes."""
    account = tls.accounts.create("pending")
    good = tls_settings(settings, tls, "ldaps")
    with app_with(good) as tls_app, app_with({**good, "LDAP_TLS_CA_FILE": ""}) as broken:
        client = tls_app.test_client()
        reach_password(client, "activation", account)
        cookie = client.get_cookie("ent_idp_session").value
        other = broken.test_client()
        other.set_cookie("ent_idp_session", cookie)
        response = choose_password(other, "activation", NEW_PASSWORD)
        assert response.status_code == 503
        assert tls.accounts.read(account["dn"])["entidpaccountstate"] == [b"pending"]
        assert tls.accounts.binds(account["dn"], account["password"])

        response = choose_password(client, "activation", NEW_PASSWORD)
        assert "Compte activé !" in text(response)
    assert tls.accounts.binds(account["dn"], NEW_PASSWORD)


@BOTH
def test_check_passes_over_tls_with_the_ca_file(settings, tls, app, how):
    """Every connection (service, admin, the probes' user bind) goes through TLS."""
    result = check(tls_settings(settings, tls, how), tls)
    ldap_lines = [line for line in result.stdout.splitlines() if "LDAP: " in line]
    assert len(ldap_lines) > 5 and all(line.startswith("ok    ") for line in ldap_lines), (
        result.stdout
    )


@BOTH
def test_check_fails_naming_an_unknown_certificate_authority(settings, tls, app, how):
    result = check(tls_settings(settings, tls, how, ca=False), tls)
    assert result.exit_code == 1
    assert (
        f"FAIL  LDAP: the service account binds at {tls.url(how)}: TLS to {tls.url(how)}: "
        "the directory's certificate was refused (unable to get local issuer certificate): "
        "set [ldap] tls_ca_file to the certificate (PEM) of the CA that signed the "
        "directory's certificate"
    ) in result.stdout


def test_a_certificate_for_another_host_name_is_refused(settings, tls, app):
    """A certificate from the right CA but for another host is someone else's server."""
    url = tls.slapd.ldaps_url.replace("127.0.0.1", "localhost")
    result = check(tls_settings(settings, tls, "ldaps", LDAP_URL=url), tls)
    assert result.exit_code == 1
    assert (
        "the directory's certificate was refused (Hostname mismatch, certificate is not valid "
        "for 'localhost'): the certificate is for another host name"
    ) in result.stdout
    account = tls.accounts.create("pending")
    with app_with(tls_settings(settings, tls, "ldaps", LDAP_URL=url)) as tls_app:
        response = identify(tls_app.test_client(), "activation", account["login"], "x")
    assert response.status_code == 503


def test_tls_verify_false_connects_and_says_so_at_start_up(settings, tls, app, caplog):
    """The opt-out exists for a test bench; it must never be silent."""
    account = tls.accounts.create("pending")
    caplog.set_level(logging.WARNING, logger="ent_idp.directory.tls")
    unverified = tls_settings(settings, tls, "ldaps", ca=False, LDAP_TLS_VERIFY=False)
    with app_with(unverified) as tls_app:
        assert "[ldap] tls_verify = false" in caplog.text
        assert "NOT checked" in caplog.text
        response = identify(tls_app.test_client(), "activation", account["login"], "x")
    assert response.status_code == 200
    assert "Identifiant ou mot de passe" in text(response)


def test_start_tls_on_an_ldaps_url_is_refused_at_start_up(settings):
    with pytest.raises(ConfigError, match="ldaps:// URL is encrypted from the start"):
        create_app({**settings, "LDAP_URL": "ldaps://127.0.0.1:636", "LDAP_START_TLS": True})


def test_an_unreadable_ca_file_is_refused_at_start_up(settings, tmp_path):
    with pytest.raises(ConfigError, match=r"\[ldap\] tls_ca_file: cannot load"):
        create_app(
            {
                **settings,
                "LDAP_URL": "ldaps://127.0.0.1:636",
                "LDAP_TLS_CA_FILE": str(tmp_path / "missing.pem"),
            }
        )


def test_a_directory_refusing_start_tls_never_gets_a_password_in_clear(settings, stack, accounts):
    """No downgrade: when StartTLS fails, the connection is dropped, not used unencrypted."""
    account = accounts.create("pending")
    with app_with({**settings, "LDAP_START_TLS": True}) as plain:
        response = identify(plain.test_client(), "activation", account["login"], "x")
    assert response.status_code == 503
    result = CliRunner().invoke(
        main, ["check"], env=environment({**settings, "LDAP_START_TLS": True})
    )
    assert (
        f"FAIL  LDAP: the service account binds at {stack.slapd.url}: TLS to {stack.slapd.url} "
        "failed (startTLS failed - protocolError): check that the directory serves TLS"
    ) in result.stdout
