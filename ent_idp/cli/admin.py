"""The admin commands: ``reset``, ``import``, ``status``, ``check`` (work in
``ent_idp.domain.admin``; writes as ``[admin] bind_dn``)."""

from __future__ import annotations

import collections
import sys
import threading

import click

from ..core.resources import resources
from ..directory import AdminDirectory
from ..domain.admin import accounts, imports
from ..domain.admin import check as readiness
from ..domain.admin.accounts import Outcome
from ..domain.admin.status import status as status_lines
from ..errors import AccountNotFound
from . import config_option, load_app, main
from .outputs import (
    admin_context,
    csv_option,
    ent_option,
    handouts,
    known_ent,
    letters_option,
    refuse_existing,
    write_outputs,
)


@main.command()
@config_option
@csv_option
@letters_option
@ent_option
@click.argument("logins", nargs=-1, required=True, metavar="LOGIN...")
def reset(
    config_file: str | None,
    csv_file: str | None,
    letters_file: str | None,
    ent_key: str | None,
    logins: tuple,
) -> None:
    """Give each account a new provisional password and flag it as reset.

    For each LOGIN: a random provisional password (no look-alike characters), written for
    the directory to hash; an active account becomes "reset" (a pending one stays
    pending); pwdReset is set, so the user must choose a new password through « Mon compte
    a été réinitialisé »; every link mailed earlier (backup-address validation or change,
    « Mot de passe oublié ») stops working; the backup address is no longer verified and
    forwarding to it stops, until its owner verifies it again.

    Prints "LOGIN<TAB>PASSWORD" per account on stdout, and nothing else there. Unknown
    logins are named on stderr; the others are still reset, and the exit status is 1.
    Needs the admin account: [admin] bind_dn and bind_password.
    """
    refuse_existing(csv_file, letters_file)
    reports, done = [], []
    with admin_context(config_file) as admin, handouts(csv_file, letters_file) as files:
        known_ent(ent_key)  # before any write
        for report in accounts.reset(admin, logins):
            reports.append(report)
            if report.issued is None:
                click.echo(f"{report.login}: {report.reason}", err=True)
            else:  # stdout: what admins pipe, as soon as the password is in force
                done.append(report)
                click.echo(f"{report.login}\t{report.issued.password}")
            if report.warning:
                click.echo(f"{report.login}: warning: {report.warning}", err=True)
        if files is not None:
            write_outputs(done, files, printed=True, ent_key=ent_key)
    if len(done) != len(reports):
        raise SystemExit(1)


@main.command("import")
@config_option
@csv_option
@letters_option
@ent_option
@click.option("--reset-active", is_flag=True, help="New provisional passwords for active accounts.")
@click.option(
    "--reset-pending",
    is_flag=True,
    help="New provisional passwords for accounts not activated yet (pending or reset).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be done; change nothing.")
@click.option(
    "--jobs",
    default=4,
    show_default=True,
    type=click.IntRange(1, 32),
    help="Rows handled at once (connections to the directory).",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def import_command(
    config_file: str | None,
    csv_file: str | None,
    letters_file: str | None,
    ent_key: str | None,
    reset_active: bool,
    reset_pending: bool,
    dry_run: bool,
    jobs: int,
    file: str,
) -> None:
    """Create the accounts of a school's export (CSV) that do not exist yet.

    FILE: UTF-8, ';' or ',' separated, first line naming the columns: login, first_name,
    last_name, class (or role), mail (the ENT address); French names (identifiant,
    prenom, nom, classe, adresse_ent) work too. See config/accounts.example.csv.

    Missing accounts are created pending, with a provisional password. Existing ones are
    left as they are (so a second run changes nothing) unless --reset-active or
    --reset-pending asks for new provisional passwords. One line per row on stderr:
    created, reset, unchanged, or error and why; the exit status is 1 if a row failed.

    The passwords go to --csv and --letters (sorted by class, then name); with neither,
    "LOGIN<TAB>PASSWORD" lines on stdout. Existing files are never overwritten.
    Needs the admin account: [admin] bind_dn and bind_password.
    """
    refuse_existing(csv_file, letters_file)
    try:
        rows = imports.read_rows(file)
    except imports.ImportFileError as exc:
        raise click.ClickException(str(exc)) from None
    with (
        admin_context(config_file) as admin,
        handouts(*((None, None) if dry_run else (csv_file, letters_file))) as files,
    ):
        known_ent(ent_key)
        if not dry_run:
            admin.check_bind()  # fail once, not on every row
        lock = threading.Lock()
        with click.progressbar(length=len(rows), label="importing", file=sys.stderr) as bar:

            def progress(done: int) -> None:
                with lock:
                    bar.update(done)

            reports = imports.import_accounts(
                rows,
                reset_active=reset_active,
                reset_pending=reset_pending,
                dry_run=dry_run,
                jobs=jobs,
                progress=progress,
            )
        prefix = "(dry run) " if dry_run else ""
        for report in reports:
            reason = (
                f": {report.reason or report.warning}" if report.reason or report.warning else ""
            )
            click.echo(
                f"{prefix}line {report.line}\t{report.login}\t{report.outcome}{reason}", err=True
            )
        counts = collections.Counter(report.outcome.value for report in reports)
        summary = ", ".join(f"{counts[o.value]} {o.value}" for o in Outcome)
        click.echo(f"{prefix}{len(reports)} rows: {summary}", err=True)
        if not dry_run:
            write_outputs(reports, files, ent_key=ent_key)
    if counts[Outcome.ERROR.value]:
        raise SystemExit(1)


@main.command()
@config_option
@click.argument("login")
def status(config_file: str | None, login: str) -> None:
    """Show an account: state, CGU version accepted, backup address, times."""
    with admin_context(config_file) as admin:
        try:
            lines = status_lines(admin, login)
        except AccountNotFound:
            raise click.ClickException(f"unknown login {login!r}") from None
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        click.echo(f"{label + ':':<{width + 2}}{value}")


@main.command()
@config_option
def check(config_file: str | None) -> None:
    """Check that a deployment is ready; one line per check, exit status 1 on any failure.

    Configuration; LDAP (service bind, schema, admin bind); on a disposable entry it adds
    and then deletes under [ldap] people_dn: the service account writes the ent-idp
    attributes, cannot read password hashes nor write other attributes, is held to the
    password policy and is not a password administrator, and the directory hashes the
    cleartext password it writes; the decoy entry ([ldap] decoy_dn) exists, is hashed like
    the accounts and never locks; Redis; SMTP; and a WARN line if requests came with
    forwarded headers from a peer not in trusted_proxies in the last 24 hours.
    """
    try:
        app = load_app(config_file)
    except click.ClickException as exc:
        click.echo(f"FAIL  {exc.message}")
        raise SystemExit(1) from None
    click.echo("ok    configuration")
    failed = False
    with app.app_context():
        admin = AdminDirectory(resources().directory)
        try:
            for result in readiness.check(admin):
                failed = failed or not result.ok
                reason = result.failure or result.warning
                mark = "FAIL" if not result.ok else "WARN" if result.warning else "ok  "
                click.echo(f"{mark}  {result.name}{': ' + reason if reason else ''}")
        finally:
            admin.close()
            resources().close()
    if failed:
        raise SystemExit(1)
