"""Everything LDAP, and the only module that imports ldap3.

One service connection per process, reused and reopened when the server went away; user
binds on connections of their own, never shared. Every connection is made by
``Directory._connection`` (TLS set up and verified there, see ``ent_idp.ldap_tls``). Every
password, bound with or written, is sent as the UTF-8 bytes of what the user typed (``_secret``):
ldap3 would apply SASLprep to a ``str`` in a simple bind but not in a write, so the two would
differ. Every ldap3 error is translated here into the exceptions of ``ent_idp.exceptions``.
"""

from __future__ import annotations

import logging
import queue
import re
import secrets
import ssl
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

import ldap3
from ldap3.core import exceptions as ldap_errors
from ldap3.operation.search import compile_filter, parse_filter
from ldap3.utils.asn1 import encode as ber_encode
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from . import ldap_tls
from .exceptions import (
    AccountNotFound,
    Conflict,
    DirectoryUnavailable,
    PasswordRejected,
    WriteUnconfirmed,
)

log = logging.getLogger(__name__)

ASSERTION_CONTROL = "1.3.6.1.1.12"  # RFC 4528
RESULT_ASSERTION_FAILED = 122
RESULT_CONSTRAINT_VIOLATION = 19
RESULT_INVALID_CREDENTIALS = 49
IDLE_CONNECTIONS = 8  # of each kind, per process: enough for gunicorn's threads, few sockets

T = TypeVar("T")


class AccountState(StrEnum):
    PENDING = "pending"
    RESET = "reset"
    ACTIVE = "active"


class PasswordCheck(StrEnum):
    OK = "ok"
    WRONG = "wrong"


@dataclass(frozen=True)
class Account:
    dn: str
    login: str
    state: str
    mail: str
    given_name: str
    surname: str
    cgu_version: str
    backup_mail: str
    backup_verified: bool
    forward: bool
    pwd_changed_time: str
    state_raw: str = ""  # the state as the directory spells it (the profile's value)
    locked_time: str = ""  # ppolicy's pwdAccountLockedTime, when the directory locked it

    @property
    def needs_completion(self) -> bool:
        return self.state in (AccountState.PENDING, AccountState.RESET)


def ldap_time(epoch: float | None = None) -> str:
    """A GeneralizedTime in UTC, as the directory stores it."""
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(epoch))


# What ppolicy says (in its diagnostic message) -> our reason code.
_PPOLICY_REASONS = (
    ("too short", "too_short"),
    ("in history", "history"),
    ("list of old passwords", "history"),
    ("not being changed from existing", "history"),
    ("quality", "quality"),
    ("too young", "too_young"),
    ("too recently", "too_young"),
)

_COMMUNICATION_ERRORS = (
    ldap_errors.LDAPCommunicationError,
    ldap_errors.LDAPSocketOpenError,
    ldap_errors.LDAPSessionTerminatedByServerError,
    ldap_errors.LDAPResponseTimeoutError,
    ldap_errors.LDAPMaximumRetriesError,
    ldap_errors.LDAPStartTLSError,
)


class Directory:
    """The LDAP directory, as the rest of ent-idp sees it."""

    def __init__(self, config: dict):
        self.config = config
        self.timeout = config["LDAP_TIMEOUT"]
        self.attr = {
            "login": config["LDAP_LOGIN_ATTRIBUTE"],
            "state": config["LDAP_STATE_ATTRIBUTE"],
            "cgu_version": config["LDAP_CGU_VERSION_ATTRIBUTE"],
            "cgu_time": config["LDAP_CGU_TIME_ATTRIBUTE"],  # may be empty
            "backup_mail": config["LDAP_BACKUP_MAIL_ATTRIBUTE"],
            "backup_verified": config["LDAP_BACKUP_VERIFIED_ATTRIBUTE"],
            "forward_wish": config["LDAP_FORWARD_WISH_ATTRIBUTE"],
            "activated_time": config["LDAP_ACTIVATED_TIME_ATTRIBUTE"],
            "forward": config["LDAP_FORWARD_ATTRIBUTE"],
        }
        self.states = {
            AccountState.PENDING: config["LDAP_STATE_PENDING"],
            AccountState.RESET: config["LDAP_STATE_RESET"],
            AccountState.ACTIVE: config["LDAP_STATE_ACTIVE"],
        }
        self._read_attributes = [
            self.attr[name]
            for name in ("login", "state", "cgu_version", "backup_mail", "backup_verified")
        ] + [
            self.attr["forward_wish"],
            "mail",
            "givenName",
            "sn",
            "pwdChangedTime",
            "pwdAccountLockedTime",
        ]
        self._tls = _VerifiedTls(context) if (context := ldap_tls.context(config)) else None
        # Idle connections, each used by one thread at a time: bound as the service account,
        # and bind-only ones for checking users' passwords.
        self._services: queue.SimpleQueue[ldap3.Connection] = queue.SimpleQueue()
        self._binds: queue.SimpleQueue[ldap3.Connection] = queue.SimpleQueue()

    # -- reads -------------------------------------------------------------------------

    def find(self, login: str) -> Account:
        """The one account whose login is ``login``; AccountNotFound otherwise."""
        search_filter = "(&(objectClass={})({}={}))".format(
            escape_filter_chars(self.config["LDAP_ACCOUNT_OBJECT_CLASS"]),
            self.attr["login"],
            escape_filter_chars(login),
        )
        entries = self._service(lambda conn: self._search(conn, search_filter))
        if len(entries) != 1:
            raise AccountNotFound(login)
        return self._account(entries[0])

    def get(self, dn: str) -> Account:
        """The account at ``dn``, read again (AccountNotFound if it is gone)."""
        entries = self._service(
            lambda conn: self._search(conn, "(objectClass=*)", base=dn, scope=ldap3.BASE)
        )
        if len(entries) != 1:
            raise AccountNotFound(dn)
        return self._account(entries[0])

    def check_password(self, dn: str, password: str) -> PasswordCheck:
        """Bind as the user, never on the service connection.

        Bind-only connections are kept in a small pool and used by one request at a time:
        no request ever runs under a user's identity, and there is no new TCP connection
        (and TIME_WAIT socket) per identification.
        """
        if not password or not password.strip():
            # An empty password is an unauthenticated bind, which succeeds (RFC 4513 5.1.2).
            return PasswordCheck.WRONG
        for attempt in (1, 2):
            conn = None
            try:
                conn = self._take_bind_connection()
                bound = conn.rebind(user=dn, password=_secret(password))
            except (*_COMMUNICATION_ERRORS, ldap_errors.LDAPBindError) as exc:
                if conn is not None:
                    _close(conn)
                _close_all(self._binds)  # they went away with the same server
                if attempt == 2:
                    raise DirectoryUnavailable(str(exc)) from exc
                continue
            finally:
                if conn is not None:
                    conn.password = None  # keep no password in memory after the bind
            result = conn.result.get("result")
            _give_back(self._binds, conn)
            if bound:
                return PasswordCheck.OK
            if result != RESULT_INVALID_CREDENTIALS:
                log.warning("user bind refused: %s", result)
            return PasswordCheck.WRONG
        raise AssertionError("unreachable")

    def _take_bind_connection(self) -> ldap3.Connection:
        try:
            return self._binds.get_nowait()
        except queue.Empty:
            return self._connection()

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

        The Assertion control carries the state and password-change time read at
        identification: a second browser, a double submit or an admin reset in between
        makes the server refuse the whole Modify (Conflict). The server hashes the password
        and checks its policy (PasswordRejected).
        """
        stamp = ldap_time(now)
        changes: dict[str, list] = {
            "userPassword": [(ldap3.MODIFY_REPLACE, [_secret(password)])],
            self.attr["state"]: [(ldap3.MODIFY_REPLACE, [self.states[AccountState.ACTIVE]])],
            self.attr["activated_time"]: [(ldap3.MODIFY_REPLACE, [stamp])],
            self.attr["forward_wish"]: [(ldap3.MODIFY_REPLACE, ["TRUE" if forward else "FALSE"])],
        }
        if cgu_version != account.cgu_version:
            changes.update(self._cgu_changes(cgu_version, stamp))
        if backup_mail.lower() != account.backup_mail.lower() or not account.backup_verified:
            # A new (or never verified) address starts unverified; forwarding waits for it.
            changes[self.attr["backup_mail"]] = [(ldap3.MODIFY_REPLACE, [backup_mail])]
            changes[self.attr["backup_verified"]] = [(ldap3.MODIFY_REPLACE, [])]
            changes[self.attr["forward"]] = [(ldap3.MODIFY_REPLACE, [])]
        else:
            # The verified address stays; forwarding follows the new wish at once.
            changes[self.attr["forward"]] = [
                (ldap3.MODIFY_REPLACE, [account.backup_mail] if forward else [])
            ]
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
        account = self.get(dn)
        if account.backup_mail.lower() != address.lower() or account.needs_completion:
            raise Conflict("backup address changed, or account reset, since the link was sent")
        changes: dict[str, list] = {
            self.attr["backup_verified"]: [(ldap3.MODIFY_REPLACE, [ldap_time(now)])],
            self.attr["forward"]: [
                (ldap3.MODIFY_REPLACE, [account.backup_mail] if account.forward else [])
            ],
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
            self.attr["forward_wish"]: [(ldap3.MODIFY_REPLACE, ["TRUE" if wish else "FALSE"])],
            self.attr["forward"]: [(ldap3.MODIFY_REPLACE, [account.backup_mail] if active else [])],
        }
        self._modify(account.dn, changes, self._same_backup_filter(account))

    def replace_backup_mail(self, dn: str, old: str, new: str, now: float | None = None) -> Account:
        """A newly verified backup address replaces ``old`` (which must still be in place).

        Forwarding moves to the new address if the user wishes it. Returns the account as it
        was just before (its forwarding wish, whether ``old`` was verified).
        """
        account = self.get(dn)
        if account.backup_mail.lower() != old.lower() or account.needs_completion:
            raise Conflict("backup address changed, or account reset, since the link was sent")
        changes = {
            self.attr["backup_mail"]: [(ldap3.MODIFY_REPLACE, [new])],
            self.attr["backup_verified"]: [(ldap3.MODIFY_REPLACE, [ldap_time(now)])],
            self.attr["forward"]: [(ldap3.MODIFY_REPLACE, [new] if account.forward else [])],
        }
        self._modify(dn, changes, self._same_backup_and_state_filter(account))
        return account

    def change_password(self, account: Account, password: str) -> None:
        """A new password for an active account, hashed and policy-checked by the server."""
        changes = {"userPassword": [(ldap3.MODIFY_REPLACE, [_secret(password)])]}
        try:
            self._modify(account.dn, changes, self._unchanged_filter(account))
        except PasswordRejected:
            if self.get(account.dn).pwd_changed_time != account.pwd_changed_time:
                raise Conflict(account.dn) from None
            raise

    # -- plumbing ----------------------------------------------------------------------

    def _cgu_changes(self, version: str, stamp: str) -> dict[str, list]:
        changes = {self.attr["cgu_version"]: [(ldap3.MODIFY_REPLACE, [version])]}
        if self.attr["cgu_time"]:  # a profile may keep no acceptance time
            changes[self.attr["cgu_time"]] = [(ldap3.MODIFY_REPLACE, [stamp])]
        return changes

    def _state(self, raw: str, cgu_version: str) -> str:
        """Our state for the directory's value (pending and reset may share one)."""
        matches = [state for state, value in self.states.items() if value.lower() == raw.lower()]
        if matches == [AccountState.ACTIVE]:
            return AccountState.ACTIVE
        if set(matches) == {AccountState.PENDING, AccountState.RESET}:
            return AccountState.RESET if cgu_version else AccountState.PENDING
        return matches[0] if matches else "other"  # e.g. BLOQUE: nothing to do here

    def _same_backup_filter(self, account: Account) -> str:
        if not account.backup_mail:
            return "(!({}=*))".format(self.attr["backup_mail"])
        return "({}={})".format(self.attr["backup_mail"], escape_filter_chars(account.backup_mail))

    def _same_backup_and_state_filter(self, account: Account) -> str:
        """A link's write: the address it was sent to, on an account not reset since."""
        state = escape_filter_chars(account.state_raw or account.state)
        return "(&{}({}={}))".format(self._same_backup_filter(account), self.attr["state"], state)

    def _unchanged_filter(self, account: Account) -> str:
        changed = (
            f"(pwdChangedTime={escape_filter_chars(account.pwd_changed_time)})"
            if account.pwd_changed_time
            else "(!(pwdChangedTime=*))"
        )
        return "(&({}={}){})".format(
            self.attr["state"], escape_filter_chars(account.state_raw or account.state), changed
        )

    def _modify(self, dn: str, changes: dict, assertion: str) -> None:
        controls = [(ASSERTION_CONTROL, True, _encode_filter(assertion))]
        sent = []

        def modify(conn: ldap3.Connection) -> dict:
            sent.append(True)
            conn.modify(dn, changes, controls=controls)
            return conn.result

        result = self._service(modify)
        # Sent twice: the first went unanswered (lost, or the connection died), and may
        # have been applied; a refusal of the second may be the first one's doing.
        retried = len(sent) > 1
        code = result.get("result")
        if code == 0:
            return
        if code == RESULT_ASSERTION_FAILED:
            raise (WriteUnconfirmed if retried else Conflict)(dn)
        if code == RESULT_CONSTRAINT_VIOLATION:
            # ppolicy checks the password before the assertion is evaluated: a refusal
            # may hide a conflict, which the caller finds out by reading the entry again.
            raise PasswordRejected(_ppolicy_reason(result.get("message", "")), retried=retried)
        if code == 32:  # noSuchObject
            raise AccountNotFound(dn)
        log.error(
            "LDAP modify of %s failed: %s %s", dn, result.get("description"), result.get("message")
        )
        raise DirectoryUnavailable(f"modify failed: {result.get('description')}")

    def _search(
        self, conn: ldap3.Connection, search_filter: str, base: str = "", scope: str = ldap3.SUBTREE
    ) -> list[dict]:
        conn.search(
            base or self.config["LDAP_PEOPLE_DN"],
            search_filter,
            search_scope=scope,
            attributes=self._read_attributes,
            size_limit=2,
            time_limit=self.timeout,
        )
        code = conn.result.get("result")
        if code == 32:  # the base itself is gone
            return []
        if code not in (0, 4):  # success, sizeLimitExceeded (two matches: ambiguous)
            raise DirectoryUnavailable(f"search failed: {conn.result.get('description')}")
        # With size_limit=2, two entries (or sizeLimitExceeded) mean an ambiguous login.
        return [item for item in conn.response or [] if item.get("type") == "searchResEntry"]

    def _account(self, entry: dict) -> Account:
        attrs = entry["attributes"]

        def first(name: str) -> str:
            values = attrs.get(name) or []
            if isinstance(values, (str, bytes)):
                values = [values]
            value = values[0] if values else ""
            return value.decode() if isinstance(value, bytes) else str(value)

        state_raw = first(self.attr["state"])
        return Account(
            dn=entry["dn"],
            login=first(self.attr["login"]),
            state=self._state(state_raw, first(self.attr["cgu_version"])),
            state_raw=state_raw,
            mail=first("mail"),
            given_name=first("givenName"),
            surname=first("sn"),
            cgu_version=first(self.attr["cgu_version"]),
            backup_mail=first(self.attr["backup_mail"]),
            backup_verified=bool(first(self.attr["backup_verified"])),
            forward=first(self.attr["forward_wish"]).upper() == "TRUE",
            pwd_changed_time=first("pwdChangedTime"),
            locked_time=first("pwdAccountLockedTime"),
        )

    def _service(self, operation: Callable[[ldap3.Connection], T]) -> T:
        """Run ``operation`` on a service connection, reconnecting once if it went away.

        Each thread takes its own connection from a small pool, so a long write (slapd
        hashing a password) never holds up another request's search.
        """
        for attempt in (1, 2):
            conn = None
            try:
                conn = self._take_service_connection()
                result = operation(conn)
            except _COMMUNICATION_ERRORS as exc:
                if conn is not None:
                    _close(conn)
                _close_all(self._services)  # they went away with the same server
                if attempt == 2:
                    raise DirectoryUnavailable(str(exc)) from exc
                log.info("LDAP connection lost (%s); reconnecting", exc)
                continue
            except BaseException:
                if conn is not None:
                    _close(conn)  # its state is unknown: never reuse it
                raise
            _give_back(self._services, conn)
            return result
        raise AssertionError("unreachable")

    def _server(self) -> ldap3.Server:
        # A Server object remembers addresses that failed and then refuses them ("invalid
        # server address") even once slapd is back: each connection gets a fresh one.
        return ldap3.Server(
            self.config["LDAP_URL"],
            get_info=ldap3.NONE,
            connect_timeout=self.timeout,
            tls=self._tls,
        )

    def _connection(self, user: str | None = None, password: str = "") -> ldap3.Connection:
        """Every connection to the directory: open, TLS started and verified, not yet bound.

        A certificate or TLS failure raises DirectoryUnavailable naming the cause and the
        setting that fixes it; a server that is down raises ldap3's error, as before, for
        the callers' reconnection.
        """
        conn = ldap3.Connection(
            self._server(),
            user=user,
            password=_secret(password) if password else None,
            receive_timeout=self.timeout,
            raise_exceptions=False,
        )
        try:
            conn.open(read_server_info=False)
            if self.config["LDAP_START_TLS"]:
                conn.start_tls(read_server_info=False)
        except _COMMUNICATION_ERRORS as exc:
            _close(conn)
            cause = ldap_tls.explain(self.config["LDAP_URL"], str(exc))
            if cause:
                raise DirectoryUnavailable(cause) from exc
            raise
        return conn

    def _unbound_service_connection(self) -> ldap3.Connection:
        """A new connection with the service account's credentials, not yet bound."""
        return self._connection(self.config["LDAP_BIND_DN"], self.config["LDAP_BIND_PASSWORD"])

    def _take_service_connection(self) -> ldap3.Connection:
        try:
            return self._services.get_nowait()
        except queue.Empty:
            pass
        conn = self._unbound_service_connection()
        try:
            bound = conn.bind()
        except _COMMUNICATION_ERRORS:
            _close(conn)
            raise
        if not bound:
            _close(conn)
            raise DirectoryUnavailable(
                f"service account bind refused: {conn.result.get('description')}"
            )
        return conn

    def close(self) -> None:
        _close_all(self._services)
        _close_all(self._binds)

    # -- administration: ent-idp reset, import, status, check --------------------------
    #
    # Only the admin commands call these. Writes go through [admin] bind_dn: the rootdn or
    # an account with manage on the people entries, which ppolicy treats as a password
    # administrator (its password writes set pwdReset and skip the quality checks). The
    # app's service connection never gets that power.

    def create_account(
        self, login: str, *, given_name: str, surname: str, mail: str, password: str
    ) -> str:
        """A new pending account with a provisional password (hashed by the server)."""
        dn = "{}={},{}".format(self.attr["login"], escape_rdn(login), self.config["LDAP_PEOPLE_DN"])
        attributes: dict[str, object] = {
            "objectClass": [
                "inetOrgPerson",
                self.config["LDAP_ACCOUNT_OBJECT_CLASS"],
                "inetLocalMailRecipient",
            ],
            self.attr["login"]: login,
            "cn": f"{given_name} {surname}".strip(),
            "sn": surname,
            "mail": mail,
            "userPassword": _secret(password),
            self.attr["state"]: self.states[AccountState.PENDING],
            "pwdReset": "TRUE",  # ppolicy sets it on an admin's Modify, not on an Add
        }
        if given_name:
            attributes["givenName"] = given_name

        def add(conn: ldap3.Connection) -> dict:
            conn.add(dn, attributes=attributes)
            return conn.result

        result = self._admin(add)
        if result.get("result") == 68:  # entryAlreadyExists
            raise Conflict(
                f"{dn} already exists but is not an account (no objectClass "
                f"{self.config['LDAP_ACCOUNT_OBJECT_CLASS']})"
            )
        _raise_for_admin(result, f"add {dn}")
        return dn

    def reset_password(self, account: Account, password: str, state: AccountState) -> None:
        """A provisional password, ``state`` and ``pwdReset: TRUE``, in one Modify.

        The backup address loses its verification and the MTA's forwarding attribute is
        emptied in the same Modify. The change of ``pwdChangedTime`` makes any activation in
        progress with the old password fail its assertion (Conflict), so a reset always wins.
        """
        changes = {
            "userPassword": [(ldap3.MODIFY_REPLACE, [_secret(password)])],
            self.attr["state"]: [(ldap3.MODIFY_REPLACE, [self.states[state]])],
            "pwdReset": [(ldap3.MODIFY_REPLACE, ["TRUE"])],
            # Whoever held the account may have set the backup address: it stays as the
            # form's suggestion, but is no longer trusted, and nothing is forwarded to it
            # until its owner verifies it again.
            self.attr["backup_verified"]: [(ldap3.MODIFY_REPLACE, [])],
            self.attr["forward"]: [(ldap3.MODIFY_REPLACE, [])],
        }

        def modify(conn: ldap3.Connection) -> dict:
            conn.modify(account.dn, changes)
            return conn.result

        _raise_for_admin(self._admin(modify), f"reset {account.dn}")

    def details(self, dn: str) -> dict[str, str]:
        """What ``ent-idp status`` shows, by our names: state, CGU, backup address, times."""
        names = {key: value for key, value in self.attr.items() if value}
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
            if conn.result.get("result") not in (0, 32):
                raise DirectoryUnavailable(f"search failed: {conn.result.get('description')}")
            return [item for item in conn.response or [] if item.get("type") == "searchResEntry"]

        entries = self._service(read)
        if not entries:
            raise AccountNotFound(dn)
        raw = {name.lower(): values for name, values in entries[0]["raw_attributes"].items()}
        return {
            key: b", ".join(raw.get(name.lower()) or []).decode("utf-8", "replace")
            for key, name in names.items()
        }

    def check_service_bind(self) -> None:
        """The service account binds (else raises)."""
        self._service(lambda conn: None)

    def check_admin_account(self) -> None:
        """The admin account of the admin commands binds (else raises)."""
        self._admin(lambda conn: None)

    def probe_decoy(self, dn: str, placeholder: str, samples: int = 5) -> DecoyProbe:
        """The decoy entry as ``ent-idp check`` sees it, beside a disposable account.

        Read with the admin account: the decoy's hash against a fresh account's (the
        directory hashes both), the time of ``samples`` wrong binds on each, taken in turn,
        whether the shipped placeholder still binds, and what ppolicy recorded on the decoy
        afterwards. The disposable account is deleted.
        """
        login = f"ent-idp-check-{secrets.token_hex(6)}"
        try:
            account = self.create_account(
                login,
                given_name="Check",
                surname="Ent-Idp",
                mail=f"{login}@example.invalid",
                password=f"Check-{secrets.token_urlsafe(18)}",
            )
        except Conflict as exc:
            raise DirectoryUnavailable(f"disposable entry under [ldap] people_dn: {exc}") from exc
        try:
            if not self._admin_read(dn, ["userPassword"]):
                return DecoyProbe(exists=False)
            wrong = f"wrong-{secrets.token_urlsafe(12)}"
            times: dict[str, list[float]] = {dn: [], account: []}
            for _ in range(samples):
                for target, spent in times.items():
                    began = time.perf_counter()
                    self.check_password(target, wrong)
                    spent.append(time.perf_counter() - began)
            placeholder_binds = self.check_password(dn, placeholder) is PasswordCheck.OK
            self.check_password(dn, wrong)  # what ppolicy records after a failure
            decoy = self._admin_read(dn, ["userPassword", "pwdFailureTime", "pwdAccountLockedTime"])
            mine = self._admin_read(account, ["userPassword"])
        finally:
            self._delete_disposable(account)
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

    def _delete_disposable(self, dn: str) -> None:
        def delete(conn: ldap3.Connection) -> dict:
            conn.delete(dn)
            return conn.result

        try:
            _raise_for_admin(self._admin(delete), f"delete {dn}")
        except DirectoryUnavailable as exc:
            log.error("could not delete the disposable entry %s: %s", dn, exc)

    def _admin_read(self, dn: str, attributes: list[str]) -> dict[str, list[bytes]]:
        """An entry's raw attributes (lower-case names) read by the admin; {} if absent."""

        def read(conn: ldap3.Connection) -> dict:
            conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=attributes)
            entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
            if not entries:
                return {}
            return {name.lower(): values for name, values in entries[0]["raw_attributes"].items()}

        return self._admin(read)

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

        response = self._service(read)
        if not response:
            raise DirectoryUnavailable("cannot read the server's subschema (cn=Subschema)")
        known: set[str] = set()
        for values in response[0]["raw_attributes"].values():
            for value in values:
                known.update(_schema_names(value.decode("utf-8", "replace")))
        wanted = [self.config["LDAP_ACCOUNT_OBJECT_CLASS"], *(v for v in self.attr.values() if v)]
        return [name for name in wanted if name.lower() not in known]

    def probe_rights(self) -> list[tuple[str, str]]:
        """Try, on a disposable entry, what the service account must and must not do.

        Returns ``(check, failure)`` pairs, ``failure`` empty when the check holds. The
        entry is added and deleted by the admin account; everything else is tried as the
        service account, on a connection of its own.
        """
        login = f"ent-idp-check-{secrets.token_hex(6)}"
        provisional = secrets.token_urlsafe(18)
        try:
            dn = self.create_account(
                login,
                given_name="Check",
                surname="Ent-Idp",
                mail=f"{login}@example.invalid",
                password=provisional,
            )
        except (Conflict, DirectoryUnavailable) as exc:
            return [("disposable entry under [ldap] people_dn", str(exc))]
        service = None
        try:
            service = self._unbound_service_connection()
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
        except _COMMUNICATION_ERRORS as exc:
            return [("disposable entry checks", f"the directory went away: {exc}")]
        finally:
            if service is not None:
                _close(service)
            self._delete_disposable(dn)

    def _delete_disposable(self, dn: str) -> None:
        def delete(conn: ldap3.Connection) -> dict:
            conn.delete(dn)
            return conn.result

        try:
            _raise_for_admin(self._admin(delete), f"delete {dn}")
        except DirectoryUnavailable as exc:
            log.error("could not delete the disposable entry %s: %s", dn, exc)

    def _probe_writes(self, service: ldap3.Connection, dn: str) -> str:
        stamp = ldap_time()
        values = {
            "state": self.states[AccountState.ACTIVE],
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
            name = self.attr[key]
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
        if not raw.get(self.attr["login"].lower()):
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

        stored = self._admin(read)
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
        user = self._connection(dn, password)
        try:
            bound = user.bind()
        finally:
            _close(user)
        checks.append(
            ("the new password binds", "" if bound else "a bind with the password just set fails")
        )
        return checks

    def _admin(self, operation: Callable[[ldap3.Connection], T]) -> T:
        """Run ``operation`` on the admin connection ([admin] bind_dn), opened on first use."""
        lock = self.__dict__.setdefault("_admin_lock", threading.Lock())
        with lock:
            conn = self.__dict__.get("_admin_connection")
            try:
                if conn is None or conn.closed:
                    conn = self._admin_connection = self._open_admin()
                return operation(conn)
            except _COMMUNICATION_ERRORS as exc:
                self.close_admin()
                raise DirectoryUnavailable(str(exc)) from exc

    def _open_admin(self) -> ldap3.Connection:
        dn = self.config.get("ADMIN_BIND_DN", "")
        if not dn or not self.config.get("ADMIN_BIND_PASSWORD"):
            raise AdminNotConfigured(
                "the admin commands need an account with manage rights on the people entries "
                "(or the rootdn): set [admin] bind_dn and bind_password "
                "(or ENT_IDP_ADMIN_BIND_DN and ENT_IDP_ADMIN_BIND_PASSWORD)"
            )
        conn = self._connection(dn, self.config["ADMIN_BIND_PASSWORD"])
        if not conn.bind():
            description = conn.result.get("description")
            _close(conn)
            raise DirectoryUnavailable(f"admin account bind refused ({dn}): {description}")
        return conn

    def close_admin(self) -> None:
        conn = self.__dict__.pop("_admin_connection", None)
        if conn is not None:
            _close(conn)


def _secret(password: str) -> bytes:
    """A password as the directory receives it: the UTF-8 bytes of what was typed.

    Bytes go out as they are in binds and writes alike; ldap3 would SASLprep a ``str`` in a
    simple bind only (``²`` binding as ``2``, a no-break space as a space, some characters
    refused outright), so a password written as typed would not bind.
    """
    return password.encode("utf-8")


class _VerifiedTls(ldap3.Tls):
    """ldap3's TLS settings, wrapping sockets with our context (``ent_idp.ldap_tls``).

    The handshake itself checks the chain and the host name of ``[ldap] url``; ldap3's own
    host-name check (``ssl.match_hostname``, deprecated) is not used.
    """

    def __init__(self, context: ssl.SSLContext):
        super().__init__(validate=context.verify_mode)
        self.context = context

    def wrap_socket(self, connection: ldap3.Connection, do_handshake: bool = False) -> None:
        connection.socket = self.context.wrap_socket(
            connection.socket,
            server_side=False,
            do_handshake_on_connect=do_handshake,
            server_hostname=connection.server.host,
        )


def _close(conn: ldap3.Connection) -> None:
    """Unbind, and close the socket even if the connection broke or never opened."""
    try:
        conn.unbind()
    except ldap_errors.LDAPException:
        pass
    if conn.socket is not None:
        conn.socket.close()


def _close_all(idle: queue.SimpleQueue) -> None:
    while True:
        try:
            _close(idle.get_nowait())
        except queue.Empty:
            return


def _give_back(idle: queue.SimpleQueue, conn: ldap3.Connection) -> None:
    """Keep ``conn`` for the next request, unless it closed or enough are idle."""
    if conn.closed or idle.qsize() >= IDLE_CONNECTIONS:
        _close(conn)
    else:
        idle.put(conn)


def _encode_filter(search_filter: str) -> bytes:
    """BER-encode an LDAP filter, the value of the Assertion control."""
    tree = parse_filter(search_filter, None, False, False, None, False)
    return ber_encode(compile_filter(tree.elements[0]))


def _ppolicy_reason(message: str) -> str:
    lowered = message.lower()
    for fragment, reason in _PPOLICY_REASONS:
        if fragment in lowered:
            return reason
    log.warning("password refused by the directory: %s", message)
    return "policy"


@dataclass(frozen=True)
class DecoyProbe:
    """What ``Directory.probe_decoy`` found (times in milliseconds)."""

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


class AdminNotConfigured(DirectoryUnavailable):
    """The admin commands need ``[admin] bind_dn`` and ``bind_password``."""


def _raise_for_admin(result: dict, what: str) -> None:
    """Translate the result of an admin write into our exceptions."""
    code = result.get("result")
    if code == 0:
        return
    if code == 32:  # noSuchObject
        raise AccountNotFound(what)
    raise DirectoryUnavailable(
        f"the directory refused to {what}: {result.get('description')} "
        f"{result.get('message') or ''}".rstrip()
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
