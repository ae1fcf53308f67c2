"""The audit log: one structured line per security event, never a secret."""

from __future__ import annotations

import json
import logging
import time

from flask import has_request_context, request

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
    log.info(json.dumps(record, ensure_ascii=False, sort_keys=True))
