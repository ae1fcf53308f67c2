"""TLS to the SMTP server checks its certificate, against a real SMTP sink speaking TLS.

The sink's certificate comes from a throw-away CA (trustme): trusted only when
``[mail] tls_ca_file`` names that CA, as a private CA would be in a deployment.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner

from devstack.ports import free_port, terminate
from devstack.smtp_sink import SmtpSink
from ent_idp import create_app
from ent_idp.cli import main
from ent_idp.mails import Sender
from ent_idp.settings import ConfigError

from .conftest import resources_of, store_of
from .mail_support import environment, start_worker, write_config

pytestmark = pytest.mark.security

UNTRUSTED = "is not trusted (certificate verify failed"


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


def tls_sink(tmp: Path, ca: trustme.CA, tls: str, *names: str) -> Iterator[SmtpSink]:
    cert = tmp / "sink.pem"
    ca.issue_cert(*names).private_key_and_cert_chain_pem.write_to_path(str(cert))
    sink = SmtpSink(tmp / "mail", free_port(), tls=tls, cert=cert)
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def starttls(tmp_path_factory, ca) -> Iterator[SmtpSink]:
    """An MTA offering STARTTLS, its certificate for 127.0.0.1 signed by the test CA."""
    yield from tls_sink(tmp_path_factory.mktemp("starttls"), ca[0], "starttls", "127.0.0.1")


@pytest.fixture(scope="module")
def implicit(tmp_path_factory, ca) -> Iterator[SmtpSink]:
    """An MTA speaking TLS from the first byte (submissions port, 465)."""
    yield from tls_sink(tmp_path_factory.mktemp("implicit"), ca[0], "implicit", "127.0.0.1")


@pytest.fixture(scope="module")
def other_name(tmp_path_factory, ca) -> Iterator[SmtpSink]:
    """A trusted certificate, but for another host name than the one ent-idp dials."""
    yield from tls_sink(tmp_path_factory.mktemp("other"), ca[0], "starttls", "mail.ent.test")


@pytest.fixture
def mail_settings(settings, stack):
    """The test settings pointed at one of the TLS sinks."""

    def make(sink: SmtpSink, **changes) -> dict:
        tls = {"MAIL_USE_TLS": sink.tls == "starttls", "MAIL_USE_SSL": sink.tls == "implicit"}
        return {**settings, "MAIL_PORT": sink.port, **tls, **changes}

    return make


@pytest.fixture
def worker_app(mail_settings):
    """An app configured for one TLS sink; the queue and the sink's mailbox start empty."""
    made = []

    def make(sink: SmtpSink, **changes):
        app = create_app(mail_settings(sink, **changes))
        store_of(app).redis.flushdb()
        sink.clear()
        made.append(app)
        return app

    yield make
    for app in made:
        resources_of(app).close()


def send_one(app) -> None:
    sender = Sender()
    with app.app_context():
        store_of(app).mail_queue.push(
            {"to": "emma.perso@example.net", "subject": "s", "text": "t", "html": "<p>t</p>"}
        )
        store_of(app).mail_queue.work_once(sender, wait=0.1, retry_seconds=60)
    sender.close()


def still_queued(app) -> bool:
    """The message waits for a retry: neither sent, nor lost, nor dead."""
    with app.app_context():
        queue = store_of(app).mail_queue
        return queue.redis.zcard(queue.delayed) == 1 and queue.redis.llen(queue.dead) == 0


@pytest.mark.parametrize("sink", ["starttls", "implicit"])
def test_a_certificate_signed_by_the_configured_ca_is_trusted(request, worker_app, ca, sink):
    """A private CA given in [mail] tls_ca_file is trusted beside the system's."""
    server = request.getfixturevalue(sink)
    app = worker_app(server, MAIL_TLS_CA_FILE=str(ca[1]))
    send_one(app)
    [message] = server.wait_for(1)
    assert message["To"] == "emma.perso@example.net"
    assert message["X-TLS"].startswith("TLSv1."), "the mail went encrypted"


@pytest.mark.parametrize("sink", ["starttls", "implicit"])
def test_an_unknown_certificate_keeps_the_mail_queued_and_says_why(
    request, worker_app, caplog, sink
):
    """Without the check anyone on the path could pose as the MTA and read every validation
    and password link. An untrusted certificate sends nothing, loses nothing (the mail waits
    for the configuration to be fixed) and the log names the problem and its fix."""
    server = request.getfixturevalue(sink)
    app = worker_app(server)
    caplog.set_level(logging.WARNING, logger="ent_idp.mailqueue")
    send_one(app)
    assert server.messages() == []
    assert still_queued(app)
    assert UNTRUSTED in caplog.text
    assert "[mail] tls_ca_file" in caplog.text


def test_a_certificate_for_another_name_is_refused(worker_app, other_name, ca, caplog):
    """A certificate is worth something only for the host it names: any trusted certificate
    of another site would otherwise do."""
    app = worker_app(other_name, MAIL_TLS_CA_FILE=str(ca[1]))
    caplog.set_level(logging.WARNING, logger="ent_idp.mailqueue")
    send_one(app)
    assert other_name.messages() == []
    assert still_queued(app)
    assert "IP address mismatch" in caplog.text
    assert "set [mail] server to the name the certificate is for" in caplog.text


def check(settings: dict, stack) -> tuple[int, list[str]]:
    admin = {
        "ADMIN_BIND_DN": stack.slapd.admin_dn,
        "ADMIN_BIND_PASSWORD": stack.slapd.admin_password,
    }
    result = CliRunner().invoke(main, ["check"], env=environment({**settings, **admin}))
    return result.exit_code, [line for line in result.stdout.splitlines() if "SMTP" in line]


def test_check_fails_on_an_untrusted_certificate_and_says_why(mail_settings, starttls, ca, stack):
    """``ent-idp check`` tries the worker's own connection: a deployment whose mail would
    wait forever is told before it goes live."""
    code, [line] = check(mail_settings(starttls), stack)
    assert code == 1
    assert line.startswith(f"FAIL  SMTP: 127.0.0.1:{starttls.port} answers: the TLS certificate")
    assert UNTRUSTED in line and "[mail] tls_ca_file" in line

    code, [line] = check(mail_settings(starttls, MAIL_TLS_CA_FILE=str(ca[1])), stack)
    assert code == 0
    assert line == f"ok    SMTP: 127.0.0.1:{starttls.port} answers"


def test_check_says_when_the_certificate_is_not_checked(mail_settings, starttls, stack):
    code, [line] = check(mail_settings(starttls, MAIL_TLS_VERIFY=False), stack)
    assert code == 0
    assert "NOT checked: [mail] tls_verify = false" in line


@pytest.mark.timeout(60)
def test_tls_verify_false_delivers_and_warns_at_start(app, mail_settings, starttls, tmp_path):
    """The explicit opt-out (a test MTA, a self-signed certificate) works, and the worker's
    log says loudly that the certificate goes unchecked."""
    starttls.clear()
    with app.app_context():
        store_of(app).mail_queue.push(
            {"to": "emma.perso@example.net", "subject": "s", "text": "t", "html": "<p>t</p>"}
        )
    config = write_config(tmp_path / "ent-idp.toml", mail_settings(starttls, MAIL_TLS_VERIFY=False))
    log = tmp_path / "worker.log"
    worker = start_worker(config, log, "--once")
    try:
        worker.wait(timeout=30)
    finally:
        terminate(worker)
    output = log.read_text()
    assert worker.returncode == 0, output
    [message] = starttls.wait_for(1)
    assert message["X-TLS"].startswith("TLSv1.")
    assert "[mail] tls_verify = false: the certificate of 127.0.0.1 is NOT checked" in output


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"MAIL_TLS_CA_FILE": "/nonexistent/ca.pem"}, r"\[mail\] tls_ca_file: cannot read"),
        ({"MAIL_USE_TLS": True, "MAIL_USE_SSL": True}, r"use_tls \(STARTTLS\) and use_ssl"),
        ({"MAIL_SENDER": "ENT"}, r"\[mail\] sender must hold a plain ASCII address"),
        ({"MAIL_SENDER": "ENT <élève@ent.test>"}, r"\[mail\] sender must hold"),
        ({"MAIL_TLS_VERIFY": "no"}, r"\[mail\] tls_verify .* must be of type bool"),
    ],
)
def test_a_mail_setting_that_cannot_work_stops_the_start(settings, changes, named):
    """Found at start with the key named, not at the first mail of the morning."""
    with pytest.raises(ConfigError, match=named):
        create_app({**settings, **changes})
