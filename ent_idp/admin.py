"""The admins' work: provisional passwords, resets, a school's import, status, readiness.

No click here: ``cli.py`` parses the arguments and prints. These functions run inside an
app context and return what happened, row by row. Directory writes go through the admin
account (``[admin] bind_dn``, see ``Directory.create_account``); the app's service account
keeps its least privilege.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import secrets
import smtplib
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TextIO

import redis
from flask import current_app

from . import audit, mails
from .activation import VALIDATION, pending_change_key
from .config import ConfigError
from .directory import Account, AccountState, Directory
from .exceptions import AccountNotFound, Conflict, DirectoryUnavailable
from .extensions import services
from .recovery import PURPOSE as RESET_LINK

DECOY_PLACEHOLDER = "REPLACE-WITH-A-RANDOM-PASSWORD"  # as shipped in ldap_schema/decoy.ldif

log = logging.getLogger(__name__)

# Provisional passwords: lower-case letters and digits without the look-alikes 0/o, 1/l/i,
# in groups, so they are read aloud, copied from paper and typed on a phone without doubt.
# 3 groups of 5 out of 31 symbols: 15 × log2(31) ≈ 74 bits.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
GROUPS = 3
GROUP_LENGTH = 5
PASSWORD_BITS = 74

# The columns of a school's export (first line), and the other names accepted for each.
COLUMNS = {
    "login": ("login", "identifiant", "uid"),
    "first_name": ("first_name", "prenom", "firstname", "given_name"),
    "last_name": ("last_name", "nom", "lastname", "surname", "sn"),
    "group": ("class", "classe", "role", "class_or_role", "classe_ou_role"),
    "mail": ("mail", "ent_address", "adresse_ent", "email"),
}
REQUIRED_COLUMNS = ("login", "last_name", "mail")
LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# The ENT's own address, as the school's export gives it (its domain may be internal).
MAIL = re.compile(r"[^@\s\x00-\x1f]+@[^@\s\x00-\x1f.]+(\.[^@\s\x00-\x1f.]+)+")
DEFAULT_JOBS = 4


def provisional_password() -> str:
    """A random provisional password, e.g. ``k7mpx-3xndq-h4wr9``."""
    return "-".join(
        "".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS)
    )


class Outcome(StrEnum):
    CREATED = "created"
    RESET = "reset"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass
class Issued:
    """A provisional password handed out: one line of the CSV, one letter."""

    login: str
    first_name: str
    last_name: str
    group: str
    mail: str
    password: str
    flow: str  # the page the letter sends to: "activation" or "reinitialisation"


@dataclass
class Report:
    """What happened to one login (a command-line argument or a row of the file)."""

    login: str
    outcome: Outcome
    reason: str = ""
    line: int = 0
    issued: Issued | None = None
    warning: str = ""  # done, but something the admin must know


# -- ent-idp reset ---------------------------------------------------------------------


def reset(logins: Iterable[str]) -> Iterator[Report]:
    """A new provisional password for each account, ``pwdReset``, every mailed link voided.

    The same Modify takes the backup address's verification and the forwarding away (see
    ``Directory.reset_password``): nothing reaches that address until its owner verifies it.

    An active account becomes ``reset``; a pending one (never activated) stays pending.
    Unknown logins and blocked accounts are reported, the others still done. Reports come
    one by one, so a password is shown as soon as it is in force.
    """
    directory = services().directory
    for login in dict.fromkeys(logins):  # each login once, in the order given
        try:
            account = directory.find(login)
        except AccountNotFound:
            yield Report(login, Outcome.ERROR, "unknown login")
            continue
        yield _reset_account(directory, account, group="")


def void_links(dn: str) -> list[str]:
    """Void every link mailed for the account: validation and address change (one purpose),
    « Mot de passe oublié », and forget the address change waiting. Returns what was voided."""
    s = services()
    voided = [purpose for purpose in (VALIDATION, RESET_LINK) if s.tokens.void(purpose, dn)]
    if s.redis.delete(pending_change_key(dn)):
        voided.append("pending-address-change")
    return voided


def _reset_account(directory: Directory, account: Account, group: str) -> Report:
    if account.state not in (AccountState.PENDING, AccountState.RESET, AccountState.ACTIVE):
        reason = f"account in state {account.state_raw!r}: not reset"
        return Report(account.login, Outcome.ERROR, reason)
    state = AccountState.PENDING if account.state == AccountState.PENDING else AccountState.RESET
    password = provisional_password()
    try:
        directory.reset_password(account, password, state)
    except (DirectoryUnavailable, AccountNotFound) as exc:
        return Report(account.login, Outcome.ERROR, str(exc))
    # From here on the password is in force: whatever happens, it must reach the admin.
    warning = ""
    try:
        voided = void_links(account.dn)
    except redis.RedisError as exc:
        # The directory still refuses them (the address is no longer verified, the account
        # not active), but « Mon compte » may show a change waiting: say so.
        log.error("reset %s: links mailed before could not be voided: %s", account.login, exc)
        warning = (
            f"links mailed before could not be voided (Redis: {exc}); the directory refuses "
            "them anyway. Run the reset again once Redis is back to void them"
        )
        voided = ["failed"]
    try:
        services().throttle.clear(account.dn, account.login)  # the help desk lifts the lock
    except redis.RedisError as exc:
        log.error("reset %s: its failed attempts could not be forgotten: %s", account.login, exc)
    audit.event("admin-reset", account.login, "ok", state=state.value, voided=voided)
    issued = Issued(
        login=account.login,
        first_name=account.given_name,
        last_name=account.surname,
        group=group,
        mail=account.mail,
        password=password,
        flow="activation" if state == AccountState.PENDING else "reinitialisation",
    )
    return Report(account.login, Outcome.RESET, issued=issued, warning=warning)


# -- ent-idp import --------------------------------------------------------------------


class ImportFileError(Exception):
    """The file cannot be read as a school's export; the message says what to fix."""


@dataclass
class Row:
    line: int
    login: str
    first_name: str
    last_name: str
    group: str
    mail: str
    problem: str = ""  # set when the row cannot be imported


def read_rows(path: str | os.PathLike) -> list[Row]:
    """The rows of a school's export (UTF-8, ``;`` or ``,``, a first line naming columns)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(f"{path} is not UTF-8: save it as CSV UTF-8") from None
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror}") from None
    lines = text.splitlines()
    if not lines:
        raise ImportFileError(f"{path} is empty")
    delimiter = ";" if lines[0].count(";") >= lines[0].count(",") else ","
    reader = csv.reader(lines, delimiter=delimiter)
    header = [_column_name(name) for name in next(reader)]
    where: dict[str, int] = {}
    for field_name, names in COLUMNS.items():
        for index, name in enumerate(header):
            if name in names:
                where.setdefault(field_name, index)
    missing = [name for name in REQUIRED_COLUMNS if name not in where]
    if missing:
        raise ImportFileError(
            f"{path}: no column {', '.join(missing)} in the first line "
            f"(expected columns: {', '.join(names[0] for names in COLUMNS.values())}; "
            "see config/accounts.example.csv)"
        )
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            index = where.get(name)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        row = Row(
            number,
            cell("login"),
            cell("first_name"),
            cell("last_name"),
            cell("group"),
            cell("mail"),
        )
        row.problem = _problem(row, seen)
        seen.setdefault(row.login.lower(), number)
        rows.append(row)
    return rows


def _column_name(name: str) -> str:
    """« Prénom », "first name", "First-Name" -> "prenom", "first_name"."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[\s-]+", "_", plain.strip().lower())


def _problem(row: Row, seen: dict[str, int]) -> str:
    if not LOGIN.fullmatch(row.login):
        return f"login {row.login!r} is empty or has characters other than letters, digits, . _ -"
    if row.login.lower() in seen:
        return f"login also on line {seen[row.login.lower()]}"
    if not row.last_name:
        return "no last name"
    if not MAIL.fullmatch(row.mail):
        return f"ENT address {row.mail!r} is not an e-mail address"
    return ""


def import_accounts(
    rows: list[Row],
    *,
    reset_active: bool = False,
    reset_pending: bool = False,
    dry_run: bool = False,
    jobs: int = DEFAULT_JOBS,
    progress: Callable[[int], None] = lambda done: None,
) -> list[Report]:
    """Create the missing accounts (pending, provisional password); leave the others be.

    An existing account is ``unchanged`` unless ``reset_active`` (active accounts) or
    ``reset_pending`` (pending and reset ones) asks for a new provisional password, so a
    second run of the same file changes nothing. Rows run in ``jobs`` threads, each with
    connections of its own; ``progress`` is called after each row.
    """
    config = current_app.config
    if config["LDAP_ACCOUNT_OBJECT_CLASS"] != "entIdpAccount":
        raise ConfigError(
            "ent-idp import creates entries of the shipped schema ([ldap] profile = "
            f'"entidp"), not {config["LDAP_ACCOUNT_OBJECT_CLASS"]} ones: with another '
            "profile, accounts come from your directory's own feed (ent-idp reset still works)"
        )
    local = threading.local()
    directories: list[Directory] = []
    lock = threading.Lock()

    def directory() -> Directory:
        if not hasattr(local, "directory"):
            local.directory = Directory(config)
            with lock:
                directories.append(local.directory)
        return local.directory

    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def one(row: Row) -> Report:
        with app.app_context():  # a thread of its own: tokens and audit need the app
            try:
                return _import_row(directory(), row, reset_active, reset_pending, dry_run)
            except Exception as exc:  # one row's surprise must not lose the others' passwords
                log.exception("import of line %d failed", row.line)
                return Report(row.login, Outcome.ERROR, f"unexpected: {exc!r}", line=row.line)
            finally:
                progress(1)

    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(one, row) for row in rows]
            try:
                for future in futures:
                    future.exception()  # wait
            except KeyboardInterrupt:  # keep what was done: its passwords are in force
                pool.shutdown(wait=True, cancel_futures=True)
        reports = [
            future.result()
            if not future.cancelled()
            else Report(row.login, Outcome.ERROR, "not done: interrupted", line=row.line)
            for future, row in zip(futures, rows, strict=True)
        ]
    finally:
        for opened in directories:
            opened.close()
            opened.close_admin()
    # Recorded once the work is done (not under the progress bar): one line per change.
    for report in reports:
        if report.outcome in (Outcome.CREATED, Outcome.RESET) and not dry_run:
            audit.event(f"admin-import-{report.outcome}", report.login, "ok")
    return reports


def _import_row(
    directory: Directory, row: Row, reset_active: bool, reset_pending: bool, dry_run: bool
) -> Report:
    if row.problem:
        return Report(row.login, Outcome.ERROR, row.problem, line=row.line)
    try:
        account = directory.find(row.login)
    except AccountNotFound:
        account = None
    except DirectoryUnavailable as exc:
        return Report(row.login, Outcome.ERROR, str(exc), line=row.line)
    if account is not None:
        wanted = reset_active if account.state == AccountState.ACTIVE else reset_pending
        if not wanted:
            return Report(row.login, Outcome.UNCHANGED, account.state, line=row.line)
        if dry_run:
            return Report(row.login, Outcome.RESET, account.state, line=row.line)
        report = _reset_account(directory, account, group=row.group)
        report.line = row.line
        return report
    if dry_run:
        return Report(row.login, Outcome.CREATED, line=row.line)
    password = provisional_password()
    try:
        directory.create_account(
            row.login,
            given_name=row.first_name,
            surname=row.last_name,
            mail=row.mail,
            password=password,
        )
    except (Conflict, DirectoryUnavailable, AccountNotFound) as exc:
        return Report(row.login, Outcome.ERROR, str(exc), line=row.line)
    issued = Issued(
        row.login, row.first_name, row.last_name, row.group, row.mail, password, "activation"
    )
    return Report(row.login, Outcome.CREATED, line=row.line, issued=issued)


# -- the files handed to schools -------------------------------------------------------

CSV_COLUMNS = ("login", "first_name", "last_name", "class", "mail", "provisional_password")


def for_distribution(reports: Iterable[Report]) -> list[Issued]:
    """The passwords handed out, in the order to distribute them: class, name."""
    issued = [report.issued for report in reports if report.issued is not None]
    return sorted(issued, key=lambda i: (i.group.lower(), i.last_name.lower(), i.first_name))


# A cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(...), +, -,
# @, and the tab and carriage return that some of them skip first): it gets a leading
# apostrophe, so a name in a school's export cannot run anything (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: str) -> str:
    """``value`` as a spreadsheet shows text, never as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def write_csv(out: TextIO, issued: list[Issued]) -> None:
    """The provisional passwords, ``;``-separated UTF-8 with a BOM (Excel opens it as is).

    ``out`` is opened by ``handouts``: new, readable by its owner only.
    """
    writer = csv.writer(out, delimiter=";")
    writer.writerow(CSV_COLUMNS)
    for i in issued:
        row = (i.login, i.first_name, i.last_name, i.group, i.mail, i.password)
        writer.writerow([spreadsheet_text(cell) for cell in row])


# -- ent-idp status --------------------------------------------------------------------


def status(login: str) -> list[tuple[str, str]]:
    """What an admin asks about an account, as (label, value) lines."""
    directory = services().directory
    account = directory.find(login)
    d = directory.details(account.dn)
    backup = d.get("backup_mail") or "none"
    if d.get("backup_mail"):
        verified = d.get("backup_verified")
        backup += f" (verified {_when(verified)})" if verified else " (not verified)"
    forwarding = "wished" if d.get("forward_wish", "").upper() == "TRUE" else "not wished"
    if d.get("forward"):
        forwarding += f", active to {d['forward']}"
    cgu = d.get("cgu_version") or "none accepted"
    if d.get("cgu_version") and d.get("cgu_time"):
        cgu += f" (accepted {_when(d['cgu_time'])})"
    current = current_app.config["CGU_VERSION"]
    if d.get("cgu_version") != current:
        cgu += f"; current version {current}"
    return [
        ("login", account.login),
        ("dn", account.dn),
        ("ENT address", account.mail or "none"),
        ("state", f"{account.state} ({d.get('state')})"),
        ("CGU version", cgu),
        ("backup address", backup),
        ("forwarding", forwarding),
        ("activated", _when(d.get("activated_time")) or "never"),
        ("password changed", _when(d.get("pwd_changed_time")) or "never"),
        ("must change password", "yes" if d.get("pwd_reset", "").upper() == "TRUE" else "no"),
        ("locked", f"since {_when(d['locked_time'])}" if d.get("locked_time") else "no"),
    ]


def _when(stamp: str | None) -> str:
    """20260901073000Z -> 2026-09-01 07:30:00 UTC."""
    match = re.fullmatch(r"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d+)?Z", stamp or "")
    if not match:
        return stamp or ""
    year, month, day, hour, minute, second = match.groups()
    return f"{year}-{month}-{day} {hour}:{minute}:{second} UTC"


# -- ent-idp check ---------------------------------------------------------------------


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
    except (DirectoryUnavailable, ConfigError, OSError, redis.RedisError) as exc:
        failure = str(exc) or type(exc).__name__
    except smtplib.SMTPException as exc:
        failure = f"SMTP: {exc}"
    return CheckResult(name, failure)


def check() -> Iterator[CheckResult]:
    """Whether this deployment is ready, one check at a time (the configuration loaded)."""
    s = services()
    config = current_app.config
    directory = s.directory
    ldap = _run(
        f"LDAP: the service account binds at {config['LDAP_URL']}", directory.check_service_bind
    )
    yield ldap
    if ldap.ok:
        yield _run("LDAP: the schema defines the account class and attributes", _schema)
        admin = _run("LDAP: the admin account ([admin] bind_dn) binds", _admin_binds)
        yield admin
        if admin.ok:
            for name, failure in directory.probe_rights():
                yield CheckResult(f"LDAP: {name}", failure)
            yield _run(f"LDAP: the decoy entry {config['LDAP_DECOY_DN']} ([ldap] decoy_dn)", _decoy)
            directory.close_admin()
    redis_check = _run(f"Redis: reachable and writable at {_safe_url(config['REDIS_URL'])}", _redis)
    yield redis_check
    smtp = f"SMTP: {config['MAIL_SERVER']}:{config['MAIL_PORT']} answers"
    if mails.unverified_tls_warning(config):
        smtp += " (its certificate NOT checked: [mail] tls_verify = false)"
    yield _run(smtp, _smtp)
    if redis_check.ok:
        yield _forwarded_headers()


def _schema() -> str:
    missing = services().directory.missing_schema()
    if missing:
        return (
            f"the server does not know {', '.join(missing)}: load ldap_schema/entidp.ldif "
            "(or set the [ldap] profile your directory uses)"
        )
    return ""


def _decoy() -> str:
    """Unknown logins bind here: it must exist, be hashed and cost like an account."""
    probe = services().directory.probe_decoy(current_app.config["LDAP_DECOY_DN"], DECOY_PLACEHOLDER)
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
    seen = services().forwarded_headers.last()
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


def _admin_binds() -> str:
    services().directory.check_admin_account()
    return ""


def _redis() -> str:
    s = services()
    key = f"{current_app.config['REDIS_PREFIX']}:check:{secrets.token_hex(8)}"
    s.redis.set(key, "1", ex=60)
    s.redis.delete(key)
    return ""


def _smtp() -> str:
    """The mail worker's own connection: TLS checked as configured, logged in, NOOP."""
    with mails.open_smtp(current_app.config) as smtp:
        code, message = smtp.noop()
        if code != 250:
            return f"NOOP answered {code} {message.decode(errors='replace')}"
    return ""


def _safe_url(url: str) -> str:
    """A URL without its password, for printing."""
    return re.sub(r"//[^@/]*@", "//", url)
