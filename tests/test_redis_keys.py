"""Every Redis key ent-idp leaves behind expires, and no list grows without a bound."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from ent_idp.core import requests as link_requests
from ent_idp.store import MAX_QUEUED_REQUESTS
from ent_idp.store.mail_queue import DEAD_MAX

from .cas_client import cas_login
from .conftest import CGU_VERSION, store_of
from .pages import go_through, identify, link_in, submit

pytestmark = pytest.mark.security

PASSWORD = "Deja-Actif-2026!"
NEW_PASSWORD = "Nouvelle-Route-2027!"


@pytest.fixture
def settings(settings, cas_server):
    return {**settings, "CAS_URL": cas_server.url}


def mon_compte(client, cas_server, account) -> None:
    service = parse_qs(urlsplit(client.get("/compte").location).query)["service"][0]
    ticket = cas_login(cas_server.url, service, account["login"], PASSWORD)
    client.get(f"/compte?ticket={ticket}", follow_redirects=True)


def path_of(message, kind: str = "validation") -> str:
    return link_in(message, kind).removeprefix("http://ent-idp.test")


def every_flow(app, accounts, cas_server, deliver) -> None:
    """Activation and its link, « Mon compte », « Mot de passe oublié », failed
    identifications, mail delivered and a message for the dead list."""
    client = app.test_client()
    pending = accounts.create("pending")
    go_through(client, "activation", pending)
    [validation] = deliver(1)
    submit(client, path_of(validation), {})

    active = accounts.create(
        "active",
        password=PASSWORD,
        backup_mail="emma.perso@example.net",
        backup_verified=True,
        cgu_version=CGU_VERSION,
    )
    browser = app.test_client()
    mon_compte(browser, cas_server, active)
    fields = {
        "adresse-backup_mail": "nouvelle@example.net",
        "adresse-confirm": "nouvelle@example.net",
    }
    submit(browser, "/compte", fields, action="/compte/adresse")
    deliver(2)

    forgot = app.test_client()
    submit(forgot, "/mot-de-passe-oublie", {"login": active["login"]})
    reset = deliver(3)[-1]
    submit(forgot, path_of(reset, "mot-de-passe-oublie/lien"), {})
    submit(
        forgot, "/mot-de-passe-oublie/nouveau", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )

    for login in (pending["login"], "personne.inconnue"):
        for _ in range(7):  # past the free failures: the throttle holds them back
            identify(app.test_client(), "activation", login, "Mauvais-mot-de-passe")

    deliver()
    with app.app_context():
        queue = store_of(app).mail_queue
        queue.redis.lpush(queue.queue, "{damaged")
    deliver()
    # One request still waiting for the worker, as the scan would find it on a busy day.
    submit(app.test_client(), "/mot-de-passe-oublie", {"login": pending["login"]})


def test_every_key_expires_and_every_list_is_bounded(app, accounts, cas_server, deliver):
    """Redis is the memory of every flow, throttle, token and session: a key without a TTL
    stays forever, and thousands of pupils a year would fill it. Only the mail work queues
    may live without one: ``mail:queue``, ``mail:processing:<worker>`` and ``mail:delayed`` hold
    messages users were promised; they empty as the worker sends, and must never expire
    while the mail server is down. Lists are bounded: the dead list (DEAD_MAX, newest
    kept) and the « Mot de passe oublié » requests (MAX_QUEUED_REQUESTS)."""
    every_flow(app, accounts, cas_server, deliver)
    with app.app_context():
        s = store_of(app)
        queue = s.mail_queue
        work_queues = {queue.queue, queue.delayed, *queue.workers.processing_lists()}
        requests = f"{s.keys.prefix}:recovery:requests"
        bounds = {queue.dead: DEAD_MAX, requests: MAX_QUEUED_REQUESTS}
        keys = sorted(s.redis.scan_iter("*"))
        families = {key.split(":")[1] for key in keys}
        assert {"flow", "token", "throttle", "account-session", "recovery", "mail"} <= families
        assert {queue.dead, requests} <= set(keys), "the bounded lists were seen"
        for key in keys:
            if key in work_queues:
                continue
            assert s.redis.ttl(key) > 0, f"{key} never expires"
            if s.redis.type(key) == "list":
                assert key in bounds, f"{key} is a list without a bound"
                assert s.redis.llen(key) <= bounds[key]


def test_a_flood_of_forgotten_password_requests_is_bounded(app, client, monkeypatch, caplog):
    """With the mail worker stopped, requests pile up: past the bound a new one is dropped
    (audited), the page the user sees stays the same."""
    monkeypatch.setattr(store_of(app).recovery_requests, "most", 3)
    monkeypatch.setattr(link_requests, "PER_ADDRESS", 100)
    caplog.set_level(logging.INFO, logger="ent_idp.audit")
    pages = [
        submit(client, "/mot-de-passe-oublie", {"login": f"eleve{n}"}).get_data(as_text=True)
        for n in range(5)
    ]
    assert len({page.replace(f"eleve{n}", "") for n, page in enumerate(pages)}) == 1
    with app.app_context():
        s = store_of(app)
        key = f"{s.keys.prefix}:recovery:requests"
        waiting = [s.redis.lindex(key, n) for n in range(s.redis.llen(key))]
    assert len(waiting) == 3
    assert all(f'"eleve{n}"' in waiting[2 - n] for n in range(3)), "the first three stay"
    dropped = [json.loads(r.getMessage()) for r in caplog.records if "dropped" in r.getMessage()]
    assert [(d["login"], d["reason"]) for d in dropped] == [
        ("eleve3", "queue-full"),
        ("eleve4", "queue-full"),
    ]
