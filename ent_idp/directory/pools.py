"""Idle connections of one kind: taken for a request, given back after it, closed.

A connection taken must be to the preferred server of its ``ServerOrder`` (one provider at a
time takes the writes); one to another server, used while the preferred one was down, is
closed instead. No more than ``IDLE_CONNECTIONS`` wait, per kind and per process.
"""

from __future__ import annotations

import queue

import ldap3

from .errors import LDAPException
from .servers import ServerOrder

IDLE_CONNECTIONS = 8  # of each kind, per process: enough for gunicorn's threads, few sockets


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


def take(idle: queue.SimpleQueue, order: ServerOrder) -> ldap3.Connection | None:
    """An idle connection to the preferred server of ``order``, or None. Connections to
    another server (used while the preferred one was down) are closed: one provider at a
    time takes the writes."""
    preferred = order.preferred()
    while True:
        try:
            conn = idle.get_nowait()
        except queue.Empty:
            return None
        if conn.opened_to == preferred:
            return conn
        close(conn)


def give_back(idle: queue.SimpleQueue, conn: ldap3.Connection) -> None:
    """Keep ``conn`` for the next request, unless it closed or enough are idle."""
    if conn.closed or idle.qsize() >= IDLE_CONNECTIONS:
        close(conn)
    else:
        idle.put(conn)
