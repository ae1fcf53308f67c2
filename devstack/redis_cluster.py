"""Redis with Sentinel for the devstack: a master, a replica and three Sentinels.

* data nodes: :class:`devstack.redis_server.RedisServer` (AOF, ``appendfsync always``) with
  ``requirepass`` and ``masterauth`` (the same password: either node may become the master),
  the replica started with ``replicaof``;
* three Sentinels (devstack/redis_sentinel.py): their own password, quorum 2, a failover
  in 3 to 4 s.

Usage::

    cluster = RedisSentinelCluster(Path("/tmp/r"))  # free ports
    cluster.start()
    client = cluster.sentinel().master_for("ent-idp")  # redis_sentinel.MASTER_NAME
    killed = cluster.kill_master(); cluster.wait_for_new_master(killed)
    cluster.restart_as_replica(killed)
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import redis
import redis.sentinel

from .ports import check_port_free, free_port
from .redis_sentinel import DOWN_AFTER_MS, HOST, SentinelServer
from .redis_server import RedisServer


class RedisNode(RedisServer):
    """A data node: ``requirepass``/``masterauth`` set, optionally ``replicaof`` another."""

    def __init__(self, workdir: Path, port: int, password: str) -> None:
        super().__init__(workdir, port)
        self.password = password
        self.url = f"redis://:{quote(password, safe='')}@{HOST}:{port}/0"
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
        """Master, then the replicas (in sync), then the Sentinels (knowing each other and
        the replicas); everything stopped again if one of them fails."""
        deadline = time.monotonic() + timeout
        master, *replicas = self.nodes
        try:
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
            expected = (len(self.sentinels) - 1, len(replicas))
            self._wait(
                "the Sentinels know each other and the replicas",
                lambda: all(s.knows() == expected for s in self.sentinels),
                deadline,
            )
        except BaseException:
            self.stop()
            raise

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
