"""The app's own reads and writes, as the app account (least privilege).

Searches and binds; every write is one Modify guarded by the Assertion control (RFC 4528),
applied only if the account is still as it was read: a second browser, a double submit or
an admin reset in between makes the server refuse the whole Modify (Conflict). The server
hashes every password and checks its policy (PasswordRejected). No write here needs more
than write access to the ent-idp attributes and userPassword (``ldap_schema/acl.ldif``).
"""

from __future__ import annotations

import logging

import ldap3
from ldap3.utils.conv import escape_filter_chars

from ..errors import (
    AccountNotFound,
    Conflict,
    DirectoryUnavailable,
    PasswordRejected,
    WriteUnconfirmed,
)
from ..settings.user_profiles import UserProfile
from . import guards
from .accounts import Account, AccountState, Charter, PasswordCheck, ldap_time
from .connections import Connections, secret
from .errors import INVALID_CREDENTIALS, raise_for_search, raise_for_write
from .profile import Profile
from .user_profiles import UserProfiles

log = logging.getLogger("ent_idp.directory")

REPLACE = ldap3.MODIFY_REPLACE


class AppDirectory:
    """What the web app and the mail worker do in the directory."""

    def __init__(
        self,
        connections: Connections,
        profile: Profile,
        user_profiles: tuple[UserProfile, ...] = (),
    ):
        self.connections = connections
        self.profile = profile
        self.people_dn = connections.ldap.people_dn
        self._user_profiles = UserProfiles(connections, user_profiles)

    # -- reads -------------------------------------------------------------------------

    def find(self, login: str, *, may_lag: bool = False) -> Account:
        """The one account whose login is ``login``; AccountNotFound otherwise.

        ``may_lag``: the read may come from ``[ldap] read_urls``, a replica that may lag
        behind the latest writes. Only for a read whose values are checked again by the
        write they lead to (the Assertion control refuses a write made on stale values),
        never for one that must show the user their own write.
        """
        object_class = escape_filter_chars(self.profile.object_class)
        wanted = escape_filter_chars(login)
        search_filter = f"(&(objectClass={object_class})({self.profile.login}={wanted}))"
        entries = self.connections.run(
            lambda conn: self._search(conn, search_filter), may_lag=may_lag
        )
        if len(entries) != 1:
            raise AccountNotFound(login)
        return self.profile.account(entries[0])

    def find_by_identity(
        self, given_name: str, surname: str, backup_mail: str, school: str = ""
    ) -> list[Account]:
        """The active accounts with these names and this verified backup address (and this
        school, where the profile names one): at most two, so two means "not one".

        Every value is matched by the attribute's own equality rule (for givenName and sn,
        caseIgnoreMatch: case, Unicode normal forms and runs of spaces do not count;
        accents, hyphens and compatibility forms do).
        """
        p = self.profile
        wanted = [
            ("objectClass", p.object_class),
            (p.state, p.states[AccountState.ACTIVE]),
            ("givenName", given_name),
            ("sn", surname),
            (p.backup_mail, backup_mail),
        ]
        if p.school:
            if not school:
                return []  # the school is part of who they are, where the directory has it
            wanted.append((p.school, school))
        clauses = "".join(f"({name}={escape_filter_chars(value)})" for name, value in wanted)
        search_filter = f"(&{clauses}({p.backup_verified}=*))"
        entries = self.connections.run(lambda conn: self._search(conn, search_filter))
        return [p.account(entry) for entry in entries]

    def get(self, dn: str) -> Account:
        """The account at ``dn``, read again (AccountNotFound if it is gone)."""
        entries = self.connections.run(
            lambda conn: self._search(conn, "(objectClass=*)", base=dn, scope=ldap3.BASE)
        )
        if len(entries) != 1:
            raise AccountNotFound(dn)
        return self.profile.account(entries[0])

    def check_password(self, dn: str, password: str) -> PasswordCheck:
        """Bind as the user, on a bind-only connection (never an app-account one)."""
        if not password or not password.strip():
            # An empty password is an unauthenticated bind, which succeeds (RFC 4513 5.1.2).
            return PasswordCheck.WRONG
        bound, result = self.connections.bind(dn, password)
        if bound:
            return PasswordCheck.OK
        if result != INVALID_CREDENTIALS:
            log.warning("user bind refused: %s", result)
        return PasswordCheck.WRONG

    def user_profile(self, dn: str) -> UserProfile | None:
        """The account's user profile: the first whose filter its entry matches."""
        return self._user_profiles.of(dn)

    def check_bind(self, url: str | None = None) -> None:
        """The app account is bound and the directory answers it (at ``url``, one of the
        servers; else raises).

        A WhoAmI (RFC 4532) on a pooled connection: one round trip, no hashing; a connection
        the directory dropped is replaced by a new bind as the app account.
        """
        if url is None:
            self.connections.run(_who_am_i)
        else:
            self.connections.check_bind_at(url)

    def _search(
        self, conn: ldap3.Connection, search_filter: str, base: str = "", scope: str = ldap3.SUBTREE
    ) -> list[dict]:
        conn.search(
            base or self.people_dn,
            search_filter,
            search_scope=scope,
            attributes=self.profile.read_attributes,
            size_limit=2,
            time_limit=self.connections.ldap.timeout,
        )
        raise_for_search(conn.result)
        # With size_limit=2, two entries (or sizeLimitExceeded) mean an ambiguous login.
        return [item for item in conn.response or [] if item.get("type") == "searchResEntry"]

    # -- writes ------------------------------------------------------------------------

    def complete(
        self,
        account: Account,
        *,
        password: str | None,
        charter: Charter | None,
        backup_mail: str | None,
        forward: bool,
        now: float | None = None,
    ) -> None:
        """Activation or reset in one Modify, applied only if the account did not change.

        ``password``: None for a federated account (it has none here); ``charter``: the CGU
        accepted in this flow, None if the account's acceptance stands; ``backup_mail``: None
        leaves the backup address as it is (« Plus tard »). The assertion carries the state
        and password-change time read at identification, and the charter values it deletes.
        """
        p, stamp = self.profile, ldap_time(now)
        changes: dict[str, list] = {
            p.state: [(REPLACE, [p.states[AccountState.ACTIVE]])],
            p.activated_time: [(REPLACE, [stamp])],
            p.forward_wish: [(REPLACE, ["TRUE" if forward else "FALSE"])],
        }
        if password is not None:
            changes.update(self._password_changes(password, stamp))
        checks: list[str] = []
        if charter is not None:
            recorded, checks = self._charter_changes(account, charter, stamp)
            changes.update(recorded)
        if backup_mail is not None:
            changes.update(self._backup_changes(account, backup_mail, forward))
        try:
            self._modify(account.dn, changes, guards.unchanged(self.profile, account, checks))
        except PasswordRejected as exc:
            now_read = self.get(account.dn)
            if (now_read.state, now_read.pwd_changed_time) != (
                account.state,
                account.pwd_changed_time,
            ):
                raise (WriteUnconfirmed if exc.retried else Conflict)(account.dn) from None
            raise

    def _backup_changes(self, account: Account, backup_mail: str, forward: bool) -> dict:
        p = self.profile
        if backup_mail.lower() != account.backup_mail.lower() or not account.backup_verified:
            # A new (or never verified) address starts unverified; forwarding waits for it.
            return {
                p.backup_mail: [(REPLACE, [backup_mail] if backup_mail else [])],
                p.backup_verified: [(REPLACE, [])],
                p.forward: [(REPLACE, [])],
            }
        # The verified address stays; forwarding follows the new wish at once.
        return {p.forward: [(REPLACE, [account.backup_mail] if forward else [])]}

    def confirm_backup_mail(self, dn: str, address: str, now: float | None = None) -> bool:
        """Mark ``address`` verified if it is still the account's backup address.

        Forwarding is written to the attribute the MTA reads only now, and only if the user
        asked for it. Returns whether forwarding was turned on.
        """
        account = self._still_in_place(dn, address)
        changes: dict[str, list] = {
            self.profile.backup_verified: [(REPLACE, [ldap_time(now)])],
            self.profile.forward: [(REPLACE, [account.backup_mail] if account.forward else [])],
        }
        self._modify(dn, changes, guards.same_backup_and_state(self.profile, account))
        return account.forward

    def accept_cgu(self, account: Account, charter: Charter, now: float | None = None) -> None:
        """Record that the user accepted ``charter`` (only if the account did not change)."""
        changes, checks = self._charter_changes(account, charter, ldap_time(now))
        if changes:  # else this very value is there already (the same second)
            self._modify(account.dn, changes, guards.unchanged(self.profile, account, checks))

    def set_forwarding(self, account: Account, wish: bool) -> None:
        """The user's forwarding wish; the MTA's attribute only ever holds a verified address."""
        active = wish and account.backup_verified and bool(account.backup_mail)
        changes = {
            self.profile.forward_wish: [(REPLACE, ["TRUE" if wish else "FALSE"])],
            self.profile.forward: [(REPLACE, [account.backup_mail] if active else [])],
        }
        self._modify(account.dn, changes, guards.same_backup(self.profile, account))

    def replace_backup_mail(self, dn: str, old: str, new: str, now: float | None = None) -> Account:
        """A newly verified backup address replaces ``old`` (which must still be in place).

        Forwarding moves to the new address if the user wishes it. Returns the account as it
        was just before (its forwarding wish, whether ``old`` was verified).
        """
        account = self._still_in_place(dn, old)
        changes = {
            self.profile.backup_mail: [(REPLACE, [new])],
            self.profile.backup_verified: [(REPLACE, [ldap_time(now)])],
            self.profile.forward: [(REPLACE, [new] if account.forward else [])],
        }
        self._modify(dn, changes, guards.same_backup_and_state(self.profile, account))
        return account

    def change_password(self, account: Account, password: str, now: float | None = None) -> None:
        """A new password for an active account, hashed and policy-checked by the server."""
        changes = self._password_changes(password, ldap_time(now))
        try:
            self._modify(account.dn, changes, guards.unchanged(self.profile, account))
        except PasswordRejected:
            if self.get(account.dn).pwd_changed_time != account.pwd_changed_time:
                raise Conflict(account.dn) from None
            raise

    # -- the guarded Modify ------------------------------------------------------------

    def _still_in_place(self, dn: str, address: str) -> Account:
        """The account, if ``address`` is still its backup address and it was not reset."""
        account = self.get(dn)
        if account.backup_mail.lower() != address.lower() or account.needs_completion:
            raise Conflict("backup address changed, or account reset, since the link was sent")
        return account

    def _password_changes(self, password: str, stamp: str) -> dict[str, list]:
        changes = {"userPassword": [(REPLACE, [secret(password)])]}
        if self.profile.password_time:  # a profile may keep no password-change date
            changes[self.profile.password_time] = [(REPLACE, [stamp])]
        return changes

    def _charter_changes(
        self, account: Account, charter: Charter, stamp: str
    ) -> tuple[dict[str, list], list[str]]:
        """The changes that record ``charter``, and the assertions they rest on.

        One value per service ("service"): this service's value is added, its old values
        (read at identification) deleted by their exact value, every other service's left as
        it is -- never a REPLACE. The assertion names each value deleted, so a change in
        between fails the whole Modify (122) instead of deleting something else. A single
        version ("version"): replaced, with its time.
        """
        p, value = self.profile, self.profile.charter_value(charter, stamp)
        attribute = p.charter_attribute(charter)
        if attribute == p.cgu_version and p.cgu_format != "service":
            changes = {p.cgu_version: [(REPLACE, [value])]}
            if p.cgu_time:  # a profile may keep no acceptance time
                changes[p.cgu_time] = [(REPLACE, [stamp])]
            return changes, []
        old = [a.raw for a in charter.acceptances(account) if a.raw != value]
        operations = [(ldap3.MODIFY_DELETE, old)] if old else []
        if value not in {a.raw for a in account.charters}:
            operations.append((ldap3.MODIFY_ADD, [value]))
        checks = [f"({attribute}={escape_filter_chars(raw)})" for raw in old]
        return ({attribute: operations} if operations else {}), checks

    def _modify(self, dn: str, changes: dict, assertion: str) -> None:
        controls = [guards.assertion(assertion)]
        sent = []

        def modify(conn: ldap3.Connection) -> dict:
            sent.append(True)
            conn.modify(dn, changes, controls=controls)
            return conn.result

        result = self.connections.run(modify)
        # Sent twice: the first went unanswered (lost, or the connection died), and may
        # have been applied; a refusal of the second may be the first one's doing.
        raise_for_write(result, dn, retried=len(sent) > 1)


def _who_am_i(conn: ldap3.Connection) -> None:
    conn.extend.standard.who_am_i()
    if conn.result.get("result") != 0:
        raise DirectoryUnavailable(f"WhoAmI refused: {conn.result.get('description')}")
