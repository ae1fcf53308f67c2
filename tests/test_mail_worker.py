"""The mail worker's SMTP connection, against the real SMTP sink."""

from __future__ import annotations

import pytest

from ent_idp.mails import Sender

from .conftest import store_of


def queue_messages(app, count: int, start: int = 0) -> None:
    with app.app_context():
        for n in range(start, start + count):
            store_of(app).mail_queue.push(
                {"to": f"u{n}@example.net", "subject": f"n{n}", "text": "t", "html": "<p>t</p>"}
            )


def send_all(app, sender: Sender) -> None:
    with app.app_context():
        while store_of(app).mail_queue.work_once(sender, wait=0.1, retry_seconds=60):
            pass


def test_messages_in_a_row_share_one_smtp_connection(app, stack):
    """A connection per message costs a handshake, EHLO and QUIT each time: at the start of
    the school year the worker sends thousands of validation mails in a row."""
    sender = Sender()
    queue_messages(app, 3)
    send_all(app, sender)
    sender.close()
    received = stack.smtp.wait_for(3)
    assert len(received) == 3
    assert len({m["X-Peer"] for m in received}) == 1

    queue_messages(app, 1, start=3)
    send_all(app, sender)
    sender.close()
    later = stack.smtp.wait_for(4)[-1]
    assert later["X-Peer"] != received[0]["X-Peer"]  # closed while idle, a new one after


@pytest.mark.faults
def test_a_dropped_smtp_connection_costs_no_delay(app, stack):
    """If the server dropped the kept connection (restart, idle timeout), the next message
    goes out at once on a new one: it must not wait in the retry queue."""
    sender = Sender()
    queue_messages(app, 1)
    send_all(app, sender)  # the connection stays open
    stack.smtp.stop()
    stack.smtp.start()
    queue_messages(app, 1, start=1)
    send_all(app, sender)
    sender.close()
    received = stack.smtp.wait_for(2)
    assert [m["Subject"] for m in received] == ["n0", "n1"]
    with app.app_context():
        assert store_of(app).mail_queue.pending() == 0
