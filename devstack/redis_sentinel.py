"""One Redis Sentinel (``redis-server <conf> --sentinel``: the Debian redis-server binary;
the redis-sentinel package is the same binary) watching :data:`MASTER_NAME`, for
devstack/redis_cluster.py.

Its own ``requirepass`` (the same for every Sentinel of a set: a Sentinel authenticates to
its peers with its own password), ``sentinel auth-pass`` for the data nodes, quorum
:data:`QUORUM`, ``down-after-milliseconds`` :data:`DOWN_AFTER_MS`, ``failover-timeout``
:data:`FAILOVER_TIMEOUT_MS`.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from .ports import check_port_free, terminate, wait_for_port
from .redis_server import FIX_HINT

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
