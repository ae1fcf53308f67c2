"""``ent-idp check``: whether a deployment is ready, one check at a time."""

from __future__ import annotations

import re
import smtplib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ... import mails
from ...core.resources import resources
from ...directory import AdminDirectory, Probes
from ...errors import ConfigError, DirectoryUnavailable, StoreUnavailable

DECOY_PLACEHOLDER = "REPLACE-WITH-A-RANDOM-PASSWORD"  # as shipped in ldap_schema/decoy.ldif


@dataclass(frozen=True)
class CheckResult:
    name: str
    failure: str = ""  # empty: the check holds
    warning: str = ""  # the check holds, but something looks wrong (printed as WARN)

    @property
    def ok(self) -> bool:
        return not self.failure


def _run(name: str, probe: Callable[[], str | None]) -> CheckResult:
    """One check: ``probe`` returns a failure (or nothing) or raises one of ours."""
    try:
        failure = probe() or ""
    except (DirectoryUnavailable, ConfigError, OSError, StoreUnavailable) as exc:
        failure = str(exc) or type(exc).__name__
    except smtplib.SMTPException as exc:
        failure = f"SMTP: {exc}"
    return CheckResult(name, failure)


def check(admin: AdminDirectory) -> Iterator[CheckResult]:
    """Whether this deployment is ready, one check at a time (the configuration loaded)."""
    r = resources()
    settings = r.settings
    bound = False  # at one server at least: the checks below go through the pools
    for url in dict.fromkeys(settings.ldap.servers + settings.ldap.read_servers):
        line = _run(
            f"LDAP: the service account binds at {url}",
            lambda url=url: admin.reads.check_bind(url),
        )
        bound = bound or line.ok
        yield line
    if bound:
        probes = Probes(admin)
        yield _run(
            "LDAP: the schema defines the account class and attributes", lambda: _schema(probes)
        )
        binds = _run("LDAP: the admin account ([admin] bind_dn) binds", lambda: admin.check_bind())
        yield binds
        if binds.ok:
            for name, failure in probes.rights():
                yield CheckResult(f"LDAP: {name}", failure)
            decoy = f"LDAP: the decoy entry {settings.ldap.decoy_dn} ([ldap] decoy_dn)"
            yield _run(decoy, lambda: _decoy(probes))
            admin.close()
    store = _run(
        f"Redis: reachable and writable at {_redis_place(settings)}",
        r.store.check_writable,
    )
    yield store
    smtp = f"SMTP: {settings.mail.server}:{settings.mail.port} answers"
    if mails.unverified_tls_warning(settings.mail):
        smtp += " (its certificate NOT checked: [mail] tls_verify = false)"
    yield _run(smtp, _smtp)
    if store.ok:
        yield _forwarded_headers()


def _schema(probes: Probes) -> str:
    missing = probes.missing_schema()
    if missing:
        return (
            f"the server does not know {', '.join(missing)}: load ldap_schema/entidp.ldif "
            "(or set the [ldap] profile your directory uses)"
        )
    return ""


def _decoy(probes: Probes) -> str:
    """Unknown logins bind here: it must exist, be hashed and cost like an account."""
    probe = probes.decoy(resources().settings.ldap.decoy_dn, DECOY_PLACEHOLDER)
    fix = "add ldap_schema/decoy.ldif (see the README) or set [ldap] decoy_dn"
    if not probe.exists:
        return f"no such entry: {fix}"
    if probe.placeholder_binds:
        return "its password is still the placeholder of decoy.ldif: give it a random one"
    if probe.hashing != probe.account_hashing:
        return (
            f"it is hashed {probe.hashing}, the accounts {probe.account_hashing}: a bind on it "
            "does not cost what a bind on an account costs; re-add it (the directory hashes "
            "its password on Add)"
        )
    if probe.decoy_ms < probe.account_ms / 2:
        return (
            f"a wrong bind on it takes {probe.decoy_ms:.1f} ms, on an account "
            f"{probe.account_ms:.1f} ms: unknown logins would answer faster"
        )
    if probe.locked or probe.recorded_failures > 1:
        return (
            f"ppolicy locks it or keeps its failures ({probe.recorded_failures} recorded): "
            "give it the policy of decoy.ldif (pwdLockout FALSE, pwdMaxRecordedFailure 1)"
        )
    return ""


def _forwarded_headers() -> CheckResult:
    """Forwarded headers from a peer not in trusted_proxies, seen in the last 24 hours."""
    name = "client addresses: forwarded headers only from trusted_proxies"
    seen = resources().store.forwarded_headers.last()
    if not seen:
        return CheckResult(name)
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seen["at"]))
    return CheckResult(
        name,
        warning=(
            f"{seen['peer']} sent {seen['header']} (last at {when}), which is ignored: if it is "
            "your reverse proxy, add its address to trusted_proxies (ENT_IDP_TRUSTED_PROXIES), "
            "else every user behind it shares one address and one throttle; if it is not, "
            "someone is sending forged headers"
        ),
    )


def _smtp() -> str:
    """The mail worker's own connection: TLS checked as configured, logged in, NOOP."""
    with mails.open_smtp(resources().settings.mail) as smtp:
        code, message = smtp.noop()
        if code != 250:
            return f"NOOP answered {code} {message.decode(errors='replace')}"
    return ""


def _redis_place(settings) -> str:
    redis = settings.redis
    if not redis.sentinel_addresses:
        return _safe_url(redis.url)
    sentinels = ", ".join(f"{host}:{port}" for host, port in redis.sentinel_addresses)
    return f"the master {redis.master_name!r} of the Sentinels {sentinels}"


def _safe_url(url: str) -> str:
    """A URL without its password, for printing."""
    return re.sub(r"//[^@/]*@", "//", url)
