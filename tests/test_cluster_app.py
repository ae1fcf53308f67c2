"""ent-idp on the cluster (issue 16): two app instances behind nginx (round robin, no sticky
sessions), two mail workers, Redis under Sentinel (a master, two replicas), two OpenLDAP
providers. Flows whose requests alternate between the instances, the Redis master SIGKILLed
and an LDAP provider stopped in the middle of a flow, two browsers racing on one account
from the two instances, and a short load run with a failover of each kind in its middle.

One cluster (devstack/cluster.py + cluster_app.py) on free ports for the module.
"""

from __future__ import annotations

import re
import secrets
import signal
import threading
import time
from collections.abc import Iterator

import ldap3
import pytest

from bench import loadgen
from devstack.cluster import Cluster, ClusterPorts
from devstack.cluster_app import add_app_services
from devstack.redis_sentinel import MASTER_NAME
from devstack.slapd_replication import read_attribute, wait_for, wait_in_sync

from .accounts import AccountFactory
from .cluster_support import WebSession, activate

pytestmark = [pytest.mark.cluster, pytest.mark.faults]

PROVISIONAL = "Provisoire-2026"
NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[tuple[Cluster, dict]]:
    cluster = Cluster(
        tmp_path_factory.mktemp("cluster-app"),
        ClusterPorts.free(),
        admin_password=secrets.token_urlsafe(16),
        service_password=secrets.token_urlsafe(16),
        redis_password=secrets.token_urlsafe(16),
        sentinel_password=secrets.token_urlsafe(16),
    )
    parts = add_app_services(cluster, cluster.ports.smtp)
    with cluster:
        yield cluster, parts


class ReplicatedAccounts(AccountFactory):
    """Accounts added on provider 1, returned once provider 2 has them too: the search of a
    login may go to either (``read_urls``), and after a provider restarted its peer's
    syncrepl reconnects within its one-second retry."""

    def __init__(self, cluster: Cluster) -> None:
        super().__init__(cluster.ldap[0])
        self.other = cluster.ldap[1]

    def create(self, *args, **kw) -> dict:
        account = super().create(*args, **kw)
        wait_for(self.other, account["dn"], "entIdpAccountState", "pending", timeout=10)
        return account


@pytest.fixture
def accounts(cluster) -> Iterator[AccountFactory]:
    factory = ReplicatedAccounts(cluster[0])
    yield factory
    factory.remove_all()


def served_by(parts: dict, session: WebSession) -> dict[int, str]:
    """Request number -> the instance whose access log holds it."""
    found: dict[int, str] = {}
    for app in parts["apps"]:
        for n in re.findall(rf'"{re.escape(session.name)}#(\d+)"', app.log()):
            found[int(n)] = app.name
    return found


def mails_to(parts: dict, address: str) -> int:
    return sum(address in str(m["To"]) for m in parts["smtp"].messages())


def state_on(provider, dn: str) -> str | None:
    conn = provider.admin_connection()
    try:
        return read_attribute(conn, dn, "entIdpAccountState")
    finally:
        conn.unbind()


def test_an_activation_alternates_between_the_two_instances(cluster, accounts):
    """No sticky sessions: each request of one flow may land on any instance, so the flow's
    state, the session and the CSRF secret must live in Redis, not in an instance. Proven
    from the instances' own access logs: the requests of one activation alternate."""
    c, parts = cluster
    account = accounts.create("pending")
    session = WebSession(c.nginx.url, f"alternate-{secrets.token_hex(4)}")
    activate(session, account["login"], PROVISIONAL, NEW_PASSWORD)
    assert accounts.binds(account["dn"], NEW_PASSWORD)
    served = served_by(parts, session)
    assert sorted(served) == list(range(1, session.sent + 1))  # each request logged once
    order = [served[n] for n in sorted(served)]
    assert set(order) == {"app-1", "app-2"}
    assert all(a != b for a, b in zip(order, order[1:], strict=False)), (
        order
    )  # round robin, every time


def _pause(workers, sig) -> None:
    for worker in workers:
        worker.process.send_signal(sig)


def test_the_redis_master_killed_mid_flow(cluster, accounts):
    """A SIGKILL of the Redis master between two steps must lose nothing a user was told
    about: Sentinel promotes a replica, each user sees at most one « momentanément
    indisponible » page and resumes where they were, the validation mail queued (and
    acknowledged by a replica) just before the kill goes out exactly once, and the failed
    attempts counted against a login still count."""
    c, parts = cluster
    done, midway, guessed = (accounts.create("pending") for _ in range(3))
    first = WebSession(c.nginx.url, "redis-done")
    second = WebSession(c.nginx.url, "redis-midway")
    activate(second, midway["login"], PROVISIONAL, NEW_PASSWORD, upto="adresses")
    for _ in range(3):  # three failures counted against one login
        attacker = WebSession(c.nginx.url, "redis-guess")
        status, _, _ = attacker.post(
            "/activation", {"login": guessed["login"], "password": "wrong-Password-1"}
        )
        assert status == 200
    sentinel = c.redis.sentinel().master_for(MASTER_NAME, decode_responses=True)
    keys = [k for k in sentinel.scan_iter("ent-idp:throttle:*") if sentinel.type(k) == "hash"]
    throttles = {key: sentinel.hgetall(key) for key in keys}
    assert throttles
    _pause(parts["workers"], signal.SIGSTOP)  # the mail stays queued across the kill
    try:
        activate(first, done["login"], PROVISIONAL, NEW_PASSWORD, upto="compte-active")
        backup = f"{done['login']}@perso.example.net"
        killed = c.redis.kill_master()
        began = time.monotonic()
        assert "activé" in first.page("/activation/compte-active")
        activate(second, midway["login"], PROVISIONAL, NEW_PASSWORD, start="adresses")
        healed = time.monotonic() - began
    finally:
        _pause(parts["workers"], signal.SIGCONT)
    try:
        assert first.unavailable <= 1 and second.unavailable <= 1
        assert accounts.binds(midway["dn"], NEW_PASSWORD)
        parts["smtp"].wait_for(2, timeout=30)  # the two validation mails
        time.sleep(3)  # a second copy would come within the workers' retry delay
        assert mails_to(parts, backup) == 1
        assert mails_to(parts, f"{midway['login']}@perso.example.net") == 1
        assert {k: sentinel.hgetall(k) for k in throttles} == throttles
        print(f"\nRedis failover under a flow: {healed:.1f} s to the next page served")
    finally:
        c.redis.restart_as_replica(killed)


def test_an_ldap_provider_stopped_mid_flow(cluster, accounts):
    """With the first provider stopped between two steps, the completion must land on the
    second, whole, and reach the first once it is back: a region's directory outage on one
    host must not stop the activations."""
    c, parts = cluster
    account = accounts.create("pending")
    session = WebSession(c.nginx.url, "ldap-stop")
    activate(session, account["login"], PROVISIONAL, NEW_PASSWORD, upto="mot-de-passe")
    first, other = c.ldap
    first.stop()
    try:
        began = time.monotonic()
        activate(session, account["login"], PROVISIONAL, NEW_PASSWORD, start="mot-de-passe")
        took = time.monotonic() - began
        assert session.unavailable <= 1
        assert state_on(other, account["dn"]) == "active"
    finally:
        first.start()
    wait_for(first, account["dn"], "entIdpAccountState", "active", timeout=10)
    wait_in_sync(c.ldap)
    print(f"\nLDAP provider stopped under a flow: completion in {took:.2f} s")


def test_two_browsers_complete_one_account_at_once_on_the_two_instances(cluster, accounts):
    """Two browsers finishing the same account at the same moment, each on its own app
    instance: one wins, the other is told, and the account holds exactly one of the two
    passwords (the Assertion control, on the one provider that takes the writes)."""
    c, parts = cluster
    account = accounts.create("pending")
    apps = parts["apps"]
    sessions = [WebSession(app.url, f"race-{n}") for n, app in enumerate(apps)]
    forms = []
    for n, session in enumerate(sessions):
        activate(session, account["login"], PROVISIONAL, NEW_PASSWORD, upto="mot-de-passe")
        html = session.page("/activation/mot-de-passe")
        token = re.search(r'csrf_token" type="hidden" value="([^"]+)"', html)[1]
        password = f"{NEW_PASSWORD}{n}"
        forms.append({"csrf_token": token, "password": password, "confirm": password})
    barrier = threading.Barrier(2)
    results: dict[int, int] = {}

    def finish(n: int) -> None:
        barrier.wait()
        status, _, _ = sessions[n].request("POST", "/activation/mot-de-passe", forms[n])
        results[n] = status

    threads = [threading.Thread(target=finish, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == [302, 409]
    winner = next(n for n, status in results.items() if status == 302)
    assert [accounts.binds(account["dn"], f"{NEW_PASSWORD}{n}") for n in (0, 1)] == [
        n == winner for n in (0, 1)
    ]


LOAD_ACCOUNTS = 160


def test_a_load_run_through_nginx_with_a_failover_of_each_kind(cluster, accounts):
    """Activations through nginx while the Redis master is SIGKILLed, then an LDAP provider
    stopped: every account ends either untouched or whole (never half-written), every mail
    of a finished activation is delivered once, and the 5xx are counted and printed."""
    c, parts = cluster
    created = [accounts.create("pending", given_name="Load") for _ in range(LOAD_ACCOUNTS)]
    spec = {
        "url": c.nginx.url,
        "logins": [a["login"] for a in created],
        "seconds": 30,
        "mode": "closed",
        "users": 4,
        "provisional": PROVISIONAL,
        "new_password": NEW_PASSWORD,
        "resume": True,  # a user shown the 503 page tries the step again
    }
    before = len(parts["smtp"].messages())
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(loadgen.run(spec)))
    t0 = time.perf_counter()
    runner.start()
    events = _failovers(c, t0)
    runner.join()
    whole, untouched, half = _outcomes(c, created)
    mails = parts["smtp"].wait_for(before + len(whole), timeout=60)
    time.sleep(2)
    delivered = len(parts["smtp"].messages()) - before
    print(f"\nload run: {result['activations']} activations, errors {result['errors']}")
    for name, began, healed, ended in events:  # requests by the start of their activation
        phase = [s for s in result["samples"] if began <= s[0] < ended]
        five = sum(1 for s in phase if s[3] >= 500)
        print(f"  {name}: {len(phase)} requests, {five} 5xx, healed in {healed:.2f} s")
    print(
        f"  {len(whole)} accounts whole, {len(untouched)} untouched, {len(half)} half-written;"
        f" {delivered} validation mails for {len(whole)} activations"
    )
    assert not half, half[:5]
    assert len(mails) >= before + len(whole)
    assert delivered == len(whole)  # none lost, none sent twice
    assert result["activations"] > 10
    assert sum(1 for s in result["samples"] if s[3] >= 500) <= 16  # a few per failover


def _failovers(c: Cluster, t0: float) -> list[tuple[str, float, float, float]]:
    """The Redis master SIGKILLed at 6 s, LDAP provider 1 stopped at 16 s for 6 s: (name,
    start of its phase, seconds to heal, end of its phase), times from the run's start; an
    activation belongs to the phase it started in (the second begins 5 s before the stop)."""
    time.sleep(6)
    killed = c.redis.kill_master()
    kill_at = time.perf_counter() - t0
    c.redis.wait_for_new_master(killed)
    promoted = time.perf_counter() - t0 - kill_at
    c.redis.restart_as_replica(killed)
    time.sleep(max(0.0, 16 - (time.perf_counter() - t0)))
    c.ldap[0].stop()
    stop_at = time.perf_counter() - t0
    time.sleep(6)
    c.ldap[0].start()
    wait_in_sync(c.ldap)
    synced = time.perf_counter() - t0 - stop_at
    return [
        ("Redis master SIGKILLed", 0.0, promoted, stop_at - 5),
        ("LDAP provider 1 stopped 6 s (healed: back and in sync)", stop_at - 5, synced, 1e9),
    ]


def _outcomes(c: Cluster, created: list[dict]) -> tuple[list, list, list]:
    """Each account: whole (active, the new password binds, the backup address set),
    untouched (pending, the provisional password binds), or half-written."""
    wait_in_sync(c.ldap)
    whole, untouched, half = [], [], []
    conn = c.ldap[0].admin_connection()
    try:
        for account in created:
            conn.search(account["dn"], "(objectClass=*)", ldap3.BASE, attributes=["*"])
            entry = conn.entries[0].entry_attributes_as_dict
            state = entry["entIdpAccountState"][0]
            backup = entry.get("entIdpBackupMail", [None])[0]
            if state == "active" and backup and _binds(c, account["dn"], NEW_PASSWORD):
                whole.append(account["login"])
            elif state == "pending" and not backup and _binds(c, account["dn"], PROVISIONAL):
                untouched.append(account["login"])
            else:
                half.append((account["login"], state, backup))
    finally:
        conn.unbind()
    return whole, untouched, half


def _binds(c: Cluster, dn: str, password: str) -> bool:
    conn = ldap3.Connection(c.ldap[0].url, user=dn, password=password.encode("utf-8"))
    try:
        return bool(conn.bind())
    finally:
        conn.unbind()
