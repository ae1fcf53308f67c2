"""The ``ent-idp`` command: serve the app, deliver mail, and the admin commands.

Each command's module registers it on ``main``: ``serve`` (gunicorn, ``gunicorn_logging``),
``worker`` (the mail worker, ``mail-requeue-dead``), ``admin`` (reset, import, status,
check; their files in ``outputs``). Parsing and printing only: the work is in
``ent_idp.domain``.
"""

from __future__ import annotations

import click

from ..errors import ConfigError


def load_app(config_file: str | None):
    from ..web import create_app

    try:
        return create_app(config_file=config_file)
    except ConfigError as exc:
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


from . import admin, serve, worker  # noqa: E402,F401  (each registers its commands)
