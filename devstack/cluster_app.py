"""The app side of the cluster (issue 16): app instances behind nginx, mail workers, the SMTP
sink, and a CAS, plugged into :class:`devstack.cluster.Cluster` as its services.

Every app instance and mail worker reads one configuration (``ent-idp.toml`` in the work
dir, written by :func:`write_config`): the two LDAP providers in ``[ldap] urls`` (writes and
user binds on the first that answers) and in the other order in ``read_urls`` (the search of
a login, which may lag), the Sentinels in ``[redis] sentinels`` with both passwords,
``wait_replicas = 1``, one ``secret_key`` (a session cookie signed by one instance is read
by the other) and ``trusted_proxies`` = nginx's address only.

Each instance is ``ent-idp serve`` on its own port, its access log in ``app-<n>.log``: the
``cluster`` tests read there which instance served which request.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .cas_server import CasServer
from .cluster import ROOT, Cluster
from .redis_sentinel import MASTER_NAME
from .smtp_sink import SmtpSink

CGU_VERSION = "2026-09"


def write_config(
    cluster: Cluster,
    path: Path,
    *,
    smtp_port: int,
    cas_url: str = "http://127.0.0.1:9/cas/",
    services: tuple[str, ...] = (),
) -> Path:
    """The configuration every app instance and mail worker of ``cluster`` runs with."""
    ldap = cluster.ldap[0]
    urls = [provider.url for provider in cluster.ldap]
    sentinels = [f"{host}:{port}" for host, port in cluster.redis.sentinel_addresses]
    public = cluster.nginx.url
    allowed = [public, *services]
    path.write_text(
        f"""# Written by devstack/cluster_app.py; see config/ent-idp.example.toml.
secret_key = "{secrets.token_urlsafe(32)}"
public_url = "{public}"
ent_name = "ENT Val de Loire (cluster)"
# nginx's address only: the app believes its X-Forwarded-For and nobody else's.
trusted_proxies = ["127.0.0.1/32"]

[ldap]
urls = {urls!r}
read_urls = {list(reversed(urls))!r}
retry_failed_after = 5.0
timeout = 3
bind_dn = "{ldap.service_dn}"
bind_password = "{ldap.service_password}"
people_dn = "{ldap.people_dn}"
decoy_dn = "{ldap.decoy_dn}"

[redis]
sentinels = {sentinels!r}
master_name = "{MASTER_NAME}"
password = "{cluster.redis.password}"
sentinel_password = "{cluster.redis.sentinel_password}"
wait_replicas = 1
wait_timeout = 0.5
failover_wait = 8.0

[admin]
bind_dn = "{ldap.admin_dn}"
bind_password = "{ldap.admin_password}"

[cas]
url = "{cas_url}"
allowed_services = {allowed!r}
default_service = "{public}"

[mail]
server = "127.0.0.1"
port = {smtp_port}
sender = "ENT Val de Loire <ne-pas-repondre@ent.test>"
retry_seconds = 1

[cgu]
version = "{CGU_VERSION}"
text_file = "{ROOT / "config" / "cgu.example.txt"}"
text_file_en = "{ROOT / "config" / "cgu.example.en.txt"}"
""",
        encoding="utf-8",
    )
    return path


class EntIdpProcess:
    """``ent-idp <args>`` as a child process, its output in ``log_path``."""

    def __init__(self, name: str, config: Path, args: list[str], log_path: Path) -> None:
        self.name = name
        self.config = config
        self.args = args
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "ENT_IDP_CONFIG": str(self.config)}
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ent_idp", *self.args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


class AppInstance(EntIdpProcess):
    """``ent-idp serve`` on ``127.0.0.1:<port>``, ready once it answers."""

    def __init__(self, n: int, port: int, config: Path, workdir: Path, workers: int = 1):
        bind = f"127.0.0.1:{port}"
        args = ["serve", "--bind", bind, "--workers", str(workers), "--threads", "4"]
        super().__init__(f"app-{n}", config, args, workdir / f"app-{n}.log")
        self.url = f"http://{bind}/"

    def start(self, timeout: float = 60) -> None:
        super().start()
        deadline = time.monotonic() + timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} stopped at start-up: {self.log()[-2000:]}")
            try:
                urllib.request.urlopen(self.url + "activation", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not answer in {timeout:.0f} s") from None
                time.sleep(0.2)


class MailWorker(EntIdpProcess):
    def __init__(self, n: int, config: Path, workdir: Path):
        super().__init__(f"mail-worker-{n}", config, ["mail-worker"], workdir / f"mail-{n}.log")


def add_app_services(
    cluster: Cluster, smtp_port: int, *, cas: bool = False, cas_port: int = 0, workers: int = 1
) -> dict:
    """Add the SMTP sink, a CAS (``cas``), the app instances (one per ``ports.apps``) and
    two mail workers to ``cluster``; returns them by name (``smtp``, ``cas``, ``apps``,
    ``workers``, ``config``)."""
    workdir = cluster.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    smtp = SmtpSink(workdir / "mail", smtp_port)
    cluster.add(smtp)
    cas_server = None
    if cas:
        ldap = cluster.ldap[0]
        cas_server = CasServer(
            workdir / "cas",
            cas_port,
            ldap_url=ldap.url,
            people_dn=ldap.people_dn,
            bind_dn=ldap.service_dn,
            bind_password=ldap.service_password,
            ent_idp_url=cluster.nginx.url,
            services=[cluster.nginx.url],
        )
        cluster.add(cas_server)
    config = write_config(
        cluster,
        workdir / "ent-idp.toml",
        smtp_port=smtp_port,
        cas_url=cas_server.url if cas_server else "http://127.0.0.1:9/cas/",
        services=(cas_server.url[: -len("cas/")],) if cas_server else (),
    )
    apps = [
        AppInstance(n, port, config, workdir, workers)
        for n, port in enumerate(cluster.ports.apps, start=1)
    ]
    mail_workers = [MailWorker(n, config, workdir) for n in (1, 2)]
    for service in (*apps, *mail_workers):
        cluster.add(service)
    return {
        "smtp": smtp,
        "cas": cas_server,
        "apps": apps,
        "workers": mail_workers,
        "config": config,
    }
