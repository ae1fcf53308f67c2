"""The logs of whole user sessions, read from the real processes: ``ent-idp serve`` and
``ent-idp mail-worker`` writing JSON lines, while a user goes through an activation,
« Mot de passe oublié », « Débloquer mon compte » and « Mon compte » (through the real CAS).

Each test then looks for every secret it came across (passwords typed, the link tokens
mailed, the CAS ticket, cookies, CSRF tokens, the app's own secrets) in both outputs, and
follows the request id from the response header to the request line, the audit lines and
the mail worker's line for the mail that request queued.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest

from .cas_client import cas_login
from .conftest import CGU_VERSION
from .pages import go_through, identify, link_in, submit, text
from .processes import Browser, Process, mail_worker, serve

pytestmark = pytest.mark.security

NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"
ACTIVE_PASSWORD = "Deja-Actif-2026!"
BACKUP = "emma.perso@example.net"
_CSRF = re.compile(r'name="(?:[\w-]+-)?csrf_token" type="hidden" value="([^"]+)"')


@dataclass
class Deployment:
    url: str
    server: Process
    worker: Process
    settings: dict
    known: set[str] = field(default_factory=set)  # every secret the test came across

    def browser(self) -> Browser:
        return Browser(self.url)

    def link(self, message, path: str) -> str:
        """The link of a mail (its token is a secret from now on)."""
        link = link_in(message, path)
        self.known.add(link.rsplit("/", 1)[1])
        return link


@pytest.fixture
def deployed(app, settings, cas_server, live_url, tmp_path):
    """``ent-idp serve`` on the port CAS knows, and the mail worker; Redis emptied (``app``)."""
    values = {**settings, "PUBLIC_URL": live_url, "CAS_URL": cas_server.url}
    values["ALLOWED_HOSTS"] = []
    values.pop("TESTING")
    port = int(live_url.rsplit(":", 1)[1].strip("/"))
    server = serve(values, tmp_path, port)
    (tmp_path / "worker").mkdir()
    worker = mail_worker(values, tmp_path / "worker")
    app_secrets = ("SECRET_KEY", "LDAP_BIND_PASSWORD", "CAS_INTERRUPT_PASSWORD")
    deployment = Deployment(live_url, server, worker, values, {values[k] for k in app_secrets})
    try:
        worker.wait_for(lambda line: "mail worker: sending" in line.get("message", ""))
        yield deployment
    finally:
        worker.stop()
        server.stop()


def check_logs(deployment: Deployment, browser: Browser) -> list[dict]:
    """No secret in either output; the request id of every answer followed through the
    logs. Returns the app's lines."""
    for answer in browser.answers:
        deployment.known.update(_CSRF.findall(answer.get_data(as_text=True)))
    deployment.known.update(cookie.value for cookie in browser.session.cookies)
    ids = [answer.headers["X-Request-ID"] for answer in browser.answers]
    lines = request_lines(deployment.server, ids)
    worker_lines = deployment.worker.lines()
    logged = deployment.server.text() + deployment.worker.text()
    for secret in deployment.known:
        assert len(secret) >= 8 and secret not in logged, secret

    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and len(set(ids)) == len(ids)
    requests_ = {line["request_id"]: line for line in lines if line["logger"] == "ent_idp.request"}
    assert set(ids) <= set(requests_), "each answer's id names its request line"
    for answer in browser.answers:
        line = requests_[answer.headers["X-Request-ID"]]
        # "ent": the key of the request's ENT (one ENT here: the top-level one, ent_key).
        assert (line["status"], line["ent"]) == (answer.status_code, "ent")
        assert line["route"] and line["duration_ms"] >= 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    audits = [line for line in lines if "audit" in line]
    assert audits and all(line["request_id"] in ids for line in audits), audits
    assert all(line["logger"] == "ent_idp.audit" and "message" not in line for line in audits)
    sent = [line for line in worker_lines if line.get("message", "").startswith("mail sent")]
    assert sent and all(line.get("request_id") in ids for line in sent), sent
    worker_audits = [line for line in worker_lines if "audit" in line]
    assert all(line.get("request_id") in ids for line in worker_audits), worker_audits
    return lines


def request_lines(server: Process, ids: list[str], timeout: float = 10) -> list[dict]:
    """The app's lines once each of ``ids`` has its request line: a request's line is
    written when its body is sent, so the client may read the answer a moment before."""
    deadline = time.monotonic() + timeout
    while True:
        lines = server.lines()
        logged = {line.get("request_id") for line in lines if line["logger"] == "ent_idp.request"}
        if set(ids) <= logged or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def events(lines: list[dict]) -> list[tuple[str, str]]:
    return [(line["audit"]["event"], line["audit"]["outcome"]) for line in lines if "audit" in line]


def test_a_whole_activation_logs_its_request_ids_and_no_secret(deployed, accounts, stack):
    """Logs are read by more people than the directory (admins, log shippers, backups): a
    password, a link token, a cookie in them would let their reader act as the user. The
    request id in the response header leads an operator to every line of that request,
    and to the mail it queued."""
    account = accounts.create("pending")
    deployed.known |= {account["password"], NEW_PASSWORD}
    browser = deployed.browser()
    page = go_through(browser, "activation", account, new_password=NEW_PASSWORD)
    assert "Compte activé" in text(page)
    [message] = stack.smtp.wait_for(1)
    submit(browser, deployed.link(message, "validation"), {})
    lines = check_logs(deployed, browser)
    assert ("activation", "ok") in events(lines) and ("verification", "ok") in events(lines)


def _active_account(deployed, accounts) -> dict:
    """An active account with a verified backup address; its passwords are secrets to find."""
    deployed.known |= {ACTIVE_PASSWORD, NEW_PASSWORD}
    return accounts.create(
        "active",
        password=ACTIVE_PASSWORD,
        backup_mail=BACKUP,
        backup_verified=True,
        cgu_version=CGU_VERSION,
    )


def test_mot_de_passe_oublie_logs_no_secret(deployed, accounts, stack):
    account = _active_account(deployed, accounts)
    browser = deployed.browser()
    submit(browser, "mot-de-passe-oublie", {"login": account["login"]})
    [message] = stack.smtp.wait_for(1)
    submit(browser, deployed.link(message, "mot-de-passe-oublie/lien"), {})
    fields = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert "Mot de passe changé" in text(submit(browser, "mot-de-passe-oublie/nouveau", fields))
    stack.smtp.wait_for(2)  # the notice of the change
    lines = check_logs(deployed, browser)
    assert ("password-reset", "ok") in events(lines)


def test_debloquer_mon_compte_logs_no_secret(deployed, accounts, stack):
    account = accounts.create("reset", backup_mail=BACKUP, backup_verified=True)
    wrong = "Mauvais-Essai-2026"
    deployed.known |= {account["password"], wrong}
    browser = deployed.browser()
    for _ in range(6):  # 5 failures are free; the 6th attempt is held back
        held = identify(browser, "reinitialisation", account["login"], wrong)
    assert held.status_code == 429
    submit(browser, "deblocage", {"login": account["login"]})
    [message] = stack.smtp.wait_for(1)
    submit(browser, deployed.link(message, "deblocage/lien"), {})
    after = identify(browser, "reinitialisation", account["login"], account["password"])
    assert after.request.path == "/reinitialisation/cgu"
    check_logs(deployed, browser)


def test_mon_compte_logs_no_secret(deployed, accounts, cas_server, stack):
    account = _active_account(deployed, accounts)
    browser = deployed.browser()
    service = parse_qs(urlsplit(browser.get("compte").location).query)["service"][0]
    ticket = cas_login(cas_server.url, service, account["login"], ACTIVE_PASSWORD)
    deployed.known.add(ticket)
    assert "Mon compte" in text(browser.get(f"compte?ticket={ticket}", follow_redirects=True))
    fields = {"mdp-current": ACTIVE_PASSWORD, "mdp-password": NEW_PASSWORD}
    fields["mdp-confirm"] = NEW_PASSWORD
    changed = submit(browser, "compte", fields, action="compte/mot-de-passe")
    assert "Votre mot de passe a été changé." in text(changed)
    stack.smtp.wait_for(1)  # the notice to the verified address
    lines = check_logs(deployed, browser)
    assert ("identification", "ok") in events(lines)
