"""Every connection to the directory: built in one place, pooled, reopened when it broke.

Per process: idle connections bound as the app account (``[ldap] bind_dn``), each used by
one thread at a time, so a long write (slapd hashing a password) never holds up another
request's search; bind-only connections for checking users' passwords, never shared while
in use, so no request ever runs under a user's identity; and, for the admin commands only,
one connection bound as ``[admin] bind_dn``. ``Connections.open`` makes every one of them
(TLS set up and verified there, see ``tls``): several servers (ldap3's ServerPool) would
change this module only.

Every password, bound with or written, is sent as the UTF-8 bytes of what the user typed
(``secret``): ldap3 would apply SASLprep to a ``str`` in a simple bind but not in a write,
so the two would differ.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TypeVar

import ldap3

from ..errors import DirectoryUnavailable
from ..settings.sections import AdminSettings, LdapSettings
from . import tls
from .errors import COMMUNICATION_ERRORS, AdminNotConfigured, LDAPBindError, LDAPException
from .metered import MeteredConnection

log = logging.getLogger("ent_idp.directory")

IDLE_CONNECTIONS = 8  # of each kind, per process: enough for gunicorn's threads, few sockets

T = TypeVar("T")


def secret(password: str) -> bytes:
    """A password as the directory receives it: the UTF-8 bytes of what was typed.

    Bytes go out as they are in binds and writes alike; ldap3 would SASLprep a ``str`` in a
    simple bind only (``²`` binding as ``2``, a no-break space as a space, some characters
    refused outright), so a password written as typed would not bind.
    """
    return password.encode("utf-8")


class Connections:
    """The pools of one process (or of one thread of ``ent-idp import``)."""

    def __init__(self, ldap: LdapSettings, admin: AdminSettings):
        self.ldap = ldap
        self.admin_account = admin
        self._tls = tls.VerifiedTls(context) if (context := tls.context(ldap)) else None
        self._app: queue.SimpleQueue[ldap3.Connection] = queue.SimpleQueue()
        self._binds: queue.SimpleQueue[ldap3.Connection] = queue.SimpleQueue()
        self._admin_lock = threading.Lock()
        self._admin: ldap3.Connection | None = None

    # -- the one constructor -----------------------------------------------------------

    def open(self, user: str | None = None, password: str = "") -> ldap3.Connection:
        """A connection: open, TLS started and verified, not yet bound.

        A certificate or TLS failure raises DirectoryUnavailable naming the cause and the
        setting that fixes it; a server that is down raises ldap3's error, for the
        callers' reconnection.
        """
        # A Server object remembers addresses that failed and then refuses them ("invalid
        # server address") even once slapd is back: each connection gets a fresh one.
        server = ldap3.Server(
            self.ldap.url, get_info=ldap3.NONE, connect_timeout=self.ldap.timeout, tls=self._tls
        )
        conn = MeteredConnection(  # ldap3.Connection, each call timed and its errors counted
            server,
            user=user,
            password=secret(password) if password else None,
            receive_timeout=self.ldap.timeout,
            raise_exceptions=False,
        )
        try:
            conn.open(read_server_info=False)
            if self.ldap.start_tls:
                conn.start_tls(read_server_info=False)
        except COMMUNICATION_ERRORS as exc:
            close(conn)
            cause = tls.explain(self.ldap.url, str(exc))
            if cause:
                raise DirectoryUnavailable(cause) from exc
            raise
        return conn

    def unbound_app_connection(self) -> ldap3.Connection:
        """A new connection with the app account's credentials, not yet bound."""
        return self.open(self.ldap.bind_dn, self.ldap.bind_password)

    # -- the app account ---------------------------------------------------------------

    def run(self, operation: Callable[[ldap3.Connection], T]) -> T:
        """Run ``operation`` on an app-account connection, reconnecting once if it went away."""
        for attempt in (1, 2):
            conn = None
            try:
                conn = self._take_app_connection()
                result = operation(conn)
            except COMMUNICATION_ERRORS as exc:
                if conn is not None:
                    close(conn)
                close_all(self._app)  # they went away with the same server
                if attempt == 2:
                    raise DirectoryUnavailable(str(exc)) from exc
                if conn is not None:  # a pooled connection broke (not: none could be opened)
                    log.info("LDAP connection lost (%s); reconnecting", exc)
                continue
            except BaseException:
                if conn is not None:
                    close(conn)  # its state is unknown: never reuse it
                raise
            give_back(self._app, conn)
            return result
        raise AssertionError("unreachable")

    def _take_app_connection(self) -> ldap3.Connection:
        try:
            return self._app.get_nowait()
        except queue.Empty:
            pass
        conn = self.unbound_app_connection()
        try:
            bound = conn.bind()
        except COMMUNICATION_ERRORS:
            close(conn)
            raise
        if not bound:
            close(conn)
            raise DirectoryUnavailable(
                f"service account bind refused: {conn.result.get('description')}"
            )
        return conn

    # -- users' binds ------------------------------------------------------------------

    def bind(self, dn: str, password: str) -> tuple[bool, int | None]:
        """Bind as ``dn`` on a bind-only connection: (bound, result code).

        No new TCP connection (and TIME_WAIT socket) per identification, and no password
        kept in memory after the bind.
        """
        for attempt in (1, 2):
            conn = None
            try:
                conn = self._take_bind_connection()
                bound = conn.rebind(user=dn, password=secret(password))
            except (*COMMUNICATION_ERRORS, LDAPBindError) as exc:
                if conn is not None:
                    close(conn)
                close_all(self._binds)  # they went away with the same server
                if attempt == 2:
                    raise DirectoryUnavailable(str(exc)) from exc
                continue
            finally:
                if conn is not None:
                    conn.password = None
            result = conn.result.get("result")
            give_back(self._binds, conn)
            return bound, result
        raise AssertionError("unreachable")

    def _take_bind_connection(self) -> ldap3.Connection:
        try:
            return self._binds.get_nowait()
        except queue.Empty:
            return self.open()

    # -- the admin account (ent-idp reset, import, status, check) ----------------------

    def run_as_admin(self, operation: Callable[[ldap3.Connection], T]) -> T:
        """Run ``operation`` on the admin connection ([admin] bind_dn), opened on first use."""
        with self._admin_lock:
            try:
                if self._admin is None or self._admin.closed:
                    self._admin = self._open_admin()
                return operation(self._admin)
            except COMMUNICATION_ERRORS as exc:
                self.close_admin()
                raise DirectoryUnavailable(str(exc)) from exc

    def _open_admin(self) -> ldap3.Connection:
        dn, password = self.admin_account.bind_dn, self.admin_account.bind_password
        if not dn or not password:
            raise AdminNotConfigured(
                "the admin commands need an account with manage rights on the people entries "
                "(or the rootdn): set [admin] bind_dn and bind_password "
                "(or ENT_IDP_ADMIN_BIND_DN and ENT_IDP_ADMIN_BIND_PASSWORD)"
            )
        conn = self.open(dn, password)
        if not conn.bind():
            description = conn.result.get("description")
            close(conn)
            raise DirectoryUnavailable(f"admin account bind refused ({dn}): {description}")
        return conn

    def close_admin(self) -> None:
        conn, self._admin = self._admin, None
        if conn is not None:
            close(conn)

    def close(self) -> None:
        close_all(self._app)
        close_all(self._binds)
        self.close_admin()


def close(conn: ldap3.Connection) -> None:
    """Unbind, and close the socket even if the connection broke or never opened."""
    try:
        conn.unbind()
    except LDAPException:
        pass
    if conn.socket is not None:
        conn.socket.close()


def close_all(idle: queue.SimpleQueue) -> None:
    while True:
        try:
            close(idle.get_nowait())
        except queue.Empty:
            return


def give_back(idle: queue.SimpleQueue, conn: ldap3.Connection) -> None:
    """Keep ``conn`` for the next request, unless it closed or enough are idle."""
    if conn.closed or idle.qsize() >= IDLE_CONNECTIONS:
        close(conn)
    else:
        idle.put(conn)
