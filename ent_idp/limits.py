"""Bounded request bodies: anything over ``[http] max_content_length`` is a 413 page.

Werkzeug refuses a body whose Content-Length is too large before reading it, but a body
without one (``Transfer-Encoding: chunked``) is only cut at the limit, and the cut form
parsed as if it were whole. So before anything reads the form (the CSRF check comes next),
such a body is read up to one byte past the limit: over it, 413; within it, the form is
parsed from what was read.

A server that answers before reading a body and then closes the connection makes the
client's kernel drop the answer when the rest of the body arrives (a TCP reset): the user
sees « connection reset », not the page. So the rest of a refused body is read and thrown
away first, as a reverse proxy's lingering close does, within bounds (``DRAIN_BYTES``,
``DRAIN_SECONDS``) so a slow or endless upload cannot hold a worker thread.
"""

from __future__ import annotations

import io
import time

from flask import Flask, Response, abort, render_template, request

DRAIN_BYTES = 64 * 1024 * 1024  # a refused body is read and dropped up to this much…
DRAIN_SECONDS = 3.0  # …for at most this long; past either, the connection is just closed


def init_app(app: Flask) -> None:
    """Register the check first: it must run before Flask-WTF's CSRF check reads the form."""
    limit = app.config["MAX_CONTENT_LENGTH"]

    @app.before_request
    def bound_the_body() -> None:
        length = request.content_length
        stream = request.environ["wsgi.input"]
        if length is not None:
            if length > limit:
                _refuse(stream, length)  # nothing of it parsed
            return
        if "wsgi.input_terminated" not in request.environ:
            return  # Werkzeug reads nothing of a body of unknown length the server left open
        body = _read_at_most(stream, limit + 1)
        if len(body) > limit:
            _refuse(stream, DRAIN_BYTES)
        request.environ["wsgi.input"] = io.BytesIO(body)


def _refuse(stream, length: int) -> None:
    """The 413 page, once what can be read of the body is read and dropped; then close.

    ``length``: what is left to read (the Content-Length; a chunked body ends by itself).
    """
    _drain(stream, min(length, DRAIN_BYTES))
    response = Response(render_template("errors/413.html", reason=None), 413)
    response.headers["Connection"] = "close"
    abort(response)


def _drain(stream, left: int) -> None:
    """Read and drop ``left`` bytes at most, for DRAIN_SECONDS at most (never past the body:
    some servers' input streams wait for more once it is read)."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while left > 0 and time.monotonic() < deadline:
        chunk = stream.read(min(left, 65536))
        if not chunk:
            return
        left -= len(chunk)


def _read_at_most(stream, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = stream.read(min(left, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
