"""The services of the cluster (issue 16), before the app runs on them: two OpenLDAP
providers replicating each other, Redis under Sentinel surviving a SIGKILL of its master,
nginx balancing round robin. One :class:`devstack.cluster.Cluster` on free ports for the
module; two tiny HTTP servers stand where the app instances will listen.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import ldap3
import pytest
import redis
from ldap3.operation.search import compile_filter, parse_filter
from ldap3.utils.asn1 import encode as ber_encode

from devstack.cluster import Cluster, ClusterPorts
from devstack.nginx_lb import Nginx
from devstack.ports import free_port
from devstack.redis_sentinel import MASTER_NAME
from devstack.slapd_replication import read_attribute, wait_for, wait_in_sync

from .accounts import AccountFactory

pytestmark = pytest.mark.cluster

ASSERTION_CONTROL = "1.3.6.1.1.12"  # RFC 4528
REPLICATED = 5  # seconds: a write reaches the other provider in milliseconds (README)


class Upstream(ThreadingHTTPServer):
    """Where an app instance will listen: answers its name and records every request.
    With ``dies_on``, a request for that path is read and the connection dropped unanswered,
    as an app killed in the middle of it."""

    daemon_threads = True

    def __init__(self, name: str, port: int, dies_on: str | None = None) -> None:
        self.name = name
        self.dies_on = dies_on
        self.seen: list[dict] = []
        super().__init__(("127.0.0.1", port), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def requests(self, method: str, path: str) -> int:
        return sum(1 for r in self.seen if (r["method"], r["path"]) == (method, path))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Upstream

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): self.headers.get_all(name) for name in self.headers}
        self.server.seen.append({"method": self.command, "path": self.path, "headers": headers})
        if self.path == self.server.dies_on:
            self.close_connection = True
            return
        body = json.dumps({"name": self.server.name, "headers": headers}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def ports() -> ClusterPorts:
    return ClusterPorts.free()


@pytest.fixture(scope="module")
def upstreams(ports: ClusterPorts) -> Iterator[list[Upstream]]:
    servers = [Upstream("app-1", ports.apps[0], dies_on="/boom"), Upstream("app-2", ports.apps[1])]
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, ports: ClusterPorts, upstreams) -> Iterator[Cluster]:
    with Cluster(
        tmp_path_factory.mktemp("cluster"),
        ports,
        admin_password=secrets.token_urlsafe(16),
        service_password=secrets.token_urlsafe(16),
        redis_password=secrets.token_urlsafe(16),
        sentinel_password=secrets.token_urlsafe(16),
    ) as started:
        yield started


@pytest.fixture
def accounts(cluster: Cluster) -> Iterator[AccountFactory]:
    """Accounts added on provider 1 (and so on both), deleted after the test."""
    factory = AccountFactory(cluster.ldap[0])
    yield factory
    factory.remove_all()


def assertion(search_filter: str) -> tuple[str, bool, bytes]:
    """The Assertion control (critical) on ``search_filter``, as the app sends it."""
    tree = parse_filter(search_filter, None, False, False, None, False)
    return (ASSERTION_CONTROL, True, ber_encode(compile_filter(tree.elements[0])))


def complete(provider, dn: str, password: str, state: str, changed: str | None) -> int:
    """The app's completion Modify, by the service account, guarded as the app guards it
    (the state and pwdChangedTime read at identification); returns the LDAP result code."""
    guard = f"(pwdChangedTime={changed})" if changed else "(!(pwdChangedTime=*))"
    conn = provider.service_connection()
    try:
        conn.modify(
            dn,
            {
                "userPassword": [(ldap3.MODIFY_REPLACE, [password])],
                "entIdpAccountState": [(ldap3.MODIFY_REPLACE, ["active"])],
            },
            controls=[assertion(f"(&(entIdpAccountState={state}){guard})")],
        )
        return conn.result["result"]
    finally:
        conn.unbind()


def read(provider, dn: str, attribute: str) -> str | None:
    conn = provider.admin_connection()
    try:
        return read_attribute(conn, dn, attribute)
    finally:
        conn.unbind()


def binds(provider, dn: str, password: str) -> bool:
    return AccountFactory(provider).binds(dn, password)


# ------------------------------------------------------------------ OpenLDAP


def test_an_account_added_on_one_provider_is_on_the_other(cluster, accounts):
    first, second = cluster.ldap
    account = accounts.create("pending", "Provisoire-2026")

    wait_for(second, account["dn"], "entIdpAccountState", "pending", REPLICATED)
    assert read(second, account["dn"], "entryUUID") == read(first, account["dn"], "entryUUID")
    assert read(second, account["dn"], "pwdReset") == "TRUE"
    assert binds(second, account["dn"], "Provisoire-2026")


def test_a_modify_on_the_second_provider_reaches_the_first(cluster, accounts):
    first, second = cluster.ldap
    account = accounts.create("active")
    wait_for(second, account["dn"], "entIdpAccountState", "active", REPLICATED)
    conn = second.admin_connection()
    conn.modify(account["dn"], {"entIdpBackupMail": [(ldap3.MODIFY_REPLACE, ["b@example.net"])]})
    conn.unbind()

    wait_for(first, account["dn"], "entIdpBackupMail", "b@example.net", REPLICATED)


def test_a_password_changed_on_one_provider_is_changed_on_both(cluster, accounts):
    first, second = cluster.ldap
    account = accounts.create("pending", "Provisoire-2026")
    wait_for(second, account["dn"], "entIdpAccountState", "pending", REPLICATED)

    assert complete(first, account["dn"], "Nouveau-Secret-2026!", "pending", None) == 0

    wait_for(second, account["dn"], "entIdpAccountState", "active", REPLICATED)
    for attribute in ("userPassword", "pwdChangedTime", "pwdHistory"):
        assert read(second, account["dn"], attribute) == read(first, account["dn"], attribute)
    assert read(second, account["dn"], "pwdReset") is None
    assert binds(second, account["dn"], "Nouveau-Secret-2026!")
    assert not binds(second, account["dn"], "Provisoire-2026")


@pytest.mark.security
def test_the_assertion_read_on_one_provider_guards_a_write_on_the_other(cluster, accounts):
    """The app reads an account at identification and writes it later, maybe through the
    other provider: a completion already made on provider 1 must make a second one, sent to
    provider 2 with the old values, fail (122) instead of overwriting the new password."""
    first, second = cluster.ldap
    account = accounts.create("pending", "Provisoire-2026")
    wait_for(second, account["dn"], "entIdpAccountState", "pending", REPLICATED)
    assert complete(first, account["dn"], "Premier-Secret-2026!", "pending", None) == 0
    wait_for(second, account["dn"], "entIdpAccountState", "active", REPLICATED)

    assert complete(second, account["dn"], "Second-Secret-2026!", "pending", None) == 122

    assert binds(first, account["dn"], "Premier-Secret-2026!")
    changed = read(first, account["dn"], "pwdChangedTime")
    assert complete(second, account["dn"], "Second-Secret-2026!", "active", changed) == 0


@pytest.mark.security
def test_a_lockout_on_one_provider_holds_on_the_other(cluster, accounts):
    """ppolicy locks an account after pwdMaxFailure (10) failed binds: the lock and the
    failures replicate, so an attacker cannot go on guessing against the other provider."""
    first, second = cluster.ldap
    account = accounts.create("pending", "Provisoire-2026")
    wait_for(second, account["dn"], "entIdpAccountState", "pending", REPLICATED)
    for attempt in range(10):
        assert not binds(first, account["dn"], f"wrong-{attempt}")

    locked = read(first, account["dn"], "pwdAccountLockedTime")
    assert locked
    wait_for(second, account["dn"], "pwdAccountLockedTime", locked, REPLICATED)
    assert not binds(second, account["dn"], "Provisoire-2026")


@pytest.mark.faults
@pytest.mark.security
@pytest.mark.parametrize("stopped", [1, 0], ids=["second-stopped", "first-stopped"])
def test_a_stopped_provider_catches_up_when_it_returns(cluster, accounts, stopped):
    """A provider stopped for maintenance (or crashed) must not come back with an old copy:
    accounts added, changed and deleted meanwhile reach it without anyone's help."""
    down, up = cluster.ldap[stopped], cluster.ldap[1 - stopped]
    changed = accounts.create("pending")
    removed = accounts.create("pending")
    wait_in_sync(cluster.ldap, REPLICATED)
    down.stop()
    writer = AccountFactory(up)
    added = writer.create("reset")
    conn = up.admin_connection()
    conn.modify(changed["dn"], {"entIdpAccountState": [(ldap3.MODIFY_REPLACE, ["active"])]})
    conn.delete(removed["dn"])
    conn.unbind()

    down.start()

    wait_in_sync(cluster.ldap, REPLICATED)
    assert read(down, added["dn"], "entIdpAccountState") == "reset"
    assert read(down, changed["dn"], "entIdpAccountState") == "active"
    assert read(down, removed["dn"], "entIdpAccountState") is None
    writer.remove_all()


# ------------------------------------------------------------------ Redis and Sentinel


def write_until(client: redis.Redis, key: str, deadline: float) -> None:
    """Write ``key`` through the Sentinel-managed client, retrying until ``deadline``."""
    while True:
        try:
            client.set(key, "1")
            return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Writer(threading.Thread):
    """Writes keys one after the other through ``client``, each followed by ``WAIT 1``:
    ``written`` holds the keys the master took, ``acknowledged`` those a replica took too."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__()
        self.client = client
        self.written: list[str] = []
        self.acknowledged: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            key, n = f"written:{n}", n + 1
            try:
                self.client.set(key, "1")
                self.written.append(key)
                if self.client.wait(1, 200) >= 1:
                    self.acknowledged.append(key)
            except redis.RedisError:
                time.sleep(0.01)  # the master is gone: the client asks the Sentinels again

    def wait_for_writes(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.written) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


@pytest.mark.faults
@pytest.mark.security
def test_writes_go_on_after_the_master_is_killed(cluster):
    """Tokens, flows and the mail queue live in Redis: after a SIGKILL of its master the
    Sentinels promote the replica, the client finds it by itself, and no write that a
    replica acknowledged (WAIT 1) is lost."""
    client = cluster.redis.sentinel().master_for(MASTER_NAME, socket_timeout=0.5)
    writer = Writer(client)
    writer.start()
    try:
        writer.wait_for_writes(20, timeout=10)
        killed = cluster.redis.kill_master()
        before = list(writer.acknowledged)
        new = cluster.redis.wait_for_new_master(killed, timeout=20)
        after = len(writer.written)
        writer.wait_for_writes(after + 5, timeout=10)
    finally:
        writer.stop()
    checker = new.client()
    try:
        assert len(before) >= 20
        assert len(writer.written) >= after + 5
        assert [key for key in before if not checker.exists(key)] == []
    finally:
        checker.flushall()
        checker.close()
        client.close()
        cluster.redis.restart_as_replica(killed)


@pytest.mark.faults
@pytest.mark.security
def test_the_killed_master_returns_as_a_replica_of_the_new_one(cluster):
    """Once back, the old master must follow the new one (never split the data in two),
    and hold the writes made while it was down, so it can be promoted in turn."""
    client = cluster.redis.sentinel().master_for(MASTER_NAME, socket_timeout=0.5)
    killed = cluster.redis.kill_master()
    new = cluster.redis.wait_for_new_master(killed, timeout=20)
    write_until(client, "while-down", time.monotonic() + 10)

    cluster.redis.restart_as_replica(killed)

    assert killed.replication()["role"] == "slave"
    assert (killed.replication()["master_port"]) == new.port
    assert client.wait(1, 2000) >= 1  # the demo cluster runs two replicas
    replica = killed.client()
    try:
        assert replica.get("while-down") == b"1"
    finally:
        replica.close()
        client.delete("while-down")
        client.close()


# ------------------------------------------------------------------ nginx


def get(url: str, method: str = "GET", headers: dict | None = None) -> tuple[int, dict]:
    data = b"x=1" if method == "POST" else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_requests_alternate_between_the_app_instances(cluster, upstreams, method):
    names = [get(cluster.nginx.url, method)[1]["name"] for _ in range(6)]

    assert names in (["app-1", "app-2"] * 3, ["app-2", "app-1"] * 3)


@pytest.mark.security
def test_the_app_gets_the_client_address_nginx_saw_and_not_the_forged_one(cluster, upstreams):
    """Throttling counts per client address: an X-Forwarded-For written by the client must
    not reach the app, or anyone could pick the address their failures count against."""
    status, answer = get(
        cluster.nginx.url,
        headers={
            "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Host": "evil.example",
            "Host": "ent-idp.test",
        },
    )

    assert status == 200
    assert answer["headers"]["x-forwarded-for"] == ["127.0.0.1"]
    assert answer["headers"]["x-forwarded-proto"] == ["http"]
    assert answer["headers"]["host"] == ["ent-idp.test"]
    assert "x-forwarded-host" not in answer["headers"]


@pytest.fixture
def fresh_nginx(tmp_path, upstreams) -> Iterator[Nginx]:
    """An nginx of its own (the same config), so that marking app-1 failed stays here."""
    nginx = Nginx(tmp_path, free_port(), [u.server_address for u in upstreams])
    nginx.start()
    yield nginx
    nginx.stop()


def send_until_app_1_saw_it(nginx: Nginx, upstreams, method: str) -> tuple[int, int]:
    """Send ``method /boom`` until one reached app-1 (which dies on it): the status of that
    request, and how many times app-2 got it meanwhile."""
    app_1, app_2 = upstreams
    for _ in range(3):  # round robin: app-1 gets the first or the second
        seen_1, seen_2 = app_1.requests(method, "/boom"), app_2.requests(method, "/boom")
        status, _ = get(nginx.url + "boom", method)
        if app_1.requests(method, "/boom") > seen_1:
            return status, app_2.requests(method, "/boom") - seen_2
    raise AssertionError(f"app-1 never got {method} /boom")


def test_a_get_cut_off_by_a_dying_app_is_retried_on_the_other(fresh_nginx, upstreams):
    status, on_app_2 = send_until_app_1_saw_it(fresh_nginx, upstreams, "GET")

    assert (status, on_app_2) == (200, 1)


@pytest.mark.security
def test_a_post_cut_off_by_a_dying_app_is_not_replayed(fresh_nginx, upstreams):
    """An app killed in the middle of a POST may already have written to LDAP, queued a
    mail or consumed a token: nginx must answer 502 rather than run the POST a second time
    on the other instance."""
    status, on_app_2 = send_until_app_1_saw_it(fresh_nginx, upstreams, "POST")

    assert (status, on_app_2) == (502, 0)


def test_a_post_to_a_stopped_app_goes_to_the_other(tmp_path, upstreams):
    app_2 = upstreams[1]
    nginx = Nginx(tmp_path, free_port(), [("127.0.0.1", free_port()), app_2.server_address])
    nginx.start()
    try:
        answers = [get(nginx.url + "form", "POST") for _ in range(4)]
    finally:
        nginx.stop()

    assert [(status, answer["name"]) for status, answer in answers] == [(200, "app-2")] * 4
