"""What the admin commands share: their app context, and the files of passwords."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import click

from ..core.resources import resources
from ..directory import AdminDirectory
from ..domain.admin.handouts import HandoutError, Handouts, for_distribution
from ..domain.admin.letters import Context
from ..errors import ConfigError, DirectoryUnavailable
from ..settings.ents import ent_for_domains
from . import load_app

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
ent_option = click.option(
    "--ent",
    "ent_key",
    metavar="KEY",
    help="The ENT the letters name, for accounts whose domains do not say (default: the "
    "default ENT).",
)


@contextlib.contextmanager
def admin_context(config_file: str | None) -> Iterator[AdminDirectory]:
    """The admin's directory, in an app context; our errors become one-line messages, the
    connections closed at the end."""
    app = load_app(config_file)
    with app.app_context():
        admin = AdminDirectory(resources().directory)
        try:
            yield admin
        except (DirectoryUnavailable, ConfigError) as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            admin.close()
            resources().close()


def refuse_existing(*paths: str | None) -> None:
    """Files of passwords are never overwritten: they may hold some not yet handed out."""
    for path in paths:
        if path and os.path.lexists(path):
            raise click.UsageError(
                f"{path} exists: it may hold passwords not handed out yet; "
                "choose another name or move it away"
            )


@contextlib.contextmanager
def handouts(csv_file: str | None, letters_file: str | None) -> Iterator:
    """The --csv/--letters files, created before any directory write (None without them)."""
    if not csv_file and not letters_file:
        yield None
        return
    try:
        files = Handouts.create(csv_file, letters_file)
    except HandoutError as exc:
        raise click.UsageError(f"{exc}; nothing was changed") from None
    with files:
        yield files


def known_ent(ent_key: str | None) -> None:
    """Refuse an --ent that names no configured ENT (before anything is written)."""
    keys = [ent.key for ent in resources().settings.ents]
    if ent_key is not None and ent_key not in keys:
        raise click.UsageError(f"--ent {ent_key}: no such ENT (configured: {', '.join(keys)})")


def write_outputs(
    reports: list, handouts, printed: bool = False, ent_key: str | None = None
) -> None:
    """The passwords into the files, or on stdout; on stdout too if the files fail.

    ``printed``: the passwords already went to stdout (``reset`` prints them as it goes).
    Each letter names its account's ENT: the one its domains name, where the directory
    lists them, else ``ent_key``'s, else the default one.
    """
    issued = for_distribution(reports)
    if handouts is None:
        for item in issued:
            click.echo(f"{item.login}\t{item.password}")
        return
    if not issued:
        click.echo("no new provisional password: no file written", err=True)
        return
    settings = resources().settings
    fallback = settings.ent(ent_key)

    def context_for(item) -> Context:
        ent = ent_for_domains(settings.ents, item.domains) or fallback
        return Context(
            ent_name=ent.name,
            ent_url=(settings.admin.ent_url if ent.top_level else "") or ent.cas.default_service,
            public_url=ent.public_url,
            validation_hours=settings.mail.validation_hours,
            min_length=settings.password.min_length,
        )

    try:
        for path in handouts.write(issued, context_for):
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
