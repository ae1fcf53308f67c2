"""A TCP relay between the app and a real server, to lose the server's answers on purpose.

Some faults no stop or start of a service can make at the right moment: a request reaches
the server and is carried out, but its answer never comes back (a network cut, a firewall
dropping an idle connection's packets), so the client cannot tell whether it was applied; or
another service fails between this server's answer and the client's next step. The relay
forwards every byte both ways to the real server, and on request it drops answers, or runs
something (stop Redis) just before it hands one on. Nothing is faked: the server does the
work, only the way back is cut.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

from devstack.ports import free_port


class Relay:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._lock = threading.Lock()
        self._connections: list[_Connection] = []
        self._lose_new = False
        self._before_next_answer: Callable[[], None] | None = None
        self.answers_lost = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    def lose_answers_on_open_connections(self) -> None:
        """The connections open now never get another answer; new ones work."""
        with self._lock:
            for connection in self._connections:
                connection.losing = True

    def lose_every_answer(self) -> None:
        """No connection, open or new, gets an answer until ``restore``."""
        with self._lock:
            self._lose_new = True
            for connection in self._connections:
                connection.losing = True

    def restore(self) -> None:
        """New connections get their answers again (the ones that lost some stay cut)."""
        with self._lock:
            self._lose_new = False

    def before_next_answer(self, action: Callable[[], None]) -> None:
        """Run ``action`` once, when the server's next answer arrives, before handing it on."""
        with self._lock:
            self._before_next_answer = action

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for connection in self._connections:
                connection.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                connection = _Connection(client, server, losing=self._lose_new)
                self._connections.append(connection)
            threading.Thread(target=self._requests, args=(connection,), daemon=True).start()
            threading.Thread(target=self._answers, args=(connection,), daemon=True).start()

    def _requests(self, connection: _Connection) -> None:
        """Client to server: always forwarded."""
        with contextlib.suppress(OSError):
            while data := connection.client.recv(65536):
                connection.server.sendall(data)
        connection.close()

    def _answers(self, connection: _Connection) -> None:
        """Server to client: forwarded, unless this connection is losing its answers."""
        with contextlib.suppress(OSError):
            while data := connection.server.recv(65536):
                with self._lock:
                    action, self._before_next_answer = self._before_next_answer, None
                if action is not None:
                    action()
                if connection.losing:
                    self.answers_lost += 1
                    continue
                connection.client.sendall(data)
        connection.close()


class _Connection:
    def __init__(self, client: socket.socket, server: socket.socket, losing: bool):
        self.client = client
        self.server = server
        self.losing = losing

    def close(self) -> None:
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
