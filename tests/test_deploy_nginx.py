"""The shipped nginx site (deploy/nginx/ent-idp.conf) in front of the real ``ent-idp serve``.

nginx runs the site file as shipped (only ports, the upstream address and file paths
replaced: ``devstack/nginx_site.py``) with a certificate from a test CA (trustme), in front
of ``ent-idp serve`` (gunicorn, a real subprocess) configured with ``public_url`` on https
and ``trusted_proxies = ["127.0.0.1"]``, as README › Production sets it up. Chromium goes
through a whole activation over TLS; plain HTTP clients check the rest. Client addresses
other than nginx's own come from 127.0.0.2 (any 127.0.0.0/8 address is the loopback).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import expect
from requests.adapters import HTTPAdapter

from devstack.nginx_site import SHIPPED, NginxSite, SitePaths, changed_lines
from devstack.ports import free_port, terminate, wait_for_port

from .browser_support import CHROMIUM, CHROMIUM_ARGS, Shots
from .pages import csrf_token, link_in

HOST = "compte.ent.example"
CLIENT = "127.0.0.2"  # a client that is not nginx: nginx reaches the app from 127.0.0.1
FORM = "application/x-www-form-urlencoded"
TWENTY_MB = 20 * 1024 * 1024


@dataclass
class Site:
    url: str  # what browsers open: https://compte.ent.example:<port>/
    direct: str  # the same through 127.0.0.1 (with Host set), for plain HTTP clients
    http: str  # nginx's plain-http port
    ca_file: Path
    spki: str  # base64 SHA-256 of the leaf's public key, for Chromium
    app_log: Path
    app: subprocess.Popen
    nginx: NginxSite

    def app_log_text(self) -> str:
        return self.app_log.read_text(errors="replace")


class FromAddress(HTTPAdapter):
    """Connections from a chosen loopback address (the client nginx sees)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def _spki_hash(pem: bytes) -> str:
    public_key = x509.load_pem_x509_certificate(pem).public_key()
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def _serve(settings: dict, public_url: str, port: int, log_path: Path) -> subprocess.Popen:
    """``ent-idp serve`` behind nginx, configured by environment, as the unit runs it."""
    values = {
        **settings,
        "PUBLIC_URL": public_url,
        "ALLOWED_HOSTS": [],
        "TRUSTED_PROXIES": ["127.0.0.1"],
    }
    values.pop("TESTING")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENT_IDP_")}
    for key, value in values.items():
        env[f"ENT_IDP_{key}"] = ",".join(value) if isinstance(value, list) else str(value)
    command = [sys.executable, "-m", "ent_idp", "serve", "--bind", f"127.0.0.1:{port}"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--workers", "1", "--threads", "4"],
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    wait_for_port("127.0.0.1", port, time.monotonic() + 30, "ent-idp serve", process)
    return process


@pytest.fixture
def site(app, settings, tmp_path) -> Iterator[Site]:
    """nginx with the shipped site in front of ``ent-idp serve`` (``app``: Redis emptied)."""
    app_port, http_port, https_port = free_port(), free_port(), free_port()
    ca = trustme.CA()
    leaf = ca.issue_cert(HOST, "127.0.0.1", "::1")
    certificate, key, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    certificate.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    ca.cert_pem.write_to_path(str(ca_file))
    url = f"https://{HOST}:{https_port}/"
    app_log = tmp_path / "serve.log"
    process = _serve(settings, url, app_port, app_log)
    nginx = NginxSite(
        tmp_path / "nginx",
        http_port=http_port,
        https_port=https_port,
        upstream=f"127.0.0.1:{app_port}",
        paths=SitePaths(certificate, key, tmp_path / "nginx" / "ent-idp.access.log"),
    )
    try:
        nginx.start()
        yield Site(
            url=url,
            direct=f"https://127.0.0.1:{https_port}/",
            http=f"http://127.0.0.1:{http_port}/",
            ca_file=ca_file,
            spki=_spki_hash(leaf.cert_chain_pems[0].bytes()),
            app_log=app_log,
            app=process,
            nginx=nginx,
        )
    finally:
        nginx.stop()
        terminate(process)


def client(site: Site, address: str = "127.0.0.1") -> requests.Session:
    """A plain HTTP client of the site, connecting from ``address``, trusting the test CA."""
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE wins over verify
    session.verify = str(site.ca_file)
    session.mount("https://", FromAddress(address))
    session.mount("http://", FromAddress(address))
    session.headers["Host"] = site.url.removeprefix("https://").rstrip("/")
    session.headers["Referer"] = site.url  # as a browser posting the site's own forms
    return session


def app_log_settled(site: Site) -> str:
    """The app's log once every earlier request is in it: a probe sent last must show."""
    probe = f"probe-{time.monotonic_ns()}"
    client(site).get(f"{site.direct}?{probe}", timeout=10)
    deadline = time.monotonic() + 10
    while probe not in site.app_log_text():
        assert time.monotonic() < deadline, "the probe request never reached the app's log"
        time.sleep(0.05)
    return site.app_log_text()


def audited_clients(site: Site) -> list[str]:
    """The client address of each audit line the app wrote (JSON lines, marked ``audit``)."""
    lines = [json.loads(line) for line in app_log_settled(site).splitlines()]
    return [line["audit"]["client"] for line in lines if "audit" in line]


# -- the site file itself --------------------------------------------------------------


def test_only_ports_upstream_and_paths_are_changed_for_the_tests(site):
    """What the tests run is what ships: each changed line is a listen, the upstream, a
    certificate, log or error-page path (and the count of each is checked by adapt_site)."""
    changed = changed_lines(site.nginx.shipped, site.nginx.site)
    kinds = ("listen ", "server 127.0.0.1:8080;", "ssl_certificate", "access_log ", "alias ")
    assert changed and all(line.strip().startswith(kinds) for line in changed), changed
    assert len(changed) == 10
    assert site.nginx.shipped == SHIPPED.read_text(encoding="utf-8")


# -- a whole activation in Chromium, over TLS -------------------------------------------


@pytest.mark.browser
def test_chromium_goes_through_an_activation_over_tls(browser, site, accounts, deliver):
    """The shipped site serves every page, the static files and the forms over https, with
    a certificate Chromium accepts (its public key pinned at launch: the test CA is not in
    the system's store), under the name of the site's server_name."""
    account = accounts.create("pending", given_name="Alice", surname="Martin")
    tls_browser = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            f"--host-resolver-rules=MAP {HOST} 127.0.0.1",
            f"--ignore-certificate-errors-spki-list={site.spki}",
        ],
    )
    try:
        page = tls_browser.new_page(viewport={"width": 360, "height": 740}, locale="fr-FR")
        shots = Shots("nginx-tls", "telephone")
        response = page.goto(f"{site.url}activation?service=http://ent.test/portail/")
        assert response.status == 200
        assert response.security_details()["protocol"] == "TLS 1.3"
        assert response.header_value("strict-transport-security") == "max-age=31536000"
        expect(page.get_by_role("heading", name="Identification")).to_be_visible()
        shots.take(page, "identification")
        page.get_by_label("Identifiant").fill(account["login"])
        page.get_by_label("Mot de passe provisoire").fill(account["password"])
        page.get_by_role("button", name="Continuer").click()

        expect(
            page.get_by_role("heading", name="Conditions Générales d'Utilisation")
        ).to_be_visible()
        shots.take(page, "cgu")
        page.get_by_label("J'ai lu et j'accepte les Conditions Générales d'Utilisation").check()
        page.get_by_role("button", name="Continuer").click()

        expect(page.get_by_role("heading", name="Adresses de messagerie")).to_be_visible()
        page.get_by_label("Adresse électronique de secours", exact=True).fill("alice@example.net")
        page.get_by_label("Confirmation de l'adresse électronique de secours").fill(
            "alice@example.net"
        )
        shots.take(page, "adresses")
        page.get_by_role("button", name="Continuer").click()

        expect(page.get_by_role("heading", name="Mot de passe")).to_be_visible()
        page.get_by_label("Mot de passe", exact=True).fill("Tr0mbone-Vert-Soleil!")
        page.get_by_label("Confirmation mot de passe").fill("Tr0mbone-Vert-Soleil!")
        # The live rules come from /static/password-policy.js, through nginx.
        expect(page.locator("li.ok")).not_to_have_count(0)
        expect(page.locator("li.ko")).to_have_count(0)
        shots.take(page, "mot-de-passe")
        page.get_by_role("button", name="Continuer").click()

        expect(page.get_by_role("heading", name="Compte activé !")).to_be_visible()
        assert page.url.startswith(site.url)
        shots.take(page, "compte-active")
        # A body over the limit, sent by the browser (HTTP/2): nginx's page, in French.
        refused = page.evaluate(
            "async url => { const r = await fetch(url, {method: 'POST', body: 'a'.repeat(200000),"
            " headers: {'Content-Type': 'application/x-www-form-urlencoded'}});"
            " return [r.status, await r.text()]; }",
            f"{site.url}activation",
        )
        assert refused[0] == 413 and "Envoi trop volumineux" in refused[1], refused

        [message] = deliver(1)
        link = link_in(message)
        assert link.startswith(f"{site.url}validation/"), "links are built from public_url"
        page.goto(link)
        page.get_by_role("button", name="Valider mon adresse").click()
        expect(page.get_by_role("heading", name="Adresse validée")).to_be_visible()
        shots.take(page, "adresse-validee")
    finally:
        tls_browser.close()
    entry = accounts.read(account["dn"])
    assert entry["entidpaccountstate"] == [b"active"]
    assert "entidpbackupmailverifiedtime" in entry


# -- what the app sees, what the client gets --------------------------------------------


@pytest.mark.security
def test_the_app_sees_the_address_nginx_saw_not_a_forged_one(site, accounts):
    """Throttling and the audit log count the client's address. A client writing its own
    X-Forwarded-For must not choose it: nginx overwrites the header with the address it saw,
    and the app believes it because nginx (127.0.0.1) is its trusted proxy."""
    account = accounts.create("pending")
    browser = client(site, CLIENT)
    forged = {"X-Forwarded-For": "6.6.6.6", "Forwarded": "for=6.6.6.7", "X-Real-IP": "6.6.6.8"}
    token = csrf_token(browser.get(f"{site.direct}activation", headers=forged, timeout=10).text)
    form = {"csrf_token": token, "login": account["login"], "password": "pas-le-bon"}
    response = browser.post(f"{site.direct}activation", data=form, headers=forged, timeout=10)
    assert response.status_code == 200
    assert "Identifiant ou mot de passe provisoire incorrect" in response.text
    assert audited_clients(site) == [CLIENT]


@pytest.mark.security
def test_the_app_knows_its_requests_came_over_https(site, accounts):
    """nginx tells the app the scheme (X-Forwarded-Proto, believed from 127.0.0.1 only): over
    https the app's CSRF check also wants a Referer of the same origin, so a form posted
    from another site, or with the Referer stripped, is refused (400) and counts nothing."""
    account = accounts.create("pending")
    browser = client(site)
    token = csrf_token(browser.get(f"{site.direct}activation", timeout=10).text)
    form = {"csrf_token": token, "login": account["login"], "password": account["password"]}
    for referer in ("https://evil.example/", None):
        browser.headers["Referer"] = referer
        response = browser.post(f"{site.direct}activation", data=form, timeout=10)
        assert response.status_code == 400, referer
    browser.headers["Referer"] = site.url
    response = browser.post(f"{site.direct}activation", data=form, timeout=10)
    assert response.url.endswith("/activation/cgu")
    assert audited_clients(site) == ["127.0.0.1"]


@pytest.mark.security
def test_the_request_id_is_nginxs_never_the_clients(site):
    """The request id leads an operator from a user's report to the lines of both logs; a
    client must not choose it (to mix its requests with another user's lines, or write
    into the logs): nginx overwrites X-Request-ID with its own id, which the app believes
    from its trusted proxy only, answers in the header, and both logs carry."""
    forged = "forged-request-id-0001"
    answer = client(site, CLIENT).get(
        f"{site.direct}activation", headers={"X-Request-ID": forged}, timeout=10
    )
    request_id = answer.headers["X-Request-ID"]
    assert answer.status_code == 200 and request_id != forged
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    lines = [json.loads(line) for line in app_log_settled(site).splitlines()]
    [line] = [line for line in lines if line.get("request_id") == request_id]
    assert (line["path"], line["status"]) == ("/activation", 200)
    assert forged not in site.app_log_text()
    site.nginx.stop()  # flushes the log
    log = (site.nginx.workdir / "ent-idp.access.log").read_text()
    assert f" {request_id}\n" in log and forged not in log


@pytest.mark.security
def test_https_pages_carry_hsts_once_and_secure_cookies(site):
    """Browsers must never fall back to http (HSTS), and the session and language cookies
    must never travel in clear (Secure). One HSTS header, nginx's, on the app's pages and on
    nginx's own answers alike."""
    browser = client(site)
    page = browser.get(f"{site.direct}activation", timeout=10)
    assert page.status_code == 200
    assert page.raw.headers.getlist("Strict-Transport-Security") == ["max-age=31536000"]
    switched = browser.get(f"{site.direct}langue/en?next=/activation", allow_redirects=False)
    cookies = [*page.raw.headers.getlist("Set-Cookie"), *switched.raw.headers.getlist("Set-Cookie")]
    assert {c.split("=", 1)[0] for c in cookies} >= {"ent_idp_session", "ent_idp_lang"}, cookies
    assert all("Secure" in c and "HttpOnly" in c for c in cookies), cookies
    for answer in (browser.get(f"{site.direct}metrics", timeout=10), switched):
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.security
def test_plain_http_redirects_to_https_on_the_configured_name(site):
    """http:// only ever sends users to https://, and to the site's own name: a request for
    another Host is not redirected where its sender chose."""
    browser = client(site)
    for host in (HOST, "evil.example"):
        response = browser.get(
            f"{site.http}activation?service=http://ent.test/",
            headers={"Host": host},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 301
        assert response.headers["Location"] == f"https://{HOST}/activation?service=http://ent.test/"


@pytest.mark.security
@pytest.mark.parametrize(
    "path", ["metrics", "metrics/", "metrics?format=json", "%6Detrics", "/metrics", "metrics.txt"]
)
def test_metrics_are_never_served_through_nginx(site, path):
    """Metrics show who uses the service and how it fails: for Prometheus on its own port,
    never for the public. nginx answers 404 itself, whatever the spelling, and the request
    never reaches the app."""
    browser = client(site)
    for method in ("GET", "POST"):
        response = browser.request(method, f"{site.direct}{path}", timeout=10)
        assert response.status_code == 404, (method, path)
    assert "metrics" not in app_log_settled(site)


@pytest.mark.security
def test_readiness_is_for_the_load_balancer_only(site):
    """/readyz tells which backend is down: the site lets only the listed addresses
    (the loopback, as shipped) through to the app; anyone else gets 403 from nginx. The
    load balancer calls it every second: the app writes no line for it."""
    refused = client(site, CLIENT).get(f"{site.direct}readyz", timeout=10)
    assert refused.status_code == 403 and "checks" not in refused.text
    answer = client(site).get(f"{site.direct}readyz", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {
        "status": "ready",
        "checks": {"directory": "ok", "redis": "ok", "mail_queue": "ok"},
    }
    assert answer.headers["Cache-Control"] == "no-store"
    assert "readyz" not in app_log_settled(site)


def test_liveness_is_open_through_nginx(site):
    """/healthz says only that the app answers, so anyone may ask it, over https, with the
    site's HSTS; it is answered by the app (nginx's own error pages are HTML) and logged by
    nothing but nginx."""
    for method in ("GET", "HEAD"):
        answer = client(site, CLIENT).request(method, f"{site.direct}healthz", timeout=10)
        assert answer.status_code == 200, method
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert answer.text == ""  # HEAD
    assert client(site, CLIENT).get(f"{site.direct}healthz", timeout=10).json() == {
        "status": "alive"
    }
    assert "healthz" not in app_log_settled(site)


@pytest.mark.security
@pytest.mark.parametrize("body", ["content-length", "chunked"])
def test_a_20_mb_post_gets_nginxs_413_page_fast(site, body):
    """A body far over the forms' size is refused by nginx from its 64 KiB buffer, with a page
    users can read, before the app spends anything on it."""

    def chunks():
        yield b"csrf_token=x&login="
        for _ in range(TWENTY_MB // 65536):
            yield b"a" * 65536

    data = b"csrf_token=x&login=" + b"a" * TWENTY_MB if body == "content-length" else chunks()
    started = time.monotonic()
    response = client(site).post(
        f"{site.direct}activation", data=data, headers={"Content-Type": FORM}, timeout=30
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 413
    assert "Envoi trop volumineux" in response.text and "Request too large" in response.text
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert elapsed < 5, f"answered in {elapsed:.2f} s"
    assert "POST /activation" not in app_log_settled(site)


def test_nginx_says_the_service_is_unavailable_when_the_app_is_down(site):
    """An upgrade or a crash of the app: users read a page in their language, not nginx's
    « 502 Bad Gateway »."""
    terminate(site.app)
    response = client(site).get(f"{site.direct}activation", timeout=10)
    assert response.status_code == 502
    assert "Service momentanément indisponible" in response.text
    assert "Service temporarily unavailable" in response.text


@pytest.mark.security
def test_links_and_tickets_are_kept_out_of_nginxs_access_log(site):
    """A validation, « Mot de passe oublié » or « Débloquer mon compte » link, or a CAS
    ticket, lets whoever reads it act as its user while it is valid: log files are read by
    more people than the directory. nginx logs them as « ... », in the path and the Referer."""
    secrets = ["Tok3nValidation", "Tok3nOublie", "Tok3nDeblocage", "ST-Tick3t"]
    browser = client(site)
    browser.headers["Referer"] = f"{site.url}validation/Tok3nReferer?x=1"
    for path in (
        f"validation/{secrets[0]}",
        f"mot-de-passe-oublie/lien/{secrets[1]}",
        f"deblocage/lien/{secrets[2]}",
        f"compte?ticket={secrets[3]}&x=1",
    ):
        browser.get(f"{site.direct}{path}", allow_redirects=False, timeout=10)
    site.nginx.stop()  # flushes the log
    log = (site.nginx.workdir / "ent-idp.access.log").read_text()
    assert "/validation/... " in log and "/deblocage/lien/... " in log
    assert "/compte?ticket=...&x=1" in log and "/validation/...?x=1" in log
    for secret in [*secrets, "Tok3nReferer"]:
        assert secret not in log
