"""The ``ent-idp`` command: serve the app, deliver mail, and (later) admin tasks."""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from . import config as config_module

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)


def _app(config_file: str | None):
    from . import create_app

    try:
        return create_app(config_file=config_file)
    except config_module.ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


config_option = click.option(
    "--config",
    "config_file",
    envvar="ENT_IDP_CONFIG",
    type=click.Path(dir_okay=False),
    help="TOML settings file (default: $ENT_IDP_CONFIG).",
)


@click.group()
def main() -> None:
    """ent-idp: account activation and reset for ENT users."""


@main.command()
@config_option
@click.option("--bind", default="127.0.0.1:5000", show_default=True, help="HOST:PORT to listen on.")
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, help="threads per worker.")
def serve(config_file: str | None, bind: str, workers: int, threads: int) -> None:
    """Serve the web app with gunicorn."""
    from gunicorn.app.base import BaseApplication

    app = _app(config_file)

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread" if threads > 1 else "sync")
            self.cfg.set("accesslog", "-")
            # Link tokens and CAS tickets are taken out of the access log (accesslog.py).
            self.cfg.set("logger_class", "ent_idp.accesslog.RedactingLogger")
            # Bounds on the request line and headers ([http]); the body is the app's
            # (MAX_CONTENT_LENGTH: a 413 page).
            for name in ("limit_request_line", "limit_request_fields", "limit_request_field_size"):
                self.cfg.set(name, app.config[f"HTTP_{name.upper()}"])
            # gunicorn's control socket has one path per user: two servers would collide.
            self.cfg.set("control_socket_disable", True)

        def load(self):
            return app

    Server().run()


@main.command("mail-worker")
@config_option
@click.option("--once", is_flag=True, help="Send what is queued now, then stop.")
def mail_worker(config_file: str | None, once: bool) -> None:
    """Deliver queued mail over SMTP, retrying while the server is down.

    Also handles « Mot de passe oublié » and « Débloquer mon compte » requests, off the
    request path.
    """
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from . import recovery, unlock
    from .exceptions import DirectoryUnavailable
    from .extensions import services
    from .mails import Sender, unverified_tls_warning

    app = _app(config_file)
    warning = unverified_tls_warning(app.config)
    if warning:
        log.warning("%s", warning)
    socket.setdefaulttimeout(app.config["MAIL_TIMEOUT"])
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    sender = Sender()
    with app.app_context():
        queue = services().mail_queue
        retry = app.config["MAIL_RETRY_SECONDS"]
        click.echo(f"mail worker: sending to {app.config['MAIL_SERVER']}:{app.config['MAIL_PORT']}")
        recovered = queue.recover()
        if recovered:
            log.info("put back %d message(s) left by a previous worker", recovered)
        while not stopping:
            try:
                recovery.process_requests()
                unlock.process_requests()
                sent = queue.work_once(sender, wait=1.0, retry_seconds=retry)
                if not sent:
                    sender.close()  # the queue is empty: no connection left idle
            except DirectoryUnavailable as exc:
                log.warning("directory unavailable (%s); waiting", exc)
                time.sleep(2)
                continue
            except (RedisConnectionError, RedisTimeoutError) as exc:
                log.warning("redis unavailable (%s); waiting", exc)
                time.sleep(2)
                continue
            except KeyboardInterrupt:
                break
            if once and not sent and queue.pending() == 0:
                break
        sender.close()


@main.command("mail-requeue-dead")
@config_option
def mail_requeue_dead(config_file: str | None) -> None:
    """Queue the dead list's messages again, once what made them fail is fixed.

    Entries that are not messages, or whose recipient still cannot be mailed, stay.
    """
    from .extensions import services

    app = _app(config_file)
    with app.app_context():
        queued, left = services().mail_queue.requeue_dead()
    click.echo(f"{queued} message(s) queued again, {left} left in the dead list")


# -- admin commands (the work is in ent_idp/admin.py) ----------------------------------

csv_option = click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write the provisional passwords to this CSV (new file, ';'-separated, UTF-8).",
)
letters_option = click.option(
    "--letters",
    "letters_file",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write printable letters to this PDF: one A4 page per user (new file).",
)


@contextlib.contextmanager
def _admin_context(config_file: str | None) -> Iterator[Flask]:
    """The app, in an app context; our errors become one-line messages, services closed."""
    from .exceptions import DirectoryUnavailable
    from .extensions import services

    app = _app(config_file)
    with app.app_context():
        try:
            yield app
        except (DirectoryUnavailable, config_module.ConfigError) as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            services().directory.close_admin()
            services().close()


def _refuse_existing(*paths: str | None) -> None:
    """Files of passwords are never overwritten: they may hold some not yet handed out."""
    for path in paths:
        if path and os.path.lexists(path):
            raise click.UsageError(
                f"{path} exists: it may hold passwords not handed out yet; "
                "choose another name or move it away"
            )


@contextlib.contextmanager
def _handouts(csv_file: str | None, letters_file: str | None) -> Iterator:
    """The --csv/--letters files, created before any directory write (None without them)."""
    from .handouts import HandoutError, Handouts

    if not csv_file and not letters_file:
        yield None
        return
    try:
        handouts = Handouts.create(csv_file, letters_file)
    except HandoutError as exc:
        raise click.UsageError(f"{exc}; nothing was changed") from None
    with handouts:
        yield handouts


def _write_outputs(app: Flask, reports: list, handouts, printed: bool = False) -> None:
    """The passwords into the files, or on stdout; on stdout too if the files fail.

    ``printed``: the passwords already went to stdout (``reset`` prints them as it goes).
    """
    from . import admin, letters
    from .handouts import HandoutError

    issued = admin.for_distribution(reports)
    if handouts is None:
        for item in issued:
            click.echo(f"{item.login}\t{item.password}")
        return
    if not issued:
        click.echo("no new provisional password: no file written", err=True)
        return
    config = app.config
    context = letters.Context(
        ent_name=config["ENT_NAME"],
        ent_url=config["ADMIN_ENT_URL"] or config["CAS_DEFAULT_SERVICE"],
        public_url=config["PUBLIC_URL"],
        validation_hours=config["MAIL_VALIDATION_HOURS"],
        min_length=config["PASSWORD_MIN_LENGTH"],
    )
    try:
        for path in handouts.write(issued, context):
            click.echo(f"wrote {len(issued)} provisional password(s) to {path}", err=True)
    except HandoutError as exc:
        if not printed:
            for item in issued:
                click.echo(f"{item.login}\t{item.password}")
        click.echo(
            f"error: {exc}. The {len(issued)} provisional password(s) are in force and "
            "printed on stdout (LOGIN<TAB>PASSWORD): keep that output, it is the only copy",
            err=True,
        )
        raise SystemExit(1) from None


@main.command()
@config_option
@csv_option
@letters_option
@click.argument("logins", nargs=-1, required=True, metavar="LOGIN...")
def reset(
    config_file: str | None, csv_file: str | None, letters_file: str | None, logins: tuple
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
    from . import admin

    _refuse_existing(csv_file, letters_file)
    reports, done = [], []
    with _admin_context(config_file) as app, _handouts(csv_file, letters_file) as handouts:
        for report in admin.reset(logins):
            reports.append(report)
            if report.issued is None:
                click.echo(f"{report.login}: {report.reason}", err=True)
            else:  # stdout: what admins pipe, as soon as the password is in force
                done.append(report)
                click.echo(f"{report.login}\t{report.issued.password}")
            if report.warning:
                click.echo(f"{report.login}: warning: {report.warning}", err=True)
        if handouts is not None:
            _write_outputs(app, done, handouts, printed=True)
    if len(done) != len(reports):
        raise SystemExit(1)


@main.command("import")
@config_option
@csv_option
@letters_option
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
    from . import admin

    _refuse_existing(csv_file, letters_file)
    try:
        rows = admin.read_rows(file)
    except admin.ImportFileError as exc:
        raise click.ClickException(str(exc)) from None
    with (
        _admin_context(config_file) as app,
        _handouts(*((None, None) if dry_run else (csv_file, letters_file))) as handouts,
    ):
        if not dry_run:
            from .extensions import services

            services().directory.check_admin_account()  # fail once, not on every row
        lock = threading.Lock()
        with click.progressbar(length=len(rows), label="importing", file=sys.stderr) as bar:

            def progress(done: int) -> None:
                with lock:
                    bar.update(done)

            reports = admin.import_accounts(
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
        summary = ", ".join(f"{counts[o.value]} {o.value}" for o in admin.Outcome)
        click.echo(f"{prefix}{len(reports)} rows: {summary}", err=True)
        if not dry_run:
            _write_outputs(app, reports, handouts)
    if counts[admin.Outcome.ERROR.value]:
        raise SystemExit(1)


@main.command()
@config_option
@click.argument("login")
def status(config_file: str | None, login: str) -> None:
    """Show an account: state, CGU version accepted, backup address, times."""
    from . import admin
    from .exceptions import AccountNotFound

    with _admin_context(config_file):
        try:
            lines = admin.status(login)
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
    from . import admin

    try:
        app = _app(config_file)
    except click.ClickException as exc:
        click.echo(f"FAIL  {exc.message}")
        raise SystemExit(1) from None
    click.echo("ok    configuration")
    failed = False
    with app.app_context():
        from .extensions import services

        try:
            for result in admin.check():
                failed = failed or not result.ok
                reason = result.failure or result.warning
                mark = "FAIL" if not result.ok else "WARN" if result.warning else "ok  "
                click.echo(f"{mark}  {result.name}{': ' + reason if reason else ''}")
        finally:
            services().directory.close_admin()
            services().close()
    if failed:
        raise SystemExit(1)
