"""``ent-idp import``: the accounts of a school's export (CSV) that do not exist yet."""

from __future__ import annotations

import csv
import logging
import os
import re
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from ... import audit
from ...core.flows import Kind
from ...core.resources import resources
from ...directory import AccountState, AdminDirectory, admin_directory
from ...errors import AccountNotFound, ConfigError, Conflict, DirectoryUnavailable
from .accounts import Issued, Outcome, Report, provisional_password, reset_account

log = logging.getLogger(__name__)

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
    settings = resources().settings
    if settings.ldap.account_object_class != "entIdpAccount":
        raise ConfigError(
            "ent-idp import creates entries of the shipped schema ([ldap] profile = "
            f'"entidp"), not {settings.ldap.account_object_class} ones: with another '
            "profile, accounts come from your directory's own feed (ent-idp reset still works)"
        )
    local = threading.local()
    directories: list[AdminDirectory] = []
    lock = threading.Lock()

    def directory() -> AdminDirectory:
        if not hasattr(local, "directory"):
            local.directory = admin_directory(settings)
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
            opened.connections.close()
    # Recorded once the work is done (not under the progress bar): one line per change.
    for report in reports:
        if report.outcome in (Outcome.CREATED, Outcome.RESET) and not dry_run:
            audit.event(f"admin-import-{report.outcome}", report.login, "ok")
    return reports


def _import_row(
    directory: AdminDirectory, row: Row, reset_active: bool, reset_pending: bool, dry_run: bool
) -> Report:
    if row.problem:
        return Report(row.login, Outcome.ERROR, row.problem, line=row.line)
    try:
        account = directory.reads.find(row.login)
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
        report = reset_account(directory, account, group=row.group)
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
        row.login, row.first_name, row.last_name, row.group, row.mail, password, Kind.ACTIVATION
    )
    return Report(row.login, Outcome.CREATED, line=row.line, issued=issued)
