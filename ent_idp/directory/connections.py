"""Every connection to the directory: built in one place, pooled, reopened when it broke.

Per process: idle connections bound as the app account (``[ldap] bind_dn``), each used by
one thread at a time, so a long write (slapd hashing a password) never holds up another
request's search; bind-only connections for checking users' passwords, never shared while
in use, so no request ever runs under a user's identity; and, for the admin commands only,
one connection bound as ``[admin] bind_dn``. ``Connections.open`` makes every one of them
(TLS set up and verified there, see ``tls``).

Several servers (``servers``): writes, user binds and the reads that must see them go to
``[ldap] urls`` in their order, one server at a time; the reads that may lag behind a write
(``may_lag=True``: the search of a login) go to ``[ldap] read_urls``. A server that fails is
skipped for ``[ldap] retry_failed_after`` seconds; a pooled connection to a server that is no
longer the preferred one is closed instead of reused.

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
from .errors import (
    COMMUNICATION_ERRORS,
    AdminNotConfigured,
    LDAPBindError,
    LDAPResponseTimeoutError,
)
from .metered import MeteredConnection
from .pools import IDLE_CONNECTIONS, close, close_all, give_back, take
from .servers import ServerOrder

__all__ = ["IDLE_CONNECTIONS", "Connections", "close", "secret"]

log = logging.getLogger("ent_idp.directory")


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
        self.writes = ServerOrder(ldap.servers, ldap.retry_failed_after)
        self.reads = (
            self.writes
            if ldap.read_servers == ldap.servers
            else ServerOrder(ldap.read_servers, ldap.retry_failed_after)
        )
        self._app: queue.SimpleQueue[ldap3.Connection] = queue.SimpleQueue()
        # Reads that may lag share the app's connections when they go to the same servers.
        self._lagging = self._app if self.reads is self.writes else queue.SimpleQueue()
        self._binds: queue.SimpleQueue[ldap3.Connection] = queue.SimpleQueue()
        self._admin_lock = threading.Lock()
        self._admin: ldap3.Connection | None = None

    # -- the one constructor -----------------------------------------------------------

    def open(
        self, user: str | None = None, password: str = "", servers: ServerOrder | None = None
    ) -> ldap3.Connection:
        """A connection to the first of ``servers`` (the write servers) that answers: open,
        TLS started and verified, not yet bound. ``conn.opened_to`` is its server's URL.

        Each server is tried once. A certificate or TLS failure raises DirectoryUnavailable
        naming the cause and the setting that fixes it; servers that are down raise ldap3's
        error, for the callers' reconnection.
        """
        order = servers or self.writes
        failure: Exception | None = None
        for url in order.candidates():
            try:
                conn = self.open_at(url, user, password)
            except (*COMMUNICATION_ERRORS, DirectoryUnavailable) as exc:
                order.failed(url)
                if len(order.urls) > 1:
                    log.warning("LDAP server %s failed (%s); trying the next one", url, exc)
                failure = exc
                continue
            order.answered(url)
            return conn
        assert failure is not None
        raise failure

    def open_at(self, url: str, user: str | None = None, password: str = "") -> ldap3.Connection:
        """A connection to ``url`` (as ``open``, one server only)."""
        # A Server object remembers addresses that failed and then refuses them ("invalid
        # server address") even once slapd is back: each connection gets a fresh one.
        server = ldap3.Server(
            url, get_info=ldap3.NONE, connect_timeout=self.ldap.timeout, tls=self._tls
        )
        conn = MeteredConnection(  # ldap3.Connection, each call timed and its errors counted
            server,
            user=user,
            password=secret(password) if password else None,
            receive_timeout=self.ldap.timeout,
            raise_exceptions=False,
        )
        conn.opened_to = url
        try:
            conn.open(read_server_info=False)
            if self.ldap.start_tls:
                conn.start_tls(read_server_info=False)
        except COMMUNICATION_ERRORS as exc:
            close(conn)
            cause = tls.explain(url, str(exc))
            if cause:
                raise DirectoryUnavailable(cause) from exc
            raise
        return conn

    def unbound_app_connection(self, servers: ServerOrder | None = None) -> ldap3.Connection:
        """A new connection with the app account's credentials, not yet bound."""
        return self.open(self.ldap.bind_dn, self.ldap.bind_password, servers)

    # -- the app account ---------------------------------------------------------------

    def run(self, operation: Callable[[ldap3.Connection], T], *, may_lag: bool = False) -> T:
        """Run ``operation`` on an app-account connection, reconnecting once if it went away
        (to the next server, if the first failed). ``may_lag``: a read that need not see
        the latest writes, for ``[ldap] read_urls``."""
        order, idle = (self.reads, self._lagging) if may_lag else (self.writes, self._app)
        for attempt in (1, 2):
            conn = None
            try:
                conn = self._take_app_connection(order, idle)
                result = operation(conn)
            except COMMUNICATION_ERRORS as exc:
                if conn is not None:
                    _note_failure(order, conn, exc)
                    close(conn)
                close_all(idle)  # they went away with the same server
                if attempt == 2:
                    raise DirectoryUnavailable(str(exc)) from exc
                if conn is not None:  # a pooled connection broke (not: none could be opened)
                    log.info("LDAP connection lost (%s); reconnecting", exc)
                continue
            except BaseException:
                if conn is not None:
                    close(conn)  # its state is unknown: never reuse it
                raise
            give_back(idle, conn)
            return result
        raise AssertionError("unreachable")

    def _take_app_connection(
        self, order: ServerOrder, idle: queue.SimpleQueue[ldap3.Connection]
    ) -> ldap3.Connection:
        conn = take(idle, order)
        if conn is not None:
            return conn
        conn = self.unbound_app_connection(order)
        try:
            bound = conn.bind()
        except COMMUNICATION_ERRORS:
            order.failed(conn.opened_to)
            close(conn)
            raise
        if not bound:
            close(conn)
            raise DirectoryUnavailable(
                f"service account bind refused at {conn.opened_to}: "
                f"{conn.result.get('description')}"
            )
        return conn

    def check_bind_at(self, url: str) -> None:
        """The app account binds at ``url`` (``ent-idp check``, one line per server)."""
        try:
            conn = self.open_at(url, self.ldap.bind_dn, self.ldap.bind_password)
        except COMMUNICATION_ERRORS as exc:
            raise DirectoryUnavailable(f"{url} does not answer: {exc}") from exc
        try:
            if not conn.bind():
                raise DirectoryUnavailable(
                    f"service account bind refused: {conn.result.get('description')}"
                )
        except COMMUNICATION_ERRORS as exc:
            raise DirectoryUnavailable(f"{url} went away: {exc}") from exc
        finally:
            close(conn)

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
                    _note_failure(self.writes, conn, exc)
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
        return take(self._binds, self.writes) or self.open()

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
        close_all(self._lagging)  # (the same queue, without read_urls)
        close_all(self._binds)
        self.close_admin()


def _note_failure(order: ServerOrder, conn: ldap3.Connection, exc: Exception) -> None:
    """A server that does not answer in time is skipped for a while; a connection that
    closed (slapd restarted, or an idle timeout) is only reopened: if the server is down,
    opening fails and skips it then."""
    if isinstance(exc, LDAPResponseTimeoutError):
        order.failed(conn.opened_to)
