"""The admin commands' writes (ent-idp reset, import, status), as ``[admin] bind_dn``.

That account has manage rights on the people entries (or is the rootdn): ppolicy treats it
as a password administrator, so its password writes set ``pwdReset`` and skip the quality
checks. Only the admin commands build an ``AdminDirectory``; the app's ``AppDirectory``
never gets that power. Reads go through the app's (``self.reads``).
"""

from __future__ import annotations

import ldap3
from ldap3.utils.dn import escape_rdn

from ..errors import AccountNotFound, Conflict, DirectoryUnavailable
from .accounts import Account, AccountState, ldap_time
from .app import REPLACE, AppDirectory
from .connections import secret
from .errors import ENTRY_ALREADY_EXISTS, NO_SUCH_OBJECT, SUCCESS, log, raise_for_admin


class AdminDirectory:
    def __init__(self, reads: AppDirectory):
        self.reads = reads
        self.connections = reads.connections
        self.profile = reads.profile

    def check_bind(self) -> None:
        """The admin account binds (else raises)."""
        self.connections.run_as_admin(lambda conn: None)

    def create_account(
        self, login: str, *, given_name: str, surname: str, mail: str, password: str
    ) -> str:
        """A new pending account with a provisional password (hashed by the server)."""
        p = self.profile
        dn = f"{p.login}={escape_rdn(login)},{self.reads.people_dn}"
        attributes: dict[str, object] = {
            **p.new_entry(login),
            p.login: login,
            "cn": f"{given_name} {surname}".strip(),
            "sn": surname,
            "mail": mail,
            "userPassword": secret(password),
            p.state: p.states[AccountState.PENDING],
            "pwdReset": "TRUE",  # ppolicy sets it on an admin's Modify, not on an Add
        }
        if given_name:
            attributes["givenName"] = given_name

        def add(conn: ldap3.Connection) -> dict:
            conn.add(dn, attributes=attributes)
            return conn.result

        result = self.connections.run_as_admin(add)
        if result.get("result") == ENTRY_ALREADY_EXISTS:
            raise Conflict(
                f"{dn} already exists but is not an account (no objectClass {p.object_class})"
            )
        raise_for_admin(result, f"add {dn}")
        return dn

    def reset_password(self, account: Account, password: str, state: AccountState) -> None:
        """A provisional password, ``state`` and ``pwdReset: TRUE``, in one Modify.

        The backup address loses its verification and the MTA's forwarding attribute is
        emptied in the same Modify. The change of ``pwdChangedTime`` makes any activation in
        progress with the old password fail its assertion (Conflict), so a reset always wins.
        """
        p = self.profile
        changes = {
            "userPassword": [(REPLACE, [secret(password)])],
            **({p.password_time: [(REPLACE, [ldap_time()])]} if p.password_time else {}),
            p.state: [(REPLACE, [p.states[state]])],
            "pwdReset": [(REPLACE, ["TRUE"])],
            # Whoever held the account may have set the backup address: it stays as the
            # form's suggestion, but is no longer trusted, and nothing is forwarded to it
            # until its owner verifies it again.
            p.backup_verified: [(REPLACE, [])],
            p.forward: [(REPLACE, [])],
        }

        def modify(conn: ldap3.Connection) -> dict:
            conn.modify(account.dn, changes)
            return conn.result

        raise_for_admin(self.connections.run_as_admin(modify), f"reset {account.dn}")

    def details(self, dn: str) -> dict[str, str]:
        """What ``ent-idp status`` shows, by our names: state, CGU, backup address, times."""
        names = self.profile.names()
        names.update(
            mail="mail",
            pwd_changed_time="pwdChangedTime",
            pwd_reset="pwdReset",
            locked_time="pwdAccountLockedTime",
        )

        def read(conn: ldap3.Connection) -> list:
            conn.search(
                dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=list(names.values())
            )
            if conn.result.get("result") not in (SUCCESS, NO_SUCH_OBJECT):
                raise DirectoryUnavailable(f"search failed: {conn.result.get('description')}")
            return [item for item in conn.response or [] if item.get("type") == "searchResEntry"]

        entries = self.connections.run(read)
        if not entries:
            raise AccountNotFound(dn)
        raw = {name.lower(): values for name, values in entries[0]["raw_attributes"].items()}
        return {
            key: b", ".join(raw.get(name.lower()) or []).decode("utf-8", "replace")
            for key, name in names.items()
        }

    def read_raw(self, dn: str, attributes: list[str]) -> dict[str, list[bytes]]:
        """An entry's raw attributes (lower-case names) read by the admin; {} if absent."""

        def read(conn: ldap3.Connection) -> dict:
            conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=attributes)
            entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
            if not entries:
                return {}
            return {name.lower(): values for name, values in entries[0]["raw_attributes"].items()}

        return self.connections.run_as_admin(read)

    def delete_quietly(self, dn: str) -> None:
        """Delete a disposable entry (``ent-idp check``'s); a failure is logged, not raised."""

        def delete(conn: ldap3.Connection) -> dict:
            conn.delete(dn)
            return conn.result

        try:
            raise_for_admin(self.connections.run_as_admin(delete), f"delete {dn}")
        except DirectoryUnavailable as exc:
            log.error("could not delete the disposable entry %s: %s", dn, exc)

    def close(self) -> None:
        self.connections.close_admin()
