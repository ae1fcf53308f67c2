"""The services a benchmark runs against, all local, all started here, all stopped here.

slapd (the shipped schema, ppolicy, {ARGON2}), redis-server and the SMTP sink come from
``devstack/`` on free loopback ports in a temporary directory; the app runs under gunicorn
(``ent-idp serve``) and the mail worker as ``ent-idp mail-worker``, both with a config TOML
written here. Accounts are created in bulk in their own ``ou`` and removed with it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import ldap3

from devstack.ports import free_port
from devstack.redis_server import RedisServer
from devstack.slapd import Slapd
from devstack.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parent.parent
PROVISIONAL = "Provisoire-Bench-2026"
NEW_PASSWORD = "Tr0mbone-Vert-Soleil!"
CGU_VERSION = "2026-09"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class BenchAccount:
    login: str
    dn: str


class Stack:
    """slapd + redis + SMTP sink (+ app and mail worker on demand) in a temp dir."""

    def __init__(self, keep: bool = False) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="ent-idp-bench-"))
        self.keep = keep
        self.slapd = Slapd(
            self.base / "slapd", free_port(), service_password=secrets.token_urlsafe(16)
        )
        self.redis = RedisServer(self.base / "redis", free_port())
        self.maildir = self.base / "mail"
        self.smtp = SmtpSink(self.maildir, free_port())
        self.app_port = free_port()
        self.app_url = f"http://127.0.0.1:{self.app_port}/"
        # The metrics are counted as in production (gunicorn's workers add up their files).
        self.metrics_port, self.worker_metrics_port = free_port(), free_port()
        self.metrics_dir = self.base / "metrics"
        self.bench_ou = f"ou=bench,{self.slapd.people_dn}"
        self._started: list = []
        self.children: dict[str, subprocess.Popen] = {}

    # -- services ----------------------------------------------------------------------

    def start(self) -> None:
        for service in (self.slapd, self.redis, self.smtp):
            service.start()
            self._started.append(service)
        log(
            f"slapd {self.slapd.url}, redis {self.redis.url}, smtp :{self.smtp.port} in {self.base}"
        )

    def stop(self) -> None:
        for name in list(self.children):
            self.stop_child(name)
        for service in reversed(self._started):
            try:
                service.stop()
            except Exception as exc:  # noqa: BLE001 - best effort at teardown
                log(f"stopping {service}: {exc}")
        self._started.clear()
        if not self.keep:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- accounts ----------------------------------------------------------------------

    def server_hashed_password(self) -> str:
        """The provisional password as slapd hashes it ({ARGON2}), read back once.

        slapd hashes a cleartext userPassword on Add (olcPPolicyHashCleartext); hashing
        thousands of them one by one would cost ~5 ms of slapd CPU each, so one seed entry
        is added in cleartext and its server-made {ARGON2} value is given to the others (the
        same cost for every later bind and history check).
        """
        seed = f"uid=bench-seed,{self.slapd.people_dn}"
        conn = self.slapd.admin_connection()
        try:
            conn.add(
                seed,
                ["inetOrgPerson"],
                {"uid": "bench-seed", "cn": "seed", "sn": "seed", "userPassword": PROVISIONAL},
            )
            conn.search(seed, "(objectClass=*)", ldap3.BASE, attributes=["userPassword"])
            raw = conn.response[0]["raw_attributes"]["userPassword"][0]
            value = raw.split(b"\0", 1)[0].decode()  # slapd's argon2 value may end in NUL+junk
            conn.delete(seed)
        finally:
            conn.unbind()
        if not value.startswith("{ARGON2}"):
            raise RuntimeError(f"slapd did not hash with {{ARGON2}}: {value[:12]}...")
        return value

    def create_accounts(self, count: int, prefix: str = "bench") -> list[BenchAccount]:
        """``count`` pending accounts with the provisional password, in one ldapadd."""
        hashed = self.server_hashed_password()
        lines = [f"dn: {self.bench_ou}", "objectClass: organizationalUnit", "ou: bench", ""]
        accounts = []
        for i in range(count):
            login = f"{prefix}.u{i:06d}"
            dn = f"uid={login},{self.bench_ou}"
            accounts.append(BenchAccount(login, dn))
            lines += [
                f"dn: {dn}",
                "objectClass: inetOrgPerson",
                "objectClass: entIdpAccount",
                "objectClass: inetLocalMailRecipient",
                f"uid: {login}",
                f"cn: Bench U{i}",
                "givenName: Bench",
                f"sn: U{i}",
                f"mail: {login}@ent.test",
                f"userPassword: {hashed}",
                "entIdpAccountState: pending",
                "pwdReset: TRUE",
                "",
            ]
        t0 = time.monotonic()
        cmd = [
            "ldapadd",
            "-x",
            "-H",
            self.slapd.url,
            "-D",
            self.slapd.admin_dn,
            "-w",
            self.slapd.admin_password,
        ]
        # -e relax: the rootdn adds an already hashed value (pwdCheckQuality 2 refuses it).
        res = subprocess.run(
            [*cmd, "-e", "relax"],
            input="\n".join(lines),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if res.returncode != 0:
            raise RuntimeError(f"ldapadd failed: {res.stderr.strip()[-2000:]}")
        log(f"{count} pending accounts added in {time.monotonic() - t0:.1f}s")
        return accounts

    def remove_accounts(self) -> None:
        t0 = time.monotonic()
        res = subprocess.run(
            [
                "ldapdelete",
                "-x",
                "-r",
                "-H",
                self.slapd.url,
                "-D",
                self.slapd.admin_dn,
                "-w",
                self.slapd.admin_password,
                self.bench_ou,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if res.returncode != 0:
            log(f"ldapdelete failed: {res.stderr.strip()[-500:]}")
        else:
            log(f"bench accounts removed in {time.monotonic() - t0:.1f}s")

    # -- the app -----------------------------------------------------------------------

    def write_config(self) -> Path:
        path = self.base / "ent-idp.toml"
        path.write_text(
            f"""# Written by bench/stack.py.
secret_key = "{secrets.token_urlsafe(32)}"
public_url = "{self.app_url}"
ent_name = "ENT bench"
# The load generator says which simulated user it is with X-Forwarded-For (one address per
# user, as a load balancer would): the per-address throttle counts users, not the generator.
trusted_proxies = ["127.0.0.1"]

[ldap]
url = "{self.slapd.url}"
bind_dn = "{self.slapd.service_dn}"
bind_password = "{self.slapd.service_password}"
people_dn = "{self.slapd.people_dn}"
decoy_dn = "{self.slapd.decoy_dn}"

[redis]
url = "{self.redis.url}"

[cas]
url = "http://127.0.0.1:9/cas/"
allowed_services = ["http://127.0.0.1:9/"]
default_service = "http://127.0.0.1:9/"

[mail]
server = "127.0.0.1"
port = {self.smtp.port}
sender = "ENT bench <ne-pas-repondre@ent.test>"
retry_seconds = 2

[cgu]
version = "{CGU_VERSION}"
text_file = "{ROOT / "config" / "cgu.example.txt"}"

[metrics]
bind = "127.0.0.1:{self.metrics_port}"
worker_bind = "127.0.0.1:{self.worker_metrics_port}"
""",
            encoding="utf-8",
        )
        return path

    def _spawn(
        self, name: str, args: list[str], module: str = "ent_idp", env: dict | None = None
    ) -> subprocess.Popen:
        env = {**os.environ, "ENT_IDP_CONFIG": str(self.write_config()), **(env or {})}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        if args[0] == "serve":  # as the unit does (/run/ent-idp); the mail worker counts alone
            self.metrics_dir.mkdir(exist_ok=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(self.metrics_dir)
        out = open(self.base / f"{name}.log", "ab")  # noqa: SIM115 - kept by the child
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        out.close()
        self.children[name] = proc
        return proc

    def start_app(self, workers: int, threads: int) -> subprocess.Popen:
        bind = f"127.0.0.1:{self.app_port}"
        proc = self._spawn(
            "app", ["serve", "--bind", bind, "--workers", str(workers), "--threads", str(threads)]
        )
        self._wait_ready("app", proc, self.app_url, workers)
        log(f"app on {self.app_url}: gunicorn {workers} worker(s) x {threads} thread(s)")
        return proc

    def start_floor(self, workers: int, threads: int, page_bytes: dict) -> subprocess.Popen:
        """The floor app (bench.floor) on its own port, with the app's server settings."""
        self.floor_url = f"http://127.0.0.1:{free_port()}/"
        bind = self.floor_url[len("http://") : -1]
        env = {"FLOOR_REDIS_URL": self.redis.url, "FLOOR_PAGE_BYTES": json.dumps(page_bytes)}
        proc = self._spawn(
            "floor", [bind, str(workers), str(threads)], module="bench.floor", env=env
        )
        self._wait_ready("floor", proc, self.floor_url, workers)
        log(f"floor app on {self.floor_url}: gunicorn {workers} worker(s) x {threads} thread(s)")
        return proc

    def _wait_ready(self, name: str, proc: subprocess.Popen, url: str, workers: int) -> None:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} stopped at start-up; see {self.base / name}.log")
            try:
                urllib.request.urlopen(url + "activation", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the app did not answer in 60 s") from None
                time.sleep(0.2)
        # Every worker imports and answers before the clock starts.
        while len(children_of(proc.pid)) < workers and time.monotonic() < deadline:
            time.sleep(0.1)

    def start_mail_worker(self) -> subprocess.Popen:
        return self._spawn("mail-worker", ["mail-worker"])

    def stop_child(self, name: str) -> None:
        proc = self.children.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def mail_count(self) -> int:
        return sum(1 for _ in self.maildir.glob("*.eml"))

    def mail_pending(self) -> int:
        """Messages queued, being sent or waiting for a retry: the app's own count."""
        from ent_idp import settings
        from ent_idp.store import Store

        store = Store(settings.load(str(self.write_config())))
        try:
            return store.mail_queue.pending()
        finally:
            store.close()

    def redis_commands(self) -> dict[str, int]:
        """Calls per Redis command since the server started (INFO commandstats)."""
        import redis

        client = redis.Redis.from_url(self.redis.url)
        try:
            stats = client.info("commandstats")
        finally:
            client.close()
        return {name.removeprefix("cmdstat_"): v["calls"] for name, v in stats.items()}

    def wait_mails(self, expected: int, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.mail_count() >= expected and self.mail_pending() == 0:
                break
            time.sleep(0.25)
        return self.mail_count()

    def pids(self) -> dict[str, list[int]]:
        """Processes whose CPU an activation spends, by role."""
        found: dict[str, list[int]] = {}
        for name, service in (("slapd", self.slapd), ("redis", self.redis), ("smtp", self.smtp)):
            proc = getattr(service, "_proc", None) or getattr(service, "_process", None)
            if proc is not None:
                found[name] = [proc.pid]
        app = self.children.get("app")
        if app is not None:
            found["gunicorn-master"] = [app.pid]
            found["gunicorn-workers"] = children_of(app.pid)
        floor = self.children.get("floor")
        if floor is not None:
            found["floor-master"] = [floor.pid]
            found["floor-workers"] = children_of(floor.pid)
        worker = self.children.get("mail-worker")
        if worker is not None:
            found["mail-worker"] = [worker.pid]
        return found


# -- /proc ---------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_snapshot(pids: dict[str, list[int]]) -> dict[str, float]:
    return {role: sum(cpu_seconds(p) for p in group) for role, group in pids.items()}


def cpu_times() -> tuple[int, int]:
    """(steal, total) jiffies of the machine: how much the hypervisor took from us."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return fields[7], sum(fields[:8])


def steal_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return 100 * (after[0] - before[0]) / total if total else 0.0
