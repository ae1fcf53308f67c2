"""How the app holds its LDAP connections (against the real slapd)."""

from __future__ import annotations

import threading

from .conftest import resources_of


def test_a_long_directory_operation_does_not_hold_up_another_thread(app, accounts):
    """gunicorn threads share one process: while one request waits for slapd (hashing a
    password in the final write takes tens of milliseconds), another request's search must
    go on its own connection, not queue behind a lock."""
    directory = resources_of(app).directory
    account = accounts.create("pending")
    found = threading.Event()

    def other_request() -> None:
        directory.find(account["login"])
        found.set()

    def slow_operation(conn) -> bool:
        thread = threading.Thread(target=other_request)
        thread.start()
        return found.wait(timeout=5)  # the other search finishes while this one is "busy"

    assert directory.connections.run(slow_operation) is True


def test_service_connections_are_reused_and_bounded(app, accounts):
    """One bind of the service account per connection, not per request: and no more idle
    sockets kept than gunicorn has threads."""
    from ent_idp.directory.connections import IDLE_CONNECTIONS

    directory = resources_of(app).directory
    account = accounts.create("pending")
    directory.find(account["login"])
    first = directory.connections._app.get_nowait()
    directory.connections._app.put(first)
    for _ in range(3):
        directory.find(account["login"])
    assert directory.connections._app.qsize() == 1
    assert directory.connections._app.get_nowait() is first
    directory.connections._app.put(first)

    barrier = threading.Barrier(IDLE_CONNECTIONS + 4)

    def hold(conn) -> None:
        barrier.wait(timeout=10)  # every thread holds its own connection at once

    threads = [
        threading.Thread(target=directory.connections.run, args=(hold,))
        for _ in range(IDLE_CONNECTIONS + 4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert directory.connections._app.qsize() == IDLE_CONNECTIONS
