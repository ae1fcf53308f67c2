"""``ent-idp mail-worker`` and ``mail-requeue-dead``: the mail, off the request path."""

from __future__ import annotations

import logging
import signal
import socket
import time

import click

from . import config_option, load_app, main

RECLAIM_EVERY = 10  # seconds between two looks for the lists of workers that died

log = logging.getLogger("ent_idp.cli")


@main.command("mail-worker")
@config_option
@click.option("--once", is_flag=True, help="Send what is queued now, then stop.")
def mail_worker(config_file: str | None, once: bool) -> None:
    """Deliver queued mail over SMTP, retrying while the server is down.

    Also handles « Mot de passe oublié », « Débloquer mon compte » and « Identifiant
    oublié » requests, off the request path.
    """
    from ..core.resources import resources
    from ..domain import forgotten_login, forgotten_password, unlock
    from ..errors import DirectoryUnavailable, StoreUnavailable
    from ..mails import Sender, unverified_tls_warning

    app = load_app(config_file)
    with app.app_context():
        mail = resources().settings.mail
        _serve_metrics(resources())
    warning = unverified_tls_warning(mail)
    if warning:
        log.warning("%s", warning)
    socket.setdefaulttimeout(mail.timeout)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    sender = Sender()
    with app.app_context():
        queue = resources().store.mail_queue
        log.info("mail worker: sending to %s:%s", mail.server, mail.port)
        recovered = queue.start_worker()
        if recovered:
            log.info("put back %d message(s) left by a worker that stopped", recovered)
        reclaimed_at = time.monotonic()
        while not stopping:
            try:
                if time.monotonic() - reclaimed_at > RECLAIM_EVERY:
                    reclaimed_at = time.monotonic()
                    if moved := queue.reclaim():
                        log.info("put back %d message(s) of a worker that died", moved)
                forgotten_password.process_requests()
                unlock.process_requests()
                forgotten_login.process_requests()
                sent = queue.work_once(sender, wait=1.0, retry_seconds=mail.retry_seconds)
                if not sent:
                    sender.close()  # the queue is empty: no connection left idle
            except DirectoryUnavailable as exc:
                log.warning("directory unavailable (%s); waiting", exc)
                time.sleep(2)
                continue
            except StoreUnavailable as exc:
                log.warning("redis unavailable (%s); waiting", exc)
                time.sleep(2)
                continue
            except KeyboardInterrupt:
                break
            if once and not sent and queue.pending() == 0:
                break
        sender.close()
        try:
            queue.stop_worker()
        except StoreUnavailable:
            pass  # its lease ends by itself; another worker puts back what it held


def _serve_metrics(found) -> None:
    """Mails sent / retried / dead, the queue's depth and age, on [metrics] worker_bind."""
    from ..web import metrics

    bind = found.settings.metrics.worker_bind
    if bind and metrics.multiprocess_dir():
        log.warning(
            "PROMETHEUS_MULTIPROC_DIR is set for the mail worker: its metrics would add up "
            "every process that writes there (the app's too); unset it for the worker"
        )
    sock = metrics.listen(bind, "[metrics] worker_bind") if bind else None
    if sock is not None:
        collector = metrics.QueueCollector(found.store.mail_queue.snapshot)
        metrics.serve(sock, metrics.registry(collector))


@main.command("mail-requeue-dead")
@config_option
def mail_requeue_dead(config_file: str | None) -> None:
    """Queue the dead list's messages again, once what made them fail is fixed.

    Entries that are not messages, or whose recipient still cannot be mailed, stay.
    """
    from ..core.resources import resources

    app = load_app(config_file)
    with app.app_context():
        queued, left = resources().store.mail_queue.requeue_dead()
    click.echo(f"{queued} message(s) queued again, {left} left in the dead list")
