"""A body over the limit gets its 413 page on a server that hands the app the raw socket."""

from __future__ import annotations

import socket
import threading

import pytest
from werkzeug.serving import make_server

from devstack.ports import free_port
from ent_idp import create_app

pytestmark = pytest.mark.security


def test_a_refused_body_of_known_length_is_read_to_its_end_only(plain_settings):
    """The rest of a refused body is read and dropped before the 413 (so the client is not
    reset). With Werkzeug's server the app reads the socket itself: reading past the
    declared length would wait for bytes the client never sends, and hold the page (and a
    thread) until the client gives up."""
    app = create_app({**plain_settings, "PUBLIC_URL": "http://127.0.0.1/"})
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    body = b"login=" + b"x" * 70_000
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(
                b"POST /activation HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )  # and the connection stays open, as a browser's does
            answer = client.recv(4096)
    finally:
        server.shutdown()
        server.server_close()
        app.extensions["ent_idp"].close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
