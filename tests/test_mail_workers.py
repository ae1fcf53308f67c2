"""Several mail workers share one queue: none takes back what a live one is sending.

Against the real Redis and SMTP sink, with real ``ent-idp mail-worker`` processes, as on
several hosts. Each worker holds what it sends in a list of its own, under a lease it
renews; a worker that starts, or one that looks now and then, puts back only the lists of
workers whose lease has ended.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from devstack.ports import terminate
from ent_idp.mails import Sender

from .conftest import store_of
from .mail_support import start_worker, write_config

pytestmark = [pytest.mark.faults]

LEASE = 3  # seconds: [mail] worker_lease_seconds for these workers


def message(n: int) -> dict:
    return {"to": f"w{n}@example.net", "subject": f"m{n}", "text": "t", "html": "<p>t</p>"}


def held_by_a_live_worker(app, lease: float):
    """A worker, in this process, in the middle of sending message 1 (its send waits)."""
    release = threading.Event()
    taken = threading.Event()

    def slow_send(_message: dict) -> None:
        taken.set()
        release.wait(60)
        raise OSError("this worker died before sending")  # it never sends: see the test

    with app.app_context():
        queue = store_of(app).mail_queue
        queue.workers.lease_seconds = lease
        queue.push(message(1))

        def work() -> None:
            with app.app_context():
                queue.work_once(slow_send, wait=1)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        assert taken.wait(10)
    return queue, release, thread


def test_a_worker_that_starts_leaves_alone_what_a_live_worker_is_sending(
    app, settings, stack, tmp_path
):
    """On several hosts, a mail worker restarted on one used to put back in the queue every
    message being sent, those another worker was sending at that moment included: the mail
    went out twice (two validation links, the first one void). A live worker's message must
    stay its own."""
    queue, release, thread = held_by_a_live_worker(app, lease=LEASE)
    config = write_config(
        tmp_path / "ent-idp.toml", {**settings, "MAIL_WORKER_LEASE_SECONDS": LEASE}
    )
    other = start_worker(config, tmp_path / "other.log")
    try:
        with app.app_context():
            queue.push(message(2))
        [delivered] = stack.smtp.wait_for(1, timeout=30)
        assert delivered["To"] == "w2@example.net"
        time.sleep(2 * LEASE)  # the other worker looked again, and again
        assert [m["To"] for m in stack.smtp.messages()] == ["w2@example.net"]
        with app.app_context():
            assert queue.redis.llen(queue.workers.mine) == 1, "still the live worker's"
    finally:
        release.set()
        thread.join(10)
        terminate(other)
    assert other.returncode == 0, (tmp_path / "other.log").read_text()
    with app.app_context():  # the message this worker "could not send" waits for a retry
        assert queue.redis.zcard(queue.delayed) == 1


def test_what_a_dead_worker_was_sending_is_sent_once_by_another(app, settings, stack, tmp_path):
    """A worker killed mid-send (SIGKILL, its host lost) leaves its message in its own
    list: once its lease has ended, another worker sends it, exactly once. Nothing a user
    was promised is lost with a host."""
    config = write_config(
        tmp_path / "ent-idp.toml", {**settings, "MAIL_WORKER_LEASE_SECONDS": LEASE}
    )
    with app.app_context():
        queue = store_of(app).mail_queue
        # The SMTP server refuses nothing, but this worker is stopped before it sends:
        # SIGSTOP right after it took the message, then SIGKILL (no clean stop).
        victim = start_worker(config, tmp_path / "victim.log")
        deadline = time.monotonic() + 30
        while not queue.redis.zcard(queue.workers.leases) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(victim.pid, signal.SIGSTOP)
        [victim_id] = queue.redis.zrange(queue.workers.leases, 0, -1)
        held = queue.workers.prefix + victim_id
        queue.redis.lpush(held, json.dumps({**message(3), "queued": time.time(), "attempts": 0}))
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
    other = start_worker(config, tmp_path / "other.log")
    try:
        [delivered] = stack.smtp.wait_for(1, timeout=30 + 4 * LEASE)
        assert delivered["To"] == "w3@example.net"
        time.sleep(LEASE)
        assert len(stack.smtp.messages()) == 1, "sent once"
        with app.app_context():
            assert not queue.redis.exists(held)
            assert victim_id not in queue.redis.zrange(queue.workers.leases, 0, -1)
    finally:
        terminate(other)


def test_a_clean_stop_gives_back_the_lease(app, settings, stack, tmp_path):
    """SIGTERM (systemd stop, an upgrade): the worker finishes, gives back its lease and
    holds nothing, so its list is not left for the others to wait for."""
    config = write_config(tmp_path / "ent-idp.toml", settings)
    worker = start_worker(config, tmp_path / "w.log")
    with app.app_context():
        queue = store_of(app).mail_queue
        deadline = time.monotonic() + 30
        while not queue.redis.zcard(queue.workers.leases) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert queue.redis.zcard(queue.workers.leases) == 1
        terminate(worker)
        assert worker.returncode == 0
        assert queue.redis.zcard(queue.workers.leases) == 0
        assert queue.pending() == 0


def test_the_queue_counts_every_workers_messages(app):
    """/readyz and the metrics read the depth and the oldest message across every worker's
    list: a message held by a stuck worker still ages, and fails readiness in the end."""
    sender = Sender()
    with app.app_context():
        queue = store_of(app).mail_queue
        queue.workers.start()
        try:
            old = {**message(4), "queued": time.time() - 600, "attempts": 0}
            queue.redis.lpush(queue.workers.mine, json.dumps(old))
            snap = queue.snapshot()
            assert snap.depth == 1 and snap.oldest_seconds >= 600
            assert queue.pending() == 1
        finally:
            queue.redis.delete(queue.workers.mine)
            queue.workers.stop()
    sender.close()
