"""What ``ent-idp check`` tries in the directory, beyond a bind: the readiness probes.

The schema knows the profile's names; on a disposable entry (added and deleted by the admin
account) the service account writes what it must and nothing else, reads no password hash, is
held to the password policy and is no password administrator; the decoy entry exists, is
hashed like the accounts and never locks.
"""

from __future__ import annotations

import re
import secrets
import statistics
import time
from dataclasses import dataclass

import ldap3

from ..errors import Conflict, DirectoryUnavailable
from .accounts import AccountState, PasswordCheck, ldap_time
from .admin import AdminDirectory
from .connections import close
from .errors import COMMUNICATION_ERRORS, log


@dataclass(frozen=True)
class DecoyProbe:
    """What ``Probes.decoy`` found (times in milliseconds)."""

    exists: bool
    hashing: str = ""  # e.g. {ARGON2}$argon2i$v=19$m=4096,t=3,p=1 (no salt, no hash)
    account_hashing: str = ""
    decoy_ms: float = 0.0
    account_ms: float = 0.0
    placeholder_binds: bool = False
    recorded_failures: int = 0
    locked: bool = False


def _hash_parameters(stored: bytes) -> str:
    """The scheme and parameters of a stored password, without its salt and hash."""
    text = stored.decode("ascii", "replace")
    if not text.startswith("{") or "}" not in text:
        return "cleartext"
    scheme, rest = text[: text.index("}") + 1].upper(), text[text.index("}") + 1 :]
    if rest.startswith("$"):  # $argon2i$v=19$m=4096,t=3,p=1$salt$hash
        return scheme + "$".join(rest.split("$")[:4])
    return scheme


class Probes:
    def __init__(self, admin: AdminDirectory):
        self.admin = admin
        self.reads = admin.reads
        self.connections = admin.connections
        self.profile = admin.profile

    def _disposable(self, password: str) -> str:
        """A new pending account of our own, added by the admin (the caller deletes it)."""
        login = f"ent-idp-check-{secrets.token_hex(6)}"
        mail = f"{login}@example.invalid"
        return self.admin.create_account(
            login, given_name="Check", surname="Ent-Idp", mail=mail, password=password
        )

    def missing_schema(self) -> list[str]:
        """The account class and attributes of the profile that the server does not know."""

        def read(conn: ldap3.Connection) -> list:
            conn.search("", "(objectClass=*)", ldap3.BASE, attributes=["subschemaSubentry"])
            root = conn.response[0]["attributes"] if conn.response else {}
            subschema = root.get("subschemaSubentry") or "cn=Subschema"
            if isinstance(subschema, list):
                subschema = subschema[0]
            conn.search(
                subschema,
                "(objectClass=subschema)",
                ldap3.BASE,
                attributes=["objectClasses", "attributeTypes"],
            )
            return conn.response or []

        response = self.connections.run(read)
        if not response:
            raise DirectoryUnavailable("cannot read the server's subschema (cn=Subschema)")
        known: set[str] = set()
        for values in response[0]["raw_attributes"].values():
            for value in values:
                known.update(_schema_names(value.decode("utf-8", "replace")))
        wanted = [self.profile.object_class, *self.profile.names().values()]
        return [name for name in wanted if name.lower() not in known]

    def rights(self) -> list[tuple[str, str]]:
        """Try, on a disposable entry, what the service account must and must not do.

        Returns ``(check, failure)`` pairs, ``failure`` empty when the check holds. The
        entry is added and deleted by the admin account; everything else is tried as the
        service account, on a connection of its own.
        """
        try:
            dn = self._disposable(secrets.token_urlsafe(18))
        except (Conflict, DirectoryUnavailable) as exc:
            return [("disposable entry under [ldap] people_dn", str(exc))]
        service = None
        try:
            service = self.connections.unbound_app_connection()
            if not service.bind():
                return [("service account bind", str(service.result.get("description")))]
            writes = self._probe_writes(service, dn)
            sn = self._probe_sn(service, dn)
            password = self._probe_password(service, dn)
            # After the password changes: the entry now has a password history to hide.
            no_read = self._probe_no_read(service, dn)
            return [
                ("service account writes the ent-idp attributes", writes),
                ("service account reads accounts, not password hashes", no_read),
                ("service account cannot write other attributes", sn),
                *password,
            ]
        except DirectoryUnavailable as exc:  # e.g. TLS refused: the cause is in the message
            return [("disposable entry checks", str(exc))]
        except COMMUNICATION_ERRORS as exc:
            return [("disposable entry checks", f"the directory went away: {exc}")]
        finally:
            if service is not None:
                close(service)
            self.admin.delete_quietly(dn)

    def _probe_writes(self, service: ldap3.Connection, dn: str) -> str:
        stamp = ldap_time()
        values = {
            "state": self.profile.states[AccountState.ACTIVE],
            "cgu_version": "ent-idp-check",
            "cgu_time": stamp,
            "backup_mail": "check@example.invalid",
            "backup_verified": stamp,
            "forward_wish": "TRUE",
            "activated_time": stamp,
            "forward": "check@example.invalid",
        }
        refused = []
        for key, value in values.items():
            name = self.profile.names().get(key, "")
            if name and not service.modify(dn, {name: [(ldap3.MODIFY_REPLACE, [value])]}):
                refused.append(f"{name} ({service.result.get('description')})")
        if refused:
            return "it cannot write " + ", ".join(refused) + ": see ldap_schema/acl.ldif"
        return ""

    def _probe_no_read(self, service: ldap3.Connection, dn: str) -> str:
        """Everything it may read ('*' and '+'): no password hash, current or old."""
        service.search(
            dn,
            "(objectClass=*)",
            ldap3.BASE,
            attributes=[ldap3.ALL_ATTRIBUTES, ldap3.ALL_OPERATIONAL_ATTRIBUTES],
        )
        entries = [item for item in service.response or [] if item.get("type") == "searchResEntry"]
        found = entries[0]["raw_attributes"] if entries else {}
        raw = {name.lower(): values for name, values in found.items()}
        if not raw.get(self.profile.login.lower()):
            return f"it cannot read the accounts ({service.result.get('description')})"
        if raw.get("userpassword"):
            return "it can read userPassword: give it write-only (=w), see ldap_schema/acl.ldif"
        if raw.get("pwdhistory"):
            return (
                "it can read pwdHistory (the hashes of old passwords): deny it "
                "(to attrs=pwdHistory by * none), see ldap_schema/acl.ldif"
            )
        if not raw.get("pwdchangedtime"):
            return "it cannot read pwdChangedTime, which guards every write: see acl.ldif"
        return ""

    def _probe_sn(self, service: ldap3.Connection, dn: str) -> str:
        if service.modify(dn, {"sn": [(ldap3.MODIFY_REPLACE, ["Changed"])]}):
            return "it can write sn: give it write on the ent-idp attributes only (acl.ldif)"
        return ""

    def _probe_password(self, service: ldap3.Connection, dn: str) -> list[tuple[str, str]]:
        """The password write of activation: held to the policy, hashed, not an admin's."""
        checks = []
        weak = "a1"
        if service.modify(dn, {"userPassword": [(ldap3.MODIFY_REPLACE, [weak])]}):
            checks.append(
                (
                    "service account is held to the password policy",
                    "a 2-character password was accepted: the service account is a password "
                    "administrator (manage on userPassword) or the policy has no pwdMinLength "
                    "/ pwdCheckQuality (ldap_schema/ppolicy-default.ldif)",
                )
            )
        else:
            checks.append(("service account is held to the password policy", ""))
        password = f"Check-{secrets.token_urlsafe(18)}"
        if not service.modify(dn, {"userPassword": [(ldap3.MODIFY_REPLACE, [password])]}):
            checks.append(
                (
                    "service account sets passwords",
                    f"it cannot write userPassword ({service.result.get('description')} "
                    f"{service.result.get('message')}): give it =w, see ldap_schema/acl.ldif",
                )
            )
            return checks
        checks.append(("service account sets passwords", ""))

        def read(conn: ldap3.Connection) -> dict:
            conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["userPassword", "pwdReset"])
            entry = conn.response[0]["raw_attributes"] if conn.response else {}
            return {name.lower(): values for name, values in entry.items()}

        stored = self.connections.run_as_admin(read)
        value = (stored.get("userpassword") or [b""])[0]
        if value == password.encode():
            failure = (
                "the directory stored the password in clear: set olcPPolicyHashCleartext: "
                "TRUE and olcPasswordHash: {ARGON2} (ldap_schema/ppolicy-overlay.ldif)"
            )
        elif not value.startswith(b"{"):
            failure = "the stored password carries no {SCHEME}: it is not hashed"
        else:
            failure = ""
            scheme = value[: value.index(b"}") + 1].decode("ascii", "replace")
            if scheme.upper() != "{ARGON2}":
                log.warning("passwords are hashed with %s, not {ARGON2}", scheme)
        checks.append(("the directory hashes cleartext passwords", failure))
        if (stored.get("pwdreset") or [b""])[0].upper() == b"TRUE":
            failure = (
                "its password change left pwdReset: TRUE, so ppolicy treats it as a password "
                "administrator (manage on userPassword): give it =w only (acl.ldif)"
            )
        else:
            failure = ""
        checks.append(("service account is not a password administrator", failure))
        user = self.connections.open(dn, password)
        try:
            bound = user.bind()
        finally:
            close(user)
        checks.append(
            ("the new password binds", "" if bound else "a bind with the password just set fails")
        )
        return checks

    def decoy(self, dn: str, placeholder: str, samples: int = 5) -> DecoyProbe:
        """The decoy entry as ``ent-idp check`` sees it, beside a disposable account.

        Read with the admin account: the decoy's hash against a fresh account's (the
        directory hashes both), the time of ``samples`` wrong binds on each, taken in turn,
        whether the shipped placeholder still binds, and what ppolicy recorded on the decoy
        afterwards. The disposable account is deleted.
        """
        try:
            account = self._disposable(f"Check-{secrets.token_urlsafe(18)}")
        except Conflict as exc:
            raise DirectoryUnavailable(f"disposable entry under [ldap] people_dn: {exc}") from exc
        try:
            if not self.admin.read_raw(dn, ["userPassword"]):
                return DecoyProbe(exists=False)
            wrong = f"wrong-{secrets.token_urlsafe(12)}"
            times: dict[str, list[float]] = {dn: [], account: []}
            for _ in range(samples):
                for target, spent in times.items():
                    began = time.perf_counter()
                    self.reads.check_password(target, wrong)
                    spent.append(time.perf_counter() - began)
            placeholder_binds = self.reads.check_password(dn, placeholder) is PasswordCheck.OK
            self.reads.check_password(dn, wrong)  # what ppolicy records after a failure
            decoy = self.admin.read_raw(
                dn, ["userPassword", "pwdFailureTime", "pwdAccountLockedTime"]
            )
            mine = self.admin.read_raw(account, ["userPassword"])
        finally:
            self.admin.delete_quietly(account)
        return DecoyProbe(
            exists=True,
            hashing=_hash_parameters(decoy.get("userpassword", [b""])[0]),
            account_hashing=_hash_parameters(mine.get("userpassword", [b""])[0]),
            decoy_ms=statistics.median(times[dn]) * 1000,
            account_ms=statistics.median(times[account]) * 1000,
            placeholder_binds=placeholder_binds,
            recorded_failures=len(decoy.get("pwdfailuretime", [])),
            locked=bool(decoy.get("pwdaccountlockedtime")),
        )


_SCHEMA_NAME = re.compile(r"NAME\s+(?:'([^']+)'|\(([^)]*)\))")


def _schema_names(definition: str) -> set[str]:
    """The names (lower case) an objectClasses/attributeTypes value defines."""
    match = _SCHEMA_NAME.search(definition)
    if not match:
        return set()
    if match.group(1):
        return {match.group(1).lower()}
    return {name.strip("'").lower() for name in match.group(2).split()}
