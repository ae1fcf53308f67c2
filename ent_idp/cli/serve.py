"""``ent-idp serve``: the web app under gunicorn, its metrics on a port of their own."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import click

from ..core.health import KEY as READINESS
from ..settings import current
from ..web import i18n, metrics
from . import config_option, load_app, main
from .gunicorn_logging import JsonLinesLogger


@main.command()
@config_option
@click.option("--bind", default="127.0.0.1:5000", show_default=True, help="HOST:PORT to listen on.")
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, help="threads per worker.")
def serve(config_file: str | None, bind: str, workers: int, threads: int) -> None:
    """Serve the web app with gunicorn."""
    from gunicorn.app.base import BaseApplication

    app = load_app(config_file)
    with app.app_context():
        settings = current()
    i18n.precompile(app)  # every page in every language, before gunicorn forks
    http = settings.http
    metrics_socket = _metrics_socket(settings.metrics.bind, workers)

    def post_worker_init(worker) -> None:
        """Each worker answers scrapes on the master's socket, with its own readiness."""
        readiness = app.extensions[READINESS]
        metrics.serve(metrics_socket, metrics.registry(metrics.ReadinessCollector(readiness)))

    class Server(BaseApplication):
        def load_config(self) -> None:
            for name, value in server_options(bind, workers, threads).items():
                self.cfg.set(name, value)
            # JSON lines; the request lines are the app's own, redacted (web.telemetry).
            self.cfg.set("logger_class", JsonLinesLogger)
            # Bounds on the request line and headers ([http]); the body is the app's
            # (MAX_CONTENT_LENGTH: a 413 page).
            self.cfg.set("limit_request_line", http.limit_request_line)
            self.cfg.set("limit_request_fields", http.limit_request_fields)
            self.cfg.set("limit_request_field_size", http.limit_request_field_size)
            if metrics_socket is not None:
                self.cfg.set("post_worker_init", post_worker_init)

        def load(self):
            return app

    # What the master built (modules, templates, settings: ~75,000 objects) is never garbage:
    # out of the collector's sight, each worker's full collections no longer walk it, and
    # its memory stays shared with the master (Python's gc.freeze() advice for pre-fork).
    gc.collect()
    gc.freeze()
    Server().run()


def server_options(bind: str, workers: int, threads: int) -> dict[str, object]:
    """The gunicorn options of how requests are served (``bench.floor`` runs under them too,
    so that the floor and the app differ only by the app)."""
    return {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        # gunicorn's control socket has one path per user: two servers would collide.
        "control_socket_disable": True,
    }


def _metrics_socket(bind: str, workers: int):
    """The metrics' listening socket, opened once before the workers start (or None)."""
    if not bind:
        return None
    path = metrics.multiprocess_dir()
    if path is None and workers > 1:
        raise click.ClickException(
            f"[metrics] bind is {bind!r} but PROMETHEUS_MULTIPROC_DIR is not set: each of the "
            f"{workers} workers would count apart. Set it to an empty directory this user may "
            "write (the systemd unit sets /run/ent-idp), run --workers 1, or turn the metrics "
            'off with [metrics] bind = "" (ENT_IDP_METRICS_BIND=).'
        )
    if path is not None:
        _forget_earlier_runs(Path(path))
    return metrics.listen(bind, "[metrics] bind")


def _forget_earlier_runs(folder: Path) -> None:
    """Remove the counts a previous server left (its workers' files): a fresh start counts
    from zero, as Prometheus expects of a restarted target."""
    if not folder.is_dir():
        raise click.ClickException(
            f"PROMETHEUS_MULTIPROC_DIR={folder} is not a directory: create it (empty, "
            "writable by this user) or unset it"
        )
    mine = f"_{os.getpid()}.db"
    for stale in folder.glob("*.db"):
        if not stale.name.endswith(mine):
            stale.unlink(missing_ok=True)
