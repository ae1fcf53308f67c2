"""Redis with Sentinel for the devstack: a master, a replica and three Sentinels.

* data nodes: :class:`devstack.redis_server.RedisServer` (AOF, ``appendfsync always``) with
  ``requirepass`` and ``masterauth`` (the same password: either node may become the master),
  the replica started with ``replicaof``;
* Sentinels: ``redis-server <conf> --sentinel`` (the Debian redis-server binary; the
  redis-sentinel package is the same binary), each with its own ``requirepass`` (the same for
  the three: a Sentinel authenticates to its peers with its own password) and
  ``sentinel auth-pass`` for the data nodes; quorum 2, ``down-after-milliseconds``
  :data:`DOWN_AFTER_MS`, ``failover-timeout`` :data:`FAILOVER_TIMEOUT_MS`.

Usage::

    cluster = RedisSentinelCluster(Path("/tmp/r"))  # free ports
    cluster.start()
    client = cluster.sentinel().master_for(MASTER_NAME)
    killed = cluster.kill_master(); cluster.wait_for_new_master(killed)
    cluster.restart_as_replica(killed)
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis
import redis.sentinel

from .ports import check_port_free, free_port, terminate, wait_for_port
from .redis_server import FIX_HINT, RedisServer

MASTER_NAME = "ent-idp"
QUORUM = 2
# A master silent for 2 s is subjectively down; with the quorum it is objectively down and
# the failover starts (it then takes about 1 s more). 1 s was tried: on these shared 2-core
# machines under load every process can stall that long, and the Sentinels then fail over a
# healthy master. failover-timeout bounds a stuck failover; a failed attempt is retried after
# twice that: a few seconds suits tests (production: the defaults, 30 s and 180 s).
DOWN_AFTER_MS = 2000
FAILOVER_TIMEOUT_MS = 5000
HOST = "127.0.0.1"


class RedisNode(RedisServer):
    """A data node: ``requirepass``/``masterauth`` set, optionally ``replicaof`` another."""

    def __init__(self, workdir: Path, port: int, password: str) -> None:
        super().__init__(workdir, port)
        self.password = password
        self.url = f"redis://:{password}@{HOST}:{port}/0"
        self.address = (HOST, port)

    def start(self, replica_of: tuple[str, int] | None = None, timeout: float = 20) -> None:
        check_port_free(self.port, "redis-server")
        # repl-diskless-sync-delay 0: a (re)starting replica gets its copy at once, not
        # after the default 5 s wait for other replicas to share one transfer.
        self.extra_args = (
            *("--requirepass", self.password, "--masterauth", self.password),
            *("--repl-diskless-sync-delay", "0"),
        )
        if replica_of is not None:
            self.extra_args += ("--replicaof", replica_of[0], str(replica_of[1]))
        super().start(timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last fsync, no goodbye to the replica."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def client(self, **kw) -> redis.Redis:
        kw.setdefault("socket_timeout", 2)
        return redis.Redis.from_url(self.url, **kw)

    def replication(self) -> dict:
        client = self.client()
        try:
            return client.info("replication")
        finally:
            client.close()


class SentinelServer:
    """One ``redis-server --sentinel`` watching :data:`MASTER_NAME`."""

    def __init__(self, workdir: Path, port: int, password: str, data_password: str) -> None:
        self.workdir = Path(workdir)
        self.port = port
        self.address = (HOST, port)
        self.password = password
        self.data_password = data_password
        self.config_path = self.workdir / "sentinel.conf"
        self._process: subprocess.Popen | None = None

    def write_config(self, master: tuple[str, int]) -> None:
        """A fresh sentinel.conf (Sentinel rewrites it with what it learns)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            f"""bind {HOST}
port {self.port}
dir {self.workdir}
daemonize no
requirepass "{self.password}"
sentinel monitor {MASTER_NAME} {master[0]} {master[1]} {QUORUM}
sentinel auth-pass {MASTER_NAME} "{self.data_password}"
sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}
sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}
sentinel parallel-syncs {MASTER_NAME} 1
"""
        )

    def start(self, timeout: float = 20) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise RuntimeError(f"redis-server not found: {FIX_HINT}")
        check_port_free(self.port, "redis sentinel")
        with (self.workdir / "sentinel.log").open("ab") as log:
            self._process = subprocess.Popen(
                [binary, str(self.config_path), "--sentinel"], stdout=log, stderr=log
            )
        wait_for_port(HOST, self.port, time.monotonic() + timeout, "redis sentinel", self._process)

    def stop(self) -> None:
        terminate(self._process)
        self._process = None

    def client(self) -> redis.Redis:
        return redis.Redis(*self.address, password=self.password, socket_timeout=2)

    def master_address(self) -> tuple[str, int] | None:
        """Where this Sentinel says the master is (None if it cannot answer)."""
        client = self.client()
        try:
            host, port = client.sentinel_get_master_addr_by_name(MASTER_NAME)
            return (host.decode() if isinstance(host, bytes) else host, int(port))
        except (redis.RedisError, TypeError):
            return None
        finally:
            client.close()

    def sees_replica(self, replica: tuple[str, int], master: tuple[str, int]) -> bool:
        """Whether this Sentinel holds ``replica`` as a healthy replica of ``master``: up,
        and its last INFO (taken since it came back) says so. Only such a replica can be
        promoted; killing the master before would abort the failover (no good replica) and
        the next try waits 2 x failover-timeout."""
        client = self.client()
        try:
            replicas = client.sentinel_slaves(MASTER_NAME)
        finally:
            client.close()
        return any(
            (r["ip"], r["port"]) == replica
            and r["flags"] == "slave"
            and r["role-reported"] == "slave"
            and r["master-link-status"] == "ok"
            and (r["master-host"], r["master-port"]) == master
            for r in replicas
        )

    def knows(self) -> tuple[int, int]:
        """(other Sentinels, replicas) this Sentinel has discovered."""
        client = self.client()
        try:
            return (
                len(client.sentinel_sentinels(MASTER_NAME)),
                len(client.sentinel_slaves(MASTER_NAME)),
            )
        finally:
            client.close()


class RedisSentinelCluster:
    """A master, a replica (or more: one per port of ``data_ports`` after the first) and
    three Sentinels under ``workdir``, on given or free ports."""

    def __init__(
        self,
        workdir: Path,
        data_ports: tuple[int, ...] | None = None,
        sentinel_ports: tuple[int, int, int] | None = None,
        password: str = "demo-redis",
        sentinel_password: str = "demo-sentinel",
    ) -> None:
        workdir = Path(workdir)
        data_ports = data_ports or (free_port(), free_port())
        sentinel_ports = sentinel_ports or (free_port(), free_port(), free_port())
        self.password = password
        self.sentinel_password = sentinel_password
        self.nodes = [
            RedisNode(workdir / f"redis-{n}", port, password)
            for n, port in enumerate(data_ports, start=1)
        ]
        self.sentinels = [
            SentinelServer(workdir / f"sentinel-{n}", port, sentinel_password, password)
            for n, port in enumerate(sentinel_ports, start=1)
        ]

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [s.address for s in self.sentinels]

    def start(self, timeout: float = 30) -> None:
        """Master, then the replica (in sync), then the Sentinels (knowing each other)."""
        deadline = time.monotonic() + timeout
        master, *replicas = self.nodes
        master.start()
        for replica in replicas:
            replica.start(replica_of=master.address)
        self._wait(
            "the replicas in sync",
            lambda: all(r.replication().get("master_link_status") == "up" for r in replicas),
            deadline,
        )
        for sentinel in self.sentinels:
            sentinel.write_config(master.address)
            sentinel.start()
        expected = (len(self.sentinels) - 1, len(self.nodes) - 1)
        self._wait(
            "the Sentinels know each other and the replica",
            lambda: all(s.knows() == expected for s in self.sentinels),
            deadline,
        )

    def stop(self) -> None:
        for service in (*self.sentinels, *self.nodes):
            service.stop()

    def sentinel(self, **kw) -> redis.sentinel.Sentinel:
        """A redis-py Sentinel client: ``.master_for(MASTER_NAME)`` follows failovers."""
        kw.setdefault("socket_timeout", 1)
        kw.setdefault("socket_connect_timeout", 1)
        return redis.sentinel.Sentinel(
            self.sentinel_addresses,
            sentinel_kwargs={"password": self.sentinel_password, "socket_timeout": 1},
            password=self.password,
            **kw,
        )

    def master_address(self) -> tuple[str, int] | None:
        """The master the Sentinels agree on (a majority), else None."""
        answers = [s.master_address() for s in self.sentinels]
        for answer in answers:
            if answer is not None and answers.count(answer) > len(answers) // 2:
                return answer
        return None

    def node_at(self, address: tuple[str, int]) -> RedisNode:
        return next(node for node in self.nodes if node.address == address)

    def kill_master(self) -> RedisNode:
        """SIGKILL the node the Sentinels call master; returns it."""
        address = self.master_address()
        if address is None:
            raise RuntimeError("the Sentinels do not agree on a master")
        node = self.node_at(address)
        node.kill()
        return node

    def wait_for_new_master(self, old: RedisNode, timeout: float = 30) -> RedisNode:
        """Wait until a majority of Sentinels name another master and it says role:master."""
        found: list[RedisNode] = []

        def promoted() -> bool:
            address = self.master_address()
            if address is None or address == old.address:
                return False
            node = self.node_at(address)
            if node.replication().get("role") != "master":
                return False
            found.append(node)
            return True

        self._wait("a new master", promoted, time.monotonic() + timeout)
        return found[0]

    def restart_as_replica(self, node: RedisNode, timeout: float = 30) -> None:
        """Start ``node`` again as a replica of the current master; return once it is in
        sync and every Sentinel holds it as a replica that could be promoted."""
        master = self.master_address()
        if master is None or master == node.address:
            raise RuntimeError(f"no other master to follow (the Sentinels say {master})")
        node.start(replica_of=master)

        def back_as_replica() -> bool:
            now = self.master_address()
            if now not in (None, master):
                raise RuntimeError(
                    f"the Sentinels moved the master from {master} to {now} while "
                    f"{node.address} came back: a process stalled for longer than "
                    f"down-after-milliseconds ({DOWN_AFTER_MS} ms)"
                )
            replication = node.replication()
            return replication.get("master_link_status") == "up" and all(
                s.sees_replica(node.address, master) for s in self.sentinels
            )

        self._wait(
            f"{node.address} in sync with {master}, seen so by the Sentinels",
            back_as_replica,
            time.monotonic() + timeout,
        )

    @staticmethod
    def _wait(what: str, condition, deadline: float) -> None:
        delay = 0.01
        while True:
            try:
                if condition():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis cluster: {what}: not reached in time")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
