"""A real cluster on one machine (issue 16), for the ``cluster`` tests and ``make demo-cluster``.

Starts, each as local child processes in one work dir:

* two OpenLDAP providers in multi-provider replication (devstack/slapd_replication.py);
* Redis: a master, two replicas and three Sentinels (devstack/redis_cluster.py): two, so that
  a failover still leaves the new master a replica to acknowledge writes (``WAIT 1``);
* nginx in front of the app instances' addresses, round robin (devstack/nginx_lb.py).

**Extension point**: :class:`Service` objects given to ``Cluster(..., services=[...])`` (or
:meth:`Cluster.add`) are started after everything above and stopped before it:
devstack/cluster_app.py adds the SMTP sink, a CAS, the app instances (``ent-idp serve``, one
per address of ``ports.apps``) and two mail workers.

``python -m devstack.cluster`` starts all of it on :data:`DEMO_PORTS` under
``var/demo-cluster/`` (fresh at every run), loads the demo accounts and prints the addresses;
``--free-ports`` picks free ports instead.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .nginx_lb import Nginx
from .ports import free_port
from .redis_cluster import RedisSentinelCluster
from .redis_sentinel import MASTER_NAME
from .slapd_replication import providers, wait_in_sync

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "demo-cluster"


class Service(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


@dataclass(frozen=True)
class ClusterPorts:
    ldap: tuple[int, ...]
    redis: tuple[int, ...]  # the master, then the replicas
    sentinels: tuple[int, int, int]
    http: int  # nginx
    apps: tuple[int, ...]  # nginx's upstreams: where the app instances listen
    smtp: int = 0  # the SMTP sink and the CAS (devstack/cluster_app.py)
    cas: int = 0

    @classmethod
    def free(cls, apps: int = 2) -> ClusterPorts:
        return cls(
            ldap=(free_port(), free_port()),
            redis=(free_port(), free_port(), free_port()),
            sentinels=(free_port(), free_port(), free_port()),
            http=free_port(),
            apps=tuple(free_port() for _ in range(apps)),
            smtp=free_port(),
            cas=free_port(),
        )


# Clear of make demo's 5000 (app), 3389 (slapd), 6380 (redis), 2525 (SMTP), 8000 (CAS), so
# both demos can run side by side.
DEMO_PORTS = ClusterPorts(
    ldap=(3391, 3392),
    redis=(6391, 6392, 6393),
    sentinels=(26391, 26392, 26393),
    http=5080,
    apps=(5081, 5082),
    smtp=2591,
    cas=8091,
)


class Cluster:
    """The services of a several-host deployment, on one machine, under ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        ports: ClusterPorts | None = None,
        *,
        admin_password: str = "demo-admin",
        service_password: str = "demo-service",
        redis_password: str = "demo-redis",
        sentinel_password: str = "demo-sentinel",
        services: list[Service] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.ports = ports or ClusterPorts.free()
        self.ldap = providers(
            self.workdir / "ldap",
            list(self.ports.ldap),
            admin_password=admin_password,
            service_password=service_password,
        )
        self.redis = RedisSentinelCluster(
            self.workdir / "redis",
            self.ports.redis,
            self.ports.sentinels,
            password=redis_password,
            sentinel_password=sentinel_password,
        )
        self.app_addresses = [("127.0.0.1", port) for port in self.ports.apps]
        self.nginx = Nginx(self.workdir / "nginx", self.ports.http, self.app_addresses)
        self.services: list[Service] = list(services or [])
        self._started: list[Service] = []

    def add(self, service: Service) -> None:
        """Run ``service`` (an app instance, a mail worker) with the cluster."""
        self.services.append(service)

    def start(self) -> None:
        """The directory (in sync), Redis (Sentinels ready), nginx, then the services."""
        try:
            for service in self.ldap:
                service.start()
                self._started.append(service)
            wait_in_sync(self.ldap)
            for service in (self.redis, self.nginx, *self.services):
                service.start()
                self._started.append(service)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        while self._started:
            self._started.pop().stop()

    def describe(self) -> str:
        ldap = self.ldap[0]
        apps = ", ".join(f"{host}:{port}" for host, port in self.app_addresses)
        sentinels = ", ".join(f"{host}:{port}" for host, port in self.redis.sentinel_addresses)
        lines = [
            f"  nginx (round robin)   {self.nginx.url}  ->  {apps}",
            *(
                f"  LDAP provider {p.server_id}       {p.url}  (multi-provider, syncrepl)"
                for p in self.ldap
            ),
            f"                        base {ldap.suffix}, admin {ldap.admin_dn} / "
            f"{ldap.admin_password}",
            *(
                f"  Redis node {n}          {node.address[0]}:{node.address[1]}"
                for n, node in enumerate(self.redis.nodes, start=1)
            ),
            f"                        password {self.redis.password}",
            f"  Sentinels             {sentinels}",
            f"                        master name {MASTER_NAME}, password "
            f"{self.redis.sentinel_password}, quorum 2",
            f"  Work dir (logs)       {self.workdir}",
        ]
        return "\n".join(lines)

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    from .cluster_app import add_app_services
    from .demo import ACCOUNTS

    parser = argparse.ArgumentParser(prog="python -m devstack.cluster", description=__doc__)
    parser.add_argument("--workdir", type=Path, default=VAR)
    parser.add_argument("--free-ports", action="store_true", help="not the fixed demo ports")
    args = parser.parse_args(argv)
    if args.workdir.exists():
        shutil.rmtree(args.workdir)
    cluster = Cluster(args.workdir, None if args.free_ports else DEMO_PORTS)
    extra = add_app_services(cluster, cluster.ports.smtp, cas=True, cas_port=cluster.ports.cas)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: sys.exit(0))
    with cluster:
        cluster.ldap[0].load_demo_accounts()  # replicated to the other provider
        url, cas = cluster.nginx.url, extra["cas"]
        apps = "\n".join(
            f"  App instance {n}        {a.url}  (log {a.log_path})"
            for n, a in enumerate(extra["apps"], start=1)
        )
        print(
            f"""
ent-idp cluster is running (Ctrl-C stops everything).

  Activer mon compte    {url}activation
  Compte réinitialisé   {url}reinitialisation
  Mon compte            {url}compte  (through CAS)
  CAS                   {cas.url}login  (LDAP bind on provider 1)
{apps}
  Mail workers          2 (logs mail-1.log, mail-2.log)
  SMTP sink             127.0.0.1:{cluster.ports.smtp}, every message as .eml in
                        {extra["smtp"].maildir}
{cluster.describe()}
  App settings          {extra["config"]}

Demo accounts:
{ACCOUNTS}

Failovers to try: kill -9 the Redis master (Sentinel promotes a replica in 3-4 s), or stop
LDAP provider 1 (writes go to provider 2): a flow under way goes on.
""",
            flush=True,
        )
        signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
