"""Prometheus metrics, read as Prometheus reads them: from ``ent-idp serve`` (two gunicorn
workers adding up their counts in PROMETHEUS_MULTIPROC_DIR) and ``ent-idp mail-worker``,
each on a port of its own, after a user's activation, a throttled identification and a sent
mail; and what is counted in-process (the kinds of directory and Redis errors).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import requests
from ldap3.core import exceptions as ldap_errors
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from devstack.ports import free_port
from ent_idp import create_app
from ent_idp.directory.errors import error_kind
from ent_idp.settings import DEFAULTS
from ent_idp.store.client import error_kind as redis_error_kind

from .pages import go_through, identify, link_in, submit
from .processes import Browser, mail_worker, serve

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "deploy" / "prometheus" / "ent-idp-alerts.yml"


def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    """Every sample at http://127.0.0.1:<port>/metrics: (name, labels) -> value."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def deployed(app, settings, tmp_path):
    """``ent-idp serve`` (2 workers) and the mail worker, with their metrics ports."""
    app_port, metrics_port, worker_port = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{app_port}/"
    values = {
        **settings,
        "PUBLIC_URL": url,
        "ALLOWED_HOSTS": [],
        "METRICS_BIND": f"127.0.0.1:{metrics_port}",
        "METRICS_WORKER_BIND": f"127.0.0.1:{worker_port}",
    }
    values.pop("TESTING")
    shared = tmp_path / "metrics"
    shared.mkdir()
    (tmp_path / "worker").mkdir()
    server = serve(
        values, tmp_path, app_port, workers=2, env={"PROMETHEUS_MULTIPROC_DIR": str(shared)}
    )
    worker = mail_worker(values, tmp_path / "worker")
    try:
        worker.wait_for(lambda line: "mail worker: sending" in line.get("message", ""))
        yield url, metrics_port, worker_port
    finally:
        worker.stop()
        server.stop()


def test_metrics_count_an_activation_a_throttled_identification_and_a_sent_mail(
    deployed, accounts, stack
):
    url, metrics_port, worker_port = deployed
    account = accounts.create("pending")
    browser = Browser(url)
    for _ in range(6):  # 5 failures are free; the 6th attempt is held back, with no bind
        held = identify(browser, "activation", "quelqu.un", "Mauvais-2026")
    assert held.status_code == 429
    page = go_through(browser, "activation", account)
    assert "Compte activé" in page.get_data(as_text=True)
    [message] = stack.smtp.wait_for(1)
    submit(browser, link_in(message).removeprefix(url.rstrip("/")), {})
    for _ in range(5):
        assert browser.get("readyz").status_code == 200

    app = scrape(metrics_port)
    assert value(app, "ent_idp_flows_completed_total", flow="activation") == 1
    assert value(app, "ent_idp_cgu_acceptances_total", flow="activation") == 1
    assert value(app, "ent_idp_backup_address_validations_total") == 1
    counted = {"flow": "activation"}
    assert value(app, "ent_idp_identifications_total", **counted, outcome="ok") == 1
    assert value(app, "ent_idp_identifications_total", **counted, outcome="failed") == 5
    assert value(app, "ent_idp_identifications_total", **counted, outcome="held_back") == 1
    final = {"endpoint": "flow.password", "method": "POST", "status": "302"}
    assert value(app, "ent_idp_http_requests_total", **final) == 1
    held_back = {"endpoint": "flow.identification", "method": "POST", "status": "429"}
    assert value(app, "ent_idp_http_requests_total", **held_back) == 1
    steps = value(app, "ent_idp_http_request_duration_seconds_count", endpoint="flow.password")
    assert steps >= 2  # the page, then its form: one histogram per step
    assert value(app, "ent_idp_ldap_call_duration_seconds_count", operation="bind") >= 6
    assert value(app, "ent_idp_ldap_call_duration_seconds_count", operation="modify") >= 2
    assert value(app, "ent_idp_ready") == 1
    assert value(app, "ent_idp_ready_check", check="directory") == 1
    assert value(app, "ent_idp_mail_queue_depth") == 0
    endpoints = {dict(labels).get("endpoint") for _, labels in app}
    assert not any("readyz" in str(name) for name in endpoints), "health calls are not counted"

    worker = scrape(worker_port)
    assert value(worker, "ent_idp_mails_total", result="sent") == 1
    assert value(worker, "ent_idp_mails_total", result="dead") == 0
    assert value(worker, "ent_idp_mail_queue_oldest_seconds") == 0

    documented = set(re.findall(r"^#\s+(ent_idp_\w+)", ALERTS.read_text(), re.M))
    exposed = {
        re.sub(r"_(bucket|count|sum)$", "", name)
        for name, _ in [*app, *worker]
        if name.startswith("ent_idp_") and not name.endswith("_created")
    }
    assert documented <= exposed, "the alerts' metrics exist"
    assert exposed <= documented, "the alerts file's header lists every metric"


@pytest.mark.security
def test_metrics_are_on_a_port_of_their_own_on_the_loopback_by_default(client):
    """Metrics tell who uses the service, when, and how it fails: they are for Prometheus,
    never for the public. They are not on the app's port (nginx proxies that one) and their
    own port listens on the loopback unless the operator says otherwise."""
    assert client.get("/metrics").status_code == 404
    for key in ("bind", "worker_bind"):
        assert DEFAULTS[("metrics", key)].startswith("127.0.0.1:")


def test_serve_refuses_workers_that_would_count_apart(settings, tmp_path):
    """Without PROMETHEUS_MULTIPROC_DIR each gunicorn worker would count for itself and a
    scrape would read one of them at random: serve says what to set instead of lying."""
    from .processes import config_file

    values = {**settings, "METRICS_BIND": f"127.0.0.1:{free_port()}"}
    values.pop("TESTING")
    result = subprocess.run(
        [sys.executable, "-m", "ent_idp", "serve", "--bind", f"127.0.0.1:{free_port()}"]
        + ["--workers", "2", "--config", str(config_file(values, tmp_path))],
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "PROMETHEUS_MULTIPROC_DIR" in result.stderr and "/run/ent-idp" in result.stderr


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.faults
def test_an_unreachable_directory_and_redis_are_counted_as_unavailable(settings, stack):
    """ent_idp_ldap_errors_total and ent_idp_redis_errors_total rise when a user meets the
    503 page, so the alerts fire before the calls do."""
    for broken, name in (
        ({"LDAP_URL": "ldap://127.0.0.1:9"}, "ent_idp_ldap_errors_total"),
        ({"REDIS_URL": "redis://127.0.0.1:9/0"}, "ent_idp_redis_errors_total"),
    ):
        before = sample(name, kind="unavailable")
        app = create_app({**settings, **broken})
        page = submit(app.test_client(), "/activation", {"login": "a.b", "password": "x"})
        assert page.status_code == 503
        assert sample(name, kind="unavailable") > before
        app.extensions["ent_idp"].close()


@pytest.mark.parametrize(
    ("exception", "kind"),
    [
        (
            ldap_errors.LDAPSocketOpenError("socket connection error: Connection refused"),
            "unavailable",
        ),
        (ldap_errors.LDAPSocketOpenError("socket connection error: timed out"), "timeout"),
        (ldap_errors.LDAPResponseTimeoutError("no response from server"), "timeout"),
        (ldap_errors.LDAPSessionTerminatedByServerError("session terminated"), "unavailable"),
        (ldap_errors.LDAPStartTLSError("startTLS failed"), "tls"),
        (
            ldap_errors.LDAPSocketOpenError(
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
            ),
            "tls",
        ),
        (ldap_errors.LDAPInvalidFilterError("bad filter"), "other"),
    ],
)
def test_directory_errors_are_told_apart(exception, kind):
    assert error_kind(exception).value == kind


@pytest.mark.parametrize(
    ("exception", "kind"),
    [
        (redis.exceptions.ConnectionError("Connection refused"), "unavailable"),
        (redis.exceptions.TimeoutError("Timeout reading from socket"), "timeout"),
        (
            redis.exceptions.ReadOnlyError("You can't write against a read only replica."),
            "readonly",
        ),
        (redis.exceptions.ResponseError("OOM command not allowed"), "other"),
    ],
)
def test_redis_errors_are_told_apart(exception, kind):
    assert redis_error_kind(exception).value == kind
