"""``make demo``: the whole stack on this machine, with demo accounts.

Starts slapd (ppolicy + argon2, the shipped schema), a CAS server (django-cas-server,
LDAP bind), redis-server, an SMTP sink writing ``.eml`` files, the mail worker and the app,
each as a local process under ``var/demo/`` (fresh at every run). Ctrl-C stops them all.
``ENT_IDP_DEMO_PROFILE=esco`` runs it on the regional ENTs' ESCO/SDET directory instead
(``devstack.esco_stack``: its schema, one account per user profile, the CAS in front of it).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import esco_stack
from .cas_server import CasServer
from .redis_server import RedisServer
from .slapd import DEMO_LDIF, Slapd
from .smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "demo"
APP_PORT = 5000
APP_URL = f"http://127.0.0.1:{APP_PORT}/"
# Two ENTs on the one app, told apart by the host (browsers resolve *.localhost to the
# loopback by themselves): the lycées' (the top-level keys), the CFA's ([ent.cfa]).
LYCEES_URL = f"http://lycees.localhost:{APP_PORT}/"
CFA_URL = f"http://cfa.localhost:{APP_PORT}/"
CAS_URL = "http://127.0.0.1:8000/cas/"
LDAP_PORT, REDIS_PORT, SMTP_PORT, CAS_PORT = 3389, 6380, 2525, 8000
# Prometheus metrics, each process on its own port ([metrics] bind, worker_bind).
METRICS_PORT, WORKER_METRICS_PORT = 9101, 9102
CAS_SERVICES = [LYCEES_URL, CFA_URL, "http://127.0.0.1:5000/", "http://127.0.0.1:8000/"]
INTERRUPT_PASSWORD = "demo-interrupt"

ACCOUNTS = """\
  alice.martin    pending  provisional password  Provisoire-2026
  bruno.petit     reset    provisional password  Reinit-2026         (backup address known)
  chloe.bernard   active   password              Chloe-Active-2026!  (chloe.perso@example.net)
                  (the lycées' CGU current, the CFA's older: the CFA's pages ask again)
  lucas.moreau    pending  provisional password  Homonyme-1-2026     (lucas.moreau@ent.test)
  lucas.moreau2   pending  provisional password  Homonyme-2-2026     (lucas.moreau2@ent.test)"""


def esco() -> bool:
    profile = os.environ.get("ENT_IDP_DEMO_PROFILE", "entidp")
    if profile not in ("entidp", "esco"):
        raise SystemExit(f"ENT_IDP_DEMO_PROFILE is entidp or esco, not {profile!r}")
    return profile == "esco"


def profile_config() -> str:
    """The [ldap] profile and [cgu] lines of the demo's directory."""
    if not esco():
        return '[cgu]\nversion = "2026-09"\n'
    return (
        "[cgu]\n# Acceptances are filed under this id, one value per service.\n"
        f'service_id = "{esco_stack.SERVICE_ID}"\nversion = "{esco_stack.CGU_VERSION}"\n'
    )


def cfa_config() -> str:
    """The demo's second ENT: the CFA's own name, colours, CGU, services and sender."""
    if esco():
        cgu = (
            f'service_id = "{esco_stack.CFA_SERVICE_ID}"\nversion = "{esco_stack.CFA_CGU_VERSION}"'
        )
        domains = f'domains = ["{esco_stack.CFA_DOMAIN}"]\n'
    else:
        cgu, domains = 'version = "2026-10-cfa"', ""
    return f"""
# The demo's second ENT (config/ent-idp.example.toml, "Several ENTs").
[ent.cfa]
name = "ENT CFA Val de Loire"
public_url = "{CFA_URL}"
{domains}
[ent.cfa.brand]
colour = "#6a1b4d"
colour_dark = "#4a1236"

[ent.cfa.cgu]
{cgu}
text_file = "{ROOT / "config" / "cgu-cfa.example.txt"}"
text_file_en = "{ROOT / "config" / "cgu-cfa.example.en.txt"}"

[ent.cfa.cas]
default_service = "{CFA_URL}"
allowed_services = ["{CFA_URL}", "http://127.0.0.1:8000/"]

[ent.cfa.mail]
sender = "ENT CFA Val de Loire <ne-pas-repondre@cfa.ent.test>"
help_contact = "assistance-cfa@ent.test"
"""


def write_config(slapd: Slapd, redis: RedisServer) -> Path:
    path = VAR / "ent-idp.toml"
    path.write_text(
        f"""# Written by devstack/demo.py for the demo; see config/ent-idp.example.toml.
secret_key = "{secrets.token_urlsafe(32)}"
public_url = "{LYCEES_URL}"
# A proper name, shown as is on the French and the English pages.
ent_name = "ENT Lycées Val de Loire"
ent_key = "lycees"
{'ent_domains = ["lycees.netocentre.fr"]' if esco() else ""}
allowed_hosts = ["localhost", "127.0.0.1"]

[ldap]
url = "{slapd.url}"
bind_dn = "{slapd.service_dn}"
bind_password = "{slapd.service_password}"
people_dn = "{slapd.people_dn}"
decoy_dn = "{slapd.decoy_dn}"
profile = "{"esco" if esco() else "entidp"}"

[redis]
url = "{redis.url}"

[admin]
# The directory's admin, for ent-idp reset/import/check in the demo.
bind_dn = "{slapd.admin_dn}"
bind_password = "{slapd.admin_password}"

[cas]
url = "{CAS_URL}"
allowed_services = ["{LYCEES_URL}", "http://127.0.0.1:5000/", "http://127.0.0.1:8000/"]
default_service = "{LYCEES_URL}"
interrupt_password = "{INTERRUPT_PASSWORD}"

[mail]
server = "127.0.0.1"
port = {SMTP_PORT}
sender = "ENT Lycées Val de Loire <ne-pas-repondre@lycees.ent.test>"
retry_seconds = 5

[metrics]
bind = "127.0.0.1:{METRICS_PORT}"
worker_bind = "127.0.0.1:{WORKER_METRICS_PORT}"

{profile_config()}text_file = "{ROOT / "config" / "cgu.example.txt"}"
text_file_en = "{ROOT / "config" / "cgu.example.en.txt"}"
{cfa_config()}""",
        encoding="utf-8",
    )
    return path


def main() -> int:
    if VAR.exists():
        shutil.rmtree(VAR)
    VAR.mkdir(parents=True)
    slapd = (esco_stack.slapd if esco() else Slapd)(VAR / "slapd", LDAP_PORT)
    redis = RedisServer(VAR / "redis", REDIS_PORT)
    smtp = SmtpSink(VAR / "mail", SMTP_PORT)
    cas = CasServer(
        VAR / "cas",
        CAS_PORT,
        ldap_url=slapd.url,
        people_dn=slapd.people_dn,
        bind_dn=slapd.service_dn,
        bind_password=slapd.service_password,
        ent_idp_url=LYCEES_URL,
        services=CAS_SERVICES,
        single_log_out=True,
        **(esco_stack.cas_options(LYCEES_URL) if esco() else {}),
    )
    started: list = []
    children: list[subprocess.Popen] = []

    def stop_all(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        for service in reversed(started):
            service.stop()

    stopping: list[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, _frame: stopping.append(signum))
    try:
        for service in (slapd, cas, redis, smtp):
            service.start()
            started.append(service)
        slapd.load_demo_accounts(esco_stack.DEMO_ACCOUNTS if esco() else DEMO_LDIF)
        config = write_config(slapd, redis)
        env = {**os.environ, "ENT_IDP_CONFIG": str(config)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the mail worker counts alone
        cli = [sys.executable, "-m", "ent_idp"]
        with (VAR / "mail-worker.log").open("w") as log:
            children.append(
                subprocess.Popen([*cli, "mail-worker"], env=env, stdout=log, stderr=log)
            )
        # The two gunicorn workers add up their counts there, as under the unit (/run/ent-idp).
        (VAR / "metrics").mkdir()
        serving = {**env, "PROMETHEUS_MULTIPROC_DIR": str(VAR / "metrics")}
        bind = f"127.0.0.1:{APP_PORT}"
        children.append(
            subprocess.Popen([*cli, "serve", "--bind", bind, "--workers", "2"], env=serving)
        )
        wait_for_http(APP_URL, children[-1])
        pending = "hugo.martin" if esco() else "alice.martin"
        active = "sophie.bernard" if esco() else "chloe.bernard"
        print(
            f"""
ent-idp demo is running (Ctrl-C stops everything).

Two ENTs on the one app, told apart by the host (README.md › Several ENTs):
  ENT Lycées           {LYCEES_URL}  (also {APP_URL})
  ENT CFA              {CFA_URL}  (its own name, colours, CGU, sender)

  Activer mon compte   {LYCEES_URL}activation?service=http%3A%2F%2Flycees.localhost%3A5000%2F
                       {CFA_URL}activation?service=http%3A%2F%2Fcfa.localhost%3A5000%2F
  Compte réinitialisé  {LYCEES_URL}reinitialisation
  Mon compte           {LYCEES_URL}compte, {CFA_URL}compte  (through CAS)
  The whole loop       {cas.url}login?service={LYCEES_URL}compte
  CAS                  {cas.url}login  (logs in by LDAP bind; active accounts only;
                       its page links to the lycées' ent-idp; both ENTs' services allowed)
  CAS interrupt API    {APP_URL}api/cas/interrupt?username={pending}
                       (basic auth: cas / {INTERRUPT_PASSWORD})
  LDAP                 {slapd.url}  base {slapd.suffix}
                       admin {slapd.admin_dn} / {slapd.admin_password}
  Redis                {redis.url}
  SMTP sink            127.0.0.1:{SMTP_PORT}, every message as .eml in {smtp.maildir}
  Config and logs      {VAR}  (the app's JSON lines below, the worker's in mail-worker.log)

Monitoring (README.md › Production › Monitoring):
  Liveness             {APP_URL}healthz
  Readiness            {APP_URL}readyz  (directory, Redis, mail queue age; 503 if one fails)
  Metrics, app         http://127.0.0.1:{METRICS_PORT}/metrics  (both gunicorn workers)
  Metrics, mail worker http://127.0.0.1:{WORKER_METRICS_PORT}/metrics  (mails sent/retried/dead)

Demo accounts:
{esco_stack.ACCOUNTS if esco() else ACCOUNTS}

Admin commands against the demo (its settings carry the admin account, [admin] in the file):
  export ENT_IDP_CONFIG={config}
  .venv/bin/ent-idp check                   # every check of a deployment, ok or FAIL
  .venv/bin/ent-idp status {pending:<17} # state, CGU, backup address, lock
  .venv/bin/ent-idp reset {active:<18} # a new provisional password, on stdout
  (admin {slapd.admin_dn} / {slapd.admin_password}: ENT_IDP_ADMIN_BIND_DN and
   ENT_IDP_ADMIN_BIND_PASSWORD would give it to a configuration without [admin])
""",
            flush=True,
        )
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
        if stopping:
            print("\nstopping the demo...", flush=True)
            return 0
        print("a demo process stopped; shutting down", file=sys.stderr)
        return 1
    finally:
        stop_all()


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the app stopped at start-up; see the lines above")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the app did not answer at {url} within {timeout:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
