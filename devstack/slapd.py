"""A throw-away OpenLDAP server (slapd 2.5, cn=config) for tests and the demo.

The configuration is built from the files shipped in ``ldap_schema/`` (used verbatim,
except that the placeholder suffix ``dc=ent,dc=test`` is substituted when another
suffix is asked for), so the tests exercise what a deployment applies:

* ``entidp.ldif``            -- loaded into cn=schema with core, cosine, inetorgperson, misc
* ``ppolicy-overlay.ldif``   -- applied with ldapmodify (modules, {ARGON2}, ppolicy overlay)
* ``acl.ldif``               -- applied with ldapmodify
* ``ppolicy-default.ldif``   -- added under ou=policies
* ``decoy.ldif``             -- added (the decoy entry and its policy), with a random password

With ``tls=SlapdTls(certificate, key, ldaps_port)`` the server also speaks TLS: StartTLS on
its ``ldap://`` listener and ``ldaps://127.0.0.1:<ldaps_port>`` (``ldaps_url``). Its own
set-up and readiness probe stay on plain ``ldap://``.

Usage::

    s = Slapd(Path("/tmp/x"), 3890)
    s.start(); s.load_demo_accounts(); ...; s.stop()

Smoke test: ``python -m devstack.slapd WORKDIR PORT [--demo] [--serve]``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import ldap3
from ldap3.core.exceptions import LDAPException

from ent_idp.directory.connections import close as _close

from .ports import check_port_free

REPO = Path(__file__).resolve().parent.parent
SCHEMA_DIR = REPO / "ldap_schema"
DEMO_LDIF = Path(__file__).resolve().parent / "demo-accounts.ldif"
PLACEHOLDER_SUFFIX = "dc=ent,dc=test"
DECOY_PLACEHOLDER = "REPLACE-WITH-A-RANDOM-PASSWORD"
SYSTEM_SCHEMA_DIR = Path("/etc/ldap/schema")
SYSTEM_SCHEMAS = ("core", "cosine", "inetorgperson", "misc")
MODULE_PATHS = (
    "/usr/lib/ldap",
    "/usr/lib64/openldap",
    "/usr/lib/openldap",
    "/usr/local/libexec/openldap",
)
FIX_HINT = "run devstack/install-system-deps.sh (Debian: apt-get install slapd ldap-utils)"


class SlapdError(RuntimeError):
    """slapd could not be set up, started or stopped."""


@dataclass(frozen=True)
class SlapdTls:
    """The server's certificate (PEM, chain first) and key, and the port of its ldaps://."""

    certificate: Path
    key: Path
    ldaps_port: int


def _find_binary(name: str) -> str:
    for candidate in (
        shutil.which(name),
        f"/usr/sbin/{name}",
        f"/usr/local/sbin/{name}",
        f"/usr/bin/{name}",
        f"/usr/local/libexec/{name}",
    ):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise SlapdError(f"{name} not found: {FIX_HINT}")


def _find_module_path() -> str:
    for d in MODULE_PATHS:
        if os.path.exists(os.path.join(d, "back_mdb.la")) or os.path.exists(
            os.path.join(d, "back_mdb.so")
        ):
            return d
    raise SlapdError(
        f"slapd modules (back_mdb, ppolicy, argon2) not found in "
        f"{', '.join(MODULE_PATHS)}: {FIX_HINT}"
    )


def _ssha(password: str) -> str:
    import base64
    import hashlib

    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


class Slapd:
    """One slapd child process serving ``suffix`` on ``ldap://127.0.0.1:<port>``.

    State lives in ``workdir`` (``slapd.d/`` config, ``data/`` mdb, ``slapd.log``), so
    stop()/start() keeps the data.  Delete the workdir to start afresh.
    """

    START_TIMEOUT = 20.0
    STOP_TIMEOUT = 10.0

    def __init__(
        self,
        workdir: Path,
        port: int,
        suffix: str = PLACEHOLDER_SUFFIX,
        admin_password: str = "demo-admin",
        service_password: str = "demo-service",
        extra_schemas: tuple[Path, ...] = (),
        tls: SlapdTls | None = None,
        extra_config: tuple[Path, ...] = (),
    ) -> None:
        """``extra_schemas``: more cn=config schema LDIFs, loaded after entidp.ldif;
        ``extra_config``: cn=config changes applied after acl.ldif (e.g. devstack/esco/'s)."""
        self.extra_schemas = tuple(Path(path) for path in extra_schemas)
        self.extra_config = tuple(Path(path) for path in extra_config)
        self.workdir = Path(workdir).resolve()
        self.port = int(port)
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.tls = tls
        self.ldaps_url = f"ldaps://127.0.0.1:{tls.ldaps_port}" if tls else ""
        self.suffix = suffix
        self.admin_dn = f"cn=admin,{suffix}"
        self.admin_password = admin_password
        self.config_admin_dn = "cn=admin,cn=config"
        self.service_dn = f"cn=ent-idp,ou=services,{suffix}"
        self.service_password = service_password
        self.people_dn = f"ou=people,{suffix}"
        self.policies_dn = f"ou=policies,{suffix}"
        self.decoy_dn = f"cn=ent-idp-decoy,ou=services,{suffix}"
        self.config_dir = self.workdir / "slapd.d"
        self.data_dir = self.workdir / "data"
        self.log_path = self.workdir / "slapd.log"
        self._marker = self.workdir / ".initialized"
        self._proc: subprocess.Popen | None = None
        self._log = None

    # ------------------------------------------------------------------ public API
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self._marker.exists():
            self._initialize()
        else:
            self._spawn()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # slapd shuts down cleanly on SIGTERM
            try:
                proc.wait(timeout=self.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def server(self) -> ldap3.Server:
        return ldap3.Server(self.url, get_info=ldap3.NONE, connect_timeout=5)

    def connection(self, user: str, password: str, **kw) -> ldap3.Connection:
        """A bound connection (raises ldap3 exceptions on failure)."""
        kw.setdefault("receive_timeout", 10)
        return ldap3.Connection(
            self.server(),
            user=user,
            password=password,
            auto_bind=True,
            raise_exceptions=False,
            **kw,
        )

    def admin_connection(self) -> ldap3.Connection:
        """Bound as the rootdn (bypasses ACLs; ppolicy password administrator)."""
        return self.connection(self.admin_dn, self.admin_password)

    def service_connection(self) -> ldap3.Connection:
        """Bound as the ent-idp service account (subject to acl.ldif)."""
        return self.connection(self.service_dn, self.service_password)

    def add_ldif(self, text: str, relax: bool = False) -> None:
        """Apply LDIF as the rootdn with ldapmodify -a (plain entries are added;
        changetype: records are honoured).  relax=True sends the Relax control."""
        self._ldapmodify(text, self.admin_dn, self.admin_password, relax=relax)

    def load_demo_accounts(self, ldif: Path = DEMO_LDIF) -> None:
        """Add devstack/demo-accounts.ldif, or ``ldif`` (passwords hashed by the server;
        pwdReset set by the rootdn in the same LDIF)."""
        self.add_ldif(self._subst(Path(ldif).read_text(encoding="utf-8")))

    def account_dn(self, uid: str) -> str:
        return f"uid={uid},{self.people_dn}"

    # ------------------------------------------------------------------ internals
    def _subst(self, text: str) -> str:
        return text.replace(PLACEHOLDER_SUFFIX, self.suffix)

    def _ldapmodify(self, text: str, binddn: str, password: str, relax=False) -> None:
        cmd = [_find_binary("ldapmodify"), "-a", "-x", "-H", self.url, "-D", binddn, "-w", password]
        if relax:
            cmd += ["-e", "relax"]
        res = subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise SlapdError(
                f"ldapmodify failed (rc={res.returncode}):\n"
                f"{res.stderr.strip()}\n{res.stdout.strip()[-2000:]}"
            )

    def _tls_config(self) -> str:
        if self.tls is None:
            return ""
        return (
            f"olcTLSCertificateFile: {Path(self.tls.certificate).resolve()}\n"
            f"olcTLSCertificateKeyFile: {Path(self.tls.key).resolve()}\n"
        )

    def _bootstrap_config_ldif(self) -> str:
        parts = [
            f"""dn: cn=config
objectClass: olcGlobal
cn: config
olcArgsFile: {self.workdir}/slapd.args
olcPidFile: {self.workdir}/slapd.pid
{self._tls_config()}
dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {_find_module_path()}
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema
"""
        ]
        for name in SYSTEM_SCHEMAS:
            path = SYSTEM_SCHEMA_DIR / f"{name}.ldif"
            if not path.exists():
                raise SlapdError(f"{path} not found: {FIX_HINT}")
            parts.append(path.read_text())
        parts.append((SCHEMA_DIR / "entidp.ldif").read_text())
        parts.extend(path.read_text() for path in self.extra_schemas)
        parts.append(f"""dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcSizeLimit: 500

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcRootDN: {self.config_admin_dn}
olcRootPW: {_ssha(self.admin_password)}
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {self.suffix}
olcRootDN: {self.admin_dn}
olcRootPW: {_ssha(self.admin_password)}
olcDbDirectory: {self.data_dir}
olcDbMaxSize: 1073741824
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: mail eq
olcDbIndex: cn eq,sub
olcDbIndex: entIdpAccountState eq
olcDbIndex: entIdpBackupMail eq
""")
        return "\n".join(p.rstrip("\n") + "\n" for p in parts)

    def _base_entries_ldif(self) -> str:
        rdn_attr, rdn_val = self.suffix.split(",")[0].split("=", 1)
        if rdn_attr.lower() != "dc":
            raise SlapdError("devstack only supports a suffix starting with dc=")
        return f"""dn: {self.suffix}
objectClass: dcObject
objectClass: organization
dc: {rdn_val}
o: ENT test

dn: {self.people_dn}
objectClass: organizationalUnit
ou: people

dn: ou=services,{self.suffix}
objectClass: organizationalUnit
ou: services

dn: {self.service_dn}
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: ent-idp
description: ent-idp service account (see ldap_schema/acl.ldif)
userPassword: {self.service_password}

dn: {self.policies_dn}
objectClass: organizationalUnit
ou: policies
"""

    def _initialize(self) -> None:
        """First start: build cn=config, start, apply the shipped LDIFs, add base entries."""
        for d in (self.config_dir, self.data_dir):
            if d.exists():
                shutil.rmtree(d)
        self.config_dir.mkdir(parents=True)
        self.data_dir.mkdir(parents=True)
        cfg = self.workdir / "bootstrap-config.ldif"
        cfg.write_text(self._bootstrap_config_ldif())
        res = subprocess.run(
            [_find_binary("slapadd"), "-n0", "-F", str(self.config_dir), "-l", str(cfg)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if res.returncode != 0:
            raise SlapdError(
                f"slapadd -n0 failed (rc={res.returncode}):\n{(res.stderr + res.stdout)[-3000:]}"
            )
        self._spawn()
        try:
            changes = [SCHEMA_DIR / "ppolicy-overlay.ldif", SCHEMA_DIR / "acl.ldif"]
            for path in [*changes, *self.extra_config]:
                text = self._subst(path.read_text(encoding="utf-8"))
                try:
                    self._ldapmodify(text, self.config_admin_dn, self.admin_password)
                except SlapdError as e:
                    raise SlapdError(f"applying {path}: {e}") from None
            self._seed()
        except BaseException:
            self.stop()
            raise
        self._marker.write_text("ok\n")

    def _seed(self) -> None:
        """The first data: base entries and the default policy (devstack/slapd_replication.py
        overrides it: a second provider gets them from its peer instead)."""
        self.add_ldif(self._base_entries_ldif())
        self.add_ldif(self._subst((SCHEMA_DIR / "ppolicy-default.ldif").read_text()))
        decoy = self._subst((SCHEMA_DIR / "decoy.ldif").read_text())
        self.add_ldif(decoy.replace(DECOY_PLACEHOLDER, secrets.token_urlsafe(32)))

    def _stderr_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def _check_port_free(self) -> None:
        try:
            check_port_free(self.port, "slapd")
            if self.tls is not None:
                check_port_free(self.tls.ldaps_port, "slapd (ldaps)")
        except RuntimeError as exc:
            raise SlapdError(str(exc)) from None

    def _spawn(self) -> None:
        slapd = _find_binary("slapd")
        # Otherwise the readiness probe could succeed against someone else's server.
        self._check_port_free()
        # -d none: stay in the foreground (a child we can terminate) and log only
        # "unconditional" messages (startup errors) to stderr -> slapd.log.
        listeners = " ".join(f"{url}/" for url in (self.url, self.ldaps_url) if url)
        cmd = [slapd, "-h", listeners, "-F", str(self.config_dir), "-d", "none"]
        self._log = open(self.log_path, "ab")
        self._log.write(f"--- {time.strftime('%F %T')} {' '.join(cmd)}\n".encode())
        self._log.flush()
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.START_TIMEOUT
        last_err: Exception | None = None
        delay = 0.01
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                rc = self._proc.returncode
                self.stop()
                raise SlapdError(
                    f"slapd exited with status {rc} during startup "
                    f"({' '.join(cmd)}):\n{self._stderr_tail()}"
                )
            conn = ldap3.Connection(
                ldap3.Server(self.url, get_info=ldap3.NONE, connect_timeout=1),
                user=self.admin_dn,
                password=self.admin_password,
                receive_timeout=2,
                raise_exceptions=False,
            )
            try:
                if conn.bind():
                    return
                last_err = SlapdError(f"admin bind refused: {conn.result}")
            except LDAPException as e:  # not listening yet
                last_err = e
            finally:
                _close(conn)
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        self.stop()
        raise SlapdError(
            f"slapd not ready on {self.url} after {self.START_TIMEOUT}s "
            f"(last error: {last_err}):\n{self._stderr_tail()}"
        )

    def __enter__(self) -> Slapd:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m devstack.slapd", description="Start a devstack slapd and check it."
    )
    p.add_argument("workdir", type=Path)
    p.add_argument("port", type=int)
    p.add_argument("--demo", action="store_true", help="load demo-accounts.ldif")
    p.add_argument("--serve", action="store_true", help="keep running until Ctrl-C")
    a = p.parse_args(argv)
    s = Slapd(a.workdir, a.port)
    t0 = time.monotonic()
    s.start()
    print(
        f"slapd up on {s.url} in {time.monotonic() - t0:.2f}s "
        f"(suffix {s.suffix}, admin {s.admin_dn} / {s.admin_password}, "
        f"service {s.service_dn} / {s.service_password})"
    )
    try:
        if a.demo:
            s.load_demo_accounts()
            print("demo accounts loaded")
        c = s.service_connection()
        if not c.bound:
            print(f"service bind FAILED: {c.result}")
            return 1
        c.search(s.people_dn, "(uid=*)", attributes=["uid", "entIdpAccountState"])
        for e in c.entries:
            print(f"  {e.entry_dn}  state={e.entIdpAccountState.value}")
        c.unbind()
        if a.serve:
            print("serving; Ctrl-C to stop")
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
