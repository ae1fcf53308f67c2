"""One bad message never stops the mail worker: it goes to the dead list, the rest goes out.

Against the real Redis and SMTP sink; the last test runs the real ``ent-idp mail-worker``
process, configured by a TOML file as a deployment would be.
"""

from __future__ import annotations

import json
import logging
import time

import pytest
from click.testing import CliRunner

from devstack.ports import terminate
from ent_idp.cli import main
from ent_idp.mail_records import NotPlainAddress
from ent_idp.mails import Sender
from ent_idp.store.keys import DEAD_TTL_SECONDS
from ent_idp.store.mail_queue import DEAD_MAX

from .conftest import CGU_VERSION, store_of
from .mail_support import environment, start_worker, write_config
from .pages import link_in, submit

pytestmark = [pytest.mark.security, pytest.mark.faults]

ACCENTED = "élève.lucas@example.net"


def good(n: int = 0) -> dict:
    return {"to": f"bon{n}@example.net", "subject": f"bon {n}", "text": "t", "html": "<p>t</p>"}


def queue_raw(app, *records) -> None:
    """Put records in the queue as they might lie there: written by an older version, or
    damaged. Oldest first, as the worker takes them."""
    with app.app_context():
        queue = store_of(app).mail_queue
        for record in records:
            if isinstance(record, dict):
                record = json.dumps({"queued": time.time(), "attempts": 0, **record})
            queue.redis.lpush(queue.queue, record)


def work(app, rounds: int = 20) -> None:
    sender = Sender()
    with app.app_context():
        queue = store_of(app).mail_queue
        for _ in range(rounds):
            if not queue.work_once(sender, wait=0.1, retry_seconds=60):
                break
    sender.close()


def dead(app) -> list[dict]:
    with app.app_context():
        queue = store_of(app).mail_queue
        return [json.loads(raw) for raw in queue.redis.lrange(queue.dead, 0, -1)]


@pytest.mark.parametrize(
    "poison, reason",
    [
        ({**good(), "to": ACCENTED}, "not a plain ASCII address"),
        ("{not json", "JSONDecodeError"),
        ('["a", "list"]', "not a queued message"),
        ({"to": "x@example.net", "subject": "s", "html": "<p>t</p>"}, "'text'"),
        ({**good(), "subject": "a\r\nBcc: victime@example.net"}, "ValueError"),
        ({**good(), "to": "a@example.net, b@example.net"}, "not a plain ASCII address"),
    ],
    ids=["accented-recipient", "not-json", "not-a-dict", "missing-text", "header-injection", "two"],
)
def test_a_message_that_cannot_be_sent_goes_to_the_dead_list_and_the_next_goes_out(
    app, stack, caplog, poison, reason
):
    """A message the worker cannot build (queued by an older version, damaged in Redis) used
    to crash the worker at every restart: no mail for anyone. It is set aside with its
    reason, and the message after it is delivered."""
    caplog.set_level(logging.INFO, logger="ent_idp.mailqueue")
    queue_raw(app, poison, good())
    work(app)
    [delivered] = stack.smtp.wait_for(1)
    assert delivered["To"] == "bon0@example.net"
    [buried] = dead(app)
    assert reason in buried["reason"]
    assert buried["at"] == pytest.approx(time.time(), abs=60)
    with app.app_context():
        assert store_of(app).mail_queue.pending() == 0
    assert "dead list" in caplog.text
    assert ACCENTED not in caplog.text, "addresses are masked in the log"


def test_a_recipient_refused_for_good_goes_to_the_dead_list(app, stack):
    """A 5xx answer will not change by retrying: the message is set aside, the queue moves."""
    queue_raw(app, {**good(), "to": "refused-mailbox@example.net"}, good(1))
    work(app)
    [delivered] = stack.smtp.wait_for(1)
    assert delivered["To"] == "bon1@example.net"
    [buried] = dead(app)
    assert buried["message"]["to"] == "refused-mailbox@example.net"
    assert "550" in buried["reason"]


def test_a_temporary_refusal_is_retried_not_buried(app, stack):
    """A 4xx (greylisting, a full queue at the other end) is worth another try later."""
    queue_raw(app, {**good(), "to": "deferred-mailbox@example.net"}, good(1))
    work(app)
    assert [m["To"] for m in stack.smtp.wait_for(1)] == ["bon1@example.net"]
    assert dead(app) == []
    with app.app_context():
        queue = store_of(app).mail_queue
        [(raw, _when)] = queue.redis.zrange(queue.delayed, 0, -1, withscores=True)
    assert json.loads(raw)["attempts"] == 1


def test_the_dead_list_is_bounded_and_expires(app, stack):
    """Without a bound, a flood of bad messages would fill Redis; the newest are kept."""
    with app.app_context():
        queue = store_of(app).mail_queue
        for n in range(DEAD_MAX + 5):
            queue.redis.lpush(queue.queue, f"broken {n}")
        for _ in range(DEAD_MAX + 5):
            queue.work_once(Sender(), wait=0.1)
        assert queue.redis.llen(queue.dead) == DEAD_MAX
        newest = json.loads(queue.redis.lindex(queue.dead, 0))
        assert newest["raw"] == f"broken {DEAD_MAX + 4}"
        assert 0 < queue.redis.ttl(queue.dead) <= DEAD_TTL_SECONDS


def test_dead_messages_can_be_queued_again_once_the_cause_is_fixed(app, settings, stack):
    """A 5xx can come from the mail server's configuration (a relay refused) rather than
    from the message: once that is fixed, ``ent-idp mail-requeue-dead`` sends the dead
    messages after all. What still cannot be sent stays in the dead list."""
    relayed = {**good(), "to": "refused-relay@example.net"}
    queue_raw(app, relayed, "{not json", {**good(1), "to": ACCENTED})
    work(app)
    assert len(dead(app)) == 3 and stack.smtp.messages() == []
    result = CliRunner().invoke(main, ["mail-requeue-dead"], env=environment(settings))
    assert result.exit_code == 0, result.output
    assert "1 message(s) queued again, 2 left in the dead list" in result.output
    with app.app_context():
        queue = store_of(app).mail_queue
        [raw] = queue.redis.lrange(queue.queue, 0, -1)
    again = json.loads(raw)
    assert again["to"] == relayed["to"] and again["attempts"] == 0
    assert sorted(bool(entry.get("raw")) for entry in dead(app)) == [False, True]


def test_a_damaged_forgotten_password_request_does_not_stop_the_worker(
    app, client, accounts, deliver
):
    """The worker also handles « Mot de passe oublié » requests: a damaged one is dropped
    (and logged), the next one gets its link."""
    account = accounts.create(
        "active",
        password="Deja-Actif-2026!",
        backup_mail="emma.perso@example.net",
        backup_verified=True,
        cgu_version=CGU_VERSION,
    )
    with app.app_context():
        s = store_of(app)
        s.redis.lpush(f"{s.keys.prefix}:recovery:requests", "{damaged", '["a list"]')
    submit(client, "/mot-de-passe-oublie", {"login": account["login"]})
    [message] = deliver(1)
    assert message["To"] == "emma.perso@example.net"
    assert "mot-de-passe-oublie/lien/" in link_in(message, "mot-de-passe-oublie/lien")


def test_the_queue_refuses_an_address_smtp_cannot_carry(app):
    """Defence in depth behind the forms: nothing queued can make the worker fail."""
    with app.app_context(), pytest.raises(NotPlainAddress, match="plain ASCII"):
        store_of(app).mail_queue.push({**good(), "to": ACCENTED})
    with app.app_context():
        assert store_of(app).mail_queue.pending() == 0


# -- the real process --------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_the_real_worker_survives_a_poisoned_message(app, settings, stack, tmp_path):
    """What happened in production: an accented address queued by « Mon compte » killed
    ``ent-idp mail-worker`` at every restart. Now the process stays up and delivers the
    next message."""
    queue_raw(app, {**good(), "to": ACCENTED}, "{not json", good(1))
    log = tmp_path / "worker.log"
    worker = start_worker(write_config(tmp_path / "ent-idp.toml", settings), log)
    try:
        [delivered] = stack.smtp.wait_for(1, timeout=30)
        assert delivered["To"] == "bon1@example.net"
        deadline = time.monotonic() + 10
        while len(dead(app)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        reasons = sorted(entry["reason"] for entry in dead(app))
        assert "JSONDecodeError" in reasons[0] and "plain ASCII" in reasons[1], reasons
        time.sleep(1.5)  # a few more rounds of the loop
        assert worker.poll() is None, log.read_text()
    finally:
        terminate(worker)
    assert worker.returncode == 0, log.read_text()
    output = log.read_text()
    assert "dead list" in output
    assert ACCENTED not in output
