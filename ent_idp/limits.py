"""Bounded request bodies: anything over ``[http] max_content_length`` is a 413 page.

Werkzeug refuses a body whose Content-Length is too large before reading it, but a body
without one (``Transfer-Encoding: chunked``) is only cut at the limit, and the cut form
parsed as if it were whole. So before anything reads the form (the CSRF check comes next),
such a body is read up to one byte past the limit: over it, 413; within it, the form is
parsed from what was read.
"""

from __future__ import annotations

import io

from flask import Flask, abort, request


def init_app(app: Flask) -> None:
    """Register the check first: it must run before Flask-WTF's CSRF check reads the form."""
    limit = app.config["MAX_CONTENT_LENGTH"]

    @app.before_request
    def bound_the_body() -> None:
        length = request.content_length
        if length is not None:
            if length > limit:
                abort(413)  # not read at all
            return
        if "wsgi.input_terminated" not in request.environ:
            return  # Werkzeug reads nothing of a body of unknown length the server left open
        body = _read_at_most(request.environ["wsgi.input"], limit + 1)
        if len(body) > limit:
            abort(413)
        request.environ["wsgi.input"] = io.BytesIO(body)


def _read_at_most(stream, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = stream.read(min(left, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
