"""The ESCO directory for the tests: a slapd with the ESCO schema, a CAS in front of it, and
real-shaped accounts made from devstack/esco/demo-accounts.ldif (pupil, parent, teacher,
federated pupil), each with a fresh opaque uid and login, removed after the test.

The session fixtures (``esco_slapd``, ``esco_cas``) are imported by tests/conftest.py; the
app's settings come from ``esco_settings``, as ``devstack.esco_stack`` gives them to the demo.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from devstack import esco_stack
from devstack.cas_server import CasServer
from devstack.ports import free_port
from devstack.slapd import Slapd

from .accounts import AccountFactory

_serial = itertools.count(1)
TEMPLATES = {
    "pupil": "F0800001",
    "parent": "F0800002",
    "teacher": "F0800003",
    "federated": "F0800004",
}
NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"


def _entries() -> dict[str, dict[str, list[str]]]:
    """The demo LDIF's entries, by uid (plain ``name: value`` lines, no folding)."""
    entries: dict[str, dict[str, list[str]]] = {}
    for block in esco_stack.DEMO_ACCOUNTS.read_text(encoding="utf-8").split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith("#")]
        if not lines:
            continue
        entry: dict[str, list[str]] = {}
        for line in lines:
            name, _, value = line.partition(": ")
            entry.setdefault(name, []).append(value)
        entries[entry["uid"][0]] = entry
    return entries


class EscoAccounts(AccountFactory):
    """Accounts shaped as the region's feed makes them, in the ESCO slapd (reading and
    removing them as ``AccountFactory`` does)."""

    def __init__(self, slapd: Slapd):
        super().__init__(slapd)
        self.templates = {kind: _entries()[uid] for kind, uid in TEMPLATES.items()}

    def create(
        self,
        kind: str,
        *,
        state: str = "INVALIDE",
        charters: tuple[str, ...] = (),
        backup_mail: str | None = None,
        verified: bool = False,
        password: str = "Provisoire-2026",
    ) -> dict:
        """A ``kind`` account (pupil, parent, teacher, federated) in ``state``.

        ``charters``: its ESCOPersonValidationCharteService values; the teacher keeps its
        academic backup address (verified) unless ``backup_mail`` says otherwise."""
        entry = {name: list(values) for name, values in self.templates[kind].items()}
        serial = next(_serial)
        uid, login = f"T{serial:07d}", f"{entry['ENTPersonLogin'][0]}.{serial}"
        dn = f"uid={uid},{self.slapd.people_dn}"
        del entry["dn"]
        entry.update(uid=[uid], ENTPersonLogin=[login], mail=[f"{login}@lycees.netocentre.fr"])
        entry["ESCOPersonEtatCompte"] = [state]
        entry.pop("ESCOPersonValidationCharteService", None)
        if charters:
            entry["ESCOPersonValidationCharteService"] = list(charters)
        if backup_mail is not None:
            entry.pop("entIdpBackupMailVerifiedTime", None)
            entry["entIdpBackupMail"] = [backup_mail]
        if verified:
            entry["entIdpBackupMailVerifiedTime"] = ["20250901080000Z"]
        if kind != "federated":
            entry["userPassword"] = [password]
            entry["pwdReset"] = ["TRUE"] if state.upper() == "INVALIDE" else []
        entry = {name: values for name, values in entry.items() if values}
        conn = self.slapd.admin_connection()
        try:
            if not conn.add(dn, attributes=entry):
                raise RuntimeError(f"cannot add {dn}: {conn.result}")
            self.created.append(dn)
        finally:
            conn.unbind()
        account = {"dn": dn, "login": login, "mail": entry["mail"][0], "kind": kind}
        if kind == "federated":
            return {**account, "federation_password": esco_stack.FEDERATION_PASSWORD}
        return {**account, "password": password}

    def modify(self, dn: str, changes: dict) -> None:
        conn = self.slapd.admin_connection()
        try:
            assert conn.modify(dn, changes), conn.result
        finally:
            conn.unbind()


@pytest.fixture(scope="session")
def esco_slapd(tmp_path_factory) -> Iterator[Slapd]:
    slapd = esco_stack.slapd(tmp_path_factory.mktemp("esco-slapd"), free_port())
    slapd.start()
    yield slapd
    slapd.stop()


@pytest.fixture(scope="session")
def esco_cas(esco_slapd: Slapd, live_url: str, tmp_path_factory) -> Iterator[CasServer]:
    """The CAS in front of the ESCO directory: ENTPersonLogin, VALIDE accounts only, except
    for ent-idp's federated activation; the demo's ÉduConnect stand-in."""
    from .conftest import PUBLIC_URL  # here: conftest imports this module

    options = esco_stack.cas_options(live_url)
    options["any_state"] = [
        f"{url}{esco_stack.FEDERATED_ACTIVATION}" for url in (PUBLIC_URL, live_url)
    ]
    server = CasServer(
        tmp_path_factory.mktemp("esco-cas"),
        free_port(),
        ldap_url=esco_slapd.url,
        people_dn=esco_slapd.people_dn,
        bind_dn=esco_slapd.service_dn,
        bind_password=esco_slapd.service_password,
        ent_idp_url=live_url,
        services=[PUBLIC_URL, live_url, "http://ent.test/"],
        **options,
    )
    server.start()
    yield server
    server.stop()


def esco_settings(settings: dict, slapd: Slapd, cas: CasServer | None = None) -> dict:
    """The test settings of an ESCO deployment: its directory, charter and CAS."""
    return {
        **settings,
        "LDAP_URL": slapd.url,
        "LDAP_BIND_DN": slapd.service_dn,
        "LDAP_BIND_PASSWORD": slapd.service_password,
        "LDAP_PEOPLE_DN": slapd.people_dn,
        "LDAP_DECOY_DN": slapd.decoy_dn,
        **esco_stack.app_settings(),
        **({"CAS_URL": cas.url} if cas else {}),
    }
