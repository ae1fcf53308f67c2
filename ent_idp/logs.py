"""Log lines: one JSON object per line on stderr, for the app and the mail worker alike.

Each line carries ``time`` (UTC, milliseconds), ``level``, ``logger``, ``ent`` (the key
of the request's ENT, of the ENT queued work is for, else the default ENT's), and, during
a request, its ``request_id`` and ``route`` (Flask's endpoint); then
either ``message`` or, for an audit event, ``audit`` (the event's record as an object: the
marker that tells audit lines from the others). A request's own line (``ent_idp.request``)
adds ``method``, ``path``, ``status``, ``duration_ms`` and ``client``. Every string the
formatter writes goes through the app's redaction first (link tokens and CAS tickets become
``…``), whatever logger wrote it.

``configure`` installs this on the root logger once per process, unless something already
configured logging (a test runner, a WSGI server of one's own).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import has_request_context, request

REQUEST_ID = "ent_idp.request_id"  # in the WSGI environ: the request's id (web.telemetry)
ENT = "ent_idp.ent"  # in the WSGI environ: the key of the request's ENT (web.ents)
FIELDS = "json_fields"  # a record's extra fields: logger.info(..., extra={FIELDS: {...}})


# Work done later for a request (the mail worker handling a « Mot de passe oublié »
# request) is logged with that request's id: ``on_behalf_of``.
_later: ContextVar[str | None] = ContextVar("ent_idp_request_id", default=None)
_later_ent: ContextVar[str | None] = ContextVar("ent_idp_ent", default=None)


def current_request_id() -> str | None:
    """The id of the request in context, if any (to carry it into queued work)."""
    return request.environ.get(REQUEST_ID) if has_request_context() else _later.get()


def current_ent_key() -> str | None:
    """The key of the ENT the request in context (or the work in hand) is for, if known."""
    if has_request_context():
        return request.environ.get(ENT)
    return _later_ent.get()


@contextmanager
def on_behalf_of(request_id: object, ent: object = None) -> Iterator[None]:
    """Log (and queue mail) under the id of the request that asked for this work (and the
    key of its ENT)."""
    token = _later.set(request_id if isinstance(request_id, str) else None)
    ent_token = _later_ent.set(ent if isinstance(ent, str) else None)
    try:
        yield
    finally:
        _later_ent.reset(ent_token)
        _later.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, ent: str, redact: Callable[[str], str]):
        super().__init__()
        self.ent = ent
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "ent": current_ent_key() or self.ent,
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        if has_request_context():
            entry["route"] = request.endpoint
        audit = getattr(record, "audit", None)
        if isinstance(audit, dict):
            entry["audit"] = audit
        else:
            entry["message"] = self.redact(record.getMessage())
        for key, value in (getattr(record, FIELDS, None) or {}).items():
            entry[key] = self.redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(ent: str, redact: Callable[[str], str]) -> bool:
    """JSON lines on stderr at INFO, if nothing configured logging yet; whether it did."""
    root = logging.getLogger()
    if root.handlers:
        return False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(ent, redact))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return True


def _timestamp(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"
