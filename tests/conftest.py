"""Real services for the whole test session: slapd, redis-server, an SMTP sink.

They start once, on free ports, from the files in this repository (ldap_schema/ and
devstack/); each test gets a fresh app, an empty Redis, an empty mailbox and accounts of its
own, removed after it.
"""

from __future__ import annotations

import random
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ldap3
import pytest
from playwright.sync_api import Browser, sync_playwright

from devstack.cas_server import CasServer
from devstack.ports import free_port
from devstack.redis_server import RedisServer
from devstack.slapd import Slapd
from devstack.smtp_sink import SmtpSink
from ent_idp import create_app
from ent_idp.core.resources import resources as app_resources
from ent_idp.domain import forgotten_login, forgotten_password, unlock
from ent_idp.mails import Sender

from .accounts import AccountFactory
from .browser_support import CHROMIUM, CHROMIUM_ARGS, serve
from .esco_support import esco_cas, esco_slapd  # noqa: F401 (session fixtures)

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_URL = "http://ent-idp.test/"
CAS_URL = "http://cas.test/cas/"
DEFAULT_SERVICE = "http://ent.test/portail/"
CGU_VERSION = "2026-09"
INTERRUPT_PASSWORD = secrets.token_urlsafe(24)


@dataclass
class Stack:
    slapd: Slapd
    redis: RedisServer
    smtp: SmtpSink


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("stack")
    slapd = Slapd(base / "slapd", free_port(), service_password=secrets.token_urlsafe(16))
    redis_server = RedisServer(base / "redis", free_port())
    smtp = SmtpSink(base / "mail", free_port())
    started = []
    try:
        for service in (slapd, redis_server, smtp):
            service.start()
            started.append(service)
        yield Stack(slapd, redis_server, smtp)
    finally:
        for service in reversed(started):
            service.stop()


def _port_outside_the_ephemeral_range() -> int:
    """A free port the kernel never hands to an outgoing connection: the session's browser
    tests bind it again and again, and a free port taken from the ephemeral range may be
    some connection's local port by then ("Address already in use")."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return free_port()
    candidates = list(range(max(1024, low - 8000), low))
    random.shuffle(candidates)
    for port in candidates[:200]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


@pytest.fixture(scope="session")
def live_url() -> str:
    """Where browser tests serve the app: one port for the session, known to CAS."""
    return f"http://127.0.0.1:{_port_outside_the_ephemeral_range()}/"


@pytest.fixture(scope="session")
def cas_server(stack: Stack, live_url: str, tmp_path_factory) -> Iterator[CasServer]:
    """A real CAS (django-cas-server), authenticating by bind against the test slapd."""
    server = CasServer(
        tmp_path_factory.mktemp("cas"),
        free_port(),
        ldap_url=stack.slapd.url,
        people_dn=stack.slapd.people_dn,
        bind_dn=stack.slapd.service_dn,
        bind_password=stack.slapd.service_password,
        ent_idp_url=live_url,
        services=[PUBLIC_URL, live_url, "http://ent.test/"],
        single_log_out=True,  # CAS posts a logoutRequest to the services a user visited
    )
    server.start()
    yield server
    server.stop()


def app_settings(slapd: Slapd | None = None, redis_url: str = "", smtp_port: int = 0) -> dict:
    """The app's settings for one test: pointing at the real services when given, else at
    addresses nothing listens on (for tests that start the app and call no service)."""
    nowhere = "ldap://127.0.0.1:9"
    return {
        "TESTING": True,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "PUBLIC_URL": PUBLIC_URL,
        "LDAP_URL": slapd.url if slapd else nowhere,
        "LDAP_BIND_DN": slapd.service_dn if slapd else "cn=ent-idp,ou=services,dc=ent,dc=test",
        "LDAP_BIND_PASSWORD": slapd.service_password if slapd else "no-service-here",
        "LDAP_PEOPLE_DN": slapd.people_dn if slapd else "ou=people,dc=ent,dc=test",
        "LDAP_DECOY_DN": slapd.decoy_dn if slapd else "uid=decoy,ou=people,dc=ent,dc=test",
        "LDAP_TIMEOUT": 3,
        "REDIS_URL": redis_url or "redis://127.0.0.1:9/0",
        "CAS_URL": CAS_URL,
        "CAS_ALLOWED_SERVICES": ["http://ent.test/", "https://lycee.ent.test/app/"],
        "CAS_DEFAULT_SERVICE": DEFAULT_SERVICE,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_port or 9,
        "MAIL_SENDER": "ENT <ne-pas-repondre@ent.test>",
        "MAIL_RETRY_SECONDS": 0,
        "CGU_VERSION": CGU_VERSION,
        "CGU_TEXT_FILE": str(ROOT / "config" / "cgu.example.txt"),
        "CGU_TEXT_FILE_EN": str(ROOT / "config" / "cgu.example.en.txt"),
        "ENT_NAME": "ENT de test",
        "CAS_INTERRUPT_USERNAME": "cas",
        "CAS_INTERRUPT_PASSWORD": INTERRUPT_PASSWORD,
        "ALLOWED_HOSTS": ["localhost"],  # Flask's test client speaks as "localhost"
        # No metrics port unless a test asks for one (a fixed port would be shared by every
        # server a test starts): tests/test_metrics.py gives free ones.
        "METRICS_BIND": "",
        "METRICS_WORKER_BIND": "",
    }


@pytest.fixture
def settings(stack: Stack) -> dict:
    """The app's settings for one test, pointing at the real services."""
    return app_settings(stack.slapd, stack.redis.url, stack.smtp.port)


@pytest.fixture
def plain_settings() -> dict:
    """Settings for tests that need no service (configuration, branding): none is started."""
    return app_settings()


def resources_of(app):
    """What the app built at start-up (directory, store, settings)."""
    return app.extensions["ent_idp"]


def store_of(app):
    return resources_of(app).store


@pytest.fixture
def app(settings: dict, stack: Stack):
    app = create_app(settings)
    store_of(app).redis.flushdb()
    stack.smtp.clear()
    yield app
    resources_of(app).close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def accounts(stack: Stack) -> Iterator[AccountFactory]:
    factory = AccountFactory(stack.slapd)
    yield factory
    factory.remove_all()


@pytest.fixture
def deliver(app, stack: Stack):
    """Run the mail worker until the queue is empty; return the mailbox."""

    def run(expected: int | None = None) -> list:
        with app.app_context():
            forgotten_password.process_requests()
            unlock.process_requests()
            forgotten_login.process_requests()
            queue = app_resources().store.mail_queue
            sender = Sender()  # as the mail worker sends
            for _ in range(50):  # bounded: with SMTP down every try fails and re-queues
                if not queue.work_once(sender, wait=0.1, retry_seconds=0):
                    break
            sender.close()
        if expected is not None:
            return stack.smtp.wait_for(expected)
        return stack.smtp.messages()

    return run


@pytest.fixture
def admin(stack: Stack) -> Iterator[ldap3.Connection]:
    conn = stack.slapd.admin_connection()
    yield conn
    conn.unbind()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, driven by Playwright (no browser download)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_app(settings: dict, live_url: str) -> Iterator[str]:
    """The app served on a real port, as a browser meets it."""
    yield from serve(settings, live_url)


_security_outcomes: dict[str, tuple[str, bool]] = {}


def pytest_runtest_logreport(report) -> None:
    if "security" in report.keywords and (report.when == "call" or report.outcome == "failed"):
        _security_outcomes[report.nodeid] = (report.outcome, "faults" in report.keywords)


def pytest_terminal_summary(terminalreporter) -> None:
    """``make test-security`` ends by saying how many attacks and faults it tried."""
    if not _security_outcomes:
        return
    outcomes = list(_security_outcomes.values())
    faults = sum(1 for _, is_fault in outcomes if is_fault)
    passed = sum(1 for outcome, _ in outcomes if outcome == "passed")
    terminalreporter.write_line(
        f"security: {len(outcomes) - faults} attacks and {faults} faults tried, "
        f"{passed} held, {len(outcomes) - passed} did not"
    )
