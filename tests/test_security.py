"""Security rules that cut across the pages: hosts, cookies, headers, secrets, audit."""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest

from ent_idp import create_app
from ent_idp.web.i18n import local_path

from .conftest import resources_of, store_of
from .pages import go_through, identify, link_in, prepare_post, reach_password, submit, text

pytestmark = pytest.mark.security

NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"


def test_a_forged_host_header_is_refused(client):
    """Reset and validation links must never point at a host an attacker chose."""
    for headers in ({"Host": "evil.example"}, {"Host": "ent-idp.test.evil.example"}):
        response = client.get("/activation", headers=headers)
        assert response.status_code == 400


def test_links_come_from_the_configured_url_whatever_the_request_says(client, accounts, deliver):
    """X-Forwarded-Host is not trusted: the mailed link uses the configured public URL."""
    account = accounts.create("pending")
    reach_password(client, "activation", account)
    client.post(
        "/activation/mot-de-passe",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
    )
    submit(client, "/activation/mot-de-passe", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    [message] = deliver(1)
    assert link_in(message).startswith("http://ent-idp.test/validation/")
    assert "evil.example" not in message.as_string()


def test_session_cookie_flags(settings, accounts):
    """Secure keeps the cookie off plain http; HttpOnly off scripts; Lax off cross-site posts."""
    app = create_app({**settings, "PUBLIC_URL": "https://ent-idp.test/"})
    try:
        client = app.test_client()
        account = accounts.create("pending")
        response = identify(client, "activation", account["login"], account["password"])
        cookie = response.history[0].headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        hsts = response.headers["Strict-Transport-Security"]
        assert hsts.startswith("max-age=")
    finally:
        resources_of(app).close()


def test_plain_http_deployments_get_no_secure_flag_nor_hsts(client, accounts):
    account = accounts.create("pending")
    response = identify(client, "activation", account["login"], account["password"])
    cookie = response.history[0].headers["Set-Cookie"]
    assert "Secure" not in cookie and "HttpOnly" in cookie
    assert "Strict-Transport-Security" not in response.headers


def test_security_headers_on_every_page(client):
    """No inline script or style can run, no framing (clickjacking), no sniffing, no leaks."""
    for path in ("/", "/activation", "/validation/unknown", "/nowhere"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp and "style-src 'self'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store"
        html = response.get_data(as_text=True)
        assert "<script>" not in html and "style=" not in html and "<style" not in html


def test_the_flow_expires_when_idle(app, client, accounts):
    """An abandoned flow on a shared computer must not stay open for the next pupil."""
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    redis = store_of(app).redis
    [key] = list(redis.scan_iter("ent-idp:flow:*"))
    assert 0 < redis.ttl(key) <= 30 * 60
    redis.expire(key, 1)  # what 30 idle minutes do
    time.sleep(1.5)
    response = client.get("/activation/adresses", follow_redirects=True)
    assert "Votre session a expiré" in text(response)


def test_using_a_flow_keeps_it_alive_and_never_longer_than_the_idle_time(app, client, accounts):
    """Reading a flow restarts its idle timer only once a thirtieth of it has run down (a
    read is then no write to Redis): a user who keeps going is never cut off, and an
    abandoned flow is gone at most ``idle_minutes`` after its last request, never later."""
    account = accounts.create("pending")
    identify(client, "activation", account["login"], account["password"])
    redis, idle = store_of(app).redis, 30 * 60
    [key] = list(redis.scan_iter("ent-idp:flow:*"))
    assert idle - 2 <= redis.ttl(key) <= idle
    redis.expire(key, idle - 30)  # half a minute of it gone: the read leaves it
    assert client.get("/activation/cgu").status_code == 200
    assert idle - 32 <= redis.ttl(key) <= idle - 30
    redis.expire(key, idle - 65)  # more than a minute gone: the next read restarts it
    client.get("/activation/cgu")
    assert idle - 2 <= redis.ttl(key) <= idle
    redis.expire(key, 90)  # nearly abandoned: a request gives it the whole idle time again
    client.get("/activation/cgu")
    assert idle - 2 <= redis.ttl(key) <= idle
    redis.persist(key)  # a flow that somehow lost its timer gets one back on its next use
    client.get("/activation/cgu")
    assert idle - 2 <= redis.ttl(key) <= idle


def test_no_secret_in_any_mail_or_log(client, accounts, deliver, caplog):
    """Passwords never leave the directory write; tokens only travel inside their own link."""
    account = accounts.create(
        "reset",
        password="Provisoire-Secret-2026",
        backup_mail="ancienne@example.net",
        backup_verified=True,
    )
    caplog.set_level(logging.DEBUG)
    go_through(client, "reinitialisation", account, backup_mail="nouvelle@example.net")
    messages = deliver(2)
    link = link_in(next(m for m in messages if m["To"] == "nouvelle@example.net"))
    token = link.rsplit("/", 1)[1]
    submit(client, link.removeprefix("http://ent-idp.test"), {})
    logs = "\n".join(record.getMessage() for record in caplog.records)
    for secret in ("Provisoire-Secret-2026", NEW_PASSWORD, token):
        assert secret not in logs
    for message in messages:
        body = message.as_string()
        assert "Provisoire-Secret-2026" not in body and NEW_PASSWORD not in body
        if message["To"] != "nouvelle@example.net":
            assert token not in body


def test_every_security_event_is_audited(client, accounts, deliver, caplog):
    """Who did what, from where, with what outcome: one structured line per event."""
    account = accounts.create("pending")
    caplog.set_level(logging.INFO, logger="ent_idp.audit")
    identify(client, "activation", account["login"], "Mauvais-2026")
    go_through(client, "activation", account)
    [message] = deliver(1)
    submit(client, link_in(message).removeprefix("http://ent-idp.test"), {})
    for _ in range(6):
        identify(client, "activation", "quelqu.un", "Mauvais-2026")
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "ent_idp.audit"]
    seen = {(e["event"], e["outcome"]) for e in events}
    assert {
        ("identification", "failed"),
        ("identification", "ok"),
        ("identification", "held-back"),
        ("activation", "ok"),
        ("verification", "ok"),
    } <= seen
    assert all(e["client"] == "127.0.0.1" and "login" in e for e in events)


def test_the_same_account_finished_twice_at_once_one_at_a_time(app, accounts):
    """Two writes at once race in ppolicy's history (error 16): one waits its turn or is told."""
    account = accounts.create("pending")
    browsers = [app.test_client() for _ in range(4)]
    posts = []
    for browser in browsers:
        reach_password(browser, "activation", account)
        fields = {
            "password": NEW_PASSWORD + str(len(posts)),
            "confirm": NEW_PASSWORD + str(len(posts)),
        }
        posts.append(prepare_post(browser, "/activation/mot-de-passe", fields))
    barrier = threading.Barrier(len(posts))
    results = []

    def finish(post):
        barrier.wait()
        results.append(post())

    threads = [threading.Thread(target=finish, args=(post,)) for post in posts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 409, 409, 409]
    losers = [text(r) for r in results if r.status_code == 409]
    assert all("déjà été traité" in page or "en cours de mise à jour" in page for page in losers)
    assert sum(accounts.binds(account["dn"], NEW_PASSWORD + str(n)) for n in range(4)) == 1


def test_a_password_change_is_notified_to_the_verified_address(client, accounts, deliver):
    """A change the owner did not make must not go unnoticed."""
    account = accounts.create("reset", backup_mail="emma.perso@example.net", backup_verified=True)
    go_through(client, "reinitialisation", account, backup_mail="emma.perso@example.net")
    [notice] = deliver(1)
    assert notice["To"] == "emma.perso@example.net"
    assert "a été changé" in notice["Subject"]


def test_the_service_account_cannot_read_password_hashes(stack, accounts):
    """A stolen service password must not hand out every pupil's hash for offline cracking."""
    account = accounts.create("active", password="Deja-Actif-2026!")
    conn = stack.slapd.service_connection()
    try:
        conn.search(account["dn"], "(objectClass=*)", search_scope="BASE", attributes=["*"])
        attributes = {k.lower() for k in conn.response[0]["attributes"]}
        assert "uid" in attributes and "userpassword" not in attributes
        conn.modify(account["dn"], {"cn": [("MODIFY_REPLACE", ["Quelqu'un d'autre"])]})
        assert conn.result["result"] == 50, "and it writes only what ent-idp needs"
    finally:
        conn.unbind()


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/login",
        "//evil.example/login",
        "///evil.example/login",
        "/\\evil.example/login",
        "\\\\evil.example/login",
        "https:evil.example",
        "javascript:alert(1)",
        "evil.example/login",
        " /activation",
        "/\t/evil.example",
        "/\r\nSet-Cookie: x=1",
        "",
    ],
)
def test_the_language_switch_only_leads_back_into_the_app(client, target):
    """The switch's link says where to come back to; were any URL accepted, a phishing mail
    could use ent-idp's own address to send pupils to a fake login page (open redirect)."""
    response = client.get("/langue/en", query_string={"next": target})
    assert response.status_code == 302
    assert response.location == "/"


def test_no_control_character_space_del_or_backslash_is_ever_in_a_way_back():
    """The switch's way back is written into a Location header and followed by browsers: a
    CR or LF would split the header, a space or a backslash make some browsers read a
    host. Every code point of the Basic Multilingual Plane, anywhere in the path."""
    for code in range(0x10000):
        char = chr(code)
        refused = code <= 0x20 or code == 0x7F or char == "\\"
        for target in (f"/a{char}", f"/a{char}b/c", f"/a?next={char}"):
            assert (local_path(target) is None) is refused, (hex(code), target)


def test_the_language_switch_leads_back_to_the_page_it_was_on(client):
    back = "/activation?service=http%3A%2F%2Fent.test%2Fportail%2F"
    response = client.get("/langue/en", query_string={"next": back})
    assert response.location == back
