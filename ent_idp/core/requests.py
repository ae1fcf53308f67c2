"""Requests handled off the request path by the mail worker.

« Mot de passe oublié » and « Débloquer mon compte » queue the login, « Identifiant oublié »
the names and address typed, so the page, its status and its timing are the same whether an
account matches or not; the mail worker looks the account up later, in the language the
request was made in.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable

from flask_babel import force_locale

from .. import audit
from ..errors import DirectoryUnavailable, StoreUnavailable
from ..languages import DEFAULT, LANGUAGES, current_language
from ..logs import current_request_id, on_behalf_of
from ..settings import Ent
from ..store import Limit
from ..store.requests import RequestQueue
from .addresses import client_scope
from .resources import resources

log = logging.getLogger(__name__)

# Requests per client address, and links per account, each hour.
PER_ADDRESS = 30
PER_ACCOUNT = 3


def ask(
    ent: Ent,
    queue: RequestQueue,
    event: str,
    fields: dict[str, str],
    *,
    login: str = "",
    scopes: Iterable[tuple[Limit, str]] = (),
    **details: object,
) -> None:
    """Queue the request (``fields``; ``event``: its audit name) for ``ent``, unless this
    client, or a scope of ``scopes`` (more ``(limit, scope)`` to count), asked too often.

    ``login`` and ``details`` go into its audit lines, nothing else of ``fields`` does.
    """
    per_client = Limit(f"{event}-address", most=PER_ADDRESS, window_seconds=3600)
    limits = resources().store.limits
    checks = [(per_client, client_scope()), *scopes]
    if not all(limits.admit(limit, scope) for limit, scope in checks):
        audit.event(event, login, "held-back", **details)
        return
    queued = {
        **fields,
        "ent": ent.key,
        "at": time.time(),
        "lang": current_language(),
        "request_id": current_request_id(),
    }
    if not queue.push(json.dumps(queued)):
        audit.event(event, login, "dropped", reason="queue-full", **details)
        return
    audit.event(event, login, "queued", **details)


def within_link_limit(event: str, dn: str) -> bool:
    """Count one more link for the account; False once past ``PER_ACCOUNT`` this hour."""
    limit = Limit(f"{event}-account", most=PER_ACCOUNT, window_seconds=3600)
    return resources().store.limits.admit(limit, dn)


def process(
    queue: RequestQueue, event: str, handle: Callable[[Ent, dict], None], most: int = 100
) -> int:
    """Handle queued requests (the mail worker's job: ``handle`` gets the ENT each is for,
    and the request as it was queued, its fields and ``at``, ``lang``); returns how many
    were handled. A request queued before there were several ENTs is the default ENT's.

    A directory that does not answer puts the request back (the oldest again, next time)
    and stops; a request that cannot be handled otherwise (damaged, or an error of ours) is
    logged and dropped: one request must not stop the worker, nor the mail of everyone else.
    """
    handled = 0
    while handled < most:
        raw = queue.pop()
        if raw is None:
            break
        try:
            queued = json.loads(raw)
            language = queued.get("lang") if queued.get("lang") in LANGUAGES else DEFAULT
            ent = resources().settings.ent(queued.get("ent"))
            # The mail in the language the user asked in; the log under their request's id.
            with force_locale(language), on_behalf_of(queued.get("request_id"), ent.key):
                handle(ent, queued)
        except DirectoryUnavailable:
            queue.put_back(raw)
            raise
        except StoreUnavailable:
            raise
        except Exception:  # whatever it is, one request must not stop the worker
            log.exception("%s request dropped: it could not be handled", event)
            audit.event(event, "", "failed")
        handled += 1
    return handled
