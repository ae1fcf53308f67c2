"""A throw-away CAS server (django-cas-server 3.1.0, LDAP bind) for tests and the demo.

The Django project is ``devstack/cas/``; its SQLite database, secret key and log live in
``workdir``, so stop()/start() keeps sessions and tickets. Served by gunicorn under
``/cas/`` (``<url>login``, ``<url>p3/serviceValidate``, ``<url>logout``).

Usage::

    cas = CasServer(Path("/tmp/cas"), 8000, ldap_url=slapd.url, people_dn=slapd.people_dn,
                    bind_dn=slapd.service_dn, bind_password=slapd.service_password,
                    ent_idp_url="http://127.0.0.1:5000/",
                    services=["http://127.0.0.1:5000/", "http://127.0.0.1:8000/"])
    cas.start(); ...; cas.stop()

Smoke test: ``python -m devstack.cas_server --help``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from .ports import check_port_free, terminate

REPO = Path(__file__).resolve().parent.parent
FIX_HINT = "install the test extra: .venv/bin/pip install -e '.[test]' (django-cas-server, Django)"


class CasServerError(RuntimeError):
    """The CAS server could not be set up or started."""


class CasServer:
    """gunicorn serving devstack.cas on ``http://127.0.0.1:<port>/cas/``.

    ``services``: URL prefixes allowed to get tickets (each becomes a ServicePattern
    releasing uid, mail, cn, givenName, sn). ``single_log_out``: off by default -- with it
    on, CAS POSTs a logoutRequest to each service URL the user got a ticket for when they
    log out (an outbound call that blocks logout up to 5 s when the service does not answer).
    ``active_only``: on by default -- only accounts whose ``entIdpAccountState`` is
    ``active`` get tickets; a pending/reset account's provisional password binds (pwdReset
    does not refuse the bind), so without it CAS would let it into the services. It gets
    « Caractéristique utilisateur non autorisée » on the login page instead.

    For another schema (``devstack.esco_stack.cas_options``): ``login_attribute`` (``uid``)
    is what users log in with; ``active_filter`` (attribute, regular expression) what an
    active account holds; ``any_state`` the prefixes that take accounts in any state
    (ent-idp's federated activation, which checks the rest); ``federation`` (name, password,
    LDAP filter) the demo's stand-in for a federation: that password logs in the entries the
    filter matches (``devstack.cas.auth.DemoFederationAuthUser``).
    """

    START_TIMEOUT = 30.0
    STOP_TIMEOUT = 10.0

    def __init__(
        self,
        workdir: Path,
        port: int,
        *,
        ldap_url: str,
        people_dn: str,
        bind_dn: str,
        bind_password: str,
        ent_idp_url: str,
        services: list[str],
        single_log_out: bool = False,
        active_only: bool = True,
        workers: int = 2,
        login_attribute: str = "uid",
        active_filter: tuple[str, str] | None = None,
        any_state: list[str] | None = None,
        federation: tuple[str, str, str] | None = None,
    ) -> None:
        if not services:
            raise ValueError("CasServer needs at least one allowed service URL prefix")
        self.workdir = Path(workdir).resolve()
        self.port = int(port)
        self.url = f"http://127.0.0.1:{self.port}/cas/"
        self.login_url = f"{self.url}login"
        self.ldap_url = ldap_url
        self.people_dn = people_dn
        self.bind_dn = bind_dn
        self.bind_password = bind_password
        self.ent_idp_url = ent_idp_url if ent_idp_url.endswith("/") else ent_idp_url + "/"
        self.services = list(services)
        self.single_log_out = single_log_out
        self.active_only = active_only
        self.workers = workers
        self.login_attribute = login_attribute
        self.active_filter = active_filter
        self.any_state = list(any_state or [])
        self.federation = federation
        self.log_path = self.workdir / "cas.log"
        self._process: subprocess.Popen | None = None

    # ------------------------------------------------------------------ public API
    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = self._env()
        self._bootstrap(env)
        self._check_port_free()
        cmd = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--graceful-timeout", "5",
            "--access-logfile", "-",
            # gunicorn >= 27 otherwise opens ~/.gunicorn/gunicorn.ctl, one path shared by
            # every gunicorn of the user (the app's too): the last to stop removes it.
            "--no-control-socket",
            "devstack.cas.wsgi:application",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            log.write(f"--- {time.strftime('%F %T')} {' '.join(cmd)}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                cmd,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the demo reaches us, not gunicorn
            )
        try:
            self._wait_ready(time.monotonic() + self.START_TIMEOUT)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        terminate(self._process, timeout=self.STOP_TIMEOUT)
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> CasServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals
    def _secret_key(self) -> str:
        path = self.workdir / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(50))
            path.chmod(0o600)
        return path.read_text().strip()

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEVSTACK_CAS_")}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "devstack.cas.settings",
                "PYTHONPATH": os.pathsep.join(
                    [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
                ),
                "DEVSTACK_CAS_WORKDIR": str(self.workdir),
                "DEVSTACK_CAS_SECRET_KEY": self._secret_key(),
                "DEVSTACK_CAS_LDAP_URL": self.ldap_url,
                "DEVSTACK_CAS_LDAP_BASE_DN": self.people_dn,
                "DEVSTACK_CAS_LDAP_BIND_DN": self.bind_dn,
                "DEVSTACK_CAS_LDAP_BIND_PASSWORD": self.bind_password,
                "DEVSTACK_CAS_ENT_IDP_URL": self.ent_idp_url,
                "DEVSTACK_CAS_LOGIN_ATTRIBUTE": self.login_attribute,
            }
        )
        if self.active_filter:
            env["DEVSTACK_CAS_ACTIVE_ATTRIBUTE"], env["DEVSTACK_CAS_ACTIVE_PATTERN"] = (
                self.active_filter
            )
        if self.federation:
            name, password, search_filter = self.federation
            env["DEVSTACK_CAS_FEDERATION_NAME"] = name
            env["DEVSTACK_CAS_FEDERATION_PASSWORD"] = password
            env["DEVSTACK_CAS_FEDERATED_FILTER"] = search_filter
        return env

    def _bootstrap(self, env: dict[str, str]) -> None:
        """migrate + sync the ServicePatterns (idempotent, every start)."""
        cmd = [sys.executable, "-m", "devstack.cas.bootstrap"]
        if self.single_log_out:
            cmd.append("--single-log-out")
        if self.active_only:
            cmd.append("--active-only")
        cmd += [f"--any-state={prefix}" for prefix in self.any_state]
        cmd += self.services
        res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            out = (res.stderr + res.stdout).strip()[-3000:]
            hint = f"\n({FIX_HINT})" if "ModuleNotFoundError" in out else ""
            raise CasServerError(
                f"CAS bootstrap (migrate, services) failed (rc={res.returncode}):\n{out}{hint}"
            )

    def _check_port_free(self) -> None:
        try:
            check_port_free(self.port, "the CAS server")
        except RuntimeError as exc:
            raise CasServerError(str(exc)) from None

    def _log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def _wait_ready(self, deadline: float) -> None:
        assert self._process is not None
        last: object = None
        delay = 0.05
        while True:
            if self._process.poll() is not None:
                raise CasServerError(
                    f"the CAS server (gunicorn) exited at start-up with status "
                    f"{self._process.returncode}; {self.log_path}:\n{self._log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.login_url, timeout=2) as resp:
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}"
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code}"
            except OSError as e:  # not listening yet
                last = e
            if time.monotonic() > deadline:
                raise CasServerError(
                    f"CAS not ready at {self.login_url} after {self.START_TIMEOUT:.0f}s "
                    f"(last: {last}); {self.log_path}:\n{self._log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.3)


def main(argv: list[str] | None = None) -> int:
    """Start slapd (demo accounts) + CAS on free ports, log chloe.bernard in, validate."""
    import tempfile
    import urllib.parse

    from .ports import free_port
    from .slapd import Slapd

    p = argparse.ArgumentParser(
        prog="python -m devstack.cas_server",
        description="Start slapd + the devstack CAS server, log a demo user in through the "
        "login form and validate the ticket (CAS 3).",
    )
    p.add_argument("--workdir", type=Path, help="default: a fresh temporary directory")
    p.add_argument("--port", type=int, default=0, help="CAS port (default: a free one)")
    p.add_argument("--serve", action="store_true", help="keep running until Ctrl-C")
    a = p.parse_args(argv)
    workdir = a.workdir or Path(tempfile.mkdtemp(prefix="devstack-cas-"))
    temporary = a.workdir is None
    slapd = Slapd(workdir / "slapd", free_port())
    port = a.port or free_port()
    service = "http://127.0.0.1:5000/compte"
    cas = CasServer(
        workdir / "cas", port,
        ldap_url=slapd.url, people_dn=slapd.people_dn,
        bind_dn=slapd.service_dn, bind_password=slapd.service_password,
        ent_idp_url="http://127.0.0.1:5000/",
        services=["http://127.0.0.1:5000/", f"http://127.0.0.1:{port}/"],
    )  # fmt: skip
    try:
        slapd.start()
        slapd.load_demo_accounts()
        t0 = time.monotonic()
        cas.start()
        print(f"CAS up at {cas.url} in {time.monotonic() - t0:.2f}s (workdir {workdir})")
        ticket = login(cas, "chloe.bernard", "Chloe-Active-2026!", service)
        body = (
            urllib.request.urlopen(
                f"{cas.url}p3/serviceValidate?"
                + urllib.parse.urlencode({"ticket": ticket, "service": service}),
                timeout=10,
            )
            .read()
            .decode()
        )
        print(body)
        if a.serve:
            print(f"serving; login at {cas.login_url}?service={urllib.parse.quote(service)}")
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cas.stop()
        slapd.stop()
        if temporary:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def login(cas: CasServer, username: str, password: str, service: str) -> str:
    """Log in through the real login form (cookies, CSRF, lt); return the service ticket."""
    import http.cookiejar
    import urllib.parse
    from html.parser import HTMLParser

    class Inputs(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.fields: dict[str, str] = {}

        def handle_starttag(self, tag, attrs):
            d = dict(attrs)
            if tag == "input" and d.get("name") and d.get("type") != "checkbox":
                self.fields[d["name"]] = d.get("value") or ""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kw):
            return None

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    url = f"{cas.login_url}?{urllib.parse.urlencode({'service': service})}"
    parser = Inputs()
    parser.feed(opener.open(url, timeout=10).read().decode())
    fields = {**parser.fields, "username": username, "password": password}
    try:
        resp = opener.open(url, data=urllib.parse.urlencode(fields).encode(), timeout=10)
    except urllib.error.HTTPError as e:
        if e.code != 302:
            raise
        location = e.headers["Location"]
    else:
        raise CasServerError(f"login refused for {username} (HTTP {resp.status}, no redirect)")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    if not location.startswith(service) or "ticket" not in query:
        raise CasServerError(f"unexpected redirect after login: {location}")
    return query["ticket"][0]


if __name__ == "__main__":
    sys.exit(main())
