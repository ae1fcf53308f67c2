"""Measures the facts the cluster's design rests on: ``python -m devstack.cluster_facts``.

On a fresh :class:`devstack.cluster.Cluster` (free ports, a temp dir):

* the replication delay of a Modify between the two LDAP providers, both ways;
* how long a stopped provider takes to catch up with writes made while it was down;
* how long a Redis failover takes after a SIGKILL of the master (Sentinels agreeing on the
  new one; first write through redis-py's ``master_for``);
* what ``WAIT 1 <ms>`` costs per write, with and without a replica, and whether writes
  acknowledged with or without it survive a SIGKILL failover.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import ldap3
import redis

from .cluster import Cluster
from .redis_sentinel import MASTER_NAME
from .slapd_replication import wait_for, wait_in_sync

DN_ATTRIBUTE = "description"


def summary(seconds: list[float]) -> str:
    if len(seconds) < 20:
        return "runs " + ", ".join(f"{s:.2f}" for s in seconds) + " s"
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, round(len(ms) * 0.99))]
    median = statistics.median(ms)
    return f"median {median:.2f} ms, p99 {p99:.2f} ms, max {ms[-1]:.2f} ms (n={len(ms)})"


def replication_delays(source, target, dn: str, n: int) -> list[float]:
    """Seconds from the end of a Modify on ``source`` to its value read on ``target``."""
    conn = source.admin_connection()
    delays = []
    try:
        for i in range(n):
            value = f"{source.server_id}-{i}-{time.monotonic_ns()}"
            conn.modify(dn, {DN_ATTRIBUTE: [(ldap3.MODIFY_REPLACE, [value])]})
            if conn.result["result"] != 0:
                raise RuntimeError(f"modify on {source.url}: {conn.result}")
            delays.append(wait_for(target, dn, DN_ATTRIBUTE, value, timeout=10))
    finally:
        conn.unbind()
    return delays


def catch_up(cluster: Cluster, dn: str, writes: int) -> float:
    """Stop provider 2, write on provider 1, start provider 2: seconds until in sync."""
    first, second = cluster.ldap
    second.stop()
    conn = first.admin_connection()
    for i in range(writes):
        conn.modify(dn, {DN_ATTRIBUTE: [(ldap3.MODIFY_REPLACE, [f"while-down-{i}"])]})
    conn.unbind()
    started = time.monotonic()
    second.start()
    wait_in_sync(cluster.ldap, timeout=30)
    return time.monotonic() - started


def failovers(cluster: Cluster, runs: int) -> list[tuple[float, float, float]]:
    """(Sentinels agree, first write) seconds after each SIGKILL of the master, and the
    seconds the old master then takes to be back as a replica."""
    client = cluster.redis.sentinel().master_for(MASTER_NAME, socket_timeout=0.5)
    results = []
    for run in range(runs):
        client.set("before", run)
        killed_at = time.monotonic()
        killed = cluster.redis.kill_master()
        cluster.redis.wait_for_new_master(killed)
        agreed = time.monotonic() - killed_at
        while True:
            try:
                client.set("after", run)
                break
            except redis.RedisError:
                time.sleep(0.01)
        first_write = time.monotonic() - killed_at
        restarted_at = time.monotonic()
        cluster.redis.restart_as_replica(killed)
        results.append((agreed, first_write, time.monotonic() - restarted_at))
    client.close()
    return results


def wait_costs(client: redis.Redis, n: int) -> dict[str, list[float]]:
    """Per-write seconds: SET alone, SET then WAIT 1 1000, both in one pipeline."""
    costs: dict[str, list[float]] = {"SET": [], "SET; WAIT 1 1000": [], "pipeline SET+WAIT": []}
    for i in range(n):
        t0 = time.perf_counter()
        client.set(f"w{i}", i)
        t1 = time.perf_counter()
        client.set(f"w{i}", i)
        acked = client.wait(1, 1000)
        t2 = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        pipe.set(f"w{i}", i)
        pipe.wait(1, 1000)
        acked_pipe = pipe.execute()[1]
        t3 = time.perf_counter()
        if acked < 1 or acked_pipe < 1:
            raise RuntimeError("WAIT 1: no replica acknowledged")
        costs["SET"].append(t1 - t0)
        costs["SET; WAIT 1 1000"].append(t2 - t1)
        costs["pipeline SET+WAIT"].append(t3 - t2)
    return costs


def survivors(cluster: Cluster, use_wait: bool, seconds: float = 0.5) -> tuple[int, int]:
    """Write as fast as one client can, SIGKILL the master meanwhile; (acknowledged, lost)."""
    client = cluster.redis.sentinel().master_for(MASTER_NAME, socket_timeout=0.5)
    client.flushall()
    client.wait(1, 1000)
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            key = f"k{i}"
            i += 1
            try:
                client.set(key, 1)
                if use_wait and client.wait(1, 1000) < 1:
                    continue  # not acknowledged by the replica: not promised to anyone
            except redis.RedisError:
                continue
            acknowledged.append(key)

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(seconds)  # a measurement: let the writer run, then pull the plug
    killed = cluster.redis.kill_master()
    new = cluster.redis.wait_for_new_master(killed)
    stop.set()
    thread.join()
    checker = new.client()
    lost = sum(1 for key in acknowledged if not checker.exists(key))
    checker.close()
    client.close()
    cluster.redis.restart_as_replica(killed)
    return len(acknowledged), lost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.cluster_facts")
    parser.add_argument("--modifies", type=int, default=50)
    parser.add_argument("--failovers", type=int, default=5)
    parser.add_argument("--waits", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, help="keep the logs there (default: a temp dir)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, Cluster(args.workdir or Path(tmp)) as cluster:
        first, second = cluster.ldap
        dn = first.people_dn
        print("LDAP Modify, 1 -> 2:", summary(replication_delays(first, second, dn, args.modifies)))
        print("LDAP Modify, 2 -> 1:", summary(replication_delays(second, first, dn, args.modifies)))
        print(f"LDAP catch-up after 100 writes while stopped: {catch_up(cluster, dn, 100):.2f} s")
        runs = failovers(cluster, args.failovers)
        print("Redis failover, Sentinels agree:", summary([run[0] for run in runs]))
        print("Redis failover, first write:    ", summary([run[1] for run in runs]))
        print("Redis old master back as replica:", summary([run[2] for run in runs]))
        client = cluster.redis.sentinel().master_for(MASTER_NAME, socket_timeout=2)
        for name, seconds in wait_costs(client, args.waits).items():
            print(f"Redis {name}: {summary(seconds)}")
        master = cluster.redis.node_at(cluster.redis.master_address())
        replica = next(node for node in cluster.redis.nodes if node is not master)
        replica.stop()
        t0 = time.perf_counter()
        acked = client.wait(1, 100)
        print(
            f"Redis WAIT 1 100 with the replica down: {acked} replicas after "
            f"{(time.perf_counter() - t0) * 1000:.0f} ms"
        )
        cluster.redis.restart_as_replica(replica)
        client.close()
        for use_wait in (False, True):
            acked, lost = survivors(cluster, use_wait)
            label = "with WAIT 1" if use_wait else "without WAIT"
            print(f"Redis SIGKILL failover {label}: {lost} of {acked} acknowledged writes lost")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
