"""The audit log: one structured line per security event, never a secret.

Each line is also counted (``ent_idp.metrics.audited``): identifications by outcome,
completed flows, CGU acceptances, validations come from here, so the metrics and the audit
log cannot tell different stories.
"""

from __future__ import annotations

import json
import logging
import time

from flask import has_request_context, request

from . import metrics

log = logging.getLogger("ent_idp.audit")


def event(name: str, login: str, outcome: str, **details: object) -> None:
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "event": name,
        "login": login[:256],
        "outcome": outcome,
        "client": request.remote_addr if has_request_context() else None,
        **details,
    }
    # The message is the record as JSON (what a plain handler writes); the JSON log lines
    # carry it as an object under "audit" (ent_idp.logs), their marker for audit events.
    text = json.dumps(record, ensure_ascii=False, sort_keys=True)
    log.info(text, extra={"audit": json.loads(text)})
    metrics.audited(name, outcome, details)
