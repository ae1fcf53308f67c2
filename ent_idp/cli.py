"""The ``ent-idp`` command: serve the app, deliver mail, and (later) admin tasks."""

from __future__ import annotations

import logging
import signal
import socket
import time

import click

from . import config as config_module

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

    Also handles « Mot de passe oublié » requests, off the request path.
    """
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from . import recovery
    from .exceptions import DirectoryUnavailable
    from .extensions import services
    from .mails import send_now

    app = _app(config_file)
    socket.setdefaulttimeout(app.config["MAIL_TIMEOUT"])
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
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
                sent = queue.work_once(send_now, wait=1.0, retry_seconds=retry)
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
