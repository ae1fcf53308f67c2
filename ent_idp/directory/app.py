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
from ldap3.operation.search import compile_filter, parse_filter
from ldap3.utils.asn1 import encode as ber_encode
from ldap3.utils.conv import escape_filter_chars

from ..errors import AccountNotFound, Conflict, PasswordRejected, WriteUnconfirmed
from .accounts import Account, AccountState, PasswordCheck, ldap_time
from .connections import Connections, secret
from .errors import INVALID_CREDENTIALS, raise_for_search, raise_for_write
from .profile import Profile

log = logging.getLogger("ent_idp.directory")

ASSERTION_CONTROL = "1.3.6.1.1.12"  # RFC 4528
REPLACE = ldap3.MODIFY_REPLACE


class AppDirectory:
    """What the web app and the mail worker do in the directory."""

    def __init__(self, connections: Connections, profile: Profile):
        self.connections = connections
        self.profile = profile
        self.people_dn = connections.ldap.people_dn

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

    def check_bind(self, url: str | None = None) -> None:
        """The app account binds (at ``url``, one of the servers; else raises)."""
        if url is None:
            self.connections.run(lambda conn: None)
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
        password: str,
        cgu_version: str,
        backup_mail: str,
        forward: bool,
        now: float | None = None,
    ) -> None:
        """Activation or reset in one Modify, applied only if the account did not change.

        The assertion carries the state and password-change time read at identification.
        """
        p, stamp = self.profile, ldap_time(now)
        changes: dict[str, list] = {
            "userPassword": [(REPLACE, [secret(password)])],
            p.state: [(REPLACE, [p.states[AccountState.ACTIVE]])],
            p.activated_time: [(REPLACE, [stamp])],
            p.forward_wish: [(REPLACE, ["TRUE" if forward else "FALSE"])],
        }
        if cgu_version != account.cgu_version:
            changes.update(self._cgu_changes(cgu_version, stamp))
        if backup_mail.lower() != account.backup_mail.lower() or not account.backup_verified:
            # A new (or never verified) address starts unverified; forwarding waits for it.
            changes[p.backup_mail] = [(REPLACE, [backup_mail])]
            changes[p.backup_verified] = [(REPLACE, [])]
            changes[p.forward] = [(REPLACE, [])]
        else:
            # The verified address stays; forwarding follows the new wish at once.
            changes[p.forward] = [(REPLACE, [account.backup_mail] if forward else [])]
        try:
            self._modify(account.dn, changes, self._unchanged_filter(account))
        except PasswordRejected as exc:
            now_read = self.get(account.dn)
            if (now_read.state, now_read.pwd_changed_time) != (
                account.state,
                account.pwd_changed_time,
            ):
                raise (WriteUnconfirmed if exc.retried else Conflict)(account.dn) from None
            raise

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
        self._modify(dn, changes, self._same_backup_and_state_filter(account))
        return account.forward

    def accept_cgu(self, account: Account, version: str, now: float | None = None) -> None:
        """Record that the user accepted CGU ``version`` (only if the account did not change)."""
        changes = self._cgu_changes(version, ldap_time(now))
        self._modify(account.dn, changes, self._unchanged_filter(account))

    def set_forwarding(self, account: Account, wish: bool) -> None:
        """The user's forwarding wish; the MTA's attribute only ever holds a verified address."""
        active = wish and account.backup_verified and bool(account.backup_mail)
        changes = {
            self.profile.forward_wish: [(REPLACE, ["TRUE" if wish else "FALSE"])],
            self.profile.forward: [(REPLACE, [account.backup_mail] if active else [])],
        }
        self._modify(account.dn, changes, self._same_backup_filter(account))

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
        self._modify(dn, changes, self._same_backup_and_state_filter(account))
        return account

    def change_password(self, account: Account, password: str) -> None:
        """A new password for an active account, hashed and policy-checked by the server."""
        changes = {"userPassword": [(REPLACE, [secret(password)])]}
        try:
            self._modify(account.dn, changes, self._unchanged_filter(account))
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

    def _cgu_changes(self, version: str, stamp: str) -> dict[str, list]:
        changes = {self.profile.cgu_version: [(REPLACE, [version])]}
        if self.profile.cgu_time:  # a profile may keep no acceptance time
            changes[self.profile.cgu_time] = [(REPLACE, [stamp])]
        return changes

    def _same_backup_filter(self, account: Account) -> str:
        if not account.backup_mail:
            return f"(!({self.profile.backup_mail}=*))"
        return f"({self.profile.backup_mail}={escape_filter_chars(account.backup_mail)})"

    def _same_backup_and_state_filter(self, account: Account) -> str:
        """A link's write: the address it was sent to, on an account not reset since."""
        state = escape_filter_chars(account.state_raw or account.state)
        return f"(&{self._same_backup_filter(account)}({self.profile.state}={state}))"

    def _unchanged_filter(self, account: Account) -> str:
        changed = (
            f"(pwdChangedTime={escape_filter_chars(account.pwd_changed_time)})"
            if account.pwd_changed_time
            else "(!(pwdChangedTime=*))"
        )
        state = escape_filter_chars(account.state_raw or account.state)
        return f"(&({self.profile.state}={state}){changed})"

    def _modify(self, dn: str, changes: dict, assertion: str) -> None:
        controls = [(ASSERTION_CONTROL, True, encode_filter(assertion))]
        sent = []

        def modify(conn: ldap3.Connection) -> dict:
            sent.append(True)
            conn.modify(dn, changes, controls=controls)
            return conn.result

        result = self.connections.run(modify)
        # Sent twice: the first went unanswered (lost, or the connection died), and may
        # have been applied; a refusal of the second may be the first one's doing.
        raise_for_write(result, dn, retried=len(sent) > 1)


def encode_filter(search_filter: str) -> bytes:
    """BER-encode an LDAP filter, the value of the Assertion control."""
    tree = parse_filter(search_filter, None, False, False, None, False)
    return ber_encode(compile_filter(tree.elements[0]))
