"""/healthz and /readyz with the real services: slapd, redis-server and the mail worker
(``ent-idp mail-worker``, a real process) stopped, then started again.

/readyz reuses a report for up to a second (``core/health.FRESH_SECONDS``), so each check
waits for the answer it expects against a deadline, as a load balancer would see it turn.
"""

from __future__ import annotations

import logging
import time

import pytest

from .pages import go_through
from .processes import mail_worker

pytestmark = pytest.mark.faults

READY = {"directory": "ok", "redis": "ok", "mail_queue": "ok"}


@pytest.fixture
def settings(settings):
    """The oldest mail may wait 1 s (900 by default) before /readyz fails."""
    return {**settings, "HEALTH_MAIL_QUEUE_MAX_AGE_SECONDS": 1}


def readiness_becomes(client, status: int, timeout: float = 20) -> dict:
    """The body of /readyz once it answers ``status`` (the test fails at the deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get("/readyz")
        if answer.status_code == status:
            return answer.get_json()
        assert time.monotonic() < deadline, (status, answer.status_code, answer.get_json())
        time.sleep(0.2)


def failing(*checks: str) -> dict:
    return {
        "status": "not ready",
        "checks": {name: "failing" if name in checks else "ok" for name in READY},
    }


def test_readyz_fails_while_slapd_is_stopped_and_recovers(client, stack, caplog):
    """The load balancer must stop sending users to a host that cannot identify them, and
    send them again once the directory is back; the operator reads the reason once in the
    log, not at every call."""
    caplog.set_level(logging.INFO, logger="ent_idp.health")
    assert readiness_becomes(client, 200) == {"status": "ready", "checks": READY}
    stack.slapd.stop()
    try:
        assert readiness_becomes(client, 503) == failing("directory")
        for _ in range(5):
            assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200, "the process itself is alive"
    finally:
        stack.slapd.start()
    assert readiness_becomes(client, 200)["status"] == "ready"
    told = [r.getMessage() for r in caplog.records if r.name == "ent_idp.health"]
    assert len(told) == 2, told
    assert told[0].startswith("readiness: directory failing") and told[1].endswith("ok again")


def test_readyz_fails_while_redis_is_stopped_and_recovers(client, stack):
    """Without Redis no flow can move (flow state, throttles, mail queue): not ready. The
    mail queue cannot be read either, so it is failing too."""
    assert readiness_becomes(client, 200)["status"] == "ready"
    stack.redis.stop()
    try:
        assert readiness_becomes(client, 503) == failing("redis", "mail_queue")
        assert client.get("/healthz").status_code == 200
    finally:
        stack.redis.start()
    assert readiness_becomes(client, 200) == {"status": "ready", "checks": READY}


def test_readyz_fails_while_the_mail_worker_is_stopped_and_recovers(
    client, app, settings, accounts, stack, tmp_path
):
    """A stopped mail worker loses no mail but delays every validation link: once the
    oldest waiting mail is older than [health] mail_queue_max_age_seconds, /readyz says so
    (and the alert fires); the worker started again sends it and readiness comes back."""
    values = {key: value for key, value in settings.items() if key != "TESTING"}
    worker = mail_worker(values, tmp_path)
    worker.wait_for(lambda line: "mail worker: sending" in line.get("message", ""))
    worker.stop()
    assert readiness_becomes(client, 200)["status"] == "ready"
    go_through(client, "activation", accounts.create("pending"))  # queues the validation mail
    assert readiness_becomes(client, 503) == failing("mail_queue")

    worker = mail_worker(values, tmp_path)
    try:
        assert readiness_becomes(client, 200) == {"status": "ready", "checks": READY}
        assert len(stack.smtp.wait_for(1)) == 1
    finally:
        worker.stop()


@pytest.mark.security
def test_readyz_is_never_throttled_nor_logged_and_tells_no_secret(client, settings, caplog):
    """A load balancer asks every second from one address, forever: it is never held back,
    fills no log, and reads only ok or failing per check (no host, no account, no error
    text a passer-by could use), whether the app is ready or not."""
    caplog.set_level(logging.INFO)
    answers = [client.get(path) for _ in range(60) for path in ("/readyz", "/healthz")]
    assert {answer.status_code for answer in answers} == {200}
    bodies = {answer.get_data(as_text=True) for answer in answers}
    assert bodies == {
        '{"status": "ready", "checks": {"directory": "ok", "redis": "ok", "mail_queue": "ok"}}',
        '{"status": "alive"}',
    }
    assert all("Set-Cookie" not in answer.headers for answer in answers)
    assert [r for r in caplog.records if r.name in ("ent_idp.request", "ent_idp.audit")] == []
    assert client.post("/readyz").status_code == 405


@pytest.mark.security
def test_a_failing_readyz_names_no_host_nor_error(stack, client):
    """Even failing, the body is the fixed list of checks: the directory's address, its
    error text and the service account stay in the log, which only the operator reads."""
    stack.slapd.stop()
    try:
        body = readiness_becomes(client, 503)
        text = client.get("/readyz").get_data(as_text=True)
    finally:
        stack.slapd.start()
    assert body == failing("directory")
    for leak in (str(stack.slapd.port), "127.0.0.1", "ldap", "cn=", "refused"):
        assert leak not in text.lower()
