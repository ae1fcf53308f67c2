"""Prometheus metrics: every family declared once, here, and counted where things happen.

Like loggers, the families are module-level and process-wide: prometheus_client keeps one
value per process, and under gunicorn (``PROMETHEUS_MULTIPROC_DIR`` set) in one file per
worker, which the metrics endpoint adds up (``ent_idp.web.metrics``). No behaviour depends on
them. The hooks are few and at the boundaries: the web layer counts requests, the audit log
counts what it records (identifications, completed flows, CGU acceptances, validations),
``directory`` and ``store`` count their errors where they translate them, the mail queue
counts what it sends. What is read at scrape time (readiness, the mail queue's depth and
age) is a collector of the web layer, not a stored value.

The names are those of ``deploy/prometheus/ent-idp-alerts.yml`` (its header lists them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum

from prometheus_client import Counter, Histogram

# In multiprocess mode each family below opens its file there at once: say what is wrong
# before prometheus_client fails with a bare FileNotFoundError.
_SHARED = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _SHARED and not os.path.isdir(_SHARED):
    raise RuntimeError(
        f"PROMETHEUS_MULTIPROC_DIR={_SHARED} is not a directory: create it (empty, writable by "
        "this user; the unit's RuntimeDirectory=ent-idp makes /run/ent-idp) or unset it"
    )

# Seconds: a page is answered in tens of milliseconds, the final write in a few hundred
# (slapd hashing the password), anything past the LDAP timeout (5 s) is a fault.
HTTP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LDAP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class LdapErrorKind(StrEnum):
    UNAVAILABLE = "unavailable"  # refused, reset, closed by the server
    TIMEOUT = "timeout"
    TLS = "tls"  # a certificate refused, StartTLS refused
    OTHER = "other"  # an answer we did not expect (a result code)


class RedisErrorKind(StrEnum):
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    READONLY = "readonly"  # a replica after a failover
    OTHER = "other"  # OOM, LOADING, any other refusal


class MailResult(StrEnum):
    SENT = "sent"
    RETRIED = "retried"
    DEAD = "dead"


HTTP_REQUESTS = Counter(
    "ent_idp_http_requests",
    "Requests answered, by Flask endpoint (none: no route), method and status.",
    ["endpoint", "method", "status"],
)
HTTP_DURATION = Histogram(
    "ent_idp_http_request_duration_seconds",
    "Time to answer a request, body sent, by Flask endpoint (one per step of a flow).",
    ["endpoint"],
    buckets=HTTP_BUCKETS,
)
IDENTIFICATIONS = Counter(
    "ent_idp_identifications",
    "Identifications (login and password), by flow and outcome: ok, failed, held_back.",
    ["flow", "outcome"],
)
COMPLETIONS = Counter(
    "ent_idp_flows_completed",
    "Flows whose final write succeeded: activation, reinitialisation, conditions (CGU of an "
    "active account), mot-de-passe-oublie.",
    ["flow"],
)
CGU_ACCEPTANCES = Counter(
    "ent_idp_cgu_acceptances",
    "CGU versions accepted and written to the directory, by flow.",
    ["flow"],
)
VALIDATIONS = Counter(
    "ent_idp_backup_address_validations",
    "Backup addresses verified through their mailed link.",
)
AUDIT_EVENTS = Counter(
    "ent_idp_audit_events",
    "Every audit line, by event and outcome (the audit log's own words).",
    ["event", "outcome"],
)
LDAP_ERRORS = Counter(
    "ent_idp_ldap_errors",
    "Directory calls that failed, by kind: unavailable, timeout, tls, other.",
    ["kind"],
)
LDAP_DURATION = Histogram(
    "ent_idp_ldap_call_duration_seconds",
    "Time of each directory call (bind, search, modify, add, delete, extended).",
    ["operation"],
    buckets=LDAP_BUCKETS,
)
REDIS_ERRORS = Counter(
    "ent_idp_redis_errors",
    "Redis commands that failed, by kind: unavailable, timeout, readonly, other.",
    ["kind"],
)
REDIS_UNACKNOWLEDGED = Counter(
    "ent_idp_redis_unacknowledged_writes",
    "Writes users were told about that fewer replicas than [redis] wait_replicas "
    "acknowledged in time (with Sentinel): a failover now could lose them.",
)
MAILS = Counter(
    "ent_idp_mails",
    "Messages the mail worker handled, by result: sent, retried (a failure that may pass), "
    "dead (moved to the dead list).",
    ["result"],
)

FLOWS = ("activation", "reinitialisation", "conditions", "mot-de-passe-oublie")
IDENTIFYING_FLOWS = ("activation", "reinitialisation", "conditions", "compte")
OUTCOMES = ("ok", "failed", "held_back")

# Every series an alert or a dashboard divides by exists from the start, at 0: a rate over
# a series that appears only with its first event misses that event.
for _flow in IDENTIFYING_FLOWS:
    for _outcome in OUTCOMES:
        IDENTIFICATIONS.labels(_flow, _outcome)
for _flow in FLOWS:
    COMPLETIONS.labels(_flow)
for _kind in LdapErrorKind:
    LDAP_ERRORS.labels(_kind.value)
for _kind in RedisErrorKind:
    REDIS_ERRORS.labels(_kind.value)
for _result in MailResult:
    MAILS.labels(_result.value)


def audited(event: str, outcome: str, details: Mapping[str, object]) -> None:
    """Count one audit line: the audit log is where each of these things is recorded once."""
    event, outcome = str(event), str(outcome)
    AUDIT_EVENTS.labels(event, outcome).inc()
    if event == "identification":
        flow = str(details.get("flow") or "unknown")
        IDENTIFICATIONS.labels(flow, outcome.replace("-", "_")).inc()
        return
    if outcome != "ok":
        return
    if event in ("activation", "reinitialisation"):
        COMPLETIONS.labels(event).inc()
        if details.get("cgu_version"):
            CGU_ACCEPTANCES.labels(event).inc()
    elif event == "cgu":  # the CGU flow of an active account: the acceptance is the write
        COMPLETIONS.labels("conditions").inc()
        CGU_ACCEPTANCES.labels("conditions").inc()
    elif event == "password-reset":
        COMPLETIONS.labels("mot-de-passe-oublie").inc()
    elif event == "verification":
        VALIDATIONS.inc()
