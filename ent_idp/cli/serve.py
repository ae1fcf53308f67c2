"""``ent-idp serve``: the web app under gunicorn, with its access log redacted."""

from __future__ import annotations

import click

from ..settings import current
from . import config_option, load_app, main


@main.command()
@config_option
@click.option("--bind", default="127.0.0.1:5000", show_default=True, help="HOST:PORT to listen on.")
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, help="threads per worker.")
def serve(config_file: str | None, bind: str, workers: int, threads: int) -> None:
    """Serve the web app with gunicorn."""
    from gunicorn.app.base import BaseApplication

    app = load_app(config_file)

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread" if threads > 1 else "sync")
            self.cfg.set("accesslog", "-")
            # Link tokens and CAS tickets are taken out of the access log (accesslog.py).
            self.cfg.set("logger_class", "ent_idp.cli.accesslog.RedactingLogger")
            # Bounds on the request line and headers ([http]); the body is the app's
            # (MAX_CONTENT_LENGTH: a 413 page).
            with app.app_context():
                http = current().http
            self.cfg.set("limit_request_line", http.limit_request_line)
            self.cfg.set("limit_request_fields", http.limit_request_fields)
            self.cfg.set("limit_request_field_size", http.limit_request_field_size)
            # gunicorn's control socket has one path per user: two servers would collide.
            self.cfg.set("control_socket_disable", True)

        def load(self):
            return app

    Server().run()
