"""Test accounts in the real directory: created by a fixture, removed after the test."""

from __future__ import annotations

import itertools

import ldap3

from devstack.slapd import Slapd

_serial = itertools.count(1)


class AccountFactory:
    def __init__(self, slapd: Slapd):
        self.slapd = slapd
        self.created: list[str] = []

    def create(
        self,
        state: str = "pending",
        password: str = "Provisoire-2026",
        *,
        given_name: str = "Emma",
        surname: str = "Durand",
        login: str | None = None,
        backup_mail: str | None = None,
        backup_verified: bool = False,
        cgu_version: str | None = None,
        forward: bool | None = None,
    ) -> dict:
        """An account in ``state``; pending and reset ones carry ``pwdReset: TRUE``."""
        login = login or f"{given_name}.{surname}{next(_serial)}".lower()
        dn = f"uid={ldap3.utils.dn.escape_rdn(login)},{self.slapd.people_dn}"
        attributes = {
            "objectClass": ["inetOrgPerson", "entIdpAccount", "inetLocalMailRecipient"],
            "uid": login,
            "cn": f"{given_name} {surname}",
            "givenName": given_name,
            "sn": surname,
            "mail": f"{login}@ent.test",
            "userPassword": password,
            "entIdpAccountState": state,
        }
        if state in ("pending", "reset"):
            attributes["pwdReset"] = "TRUE"
        if backup_mail:
            attributes["entIdpBackupMail"] = backup_mail
        if backup_verified:
            attributes["entIdpBackupMailVerifiedTime"] = "20250901080000Z"
        if cgu_version:
            attributes["entIdpCguVersion"] = cgu_version
            attributes["entIdpCguAcceptedTime"] = "20250901080000Z"
        if forward is not None:
            attributes["entIdpMailForward"] = "TRUE" if forward else "FALSE"
        if forward and backup_verified and backup_mail:
            attributes["mailRoutingAddress"] = backup_mail
        conn = self.slapd.admin_connection()
        try:
            if not conn.add(dn, attributes=attributes):
                raise RuntimeError(f"cannot add {dn}: {conn.result}")
            self.created.append(dn)
        finally:
            conn.unbind()
        return {"dn": dn, "login": login, "password": password, "mail": attributes["mail"]}

    def read(self, dn: str) -> dict:
        conn = self.slapd.admin_connection()
        try:
            conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["*", "+"])
            entry = conn.response[0]
            return {k.lower(): v for k, v in entry["raw_attributes"].items()}
        finally:
            conn.unbind()

    def binds(self, dn: str, password: str) -> bool:
        # The UTF-8 bytes, as ent-idp binds: ldap3 would SASLprep a str.
        conn = ldap3.Connection(self.slapd.url, user=dn, password=password.encode("utf-8"))
        try:
            return bool(conn.bind())
        finally:
            conn.unbind()

    def remove_all(self) -> None:
        conn = self.slapd.admin_connection()
        try:
            for dn in self.created:
                conn.delete(dn)
        finally:
            conn.unbind()
